//! Secrets at rest can be trusted only if sealed: on SQLite and (with
//! `GATEHOUSE_TEST_DATABASE_URL`) Postgres, password states written as plain JSON before sealing
//! existed are sealed once by the upgrade step, and a plain state written afterwards (by someone
//! who can write the database but does not hold the key-encryption key) is refused.

#[macro_use]
mod support;

use std::collections::BTreeMap;

use domain::ports::{DirectoryStore, PasswordState, UserPoolStore, UserRecord, UserWrite};
use domain::user_pool::{default_settings, PoolSettings, UserPoolRecord};
use storage::SqlStore;

suite_with_url!(plain_password_states_are_sealed_once_then_refused);

async fn new_pool(store: &SqlStore) -> String {
    let id = format!(
        "us-east-1_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..9]
    );
    let record = UserPoolRecord {
        id: id.clone(),
        region: "us-east-1".into(),
        account_id: "111122223333".into(),
        name: "sealing".into(),
        created_ms: 1,
        modified_ms: 1,
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

async fn write_plain(db: &sqlx::AnyPool, pool: &str, user_id: &str, state: &PasswordState) {
    sqlx::query("UPDATE users SET password = $1 WHERE pool_id = $2 AND id = $3")
        .bind(serde_json::to_string(state).unwrap())
        .bind(pool)
        .bind(user_id)
        .execute(db)
        .await
        .unwrap();
}

async fn plain_password_states_are_sealed_once_then_refused(store: SqlStore, url: String) {
    let store = store.with_user_cache_capacity(0);
    let pool = new_pool(&store).await;
    let id = uuid::Uuid::new_v4().to_string();
    let state = PasswordState {
        hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        set_ms: 5,
        srp: None,
        history: vec![],
    };
    let write = UserWrite {
        user: UserRecord {
            pending_attributes: vec![],
            pool_id: pool.clone(),
            id: id.clone(),
            username: "legacy".into(),
            username_key: "legacy".into(),
            status: "CONFIRMED".into(),
            enabled: true,
            created_ms: 10,
            modified_ms: 10,
            version: 1,
            password: Some(state.clone()),
            attributes: vec![("sub".into(), id.clone())],
        },
        search: vec![],
        aliases: vec![],
        force_aliases: false,
    };
    store.insert_user(&write).await.unwrap();
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&url).await.unwrap();

    // A database from before sealing: plain rows, and the upgrade not yet done.
    write_plain(&db, &pool, &id, &state).await;
    sqlx::query("DELETE FROM gatehouse_meta WHERE key = 'password_states_sealed'")
        .execute(&db)
        .await
        .unwrap();
    assert!(store.seal_legacy_password_states().await.unwrap() >= 1);
    let sealed: String = sqlx::query_scalar("SELECT password FROM users WHERE id = $1")
        .bind(&id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(sealed.starts_with("gh1."), "sealed by the upgrade");
    let user = store
        .get_user_by_key(&pool, "legacy")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.password, Some(state.clone()));

    // Afterwards a plain state is never trusted, and starting again does not seal it.
    let forged = PasswordState {
        hash: "$argon2id$v=19$m=19456,t=2,p=1$YXR0YWNr$a25vd24".into(),
        ..state
    };
    write_plain(&db, &pool, &id, &forged).await;
    assert_eq!(store.seal_legacy_password_states().await.unwrap(), 0);
    assert!(
        store.get_user_by_key(&pool, "legacy").await.is_err(),
        "a plain password state is refused"
    );
}
