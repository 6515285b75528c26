//! Keys, token checks and secrets at rest (security review L2, L4, L7, L8 and the informational
//! wrong-client note), through the unmodified SDK and raw HTTP, on SQLite and Postgres. Some
//! tests write to the database directly: the threat of L8 is someone who can write it but does
//! not hold the key-encryption key.

use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider as cognito;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cognito::types::{
    AuthFlowType, ChallengeNameType, EmailConfigurationType, EmailSendingAccountType,
    MessageActionType,
};
use serde_json::{json, Value};

use crate::harness::{error_code, error_message, Backend, Options, Server, TEST_KEK};
use crate::sign_in::{attr, claims, claims_header, password_sign_in, FLOWS};

crate::backend_tests!(
    forged_kids_cost_a_bounded_number_of_key_reads,
    public_key_columns_cannot_replace_a_signing_key,
    plain_password_state_is_refused,
    get_user_answers_only_readable_attributes,
    wrong_client_does_not_use_up_the_challenge_session,
    pool_email_sender_must_be_allowed,
);

/// An attacker's RSA key (made for this test, nothing else): it signs forged tokens, and its
/// modulus (base64url) is written over a real key's public columns.
const ATTACKER_KEY_PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\n\
MIIEowIBAAKCAQEAp3ZPK4GultmiuXJP8pLrwPoUqmNUpmN4+CGisg2eHP4bRe7h\n\
iGAKG/XXZwIhqTA3nZH9f3UWO8yW7xdt2rS3BgaIydw4i/vkJ6sOaopx3lzepq0F\n\
IKur0wUoAxM2xCiVR7Sex0q2w5KBgt2OKcrU1mKJH3GEnyOoqm95zKGrByWnNj5p\n\
3WPoEE2eaGRWdMd29C3gXWBWdUzJcuGbEY4qQBAJu4YVazH7MgtNXRs+2TotzkqS\n\
eGzqWVw7Hm5dbkgEplbED/QMkxkG32FE5kaS2sPJ5z3Y7kurNAP3nyHYosYiWC7G\n\
Ri+t6Y0dbZC71FYzwJwe2QfjUdPsORRcBsYB+wIDAQABAoIBABOMDfS28qFSw8RK\n\
xsXlXBXOpc/iaqnwuC5FMCpWyEB7xsTfJpNBG/JPPCFJez1g+UpFart7ItPAb1PM\n\
PntGFzZhrTYxeaZECknjv880MX4dBV5GREV1KcgmyhiwdaGTAnh4FFqQlYx26Egq\n\
wrfidafqoN/l48RMU26a4Yg/IhQMzX/8Tj2zHXBFvyFA6OJLcze65s0GJTWLv+S4\n\
hIS8yju8Ejh87DLTkqJeHq5UeoY2wdGLmxE0gmn8yKKhtarrpvHIUyUX7Eio0uBw\n\
igzfQUksEkPYRg0LacYLFtiTKApzqaKdq25FkwMDHgypdqWkvWTELEeinaIDMMyj\n\
1w4DMw0CgYEA3R47/UWjILpKPwEhjFMr9hQtLTNWyL6mPpetw3ZhEQktJU/sPMg4\n\
KsjHd1F9lbmc0+pbuRVrzhcDUDDiSQkHL4bXwSM4xsj1O0o8wRW44eFUL/RHAiYj\n\
q36cS3q1wIP+yWEa4pQbyP34KrS8ioQ05j7aMCee8FVEVZoyuWOW2fUCgYEAweEz\n\
XrixWjMv1uf1pKCM7GtRdeMZb5sCkSd6MDZdRaNYvAJ2AqeLvRTqAPzp9arxAaUP\n\
kBPKZxNLeM4AK43rQxLhzrYUzmEBsYQPyhUfroRi8U/LUk/hIz/qKp3uyunRx7DX\n\
di2ySk9gBBSzTwgfjNmT+9QqqBrV8Ah1RoCvRi8CgYEAu1Fkoo++vPfz8+HiaL0A\n\
zeuTxenrCA6ySO43zxFW85ahfy1wxKEdK+mBSOxpBlECsWelImsqM6G9Nc7js9mJ\n\
E9MYrc5Hx+bwELU4OJ5NTFWV+zXmfcSPjTWp9CtVE2z+h9zSaMXtr9yuwobv/iw3\n\
oCH4trip5ZFmXVpOxEzAu40CgYBT7v6iPyrodch8LSd3AdqAb2Vwt8RHQMA3vvNy\n\
89YlU7YSjq4wMACa9vbnPpa6uCpmH+NA6JBzVzMRNX11XZdADmibaNBRGEX3Z8i+\n\
H677imybM4Q+Oj6pV/40PPMn/VnILZLZoqbQ7NQQcDXAPTALdhZOq2dcJ2H+7Gp4\n\
/zTiGQKBgGOdxAr8mjQNc658un3j0oH8NqeEp7QU6jnj61keASoKLz3boB3Aq2Xn\n\
bhWBDTXD4t+KiRrCWUnPBWF5jAXzsCdf3A2+kgvZvy53eY5lmApD/0AnalMvwQ+l\n\
v3oOFFP6jBD1GTnTQ4HaNQ8gsOeDsWqAy0iomxNUa0ZbIpok43Y7\n\
-----END RSA PRIVATE KEY-----";
const ATTACKER_MODULUS: &str = "p3ZPK4GultmiuXJP8pLrwPoUqmNUpmN4-CGisg2eHP4bRe7hiGAKG_XXZwIhqTA3nZH9f3UWO8yW7xdt2rS3BgaIydw4i_vkJ6sOaopx3lzepq0FIKur0wUoAxM2xCiVR7Sex0q2w5KBgt2OKcrU1mKJH3GEnyOoqm95zKGrByWnNj5p3WPoEE2eaGRWdMd29C3gXWBWdUzJcuGbEY4qQBAJu4YVazH7MgtNXRs-2TotzkqSeGzqWVw7Hm5dbkgEplbED_QMkxkG32FE5kaS2sPJ5z3Y7kurNAP3nyHYosYiWC7GRi-t6Y0dbZC71FYzwJwe2QfjUdPsORRcBsYB-w";

