//! What the storage test files share: the store each check gets, on SQLite and (with
//! `GATEHOUSE_TEST_DATABASE_URL`) Postgres, and the macros that run every check on both.
// Each test file is its own crate and uses only part of this.
#![allow(dead_code, unused_macros)]

use std::path::Path;

use std::collections::BTreeMap;

use domain::ports::{DirectoryStore, TokenSessionRecord, UserPoolStore, UserRecord, UserWrite};
use domain::user_pool::{default_settings, PoolSettings, UserPoolRecord};
use storage::SqlStore;

pub const PG_URL_VAR: &str = "GATEHOUSE_TEST_DATABASE_URL";

/// The Postgres database of this run, if one is configured.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var(PG_URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty());
    if url.is_none() {
        eprintln!("skipping Postgres: {PG_URL_VAR} is not set");
    }
    url
}

pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}/t.db", dir.display())
}

/// A migrated store on `url`.
pub async fn store(url: &str) -> SqlStore {
    let s = SqlStore::connect(url, 8).await.expect("connect");
    s.migrate().await.expect("migrate");
    s
}

/// Runs each `check(store, url)` on a fresh SQLite file and on the run's Postgres database.
macro_rules! suite_with_url {
    ($($check:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let url = crate::support::sqlite_url(dir.path());
                    super::$check(crate::support::store(&url).await, url).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let Some(url) = crate::support::postgres_url() else { return };
                    super::$check(crate::support::store(&url).await, url).await;
                }
            )+
        }
    };
}

/// Runs each `check(store, dir)` on a fresh SQLite file (`dir` is its directory) and on the run's
/// Postgres database (`dir` is ".").
macro_rules! suite_with_dir {
    ($($check:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let store = crate::support::store(&crate::support::sqlite_url(dir.path())).await;
                    super::$check(store, dir.path()).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let Some(url) = crate::support::postgres_url() else { return };
                    let store = crate::support::store(&url).await;
                    super::$check(store, std::path::Path::new(".")).await;
                }
            )+
        }
    };
}

/// A signed-in session of `user` stored under `origin_jti`, started 30 days before `expires_ms`
/// (its refresh token's end), with a random refresh-token hash.
pub fn token_session(
    pool: &str,
    user: &str,
    origin_jti: &str,
    expires_ms: i64,
) -> TokenSessionRecord {
    let started_ms = expires_ms - 30 * 86_400_000;
    TokenSessionRecord {
        origin_jti: origin_jti.into(),
        pool_id: pool.into(),
        client_id: "client".into(),
        user_id: user.into(),
        refresh_hash: uuid::Uuid::new_v4().simple().to_string(),
        previous_refresh_hash: None,
        previous_valid_until_ms: None,
        auth_time_s: started_ms / 1000,
        created_ms: started_ms,
        expires_ms,
        revoked_ms: None,
        device_key: None,
    }
}

/// A new pool holding one CONFIRMED user without a password, both stamped `now_ms`: the
/// (pool id, user id).
pub async fn pool_and_user(store: &SqlStore, now_ms: i64, username: &str) -> (String, String) {
    let unique = || uuid::Uuid::new_v4().simple().to_string();
    let id = format!("us-east-1_{}", &unique()[..9]);
    let record = UserPoolRecord {
        id: id.clone(),
        region: "us-east-1".into(),
        account_id: format!("{:012}", uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000),
        name: "test".into(),
        created_ms: now_ms,
        modified_ms: now_ms,
        version: 1,
        settings: PoolSettings {
            pool: default_settings(),
            mfa: Default::default(),
        },
    };
    store
        .insert_user_pool(&record, &BTreeMap::new())
        .await
        .unwrap();
    let user_id = unique();
    store
        .insert_user(&UserWrite {
            search: vec![],
            aliases: vec![],
            user: UserRecord {
                pool_id: id.clone(),
                id: user_id.clone(),
                username: username.into(),
                username_key: username.into(),
                status: "CONFIRMED".into(),
                enabled: true,
                created_ms: now_ms,
                modified_ms: now_ms,
                version: 1,
                password: None,
                attributes: vec![("sub".into(), user_id.clone())],
                pending_attributes: vec![],
            },
            force_aliases: false,
        })
        .await
        .unwrap();
    (id, user_id)
}
