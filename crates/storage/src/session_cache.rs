//! A per-node cache of token sessions known to be active, so checking an access token's
//! revocation does not cost a database read per request. Only "active" is cached: a revocation
//! drops the entry here at once and, on Postgres, on every other node through LISTEN/NOTIFY.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;

/// Entries are re-read at least this often even if a notification were somehow missed.
const TTL: Duration = Duration::from_secs(60);
/// Beyond this many entries the cache starts over (cheap, and bounded memory).
const CAPACITY: usize = 200_000;
/// Notification payloads that name a whole user start with this.
const USER_PREFIX: &str = "user:";

/// The revocation key for every session of one user.
pub fn user_key(pool_id: &str, user_id: &str) -> String {
    format!("{USER_PREFIX}{pool_id}/{user_id}")
}

struct Entry {
    user: String,
    at: Instant,
}

#[derive(Default)]
pub struct SessionCache {
    active: DashMap<String, Entry>,
    /// Bumped by every revocation. A reader that saw the database before a revocation must not
    /// cache what it read, so it notes the generation first and stores only if it is unchanged.
    generation: AtomicU64,
}

impl SessionCache {
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn is_active(&self, origin_jti: &str) -> bool {
        match self.active.get(origin_jti) {
            Some(e) if e.at.elapsed() < TTL => true,
            Some(e) => {
                drop(e);
                self.active.remove(origin_jti);
                false
            }
            None => false,
        }
    }

    pub fn put_active_if_current(
        &self,
        origin_jti: &str,
        pool_id: &str,
        user_id: &str,
        read_generation: u64,
    ) {
        if self.generation() != read_generation {
            return;
        }
        if self.active.len() >= CAPACITY {
            self.active.clear();
        }
        self.active.insert(
            origin_jti.to_string(),
            Entry {
                user: user_key(pool_id, user_id),
                at: Instant::now(),
            },
        );
        // A revocation may have slipped in between the check and the insert.
        if self.generation() != read_generation {
            self.active.remove(origin_jti);
        }
    }

    /// Drops one session (an origin_jti) or, for a [`user_key`], every session of that user.
    pub fn revoke(&self, key: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if key.starts_with(USER_PREFIX) {
            self.active.retain(|_, e| e.user != key);
        } else {
            self.active.remove(key);
        }
    }

    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.active.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoking_a_user_drops_all_of_its_sessions_only() {
        let c = SessionCache::default();
        let g = c.generation();
        c.put_active_if_current("a", "p", "u1", g);
        c.put_active_if_current("b", "p", "u1", g);
        c.put_active_if_current("c", "p", "u2", g);
        c.revoke(&user_key("p", "u1"));
        assert!(!c.is_active("a"));
        assert!(!c.is_active("b"));
        assert!(c.is_active("c"));
        c.revoke("c");
        assert!(!c.is_active("c"));
    }

    #[test]
    fn a_read_that_raced_a_revocation_is_not_cached() {
        let c = SessionCache::default();
        let g = c.generation();
        c.revoke("a");
        c.put_active_if_current("a", "p", "u", g);
        assert!(!c.is_active("a"));
    }
}
