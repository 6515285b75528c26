//! Storage port for durable delivery: messages are queued in the database (in the same
//! transaction as the code they carry, where there is one) and a sender drains the queue with
//! retries, so a crash or a mail-server outage loses nothing and, normally, sends nothing twice.

use async_trait::async_trait;

use super::{OutboundMessage, StoreResult};

/// A queued message as the sender leases it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMessage {
    pub id: String,
    pub message: OutboundMessage,
    /// Delivery attempts made before this one.
    pub attempts: i64,
    pub created_ms: i64,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues messages for delivery, due at once.
    async fn enqueue_messages(&self, messages: &[OutboundMessage], now_ms: i64) -> StoreResult<()>;
    /// Leases up to `limit` due, undelivered messages of the account's pools for `lease_ms`: no
    /// other sender gets them until the lease runs out (a sender that crashed mid-delivery). The
    /// account scopes delivery to the nodes that serve it (and share its SMTP / SNS settings), so
    /// servers of different accounts sharing a database never deliver each other's messages.
    async fn lease_messages(
        &self,
        account_id: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<QueuedMessage>>;
    async fn message_delivered(&self, id: &str, now_ms: i64) -> StoreResult<()>;
    /// Records a failed attempt; the message is due again at `retry_at_ms`.
    async fn message_failed(&self, id: &str, retry_at_ms: i64, error: &str) -> StoreResult<()>;
    /// Records a failed attempt after which the message is given up (dead): never leased again,
    /// kept for audit like delivered rows, then pruned.
    async fn message_dead(&self, id: &str, now_ms: i64, error: &str) -> StoreResult<()>;
    /// Undelivered messages of the account's pools, for metrics.
    async fn outbox_depth(&self, account_id: &str) -> StoreResult<OutboxDepth>;
    /// Deletes rows delivered (or given up) before `before_ms` and rows of pools that no longer exist created
    /// before it. Returns how many.
    async fn prune_outbox(&self, before_ms: i64) -> StoreResult<u64>;
}

/// Undelivered messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxDepth {
    /// Still to be delivered.
    pub pending: i64,
    /// Of which have failed at least once.
    pub retrying: i64,
    /// Given up (not counted in `pending`), until pruned.
    pub dead: i64,
}
