//! Storage port for one-time codes: sign-up confirmation, password recovery, attribute
//! verification. One outstanding code per user and purpose; only its hash is stored.

use async_trait::async_trait;

use super::{OutboundMessage, StoreResult};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRecord {
    pub pool_id: String,
    pub user_id: String,
    /// e.g. `sign_up`, `forgot_password`, `verify:email`.
    pub purpose: String,
    /// SHA-256 (hex) of the code, salted with pool, user and purpose.
    pub code_hash: String,
    pub expires_ms: i64,
    /// Wrong guesses so far.
    pub attempts: i64,
    pub created_ms: i64,
}

#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Replaces the user's code for the purpose and queues the message that carries it, in one
    /// transaction: either both are stored or neither. False when the user no longer exists.
    async fn put_code(
        &self,
        code: &CodeRecord,
        message: Option<&OutboundMessage>,
    ) -> StoreResult<bool>;
    /// Counts an attempt at the code before it is compared, in one statement, and answers the
    /// code as it is after counting (`attempts` includes this one). Parallel guesses therefore
    /// each get their own number and cannot all slip under the limit. None: no code.
    async fn count_code_attempt(
        &self,
        pool_id: &str,
        user_id: &str,
        purpose: &str,
    ) -> StoreResult<Option<CodeRecord>>;
    /// Uses the code up. False when it was already gone (another request used it first).
    async fn delete_code(&self, pool_id: &str, user_id: &str, purpose: &str) -> StoreResult<bool>;
}
