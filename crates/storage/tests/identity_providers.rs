//! `SqlStore` as a `domain::ports::IdentityProviderStore`, on SQLite and (when
//! `GATEHOUSE_TEST_DATABASE_URL` is set) Postgres. Every check makes its own pools with random ids.

use std::collections::{BTreeMap, BTreeSet};

use cognito_model::shapes::{IdentityProviderTypeType, ResourceServerScopeType};
use domain::ports::{
    ChildWrite, DirectoryStore, IdentityProviderRecord, IdentityProviderStore, LinkedUserWrite,
    ProviderLinkRecord, ResourceServerRecord, UserPoolStore, UserRecord, UserWrite,
    UserWriteOutcome,
};
use domain::user_pool::{default_settings, PoolSettings, UserPoolRecord};
use storage::SqlStore;

const NOW_MS: i64 = 1_700_000_000_123;

macro_rules! suite {
    ($($check:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let url = format!("sqlite://{}/t.db", dir.path().display());
                    super::$check(super::connect(&url).await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let Ok(url) = std::env::var("GATEHOUSE_TEST_DATABASE_URL") else {
                        eprintln!("GATEHOUSE_TEST_DATABASE_URL is not set: Postgres variant not run");
                        return;
                    };
                    if url.trim().is_empty() {
                        return;
                    }
                    super::$check(super::connect(&url).await).await;
                }
            )+
        }
    };
}

suite!(
    deleting_a_pool_removes_its_servers_and_providers,
    round_trips_and_keeps_pools_apart,
    concurrent_identifier_claims_have_one_winner,
    update_is_version_guarded,
    links_store_one_user_per_identity,
);

async fn connect(url: &str) -> SqlStore {
    let store = SqlStore::connect(url, 8).await.expect("connect");
    store.migrate().await.expect("migrate");
    store
}

fn pool_id() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("us-east-1_{}", &u[..9])
}

