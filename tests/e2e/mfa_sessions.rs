//! Code challenges' Sessions (SMS_MFA, EMAIL_OTP, SOFTWARE_TOKEN_MFA) carry their state sealed in
//! the Session string. Through the unmodified SDK: each answers once (even with a fresh code),
//! takes three wrong codes, cannot be read, changed, stretched past its expiry or moved to another
//! client or pool, and a sent code answers only the challenge it was sent for. Also email MFA set
//! up during sign-in with a new address (MFA_SETUP answered with EMAIL, as Amplify sends it).

use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{ChallengeNameType, MessageActionType, UserPoolMfaType};

use crate::harness::{Backend, Options, Server, TEST_KEK};
use crate::mfa::{initiate, mfa_pool, mfa_user, now_s, respond, totp, PHONE};
use crate::self_service::{code_delivered_after, count_delivered, delivered_code};
use crate::sign_in::{app_client, password_sign_in};

crate::backend_tests!(
    a_totp_session_answers_once_even_with_a_fresh_code,
    a_sent_code_answers_only_its_own_challenge,
    a_sealed_session_takes_three_wrong_codes,
    sealed_sessions_cannot_be_read_changed_or_moved,
    email_mfa_set_up_with_a_new_address,
);

const SPENT: &str = "NotAuthorizedException: Invalid session for the user, session is expired.";

fn server_options(backend: Backend) -> Options {
    let mut o = Options::new(backend);
    o.extra_args = vec!["--allowed-email-senders".into(), "example.com".into()];
    o
}

/// The seal the test server uses (its key-encryption key is the harness's).
fn seal() -> auth_flows::sessions::SessionSeal {
    let kek = storage::Kek::from_base64(TEST_KEK).unwrap();
    auth_flows::sessions::SessionSeal::new(*kek.derive("gatehouse/challenge-sessions/v1"))
}

/// Waits until the clock is early in a 30-second TOTP step, so that the codes of the steps
/// around it stay within the server's drift for the next few seconds.
async fn settle_in_step() {
    let into = now_s().rem_euclid(30);
    if !(1..=18).contains(&into) {
        tokio::time::sleep(Duration::from_secs(((31 - into) % 30) as u64 + 1)).await;
    }
}

/// A TOTP user whose enrolment used the previous step, so the current and the next steps are
/// both fresh.
async fn totp_user(c: &cognito::Client, pool: &str, client: &str, name: &str) -> String {
    mfa_user(c, pool, name, "Passw0rd!x").await;
    let t = password_sign_in(c, client, name, "Passw0rd!x")
        .await
        .unwrap();
    crate::mfa::enrol_totp_at(c, t.access_token().unwrap(), -1).await
}

type Answer = cognito::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput;

/// Answers `user`'s SOFTWARE_TOKEN_MFA challenge through `client`.
async fn answer_totp(
    c: &cognito::Client,
    client: &str,
    session: &str,
    user: &str,
    code: &str,
) -> Result<Answer, String> {
    respond(
        c,
        client,
        ChallengeNameType::SoftwareTokenMfa,
        session,
        &[("USERNAME", user), ("SOFTWARE_TOKEN_MFA_CODE", code)],
    )
    .await
}

