//! App clients and their secrets.
//!
//! Every write takes the pool lock first (`SqlStore::lock_pool`), so the two-secret limit and the
//! client's existence are checked and acted on by one writer at a time. Every sign-in reads its
//! client, so clients are cached per node by id (`ClientCache`); writes here drop the cached copy on
//! every node. A client of a deleted pool may linger in a cache until it expires, but every use
//! of a client loads its pool too, and that fails.

use async_trait::async_trait;
use cognito_model::shapes::UserPoolClientType;
use domain::ports::{
    AddSecretOutcome, AppClientPage, AppClientRecord, AppClientStore, AppClientView,
    ClientSecretRecord, DeleteSecretOutcome, InsertClientOutcome, SecretValue, StoreError,
    StoreResult,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use crate::sealing::Sealer;

use super::{backend_err, get, SqlStore};

const CLIENT_COLUMNS: &str = "client_id, pool_id, name, created_ms, modified_ms, settings";

fn client_of(row: &AnyRow) -> StoreResult<AppClientRecord> {
    let settings: String = get(row, "settings")?;
    let settings: UserPoolClientType = serde_json::from_str(&settings)
        .map_err(|e| StoreError::Backend(format!("corrupt app client settings: {e}")))?;
    Ok(AppClientRecord {
        pool_id: get(row, "pool_id")?,
        client_id: get(row, "client_id")?,
        name: get(row, "name")?,
        created_ms: get(row, "created_ms")?,
        modified_ms: get(row, "modified_ms")?,
        settings,
    })
}

/// Where a client secret lives, bound into its sealing so a sealed value cannot be moved to another row.
fn secret_context(client_id: &str, secret_id: &str) -> String {
    format!("client-secret/{client_id}/{secret_id}")
}

fn settings_json(c: &AppClientRecord) -> StoreResult<String> {
    serde_json::to_string(&c.settings).map_err(|e| StoreError::Backend(e.to_string()))
}

async fn insert_secret(
    tx: &mut Transaction<'static, Any>,
    sealer: &Sealer,
    client_id: &str,
    s: &ClientSecretRecord,
) -> StoreResult<()> {
    let r = sqlx::query(
        "INSERT INTO app_client_secrets (client_id, secret_id, secret, generated, created_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client_id, secret_id) DO NOTHING",
    )
    .bind(client_id)
    .bind(&s.secret_id)
    .bind(sealer.seal(
        &secret_context(client_id, &s.secret_id),
        s.value.expose().as_bytes(),
    ))
    .bind(i64::from(s.generated))
    .bind(s.created_ms)
    .execute(&mut **tx)
    .await
    .map_err(backend_err)?;
    if r.rows_affected() == 0 {
        return Err(StoreError::Conflict(format!(
            "client secret {} exists",
            s.secret_id
        )));
    }
    Ok(())
}

/// Whether the client exists in the pool, read inside the transaction (after the pool lock).
async fn client_exists(
    tx: &mut Transaction<'static, Any>,
    pool_id: &str,
    client_id: &str,
) -> StoreResult<bool> {
    let row =
        sqlx::query("SELECT client_id FROM app_clients WHERE pool_id = $1 AND client_id = $2")
            .bind(pool_id)
            .bind(client_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(backend_err)?;
    Ok(row.is_some())
}

async fn secret_count(tx: &mut Transaction<'static, Any>, client_id: &str) -> StoreResult<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM app_client_secrets WHERE client_id = $1")
        .bind(client_id)
        .fetch_one(&mut **tx)
        .await
        .map_err(backend_err)?;
    get(&row, "n")
}

#[async_trait]
impl AppClientStore for SqlStore {
    async fn insert_app_client(
        &self,
        client: &AppClientRecord,
        secret: Option<&ClientSecretRecord>,
    ) -> StoreResult<InsertClientOutcome> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, &client.pool_id).await? {
            return Ok(InsertClientOutcome::PoolNotFound);
        }
        let r = sqlx::query(
            "INSERT INTO app_clients (client_id, pool_id, name, created_ms, modified_ms, settings) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (client_id) DO NOTHING",
        )
        .bind(&client.client_id)
        .bind(&client.pool_id)
        .bind(&client.name)
        .bind(client.created_ms)
        .bind(client.modified_ms)
        .bind(settings_json(client)?)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "app client {} exists",
                client.client_id
            )));
        }
        if let Some(s) = secret {
            insert_secret(&mut tx, self.sealer(), &client.client_id, s).await?;
        }
        tx.commit().await.map_err(backend_err)?;
        Ok(InsertClientOutcome::Inserted)
    }

    async fn get_app_client(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<AppClientView>> {
        match self.find_app_client(client_id).await? {
            Some(v) if v.record.pool_id == pool_id => Ok(Some(v)),
            _ => Ok(None),
        }
    }

    async fn find_app_client(&self, client_id: &str) -> StoreResult<Option<AppClientView>> {
        if let Some(v) = self.clients.get(client_id) {
            return Ok(Some(v));
        }
        let generation = self.clients.generation();
        let view = self.read_app_client(client_id).await?;
        if let Some(v) = &view {
            self.clients
                .put_if_current(client_id, v.clone(), generation);
        }
        Ok(view)
    }

    async fn update_app_client(&self, client: &AppClientRecord) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, &client.pool_id).await? {
            return Ok(false);
        }
        let r = sqlx::query(
            "UPDATE app_clients SET name = $1, modified_ms = $2, settings = $3 \
             WHERE pool_id = $4 AND client_id = $5",
        )
        .bind(&client.name)
        .bind(client.modified_ms)
        .bind(settings_json(client)?)
        .bind(&client.pool_id)
        .bind(&client.client_id)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        if r.rows_affected() == 0 {
            tx.rollback().await.map_err(backend_err)?;
            return Ok(false);
        }
        self.commit_client_write(tx, &client.client_id).await?;
        Ok(true)
    }

    async fn delete_app_client(&self, pool_id: &str, client_id: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, pool_id).await? {
            return Ok(false);
        }
        if !client_exists(&mut tx, pool_id, client_id).await? {
            tx.rollback().await.map_err(backend_err)?;
            return Ok(false);
        }
        // Secrets first, explicitly: the same on both backends whatever the foreign-key settings.
        sqlx::query("DELETE FROM app_client_secrets WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        sqlx::query("DELETE FROM app_clients WHERE pool_id = $1 AND client_id = $2")
            .bind(pool_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        self.commit_client_write(tx, client_id).await?;
        Ok(true)
    }

    async fn list_app_clients(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<AppClientPage> {
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM app_clients WHERE pool_id = $1 AND client_id > $2 \
             ORDER BY client_id LIMIT $3"
        ))
        .bind(pool_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        let mut clients = rows
            .iter()
            .map(client_of)
            .collect::<StoreResult<Vec<_>>>()?;
        let more = clients.len() > limit as usize;
        clients.truncate(limit as usize);
        let last_key = if more {
            clients.last().map(|c| c.client_id.clone())
        } else {
            None
        };
        Ok(AppClientPage { clients, last_key })
    }

    async fn add_client_secret(
        &self,
        pool_id: &str,
        client_id: &str,
        secret: &ClientSecretRecord,
        max: usize,
    ) -> StoreResult<AddSecretOutcome> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, pool_id).await?
            || !client_exists(&mut tx, pool_id, client_id).await?
        {
            tx.rollback().await.map_err(backend_err)?;
            return Ok(AddSecretOutcome::ClientNotFound);
        }
        let n = secret_count(&mut tx, client_id).await?;
        if n == 0 {
            tx.rollback().await.map_err(backend_err)?;
            return Ok(AddSecretOutcome::NotConfidential);
        }
        if n as usize >= max {
            tx.rollback().await.map_err(backend_err)?;
            return Ok(AddSecretOutcome::LimitExceeded);
        }
        insert_secret(&mut tx, self.sealer(), client_id, secret).await?;
        self.commit_client_write(tx, client_id).await?;
        Ok(AddSecretOutcome::Added)
    }

    async fn delete_client_secret(
        &self,
        pool_id: &str,
        client_id: &str,
        secret_id: &str,
    ) -> StoreResult<DeleteSecretOutcome> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, pool_id).await?
            || !client_exists(&mut tx, pool_id, client_id).await?
        {
            tx.rollback().await.map_err(backend_err)?;
            return Ok(DeleteSecretOutcome::ClientNotFound);
        }
        let exists = sqlx::query(
            "SELECT secret_id FROM app_client_secrets WHERE client_id = $1 AND secret_id = $2",
        )
        .bind(client_id)
        .bind(secret_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend_err)?
        .is_some();
        if !exists {
            tx.rollback().await.map_err(backend_err)?;
            return Ok(DeleteSecretOutcome::SecretNotFound);
        }
        if secret_count(&mut tx, client_id).await? <= 1 {
            tx.rollback().await.map_err(backend_err)?;
            return Ok(DeleteSecretOutcome::LastSecret);
        }
        sqlx::query("DELETE FROM app_client_secrets WHERE client_id = $1 AND secret_id = $2")
            .bind(client_id)
            .bind(secret_id)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        self.commit_client_write(tx, client_id).await?;
        Ok(DeleteSecretOutcome::Deleted)
    }
}