async fn new_pool(store: &SqlStore) -> String {
    let id = pool_id();
    let record = UserPoolRecord {
        id: id.clone(),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        name: "p".into(),
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

fn server(pool: &str, identifier: &str) -> ResourceServerRecord {
    ResourceServerRecord {
        pool_id: pool.into(),
        identifier: identifier.into(),
        name: "Ünïcode \"name\"".into(),
        scopes: vec![ResourceServerScopeType {
            scope_name: Some("read".into()),
            scope_description: Some("Read \\ everything 🔐".into()),
        }],
        created_ms: NOW_MS,
        modified_ms: NOW_MS,
    }
}

fn provider(pool: &str, name: &str, ids: &[&str]) -> IdentityProviderRecord {
    IdentityProviderRecord {
        pool_id: pool.into(),
        provider_name: name.into(),
        provider_type: IdentityProviderTypeType::Oidc,
        details: [("client_id", "c"), ("client_secret", "s")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        attribute_mapping: [("username".to_string(), "sub".to_string())].into(),
        idp_identifiers: ids.iter().map(|s| s.to_string()).collect(),
        acr_mapping: Some([("Level1".to_string(), "urn:acr:1".to_string())].into()),
        created_ms: NOW_MS,
        modified_ms: NOW_MS,
        version: 1,
    }
}

async fn deleting_a_pool_removes_its_servers_and_providers(store: SqlStore) {
    let pool = new_pool(&store).await;
    assert_eq!(
        store
            .insert_resource_server(&server(&pool, "rs"), 25)
            .await
            .unwrap(),
        ChildWrite::Written
    );
    assert_eq!(
        store
            .insert_identity_provider(&provider(&pool, "Corp", &["corp"]), 300)
            .await
            .unwrap(),
        ChildWrite::Written
    );
    assert!(store.delete_user_pool(&pool).await.unwrap());
    assert!(store
        .get_resource_server(&pool, "rs")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .get_identity_provider(&pool, "Corp")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .get_identity_provider_by_identifier(&pool, "corp")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .list_resource_servers(&pool, None, 50)
        .await
        .unwrap()
        .items
        .is_empty());
    // Writes to a deleted pool report the pool missing.
    assert_eq!(
        store
            .insert_resource_server(&server(&pool, "rs"), 25)
            .await
            .unwrap(),
        ChildWrite::PoolNotFound
    );
    assert_eq!(
        store
            .insert_identity_provider(&provider(&pool, "Corp", &[]), 300)
            .await
            .unwrap(),
        ChildWrite::PoolNotFound
    );
}

async fn round_trips_and_keeps_pools_apart(store: SqlStore) {
    let a = new_pool(&store).await;
    let b = new_pool(&store).await;
    let s = server(&a, "https://api.example.com");
    store.insert_resource_server(&s, 25).await.unwrap();
    assert_eq!(
        store
            .get_resource_server(&a, "https://api.example.com")
            .await
            .unwrap(),
        Some(s.clone())
    );
    assert!(store
        .get_resource_server(&b, "https://api.example.com")
        .await
        .unwrap()
        .is_none());
    let p = provider(&a, "Corp", &["z-last", "a-first"]);
    store.insert_identity_provider(&p, 300).await.unwrap();
    let got = store
        .get_identity_provider(&a, "Corp")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, p, "identifiers keep their order");
    assert_eq!(
        store
            .get_identity_provider_by_identifier(&a, "a-first")
            .await
            .unwrap(),
        Some(p.clone())
    );
    assert!(store
        .get_identity_provider(&b, "Corp")
        .await
        .unwrap()
        .is_none());
    // The limit is checked in the write transaction.
    assert_eq!(
        store
            .insert_identity_provider(&provider(&a, "Second", &[]), 1)
            .await
            .unwrap(),
        ChildWrite::LimitExceeded
    );
    assert_eq!(
        store
            .insert_resource_server(&server(&a, "other"), 1)
            .await
            .unwrap(),
        ChildWrite::LimitExceeded
    );
    // The debug form of a provider never shows its details (secrets).
    let shown = format!("{got:?}");
    assert!(
        !shown.contains("client_secret") && !shown.contains("\"s\""),
        "{shown}"
    );
}

async fn concurrent_identifier_claims_have_one_winner(store: SqlStore) {
    let pool = new_pool(&store).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("P{i}");
            store
                .insert_identity_provider(
                    &provider(&pool, &name, &[&format!("own{i}"), "shared"]),
                    300,
                )
                .await
                .unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let won = outcomes
        .iter()
        .filter(|o| **o == ChildWrite::Written)
        .count();
    assert_eq!(won, 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|o| *o == ChildWrite::Written
            || *o == ChildWrite::DuplicateIdpIdentifier("shared".into())));
    let page = store
        .list_identity_providers(&pool, None, 60)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    // The losers left no identifiers behind.
    let names: BTreeSet<_> = page.items.iter().map(|p| p.provider_name.clone()).collect();
    for i in 0..8 {
        let holder = store
            .get_identity_provider_by_identifier(&pool, &format!("own{i}"))
            .await
            .unwrap();
        match holder {
            Some(p) => assert!(names.contains(&p.provider_name)),
            None => assert!(!names.contains(&format!("P{i}"))),
        }
    }
}

async fn update_is_version_guarded(store: SqlStore) {
    let pool = new_pool(&store).await;
    let p = provider(&pool, "Corp", &["corp"]);
    store.insert_identity_provider(&p, 300).await.unwrap();
    let mut next = p.clone();
    next.version = 2;
    next.idp_identifiers = vec!["corp2".into()];
    assert_eq!(
        store.update_identity_provider(&next).await.unwrap(),
        ChildWrite::Written
    );
    // A writer that read version 1 loses.
    let mut stale = p.clone();
    stale.version = 2;
    stale.details.insert("client_id".into(), "stale".into());
    assert_eq!(
        store.update_identity_provider(&stale).await.unwrap(),
        ChildWrite::VersionConflict
    );
    let now = store
        .get_identity_provider(&pool, "Corp")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now, next);
    assert!(store
        .get_identity_provider_by_identifier(&pool, "corp")
        .await
        .unwrap()
        .is_none());
    let mut missing = provider(&pool, "Nobody", &[]);
    missing.version = 2;
    assert_eq!(
        store.update_identity_provider(&missing).await.unwrap(),
        ChildWrite::NotFound
    );
    assert_eq!(
        store
            .delete_identity_provider(&pool, "Nobody")
            .await
            .unwrap(),
        ChildWrite::NotFound
    );
}