async fn a_totp_session_answers_once_even_with_a_fresh_code(backend: Backend) {
    let server = Server::start_with(server_options(backend)).await;
    let c = server.client();
    let pool = mfa_pool(&c, UserPoolMfaType::Optional).await;
    let (client, _) = app_client(&c, &pool, false).await;
    settle_in_step().await;
    let secret = totp_user(&c, &pool, &client, "tom").await;

    let r = initiate(&c, &client, "tom", "Passw0rd!x").await;
    assert_eq!(r.challenge_name, Some(ChallengeNameType::SoftwareTokenMfa));
    let session = r.session.unwrap();
    let answer = |code: String| {
        let (c, client, session) = (c.clone(), client.clone(), session.clone());
        async move { answer_totp(&c, &client, &session, "tom", &code).await }
    };
    let ok = answer(totp(&secret, 0)).await.unwrap();
    assert!(ok.authentication_result.unwrap().access_token.is_some());
    // Replayed with a code of a step nobody used yet: still refused, the Session is spent...
    let e = answer(totp(&secret, 1)).await.unwrap_err();
    assert_eq!(e, SPENT);
    // ... and the replay did not use that step up: a new sign-in takes it.
    let r = initiate(&c, &client, "tom", "Passw0rd!x").await;
    let ok = answer_totp(
        &c,
        &client,
        r.session.as_deref().unwrap(),
        "tom",
        &totp(&secret, 1),
    )
    .await
    .unwrap();
    assert!(ok.authentication_result.is_some());

    // Two answers at once with two fresh codes: one session at most.
    settle_in_step().await;
    let r = initiate(&c, &client, "tom", "Passw0rd!x").await;
    let session = r.session.unwrap();
    let racers: Vec<_> = (0..2)
        .map(|i| {
            let (c, client, session) = (c.clone(), client.clone(), session.clone());
            let code = totp(&secret, i);
            tokio::spawn(async move { answer_totp(&c, &client, &session, "tom", &code).await })
        })
        .collect();
    let mut won = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(t) => {
                assert!(t.authentication_result.is_some());
                won += 1;
            }
            // The loser finds the Session spent, or (the step of the winner) a used code.
            Err(e) => assert!(e == SPENT || e.starts_with("ExpiredCodeException"), "{e}"),
        }
    }
    assert!(won <= 1, "one challenge gave {won} sessions");
}

async fn a_sent_code_answers_only_its_own_challenge(backend: Backend) {
    let server = Server::start_with(server_options(backend)).await;
    let c = server.client();
    let pool = mfa_pool(&c, UserPoolMfaType::Optional).await;
    let (client, _) = app_client(&c, &pool, false).await;
    mfa_user(&c, &pool, "sam", "Passw0rd!x").await;
    crate::mfa::prefer_sms(&c, &pool, "sam").await;
    let sms = |session: String, code: String| {
        let (c, client) = (c.clone(), client.clone());
        async move {
            respond(
                &c,
                &client,
                ChallengeNameType::SmsMfa,
                &session,
                &[("USERNAME", "sam"), ("SMS_MFA_CODE", &code)],
            )
            .await
        }
    };
    let first = initiate(&c, &client, "sam", "Passw0rd!x").await;
    let (_, code1) = delivered_code(&server, "mfa:sms", PHONE).await;
    let sent = count_delivered(&server, "mfa:sms", PHONE);
    let second = initiate(&c, &client, "sam", "Passw0rd!x").await;
    let code2 = code_delivered_after(&server, "mfa:sms", PHONE, sent).await;
    let (s1, s2) = (first.session.unwrap(), second.session.unwrap());
    // The newer code does not answer the older challenge (a wrong code there)...
    if code1 != code2 {
        let e = sms(s1.clone(), code2.clone()).await.unwrap_err();
        assert!(e.starts_with("CodeMismatchException"), "{e}");
    }
    // ... and is still good for its own.
    let ok = sms(s2.clone(), code2.clone()).await.unwrap();
    assert!(ok.authentication_result.is_some());
    // Its Session is spent now, and the code with it.
    assert_eq!(sms(s2, code2.clone()).await.unwrap_err(), SPENT);
    // The older challenge's code was replaced by the newer one's: gone.
    let e = sms(s1, code1).await.unwrap_err();
    assert!(e.starts_with("CodeMismatchException"), "{e}");
}

async fn a_sealed_session_takes_three_wrong_codes(backend: Backend) {
    let server = Server::start_with(server_options(backend)).await;
    let c = server.client();
    let pool = mfa_pool(&c, UserPoolMfaType::Optional).await;
    let (client, _) = app_client(&c, &pool, false).await;
    settle_in_step().await;
    let secret = totp_user(&c, &pool, &client, "tess").await;
    let codes = [totp(&secret, -1), totp(&secret, 0), totp(&secret, 1)];
    let wrong = (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|w| !codes.contains(w))
        .unwrap();
    let r = initiate(&c, &client, "tess", "Passw0rd!x").await;
    let session = r.session.unwrap();
    let answer = |code: String| {
        let (c, client, session) = (c.clone(), client.clone(), session.clone());
        async move { answer_totp(&c, &client, &session, "tess", &code).await }
    };
    for _ in 0..3 {
        let e = answer(wrong.clone()).await.unwrap_err();
        assert_eq!(e, "CodeMismatchException: Invalid code received for user");
    }
    // Spent: the right code no longer helps, and further guesses are not even compared.
    assert_eq!(answer(totp(&secret, 0)).await.unwrap_err(), SPENT);
    assert_eq!(answer(wrong.clone()).await.unwrap_err(), SPENT);
    // A new sign-in works, and the right code was not used up by the refused answer. Its
    // password step is the fifth attempt since the last success (the three wrong codes count),
    // which earns the lockout's first one-second lock: the answer waits it out.
    let r = initiate(&c, &client, "tess", "Passw0rd!x").await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let ok = answer_totp(
        &c,
        &client,
        r.session.as_deref().unwrap(),
        "tess",
        &totp(&secret, 0),
    )
    .await
    .unwrap();
    assert!(ok.authentication_result.is_some());
}

