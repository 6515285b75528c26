//! MFA settings (TOTP secrets sealed, the used-step counter) and remembered devices (SRP
//! verifiers sealed).

use async_trait::async_trait;
use domain::ports::{
    DeviceRecord, MfaFactor, MfaStore, SrpVerifier, StoreError, StoreResult, UserMfaRecord,
};
use sqlx::any::AnyRow;

use super::{backend_err, get, SqlStore};

fn totp_context(pool_id: &str, user_id: &str, which: &str) -> String {
    format!("totp-secret:{pool_id}/{user_id}/{which}")
}

fn device_context(pool_id: &str, device_key: &str) -> String {
    format!("device-verifier:{pool_id}/{device_key}")
}

const DEVICE_COLS: &str = "pool_id, device_key, user_id, device_group_key, verifier, name, \
     remembered, last_ip, created_ms, modified_ms, last_auth_ms";

/// A write that names a user (or a device's user) who was deleted meanwhile.
fn gone(e: sqlx::Error) -> StoreResult<bool> {
    if e.as_database_error().is_some() {
        Ok(false)
    } else {
        Err(backend_err(e))
    }
}

impl SqlStore {
    fn seal_opt(&self, context: &str, value: Option<&[u8]>) -> Option<String> {
        value.map(|v| self.sealer().seal(context, v))
    }

    fn open_opt(&self, context: &str, sealed: Option<String>) -> StoreResult<Option<Vec<u8>>> {
        sealed.map(|s| self.sealer().open(context, &s)).transpose()
    }

    fn device_of(&self, row: &AnyRow) -> StoreResult<DeviceRecord> {
        let pool_id: String = get(row, "pool_id")?;
        let device_key: String = get(row, "device_key")?;
        let verifier = match get::<Option<String>>(row, "verifier")? {
            Some(sealed) => {
                let json = self
                    .sealer()
                    .open_string(&device_context(&pool_id, &device_key), &sealed)?;
                Some(
                    serde_json::from_str::<SrpVerifier>(&json)
                        .map_err(|e| StoreError::Backend(format!("corrupt device row: {e}")))?,
                )
            }
            None => None,
        };
        Ok(DeviceRecord {
            user_id: get(row, "user_id")?,
            device_group_key: get(row, "device_group_key")?,
            verifier,
            name: get(row, "name")?,
            remembered: get::<i64>(row, "remembered")? != 0,
            last_ip: get(row, "last_ip")?,
            created_ms: get(row, "created_ms")?,
            modified_ms: get(row, "modified_ms")?,
            last_auth_ms: get(row, "last_auth_ms")?,
            pool_id,
            device_key,
        })
    }

    async fn read_user_mfa(
        &self,
        pool_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<UserMfaRecord>> {
        let row = sqlx::query(
            "SELECT enabled_factors, preferred_factor, totp_secret, totp_name, \
             pending_totp_secret, modified_ms FROM user_mfa WHERE pool_id = $1 AND user_id = $2",
        )
        .bind(pool_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        let Some(row) = row else { return Ok(None) };
        let preferred: Option<String> = get(&row, "preferred_factor")?;
        Ok(Some(UserMfaRecord {
            pool_id: pool_id.to_string(),
            user_id: user_id.to_string(),
            enabled_factors: get(&row, "enabled_factors")?,
            preferred: preferred.as_deref().and_then(MfaFactor::parse),
            totp_secret: self.open_opt(
                &totp_context(pool_id, user_id, "verified"),
                get(&row, "totp_secret")?,
            )?,
            totp_name: get(&row, "totp_name")?,
            pending_totp_secret: self.open_opt(
                &totp_context(pool_id, user_id, "pending"),
                get(&row, "pending_totp_secret")?,
            )?,
            modified_ms: get(&row, "modified_ms")?,
        }))
    }

    async fn write_user_mfa(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        r: &UserMfaRecord,
    ) -> StoreResult<bool> {
        let (p, u) = (&r.pool_id, &r.user_id);
        let secret = self.seal_opt(&totp_context(p, u, "verified"), r.totp_secret.as_deref());
        let pending = self.seal_opt(
            &totp_context(p, u, "pending"),
            r.pending_totp_secret.as_deref(),
        );
        let res = sqlx::query(
            "INSERT INTO user_mfa (pool_id, user_id, enabled_factors, preferred_factor, \
             totp_secret, totp_name, pending_totp_secret, totp_last_step, modified_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8) \
             ON CONFLICT (pool_id, user_id) DO UPDATE SET \
             enabled_factors = $3, preferred_factor = $4, totp_secret = $5, totp_name = $6, \
             pending_totp_secret = $7, modified_ms = $8",
        )
        .bind(p)
        .bind(u)
        .bind(r.enabled_factors)
        .bind(r.preferred.map(MfaFactor::as_str))
        .bind(secret)
        .bind(&r.totp_name)
        .bind(pending)
        .bind(r.modified_ms)
        .execute(&mut **tx)
        .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) => gone(e),
        }
    }

