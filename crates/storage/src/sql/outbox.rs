//! The durable message outbox (`message_outbox`): messages are queued here, sealed, and the
//! dispatcher leases, delivers and marks them.
//!
//! Leasing is one `UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING ...` statement on both
//! backends. On Postgres the inner SELECT takes its rows `FOR UPDATE SKIP LOCKED`, so two nodes
//! leasing at once each get different rows and neither waits for the other; on SQLite the single
//! writer runs the statement alone, so the same holds without the clause. A row is due when it is
//! undelivered, its next attempt has come and no live lease holds it; a lease that runs out (the
//! node crashed mid-delivery) makes the row due again.

use async_trait::async_trait;
use domain::ports::{
    OutboundMessage, OutboxDepth, OutboxStore, QueuedMessage, StoreError, StoreResult,
};
use sqlx::{Any, Transaction};

use super::{backend_err, get, Backend, SqlStore};
use crate::sealing::Sealer;

/// The sealing context binds a sealed message to its row: a sealed body copied onto another row
/// does not open.
fn message_context(id: &str) -> String {
    format!("message-outbox:{id}")
}

/// Queues `messages` inside the caller's transaction, due at once, so a message is committed
/// together with the state it announces (a code, a temporary password) or not at all. Returns the
/// new rows' ids. The caller should poke the dispatcher after committing (see
/// `notify::OutboxSender::wake`); otherwise the message goes out at its next poll.
pub async fn enqueue_in_tx(
    tx: &mut Transaction<'static, Any>,
    sealer: &Sealer,
    messages: &[OutboundMessage],
    now_ms: i64,
) -> StoreResult<Vec<String>> {
    let mut ids = Vec::with_capacity(messages.len());
    for m in messages {
        let id = uuid::Uuid::new_v4().to_string();
        let json = serde_json::to_vec(m).map_err(|e| StoreError::Backend(e.to_string()))?;
        sqlx::query(
            "INSERT INTO message_outbox (id, pool_id, message, created_ms, next_attempt_ms, attempts, \
             leased_until_ms, last_error, delivered_ms) VALUES ($1, $2, $3, $4, $4, 0, 0, NULL, NULL)",
        )
        .bind(&id)
        .bind(&m.pool_id)
        .bind(sealer.seal(&message_context(&id), &json))
        .bind(now_ms)
        .execute(&mut **tx)
        .await
        .map_err(backend_err)?;
        ids.push(id);
    }
    Ok(ids)
}

impl SqlStore {
    /// Queues messages in a transaction of their own (see [`enqueue_in_tx`] to share one).
    pub async fn enqueue(
        &self,
        messages: &[OutboundMessage],
        now_ms: i64,
    ) -> StoreResult<Vec<String>> {
        let mut tx = self.begin().await?;
        let ids = enqueue_in_tx(&mut tx, self.sealer(), messages, now_ms).await?;
        tx.commit().await.map_err(backend_err)?;
        Ok(ids)
    }
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn enqueue_messages(&self, messages: &[OutboundMessage], now_ms: i64) -> StoreResult<()> {
        self.enqueue(messages, now_ms).await.map(|_| ())
    }

    async fn lease_messages(
        &self,
        account_id: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<QueuedMessage>> {
        let skip_locked = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE message_outbox SET leased_until_ms = $2 WHERE id IN (\
             SELECT id FROM message_outbox WHERE delivered_ms IS NULL AND failed_ms IS NULL \
             AND next_attempt_ms <= $1 \
             AND leased_until_ms <= $1 \
             AND pool_id IN (SELECT id FROM user_pools WHERE account_id = $3) \
             ORDER BY next_attempt_ms, id LIMIT $4{skip_locked}) \
             RETURNING id, message, attempts, created_ms, next_attempt_ms"
        );
        let rows = sqlx::query(&sql)
            .bind(now_ms)
            .bind(now_ms + lease_ms)
            .bind(account_id)
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await
            .map_err(backend_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = get(&row, "id")?;
            let sealed: String = get(&row, "message")?;
            let json = self.sealer().open(&message_context(&id), &sealed)?;
            let message: OutboundMessage = serde_json::from_slice(&json)
                .map_err(|e| StoreError::Backend(format!("corrupt outbox message {id}: {e}")))?;
            out.push((
                get::<i64>(&row, "next_attempt_ms")?,
                QueuedMessage {
                    id,
                    message,
                    attempts: get(&row, "attempts")?,
                    created_ms: get(&row, "created_ms")?,
                },
            ));
        }
        // RETURNING gives no order; deliver the longest-waiting first.
        out.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
        Ok(out.into_iter().map(|(_, m)| m).collect())
    }

