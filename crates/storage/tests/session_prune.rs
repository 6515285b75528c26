//! `SqlStore::prune_expired_sessions` on SQLite and (when `GATEHOUSE_TEST_DATABASE_URL` names a
//! database) Postgres: expired challenge sessions and token sessions well past their refresh
//! token's end are deleted, in batches; nothing live goes. The clock here is set in 2001, so a
//! prune on a shared Postgres database cannot touch the rows of other tests.

#[macro_use]
mod support;

use domain::ports::{
    AttemptOutcome, AuthStore, ChallengeSessionRecord, LockoutPolicy, RefreshMatch,
    TokenSessionRecord,
};
use storage::SqlStore;

const NOW_MS: i64 = 1_000_000_000_000;
const DAY_MS: i64 = 86_400_000;

suite_with_url!(
    expired_sessions_go_and_live_ones_stay,
    quiet_unknown_name_failures_go_and_recent_ones_stay
);

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn pool_and_user(store: &SqlStore) -> (String, String) {
    support::pool_and_user(store, NOW_MS, "ann").await
}

fn challenge(pool: &str, expires_ms: i64) -> ChallengeSessionRecord {
    ChallengeSessionRecord {
        id_hash: unique(),
        pool_id: pool.into(),
        client_id: "client".into(),
        state: "{}".into(),
        expires_ms,
    }
}

fn token(pool: &str, user: &str, expires_ms: i64) -> TokenSessionRecord {
    support::token_session(pool, user, &unique(), expires_ms)
}

async fn expired_sessions_go_and_live_ones_stay(store: SqlStore, _url: String) {
    let (pool, user) = pool_and_user(&store).await;
    // More expired challenges than one delete batch, so the batching loop is exercised.
    let expired: Vec<_> = (0..5_050)
        .map(|i| challenge(&pool, NOW_MS - 1 - i))
        .collect();
    for c in &expired {
        store.insert_challenge_session(c).await.unwrap();
    }
    let live_challenge = challenge(&pool, NOW_MS + 60_000);
    store
        .insert_challenge_session(&live_challenge)
        .await
        .unwrap();
    let long_ended = token(&pool, &user, NOW_MS - 3 * DAY_MS);
    let just_ended = token(&pool, &user, NOW_MS - DAY_MS);
    let live = token(&pool, &user, NOW_MS + 30 * DAY_MS);
    for t in [&long_ended, &just_ended, &live] {
        store.start_token_session(t).await.unwrap();
    }

    let (challenges, tokens) = store.prune_expired_sessions(NOW_MS).await.unwrap();
    // Rows this old come only from this test (a run that died half-way may have left some).
    assert!(challenges >= 5_050 && tokens >= 1, "{challenges} {tokens}");

    assert!(store
        .take_challenge_session(&expired[0].id_hash, &expired[0].client_id)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .take_challenge_session(&live_challenge.id_hash, &live_challenge.client_id)
        .await
        .unwrap()
        .is_some());
    assert!(matches!(
        store
            .token_session_by_refresh(&long_ended.refresh_hash)
            .await
            .unwrap(),
        RefreshMatch::None
    ));
    // Ended a day ago: its last access tokens may still be valid, so it stays.
    for t in [&just_ended, &live] {
        assert!(matches!(
            store
                .token_session_by_refresh(&t.refresh_hash)
                .await
                .unwrap(),
            RefreshMatch::Current(_)
        ));
    }
    assert_eq!(store.prune_expired_sessions(NOW_MS).await.unwrap(), (0, 0));
}

/// Failed attempts against unknown names are kept while they can still lock (the lockout's reset
/// time) and pruned after: a flood of guessed names must not grow the table for good.
async fn quiet_unknown_name_failures_go_and_recent_ones_stay(store: SqlStore, _url: String) {
    let (pool, _) = pool_and_user(&store).await;
    let policy = LockoutPolicy::COGNITO;
    let quiet_since = NOW_MS - policy.reset_after_ms - 1;
    for (name, at) in [("quiet", quiet_since), ("recent", NOW_MS - 1_000)] {
        for _ in 0..5 {
            let outcome = store
                .begin_unknown_sign_in_attempt(&pool, name, at, &policy)
                .await
                .unwrap();
            assert_eq!(outcome, AttemptOutcome::Allowed);
        }
    }
    // Five failures lock the recent name (one second from its fifth failure).
    assert!(matches!(
        store
            .begin_unknown_sign_in_attempt(&pool, "recent", NOW_MS - 500, &policy)
            .await
            .unwrap(),
        AttemptOutcome::Locked { .. }
    ));
    let pruned = store.prune_quiet_unknown_failures(NOW_MS).await.unwrap();
    assert!(pruned >= 1, "{pruned}");
    // The quiet name starts from one again; the recent one keeps its count (its sixth failure,
    // after the lock, earns a longer lock than a first failure would).
    assert_eq!(
        store
            .begin_unknown_sign_in_attempt(&pool, "quiet", NOW_MS, &policy)
            .await
            .unwrap(),
        AttemptOutcome::Allowed
    );
    store
        .begin_unknown_sign_in_attempt(&pool, "recent", NOW_MS + 2_000, &policy)
        .await
        .unwrap();
    assert!(matches!(
        store
            .begin_unknown_sign_in_attempt(&pool, "recent", NOW_MS + 2_500, &policy)
            .await
            .unwrap(),
        AttemptOutcome::Locked { .. }
    ));
}