impl SqlStore {
    async fn read_app_client(&self, client_id: &str) -> StoreResult<Option<AppClientView>> {
        // One statement (every sign-in reads its client): the client and its secrets come from
        // the same snapshot without a transaction's extra round trips.
        let rows = sqlx::query(
            "SELECT c.client_id, c.pool_id, c.name, c.created_ms, c.modified_ms, c.settings, \
             s.secret_id, s.secret, s.generated, s.created_ms AS secret_created_ms \
             FROM app_clients c LEFT JOIN app_client_secrets s ON s.client_id = c.client_id \
             WHERE c.client_id = $1 ORDER BY s.created_ms, s.secret_id",
        )
        .bind(client_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let record = client_of(first)?;
        let mut secrets = Vec::new();
        for r in &rows {
            let Some(secret_id) = get::<Option<String>>(r, "secret_id")? else {
                continue;
            };
            let sealed: String = get(r, "secret")?;
            let value = self
                .sealer()
                .open_string(&secret_context(client_id, &secret_id), &sealed)?;
            secrets.push(ClientSecretRecord {
                secret_id,
                value: SecretValue::new(value),
                created_ms: get(r, "secret_created_ms")?,
                generated: get::<i64>(r, "generated")? != 0,
            });
        }
        Ok(Some(AppClientView { record, secrets }))
    }
}