    async fn message_delivered(&self, id: &str, now_ms: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE message_outbox SET delivered_ms = $2, leased_until_ms = 0, last_error = NULL \
             WHERE id = $1",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&self.writer)
        .await
        .map_err(backend_err)?;
        Ok(())
    }

    async fn message_failed(&self, id: &str, retry_at_ms: i64, error: &str) -> StoreResult<()> {
        // Errors come from mail servers and SNS; keep the column bounded.
        let error: String = error.chars().take(1000).collect();
        sqlx::query(
            "UPDATE message_outbox SET attempts = attempts + 1, next_attempt_ms = $2, \
             leased_until_ms = 0, last_error = $3 WHERE id = $1 AND delivered_ms IS NULL",
        )
        .bind(id)
        .bind(retry_at_ms)
        .bind(error)
        .execute(&self.writer)
        .await
        .map_err(backend_err)?;
        Ok(())
    }

    async fn message_dead(&self, id: &str, now_ms: i64, error: &str) -> StoreResult<()> {
        let error: String = error.chars().take(1000).collect();
        sqlx::query(
            "UPDATE message_outbox SET attempts = attempts + 1, failed_ms = $2, \
             leased_until_ms = 0, last_error = $3 WHERE id = $1 AND delivered_ms IS NULL",
        )
        .bind(id)
        .bind(now_ms)
        .bind(error)
        .execute(&self.writer)
        .await
        .map_err(backend_err)?;
        Ok(())
    }

    /// Undelivered messages of the account's pools.
    async fn outbox_depth(&self, account_id: &str) -> StoreResult<OutboxDepth> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN failed_ms IS NULL THEN 1 ELSE 0 END), 0) AS pending, \
             COALESCE(SUM(CASE WHEN failed_ms IS NULL AND attempts > 0 THEN 1 ELSE 0 END), 0) \
             AS retrying, \
             COALESCE(SUM(CASE WHEN failed_ms IS NOT NULL THEN 1 ELSE 0 END), 0) AS dead \
             FROM message_outbox WHERE delivered_ms IS NULL \
             AND pool_id IN (SELECT id FROM user_pools WHERE account_id = $1)",
        )
        .bind(account_id)
        .fetch_one(&self.pool)
        .await
        .map_err(backend_err)?;
        Ok(OutboxDepth {
            pending: get(&row, "pending")?,
            retrying: get(&row, "retrying")?,
            dead: get(&row, "dead")?,
        })
    }

    /// Deletes rows delivered or given up before `before_ms`, and rows of pools that no longer
    /// exist (nobody can deliver them: leasing looks a message's pool up). Returns how many.
    async fn prune_outbox(&self, before_ms: i64) -> StoreResult<u64> {
        let delivered = sqlx::query(
            "DELETE FROM message_outbox WHERE (delivered_ms IS NOT NULL AND delivered_ms < $1) \
             OR (failed_ms IS NOT NULL AND failed_ms < $1)",
        )
        .bind(before_ms)
        .execute(&self.writer)
        .await
        .map_err(backend_err)?
        .rows_affected();
        let orphaned = sqlx::query(
            "DELETE FROM message_outbox WHERE created_ms < $1 \
             AND NOT EXISTS (SELECT 1 FROM user_pools p WHERE p.id = message_outbox.pool_id)",
        )
        .bind(before_ms)
        .execute(&self.writer)
        .await
        .map_err(backend_err)?
        .rows_affected();
        Ok(delivered + orphaned)
    }
}
