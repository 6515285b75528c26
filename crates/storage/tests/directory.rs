//! `SqlStore` as a `domain::ports::DirectoryStore`, on SQLite and (with
//! `GATEHOUSE_TEST_DATABASE_URL`) Postgres: users, aliases, keyset lists, and the query plans
//! that keep ListUsers off full scans.

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::path::Path;

use domain::ports::{
    DirectoryStore, UserCursor, UserPoolStore, UserQuery, UserRecord, UserWrite, UserWriteOutcome,
};
use domain::user_pool::{default_settings, PoolSettings, UserPoolRecord};
use storage::SqlStore;

suite_with_dir!(
    users_round_trip_and_conflicts,
    lists_page_by_keyset,
    list_filters_use_indexes,
    concurrent_alias_claims_have_one_winner,
    concurrent_user_updates_are_version_guarded,
    pending_attribute_values_are_kept_and_hidden_from_lists,
);

async fn new_pool(store: &SqlStore) -> String {
    let id = format!(
        "us-east-1_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..9]
    );
    let record = UserPoolRecord {
        id: id.clone(),
        region: "us-east-1".into(),
        account_id: "111122223333".into(),
        name: "directory".into(),
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

fn user(pool: &str, name: &str, attrs: &[(&str, &str)]) -> UserWrite {
    let attributes: Vec<(String, String)> =
        std::iter::once(("sub".to_string(), uuid::Uuid::new_v4().to_string()))
            .chain(attrs.iter().map(|(n, v)| (n.to_string(), v.to_string())))
            .collect();
    let id = attributes[0].1.clone();
    let verified = attrs.contains(&("email_verified", "true"));
    let email = attrs.iter().find(|(n, _)| *n == "email").map(|(_, v)| *v);
    UserWrite {
        search: attributes
            .iter()
            .filter(|(n, _)| n == "email" || n == "name")
            .cloned()
            .collect(),
        aliases: match (email, verified) {
            (Some(e), true) => vec![("email".to_string(), e.to_string())],
            _ => vec![],
        },
        user: UserRecord {
            pending_attributes: vec![],
            pool_id: pool.to_string(),
            id,
            username: name.to_string(),
            username_key: name.to_string(),
            status: "FORCE_CHANGE_PASSWORD".into(),
            enabled: true,
            created_ms: 10,
            modified_ms: 10,
            version: 1,
            password: None,
            attributes,
        },
        force_aliases: false,
    }
}

async fn users_round_trip_and_conflicts(store: SqlStore, _: &Path) {
    let pool = new_pool(&store).await;
    let a = user(
        &pool,
        "ann",
        &[("email", "x@example.com"), ("email_verified", "true")],
    );
    assert_eq!(
        store.insert_user(&a).await.unwrap(),
        UserWriteOutcome::Written
    );
    let got = store.get_user_by_key(&pool, "ann").await.unwrap().unwrap();
    assert_eq!(got, a.user);
    assert_eq!(
        store.insert_user(&user(&pool, "ann", &[])).await.unwrap(),
        UserWriteOutcome::UsernameExists
    );
    let b = user(
        &pool,
        "ben",
        &[("email", "x@example.com"), ("email_verified", "true")],
    );
    assert_eq!(
        store.insert_user(&b).await.unwrap(),
        UserWriteOutcome::AliasExists("email".into())
    );
    assert!(store.get_user_by_key(&pool, "ben").await.unwrap().is_none());
    let forced = UserWrite {
        force_aliases: true,
        ..b.clone()
    };
    assert_eq!(
        store.insert_user(&forced).await.unwrap(),
        UserWriteOutcome::Written
    );
    let holder = store
        .get_user_by_alias(&pool, "x@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(holder.username, "ben");
    let old = store.get_user_by_key(&pool, "ann").await.unwrap().unwrap();
    assert!(old
        .attributes
        .contains(&("email_verified".to_string(), "false".to_string())));
    assert_eq!(old.version, 2);

    // Stale versions lose; current ones win.
    let mut stale = a.clone();
    stale.user.version = 2; // expects stored version 1, but it is 2 now
    assert_eq!(
        store.update_user(&stale).await.unwrap(),
        UserWriteOutcome::VersionConflict
    );
    let mut fresh = UserWrite {
        user: old.clone(),
        search: vec![],
        aliases: vec![],
        force_aliases: false,
    };
    fresh.user.version = 3;
    fresh.user.enabled = false;
    assert_eq!(
        store.update_user(&fresh).await.unwrap(),
        UserWriteOutcome::Written
    );
    assert!(
        !store
            .get_user_by_key(&pool, "ann")
            .await
            .unwrap()
            .unwrap()
            .enabled
    );

    assert!(store.delete_user(&pool, &holder.id).await.unwrap());
    assert!(!store.delete_user(&pool, &holder.id).await.unwrap());
    assert!(store
        .get_user_by_alias(&pool, "x@example.com")
        .await
        .unwrap()
        .is_none());
    let c = user(
        &pool,
        "cat",
        &[("email", "x@example.com"), ("email_verified", "true")],
    );
    assert_eq!(
        store.insert_user(&c).await.unwrap(),
        UserWriteOutcome::Written
    );

    assert_eq!(
        store
            .insert_user(&user("us-east-1_missing00", "x", &[]))
            .await
            .unwrap(),
        UserWriteOutcome::NotFound
    );
    assert_eq!(
        store
            .get_user_pool(&pool)
            .await
            .unwrap()
            .unwrap()
            .estimated_users,
        2
    );
}

async fn collect(store: &SqlStore, pool: &str, q: &UserQuery, limit: u32) -> Vec<String> {
    let mut out = Vec::new();
    let mut after: Option<UserCursor> = None;
    loop {
        let page = store
            .list_users(pool, q, after.as_ref(), limit)
            .await
            .unwrap();
        assert!(page.users.len() <= limit as usize);
        out.extend(page.users.iter().map(|u| u.username.clone()));
        match page.next {
            Some(c) => after = Some(c),
            None => return out,
        }
    }
}

async fn lists_page_by_keyset(store: SqlStore, _: &Path) {
    let pool = new_pool(&store).await;
    for i in 0..25 {
        let name = format!("user{i:02}");
        // Two users share each email, so attribute pages must break ties by id.
        let email = format!("m{}@example.com", i / 2);
        store
            .insert_user(&user(&pool, &name, &[("email", &email), ("name", "Zoë")]))
            .await
            .unwrap();
    }
    let all = collect(&store, &pool, &UserQuery::All, 4).await;
    let want: Vec<String> = (0..25).map(|i| format!("user{i:02}")).collect();
    assert_eq!(all, want);
    let mut by_email = collect(
        &store,
        &pool,
        &UserQuery::Attribute {
            name: "email".into(),
            value: "m1".into(),
            prefix: true,
        },
        3,
    )
    .await;
    by_email.sort();
    // m1@, m10@, m11@ .. m12@ -> users 2,3 and 20..25
    assert_eq!(
        by_email,
        ["user02", "user03", "user20", "user21", "user22", "user23", "user24"]
    );
    assert_eq!(
        collect(
            &store,
            &pool,
            &UserQuery::Attribute {
                name: "name".into(),
                value: "Zo".into(),
                prefix: true
            },
            7
        )
        .await
        .len(),
        25
    );
    assert_eq!(
        collect(
            &store,
            &pool,
            &UserQuery::Username {
                value: "user1".into(),
                prefix: true
            },
            3
        )
        .await
        .len(),
        10
    );
    assert_eq!(
        collect(
            &store,
            &pool,
            &UserQuery::Status(vec!["FORCE_CHANGE_PASSWORD".into()]),
            6
        )
        .await
        .len(),
        25
    );
    assert!(collect(&store, &pool, &UserQuery::Enabled(false), 6)
        .await
        .is_empty());
    assert!(collect(&store, &pool, &UserQuery::Nothing, 6)
        .await
        .is_empty());
}

/// With a pool of a few thousand users, every ListUsers query is an index search.
async fn list_filters_use_indexes(store: SqlStore, _: &Path) {
    let pool = new_pool(&store).await;
    for i in 0..2000 {
        let name = format!("bulk{i:05}");
        store
            .insert_user(&user(
                &pool,
                &name,
                &[("email", &format!("{name}@example.com"))],
            ))
            .await
            .unwrap();
    }
    store.vacuum_analyze().await.unwrap();
    let queries = [
        UserQuery::All,
        UserQuery::Username {
            value: "bulk001".into(),
            prefix: true,
        },
        UserQuery::Sub {
            value: "abc".into(),
            prefix: true,
        },
        UserQuery::Status(vec!["CONFIRMED".into()]),
        UserQuery::Enabled(true),
        UserQuery::Attribute {
            name: "email".into(),
            value: "bulk0019".into(),
            prefix: true,
        },
        UserQuery::Attribute {
            name: "email".into(),
            value: "bulk00019@example.com".into(),
            prefix: false,
        },
    ];
    for q in &queries {
        let plan = store.explain_list_users(&pool, q).await.unwrap();
        let text = plan.join("\n");
        eprintln!("{q:?}\n{text}");
        assert!(!plan.is_empty());
        for line in &plan {
            let l = line.trim_start_matches([' ', '-', '>']);
            assert!(
                !l.contains("Seq Scan") && !l.starts_with("SCAN "),
                "{q:?} scans a table:\n{text}"
            );
        }
    }
}

async fn concurrent_alias_claims_have_one_winner(store: SqlStore, _: &Path) {
    let pool = new_pool(&store).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let store = store.clone();
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let w = user(
                &pool,
                &format!("racer{i}"),
                &[("email", "same@example.com"), ("email_verified", "true")],
            );
            store.insert_user(&w).await.unwrap()
        }));
    }
    let mut written = 0;
    for t in tasks {
        match t.await.unwrap() {
            UserWriteOutcome::Written => written += 1,
            UserWriteOutcome::AliasExists(kind) => assert_eq!(kind, "email"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(written, 1);
    assert!(store
        .get_user_by_alias(&pool, "same@example.com")
        .await
        .unwrap()
        .is_some());
}

async fn concurrent_user_updates_are_version_guarded(store: SqlStore, _: &Path) {
    let pool = new_pool(&store).await;
    let w = user(&pool, "target", &[]);
    store.insert_user(&w).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let store = store.clone();
        let mut next = w.clone();
        tasks.push(tokio::spawn(async move {
            next.user.version = 2;
            next.user
                .attributes
                .push(("name".into(), format!("writer{i}")));
            store.update_user(&next).await.unwrap()
        }));
    }
    let mut written = 0;
    for t in tasks {
        match t.await.unwrap() {
            UserWriteOutcome::Written => written += 1,
            UserWriteOutcome::VersionConflict => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(written, 1, "one writer of version 2");
    let stored = store
        .get_user_by_key(&pool, "target")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.attributes.len(), 2);
}

/// A value waiting for verification (AttributesRequireVerificationBeforeUpdate) is stored with the
/// user, read back by lookups (cached or not), cleared by a write without it, and never loaded by
/// lists; it claims no alias and feeds no search row.
async fn pending_attribute_values_are_kept_and_hidden_from_lists(store: SqlStore, _: &Path) {
    let pool = new_pool(&store).await;
    let mut w = user(
        &pool,
        "pia",
        &[("email", "old@example.com"), ("email_verified", "true")],
    );
    w.user.pending_attributes = vec![("email".into(), "new@example.com".into())];
    assert_eq!(
        store.insert_user(&w).await.unwrap(),
        UserWriteOutcome::Written
    );
    for _ in 0..2 {
        let got = store.get_user_by_key(&pool, "pia").await.unwrap().unwrap();
        assert_eq!(got.pending_attributes, w.user.pending_attributes);
    }
    let by_alias = store
        .get_user_by_alias(&pool, "old@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_alias.pending_attributes, w.user.pending_attributes);
    assert!(store
        .get_user_by_alias(&pool, "new@example.com")
        .await
        .unwrap()
        .is_none());
    let listed = store
        .list_users(&pool, &UserQuery::All, None, 10)
        .await
        .unwrap();
    assert_eq!(listed.users.len(), 1);
    assert!(
        listed.users[0].pending_attributes.is_empty(),
        "lists never load it"
    );
    let mut next = w.clone();
    next.user.version += 1;
    next.user.pending_attributes.clear();
    assert_eq!(
        store.update_user(&next).await.unwrap(),
        UserWriteOutcome::Written
    );
    let got = store.get_user_by_key(&pool, "pia").await.unwrap().unwrap();
    assert!(got.pending_attributes.is_empty());
}
