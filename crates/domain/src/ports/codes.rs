//! Storage port for one-time codes: sign-up confirmation, password recovery, attribute
//! verification. One outstanding code per user and purpose; only its keyed hash is stored.
//! Beside the codes live the counters that limit them (failed attempts, codes issued), so the
//! limits hold across nodes.

use async_trait::async_trait;

use super::{OutboundMessage, StoreResult};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRecord {
    pub pool_id: String,
    pub user_id: String,
    /// e.g. `sign_up`, `forgot_password`, `verify:email`.
    pub purpose: String,
    /// HMAC-SHA-256 (hex) of the code, bound to pool, user, purpose and destination, under a key
    /// derived from the key-encryption key.
    pub code_hash: String,
    pub expires_ms: i64,
    /// No longer counted per code: failures are counted per user and purpose (see [`CodeLimit`]).
    pub attempts: i64,
    pub created_ms: i64,
}

/// One counter a code operation must stay under: at most `limit` hits of `scope` (within the
/// pool) per `window_ms`. A fixed window opens with the first hit. `charge` false only looks:
/// the counter must have room but is not increased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeLimit {
    pub scope: String,
    pub limit: i64,
    pub window_ms: i64,
    pub charge: bool,
}

/// What became of a code that was to be stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeWrite {
    Stored,
    /// The user no longer exists.
    UserGone,
    /// A limit had no room: nothing was stored, queued or counted.
    Limited,
}

#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Replaces the user's code for the purpose and queues the message that carries it, counting
    /// one hit on each limit, in one transaction: either the code, its message and every count
    /// are stored, or (a limit is full, the user is gone) none of them.
    async fn put_code(
        &self,
        code: &CodeRecord,
        message: Option<&OutboundMessage>,
        limits: &[CodeLimit],
        now_ms: i64,
    ) -> StoreResult<CodeWrite>;
    /// Counts one hit on each limit, all or none: false (and nothing counted) when one is full.
    /// Each hit is counted by one conditional upsert under the row's lock, so parallel callers
    /// cannot all slip under a limit.
    async fn count_code_limits(
        &self,
        pool_id: &str,
        limits: &[CodeLimit],
        now_ms: i64,
    ) -> StoreResult<bool>;
    /// Forgets a counter (a right code clears the failures before it).
    async fn reset_code_limit(&self, pool_id: &str, scope: &str) -> StoreResult<()>;
    /// The user's outstanding code for the purpose.
    async fn get_code(
        &self,
        pool_id: &str,
        user_id: &str,
        purpose: &str,
    ) -> StoreResult<Option<CodeRecord>>;
    /// Uses the code up, if its hash is still `code_hash` (not replaced meanwhile). False when it
    /// was already gone (another request used it first) or replaced.
    async fn delete_code(
        &self,
        pool_id: &str,
        user_id: &str,
        purpose: &str,
        code_hash: Option<&str>,
    ) -> StoreResult<bool>;
}
