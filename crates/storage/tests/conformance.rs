//! Conformance suite for `storage::SqlStore` as a `domain::ports::UserPoolStore`.
//!
//! Every check is an `async fn check(store: SqlStore)` that receives a connected, not yet migrated
//! store. `conformance_suite!` runs each one on a fresh SQLite file and, when
//! `GATEHOUSE_TEST_DATABASE_URL` names a Postgres database, on Postgres as well. The Postgres tests
//! share one database, so every record gets a random pool id and every check a random account id,
//! and no check looks at rows it did not create.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use cognito_model::shapes::{SoftwareTokenMfaConfigType, UserPoolMfaType};
use domain::ports::{
    StoreError, TagOutcome, UserPoolPage, UserPoolStore, UserPoolView, WriteOutcome,
};
use domain::user_pool::{default_settings, MfaSettings, PoolSettings, UserPoolRecord, MAX_TAGS};
use storage::SqlStore;

const PG_URL_VAR: &str = "GATEHOUSE_TEST_DATABASE_URL";
const MAX_CONNECTIONS: u32 = 8;
const NOW_MS: i64 = 1_700_000_000_123;
const US_EAST_1: &str = "us-east-1";
const EU_WEST_1: &str = "eu-west-1";

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

macro_rules! conformance_suite {
    ($($check:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let store = super::sqlite_store(dir.path()).await;
                    super::$check(store).await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let Some(url) = super::postgres_url() else { return };
                    let store = super::connect(&url).await;
                    super::$check(store).await;
                }
            )+
        }
    };
}

conformance_suite!(
    ping_succeeds,
    migrate_is_idempotent_and_concurrent,
    insert_then_get_round_trips,
    concurrent_inserts_of_one_id_conflict,
    update_is_version_guarded,
    update_replaces_or_keeps_tags,
    delete_removes_pool_and_tags,
    list_pages_by_id_within_scope,
    list_is_complete_under_churn,
    tag_upserts_and_enforces_limit,
    untag_removes_only_named_keys,
    concurrent_tags_are_all_kept,
    concurrent_tag_batches_respect_limit,
    concurrent_updates_have_one_winner,
    cache_sees_own_writes,
);

/// The URL of the Postgres test database, or `None` (with a note) when the suite skips Postgres.
fn postgres_url() -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!("skipping Postgres conformance test: {PG_URL_VAR} is not set");
            None
        }
    }
}

async fn connect(url: &str) -> SqlStore {
    SqlStore::connect(url, MAX_CONNECTIONS)
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", storage::redact(url)))
}

async fn sqlite_store(dir: &Path) -> SqlStore {
    connect(&format!("sqlite://{}/t.db", dir.display())).await
}

async fn migrated(store: SqlStore) -> SqlStore {
    store.migrate().await.expect("migrate");
    store
}

/// `len` characters of `[0-9A-Za-z]` drawn from random UUIDs.
fn random_alnum(len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let uuid = uuid::Uuid::new_v4();
        // Bytes 6 and 8 carry the version and variant bits; the others are random.
        for (i, b) in uuid.as_bytes().iter().enumerate() {
            if i != 6 && i != 8 && out.len() < len {
                out.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
            }
        }
    }
    out
}

fn random_account_id() -> String {
    format!("{:012}", uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000)
}

fn new_pool_id(region: &str) -> String {
    format!("{region}_{}", random_alnum(9))
}

/// Settings that exercise the JSON round trip: the defaults, non-ASCII and escaped text, MFA.
fn sample_settings() -> PoolSettings {
    let mut pool = default_settings();
    pool.email_verification_subject = Some("Ihr Code — \"bitte\" \\ eingeben 🔐".to_string());
    pool.sms_authentication_message = Some("Code: {####}\nline two".to_string());
    PoolSettings {
        pool,
        mfa: MfaSettings {
            software_token: Some(SoftwareTokenMfaConfigType {
                enabled: Some(true),
            }),
            ..Default::default()
        },
    }
}

fn new_record(account_id: &str, region: &str) -> UserPoolRecord {
    let id = new_pool_id(region);
    UserPoolRecord {
        name: format!("conformance pool ü {id}"),
        id,
        region: region.to_string(),
        account_id: account_id.to_string(),
        created_ms: NOW_MS,
        modified_ms: NOW_MS,
        version: 1,
        settings: sample_settings(),
    }
}

