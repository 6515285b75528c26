//! A per-node cache of token sessions known to be active, so checking an access token's
//! revocation does not cost a database read per request. Only "active" is cached: a revocation
//! drops the entry here at once and, on Postgres, on every other node through LISTEN/NOTIFY.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Revocations this node sent, by nonce: where the other nodes' acknowledgements go.
    acks: DashMap<String, tokio::sync::mpsc::UnboundedSender<String>>,
    /// This node's name in acknowledgements and in the live-node table.
    node_id: std::sync::OnceLock<String>,
    /// Whether this node's listener is subscribed (only then can acknowledgements arrive).
    listening: AtomicBool,
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

    pub fn set_listening(&self, on: bool) {
        self.listening.store(on, Ordering::Release);
    }

    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    pub fn node_id(&self) -> &str {
        self.node_id
            .get_or_init(|| uuid::Uuid::new_v4().to_string())
    }

    /// A revocation notification for `key` with a fresh nonce: `(payload, nonce)`.
    pub fn payload(key: &str) -> (String, String) {
        let nonce = uuid::Uuid::new_v4().to_string();
        (format!("{key}#{nonce}"), nonce)
    }

    /// Collects the acknowledgements of a revocation this node sends.
    pub fn expect_acks(&self, nonce: &str) -> tokio::sync::mpsc::UnboundedReceiver<String> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.acks.insert(nonce.to_string(), tx);
        rx
    }

    pub fn forget_acks(&self, nonce: &str) {
        self.acks.remove(nonce);
    }

    /// A revocation notification arrived (from any node, this one included). Answers the nonce
    /// to acknowledge, once the session is gone from this node's cache.
    pub fn notified(&self, payload: &str) -> Option<String> {
        let (key, nonce) = match payload.rsplit_once('#') {
            Some((k, n)) => (k, Some(n)),
            None => (payload, None),
        };
        self.revoke(key);
        nonce.map(str::to_string)
    }

    /// An acknowledgement `<nonce>:<node id>` arrived.
    pub fn acknowledged(&self, payload: &str) {
        if let Some((nonce, node)) = payload.split_once(':') {
            if let Some(tx) = self.acks.get(nonce) {
                let _ = tx.send(node.to_string());
            }
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
