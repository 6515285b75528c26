//! One-time codes, written together with the message that carries them.

use async_trait::async_trait;
use domain::ports::{CodeRecord, CodeStore, OutboundMessage, StoreResult};

use super::{backend_err, get, SqlStore};

#[async_trait]
impl CodeStore for SqlStore {
    async fn put_code(
        &self,
        code: &CodeRecord,
        message: Option<&OutboundMessage>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let exists = sqlx::query("SELECT id FROM users WHERE pool_id = $1 AND id = $2")
            .bind(&code.pool_id)
            .bind(&code.user_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend_err)?
            .is_some();
        if !exists {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO user_codes (pool_id, user_id, purpose, code_hash, expires_ms, attempts, \
             created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (pool_id, user_id, purpose) DO UPDATE SET code_hash = EXCLUDED.code_hash, \
             expires_ms = EXCLUDED.expires_ms, attempts = EXCLUDED.attempts, \
             created_ms = EXCLUDED.created_ms",
        )
        .bind(&code.pool_id)
        .bind(&code.user_id)
        .bind(&code.purpose)
        .bind(&code.code_hash)
        .bind(code.expires_ms)
        .bind(code.attempts)
        .bind(code.created_ms)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        if let Some(m) = message {
            super::outbox::enqueue_in_tx(
                &mut tx,
                self.sealer(),
                std::slice::from_ref(m),
                code.created_ms,
            )
            .await?;
        }
        tx.commit().await.map_err(backend_err)?;
        Ok(true)
    }

    async fn count_code_attempt(
        &self,
        pool_id: &str,
        user_id: &str,
        purpose: &str,
    ) -> StoreResult<Option<CodeRecord>> {
        let row = sqlx::query(
            "UPDATE user_codes SET attempts = attempts + 1 \
             WHERE pool_id = $1 AND user_id = $2 AND purpose = $3 \
             RETURNING pool_id, user_id, purpose, code_hash, expires_ms, attempts, created_ms",
        )
        .bind(pool_id)
        .bind(user_id)
        .bind(purpose)
        .fetch_optional(&self.writer)
        .await
        .map_err(backend_err)?;
        row.map(|r| code_of(&r)).transpose()
    }

    async fn delete_code(&self, pool_id: &str, user_id: &str, purpose: &str) -> StoreResult<bool> {
        let r = sqlx::query(
            "DELETE FROM user_codes WHERE pool_id = $1 AND user_id = $2 AND purpose = $3",
        )
        .bind(pool_id)
        .bind(user_id)
        .bind(purpose)
        .execute(&self.writer)
        .await
        .map_err(backend_err)?;
        Ok(r.rows_affected() > 0)
    }
}

fn code_of(r: &sqlx::any::AnyRow) -> StoreResult<CodeRecord> {
    Ok(CodeRecord {
        pool_id: get(r, "pool_id")?,
        user_id: get(r, "user_id")?,
        purpose: get(r, "purpose")?,
        code_hash: get(r, "code_hash")?,
        expires_ms: get(r, "expires_ms")?,
        attempts: get(r, "attempts")?,
        created_ms: get(r, "created_ms")?,
    })
}