/// `base` as the writer of its next version would send it: new name, time and settings.
fn next_version(base: &UserPoolRecord, label: &str) -> UserPoolRecord {
    let mut next = base.clone();
    next.version = base.version + 1;
    next.modified_ms = base.modified_ms + 1_000;
    next.name = format!("renamed {label}");
    next.settings.pool.email_verification_subject = Some(format!("subject {label}"));
    next.settings.pool.mfa_configuration = Some(UserPoolMfaType::Optional);
    next.settings.mfa.software_token = None;
    next
}

fn tags<const N: usize>(pairs: [(&str, &str); N]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn numbered_tags(prefix: &str, n: usize) -> BTreeMap<String, String> {
    (0..n)
        .map(|i| (format!("{prefix}{i:02}"), format!("value {i}")))
        .collect()
}

async fn insert(store: &SqlStore, record: &UserPoolRecord, tags: &BTreeMap<String, String>) {
    store
        .insert_user_pool(record, tags)
        .await
        .unwrap_or_else(|e| panic!("insert {}: {e}", record.id));
}

/// What the database holds for the pool: the node's cache is dropped first so it cannot answer.
async fn stored(store: &SqlStore, pool_id: &str) -> Option<UserPoolView> {
    store.cache().clear();
    store.get_user_pool(pool_id).await.expect("get_user_pool")
}

async fn stored_view(store: &SqlStore, pool_id: &str) -> UserPoolView {
    stored(store, pool_id)
        .await
        .unwrap_or_else(|| panic!("pool {pool_id} is missing"))
}

/// Polls `probe` every 20 ms until it holds or `within` has passed; true when it held.
async fn eventually<F, Fut>(within: Duration, mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if probe().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Pages through one (account, region) until `last_key` is `None`, checking each page's shape.
async fn list_pages(
    store: &SqlStore,
    account_id: &str,
    region: &str,
    limit: u32,
) -> Vec<UserPoolPage> {
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        assert!(pages.len() < 1_000, "paging does not terminate");
        let page = store
            .list_user_pools(account_id, region, after.as_deref(), limit)
            .await
            .expect("list_user_pools");
        assert!(
            page.pools.len() <= limit as usize,
            "page longer than the limit"
        );
        if let Some(key) = &page.last_key {
            assert_eq!(
                page.pools.last().map(|p| &p.id),
                Some(key),
                "last_key must be the id of the page's last pool"
            );
        }
        after = page.last_key.clone();
        pages.push(page);
        if after.is_none() {
            return pages;
        }
    }
}

fn ids_of(pages: &[UserPoolPage]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p.pools.iter().map(|r| r.id.clone()))
        .collect()
}

