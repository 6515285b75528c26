//! `SqlStore` as a `domain::ports::OutboxStore`, on SQLite and (when `GATEHOUSE_TEST_DATABASE_URL`
//! names a database) Postgres: leases never hand one message to two senders, an expired lease is
//! leased again, failures reschedule, delivered rows are pruned, messages are sealed at rest.
//! Every check uses an account of its own, so checks sharing a Postgres database see only their rows.

#[macro_use]
mod support;

use std::collections::{BTreeMap, BTreeSet};

use domain::ports::{
    DeliveryChannel, DirectoryStore, OutboundMessage, OutboxStore, UserPoolStore, UserRecord,
    UserWrite, UserWriteOutcome,
};
use domain::user_pool::{default_settings, PoolSettings, UserPoolRecord};
use sqlx::any::AnyPoolOptions;
use sqlx::Row;
use storage::SqlStore;

const NOW_MS: i64 = 1_700_000_000_000;
const LEASE_MS: i64 = 30_000;

suite_with_url!(
    concurrent_leasers_never_share_a_message,
    an_expired_lease_is_leased_again,
    a_failure_reschedules_and_counts_the_attempt,
    delivered_messages_are_not_leased_and_are_pruned,
    messages_of_other_accounts_are_not_leased,
    messages_are_sealed_at_rest,
    an_invitation_is_queued_with_its_user_or_not_at_all,
    a_dead_message_is_never_leased_again_and_is_pruned,
);

fn random_account() -> String {
    format!("{:012}", uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000)
}

async fn new_pool(store: &SqlStore, account_id: &str) -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    let id = format!("us-east-1_{}", &u[..9]);
    let record = UserPoolRecord {
        id: id.clone(),
        region: "us-east-1".into(),
        account_id: account_id.into(),
        name: "outbox".into(),
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

fn message(pool_id: &str, n: usize) -> OutboundMessage {
    OutboundMessage {
        pool_id: pool_id.into(),
        purpose: "invitation".into(),
        channel: DeliveryChannel::Email,
        username: format!("user{n}"),
        destination: format!("user{n}@example.com"),
        subject: Some("Your temporary password".into()),
        body: format!("secret-body-{n}"),
        from: None,
        reply_to: None,
    }
}

async fn queue(store: &SqlStore, n: usize) -> (String, String) {
    let account = random_account();
    let pool = new_pool(store, &account).await;
    let messages: Vec<_> = (0..n).map(|i| message(&pool, i)).collect();
    store.enqueue_messages(&messages, NOW_MS).await.unwrap();
    (account, pool)
}

async fn concurrent_leasers_never_share_a_message(store: SqlStore, _url: String) {
    let (account, _pool) = queue(&store, 40).await;
    // Four senders lease small batches at once until nothing is left.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        let account = account.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = store
                    .lease_messages(&account, NOW_MS, LEASE_MS, 3)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                got.extend(batch.into_iter().map(|m| m.message.username));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), 40, "every message leased exactly once: {all:?}");
    assert_eq!(distinct.len(), 40);
    // Nothing is due while the leases hold.
    assert!(store
        .lease_messages(&account, NOW_MS + LEASE_MS - 1, LEASE_MS, 100)
        .await
        .unwrap()
        .is_empty());
}

async fn an_expired_lease_is_leased_again(store: SqlStore, _url: String) {
    let (account, _pool) = queue(&store, 1).await;
    let first = store
        .lease_messages(&account, NOW_MS, LEASE_MS, 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].message, message(&first[0].message.pool_id, 0));
    assert_eq!(first[0].attempts, 0);
    assert_eq!(first[0].created_ms, NOW_MS);
    // The sender "crashed": once the lease runs out, another sender gets the message.
    let again = store
        .lease_messages(&account, NOW_MS + LEASE_MS, LEASE_MS, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[0].id);
}

