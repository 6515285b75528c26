//! A per-node cache of user pools, so hot calls (DescribeUserPool, every call that names a pool)
//! do not touch the database. It may be dropped at any time: writes invalidate locally at once and,
//! on Postgres, every other node through LISTEN/NOTIFY; a lost listener connection clears it all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use domain::ports::UserPoolView;

/// Entries are refreshed at least this often even if a notification were somehow missed.
const TTL: Duration = Duration::from_secs(60);
/// Invalidation marks kept before they are pruned (pruning counts as a full clear).
const MAX_MARKS: usize = 10_000;

#[derive(Default)]
pub struct PoolCache {
    entries: DashMap<String, (Arc<UserPoolView>, Instant)>,
    /// A counter bumped by every invalidation; readers note it before they read the database.
    generation: AtomicU64,
    /// The generation at which each pool was last invalidated. A reader that started before that
    /// must not store what it read: it could put back a value older than the write that
    /// invalidated it. Per pool, so a busy node's writes to one pool do not stop caching others.
    marks: DashMap<String, u64>,
    /// The generation of the last full clear.
    cleared_at: AtomicU64,
}

impl PoolCache {
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, pool_id: &str) -> Option<UserPoolView> {
        let e = self.entries.get(pool_id)?;
        if e.1.elapsed() > TTL {
            drop(e);
            self.entries.remove(pool_id);
            return None;
        }
        Some(UserPoolView::clone(&e.0))
    }

    fn stale_since(&self, pool_id: &str, read_generation: u64) -> bool {
        self.cleared_at.load(Ordering::Acquire) > read_generation
            || self
                .marks
                .get(pool_id)
                .is_some_and(|g| *g > read_generation)
    }

    /// Stores a value read from the database unless the pool was invalidated since
    /// `read_generation` (taken with [`PoolCache::generation`] before the read).
    pub fn put_if_current(&self, pool_id: &str, view: UserPoolView, read_generation: u64) {
        if self.stale_since(pool_id, read_generation) {
            return;
        }
        self.entries
            .insert(pool_id.to_string(), (Arc::new(view), Instant::now()));
        // An invalidation may have slipped in between the check and the insert.
        if self.stale_since(pool_id, read_generation) {
            self.entries.remove(pool_id);
        }
    }

    pub fn invalidate(&self, pool_id: &str) {
        let g = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        if self.marks.len() >= MAX_MARKS {
            // Forgetting marks would let an in-flight reader store a stale value; a clear stops them.
            self.clear();
            self.marks.clear();
        }
        self.marks.insert(pool_id.to_string(), g);
        self.entries.remove(pool_id);
    }

    pub fn clear(&self) {
        let g = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.cleared_at.store(g, Ordering::Release);
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::user_pool::{PoolSettings, UserPoolRecord};

    fn view(id: &str, name: &str) -> UserPoolView {
        UserPoolView {
            record: UserPoolRecord {
                id: id.into(),
                region: "us-east-1".into(),
                account_id: "000000000000".into(),
                name: name.into(),
                created_ms: 0,
                modified_ms: 0,
                version: 1,
                settings: PoolSettings::default(),
            },
            tags: Default::default(),
            estimated_users: 0,
        }
    }

    #[test]
    fn a_read_that_raced_its_pools_invalidation_is_not_stored() {
        let c = PoolCache::default();
        let g = c.generation();
        c.invalidate("p1");
        c.put_if_current("p1", view("p1", "old"), g);
        assert!(c.get("p1").is_none());
    }

    #[test]
    fn another_pools_invalidation_does_not_block_caching() {
        let c = PoolCache::default();
        let g = c.generation();
        c.invalidate("other");
        c.put_if_current("p1", view("p1", "fresh"), g);
        assert_eq!(c.get("p1").unwrap().record.name, "fresh");
    }

    #[test]
    fn a_clear_blocks_reads_in_flight() {
        let c = PoolCache::default();
        let g = c.generation();
        c.clear();
        c.put_if_current("p1", view("p1", "old"), g);
        assert!(c.get("p1").is_none());
        let g = c.generation();
        c.put_if_current("p1", view("p1", "new"), g);
        assert!(c.get("p1").is_some());
    }
}
