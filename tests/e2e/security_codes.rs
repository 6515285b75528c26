//! One-time codes under attack (security review C1, H1c, L1, M2.3–M2.5), through the unmodified
//! SDK on both backends: failed attempts survive new codes, code issuance is limited per user,
//! per destination and per pool, a verification code proves only the address it went to, codes
//! are stored keyed, and a client hiding user existence answers alike for known and unknown names.

use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{
    AccountRecoverySettingType, PreventUserExistenceErrorTypes, RecoveryOptionNameType,
    RecoveryOptionType, VerifiedAttributeType,
};
use serde_json::Value;

use crate::harness::{error_code, error_message, Backend, Options, Server};
use crate::sign_in::{attr, password_sign_in, FLOWS};

crate::backend_tests!(
    alternating_forgot_password_and_guesses_is_stopped,
    a_reset_with_one_typo_passes,
    parallel_wrong_guesses_cannot_pass_the_limit,
    codes_per_user_are_limited_without_touching_other_users,
    codes_per_destination_are_limited_across_users,
    codes_per_pool_are_limited,
    hidden_users_answer_like_real_ones,
    a_verification_code_proves_only_its_address,
    verifying_while_the_address_changes_never_verifies_the_new_one,
    codes_are_stored_keyed_and_files_are_private,
);

const MISMATCH: &str =
    "CodeMismatchException: Invalid verification code provided, please try again.";
const LIMIT: &str = "LimitExceededException: Attempt limit exceeded, please try after some time.";

fn code_and_message<E, R>(e: &cognito::error::SdkError<E, R>) -> String
where
    E: cognito::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    format!("{}: {}", error_code(e), error_message(e))
}

fn wrong(code: &str, n: u32) -> String {
    let c: u32 = code.parse().unwrap();
    format!("{:06}", (c + 1 + n) % 1_000_000)
}