async fn a_failure_reschedules_and_counts_the_attempt(store: SqlStore, url: String) {
    let (account, _pool) = queue(&store, 1).await;
    let m = store
        .lease_messages(&account, NOW_MS, LEASE_MS, 10)
        .await
        .unwrap()
        .remove(0);
    store
        .message_failed(&m.id, NOW_MS + 2_000, "451 try later")
        .await
        .unwrap();
    assert!(store
        .lease_messages(&account, NOW_MS + 1_999, LEASE_MS, 10)
        .await
        .unwrap()
        .is_empty());
    let depth = store.outbox_depth(&account).await.unwrap();
    assert_eq!((depth.pending, depth.retrying), (1, 1));
    let retry = store
        .lease_messages(&account, NOW_MS + 2_000, LEASE_MS, 10)
        .await
        .unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].attempts, 1);
    let row = raw_row(&url, &m.id).await;
    assert_eq!(row.1.as_deref(), Some("451 try later"));
}

async fn delivered_messages_are_not_leased_and_are_pruned(store: SqlStore, url: String) {
    let (account, _pool) = queue(&store, 2).await;
    let leased = store
        .lease_messages(&account, NOW_MS, LEASE_MS, 10)
        .await
        .unwrap();
    assert_eq!(leased.len(), 2);
    store
        .message_delivered(&leased[0].id, NOW_MS + 10)
        .await
        .unwrap();
    // A late failure report (a lease that ran out) cannot undo a delivery.
    store
        .message_failed(&leased[0].id, NOW_MS + 20, "late")
        .await
        .unwrap();
    let later = store
        .lease_messages(&account, NOW_MS + 10 * LEASE_MS, LEASE_MS, 10)
        .await
        .unwrap();
    assert_eq!(
        later.iter().map(|m| &m.id).collect::<Vec<_>>(),
        vec![&leased[1].id]
    );
    assert_eq!(store.outbox_depth(&account).await.unwrap().pending, 1);
    store.prune_outbox(NOW_MS + 11).await.unwrap();
    assert!(raw_exists(&url, &leased[0].id).await.is_none(), "pruned");
    assert!(
        raw_exists(&url, &leased[1].id).await.is_some(),
        "undelivered rows stay"
    );
}

async fn messages_of_other_accounts_are_not_leased(store: SqlStore, _url: String) {
    let (_account, _pool) = queue(&store, 3).await;
    let other = random_account();
    new_pool(&store, &other).await;
    assert!(store
        .lease_messages(&other, NOW_MS, LEASE_MS, 100)
        .await
        .unwrap()
        .is_empty());
}

async fn messages_are_sealed_at_rest(store: SqlStore, url: String) {
    let (account, _pool) = queue(&store, 1).await;
    let m = store
        .lease_messages(&account, NOW_MS, LEASE_MS, 10)
        .await
        .unwrap()
        .remove(0);
    let stored = raw_exists(&url, &m.id).await.expect("row");
    assert!(!stored.contains("secret-body-0"), "{stored}");
    assert!(!stored.contains("user0@example.com"), "{stored}");
}

async fn raw_pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap()
}

/// The stored (sealed) message column, read past the store.
async fn raw_exists(url: &str, id: &str) -> Option<String> {
    let pool = raw_pool(url).await;
    let row = sqlx::query("SELECT message FROM message_outbox WHERE id = $1")
        .bind(id)
        .fetch_optional(&pool)
        .await
        .unwrap();
    row.map(|r| r.get::<String, _>("message"))
}

