//! `SqlStore` as a `domain::ports::AppClientStore`, on SQLite and (when `GATEHOUSE_TEST_DATABASE_URL`
//! names a database) Postgres. Rows are looked at directly to prove deletes leave nothing behind.

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use cognito_model::shapes::{ExplicitAuthFlowsType, UserPoolClientType};
use domain::ports::{
    AddSecretOutcome, AppClientRecord, AppClientStore, ClientSecretRecord, DeleteSecretOutcome,
    InsertClientOutcome, SecretValue, StoreError, UserPoolStore,
};
use domain::user_pool::{default_settings, PoolSettings, UserPoolRecord};
use sqlx::any::AnyPoolOptions;
use sqlx::Row;
use storage::SqlStore;

const NOW_MS: i64 = 1_700_000_000_000;

suite_with_url!(
    client_round_trips_with_its_secret,
    inserts_need_the_pool_and_a_fresh_id,
    list_pages_by_client_id,
    deleting_a_client_deletes_its_secret_rows,
    deleting_the_pool_deletes_client_and_secret_rows,
    concurrent_secret_adds_respect_the_limit,
    secret_deletion_rules,
    secrets_are_sealed_at_rest,
);

fn unique(prefix: &str) -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &u[..20])
}

async fn new_pool(store: &SqlStore) -> String {
    let id = format!("us-east-1_{}", &unique("")[..9]);
    let record = UserPoolRecord {
        id: id.clone(),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        name: "clients".into(),
        created_ms: NOW_MS,
        modified_ms: NOW_MS,
        version: 1,
        settings: PoolSettings {
            pool: default_settings(),
            mfa: Default::default(),
        },
    };
    store
        .insert_user_pool(&record, &BTreeMap::new())
        .await
        .expect("insert pool");
    id
}

fn client(pool_id: &str) -> AppClientRecord {
    AppClientRecord {
        pool_id: pool_id.to_string(),
        client_id: unique("c"),
        name: "web ü \"quoted\"".into(),
        created_ms: NOW_MS,
        modified_ms: NOW_MS,
        settings: UserPoolClientType {
            refresh_token_validity: Some(30),
            explicit_auth_flows: Some(vec![
                ExplicitAuthFlowsType::AllowRefreshTokenAuth,
                ExplicitAuthFlowsType::AllowUserSrpAuth,
            ]),
            ..Default::default()
        },
    }
}

fn secret(client_id: &str, n: i64) -> ClientSecretRecord {
    ClientSecretRecord {
        secret_id: format!("{client_id}--{}", NOW_MS + n),
        value: SecretValue::new(format!("secretvalue{n:040}")),
        created_ms: NOW_MS + n,
        generated: true,
    }
}

/// Counts rows of `table` for one client, through a connection of its own.
async fn rows(url: &str, table: &str, client_id: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("raw connect");
    let n: i64 = sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM {table} WHERE client_id = $1"
    ))
    .bind(client_id)
    .fetch_one(&pool)
    .await
    .expect("count")
    .try_get("n")
    .expect("n");
    pool.close().await;
    n
}

async fn client_round_trips_with_its_secret(store: SqlStore, _url: String) {
    let pool = new_pool(&store).await;
    let c = client(&pool);
    let s = secret(&c.client_id, 0);
    assert_eq!(
        store.insert_app_client(&c, Some(&s)).await.unwrap(),
        InsertClientOutcome::Inserted
    );
    let view = store
        .get_app_client(&pool, &c.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.record, c);
    assert_eq!(view.secrets, vec![s]);
    assert!(store
        .get_app_client("us-east-1_other", &c.client_id)
        .await
        .unwrap()
        .is_none());
    let found = store.find_app_client(&c.client_id).await.unwrap().unwrap();
    assert_eq!(found.record.pool_id, pool);
    assert!(store.find_app_client("nobody").await.unwrap().is_none());

    let mut changed = c.clone();
    changed.name = "renamed".into();
    changed.modified_ms += 5;
    changed.settings.auth_session_validity = Some(9);
    assert!(store.update_app_client(&changed).await.unwrap());
    let view = store
        .get_app_client(&pool, &c.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.record, changed);
    assert_eq!(view.secrets.len(), 1, "updates keep secrets");
}

async fn inserts_need_the_pool_and_a_fresh_id(store: SqlStore, _url: String) {
    let c = client("us-east-1_missing00");
    assert_eq!(
        store.insert_app_client(&c, None).await.unwrap(),
        InsertClientOutcome::PoolNotFound
    );
    let pool = new_pool(&store).await;
    let c = client(&pool);
    store.insert_app_client(&c, None).await.unwrap();
    match store.insert_app_client(&c, None).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("duplicate id: {other:?}"),
    }
    let mut ghost = client(&pool);
    ghost.client_id = unique("ghost");
    assert!(!store.update_app_client(&ghost).await.unwrap());
}