async fn sealed_sessions_cannot_be_read_changed_or_moved(backend: Backend) {
    let server = Server::start_with(server_options(backend)).await;
    let c = server.client();
    let pool = mfa_pool(&c, UserPoolMfaType::Optional).await;
    let other_pool = mfa_pool(&c, UserPoolMfaType::Optional).await;
    let (client, _) = app_client(&c, &pool, false).await;
    let (other_client, _) = app_client(&c, &pool, false).await;
    let (foreign_client, _) = app_client(&c, &other_pool, false).await;
    settle_in_step().await;
    let secret = totp_user(&c, &pool, &client, "vic").await;
    let r = initiate(&c, &client, "vic", "Passw0rd!x").await;
    let session = r.session.unwrap();
    // Opaque: nothing of the user or the sign-in is readable.
    assert!(session.len() >= 20 && session.len() <= 4096);
    for leaked in ["vic", &pool, &client, "example.com", "SOFTWARE_TOKEN"] {
        assert!(
            !session.contains(leaked),
            "{leaked} readable in the Session"
        );
    }
    let code = totp(&secret, 0);
    let answer = |client: String, session: String| {
        let (c, code) = (c.clone(), code.clone());
        async move { answer_totp(&c, &client, &session, "vic", &code).await }
    };
    // One character changed anywhere: refused.
    for at in [0, session.len() / 2, session.len() - 1] {
        let mut changed: Vec<char> = session.chars().collect();
        changed[at] = if changed[at] == 'A' { 'B' } else { 'A' };
        let changed: String = changed.into_iter().collect();
        let e = answer(client.clone(), changed).await.unwrap_err();
        assert!(e.starts_with("NotAuthorizedException"), "{e}");
    }
    // Another client of the pool, or a client of another pool: refused.
    let e = answer(other_client.clone(), session.clone())
        .await
        .unwrap_err();
    assert!(e.starts_with("NotAuthorizedException"), "{e}");
    let e = answer(foreign_client.clone(), session.clone())
        .await
        .unwrap_err();
    assert!(e.starts_with("NotAuthorizedException"), "{e}");
    // A Session re-sealed (as only a node could) with its expiry passed: expired.
    let seal = seal();
    let mut state = seal.open_session(&session).expect("the server's own seal");
    assert_eq!(state.state.username, "vic");
    state.expires_ms = now_s() * 1000 - 1_000;
    let expired = seal.seal(&state).unwrap();
    assert_eq!(answer(client.clone(), expired).await.unwrap_err(), SPENT);
    // Re-sealed for another pool's client: the pool is checked too.
    let mut moved = seal.open_session(&session).unwrap();
    moved.state.client_id = foreign_client.clone();
    let moved = seal.seal(&moved).unwrap();
    let e = answer(foreign_client, moved).await.unwrap_err();
    assert!(e.starts_with("NotAuthorizedException"), "{e}");
    // Sealed under another key (another deployment): refused.
    let stranger = auth_flows::sessions::SessionSeal::new([9; 32]);
    let foreign = stranger
        .seal(&seal.open_session(&session).unwrap())
        .unwrap();
    let e = answer(client.clone(), foreign).await.unwrap_err();
    assert!(e.starts_with("NotAuthorizedException"), "{e}");
    // None of that used the Session up: the right client still completes it.
    let ok = answer(client, session).await.unwrap();
    assert!(ok.authentication_result.is_some());
}

