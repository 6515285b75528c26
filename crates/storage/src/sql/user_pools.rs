//! User pools and their tags.

use std::collections::BTreeMap;

use async_trait::async_trait;
use domain::ports::{
    StoreError, StoreResult, TagOutcome, UserPoolPage, UserPoolStore, UserPoolView, WriteOutcome,
};
use domain::user_pool::UserPoolRecord;
use sqlx::{Any, Transaction};

use super::{backend_err, get, record_of, settings_json, SqlStore};

#[async_trait]
impl UserPoolStore for SqlStore {
    async fn insert_user_pool(
        &self,
        pool: &UserPoolRecord,
        tags: &BTreeMap<String, String>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let r = sqlx::query(
            "INSERT INTO user_pools (id, account_id, region, name, created_ms, modified_ms, version, settings) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&pool.id)
        .bind(&pool.account_id)
        .bind(&pool.region)
        .bind(&pool.name)
        .bind(pool.created_ms)
        .bind(pool.modified_ms)
        .bind(pool.version)
        .bind(settings_json(pool)?)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "user pool {} exists",
                pool.id
            )));
        }
        insert_tags(&mut tx, &pool.id, tags).await?;
        self.commit_and_invalidate(tx, &pool.id).await
    }

    async fn get_user_pool(&self, pool_id: &str) -> StoreResult<Option<UserPoolView>> {
        if let Some(v) = self.cache.get(pool_id) {
            return Ok(Some(v));
        }
        let generation = self.cache.generation();
        let view = self.read_pool(pool_id).await?;
        if let Some(v) = &view {
            self.cache.put_if_current(pool_id, v.clone(), generation);
        }
        Ok(view)
    }

    async fn update_user_pool(
        &self,
        pool: &UserPoolRecord,
        tags: Option<&BTreeMap<String, String>>,
    ) -> StoreResult<WriteOutcome> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, &pool.id).await? {
            return Ok(WriteOutcome::NotFound);
        }
        let r = sqlx::query(
            "UPDATE user_pools SET name = $1, modified_ms = $2, version = $3, settings = $4 \
             WHERE id = $5 AND version = $6",
        )
        .bind(&pool.name)
        .bind(pool.modified_ms)
        .bind(pool.version)
        .bind(settings_json(pool)?)
        .bind(&pool.id)
        .bind(pool.version - 1)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        if r.rows_affected() == 0 {
            return Ok(WriteOutcome::VersionConflict);
        }
        if let Some(tags) = tags {
            sqlx::query("DELETE FROM user_pool_tags WHERE pool_id = $1")
                .bind(&pool.id)
                .execute(&mut *tx)
                .await
                .map_err(backend_err)?;
            insert_tags(&mut tx, &pool.id, tags).await?;
        }
        self.notify(&mut tx, &pool.id).await?;
        self.commit_and_invalidate(tx, &pool.id).await?;
        Ok(WriteOutcome::Written)
    }

    async fn delete_user_pool(&self, pool_id: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, pool_id).await? {
            return Ok(false);
        }
        // Children first, explicitly: the same on both backends whatever the foreign-key settings.
        sqlx::query("DELETE FROM user_pool_tags WHERE pool_id = $1")
            .bind(pool_id)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        sqlx::query("DELETE FROM user_pools WHERE id = $1")
            .bind(pool_id)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        self.notify(&mut tx, pool_id).await?;
        self.commit_and_invalidate(tx, pool_id).await?;
        Ok(true)
    }

    async fn list_user_pools(
        &self,
        account_id: &str,
        region: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<UserPoolPage> {
        let rows = sqlx::query(
            "SELECT id, account_id, region, name, created_ms, modified_ms, version, settings \
             FROM user_pools WHERE account_id = $1 AND region = $2 AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(account_id)
        .bind(region)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        let mut pools = rows
            .iter()
            .map(record_of)
            .collect::<StoreResult<Vec<_>>>()?;
        let more = pools.len() > limit as usize;
        pools.truncate(limit as usize);
        let last_key = if more {
            pools.last().map(|p| p.id.clone())
        } else {
            None
        };
        Ok(UserPoolPage { pools, last_key })
    }

    async fn tag_user_pool(
        &self,
        pool_id: &str,
        tags: &BTreeMap<String, String>,
        max_tags: usize,
    ) -> StoreResult<TagOutcome> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, pool_id).await? {
            return Ok(TagOutcome::NotFound);
        }
        for (k, v) in tags {
            sqlx::query(
                "INSERT INTO user_pool_tags (pool_id, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (pool_id, key) DO UPDATE SET value = excluded.value",
            )
            .bind(pool_id)
            .bind(k)
            .bind(v)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        }
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM user_pool_tags WHERE pool_id = $1")
            .bind(pool_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend_err)
            .and_then(|r| get(&r, "n"))?;
        if count as usize > max_tags {
            tx.rollback().await.map_err(backend_err)?;
            return Ok(TagOutcome::TooManyTags);
        }
        self.notify(&mut tx, pool_id).await?;
        self.commit_and_invalidate(tx, pool_id).await?;
        Ok(TagOutcome::Written)
    }

    async fn untag_user_pool(&self, pool_id: &str, keys: &[String]) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, pool_id).await? {
            return Ok(false);
        }
        for k in keys {
            sqlx::query("DELETE FROM user_pool_tags WHERE pool_id = $1 AND key = $2")
                .bind(pool_id)
                .bind(k)
                .execute(&mut *tx)
                .await
                .map_err(backend_err)?;
        }
        self.notify(&mut tx, pool_id).await?;
        self.commit_and_invalidate(tx, pool_id).await?;
        Ok(true)
    }
}

async fn insert_tags(
    tx: &mut Transaction<'static, Any>,
    pool_id: &str,
    tags: &BTreeMap<String, String>,
) -> StoreResult<()> {
    for (k, v) in tags {
        sqlx::query("INSERT INTO user_pool_tags (pool_id, key, value) VALUES ($1, $2, $3)")
            .bind(pool_id)
            .bind(k)
            .bind(v)
            .execute(&mut **tx)
            .await
            .map_err(backend_err)?;
    }
    Ok(())
}