    fn sealed_verifier(&self, d: &DeviceRecord) -> StoreResult<Option<String>> {
        d.verifier
            .as_ref()
            .map(|v| {
                let json = serde_json::to_string(v)
                    .map_err(|e| StoreError::Backend(format!("device verifier: {e}")))?;
                Ok(self
                    .sealer()
                    .seal(&device_context(&d.pool_id, &d.device_key), json.as_bytes()))
            })
            .transpose()
    }
}

#[async_trait]
impl MfaStore for SqlStore {
    async fn user_mfa(&self, pool_id: &str, user_id: &str) -> StoreResult<Option<UserMfaRecord>> {
        // Every GetUser shows the settings and every MFA sign-in reads them: per node, cached
        // under the user's mark, which every write of them (on any node) invalidates.
        if let Some(cached) = self.user_cache().get_mfa(pool_id, user_id) {
            return Ok(cached);
        }
        let ticket = self.user_cache().begin_read();
        let record = self.read_user_mfa(pool_id, user_id).await?;
        self.user_cache()
            .put_mfa_if_current(pool_id, user_id, record.as_ref(), ticket);
        Ok(record)
    }

    async fn put_user_mfa(&self, r: &UserMfaRecord) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let written = self.write_user_mfa(&mut tx, r).await?;
        if !written {
            return Ok(false);
        }
        let marks = [crate::user_cache::user_mark(&r.pool_id, &r.user_id)];
        self.commit_user_write(tx, &marks).await?;
        Ok(true)
    }

    async fn use_totp_step(&self, pool_id: &str, user_id: &str, step: i64) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE user_mfa SET totp_last_step = $1 \
             WHERE pool_id = $2 AND user_id = $3 AND totp_last_step < $1",
        )
        .bind(step)
        .bind(pool_id)
        .bind(user_id)
        .execute(&self.writer)
        .await
        .map_err(backend_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn insert_device(&self, d: &DeviceRecord) -> StoreResult<bool> {
        let verifier = self.sealed_verifier(d)?;
        let res = sqlx::query(&format!(
            "INSERT INTO devices ({DEVICE_COLS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&d.pool_id)
        .bind(&d.device_key)
        .bind(&d.user_id)
        .bind(&d.device_group_key)
        .bind(verifier)
        .bind(&d.name)
        .bind(i64::from(d.remembered))
        .bind(&d.last_ip)
        .bind(d.created_ms)
        .bind(d.modified_ms)
        .bind(d.last_auth_ms)
        .execute(&self.writer)
        .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) => gone(e),
        }
    }

    async fn device(&self, pool_id: &str, device_key: &str) -> StoreResult<Option<DeviceRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {DEVICE_COLS} FROM devices WHERE pool_id = $1 AND device_key = $2"
        ))
        .bind(pool_id)
        .bind(device_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        row.map(|r| self.device_of(&r)).transpose()
    }

    async fn confirm_device(&self, d: &DeviceRecord) -> StoreResult<bool> {
        let verifier = self.sealed_verifier(d)?;
        let r = sqlx::query(
            "UPDATE devices SET verifier = $1, name = $2, remembered = $3, modified_ms = $4 \
             WHERE pool_id = $5 AND device_key = $6 AND user_id = $7 AND verifier IS NULL",
        )
        .bind(verifier)
        .bind(&d.name)
        .bind(i64::from(d.remembered))
        .bind(d.modified_ms)
        .bind(&d.pool_id)
        .bind(&d.device_key)
        .bind(&d.user_id)
        .execute(&self.writer)
        .await
        .map_err(backend_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn set_device_remembered(
        &self,
        pool_id: &str,
        user_id: &str,
        device_key: &str,
        remembered: bool,
        at_ms: i64,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE devices SET remembered = $1, modified_ms = $2 \
             WHERE pool_id = $3 AND device_key = $4 AND user_id = $5 AND verifier IS NOT NULL",
        )
        .bind(i64::from(remembered))
        .bind(at_ms)
        .bind(pool_id)
        .bind(device_key)
        .bind(user_id)
        .execute(&self.writer)
        .await
        .map_err(backend_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn touch_device(&self, pool_id: &str, device_key: &str, at_ms: i64) -> StoreResult<()> {
        sqlx::query("UPDATE devices SET last_auth_ms = $1 WHERE pool_id = $2 AND device_key = $3")
            .bind(at_ms)
            .bind(pool_id)
            .bind(device_key)
            .execute(&self.writer)
            .await
            .map_err(backend_err)?;
        Ok(())
    }

    async fn list_devices(
        &self,
        pool_id: &str,
        user_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<DeviceRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {DEVICE_COLS} FROM devices WHERE pool_id = $1 AND user_id = $2 \
             AND device_key > $3 ORDER BY device_key LIMIT $4"
        ))
        .bind(pool_id)
        .bind(user_id)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows.iter().map(|r| self.device_of(r)).collect()
    }

    async fn delete_device(
        &self,
        pool_id: &str,
        user_id: &str,
        device_key: &str,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "DELETE FROM devices WHERE pool_id = $1 AND user_id = $2 AND device_key = $3",
        )
        .bind(pool_id)
        .bind(user_id)
        .bind(device_key)
        .execute(&self.writer)
        .await
        .map_err(backend_err)?;
        Ok(r.rows_affected() == 1)
    }
}