fn link(pool: &str, provider: &str, value: &str, user: &str) -> ProviderLinkRecord {
    ProviderLinkRecord {
        pool_id: pool.into(),
        provider_name: provider.into(),
        attribute_name: "Cognito_Subject".into(),
        attribute_value: value.into(),
        username: user.into(),
        created_ms: NOW_MS,
    }
}

async fn new_user(store: &SqlStore, pool: &str, name: &str) -> UserRecord {
    let id = uuid::Uuid::new_v4().to_string();
    let user = UserRecord {
        pending_attributes: vec![],
        pool_id: pool.into(),
        id: id.clone(),
        username: name.into(),
        username_key: name.into(),
        status: "CONFIRMED".into(),
        enabled: true,
        created_ms: NOW_MS,
        modified_ms: NOW_MS,
        version: 1,
        password: None,
        attributes: vec![("sub".into(), id)],
    };
    let w = UserWrite {
        user: user.clone(),
        search: vec![],
        aliases: vec![],
        force_aliases: false,
    };
    assert_eq!(
        store.insert_user(&w).await.unwrap(),
        UserWriteOutcome::Written
    );
    user
}

/// The user's side of a link change: its next version with one marker attribute.
fn next(u: &UserRecord, marker: &str) -> LinkedUserWrite {
    let mut attributes = u.attributes.clone();
    attributes.push(("identities".into(), marker.into()));
    LinkedUserWrite {
        user_id: u.id.clone(),
        version: u.version + 1,
        modified_ms: NOW_MS + 1,
        attributes,
    }
}

async fn reload(store: &SqlStore, u: &UserRecord) -> UserRecord {
    store
        .get_user_by_key(&u.pool_id, &u.username_key)
        .await
        .unwrap()
        .expect("user")
}