fn outbox(server: &Server) -> Vec<Value> {
    std::fs::read_to_string(server.data_dir.join("outbox.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

fn delivered(server: &Server, purpose: &str, destination: &str) -> usize {
    outbox(server)
        .iter()
        .filter(|m| m["purpose"] == purpose && m["destination"] == destination)
        .count()
}

/// The code in the `n`th message (from 1) for `purpose` to `destination`, waiting for delivery.
async fn nth_code(server: &Server, purpose: &str, destination: &str, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found: Vec<Value> = outbox(server)
            .into_iter()
            .filter(|m| m["purpose"] == purpose && m["destination"] == destination)
            .collect();
        if let Some(m) = found.get(n - 1) {
            let body = m["body"].as_str().unwrap_or_default();
            return body
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .expect("a six-digit code in the message")
                .to_string();
        }
        assert!(
            Instant::now() < deadline,
            "{purpose} message {n} for {destination} was not delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A pool that auto-verifies email (when `auto`) and recovers by verified email.
async fn pool(c: &cognito::Client, auto: bool) -> String {
    let mut req = c
        .create_user_pool()
        .pool_name("codes")
        .account_recovery_setting(
            AccountRecoverySettingType::builder()
                .recovery_mechanisms(
                    RecoveryOptionType::builder()
                        .name(RecoveryOptionNameType::VerifiedEmail)
                        .priority(1)
                        .build()
                        .unwrap(),
                )
                .build(),
        );
    if auto {
        req = req.auto_verified_attributes(VerifiedAttributeType::Email);
    }
    req.send().await.unwrap().user_pool.unwrap().id.unwrap()
}

async fn app(c: &cognito::Client, pool: &str, hide: bool) -> String {
    c.create_user_pool_client()
        .user_pool_id(pool)
        .client_name("app")
        .set_explicit_auth_flows(Some(FLOWS.to_vec()))
        .prevent_user_existence_errors(if hide {
            PreventUserExistenceErrorTypes::Enabled
        } else {
            PreventUserExistenceErrorTypes::Legacy
        })
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap()
}

/// A confirmed user with a verified email.
async fn user(c: &cognito::Client, pool: &str, name: &str, email: &str) {
    c.admin_create_user()
        .user_pool_id(pool)
        .username(name)
        .message_action(cognito::types::MessageActionType::Suppress)
        .user_attributes(attr("email", email))
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap();
    c.admin_set_user_password()
        .user_pool_id(pool)
        .username(name)
        .password("Original-1!")
        .permanent(true)
        .send()
        .await
        .unwrap();
}

async fn forgot(c: &cognito::Client, client: &str, name: &str) -> Result<String, String> {
    c.forgot_password()
        .client_id(client)
        .username(name)
        .send()
        .await
        .map(|r| {
            let d = r.code_delivery_details().unwrap();
            format!(
                "{:?} {} {}",
                d.delivery_medium().unwrap(),
                d.attribute_name().unwrap_or_default(),
                d.destination().unwrap_or_default()
            )
        })
        .map_err(|e| code_and_message(&e))
}

async fn confirm_forgot(
    c: &cognito::Client,
    client: &str,
    name: &str,
    code: &str,
    password: &str,
) -> Result<(), String> {
    c.confirm_forgot_password()
        .client_id(client)
        .username(name)
        .confirmation_code(code)
        .password(password)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code_and_message(&e))
}

async fn confirm_sign_up(
    c: &cognito::Client,
    client: &str,
    name: &str,
    code: &str,
) -> Result<(), String> {
    c.confirm_sign_up()
        .client_id(client)
        .username(name)
        .confirmation_code(code)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code_and_message(&e))
}

async fn resend(c: &cognito::Client, client: &str, name: &str) -> Result<String, String> {
    c.resend_confirmation_code()
        .client_id(client)
        .username(name)
        .send()
        .await
        .map(|r| {
            let d = r.code_delivery_details().unwrap();
            format!(
                "{:?} {}",
                d.delivery_medium().unwrap(),
                d.destination().unwrap_or_default()
            )
        })
        .map_err(|e| code_and_message(&e))
}

async fn sign_up(c: &cognito::Client, client: &str, name: &str, email: &str) -> Result<(), String> {
    c.sign_up()
        .client_id(client)
        .username(name)
        .password("Original-1!")
        .user_attributes(attr("email", email))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code_and_message(&e))
}

fn server_with(backend: Backend, env: &[(&str, &str)]) -> Options {
    let mut o = Options::new(backend);
    o.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    o
}

/// The review's attack: ForgotPassword, five guesses, ForgotPassword again for five fresh
/// guesses, and so on. The failures now outlive the code: after five, the next ForgotPassword is
/// refused, and even the right code of the last message is refused for the window.
async fn alternating_forgot_password_and_guesses_is_stopped(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let client = app(&c, &pool, false).await;
    user(&c, &pool, "alice", "alice@corp.example").await;

    assert!(forgot(&c, &client, "alice").await.is_ok());
    let code = nth_code(&server, "forgot_password", "alice@corp.example", 1).await;
    for n in 0..5 {
        assert_eq!(
            confirm_forgot(&c, &client, "alice", &wrong(&code, n), "Taken-over-1!").await,
            Err(MISMATCH.into()),
            "guess {n}"
        );
    }
    // The old attack's next step: a fresh code with fresh guesses. Refused, as are guesses.
    for _ in 0..3 {
        assert_eq!(forgot(&c, &client, "alice").await, Err(LIMIT.into()));
        assert_eq!(
            confirm_forgot(&c, &client, "alice", &wrong(&code, 9), "Taken-over-1!").await,
            Err(LIMIT.into())
        );
    }
    assert_eq!(
        delivered(&server, "forgot_password", "alice@corp.example"),
        1
    );
    assert_eq!(
        confirm_forgot(&c, &client, "alice", &code, "Taken-over-1!").await,
        Err(LIMIT.into()),
        "even the right code is refused while locked"
    );
    password_sign_in(&c, &client, "alice", "Original-1!")
        .await
        .expect("the password was not changed");
}

/// Legitimate use: a code, one typo, the right code. Then the count starts afresh.
async fn a_reset_with_one_typo_passes(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let client = app(&c, &pool, false).await;
    user(&c, &pool, "tom", "tom@corp.example").await;

    forgot(&c, &client, "tom").await.unwrap();
    let code = nth_code(&server, "forgot_password", "tom@corp.example", 1).await;
    assert_eq!(
        confirm_forgot(&c, &client, "tom", &wrong(&code, 0), "Recovered-1!").await,
        Err(MISMATCH.into())
    );
    // A weak password with the right code does not spend the code (the code is checked first).
    let e = confirm_forgot(&c, &client, "tom", &code, "weak")
        .await
        .unwrap_err();
    assert!(e.starts_with("InvalidPasswordException"), "{e}");
    confirm_forgot(&c, &client, "tom", &code, "Recovered-1!")
        .await
        .unwrap();
    password_sign_in(&c, &client, "tom", "Recovered-1!")
        .await
        .unwrap();
    // The right code cleared the failures: four typos and a right code pass again.
    forgot(&c, &client, "tom").await.unwrap();
    let code = nth_code(&server, "forgot_password", "tom@corp.example", 2).await;
    for n in 0..4 {
        assert_eq!(
            confirm_forgot(&c, &client, "tom", &wrong(&code, n), "Recovered-2!").await,
            Err(MISMATCH.into())
        );
    }
    confirm_forgot(&c, &client, "tom", &code, "Recovered-2!")
        .await
        .unwrap();
}

/// Twenty wrong guesses at once: exactly five are compared, the rest refused; then the right
/// code is refused too.
async fn parallel_wrong_guesses_cannot_pass_the_limit(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let client = app(&c, &pool, false).await;
    user(&c, &pool, "pat", "pat@corp.example").await;
    forgot(&c, &client, "pat").await.unwrap();
    let code = nth_code(&server, "forgot_password", "pat@corp.example", 1).await;
    let guesses: Vec<_> = (0..20)
        .map(|n| {
            let (c, client, guess) = (c.clone(), client.clone(), wrong(&code, n));
            tokio::spawn(async move {
                confirm_forgot(&c, &client, "pat", &guess, "Taken-over-1!")
                    .await
                    .unwrap_err()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for g in guesses {
        answers.push(g.await.unwrap());
    }
    let mismatches = answers.iter().filter(|a| *a == MISMATCH).count();
    let limited = answers.iter().filter(|a| *a == LIMIT).count();
    assert_eq!((mismatches, limited), (5, 15), "{answers:?}");
    assert_eq!(
        confirm_forgot(&c, &client, "pat", &code, "Taken-over-1!").await,
        Err(LIMIT.into())
    );
    // No fresh code brings fresh guesses.
    assert_eq!(forgot(&c, &client, "pat").await, Err(LIMIT.into()));
}

/// Five codes per user and purpose per hour: the sixth ForgotPassword, ResendConfirmationCode
/// or GetUserAttributeVerificationCode is refused, and another user is not affected.
async fn codes_per_user_are_limited_without_touching_other_users(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, true).await;
    let client = app(&c, &pool, false).await;
    user(&c, &pool, "uma", "uma@corp.example").await;
    user(&c, &pool, "vic", "vic@corp.example").await;

    for _ in 0..5 {
        forgot(&c, &client, "uma").await.unwrap();
    }
    assert_eq!(forgot(&c, &client, "uma").await, Err(LIMIT.into()));
    assert_eq!(
        forgot(&c, &client, "vic").await,
        Ok("Email email v***@c***".into())
    );
    // The last of uma's codes still works: the limit stops new codes, not the user.
    let code = nth_code(&server, "forgot_password", "uma@corp.example", 5).await;
    confirm_forgot(&c, &client, "uma", &code, "Recovered-1!")
        .await
        .unwrap();

    // Sign-up codes: SignUp's own code counts, then four resends, then no more.
    sign_up(&c, &client, "walt", "walt@corp.example")
        .await
        .unwrap();
    for _ in 0..4 {
        resend(&c, &client, "walt").await.unwrap();
    }
    assert_eq!(resend(&c, &client, "walt").await, Err(LIMIT.into()));
    assert_eq!(delivered(&server, "sign_up", "walt@corp.example"), 5);

    // Attribute verification codes.
    let access = password_sign_in(&c, &client, "vic", "Original-1!")
        .await
        .unwrap()
        .access_token()
        .unwrap()
        .to_string();
    let get_code = || {
        c.get_user_attribute_verification_code()
            .access_token(&access)
            .attribute_name("email")
            .send()
    };
    for _ in 0..5 {
        get_code().await.unwrap();
    }
    let e = get_code().await.unwrap_err();
    assert_eq!(code_and_message(&e), LIMIT);
}

/// Ten codes per address per hour across users (here six): users sharing one address (in any
/// letter case) cannot flood it, while another address still gets its codes.
async fn codes_per_destination_are_limited_across_users(backend: Backend) {
    let server = Server::start_with(server_with(
        backend,
        &[("GATEHOUSE_CODE_LIMIT_PER_DESTINATION", "6")],
    ))
    .await;
    let c = server.client();
    let pool = pool(&c, true).await;
    let client = app(&c, &pool, false).await;
    sign_up(&c, &client, "m1", "victim@corp.example")
        .await
        .unwrap();
    resend(&c, &client, "m1").await.unwrap();
    resend(&c, &client, "m1").await.unwrap();
    sign_up(&c, &client, "m2", "VICTIM@corp.example")
        .await
        .unwrap();
    resend(&c, &client, "m2").await.unwrap();
    resend(&c, &client, "m2").await.unwrap();
    // m2 has sent three codes of its five; the address has had six.
    assert_eq!(resend(&c, &client, "m2").await, Err(LIMIT.into()));
    assert_eq!(resend(&c, &client, "m1").await, Err(LIMIT.into()));
    sign_up(&c, &client, "m3", "other@corp.example")
        .await
        .unwrap();
    resend(&c, &client, "m3").await.unwrap();
}

/// A ceiling per pool (here three codes an hour): the fourth user's code is refused, also for a
/// name nobody has under a client hiding user existence; another pool is not affected.
async fn codes_per_pool_are_limited(backend: Backend) {
    let server = Server::start_with(server_with(
        backend,
        &[("GATEHOUSE_CODE_LIMIT_PER_POOL", "3")],
    ))
    .await;
    let c = server.client();
    let full = pool(&c, false).await;
    let client = app(&c, &full, false).await;
    let hiding = app(&c, &full, true).await;
    for n in 0..4 {
        user(&c, &full, &format!("p{n}"), &format!("p{n}@corp.example")).await;
    }
    for n in 0..3 {
        forgot(&c, &client, &format!("p{n}")).await.unwrap();
    }
    assert_eq!(forgot(&c, &client, "p3").await, Err(LIMIT.into()));
    assert_eq!(forgot(&c, &hiding, "p3").await, Err(LIMIT.into()));
    assert_eq!(forgot(&c, &hiding, "nobody").await, Err(LIMIT.into()));

    let other = pool(&c, false).await;
    let other_client = app(&c, &other, false).await;
    user(&c, &other, "p0", "p0@other.example").await;
    forgot(&c, &other_client, "p0").await.unwrap();
}

/// PreventUserExistenceErrors ENABLED: every answer about a name nobody has matches the answer
/// about a real user, including when the limits start to refuse.
async fn hidden_users_answer_like_real_ones(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, true).await;
    let hiding = app(&c, &pool, true).await;
    user(&c, &pool, "real", "real@corp.example").await;

    // ForgotPassword: the same shape, the same on repeats; the limit at the same call.
    let real = forgot(&c, &hiding, "real").await.unwrap();
    let ghost = forgot(&c, &hiding, "ghost").await.unwrap();
    assert_eq!(real, "Email email r***@c***");
    let shape = |s: &str| {
        let d = s.rsplit(' ').next().unwrap().to_string();
        d.len() == 9 && &d[1..5] == "***@" && d.ends_with("***")
    };
    assert!(
        ghost.starts_with("Email email ") && shape(&ghost),
        "{ghost}"
    );
    assert_eq!(forgot(&c, &hiding, "ghost").await.unwrap(), ghost);
    assert_eq!(
        forgot(&c, &hiding, "ghost@mail.example").await.unwrap(),
        "Email email g***@m***"
    );
    // Five each so far after these (the typed address above is another name).
    for _ in 0..4 {
        forgot(&c, &hiding, "real").await.unwrap();
    }
    for _ in 0..3 {
        forgot(&c, &hiding, "ghost").await.unwrap();
    }
    assert_eq!(forgot(&c, &hiding, "real").await, Err(LIMIT.into()));
    assert_eq!(forgot(&c, &hiding, "ghost").await, Err(LIMIT.into()));

    // ConfirmForgotPassword: the code before the password policy, so a weak password answers
    // CodeMismatch for both; after five wrong codes both are locked.
    for n in 0..5 {
        assert_eq!(
            confirm_forgot(&c, &hiding, "real", &format!("{n:06}"), "x").await,
            Err(MISMATCH.into())
        );
        assert_eq!(
            confirm_forgot(&c, &hiding, "ghost", &format!("{n:06}"), "x").await,
            Err(MISMATCH.into())
        );
    }
    assert_eq!(
        confirm_forgot(&c, &hiding, "real", "123456", "x").await,
        Err(LIMIT.into())
    );
    assert_eq!(
        confirm_forgot(&c, &hiding, "ghost", "123456", "x").await,
        Err(LIMIT.into())
    );

    // ConfirmSignUp: a confirmed user and a name nobody has both answer like a wrong code.
    for n in 0..5 {
        for name in ["real", "ghost"] {
            assert_eq!(
                confirm_sign_up(&c, &hiding, name, &format!("{n:06}")).await,
                Err(MISMATCH.into()),
                "{name}"
            );
        }
    }
    for name in ["real", "ghost"] {
        assert_eq!(
            confirm_sign_up(&c, &hiding, name, "123456").await,
            Err(LIMIT.into()),
            "{name}"
        );
    }

    // ResendConfirmationCode: a confirmed user is not revealed; both get a delivery and no code.
    let other = app(&c, &pool, true).await;
    user(&c, &pool, "done", "done@corp.example").await;
    assert_eq!(
        resend(&c, &other, "done").await,
        Ok("Email d***@c***".into())
    );
    let ghost = resend(&c, &other, "phantom").await.unwrap();
    assert!(ghost.starts_with("Email ") && shape(&ghost), "{ghost}");
    assert_eq!(delivered(&server, "sign_up", "done@corp.example"), 0);
}

async fn access_token(c: &cognito::Client, client: &str, name: &str) -> String {
    password_sign_in(c, client, name, "Original-1!")
        .await
        .unwrap()
        .access_token()
        .unwrap()
        .to_string()
}

async fn email_state(c: &cognito::Client, pool: &str, name: &str) -> (String, String) {
    let u = c
        .admin_get_user()
        .user_pool_id(pool)
        .username(name)
        .send()
        .await
        .unwrap();
    let get = |n: &str| {
        u.user_attributes()
            .iter()
            .find(|a| a.name() == n)
            .and_then(|a| a.value())
            .unwrap_or_default()
            .to_string()
    };
    (get("email"), get("email_verified"))
}

async fn verify(c: &cognito::Client, access: &str, code: &str) -> Result<(), String> {
    c.verify_user_attribute()
        .access_token(access)
        .attribute_name("email")
        .code(code)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code_and_message(&e))
}

/// A code sent to address A does not verify address B set afterwards.
async fn a_verification_code_proves_only_its_address(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let client = app(&c, &pool, false).await;
    user(&c, &pool, "hal", "hal@own.example").await;
    let access = access_token(&c, &client, "hal").await;
    c.admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("hal")
        .user_attributes(attr("email_verified", "false"))
        .send()
        .await
        .unwrap();
    c.get_user_attribute_verification_code()
        .access_token(&access)
        .attribute_name("email")
        .send()
        .await
        .unwrap();
    let code = nth_code(&server, "verify:email", "hal@own.example", 1).await;
    c.update_user_attributes()
        .access_token(&access)
        .user_attributes(attr("email", "ceo@corp.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(verify(&c, &access, &code).await, Err(MISMATCH.into()));
    assert_eq!(
        email_state(&c, &pool, "hal").await,
        ("ceo@corp.example".into(), "false".into())
    );
}

/// The review's race: VerifyUserAttribute with the code for the user's own address and
/// UpdateUserAttributes to someone else's, at once, fifteen times. The other address never ends
/// up verified.
async fn verifying_while_the_address_changes_never_verifies_the_new_one(backend: Backend) {
    let server = Server::start_with(server_with(
        backend,
        &[("GATEHOUSE_CODE_LIMIT_PER_USER", "100")],
    ))
    .await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let client = app(&c, &pool, false).await;
    user(&c, &pool, "racer", "racer0@own.example").await;
    let access = access_token(&c, &client, "racer").await;
    let mut own_verified = 0;
    for round in 1..=15 {
        let own = format!("racer{round}@own.example");
        c.admin_update_user_attributes()
            .user_pool_id(&pool)
            .username("racer")
            .user_attributes(attr("email", &own))
            .user_attributes(attr("email_verified", "false"))
            .send()
            .await
            .unwrap();
        c.get_user_attribute_verification_code()
            .access_token(&access)
            .attribute_name("email")
            .send()
            .await
            .unwrap();
        let code = nth_code(&server, "verify:email", &own, 1).await;
        let theirs = format!("ceo{round}@corp.example");
        let (v, u) = tokio::join!(verify(&c, &access, &code), async {
            c.update_user_attributes()
                .access_token(&access)
                .user_attributes(attr("email", &theirs))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code_and_message(&e))
        });
        u.unwrap();
        let (email, verified) = email_state(&c, &pool, "racer").await;
        assert_eq!(email, theirs, "round {round}");
        assert_ne!(
            verified, "true",
            "round {round}: {theirs} verified (verify: {v:?})"
        );
        if v.is_ok() {
            own_verified += 1;
        }
    }
    eprintln!("the own address won the race {own_verified} of 15 times");
}

/// L1: a stored code is an HMAC under a key the database does not hold: no code's bare SHA-256
/// (the old format) matches it. The data directory is 0700 and the SQLite files 0600.
async fn codes_are_stored_keyed_and_files_are_private(backend: Backend) {
    use sha2::{Digest, Sha256};
    let sqlite = matches!(backend, Backend::Sqlite);
    let url = match &backend {
        Backend::Sqlite => None,
        Backend::Postgres(url) => Some(url.clone()),
    };
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let client = app(&c, &pool, false).await;
    user(&c, &pool, "ida", "ida@corp.example").await;
    forgot(&c, &client, "ida").await.unwrap();
    let code = nth_code(&server, "forgot_password", "ida@corp.example", 1).await;

    let db_url = match url {
        Some(u) => u,
        None => format!(
            "sqlite://{}",
            server
                .data_dir
                .parent()
                .unwrap()
                .join("gatehouse.db")
                .display()
        ),
    };
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&db_url).await.unwrap();
    let row: (String, String) = sqlx::query_as(
        "SELECT user_id, code_hash FROM user_codes WHERE pool_id = $1 AND purpose = 'forgot_password'",
    )
    .bind(&pool)
    .fetch_one(&db)
    .await
    .unwrap();
    db.close().await;
    let (user_id, stored) = row;
    let old_format = |guess: &str| {
        let mut h = Sha256::new();
        for part in [pool.as_str(), user_id.as_str(), "forgot_password", guess] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        hex::encode(h.finalize())
    };
    assert_ne!(old_format(&code), stored);
    let recovered = (0..1_000_000u32)
        .map(|n| format!("{n:06}"))
        .find(|g| old_format(g) == stored);
    assert_eq!(recovered, None, "the stored hash gave the code away");
    // The code still works.
    confirm_forgot(&c, &client, "ida", &code, "Recovered-1!")
        .await
        .unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&server.data_dir), 0o700, "data directory");
        if sqlite {
            let db = server.data_dir.parent().unwrap().join("gatehouse.db");
            assert_eq!(mode(&db), 0o600, "database file");
            for suffix in ["-wal", "-shm"] {
                let p = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
                if p.exists() {
                    assert_eq!(mode(&p), 0o600, "{}", p.display());
                }
            }
        }
    }
}
