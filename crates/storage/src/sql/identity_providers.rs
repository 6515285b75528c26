//! Resource servers and identity providers. Every write takes the pool's lock first, so limits are
//! counted and keys claimed inside one serialised transaction per pool; the primary keys still
//! enforce uniqueness on their own.

use std::collections::BTreeMap;

use async_trait::async_trait;
use domain::ports::{
    ChildPage, ChildWrite, IdentityProviderRecord, IdentityProviderStore, LinkedUserWrite,
    ProviderLinkRecord, ResourceServerRecord, StoreError, StoreResult,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use super::{backend_err, get, SqlStore};
use crate::user_cache::user_mark;

fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Backend(format!("corrupt {what}: {e}")))
}

fn server_of(row: &AnyRow) -> StoreResult<ResourceServerRecord> {
    let scopes: String = get(row, "scopes")?;
    Ok(ResourceServerRecord {
        pool_id: get(row, "pool_id")?,
        identifier: get(row, "identifier")?,
        name: get(row, "name")?,
        scopes: from_json(&scopes, "resource server scopes")?,
        created_ms: get(row, "created_ms")?,
        modified_ms: get(row, "modified_ms")?,
    })
}

const SERVER_COLUMNS: &str = "pool_id, identifier, name, scopes, created_ms, modified_ms";
const PROVIDER_COLUMNS: &str =
    "pool_id, provider_name, provider_type, details, attribute_mapping, \
     acr_mapping, created_ms, modified_ms, version";

async fn count(tx: &mut Transaction<'static, Any>, sql: &str, pool_id: &str) -> StoreResult<i64> {
    sqlx::query(sql)
        .bind(pool_id)
        .fetch_one(&mut **tx)
        .await
        .map_err(backend_err)
        .and_then(|r| get(&r, "n"))
}

/// Claims the provider's IdpIdentifiers; the first one another provider holds is returned.
async fn claim_identifiers(
    tx: &mut Transaction<'static, Any>,
    p: &IdentityProviderRecord,
) -> StoreResult<Option<String>> {
    for (i, id) in p.idp_identifiers.iter().enumerate() {
        let r = sqlx::query(
            "INSERT INTO identity_provider_identifiers (pool_id, identifier, provider_name, position) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (pool_id, identifier) DO NOTHING",
        )
        .bind(&p.pool_id)
        .bind(id)
        .bind(&p.provider_name)
        .bind(i as i64)
        .execute(&mut **tx)
        .await
        .map_err(backend_err)?;
        if r.rows_affected() == 0 {
            return Ok(Some(id.clone()));
        }
    }
    Ok(None)
}

const LINK_COLUMNS: &str =
    "pool_id, provider_name, attribute_name, attribute_value, username, created_ms";

fn link_of(r: &AnyRow) -> StoreResult<ProviderLinkRecord> {
    Ok(ProviderLinkRecord {
        pool_id: get(r, "pool_id")?,
        provider_name: get(r, "provider_name")?,
        attribute_name: get(r, "attribute_name")?,
        attribute_value: get(r, "attribute_value")?,
        username: get(r, "username")?,
        created_ms: get(r, "created_ms")?,
    })
}