async fn links_store_one_user_per_identity(store: SqlStore) {
    let pool = new_pool(&store).await;
    store
        .insert_identity_provider(&provider(&pool, "Corp", &[]), 300)
        .await
        .unwrap();
    let alice = new_user(&store, &pool, "alice").await;
    let bob = new_user(&store, &pool, "bob").await;
    assert_eq!(
        store
            .insert_provider_link(&link(&pool, "Corp", "s1", "alice"), &next(&alice, "a1"), 5)
            .await
            .unwrap(),
        ChildWrite::Written
    );
    // The user's attributes and version changed with the link.
    let alice = reload(&store, &alice).await;
    assert_eq!(alice.version, 2);
    assert_eq!(alice.modified_ms, NOW_MS + 1);
    assert_eq!(alice.attributes[1], ("identities".into(), "a1".into()));
    // The user written must be the link's user; a stale version is refused, and so is the same
    // identity again, for any user.
    assert_eq!(
        store
            .insert_provider_link(&link(&pool, "Corp", "s2", "bob"), &next(&alice, "x"), 5)
            .await
            .unwrap(),
        ChildWrite::UserNotFound
    );
    let stale = UserRecord {
        version: 1,
        ..alice.clone()
    };
    assert_eq!(
        store
            .insert_provider_link(&link(&pool, "Corp", "s9", "alice"), &next(&stale, "x"), 5)
            .await
            .unwrap(),
        ChildWrite::VersionConflict
    );
    for (who, u) in [("alice", &alice), ("bob", &bob)] {
        assert_eq!(
            store
                .insert_provider_link(&link(&pool, "Corp", "s1", who), &next(u, "x"), 5)
                .await
                .unwrap(),
            ChildWrite::Duplicate
        );
    }
    assert_eq!(
        store
            .insert_provider_link(&link(&pool, "Nobody", "s1", "bob"), &next(&bob, "x"), 5)
            .await
            .unwrap(),
        ChildWrite::NotFound
    );
    let ghost = UserRecord {
        id: "no-such-user".into(),
        ..bob.clone()
    };
    assert_eq!(
        store
            .insert_provider_link(&link(&pool, "Corp", "s1", "ghost"), &next(&ghost, "x"), 5)
            .await
            .unwrap(),
        ChildWrite::UserNotFound
    );
    let mut alice = alice;
    for i in 2..=5 {
        assert_eq!(
            store
                .insert_provider_link(
                    &link(&pool, "Corp", &format!("s{i}"), "alice"),
                    &next(&alice, "a"),
                    5
                )
                .await
                .unwrap(),
            ChildWrite::Written
        );
        alice = reload(&store, &alice).await;
    }
    assert_eq!(
        store
            .insert_provider_link(&link(&pool, "Corp", "s6", "alice"), &next(&alice, "a"), 5)
            .await
            .unwrap(),
        ChildWrite::LimitExceeded
    );
    let got = store
        .get_provider_link(&pool, "Corp", "Cognito_Subject", "s3")
        .await
        .unwrap()
        .expect("link");
    assert_eq!(got, link(&pool, "Corp", "s3", "alice"));
    assert_eq!(
        store
            .provider_links_of_user(&pool, "alice")
            .await
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        store
            .delete_provider_link(&pool, "Corp", "Cognito_Subject", "s5", &next(&stale, "x"))
            .await
            .unwrap(),
        ChildWrite::VersionConflict
    );
    assert_eq!(
        store
            .delete_provider_link(&pool, "Corp", "Cognito_Subject", "s5", &next(&bob, "x"))
            .await
            .unwrap(),
        ChildWrite::UserNotFound
    );
    assert_eq!(
        store
            .delete_provider_link(&pool, "Corp", "Cognito_Subject", "s5", &next(&alice, "d"))
            .await
            .unwrap(),
        ChildWrite::Written
    );
    let alice = reload(&store, &alice).await;
    assert_eq!(alice.attributes.last().unwrap().1, "d");
    assert_eq!(
        store
            .delete_provider_link(&pool, "Corp", "Cognito_Subject", "s5", &next(&alice, "d"))
            .await
            .unwrap(),
        ChildWrite::NotFound
    );
    // Deleting the user removes its links (and only its links).
    store
        .insert_provider_link(&link(&pool, "Corp", "b1", "bob"), &next(&bob, "b"), 5)
        .await
        .unwrap();
    assert!(store.delete_user(&pool, &alice.id).await.unwrap());
    assert!(store
        .provider_links_of_user(&pool, "alice")
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .get_provider_link(&pool, "Corp", "Cognito_Subject", "s1")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .provider_links_of_user(&pool, "bob")
            .await
            .unwrap()
            .len(),
        1
    );
    // Deleting the provider removes its links; deleting the pool removes the rest.
    assert_eq!(
        store.delete_identity_provider(&pool, "Corp").await.unwrap(),
        ChildWrite::Written
    );
    assert!(store
        .provider_links_of_user(&pool, "bob")
        .await
        .unwrap()
        .is_empty());
    store
        .insert_identity_provider(&provider(&pool, "Corp", &[]), 300)
        .await
        .unwrap();
    let bob = reload(&store, &bob).await;
    store
        .insert_provider_link(&link(&pool, "Corp", "b1", "bob"), &next(&bob, "b"), 5)
        .await
        .unwrap();
    assert!(store.delete_user_pool(&pool).await.unwrap());
    assert!(store
        .provider_links_of_user(&pool, "bob")
        .await
        .unwrap()
        .is_empty());
}
