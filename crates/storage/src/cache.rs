//! Per-node caches of user pools and app clients, so hot calls (DescribeUserPool, every call that
//! names a pool, every sign-in that names a client) do not touch the database. They may be dropped
//! at any time: writes invalidate locally at once and, on Postgres, every other node through
//! LISTEN/NOTIFY; a lost listener connection clears them all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use domain::ports::{AppClientView, UserPoolView};

/// Entries are refreshed at least this often even if a notification were somehow missed.
const TTL: Duration = Duration::from_secs(60);
/// Invalidation marks kept before they are pruned (pruning counts as a full clear).
const MAX_MARKS: usize = 10_000;

/// User pools by id.
pub type PoolCache = ViewCache<UserPoolView>;
/// App clients (with their secrets) by client id.
pub type ClientCache = ViewCache<AppClientView>;

pub struct ViewCache<V> {
    entries: DashMap<String, (Arc<V>, Instant)>,
    /// A counter bumped by every invalidation; readers note it before they read the database.
    generation: AtomicU64,
    /// The generation at which each key was last invalidated. A reader that started before that
    /// must not store what it read: it could put back a value older than the write that
    /// invalidated it. Per key, so a busy node's writes to one pool do not stop caching others.
    marks: DashMap<String, u64>,
    /// The generation of the last full clear.
    cleared_at: AtomicU64,
}

impl<V> Default for ViewCache<V> {
    fn default() -> Self {
        Self {
            entries: DashMap::new(),
            generation: AtomicU64::new(0),
            marks: DashMap::new(),
            cleared_at: AtomicU64::new(0),
        }
    }
}

impl<V: Clone> ViewCache<V> {
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, key: &str) -> Option<V> {
        let e = self.entries.get(key)?;
        if e.1.elapsed() > TTL {
            drop(e);
            self.entries.remove(key);
            return None;
        }
        Some(V::clone(&e.0))
    }

    fn stale_since(&self, key: &str, read_generation: u64) -> bool {
        self.cleared_at.load(Ordering::Acquire) > read_generation
            || self.marks.get(key).is_some_and(|g| *g > read_generation)
    }

    /// Stores a value read from the database unless its key was invalidated since
    /// `read_generation` (taken with [`ViewCache::generation`] before the read).
    pub fn put_if_current(&self, key: &str, view: V, read_generation: u64) {
        if self.stale_since(key, read_generation) {
            return;
        }
        self.entries
            .insert(key.to_string(), (Arc::new(view), Instant::now()));
        // An invalidation may have slipped in between the check and the insert.
        if self.stale_since(key, read_generation) {
            self.entries.remove(key);
        }
    }

    pub fn invalidate(&self, key: &str) {
        let g = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        if self.marks.len() >= MAX_MARKS {
            // Forgetting marks would let an in-flight reader store a stale value; a clear stops them.
            self.clear();
            self.marks.clear();
        }
        self.marks.insert(key.to_string(), g);
        self.entries.remove(key);
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
