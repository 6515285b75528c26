//! A per-node cache of user pools, so hot calls (DescribeUserPool, every call that names a pool)
//! do not touch the database. It may be dropped at any time: writes invalidate locally at once and,
//! on Postgres, every other node through LISTEN/NOTIFY; a lost listener connection clears it all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use domain::ports::UserPoolView;

/// Entries are refreshed at least this often even if a notification were somehow missed.
const TTL: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct PoolCache {
    entries: DashMap<String, (UserPoolView, Instant)>,
    /// Bumped by every invalidation. A reader that started before an invalidation must not store
    /// what it read, or it could put back a value older than the write that invalidated it.
    generation: AtomicU64,
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
        Some(e.0.clone())
    }

    /// Stores a value read from the database when no invalidation happened since `read_generation`.
    pub fn put_if_current(&self, pool_id: &str, view: UserPoolView, read_generation: u64) {
        if self.generation() == read_generation {
            self.entries
                .insert(pool_id.to_string(), (view, Instant::now()));
            // An invalidation may have slipped in between the check and the insert.
            if self.generation() != read_generation {
                self.entries.remove(pool_id);
            }
        }
    }

    pub fn invalidate(&self, pool_id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.remove(pool_id);
    }

    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
    }
}