async fn raw_row(url: &str, id: &str) -> (i64, Option<String>) {
    let pool = raw_pool(url).await;
    let row = sqlx::query("SELECT attempts, last_error FROM message_outbox WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    (row.get("attempts"), row.get("last_error"))
}

fn new_user(pool_id: &str, name: &str) -> UserWrite {
    let id = uuid::Uuid::new_v4().to_string();
    UserWrite {
        search: vec![],
        aliases: vec![],
        user: UserRecord {
            pool_id: pool_id.into(),
            id: id.clone(),
            username: name.into(),
            username_key: name.into(),
            status: "FORCE_CHANGE_PASSWORD".into(),
            enabled: true,
            created_ms: NOW_MS,
            modified_ms: NOW_MS,
            version: 1,
            password: None,
            attributes: vec![("sub".into(), id)],
            pending_attributes: vec![],
        },
        force_aliases: false,
    }
}

/// AdminCreateUser's invitation goes into the outbox in the transaction that inserts the user; a
/// user that is not written (its username is taken) leaves no message behind.
async fn an_invitation_is_queued_with_its_user_or_not_at_all(store: SqlStore, _url: String) {
    let account = random_account();
    let pool = new_pool(&store, &account).await;
    assert_eq!(
        store
            .insert_user_and_queue(&new_user(&pool, "ann"), &[message(&pool, 1)], NOW_MS)
            .await
            .unwrap(),
        UserWriteOutcome::Written
    );
    assert_eq!(
        store
            .insert_user_and_queue(&new_user(&pool, "ann"), &[message(&pool, 2)], NOW_MS)
            .await
            .unwrap(),
        UserWriteOutcome::UsernameExists
    );
    let leased = store
        .lease_messages(&account, NOW_MS, LEASE_MS, 10)
        .await
        .unwrap();
    let names: Vec<_> = leased.iter().map(|m| m.message.username.as_str()).collect();
    assert_eq!(names, vec!["user1"], "only the written user's invitation");
    let ann = store.get_user_by_key(&pool, "ann").await.unwrap().unwrap();

    // The same for an update (RESEND): a write that loses its version race queues nothing.
    let mut stale = new_user(&pool, "ann");
    stale.user = UserRecord {
        version: ann.version + 5,
        ..ann.clone()
    };
    assert_eq!(
        store
            .update_user_and_queue(&stale, &[message(&pool, 3)], NOW_MS)
            .await
            .unwrap(),
        UserWriteOutcome::VersionConflict
    );
    let mut next = new_user(&pool, "ann");
    next.user = UserRecord {
        version: ann.version + 1,
        ..ann
    };
    assert_eq!(
        store
            .update_user_and_queue(&next, &[message(&pool, 4)], NOW_MS)
            .await
            .unwrap(),
        UserWriteOutcome::Written
    );
    let leased = store
        .lease_messages(&account, NOW_MS, LEASE_MS, 10)
        .await
        .unwrap();
    let names: Vec<_> = leased.iter().map(|m| m.message.username.as_str()).collect();
    assert_eq!(names, vec!["user4"], "only the written update's message");
}

/// A message given up (a permanent failure) is not leased again, leaves the pending count for the
/// dead count, keeps its error, and is pruned like delivered rows.
async fn a_dead_message_is_never_leased_again_and_is_pruned(store: SqlStore, url: String) {
    let (account, _pool) = queue(&store, 2).await;
    let leased = store
        .lease_messages(&account, NOW_MS, LEASE_MS, 10)
        .await
        .unwrap();
    assert_eq!(leased.len(), 2);
    store
        .message_dead(&leased[0].id, NOW_MS + 5, "SMTP: permanent error (550)")
        .await
        .unwrap();
    store
        .message_failed(&leased[1].id, NOW_MS + 10, "SMTP: connection refused")
        .await
        .unwrap();
    let later = store
        .lease_messages(&account, NOW_MS + 10 * LEASE_MS, LEASE_MS, 10)
        .await
        .unwrap();
    assert_eq!(
        later.iter().map(|m| &m.id).collect::<Vec<_>>(),
        vec![&leased[1].id],
        "the dead message is not leased, the failed one is"
    );
    let depth = store.outbox_depth(&account).await.unwrap();
    assert_eq!((depth.pending, depth.retrying, depth.dead), (1, 1, 1));
    let row = raw_row(&url, &leased[0].id).await;
    assert_eq!(row.1.as_deref(), Some("SMTP: permanent error (550)"));
    store.prune_outbox(NOW_MS + 6).await.unwrap();
    assert!(raw_exists(&url, &leased[0].id).await.is_none(), "pruned");
    assert!(raw_exists(&url, &leased[1].id).await.is_some());
}