/// An ON pool offering email codes and a user without an email address or phone number (so
/// nothing can be challenged implicitly): MFA_SETUP offers
/// EMAIL_OTP; an address answered there gets a code, and once that code comes back it is the
/// user's verified email and their factor.
async fn email_mfa_set_up_with_a_new_address(backend: Backend) {
    let server = Server::start_with(server_options(backend)).await;
    let c = server.client();
    let pool = mfa_pool(&c, UserPoolMfaType::On).await;
    let (client, _) = app_client(&c, &pool, false).await;
    c.admin_create_user()
        .user_pool_id(&pool)
        .username("noemail")
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    c.admin_set_user_password()
        .user_pool_id(&pool)
        .username("noemail")
        .password("Passw0rd!x")
        .permanent(true)
        .send()
        .await
        .unwrap();
    let setup = |session: String, email: &'static str| {
        let (c, client) = (c.clone(), client.clone());
        async move {
            respond(
                &c,
                &client,
                ChallengeNameType::MfaSetup,
                &session,
                &[("USERNAME", "noemail"), ("EMAIL", email)],
            )
            .await
        }
    };

    let r = initiate(&c, &client, "noemail", "Passw0rd!x").await;
    assert_eq!(r.challenge_name, Some(ChallengeNameType::MfaSetup));
    let p = r.challenge_parameters.clone().unwrap();
    let offered: Vec<String> = serde_json::from_str(&p["MFAS_CAN_SETUP"]).unwrap();
    assert!(offered.contains(&"EMAIL_OTP".to_string()), "{offered:?}");
    // Not an address: refused as an attribute write would refuse it, and nothing is sent.
    let e = setup(r.session.clone().unwrap(), "not-an-address")
        .await
        .unwrap_err();
    assert!(e.starts_with("InvalidParameterException"), "{e}");
    assert_eq!(count_delivered(&server, "mfa:email", "new@example.com"), 0);

    let r = initiate(&c, &client, "noemail", "Passw0rd!x").await;
    let next = setup(r.session.unwrap(), "new@example.com").await.unwrap();
    assert_eq!(next.challenge_name, Some(ChallengeNameType::EmailOtp));
    let p = next.challenge_parameters.clone().unwrap();
    assert_eq!(p["CODE_DELIVERY_DELIVERY_MEDIUM"], "EMAIL");
    assert!(p["CODE_DELIVERY_DESTINATION"].contains('*'), "{p:?}");
    assert!(!p["CODE_DELIVERY_DESTINATION"].contains("new@"), "{p:?}");
    let (_, code) = delivered_code(&server, "mfa:email", "new@example.com").await;
    let session = next.session.unwrap();
    // A wrong code writes nothing.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let e = respond(
        &c,
        &client,
        ChallengeNameType::EmailOtp,
        &session,
        &[("USERNAME", "noemail"), ("EMAIL_OTP_CODE", wrong)],
    )
    .await
    .unwrap_err();
    assert!(e.starts_with("CodeMismatchException"), "{e}");
    let me = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("noemail")
        .send()
        .await
        .unwrap();
    assert!(me.user_attributes().iter().all(|a| a.name() != "email"));
    assert!(me.user_mfa_setting_list().is_empty());
    // The right code signs in and makes the address the user's, verified, with email MFA on.
    let ok = respond(
        &c,
        &client,
        ChallengeNameType::EmailOtp,
        &session,
        &[("USERNAME", "noemail"), ("EMAIL_OTP_CODE", &code)],
    )
    .await
    .unwrap();
    assert!(ok.authentication_result.unwrap().id_token.is_some());
    let me = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("noemail")
        .send()
        .await
        .unwrap();
    let value = |n: &str| {
        me.user_attributes()
            .iter()
            .find(|a| a.name() == n)
            .and_then(|a| a.value().map(str::to_string))
    };
    assert_eq!(value("email").as_deref(), Some("new@example.com"));
    assert_eq!(value("email_verified").as_deref(), Some("true"));
    assert_eq!(me.user_mfa_setting_list(), ["EMAIL_OTP"]);
    assert_eq!(me.preferred_mfa_setting(), Some("EMAIL_OTP"));
    // The next sign-in asks for an email code straight away.
    let r = initiate(&c, &client, "noemail", "Passw0rd!x").await;
    assert_eq!(r.challenge_name, Some(ChallengeNameType::EmailOtp));
}