async fn list_pages_by_client_id(store: SqlStore, _url: String) {
    let pool = new_pool(&store).await;
    let mut ids = Vec::new();
    for _ in 0..7 {
        let c = client(&pool);
        ids.push(c.client_id.clone());
        store.insert_app_client(&c, None).await.unwrap();
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_app_clients(&pool, after.as_deref(), 3)
            .await
            .unwrap();
        assert!(page.clients.len() <= 3);
        seen.extend(page.clients.iter().map(|c| c.client_id.clone()));
        match page.last_key {
            Some(k) => after = Some(k),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every client once, in id order");
}

async fn deleting_a_client_deletes_its_secret_rows(store: SqlStore, url: String) {
    let pool = new_pool(&store).await;
    let c = client(&pool);
    store
        .insert_app_client(&c, Some(&secret(&c.client_id, 0)))
        .await
        .unwrap();
    store
        .add_client_secret(&pool, &c.client_id, &secret(&c.client_id, 1), 2)
        .await
        .unwrap();
    assert_eq!(rows(&url, "app_client_secrets", &c.client_id).await, 2);
    assert!(store.delete_app_client(&pool, &c.client_id).await.unwrap());
    assert!(!store.delete_app_client(&pool, &c.client_id).await.unwrap());
    assert_eq!(rows(&url, "app_clients", &c.client_id).await, 0);
    assert_eq!(rows(&url, "app_client_secrets", &c.client_id).await, 0);
}

async fn deleting_the_pool_deletes_client_and_secret_rows(store: SqlStore, url: String) {
    let pool = new_pool(&store).await;
    let a = client(&pool);
    let b = client(&pool);
    store
        .insert_app_client(&a, Some(&secret(&a.client_id, 0)))
        .await
        .unwrap();
    store
        .insert_app_client(&b, Some(&secret(&b.client_id, 0)))
        .await
        .unwrap();
    assert!(store.delete_user_pool(&pool).await.unwrap());
    for c in [&a, &b] {
        assert_eq!(rows(&url, "app_clients", &c.client_id).await, 0);
        assert_eq!(rows(&url, "app_client_secrets", &c.client_id).await, 0);
        assert!(store
            .get_app_client(&pool, &c.client_id)
            .await
            .unwrap()
            .is_none());
    }
}

async fn concurrent_secret_adds_respect_the_limit(store: SqlStore, _url: String) {
    let pool = new_pool(&store).await;
    let store = Arc::new(store);
    // Several rounds, each racing 16 writers for the one free place, so a missing lock shows.
    for _round in 0..8 {
        let c = client(&pool);
        store
            .insert_app_client(&c, Some(&secret(&c.client_id, 0)))
            .await
            .unwrap();
        let start = Arc::new(tokio::sync::Barrier::new(16));
        let mut tasks = Vec::new();
        for n in 1..=16 {
            let store = store.clone();
            let pool = pool.clone();
            let id = c.client_id.clone();
            let start = start.clone();
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                store
                    .add_client_secret(&pool, &id, &secret(&id, n), 2)
                    .await
                    .unwrap()
            }));
        }
        let mut added = 0;
        for t in tasks {
            match t.await.unwrap() {
                AddSecretOutcome::Added => added += 1,
                AddSecretOutcome::LimitExceeded => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(added, 1);
        let view = store
            .get_app_client(&pool, &c.client_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(view.secrets.len(), 2);
    }
}

async fn secret_deletion_rules(store: SqlStore, _url: String) {
    let pool = new_pool(&store).await;
    let public = client(&pool);
    store.insert_app_client(&public, None).await.unwrap();
    assert_eq!(
        store
            .add_client_secret(&pool, &public.client_id, &secret(&public.client_id, 1), 2)
            .await
            .unwrap(),
        AddSecretOutcome::NotConfidential
    );
    let c = client(&pool);
    let first = secret(&c.client_id, 0);
    store.insert_app_client(&c, Some(&first)).await.unwrap();
    assert_eq!(
        store
            .delete_client_secret(&pool, &c.client_id, &first.secret_id)
            .await
            .unwrap(),
        DeleteSecretOutcome::LastSecret
    );
    let second = secret(&c.client_id, 1);
    store
        .add_client_secret(&pool, &c.client_id, &second, 2)
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_client_secret(&pool, &c.client_id, "nope")
            .await
            .unwrap(),
        DeleteSecretOutcome::SecretNotFound
    );
    assert_eq!(
        store
            .delete_client_secret(&pool, "nobody", &first.secret_id)
            .await
            .unwrap(),
        DeleteSecretOutcome::ClientNotFound
    );
    assert_eq!(
        store
            .delete_client_secret(&pool, &c.client_id, &first.secret_id)
            .await
            .unwrap(),
        DeleteSecretOutcome::Deleted
    );
    let view = store
        .get_app_client(&pool, &c.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.secrets, vec![second]);
    assert_eq!(
        store
            .add_client_secret(&pool, "nobody", &secret("nobody", 3), 2)
            .await
            .unwrap(),
        AddSecretOutcome::ClientNotFound
    );
}

/// The row holds only the sealed value; the plaintext opens only through the store, and a store
/// with another key-encryption key cannot read it.
async fn secrets_are_sealed_at_rest(store: SqlStore, url: String) {
    let pool = new_pool(&store).await;
    let c = client(&pool);
    let sec = secret(&c.client_id, 7);
    store
        .insert_app_client(&c, Some(&sec))
        .await
        .expect("insert");
    sqlx::any::install_default_drivers();
    let raw = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("raw connect");
    let stored: String = sqlx::query("SELECT secret FROM app_client_secrets WHERE client_id = $1")
        .bind(&c.client_id)
        .fetch_one(&raw)
        .await
        .expect("row")
        .try_get("secret")
        .expect("secret");
    raw.close().await;
    assert!(stored.starts_with("gh1."), "sealed format: {stored}");
    assert!(
        !stored.contains(sec.value.expose()),
        "plaintext must not be stored"
    );
    let read = store
        .find_app_client(&c.client_id)
        .await
        .expect("find")
        .expect("client");
    assert_eq!(read.secrets[0].value.expose(), sec.value.expose());
    let other = SqlStore::connect(&url, 2).await.expect("connect");
    assert!(
        other.find_app_client(&c.client_id).await.is_err(),
        "another key does not open it"
    );
}