impl SqlStore {
    /// `UserNotFound` / `VersionConflict` when the link's user (`username`, the row
    /// `user.user_id`) is gone or changed since it was read. On a conflict the writer's copy may
    /// have come from this node's cache: it is dropped (see `forget_stale_user`).
    async fn check_user_version(
        &self,
        tx: &mut Transaction<'static, Any>,
        pool_id: &str,
        username: &str,
        user: &LinkedUserWrite,
    ) -> StoreResult<Option<ChildWrite>> {
        let row = sqlx::query("SELECT version, username FROM users WHERE pool_id = $1 AND id = $2")
            .bind(pool_id)
            .bind(&user.user_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(backend_err)?;
        let Some(row) = row else {
            return Ok(Some(ChildWrite::UserNotFound));
        };
        let (version, name): (i64, String) = (get(&row, "version")?, get(&row, "username")?);
        Ok(if name != username {
            Some(ChildWrite::UserNotFound)
        } else if version != user.version - 1 {
            self.forget_stale_user(pool_id, &user.user_id);
            Some(ChildWrite::VersionConflict)
        } else {
            None
        })
    }
}

/// Writes the user's new attributes (only `identities` changes: nothing searchable or aliased).
async fn write_linked_user(
    tx: &mut Transaction<'static, Any>,
    pool_id: &str,
    user: &LinkedUserWrite,
) -> StoreResult<()> {
    let attributes = to_json(&user.attributes)?;
    super::directory::set_user_attributes(
        tx,
        pool_id,
        &user.user_id,
        &attributes,
        user.version,
        user.modified_ms,
    )
    .await
}

/// Provider details carry client secrets and private keys, so the whole document is sealed, bound
/// to its pool and provider name.
fn details_context(pool_id: &str, provider_name: &str) -> String {
    format!("idp-details/{pool_id}/{provider_name}")
}

impl SqlStore {
    fn seal_details(&self, p: &IdentityProviderRecord) -> StoreResult<String> {
        let json = to_json(&p.details)?;
        Ok(self.sealer().seal(
            &details_context(&p.pool_id, &p.provider_name),
            json.as_bytes(),
        ))
    }

