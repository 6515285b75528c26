//! The MFA store on SQLite and (with `GATEHOUSE_TEST_DATABASE_URL`) Postgres: TOTP secrets and
//! device verifiers are sealed in their rows, a TOTP step is taken once even by parallel callers,
//! and devices nobody confirmed are pruned after a day. The clock here is set in 2001, so a prune
//! on a shared Postgres database cannot touch the rows of other tests.

#[macro_use]
mod support;

use domain::ports::{
    AuthStore, ChallengeProof, ChallengeStart, DeviceRecord, LockoutPolicy, MfaFactor, MfaStore,
    SrpVerifier, UserMfaRecord,
};
use storage::SqlStore;

const NOW_MS: i64 = 1_000_000_000_000;
const DAY_MS: i64 = 86_400_000;

suite_with_url!(
    secrets_are_sealed_in_their_rows,
    a_totp_step_is_taken_once,
    a_code_challenge_ends_in_one_session,
    a_device_is_confirmed_once_and_remembered_only_when_confirmed,
    unconfirmed_devices_are_pruned_after_a_day
);

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn pool_and_user(store: &SqlStore) -> (String, String) {
    support::pool_and_user(store, NOW_MS, "mia").await
}

fn device(pool: &str, user: &str, created_ms: i64, confirmed: bool) -> DeviceRecord {
    DeviceRecord {
        pool_id: pool.into(),
        device_key: format!("us-east-1_{}", unique()),
        user_id: user.into(),
        device_group_key: "-group".into(),
        verifier: confirmed.then(|| SrpVerifier {
            salt: "5a175a175a175a17".into(),
            verifier: "7e417e417e417e41".into(),
        }),
        name: Some("laptop".into()),
        remembered: confirmed,
        last_ip: None,
        created_ms,
        modified_ms: created_ms,
        last_auth_ms: created_ms,
    }
}

async fn raw(url: &str, sql: &str, key: &str) -> String {
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(url).await.unwrap();
    let row = sqlx::query(sql).bind(key).fetch_one(&db).await.unwrap();
    sqlx::Row::try_get::<String, _>(&row, 0).unwrap()
}

async fn secrets_are_sealed_in_their_rows(store: SqlStore, url: String) {
    let (pool, user) = pool_and_user(&store).await;
    let secret = b"TOTP-SECRET-BYTES-20".to_vec();
    let mut r = UserMfaRecord::new(&pool, &user);
    r.set_enabled(MfaFactor::SoftwareToken, true);
    r.preferred = Some(MfaFactor::SoftwareToken);
    r.totp_secret = Some(secret.clone());
    r.pending_totp_secret = Some(b"PENDING-SECRET-BYTES".to_vec());
    assert!(store.put_user_mfa(&r).await.unwrap());
    assert_eq!(store.user_mfa(&pool, &user).await.unwrap(), Some(r));
    let row = raw(
        &url,
        "SELECT totp_secret FROM user_mfa WHERE user_id = $1",
        &user,
    )
    .await;
    assert!(row.starts_with("gh1."), "{row}");
    assert!(
        !row.contains("TOTP") && !row.contains(&hex::encode(&secret)),
        "{row}"
    );

    let d = device(&pool, &user, NOW_MS, true);
    assert!(store.insert_device(&d).await.unwrap());
    assert_eq!(
        store.device(&pool, &d.device_key).await.unwrap(),
        Some(d.clone())
    );
    let row = raw(
        &url,
        "SELECT verifier FROM devices WHERE device_key = $1",
        &d.device_key,
    )
    .await;
    assert!(row.starts_with("gh1.") && !row.contains("7e41"), "{row}");
    // A user who is gone takes no settings.
    let mut stray = UserMfaRecord::new(&pool, "nobody");
    stray.totp_secret = Some(secret);
    assert!(!store.put_user_mfa(&stray).await.unwrap());
}