fn assert_strictly_increasing(ids: &[String]) {
    for pair in ids.windows(2) {
        assert!(
            pair[0] < pair[1],
            "ids out of order or repeated: {} then {}",
            pair[0],
            pair[1]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

async fn ping_succeeds(store: SqlStore) {
    let store = migrated(store).await;
    store.ping().await.expect("ping");
}

async fn migrate_is_idempotent_and_concurrent(store: SqlStore) {
    // Four "nodes" starting at once; on SQLite the file is brand new, so they race to create it.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(4));
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (store, start) = (store.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                store.migrate().await
            })
        })
        .collect();
    let mut failures = Vec::new();
    for task in tasks {
        if let Err(e) = task.await.expect("migrate task panicked") {
            failures.push(e.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "concurrent migrate failed: {failures:?}"
    );
    // And once more after the fact.
    store.migrate().await.expect("repeated migrate");

    let record = new_record(&random_account_id(), US_EAST_1);
    insert(&store, &record, &tags([("k", "v")])).await;
    assert_eq!(stored_view(&store, &record.id).await.record, record);
}

async fn insert_then_get_round_trips(store: SqlStore) {
    let store = migrated(store).await;
    let record = new_record(&random_account_id(), US_EAST_1);
    let original_tags = tags([("env", "test"), ("owner", "Zoë \"q\" \\ 🔐"), ("empty", "")]);
    insert(&store, &record, &original_tags).await;

    let view = stored_view(&store, &record.id).await;
    assert_eq!(view.record, record, "record round trip");
    assert_eq!(
        view.record.settings,
        sample_settings(),
        "settings JSON round trip"
    );
    assert_eq!(view.tags, original_tags, "tags round trip");

    let missing = new_pool_id(US_EAST_1);
    assert!(store.get_user_pool(&missing).await.expect("get").is_none());

    // The same id again, with other contents: rejected, and the original stays as it was.
    let mut duplicate = next_version(&record, "duplicate");
    duplicate.version = 1;
    match store
        .insert_user_pool(&duplicate, &tags([("intruder", "x")]))
        .await
    {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("duplicate insert: expected Conflict, got {other:?}"),
    }
    let view = stored_view(&store, &record.id).await;
    assert_eq!(view.record, record, "duplicate insert changed the record");
    assert_eq!(
        view.tags, original_tags,
        "duplicate insert changed the tags"
    );
}

async fn concurrent_inserts_of_one_id_conflict(store: SqlStore) {
    let store = migrated(store).await;
    let record = new_record(&random_account_id(), US_EAST_1);
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            let mut record = record.clone();
            record.name = format!("racer {i}");
            tokio::spawn(async move {
                let tags = tags([("racer", i.to_string().as_str())]);
                (
                    record.clone(),
                    tags.clone(),
                    store.insert_user_pool(&record, &tags).await,
                )
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (record, tags, result) = task.await.expect("insert task panicked");
        match result {
            Ok(()) => winners.push((record, tags)),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("concurrent insert: expected Ok or Conflict, got {e}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one concurrent insert of one id succeeds"
    );
    let (record, tags) = winners.remove(0);
    let view = stored_view(&store, &record.id).await;
    assert_eq!(view.record, record);
    assert_eq!(view.tags, tags);
}

async fn update_is_version_guarded(store: SqlStore) {
    let store = migrated(store).await;
    let v1 = new_record(&random_account_id(), US_EAST_1);
    let original_tags = tags([("a", "1")]);
    insert(&store, &v1, &original_tags).await;

    let v2 = next_version(&v1, "v2");
    assert_eq!(
        store.update_user_pool(&v2, None).await.expect("update"),
        WriteOutcome::Written
    );
    let view = stored_view(&store, &v1.id).await;
    assert_eq!(view.record, v2, "the update is stored");
    assert_eq!(view.record.version, 2);
    assert_eq!(view.tags, original_tags);

    // A writer that read version 1 and lost the race, even when it brings tags.
    let stale = next_version(&v1, "stale");
    let stale_tags = tags([("stale", "yes")]);
    assert_eq!(
        store
            .update_user_pool(&stale, Some(&stale_tags))
            .await
            .expect("stale update"),
        WriteOutcome::VersionConflict
    );
    // Neither the same version again nor a skipped one is accepted.
    assert_eq!(
        store
            .update_user_pool(&v2, None)
            .await
            .expect("repeated update"),
        WriteOutcome::VersionConflict
    );
    let mut skipped = next_version(&v2, "skipped");
    skipped.version += 1;
    assert_eq!(
        store
            .update_user_pool(&skipped, None)
            .await
            .expect("skipping update"),
        WriteOutcome::VersionConflict
    );
    let view = stored_view(&store, &v1.id).await;
    assert_eq!(view.record, v2, "a rejected update overwrote the record");
    assert_eq!(
        view.tags, original_tags,
        "a rejected update overwrote the tags"
    );

    let ghost = next_version(&new_record(&random_account_id(), US_EAST_1), "ghost");
    assert_eq!(
        store
            .update_user_pool(&ghost, Some(&tags([("g", "h")])))
            .await
            .expect("update missing"),
        WriteOutcome::NotFound
    );
    assert!(
        stored(&store, &ghost.id).await.is_none(),
        "updating a missing pool created it"
    );
}

async fn update_replaces_or_keeps_tags(store: SqlStore) {
    let store = migrated(store).await;
    let v1 = new_record(&random_account_id(), US_EAST_1);
    insert(&store, &v1, &tags([("a", "1"), ("b", "2")])).await;

    let v2 = next_version(&v1, "v2");
    let replacement = tags([("b", "20"), ("c", "3")]);
    assert_eq!(
        store
            .update_user_pool(&v2, Some(&replacement))
            .await
            .expect("update"),
        WriteOutcome::Written
    );
    assert_eq!(
        stored_view(&store, &v1.id).await.tags,
        replacement,
        "Some(tags) replaces the set"
    );

    let v3 = next_version(&v2, "v3");
    assert_eq!(
        store.update_user_pool(&v3, None).await.expect("update"),
        WriteOutcome::Written
    );
    let view = stored_view(&store, &v1.id).await;
    assert_eq!(view.record, v3);
    assert_eq!(view.tags, replacement, "None keeps the tags");

    let v4 = next_version(&v3, "v4");
    assert_eq!(
        store
            .update_user_pool(&v4, Some(&BTreeMap::new()))
            .await
            .expect("update"),
        WriteOutcome::Written
    );
    assert!(
        stored_view(&store, &v1.id).await.tags.is_empty(),
        "Some(empty) clears the tags"
    );
}

async fn delete_removes_pool_and_tags(store: SqlStore) {
    let store = migrated(store).await;
    let account = random_account_id();
    let record = new_record(&account, US_EAST_1);
    let sibling = new_record(&account, US_EAST_1);
    let sibling_tags = tags([("s", "1")]);
    insert(&store, &record, &tags([("a", "1"), ("b", "2")])).await;
    insert(&store, &sibling, &sibling_tags).await;
    // Cached before the delete: the delete must not leave it answerable.
    assert!(store
        .get_user_pool(&record.id)
        .await
        .expect("get")
        .is_some());

    assert!(store.delete_user_pool(&record.id).await.expect("delete"));
    assert!(
        store
            .get_user_pool(&record.id)
            .await
            .expect("get")
            .is_none(),
        "deleted pool still served"
    );
    assert!(
        stored(&store, &record.id).await.is_none(),
        "deleted pool still stored"
    );
    assert!(
        !store
            .delete_user_pool(&record.id)
            .await
            .expect("second delete"),
        "second delete"
    );
    assert!(!store
        .delete_user_pool(&new_pool_id(US_EAST_1))
        .await
        .expect("delete missing"));

    // Nothing else works on it any more.
    assert_eq!(
        store
            .update_user_pool(&next_version(&record, "late"), None)
            .await
            .expect("update"),
        WriteOutcome::NotFound
    );
    assert_eq!(
        store
            .tag_user_pool(&record.id, &tags([("late", "x")]), MAX_TAGS)
            .await
            .expect("tag"),
        TagOutcome::NotFound
    );
    assert!(!store
        .untag_user_pool(&record.id, &["a".to_string()])
        .await
        .expect("untag"));

    // The same id again starts clean: the old tags went with the pool.
    insert(&store, &record, &BTreeMap::new()).await;
    let view = stored_view(&store, &record.id).await;
    assert_eq!(view.record, record);
    assert!(
        view.tags.is_empty(),
        "re-inserted pool inherited tags: {:?}",
        view.tags
    );

    let view = stored_view(&store, &sibling.id).await;
    assert_eq!(view.record, sibling, "delete touched another pool");
    assert_eq!(
        view.tags, sibling_tags,
        "delete touched another pool's tags"
    );
}

async fn list_pages_by_id_within_scope(store: SqlStore) {
    let store = migrated(store).await;
    let account_a = random_account_id();
    let account_b = random_account_id();
    let mut expected = BTreeSet::new();
    let mut others = BTreeSet::new();
    for _ in 0..25 {
        let r = new_record(&account_a, US_EAST_1);
        insert(&store, &r, &BTreeMap::new()).await;
        expected.insert(r.id);
    }
    let mut a_eu = BTreeSet::new();
    for _ in 0..3 {
        let r = new_record(&account_a, EU_WEST_1);
        insert(&store, &r, &BTreeMap::new()).await;
        a_eu.insert(r.id.clone());
        others.insert(r.id);
    }
    let mut b_us = BTreeSet::new();
    for _ in 0..2 {
        let r = new_record(&account_b, US_EAST_1);
        insert(&store, &r, &BTreeMap::new()).await;
        b_us.insert(r.id.clone());
        others.insert(r.id);
    }

    let pages = list_pages(&store, &account_a, US_EAST_1, 7).await;
    let sizes: Vec<usize> = pages.iter().map(|p| p.pools.len()).collect();
    assert_eq!(sizes, [7, 7, 7, 4], "page sizes");
    for page in &pages {
        for pool in &page.pools {
            assert_eq!(
                (pool.account_id.as_str(), pool.region.as_str()),
                (account_a.as_str(), US_EAST_1)
            );
            assert!(
                !others.contains(&pool.id),
                "pool {} from another scope listed",
                pool.id
            );
        }
    }
    let ids = ids_of(&pages);
    assert_strictly_increasing(&ids);
    assert_eq!(
        ids,
        expected.iter().cloned().collect::<Vec<_>>(),
        "every pool exactly once, in id order"
    );

    // Listed records are whole records.
    let first = &pages[0].pools[0];
    assert_eq!(first, &stored_view(&store, &first.id).await.record);

    // Other page sizes see the same sequence.
    for limit in [1, 25, 100] {
        assert_eq!(
            ids_of(&list_pages(&store, &account_a, US_EAST_1, limit).await),
            ids,
            "limit {limit}"
        );
    }
    // The neighbouring scopes list exactly their own pools.
    let eu = ids_of(&list_pages(&store, &account_a, EU_WEST_1, 7).await);
    assert_eq!(eu, a_eu.iter().cloned().collect::<Vec<_>>());
    let b = ids_of(&list_pages(&store, &account_b, US_EAST_1, 7).await);
    assert_eq!(b, b_us.iter().cloned().collect::<Vec<_>>());
    let empty = store
        .list_user_pools(&random_account_id(), US_EAST_1, None, 7)
        .await
        .expect("list empty scope");
    assert!(empty.pools.is_empty() && empty.last_key.is_none());
}

async fn list_is_complete_under_churn(store: SqlStore) {
    let store = migrated(store).await;
    let account = random_account_id();
    let mut stable = BTreeSet::new();
    let mut volatile = Vec::new();
    for i in 0..30 {
        let r = new_record(&account, US_EAST_1);
        insert(&store, &r, &BTreeMap::new()).await;
        if i % 3 == 0 {
            volatile.push(r.id);
        } else {
            stable.insert(r.id);
        }
    }
    let mut known: BTreeSet<String> = stable.iter().chain(&volatile).cloned().collect();

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for round in 0.. {
        assert!(round < 1_000, "paging does not terminate");
        let page = store
            .list_user_pools(&account, US_EAST_1, after.as_deref(), 4)
            .await
            .expect("list_user_pools");
        seen.extend(page.pools.iter().map(|p| p.id.clone()));
        after = page.last_key;
        if after.is_none() {
            break;
        }
        // Between pages: two pools vanish (wherever they sit) and two new ones appear.
        for _ in 0..2 {
            if let Some(id) = volatile.pop() {
                assert!(store.delete_user_pool(&id).await.expect("delete"));
            }
            let r = new_record(&account, US_EAST_1);
            insert(&store, &r, &BTreeMap::new()).await;
            known.insert(r.id);
        }
    }

    assert_strictly_increasing(&seen);
    for id in &seen {
        assert!(
            known.contains(id),
            "listed an id that never existed in the scope: {id}"
        );
    }
    let seen: BTreeSet<String> = seen.into_iter().collect();
    let missing: Vec<_> = stable.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "pools present throughout were skipped: {missing:?}"
    );
}

async fn tag_upserts_and_enforces_limit(store: SqlStore) {
    let store = migrated(store).await;
    let record = new_record(&random_account_id(), US_EAST_1);
    insert(&store, &record, &tags([("a", "1"), ("b", "2")])).await;

    let outcome = store
        .tag_user_pool(&record.id, &tags([("b", "20"), ("c", "3")]), MAX_TAGS)
        .await;
    assert_eq!(outcome.expect("tag"), TagOutcome::Written);
    let mut expected = tags([("a", "1"), ("b", "20"), ("c", "3")]);
    assert_eq!(
        stored_view(&store, &record.id).await.tags,
        expected,
        "tags are upserted"
    );

    // Up to exactly the limit.
    let filler = numbered_tags("fill-", MAX_TAGS - 3);
    let outcome = store.tag_user_pool(&record.id, &filler, MAX_TAGS).await;
    assert_eq!(outcome.expect("tag"), TagOutcome::Written);
    expected.extend(filler);
    assert_eq!(stored_view(&store, &record.id).await.tags, expected);
    assert_eq!(expected.len(), MAX_TAGS);

    // One over: the whole batch is refused, including its change to an existing key.
    let over = tags([("a", "changed"), ("one-too-many", "x")]);
    let outcome = store.tag_user_pool(&record.id, &over, MAX_TAGS).await;
    assert_eq!(outcome.expect("tag"), TagOutcome::TooManyTags);
    assert_eq!(
        stored_view(&store, &record.id).await.tags,
        expected,
        "a refused batch left traces"
    );

    // Changing existing keys at the limit adds nothing and is allowed.
    let outcome = store
        .tag_user_pool(&record.id, &tags([("a", "changed")]), MAX_TAGS)
        .await;
    assert_eq!(outcome.expect("tag"), TagOutcome::Written);
    expected.insert("a".to_string(), "changed".to_string());
    assert_eq!(stored_view(&store, &record.id).await.tags, expected);

    // The limit is the caller's: a fresh pool with max 10 takes 10, not 11.
    let small = new_record(&random_account_id(), US_EAST_1);
    insert(&store, &small, &BTreeMap::new()).await;
    let outcome = store
        .tag_user_pool(&small.id, &numbered_tags("k", 11), 10)
        .await;
    assert_eq!(outcome.expect("tag"), TagOutcome::TooManyTags);
    assert!(stored_view(&store, &small.id).await.tags.is_empty());
    let outcome = store
        .tag_user_pool(&small.id, &numbered_tags("k", 10), 10)
        .await;
    assert_eq!(outcome.expect("tag"), TagOutcome::Written);
    assert_eq!(
        stored_view(&store, &small.id).await.tags,
        numbered_tags("k", 10)
    );

    let ghost = new_pool_id(US_EAST_1);
    let outcome = store
        .tag_user_pool(&ghost, &tags([("x", "y")]), MAX_TAGS)
        .await;
    assert_eq!(outcome.expect("tag"), TagOutcome::NotFound);
    assert!(stored(&store, &ghost).await.is_none());
}

async fn untag_removes_only_named_keys(store: SqlStore) {
    let store = migrated(store).await;
    let record = new_record(&random_account_id(), US_EAST_1);
    let sibling = new_record(&random_account_id(), US_EAST_1);
    insert(
        &store,
        &record,
        &tags([("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]),
    )
    .await;
    insert(&store, &sibling, &tags([("a", "1"), ("c", "3")])).await;

    let keys = ["a", "c", "not-there"].map(String::from);
    assert!(store
        .untag_user_pool(&record.id, &keys)
        .await
        .expect("untag"));
    assert_eq!(
        stored_view(&store, &record.id).await.tags,
        tags([("b", "2"), ("d", "4")])
    );
    assert!(store
        .untag_user_pool(&record.id, &[])
        .await
        .expect("untag nothing"));
    assert_eq!(
        stored_view(&store, &record.id).await.tags,
        tags([("b", "2"), ("d", "4")])
    );
    assert_eq!(
        stored_view(&store, &sibling.id).await.tags,
        tags([("a", "1"), ("c", "3")]),
        "untag touched another pool"
    );

    let ghost = new_pool_id(US_EAST_1);
    assert!(!store
        .untag_user_pool(&ghost, &["a".to_string()])
        .await
        .expect("untag missing"));
}

async fn concurrent_tags_are_all_kept(store: SqlStore) {
    let store = migrated(store).await;
    let record = new_record(&random_account_id(), US_EAST_1);
    insert(&store, &record, &BTreeMap::new()).await;

    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            let id = record.id.clone();
            tokio::spawn(async move {
                let tag = tags([(
                    format!("key-{i:02}").as_str(),
                    format!("value-{i}").as_str(),
                )]);
                store.tag_user_pool(&id, &tag, MAX_TAGS).await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(
            task.await.expect("tag task panicked").expect("tag"),
            TagOutcome::Written
        );
    }
    let expected: BTreeMap<_, _> = (0..20)
        .map(|i| (format!("key-{i:02}"), format!("value-{i}")))
        .collect();
    assert_eq!(
        stored_view(&store, &record.id).await.tags,
        expected,
        "a concurrent tag was lost"
    );
}

async fn concurrent_tag_batches_respect_limit(store: SqlStore) {
    let store = migrated(store).await;
    let record = new_record(&random_account_id(), US_EAST_1);
    insert(&store, &record, &BTreeMap::new()).await;

    let tasks: Vec<_> = (0..8)
        .map(|batch| {
            let store = store.clone();
            let id = record.id.clone();
            tokio::spawn(async move {
                let tags = numbered_tags(&format!("batch{batch}-"), 10);
                let outcome = store.tag_user_pool(&id, &tags, MAX_TAGS).await;
                (tags, outcome)
            })
        })
        .collect();
    let mut written = BTreeMap::new();
    let mut refused = 0;
    for task in tasks {
        let (tags, outcome) = task.await.expect("tag task panicked");
        match outcome.expect("tag") {
            TagOutcome::Written => written.extend(tags),
            TagOutcome::TooManyTags => refused += 1,
            TagOutcome::NotFound => panic!("pool vanished"),
        }
    }
    assert_eq!(
        (written.len() / 10, refused),
        (5, 3),
        "exactly five batches of ten fit in 50"
    );
    let stored_tags = stored_view(&store, &record.id).await.tags;
    assert_eq!(stored_tags.len(), MAX_TAGS);
    assert_eq!(
        stored_tags, written,
        "stored tags are exactly the accepted batches"
    );
}

async fn concurrent_updates_have_one_winner(store: SqlStore) {
    let store = migrated(store).await;
    let v1 = new_record(&random_account_id(), US_EAST_1);
    insert(&store, &v1, &tags([("t", "0")])).await;

    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            let update = next_version(&v1, &format!("writer {i}"));
            let new_tags = tags([("t", i.to_string().as_str())]);
            tokio::spawn(async move {
                let outcome = store.update_user_pool(&update, Some(&new_tags)).await;
                (update, new_tags, outcome)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (update, new_tags, outcome) = task.await.expect("update task panicked");
        match outcome.expect("update") {
            WriteOutcome::Written => winners.push((update, new_tags)),
            WriteOutcome::VersionConflict => {}
            WriteOutcome::NotFound => panic!("pool vanished"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one writer from the same version wins"
    );
    let (update, new_tags) = winners.remove(0);
    let view = stored_view(&store, &v1.id).await;
    assert_eq!(view.record, update, "the winner's record is stored");
    assert_eq!(view.tags, new_tags, "the winner's tags are stored");
}

async fn cache_sees_own_writes(store: SqlStore) {
    let store = migrated(store).await;
    let v1 = new_record(&random_account_id(), US_EAST_1);
    insert(&store, &v1, &tags([("a", "1")])).await;

    let get = |id: String| {
        let store = store.clone();
        async move {
            store
                .get_user_pool(&id)
                .await
                .expect("get")
                .expect("pool exists")
        }
    };
    assert_eq!(get(v1.id.clone()).await.record, v1);
    assert!(
        store.cache().get(&v1.id).is_some(),
        "get should have cached the pool"
    );

    let v2 = next_version(&v1, "v2");
    assert_eq!(
        store.update_user_pool(&v2, None).await.expect("update"),
        WriteOutcome::Written
    );
    let view = get(v1.id.clone()).await;
    assert_eq!(view.record, v2, "stale record after update");
    assert_eq!(view.record.settings, v2.settings);

    assert_eq!(
        store
            .tag_user_pool(&v1.id, &tags([("b", "2")]), MAX_TAGS)
            .await
            .expect("tag"),
        TagOutcome::Written
    );
    assert_eq!(
        get(v1.id.clone()).await.tags,
        tags([("a", "1"), ("b", "2")]),
        "stale tags after tag"
    );

    assert!(store
        .untag_user_pool(&v1.id, &["a".to_string()])
        .await
        .expect("untag"));
    assert_eq!(
        get(v1.id.clone()).await.tags,
        tags([("b", "2")]),
        "stale tags after untag"
    );

    let v3 = next_version(&v2, "v3");
    let replacement = tags([("c", "3")]);
    assert_eq!(
        store
            .update_user_pool(&v3, Some(&replacement))
            .await
            .expect("update"),
        WriteOutcome::Written
    );
    let view = get(v1.id.clone()).await;
    assert_eq!(
        (view.record, view.tags),
        (v3, replacement),
        "stale view after update with tags"
    );

    assert!(store.delete_user_pool(&v1.id).await.expect("delete"));
    assert!(
        store.get_user_pool(&v1.id).await.expect("get").is_none(),
        "deleted pool served from cache"
    );
    insert(&store, &v1, &BTreeMap::new()).await;
    let view = get(v1.id.clone()).await;
    assert_eq!(
        (view.record, view.tags),
        (v1, BTreeMap::new()),
        "stale view after re-insert"
    );
}

// ---------------------------------------------------------------------------------------------
// Postgres only: several nodes on one database
// ---------------------------------------------------------------------------------------------

mod postgres_nodes {
    use super::*;

    /// Waits until the node's invalidation listener has subscribed: it clears the cache (bumping
    /// the generation) once LISTEN is in effect, and nothing else touches this node's cache yet.
    async fn wait_for_listener(node: &SqlStore) {
        let cache = node.cache().clone();
        let subscribed = eventually(Duration::from_secs(10), || {
            let cache = cache.clone();
            async move { cache.generation() > 0 }
        })
        .await;
        assert!(subscribed, "invalidation listener did not subscribe");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cross_node_invalidation() {
        let Some(url) = postgres_url() else { return };
        let a = migrated(connect(&url).await).await;
        let b = migrated(connect(&url).await).await;
        a.spawn_invalidation_listener();
        b.spawn_invalidation_listener();
        wait_for_listener(&a).await;
        wait_for_listener(&b).await;

        let v1 = new_record(&random_account_id(), US_EAST_1);
        insert(&b, &v1, &tags([("a", "1")])).await;
        assert_eq!(
            a.get_user_pool(&v1.id)
                .await
                .expect("get")
                .expect("pool")
                .record,
            v1
        );
        assert!(
            a.cache().get(&v1.id).is_some(),
            "node A should have cached the pool"
        );
        assert!(b.get_user_pool(&v1.id).await.expect("get").is_some());

        // Each write on one node must reach the other node's cache within two seconds.
        let within = Duration::from_secs(2);
        let view_on = |node: &SqlStore, id: &str| {
            let (node, id) = (node.clone(), id.to_string());
            async move { node.get_user_pool(&id).await.expect("get") }
        };

        let v2 = next_version(&v1, "from B");
        assert_eq!(
            b.update_user_pool(&v2, None).await.expect("update"),
            WriteOutcome::Written
        );
        let seen = eventually(within, || {
            let v2 = v2.clone();
            let fut = view_on(&a, &v1.id);
            async move { fut.await.is_some_and(|v| v.record == v2) }
        })
        .await;
        assert!(
            seen,
            "node A still serves the old record 2 s after node B's update"
        );

        // Re-cache on B, then tag through A.
        assert!(b.get_user_pool(&v1.id).await.expect("get").is_some());
        let outcome = a.tag_user_pool(&v1.id, &tags([("b", "2")]), MAX_TAGS).await;
        assert_eq!(outcome.expect("tag"), TagOutcome::Written);
        let seen = eventually(within, || {
            let fut = view_on(&b, &v1.id);
            async move {
                fut.await
                    .is_some_and(|v| v.tags == tags([("a", "1"), ("b", "2")]))
            }
        })
        .await;
        assert!(
            seen,
            "node B still serves the old tags 2 s after node A's tag"
        );

        assert!(a.get_user_pool(&v1.id).await.expect("get").is_some());
        assert!(b
            .untag_user_pool(&v1.id, &["a".to_string()])
            .await
            .expect("untag"));
        let seen = eventually(within, || {
            let fut = view_on(&a, &v1.id);
            async move { fut.await.is_some_and(|v| v.tags == tags([("b", "2")])) }
        })
        .await;
        assert!(
            seen,
            "node A still serves the old tags 2 s after node B's untag"
        );

        assert!(a.get_user_pool(&v1.id).await.expect("get").is_some());
        assert!(b.delete_user_pool(&v1.id).await.expect("delete"));
        let gone = eventually(within, || {
            let fut = view_on(&a, &v1.id);
            async move { fut.await.is_none() }
        })
        .await;
        assert!(
            gone,
            "node A still serves the pool 2 s after node B deleted it"
        );
    }

    /// Four separate nodes migrating an empty schema at once: they must serialise, not collide.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_migrate_on_fresh_schema() {
        let Some(url) = postgres_url() else { return };
        let schema = format!("gh_conformance_{}", random_alnum(10).to_lowercase());
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("admin connection");
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .expect("create schema");

        let sep = if url.contains('?') { '&' } else { '?' };
        let scoped_url = format!("{url}{sep}options[search_path]={schema}");
        let mut nodes = Vec::new();
        for _ in 0..4 {
            nodes.push(connect(&scoped_url).await);
        }
        let tasks: Vec<_> = nodes
            .iter()
            .cloned()
            .map(|node| tokio::spawn(async move { node.migrate().await }))
            .collect();
        let mut failures = Vec::new();
        for task in tasks {
            if let Err(e) = task.await.expect("migrate task panicked") {
                failures.push(e.to_string());
            }
        }

        let applied: Result<i64, _> =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {schema}._sqlx_migrations"))
                .fetch_one(&admin)
                .await;
        let record = new_record(&random_account_id(), US_EAST_1);
        let usable = nodes[0].insert_user_pool(&record, &BTreeMap::new()).await;

        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&admin)
            .await
            .expect("drop schema");

        assert!(
            failures.is_empty(),
            "concurrent migrate failed: {failures:?}"
        );
        let files = std::fs::read_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../migrations/postgres"
        ))
        .expect("migrations directory")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
        assert_eq!(
            applied.expect("count applied migrations"),
            files as i64,
            "each migration applied once"
        );
        usable.expect("insert into the freshly migrated schema");
    }
}
