//! The per-node user cache and the bulk import, through `SqlStore`, on SQLite and (with
//! `GATEHOUSE_TEST_DATABASE_URL`) Postgres: cached lookups follow every write at once on the node
//! that wrote, and on Postgres on other nodes through NOTIFY; bulk-imported users are stored
//! exactly as `insert_user` stores them.

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use domain::ports::{
    DirectoryStore, PasswordState, UserCursor, UserPoolStore, UserQuery, UserRecord, UserWrite,
    UserWriteOutcome,
};
use domain::user_pool::{default_settings, PoolSettings, UserPoolRecord};
use storage::{BulkOutcome, SqlStore};

suite_with_dir!(
    cached_lookups_follow_every_write,
    a_moved_alias_is_not_served_from_the_cache,
    bulk_import_stores_users_like_insert_user,
    a_bulk_batch_with_a_taken_username_writes_nothing,
    attribute_pages_start_at_their_own_bound,
    concurrent_lookups_each_get_their_own_user,
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
        name: "cache".into(),
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

/// A user with a verified email alias.
fn user(pool: &str, name: &str, email: &str) -> UserWrite {
    let id = uuid::Uuid::new_v4().to_string();
    let attributes = vec![
        ("sub".to_string(), id.clone()),
        ("email".to_string(), email.to_string()),
        ("email_verified".to_string(), "true".to_string()),
    ];
    UserWrite {
        search: vec![("email".to_string(), email.to_string())],
        aliases: vec![("email".to_string(), email.to_string())],
        user: UserRecord {
            pending_attributes: vec![],
            pool_id: pool.to_string(),
            id,
            username: name.to_string(),
            username_key: name.to_string(),
            status: "CONFIRMED".into(),
            enabled: true,
            created_ms: 10,
            modified_ms: 10,
            version: 1,
            password: Some(PasswordState {
                hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                set_ms: 10,
                srp: None,
                history: vec![],
            }),
            attributes,
        },
        force_aliases: false,
    }
}

fn email_of(u: &UserRecord) -> &str {
    u.attributes
        .iter()
        .find(|(n, _)| n == "email")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

/// The next version of `w` with another email (and alias).
fn with_email(w: &UserWrite, email: &str) -> UserWrite {
    let mut next = w.clone();
    next.user.version += 1;
    for (n, v) in next.user.attributes.iter_mut() {
        if n == "email" {
            *v = email.to_string();
        }
    }
    next.search = vec![("email".into(), email.into())];
    next.aliases = vec![("email".into(), email.into())];
    next
}

async fn cached_lookups_follow_every_write(store: SqlStore, _: &Path) {
    let pool = new_pool(&store).await;
    let ann = user(&pool, "ann", "ann@example.com");
    assert_eq!(
        store.insert_user(&ann).await.unwrap(),
        UserWriteOutcome::Written
    );
    // Read twice: the second answer comes from the cache and is the same user.
    let first = store.get_user_by_key(&pool, "ann").await.unwrap().unwrap();
    let again = store.get_user_by_key(&pool, "ann").await.unwrap().unwrap();
    assert_eq!(first, again);
    assert_eq!(first.password, ann.user.password);
    assert!(!store.user_cache().is_empty(), "the read was cached");
    let by_alias = store
        .get_user_by_alias(&pool, "ann@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_alias.id, ann.user.id);

    // An update is seen at once, by username and by the new alias; the old alias finds nobody.
    let ann2 = with_email(&ann, "ann2@example.com");
    assert_eq!(
        store.update_user(&ann2).await.unwrap(),
        UserWriteOutcome::Written
    );
    let got = store.get_user_by_key(&pool, "ann").await.unwrap().unwrap();
    assert_eq!(email_of(&got), "ann2@example.com");
    assert_eq!(got.version, 2);
    assert!(store
        .get_user_by_alias(&pool, "ann@example.com")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .get_user_by_alias(&pool, "ann2@example.com")
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );

    // A deletion is seen at once.
    assert!(store.delete_user(&pool, &ann.user.id).await.unwrap());
    assert!(store.get_user_by_key(&pool, "ann").await.unwrap().is_none());
    assert!(store
        .get_user_by_alias(&pool, "ann2@example.com")
        .await
        .unwrap()
        .is_none());
    // A new user with the same username is not confused with the deleted one.
    let ann_again = user(&pool, "ann", "other@example.com");
    store.insert_user(&ann_again).await.unwrap();
    assert_eq!(
        store
            .get_user_by_key(&pool, "ann")
            .await
            .unwrap()
            .unwrap()
            .id,
        ann_again.user.id
    );
}

async fn a_moved_alias_is_not_served_from_the_cache(store: SqlStore, _: &Path) {
    let pool = new_pool(&store).await;
    let ann = user(&pool, "ann", "shared@example.com");
    store.insert_user(&ann).await.unwrap();
    // Cached: ann by username and by the alias.
    for _ in 0..2 {
        assert_eq!(
            store
                .get_user_by_alias(&pool, "shared@example.com")
                .await
                .unwrap()
                .unwrap()
                .id,
            ann.user.id
        );
        store.get_user_by_key(&pool, "ann").await.unwrap().unwrap();
    }
    // Ben takes the alias over (ForceAliasCreation): ann loses it and her email_verified flag.
    let mut ben = user(&pool, "ben", "shared@example.com");
    ben.force_aliases = true;
    assert_eq!(
        store.insert_user(&ben).await.unwrap(),
        UserWriteOutcome::Written
    );
    assert_eq!(
        store
            .get_user_by_alias(&pool, "shared@example.com")
            .await
            .unwrap()
            .unwrap()
            .id,
        ben.user.id
    );
    let ann_now = store.get_user_by_key(&pool, "ann").await.unwrap().unwrap();
    assert!(ann_now
        .attributes
        .contains(&("email_verified".to_string(), "false".to_string())));
}

async fn bulk_import_stores_users_like_insert_user(store: SqlStore, _: &Path) {
    let pool = new_pool(&store).await;
    let one = user(&pool, "one", "one@example.com");
    store.insert_user(&one).await.unwrap();
    // More than one statement's worth of rows, to cross the bind limit.
    let many: Vec<UserWrite> = (0..3000)
        .map(|i| {
            user(
                &pool,
                &format!("bulk{i:05}"),
                &format!("bulk{i:05}@example.com"),
            )
        })
        .collect();
    assert_eq!(
        store.bulk_insert_users(&many).await.unwrap(),
        BulkOutcome::Written(3000)
    );
    // Read back exactly as written, by username and by alias, password state included.
    for w in [&many[0], &many[1234], &many[2999]] {
        let got = store
            .get_user_by_key(&pool, &w.user.username_key)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, w.user);
        let by_alias = store
            .get_user_by_alias(&pool, email_of(&w.user))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_alias, w.user);
    }
    // Search rows: an email prefix filter finds them; the count includes them.
    let page = store
        .list_users(
            &pool,
            &UserQuery::Attribute {
                name: "email".into(),
                value: "bulk0123".into(),
                prefix: true,
            },
            None,
            60,
        )
        .await
        .unwrap();
    assert_eq!(page.users.len(), 10);
    assert_eq!(page.users[0].username, "bulk01230");
    // Each is listed from its search row's copies, which hold what was written.
    for (listed, w) in page.users.iter().zip(&many[1230..1240]) {
        let shown = UserRecord {
            password: None,
            pending_attributes: Vec::new(),
            ..w.user.clone()
        };
        assert_eq!(*listed, shown);
    }
    assert!(
        page.users.iter().all(|u| u.password.is_none()),
        "lists never carry (or unseal) password state"
    );
    let view = store.get_user_pool(&pool).await.unwrap().unwrap();
    assert_eq!(view.estimated_users, 3001);
    // The alias claims are real: inserting another holder of a bulk user's alias is refused.
    let clash = user(&pool, "clash", "bulk00007@example.com");
    assert_eq!(
        store.insert_user(&clash).await.unwrap(),
        UserWriteOutcome::AliasExists("email".into())
    );
    // An unknown pool writes nothing.
    let stray = vec![user("us-east-1_missing0", "x", "x@example.com")];
    assert_eq!(
        store.bulk_insert_users(&stray).await.unwrap(),
        BulkOutcome::PoolNotFound
    );
}

async fn a_bulk_batch_with_a_taken_username_writes_nothing(store: SqlStore, _: &Path) {
    let pool = new_pool(&store).await;
    store
        .insert_user(&user(&pool, "taken", "t@example.com"))
        .await
        .unwrap();
    let batch = vec![
        user(&pool, "fresh", "fresh@example.com"),
        user(&pool, "taken", "t2@example.com"),
    ];
    assert!(store.bulk_insert_users(&batch).await.is_err());
    assert!(store
        .get_user_by_key(&pool, "fresh")
        .await
        .unwrap()
        .is_none());
    let view = store.get_user_pool(&pool).await.unwrap().unwrap();
    assert_eq!(view.estimated_users, 1);
}

fn email_query(value: &str, prefix: bool) -> UserQuery {
    UserQuery::Attribute {
        name: "email".into(),
        value: value.into(),
        prefix,
    }
}

async fn emails(
    store: &SqlStore,
    pool: &str,
    q: &UserQuery,
    after: Option<&UserCursor>,
) -> Vec<String> {
    store
        .list_users(pool, q, after, 60)
        .await
        .unwrap()
        .users
        .iter()
        .map(|u| email_of(u).to_string())
        .collect()
}

/// A page of an attribute filter reads a few index pages wherever it starts: a first page does
/// not scan the attribute's index from its beginning up to the prefix, and a cursor page starts
/// at the cursor. (Postgres, given both `value >= prefix` and an empty row-comparison cursor, used
/// to start at the cursor: a first page near the end of 20,000 emails read some two hundred pages.)
async fn attribute_pages_start_at_their_own_bound(store: SqlStore, _: &Path) {
    let pool = new_pool(&store).await;
    let all: Vec<UserWrite> = (0..20_000)
        .map(|i| {
            user(
                &pool,
                &format!("bulk{i:05}"),
                &format!("bulk{i:05}@example.com"),
            )
        })
        .collect();
    for chunk in all.chunks(5000) {
        store.bulk_insert_users(chunk).await.unwrap();
    }
    store.vacuum_analyze().await.unwrap();
    let tail: Vec<String> = (19_990..20_000)
        .map(|i| format!("bulk{i:05}@example.com"))
        .collect();
    let prefix_near_end = email_query("bulk1999", true);
    assert_eq!(emails(&store, &pool, &prefix_near_end, None).await, tail);
    // Resumed inside the range, before the range, and past it.
    let deep = UserCursor {
        v: "bulk19989@example.com".into(),
        id: all[19_989].user.id.clone(),
    };
    let whole = email_query("bulk", true);
    assert_eq!(emails(&store, &pool, &whole, Some(&deep)).await, tail);
    let before = UserCursor {
        v: "a".into(),
        id: String::new(),
    };
    assert_eq!(
        emails(&store, &pool, &prefix_near_end, Some(&before)).await,
        tail
    );
    let past = UserCursor {
        v: "bulk4".into(),
        id: String::new(),
    };
    assert!(emails(&store, &pool, &prefix_near_end, Some(&past))
        .await
        .is_empty());
    // An exact value resumes after the cursor's user id within the value.
    let exact = email_query("bulk00007@example.com", false);
    let holder = all[7].user.id.clone();
    assert_eq!(emails(&store, &pool, &exact, None).await.len(), 1);
    let at = UserCursor {
        v: "bulk00007@example.com".into(),
        id: holder.clone(),
    };
    assert!(emails(&store, &pool, &exact, Some(&at)).await.is_empty());
    let before_holder = UserCursor {
        v: "bulk00007@example.com".into(),
        id: String::new(),
    };
    assert_eq!(
        emails(&store, &pool, &exact, Some(&before_holder))
            .await
            .len(),
        1
    );
    assert!(emails(&store, &pool, &exact, Some(&past)).await.is_empty());

    // On Postgres, count the pages each page touches: about one index descent per row returned.
    for (q, after) in [
        (&prefix_near_end, None),
        (&whole, Some(&deep)),
        (&prefix_near_end, Some(&before)),
    ] {
        if let Some(buffers) = store.list_users_buffers(&pool, q, after).await.unwrap() {
            assert!(
                buffers < 100,
                "{q:?} after {after:?} touched {buffers} buffers for 10 users"
            );
        }
    }
}

/// Two nodes on one Postgres: node B's cached user follows node A's writes through NOTIFY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_nodes_cache_follows_writes() {
    let Some(url) = support::postgres_url() else {
        return;
    };
    // Both nodes hold the same key-encryption key, as every node of a deployment must.
    let kek = storage::Kek::from_base64("dXNlciBjYWNoZSB0ZXN0IGtleSB1c2VyIGNhY2hlIHQ=").unwrap();
    let a = support::store(&url)
        .await
        .with_sealer(storage::Sealer::new(&kek, &[]));
    let b = support::store(&url)
        .await
        .with_sealer(storage::Sealer::new(&kek, &[]));
    b.spawn_invalidation_listener();
    // Give the listener time to subscribe (it clears B's cache when it does).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pool = new_pool(&a).await;
    let ann = user(&pool, "ann", "ann@example.com");
    a.insert_user(&ann).await.unwrap();
    let seen = b.get_user_by_key(&pool, "ann").await.unwrap().unwrap();
    assert_eq!(email_of(&seen), "ann@example.com");
    let mut current = ann.clone();
    for round in 0..5 {
        let email = format!("ann{round}@example.com");
        current = with_email(&current, &email);
        assert_eq!(
            a.update_user(&current).await.unwrap(),
            UserWriteOutcome::Written
        );
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let got = b.get_user_by_key(&pool, "ann").await.unwrap().unwrap();
            if email_of(&got) == email {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node B still serves {} after 2 s",
                email_of(&got)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    a.delete_user(&pool, &ann.user.id).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while b.get_user_by_key(&pool, "ann").await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "node B still serves a deleted user"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Lookups by username that run at once (on Postgres they share round trips) each get their own
/// user: the same username in two pools stays apart, a missing one finds nobody, and lookups whose
/// callers give up halfway do not take the others' answers with them.
async fn concurrent_lookups_each_get_their_own_user(store: SqlStore, _: &Path) {
    let store = store.with_user_cache_capacity(0);
    let (a, b) = (new_pool(&store).await, new_pool(&store).await);
    let mut expected = Vec::new();
    for i in 0..40 {
        let name = format!("u{i}");
        let ua = user(&a, &name, &format!("{name}@a.example"));
        store.insert_user(&ua).await.unwrap();
        expected.push((a.clone(), name.clone(), Some(ua.user.id)));
        if i % 2 == 0 {
            let ub = user(&b, &name, &format!("{name}@b.example"));
            store.insert_user(&ub).await.unwrap();
            expected.push((b.clone(), name, Some(ub.user.id)));
        } else {
            expected.push((b.clone(), name, None));
        }
    }
    for round in 0..5 {
        let mut tasks = Vec::new();
        for (pool, name, id) in expected.iter().cloned() {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let got = store.get_user_by_key(&pool, &name).await.unwrap();
                assert_eq!(got.as_ref().map(|u| &u.id), id.as_ref(), "{pool} {name}");
                if let Some(u) = got {
                    assert_eq!((u.pool_id.as_str(), u.username.as_str()), (&*pool, &*name));
                }
            }));
        }
        // Every third caller gives up at once; its lookup may already be in someone's batch.
        for (i, t) in tasks.iter().enumerate() {
            if (i + round) % 3 == 0 {
                t.abort();
            }
        }
        for t in tasks {
            match t.await {
                Ok(()) => {}
                Err(e) if e.is_cancelled() => {}
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
    }
}
