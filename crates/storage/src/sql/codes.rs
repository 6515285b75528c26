//! One-time codes, written together with the message that carries them and the counters that
//! limit them.

use async_trait::async_trait;
use domain::ports::{CodeLimit, CodeRecord, CodeStore, CodeWrite, OutboundMessage, StoreResult};
use sqlx::{Any, Transaction};

use super::{backend_err, get, SqlStore};

/// Counter rows whose window began this long ago are pruned (no window is longer than a day,
/// see the domain's code limits).
const KEEP_COUNTERS_MS: i64 = 2 * 24 * 3_600_000;

/// One hit on a counter, in one statement under the row's lock (Postgres) or the write lock
/// (SQLite): it starts a new window when the old one has passed, else adds one if there is room.
/// No row comes back when the counter is full, and then nothing changed.
/// Binds: $1 pool, $2 scope, $3 now, $4 window, $5 limit.
const HIT: &str = "INSERT INTO code_limits (pool_id, scope, window_start_ms, hits) \
     VALUES ($1, $2, $3, 1) \
     ON CONFLICT (pool_id, scope) DO UPDATE SET \
     hits = CASE WHEN $3 - code_limits.window_start_ms >= $4 THEN 1 ELSE code_limits.hits + 1 END, \
     window_start_ms = CASE WHEN $3 - code_limits.window_start_ms >= $4 THEN $3 \
     ELSE code_limits.window_start_ms END \
     WHERE $3 - code_limits.window_start_ms >= $4 OR code_limits.hits < $5 \
     RETURNING hits";

/// Whether a counter is full, without counting. Binds as [`HIT`].
const FULL: &str = "SELECT hits FROM code_limits \
     WHERE pool_id = $1 AND scope = $2 AND $3 - window_start_ms < $4 AND hits >= $5";

/// Counts every limit inside `tx`; false as soon as one is full (the caller rolls back). The
/// counters are taken in scope order so two transactions never wait on each other in a circle.
async fn count_in_tx(
    tx: &mut Transaction<'static, Any>,
    pool_id: &str,
    limits: &[CodeLimit],
    now_ms: i64,
) -> StoreResult<bool> {
    let mut ordered: Vec<&CodeLimit> = limits.iter().collect();
    ordered.sort_by(|a, b| a.scope.cmp(&b.scope));
    for l in ordered {
        let q = sqlx::query(if l.charge { HIT } else { FULL })
            .bind(pool_id)
            .bind(&l.scope)
            .bind(now_ms)
            .bind(l.window_ms)
            .bind(l.limit);
        let row = q.fetch_optional(&mut **tx).await.map_err(backend_err)?;
        // A hit that finds no room returns nothing; a look that finds the counter full returns it.
        if row.is_some() != l.charge {
            return Ok(false);
        }
    }
    Ok(true)
}

#[async_trait]
impl CodeStore for SqlStore {
    async fn put_code(
        &self,
        code: &CodeRecord,
        message: Option<&OutboundMessage>,
        limits: &[CodeLimit],
        now_ms: i64,
    ) -> StoreResult<CodeWrite> {
        let mut tx = self.begin().await?;
        let exists = sqlx::query("SELECT id FROM users WHERE pool_id = $1 AND id = $2")
            .bind(&code.pool_id)
            .bind(&code.user_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend_err)?
            .is_some();
        if !exists {
            return Ok(CodeWrite::UserGone);
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
        // Counted last, so the busiest counter (the pool's) is held only until the commit.
        if !count_in_tx(&mut tx, &code.pool_id, limits, now_ms).await? {
            tx.rollback().await.map_err(backend_err)?;
            return Ok(CodeWrite::Limited);
        }
        tx.commit().await.map_err(backend_err)?;
        Ok(CodeWrite::Stored)
    }

    async fn count_code_limits(
        &self,
        pool_id: &str,
        limits: &[CodeLimit],
        now_ms: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if !count_in_tx(&mut tx, pool_id, limits, now_ms).await? {
            tx.rollback().await.map_err(backend_err)?;
            return Ok(false);
        }
        tx.commit().await.map_err(backend_err)?;
        Ok(true)
    }

    async fn reset_code_limit(&self, pool_id: &str, scope: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM code_limits WHERE pool_id = $1 AND scope = $2")
            .bind(pool_id)
            .bind(scope)
            .execute(&self.writer)
            .await
            .map_err(backend_err)?;
        Ok(())
    }

    async fn get_code(
        &self,
        pool_id: &str,
        user_id: &str,
        purpose: &str,
    ) -> StoreResult<Option<CodeRecord>> {
        // From the writer: a code stored a moment ago by this node must be seen.
        let row = sqlx::query(
            "SELECT pool_id, user_id, purpose, code_hash, expires_ms, attempts, created_ms \
             FROM user_codes WHERE pool_id = $1 AND user_id = $2 AND purpose = $3",
        )
        .bind(pool_id)
        .bind(user_id)
        .bind(purpose)
        .fetch_optional(&self.writer)
        .await
        .map_err(backend_err)?;
        row.map(|r| code_of(&r)).transpose()
    }

    async fn delete_code(
        &self,
        pool_id: &str,
        user_id: &str,
        purpose: &str,
        code_hash: Option<&str>,
    ) -> StoreResult<bool> {
        // Without a hash, any code of the purpose goes (its attribute changed).
        let r = sqlx::query(
            "DELETE FROM user_codes WHERE pool_id = $1 AND user_id = $2 AND purpose = $3 \
             AND code_hash = COALESCE($4, code_hash)",
        )
        .bind(pool_id)
        .bind(user_id)
        .bind(purpose)
        .bind(code_hash)
        .execute(&self.writer)
        .await
        .map_err(backend_err)?;
        Ok(r.rows_affected() > 0)
    }
}

impl SqlStore {
    /// Deletes code counters whose window began more than two days before `now_ms` (done by the
    /// periodic pruner, off the counting transactions). Returns the rows deleted.
    pub async fn prune_stale_code_limits(&self, now_ms: i64) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM code_limits WHERE window_start_ms < $1")
            .bind(now_ms - KEEP_COUNTERS_MS)
            .execute(&self.writer)
            .await
            .map_err(backend_err)?;
        Ok(r.rows_affected())
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