/// The write behind a right MFA answer: started once per challenge id (also by parallel
/// answers), refused while the user is locked, after the challenge took its wrong codes, or on
/// a used TOTP step; and a refused answer claims no step.
async fn a_code_challenge_ends_in_one_session(store: SqlStore, _url: String) {
    let (pool, user) = pool_and_user(&store).await;
    let mut r = UserMfaRecord::new(&pool, &user);
    r.totp_secret = Some(vec![1; 20]);
    store.put_user_mfa(&r).await.unwrap();
    let proof = |step: Option<i64>| ChallengeProof {
        totp_step: step,
        max_failures: 3,
    };
    let start = |challenge: &str, step: Option<i64>| {
        let session = support::token_session(&pool, &user, challenge, NOW_MS + DAY_MS);
        let s = store.clone();
        async move {
            s.start_token_session_after_challenge(&session, &proof(step), NOW_MS)
                .await
                .unwrap()
        }
    };

    let one = unique();
    assert!(!store.challenge_answered(&one).await.unwrap());
    assert_eq!(start(&one, Some(10)).await, ChallengeStart::Started);
    assert!(store.challenge_answered(&one).await.unwrap());
    // Replayed with a fresh step: spent, and the fresh step stays unclaimed.
    assert_eq!(start(&one, Some(11)).await, ChallengeStart::Spent);
    assert!(store.use_totp_step(&pool, &user, 11).await.unwrap());
    // Another challenge with a used step.
    assert_eq!(start(&unique(), Some(11)).await, ChallengeStart::StepUsed);
    // A sent code's challenge (no step), then its replay.
    let sms = unique();
    assert_eq!(start(&sms, None).await, ChallengeStart::Started);
    assert_eq!(start(&sms, None).await, ChallengeStart::Spent);

    // Three wrong codes spend a challenge; fewer do not.
    let tried = unique();
    for n in 1..=3 {
        let count = store
            .count_challenge_failure(&tried, NOW_MS + 60_000)
            .await
            .unwrap();
        assert_eq!(count, n);
    }
    assert_eq!(start(&tried, Some(20)).await, ChallengeStart::Spent);
    let twice = unique();
    for _ in 0..2 {
        store
            .count_challenge_failure(&twice, NOW_MS + 60_000)
            .await
            .unwrap();
    }
    assert_eq!(start(&twice, Some(21)).await, ChallengeStart::Started);

    // A locked user: nothing is stored, no step claimed.
    for _ in 0..6 {
        store
            .begin_sign_in_attempt(&pool, &user, NOW_MS, &LockoutPolicy::COGNITO)
            .await
            .unwrap();
    }
    let locked = unique();
    assert_eq!(start(&locked, Some(30)).await, ChallengeStart::Locked);
    assert!(!store.challenge_answered(&locked).await.unwrap());
    assert!(store.use_totp_step(&pool, &user, 30).await.unwrap());
    store.sign_in_succeeded(&pool, &user).await.unwrap();

    // Ten parallel answers to one challenge, each with its own fresh step: one session.
    let raced = unique();
    let tries: Vec<_> = (0..10)
        .map(|i| tokio::spawn(start(&raced, Some(40 + i))))
        .collect();
    let mut started = 0;
    for t in tries {
        let outcome = t.await.unwrap();
        assert!(
            matches!(
                outcome,
                ChallengeStart::Started | ChallengeStart::Spent | ChallengeStart::StepUsed
            ),
            "{outcome:?}"
        );
        started += usize::from(outcome == ChallengeStart::Started);
    }
    assert_eq!(started, 1, "one challenge, one session");
}

async fn a_totp_step_is_taken_once(store: SqlStore, _url: String) {
    let (pool, user) = pool_and_user(&store).await;
    let mut r = UserMfaRecord::new(&pool, &user);
    r.totp_secret = Some(vec![1; 20]);
    store.put_user_mfa(&r).await.unwrap();
    assert!(store.use_totp_step(&pool, &user, 5).await.unwrap());
    assert!(!store.use_totp_step(&pool, &user, 5).await.unwrap());
    assert!(
        !store.use_totp_step(&pool, &user, 4).await.unwrap(),
        "earlier steps are spent too"
    );
    // Rewriting the settings keeps the step.
    store.put_user_mfa(&r).await.unwrap();
    assert!(!store.use_totp_step(&pool, &user, 5).await.unwrap());
    let tries: Vec<_> = (0..10)
        .map(|_| {
            let (s, p, u) = (store.clone(), pool.clone(), user.clone());
            tokio::spawn(async move { s.use_totp_step(&p, &u, 7).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for t in tries {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(
        won, 1,
        "parallel answers with one code: exactly one is accepted"
    );
}

async fn a_device_is_confirmed_once_and_remembered_only_when_confirmed(
    store: SqlStore,
    _url: String,
) {
    let (pool, user) = pool_and_user(&store).await;
    let offer = device(&pool, &user, NOW_MS, false);
    store.insert_device(&offer).await.unwrap();
    assert!(!store
        .set_device_remembered(&pool, &user, &offer.device_key, true, NOW_MS)
        .await
        .unwrap());
    let confirmed = DeviceRecord {
        remembered: true,
        ..device(&pool, &user, NOW_MS, true)
    };
    let confirmed = DeviceRecord {
        device_key: offer.device_key.clone(),
        ..confirmed
    };
    let other_user = DeviceRecord {
        user_id: "someone-else".into(),
        ..confirmed.clone()
    };
    assert!(!store.confirm_device(&other_user).await.unwrap());
    assert!(store.confirm_device(&confirmed).await.unwrap());
    assert!(
        !store.confirm_device(&confirmed).await.unwrap(),
        "confirmed once"
    );
    assert!(store
        .set_device_remembered(&pool, &user, &offer.device_key, false, NOW_MS + 1)
        .await
        .unwrap());
    store
        .touch_device(&pool, &offer.device_key, NOW_MS + 2)
        .await
        .unwrap();
    let d = store
        .device(&pool, &offer.device_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.verifier, confirmed.verifier);
    assert!(!d.remembered);
    assert_eq!((d.modified_ms, d.last_auth_ms), (NOW_MS + 1, NOW_MS + 2));
}

async fn unconfirmed_devices_are_pruned_after_a_day(store: SqlStore, _url: String) {
    let (pool, user) = pool_and_user(&store).await;
    let old_offer = device(&pool, &user, NOW_MS - 2 * DAY_MS, false);
    let new_offer = device(&pool, &user, NOW_MS - DAY_MS / 2, false);
    let old_confirmed = device(&pool, &user, NOW_MS - 30 * DAY_MS, true);
    for d in [&old_offer, &new_offer, &old_confirmed] {
        store.insert_device(d).await.unwrap();
    }
    assert!(store.prune_unconfirmed_devices(NOW_MS).await.unwrap() >= 1);
    assert!(store
        .device(&pool, &old_offer.device_key)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .device(&pool, &new_offer.device_key)
        .await
        .unwrap()
        .is_some());
    assert!(store
        .device(&pool, &old_confirmed.device_key)
        .await
        .unwrap()
        .is_some());
}