/// The database the server uses, for writing to it behind the server's back.
async fn database(server: &Server, backend: &Backend) -> (sqlx::AnyPool, String) {
    let url = match backend {
        Backend::Sqlite => format!(
            "sqlite://{}",
            server
                .data_dir
                .parent()
                .unwrap()
                .join("gatehouse.db")
                .display()
        ),
        Backend::Postgres(url) => url.clone(),
    };
    sqlx::any::install_default_drivers();
    (sqlx::AnyPool::connect(&url).await.unwrap(), url)
}

async fn key_reads(server: &Server) -> u64 {
    let text = reqwest::get(format!("{}/metrics", server.base_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("gatehouse_signing_key_reads_total "))
        .unwrap_or_else(|| panic!("no key read counter in {text}"))
        .trim()
        .parse()
        .unwrap()
}

async fn jwks(server: &Server, pool: &str) -> Value {
    reqwest::get(format!("{}/{pool}/.well-known/jwks.json", server.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A pool with a password client and a signed-in user: (pool, client, access token).
async fn signed_in(c: &cognito::Client) -> (String, String, String) {
    let pool = crate::sign_in::pool(c, false).await;
    let (client_id, _) = crate::sign_in::app_client(c, &pool, false).await;
    crate::sign_in::user(c, &pool, "kate", "Passw0rd!x", "kate@example.com").await;
    let tokens = password_sign_in(c, &client_id, "kate", "Passw0rd!x")
        .await
        .unwrap();
    (pool, client_id, tokens.access_token.unwrap())
}

/// `token` with its header replaced (the signature is left as it was).
fn with_header(token: &str, header: &Value) -> String {
    let mut parts = token.splitn(2, '.');
    parts.next();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        parts.next().unwrap()
    )
}

/// The claims of `token`, fresh, signed with `key` under `kid`.
fn resigned(token: &str, kid: &str, key: &jsonwebtoken::EncodingKey) -> String {
    let mut c = claims(token);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    c["iat"] = json!(now);
    c["exp"] = json!(now + 600);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, &c, key).unwrap()
}

async fn get_user(c: &cognito::Client, token: &str) -> Result<Vec<(String, String)>, String> {
    c.get_user()
        .access_token(token)
        .send()
        .await
        .map(|r| {
            r.user_attributes()
                .iter()
                .map(|a| (a.name().to_string(), a.value().unwrap_or("").to_string()))
                .collect()
        })
        .map_err(|e| format!("{}: {}", error_code(&e), error_message(&e)))
}

/// L7: tokens naming kids the pool does not have cost at most one key read per pool every few
/// seconds, however many arrive (in parallel too), and a real rotation is still picked up.
async fn forged_kids_cost_a_bounded_number_of_key_reads(backend: Backend) {
    let server = Server::start(backend.clone()).await;
    let c = server.client();
    let (pool, _, token) = signed_in(&c).await;
    get_user(&c, &token).await.unwrap();
    let before = key_reads(&server).await;

    let mut tasks = Vec::new();
    for t in 0..8 {
        let (c, token) = (c.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let forged = with_header(
                    &token,
                    &json!({"kid": format!("forged-{t}-{i}"), "alg": "RS256"}),
                );
                let e = get_user(&c, &forged).await.unwrap_err();
                assert_eq!(e, "NotAuthorizedException: Invalid Access Token");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let after = key_reads(&server).await;
    assert!(
        after - before <= 2,
        "200 forged kids caused {} key reads",
        after - before
    );

    // A rotation (as another node or the operator makes it) is still honoured: a token signed
    // with the new key verifies once the re-read interval has passed.
    let (db, url) = database(&server, &backend).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("rotate-signing-keys")
        .arg("--pool-id")
        .arg(&pool)
        .arg("--database-url")
        .arg(&url)
        .arg("--data-dir")
        .arg(&server.data_dir)
        .env("GATEHOUSE_KEY_ENCRYPTION_KEY", TEST_KEK)
        .env("GATEHOUSE_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(db);
    let store = storage::SqlStore::connect(&url, 2)
        .await
        .unwrap()
        .with_sealer(storage::Sealer::new(
            &storage::Kek::from_base64(TEST_KEK).unwrap(),
            &[],
        ));
    let keys = domain::ports::AuthStore::signing_keys(&store, &pool)
        .await
        .unwrap();
    let new_key = keys
        .iter()
        .find(|k| k.purpose == domain::ports::KeyPurpose::Access && k.retired_ms.is_none())
        .unwrap();
    let rotated = resigned(
        &token,
        &new_key.kid,
        &jsonwebtoken::EncodingKey::from_rsa_der(&new_key.private_pkcs1_der),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match get_user(&c, &rotated).await {
            Ok(_) => break,
            Err(e) => assert!(
                Instant::now() < deadline,
                "the rotated key is never accepted: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Polling an unknown kid every 250 ms still read the keys only once per interval.
    assert!(key_reads(&server).await - after <= 4);
}

/// L8: the JWKS and token verification use the public key of the sealed private key; rewriting
/// the plain modulus column with an attacker's key changes neither, and tokens the attacker signs
/// are refused.
async fn public_key_columns_cannot_replace_a_signing_key(backend: Backend) {
    let server = Server::start(backend.clone()).await;
    let c = server.client();
    let (pool, client_id, token) = signed_in(&c).await;
    let kid = claims_header(&token)["kid"].as_str().unwrap().to_string();
    let published = jwks(&server, &pool).await;

    let (db, _) = database(&server, &backend).await;
    let changed = sqlx::query(
        "UPDATE signing_keys SET modulus = $1, exponent = 'AQAB' WHERE pool_id = $2 AND kid = $3",
    )
    .bind(ATTACKER_MODULUS)
    .bind(&pool)
    .bind(&kid)
    .execute(&db)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(changed, 1);
    // An unknown kid makes the server read the keys again, tampered row included.
    let unknown = with_header(&token, &json!({"kid": "not-a-key", "alg": "RS256"}));
    assert!(get_user(&c, &unknown).await.is_err());

    let attacker = jsonwebtoken::EncodingKey::from_rsa_pem(ATTACKER_KEY_PEM.as_bytes()).unwrap();
    let forged = resigned(&token, &kid, &attacker);
    assert_eq!(
        get_user(&c, &forged).await.unwrap_err(),
        "NotAuthorizedException: Invalid Access Token"
    );
    assert_eq!(jwks(&server, &pool).await, published);
    get_user(&c, &token).await.unwrap();
    let again = password_sign_in(&c, &client_id, "kate", "Passw0rd!x")
        .await
        .unwrap();
    get_user(&c, again.access_token().unwrap()).await.unwrap();
}

/// L8: a password state written as plain JSON (not sealed with the key-encryption key) is never
/// trusted: signing in with the password it describes fails.
async fn plain_password_state_is_refused(backend: Backend) {
    let mut o = Options::new(backend.clone());
    // No cached copy of the victim: every sign-in reads the row.
    o.extra_args = vec!["--user-cache-capacity".into(), "0".into()];
    let server = Server::start_with(o).await;
    let c = server.client();
    let pool = crate::sign_in::pool(&c, false).await;
    let (client_id, _) = crate::sign_in::app_client(&c, &pool, false).await;
    crate::sign_in::user(
        &c,
        &pool,
        "victim",
        "Victim-Passw0rd!",
        "victim@example.com",
    )
    .await;
    crate::sign_in::user(&c, &pool, "mallory", "Mallory-Passw0rd!", "m@example.com").await;

    // The attacker's own password state, as plain JSON (here opened with the test's key; an
    // attacker would compute it), written into the victim's row.
    let (db, _) = database(&server, &backend).await;
    let row: (String, String) =
        sqlx::query_as("SELECT id, password FROM users WHERE pool_id = $1 AND username = $2")
            .bind(&pool)
            .bind("mallory")
            .fetch_one(&db)
            .await
            .unwrap();
    let sealer = storage::Sealer::new(&storage::Kek::from_base64(TEST_KEK).unwrap(), &[]);
    let plain = sealer
        .open_string(&format!("user-password:{pool}/{}", row.0), &row.1)
        .unwrap();
    assert!(plain.starts_with('{'));
    sqlx::query("UPDATE users SET password = $1 WHERE pool_id = $2 AND username = $3")
        .bind(&plain)
        .bind(&pool)
        .bind("victim")
        .execute(&db)
        .await
        .unwrap();

    let e = password_sign_in(&c, &client_id, "victim", "Mallory-Passw0rd!")
        .await
        .unwrap_err();
    assert!(
        e.starts_with("NotAuthorizedException") || e.starts_with("InternalErrorException"),
        "{e}"
    );
    password_sign_in(&c, &client_id, "mallory", "Mallory-Passw0rd!")
        .await
        .unwrap();
}

/// L2: GetUser shows what the token's app client may read (ReadAttributes), like its ID token.
async fn get_user_answers_only_readable_attributes(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = crate::sign_in::pool(&c, false).await;
    let narrow = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("narrow")
        .set_explicit_auth_flows(Some(FLOWS.to_vec()))
        .read_attributes("name")
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    let (wide, _) = crate::sign_in::app_client(&c, &pool, false).await;
    crate::sign_in::user(&c, &pool, "nina", "Passw0rd!x", "nina@example.com").await;
    c.admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("nina")
        .user_attributes(attr("name", "Nina"))
        .send()
        .await
        .unwrap();

    let tokens = password_sign_in(&c, &narrow, "nina", "Passw0rd!x")
        .await
        .unwrap();
    let attrs = get_user(&c, tokens.access_token().unwrap()).await.unwrap();
    let mut names: Vec<&str> = attrs.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert_eq!(names, ["name", "sub"], "{attrs:?}");
    let id = claims(tokens.id_token().unwrap());
    assert!(id.get("email").is_none() && id.get("custom:tier").is_none());
    assert_eq!(id["name"], "Nina");

    let tokens = password_sign_in(&c, &wide, "nina", "Passw0rd!x")
        .await
        .unwrap();
    let attrs = get_user(&c, tokens.access_token().unwrap()).await.unwrap();
    for name in ["email", "email_verified", "custom:tier", "name", "sub"] {
        assert!(attrs.iter().any(|(n, _)| n == name), "{name} in {attrs:?}");
    }
}

/// Informational: answering a challenge through another app client is refused as before, and no
/// longer uses the Session up: the right client still completes the sign-in.
async fn wrong_client_does_not_use_up_the_challenge_session(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = crate::sign_in::pool(&c, false).await;
    let (right, _) = crate::sign_in::app_client(&c, &pool, false).await;
    let (wrong, _) = crate::sign_in::app_client(&c, &pool, false).await;
    c.admin_create_user()
        .user_pool_id(&pool)
        .username("newbie")
        .temporary_password("Temp-Passw0rd!")
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let started = c
        .initiate_auth()
        .client_id(&right)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "newbie")
        .auth_parameters("PASSWORD", "Temp-Passw0rd!")
        .send()
        .await
        .unwrap();
    assert_eq!(
        started.challenge_name(),
        Some(&ChallengeNameType::NewPasswordRequired)
    );
    let session = started.session().unwrap().to_string();
    let answer = |client: &str| {
        c.respond_to_auth_challenge()
            .client_id(client)
            .challenge_name(ChallengeNameType::NewPasswordRequired)
            .session(&session)
            .challenge_responses("USERNAME", "newbie")
            .challenge_responses("NEW_PASSWORD", "Final-Passw0rd!")
            .send()
    };
    let e = answer(&wrong).await.unwrap_err();
    assert_eq!(error_code(&e), "NotAuthorizedException");
    assert_eq!(
        error_message(&e),
        "Invalid session for the user, session is expired."
    );
    let done = answer(&right).await.unwrap();
    assert!(done
        .authentication_result()
        .unwrap()
        .access_token()
        .is_some());
    // Taken now: the Session answers once.
    assert_eq!(
        error_code(&answer(&right).await.unwrap_err()),
        "NotAuthorizedException"
    );
}

fn developer_email(from: Option<&str>, source_arn: Option<&str>) -> EmailConfigurationType {
    EmailConfigurationType::builder()
        .email_sending_account(EmailSendingAccountType::Developer)
        .set_from(from.map(Into::into))
        .set_source_arn(source_arn.map(Into::into))
        .build()
}

/// L4: a pool names as its email sender only what the operator allows (none configured: only
/// the server's own sender); anything else answers InvalidParameterException as Cognito does for
/// an unverified SES identity.
async fn pool_email_sender_must_be_allowed(backend: Backend) {
    let server = Server::start(backend.clone()).await;
    let c = server.client();
    let spoofed = developer_email(Some("Security Team <security@bank.example>"), None);
    let e = c
        .create_user_pool()
        .pool_name("spoof")
        .email_configuration(spoofed.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "InvalidParameterException");
    assert!(
        error_message(&e).contains("Email address is not verified.")
            && error_message(&e).contains("identity/security@bank.example"),
        "{}",
        error_message(&e)
    );
    let pool = crate::sign_in::pool(&c, false).await;
    let e = c
        .update_user_pool()
        .user_pool_id(&pool)
        .email_configuration(spoofed)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "InvalidParameterException");
    let described = c
        .describe_user_pool()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap();
    let email = described
        .user_pool()
        .unwrap()
        .email_configuration()
        .unwrap();
    assert_eq!(email.from(), None, "the refused update changed nothing");

    // With an allow-list: listed domains and addresses pass, others (and domain identities
    // outside it) do not.
    let mut o = Options::new(backend);
    o.extra_args = vec![
        "--allowed-email-senders".into(),
        "example.com,team@example.org".into(),
    ];
    let server = Server::start_with(o).await;
    let c = server.client();
    let pool = crate::sign_in::pool(&c, false).await;
    for ok in ["Team <team@example.com>", "team@example.org"] {
        c.update_user_pool()
            .user_pool_id(&pool)
            .email_configuration(developer_email(Some(ok), None))
            .send()
            .await
            .unwrap();
    }
    let arn = format!(
        "arn:aws:ses:us-east-1:{}:identity/bank.example",
        server.account_id
    );
    for (from, source_arn) in [
        (Some("other@example.org"), None),
        (Some("ceo@bank.example"), None),
        (None, Some(arn.as_str())),
    ] {
        let e = c
            .update_user_pool()
            .user_pool_id(&pool)
            .email_configuration(developer_email(from, source_arn))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            error_code(&e),
            "InvalidParameterException",
            "{from:?} {source_arn:?}"
        );
    }
}