    async fn provider_of(&self, row: &AnyRow) -> StoreResult<IdentityProviderRecord> {
        let pool_id: String = get(row, "pool_id")?;
        let provider_name: String = get(row, "provider_name")?;
        let provider_type: String = get(row, "provider_type")?;
        let details: String = get(row, "details")?;
        let mapping: String = get(row, "attribute_mapping")?;
        let acr: Option<String> = get(row, "acr_mapping")?;
        let ids = sqlx::query(
            "SELECT identifier FROM identity_provider_identifiers \
             WHERE pool_id = $1 AND provider_name = $2 ORDER BY position",
        )
        .bind(&pool_id)
        .bind(&provider_name)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?
        .iter()
        .map(|r| get::<String>(r, "identifier"))
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(IdentityProviderRecord {
            provider_type: provider_type
                .parse()
                .map_err(|_| StoreError::Backend("corrupt provider type".into()))?,
            details: from_json(
                &self
                    .sealer()
                    .open_string(&details_context(&pool_id, &provider_name), &details)?,
                "provider details",
            )?,
            attribute_mapping: from_json(&mapping, "attribute mapping")?,
            acr_mapping: acr
                .as_deref()
                .map(|a| from_json::<BTreeMap<String, String>>(a, "ACR mapping"))
                .transpose()?,
            idp_identifiers: ids,
            created_ms: get(row, "created_ms")?,
            modified_ms: get(row, "modified_ms")?,
            version: get(row, "version")?,
            pool_id,
            provider_name,
        })
    }
}

#[async_trait]
impl IdentityProviderStore for SqlStore {
    async fn insert_resource_server(
        &self,
        s: &ResourceServerRecord,
        max: usize,
    ) -> StoreResult<ChildWrite> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, &s.pool_id).await? {
            return Ok(ChildWrite::PoolNotFound);
        }
        let n = count(
            &mut tx,
            "SELECT COUNT(*) AS n FROM resource_servers WHERE pool_id = $1",
            &s.pool_id,
        )
        .await?;
        if n as usize >= max {
            return Ok(ChildWrite::LimitExceeded);
        }
        let r = sqlx::query(&format!(
            "INSERT INTO resource_servers ({SERVER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (pool_id, identifier) DO NOTHING"
        ))
        .bind(&s.pool_id)
        .bind(&s.identifier)
        .bind(&s.name)
        .bind(to_json(&s.scopes)?)
        .bind(s.created_ms)
        .bind(s.modified_ms)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        if r.rows_affected() == 0 {
            return Ok(ChildWrite::Duplicate);
        }
        tx.commit().await.map_err(backend_err)?;
        Ok(ChildWrite::Written)
    }

    async fn get_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> StoreResult<Option<ResourceServerRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {SERVER_COLUMNS} FROM resource_servers WHERE pool_id = $1 AND identifier = $2"
        ))
        .bind(pool_id)
        .bind(identifier)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        row.as_ref().map(server_of).transpose()
    }

    async fn update_resource_server(&self, s: &ResourceServerRecord) -> StoreResult<ChildWrite> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, &s.pool_id).await? {
            return Ok(ChildWrite::PoolNotFound);
        }
        let r = sqlx::query(
            "UPDATE resource_servers SET name = $1, scopes = $2, modified_ms = $3 \
             WHERE pool_id = $4 AND identifier = $5",
        )
        .bind(&s.name)
        .bind(to_json(&s.scopes)?)
        .bind(s.modified_ms)
        .bind(&s.pool_id)
        .bind(&s.identifier)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        if r.rows_affected() == 0 {
            return Ok(ChildWrite::NotFound);
        }
        tx.commit().await.map_err(backend_err)?;
        Ok(ChildWrite::Written)
    }

    async fn delete_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> StoreResult<ChildWrite> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, pool_id).await? {
            return Ok(ChildWrite::PoolNotFound);
        }
        let r = sqlx::query("DELETE FROM resource_servers WHERE pool_id = $1 AND identifier = $2")
            .bind(pool_id)
            .bind(identifier)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        if r.rows_affected() == 0 {
            return Ok(ChildWrite::NotFound);
        }
        tx.commit().await.map_err(backend_err)?;
        Ok(ChildWrite::Written)
    }

    async fn list_resource_servers(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<ChildPage<ResourceServerRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {SERVER_COLUMNS} FROM resource_servers WHERE pool_id = $1 AND identifier > $2 \
             ORDER BY identifier LIMIT $3"
        ))
        .bind(pool_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        let mut items = rows
            .iter()
            .map(server_of)
            .collect::<StoreResult<Vec<_>>>()?;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let last_key = if more {
            items.last().map(|s| s.identifier.clone())
        } else {
            None
        };
        Ok(ChildPage { items, last_key })
    }

    async fn insert_identity_provider(
        &self,
        p: &IdentityProviderRecord,
        max: usize,
    ) -> StoreResult<ChildWrite> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, &p.pool_id).await? {
            return Ok(ChildWrite::PoolNotFound);
        }
        let r = sqlx::query(&format!(
            "INSERT INTO identity_providers ({PROVIDER_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (pool_id, provider_name) DO NOTHING"
        ))
        .bind(&p.pool_id)
        .bind(&p.provider_name)
        .bind(p.provider_type.as_str())
        .bind(self.seal_details(p)?)
        .bind(to_json(&p.attribute_mapping)?)
        .bind(p.acr_mapping.as_ref().map(to_json).transpose()?)
        .bind(p.created_ms)
        .bind(p.modified_ms)
        .bind(p.version)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        if r.rows_affected() == 0 {
            return Ok(ChildWrite::Duplicate);
        }
        let n = count(
            &mut tx,
            "SELECT COUNT(*) AS n FROM identity_providers WHERE pool_id = $1",
            &p.pool_id,
        )
        .await?;
        if n as usize > max {
            tx.rollback().await.map_err(backend_err)?;
            return Ok(ChildWrite::LimitExceeded);
        }
        if let Some(taken) = claim_identifiers(&mut tx, p).await? {
            tx.rollback().await.map_err(backend_err)?;
            return Ok(ChildWrite::DuplicateIdpIdentifier(taken));
        }
        tx.commit().await.map_err(backend_err)?;
        Ok(ChildWrite::Written)
    }

    async fn get_identity_provider(
        &self,
        pool_id: &str,
        provider_name: &str,
    ) -> StoreResult<Option<IdentityProviderRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM identity_providers \
             WHERE pool_id = $1 AND provider_name = $2"
        ))
        .bind(pool_id)
        .bind(provider_name)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        match row {
            Some(r) => Ok(Some(self.provider_of(&r).await?)),
            None => Ok(None),
        }
    }

    async fn get_identity_provider_by_identifier(
        &self,
        pool_id: &str,
        idp_identifier: &str,
    ) -> StoreResult<Option<IdentityProviderRecord>> {
        let row = sqlx::query(
            "SELECT provider_name FROM identity_provider_identifiers \
             WHERE pool_id = $1 AND identifier = $2",
        )
        .bind(pool_id)
        .bind(idp_identifier)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        match row {
            Some(r) => {
                let name: String = get(&r, "provider_name")?;
                self.get_identity_provider(pool_id, &name).await
            }
            None => Ok(None),
        }
    }

    async fn update_identity_provider(
        &self,
        p: &IdentityProviderRecord,
    ) -> StoreResult<ChildWrite> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, &p.pool_id).await? {
            return Ok(ChildWrite::PoolNotFound);
        }
        let r = sqlx::query(
            "UPDATE identity_providers SET details = $1, attribute_mapping = $2, acr_mapping = $3, \
             modified_ms = $4, version = $5 \
             WHERE pool_id = $6 AND provider_name = $7 AND version = $8",
        )
        .bind(self.seal_details(p)?)
        .bind(to_json(&p.attribute_mapping)?)
        .bind(p.acr_mapping.as_ref().map(to_json).transpose()?)
        .bind(p.modified_ms)
        .bind(p.version)
        .bind(&p.pool_id)
        .bind(&p.provider_name)
        .bind(p.version - 1)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        if r.rows_affected() == 0 {
            let exists = sqlx::query(
                "SELECT 1 AS one FROM identity_providers WHERE pool_id = $1 AND provider_name = $2",
            )
            .bind(&p.pool_id)
            .bind(&p.provider_name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend_err)?
            .is_some();
            return Ok(if exists {
                ChildWrite::VersionConflict
            } else {
                ChildWrite::NotFound
            });
        }
        sqlx::query(
            "DELETE FROM identity_provider_identifiers WHERE pool_id = $1 AND provider_name = $2",
        )
        .bind(&p.pool_id)
        .bind(&p.provider_name)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        if let Some(taken) = claim_identifiers(&mut tx, p).await? {
            tx.rollback().await.map_err(backend_err)?;
            return Ok(ChildWrite::DuplicateIdpIdentifier(taken));
        }
        tx.commit().await.map_err(backend_err)?;
        Ok(ChildWrite::Written)
    }

    async fn delete_identity_provider(
        &self,
        pool_id: &str,
        provider_name: &str,
    ) -> StoreResult<ChildWrite> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, pool_id).await? {
            return Ok(ChildWrite::PoolNotFound);
        }
        // Children first, explicitly, whatever the backend's foreign-key settings.
        for table in ["identity_provider_identifiers", "provider_user_links"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE pool_id = $1 AND provider_name = $2"
            ))
            .bind(pool_id)
            .bind(provider_name)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        }
        let r =
            sqlx::query("DELETE FROM identity_providers WHERE pool_id = $1 AND provider_name = $2")
                .bind(pool_id)
                .bind(provider_name)
                .execute(&mut *tx)
                .await
                .map_err(backend_err)?;
        if r.rows_affected() == 0 {
            return Ok(ChildWrite::NotFound);
        }
        tx.commit().await.map_err(backend_err)?;
        Ok(ChildWrite::Written)
    }

    async fn list_identity_providers(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<ChildPage<IdentityProviderRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM identity_providers \
             WHERE pool_id = $1 AND provider_name > $2 ORDER BY provider_name LIMIT $3"
        ))
        .bind(pool_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        let more = rows.len() > limit as usize;
        let mut items = Vec::with_capacity(rows.len().min(limit as usize));
        for r in rows.iter().take(limit as usize) {
            items.push(self.provider_of(r).await?);
        }
        let last_key = if more {
            items.last().map(|p| p.provider_name.clone())
        } else {
            None
        };
        Ok(ChildPage { items, last_key })
    }

    async fn insert_provider_link(
        &self,
        link: &ProviderLinkRecord,
        user: &LinkedUserWrite,
        max_per_user: usize,
    ) -> StoreResult<ChildWrite> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, &link.pool_id).await? {
            return Ok(ChildWrite::PoolNotFound);
        }
        let provider = sqlx::query(
            "SELECT 1 AS one FROM identity_providers WHERE pool_id = $1 AND provider_name = $2",
        )
        .bind(&link.pool_id)
        .bind(&link.provider_name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend_err)?;
        if provider.is_none() {
            return Ok(ChildWrite::NotFound);
        }
        if let Some(outcome) = self
            .check_user_version(&mut tx, &link.pool_id, &link.username, user)
            .await?
        {
            return Ok(outcome);
        }
        let existing = sqlx::query(
            "SELECT 1 AS one FROM provider_user_links WHERE pool_id = $1 AND provider_name = $2 \
             AND attribute_name = $3 AND attribute_value = $4",
        )
        .bind(&link.pool_id)
        .bind(&link.provider_name)
        .bind(&link.attribute_name)
        .bind(&link.attribute_value)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend_err)?;
        if existing.is_some() {
            return Ok(ChildWrite::Duplicate);
        }
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM provider_user_links WHERE pool_id = $1 AND username = $2",
        )
        .bind(&link.pool_id)
        .bind(&link.username)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend_err)
        .and_then(|r| get(&r, "n"))?;
        if n as usize >= max_per_user {
            return Ok(ChildWrite::LimitExceeded);
        }
        sqlx::query(
            "INSERT INTO provider_user_links \
             (pool_id, provider_name, attribute_name, attribute_value, username, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&link.pool_id)
        .bind(&link.provider_name)
        .bind(&link.attribute_name)
        .bind(&link.attribute_value)
        .bind(&link.username)
        .bind(link.created_ms)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        write_linked_user(&mut tx, &link.pool_id, user).await?;
        self.commit_user_write(tx, &[user_mark(&link.pool_id, &user.user_id)])
            .await?;
        Ok(ChildWrite::Written)
    }

    async fn delete_provider_link(
        &self,
        pool_id: &str,
        provider_name: &str,
        attribute_name: &str,
        attribute_value: &str,
        user: &LinkedUserWrite,
    ) -> StoreResult<ChildWrite> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, pool_id).await? {
            return Ok(ChildWrite::PoolNotFound);
        }
        let owner: Option<String> = sqlx::query(
            "SELECT username FROM provider_user_links WHERE pool_id = $1 AND provider_name = $2 \
             AND attribute_name = $3 AND attribute_value = $4",
        )
        .bind(pool_id)
        .bind(provider_name)
        .bind(attribute_name)
        .bind(attribute_value)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend_err)?
        .map(|r| get(&r, "username"))
        .transpose()?;
        let Some(owner) = owner else {
            return Ok(ChildWrite::NotFound);
        };
        if let Some(outcome) = self
            .check_user_version(&mut tx, pool_id, &owner, user)
            .await?
        {
            return Ok(outcome);
        }
        let r = sqlx::query(
            "DELETE FROM provider_user_links WHERE pool_id = $1 AND provider_name = $2 \
             AND attribute_name = $3 AND attribute_value = $4",
        )
        .bind(pool_id)
        .bind(provider_name)
        .bind(attribute_name)
        .bind(attribute_value)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        if r.rows_affected() == 0 {
            return Ok(ChildWrite::NotFound);
        }
        write_linked_user(&mut tx, pool_id, user).await?;
        self.commit_user_write(tx, &[user_mark(pool_id, &user.user_id)])
            .await?;
        Ok(ChildWrite::Written)
    }

    async fn get_provider_link(
        &self,
        pool_id: &str,
        provider_name: &str,
        attribute_name: &str,
        attribute_value: &str,
    ) -> StoreResult<Option<ProviderLinkRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM provider_user_links WHERE pool_id = $1 \
             AND provider_name = $2 AND attribute_name = $3 AND attribute_value = $4"
        ))
        .bind(pool_id)
        .bind(provider_name)
        .bind(attribute_name)
        .bind(attribute_value)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        row.as_ref().map(link_of).transpose()
    }

    async fn provider_links_of_user(
        &self,
        pool_id: &str,
        username: &str,
    ) -> StoreResult<Vec<ProviderLinkRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM provider_user_links WHERE pool_id = $1 AND username = $2 \
             ORDER BY provider_name, attribute_name, attribute_value"
        ))
        .bind(pool_id)
        .bind(username)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows.iter().map(link_of).collect()
    }
}
