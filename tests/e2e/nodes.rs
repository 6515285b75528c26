//! Several stateless nodes on one Postgres: each keeps a per-node pool cache, and a write on one
//! node is visible on every other at once (LISTEN/NOTIFY invalidation), never stale.

use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::types::{DeletionProtectionType, UserPoolMfaType};

use crate::harness::{error_code, Backend, Options, Server};

async fn two_nodes() -> Option<(Server, Server)> {
    let backend = Backend::postgres()?;
    let account = crate::harness::random_account();
    // Nodes behind one load balancer share its public URL, so they name the same token issuer.
    let public = vec![
        "--public-url".to_string(),
        "https://idp.example.test".to_string(),
    ];
    let mut a = Options::new(backend.clone());
    a.account_id = Some(account.clone());
    a.extra_args = public.clone();
    let mut b = Options::new(backend);
    b.account_id = Some(account);
    b.extra_args = public;
    Some((Server::start_with(a).await, Server::start_with(b).await))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_node_is_seen_by_the_other() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (ca, cb) = (a.client(), b.client());
    let id = ca
        .create_user_pool()
        .pool_name("shared")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    // Node B reads (and caches) the pool.
    let before = cb
        .describe_user_pool()
        .user_pool_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(before.user_pool().unwrap().name(), Some("shared"));

    for round in 0..5 {
        let name = format!("renamed-{round}");
        ca.update_user_pool()
            .user_pool_id(&id)
            .pool_name(&name)
            .send()
            .await
            .unwrap();
        // Invalidation travels through Postgres NOTIFY; allow it a moment, never a stale answer for long.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let seen = cb
                .describe_user_pool()
                .user_pool_id(&id)
                .send()
                .await
                .unwrap();
            if seen.user_pool().unwrap().name() == Some(name.as_str()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node B still serves a stale pool after 2 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // Tags and MFA settings written on B are seen on A.
    let arn = a.pool_arn("us-east-1", &id);
    cb.tag_resource()
        .resource_arn(&arn)
        .tags("from", "b")
        .send()
        .await
        .unwrap();
    cb.set_user_pool_mfa_config()
        .user_pool_id(&id)
        .software_token_mfa_configuration(
            aws_sdk_cognitoidentityprovider::types::SoftwareTokenMfaConfigType::builder()
                .enabled(true)
                .build(),
        )
        .mfa_configuration(UserPoolMfaType::Optional)
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let p = ca
            .describe_user_pool()
            .user_pool_id(&id)
            .send()
            .await
            .unwrap()
            .user_pool
            .unwrap();
        let tagged = p
            .user_pool_tags()
            .and_then(|t| t.get("from"))
            .map(String::as_str)
            == Some("b");
        if tagged && p.mfa_configuration() == Some(&UserPoolMfaType::Optional) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node A did not see node B's writes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // A deletion on A is a deletion on B.
    ca.update_user_pool()
        .user_pool_id(&id)
        .deletion_protection(DeletionProtectionType::Inactive)
        .send()
        .await
        .unwrap();
    ca.delete_user_pool()
        .user_pool_id(&id)
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match cb.describe_user_pool().user_pool_id(&id).send().await {
            Err(e) if error_code(&e) == "ResourceNotFoundException" => break,
            _ => assert!(
                Instant::now() < deadline,
                "node B still serves a deleted pool"
            ),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The email node B returns for `user` in AdminGetUser, or the error code.
async fn email_on(
    c: &aws_sdk_cognitoidentityprovider::Client,
    pool: &str,
    user: &str,
) -> Result<String, String> {
    match c
        .admin_get_user()
        .user_pool_id(pool)
        .username(user)
        .send()
        .await
    {
        Ok(u) => Ok(u
            .user_attributes()
            .iter()
            .find(|a| a.name() == "email")
            .and_then(|a| a.value())
            .unwrap_or_default()
            .to_string()),
        Err(e) => Err(error_code(&e)),
    }
}

/// Polls node B until it answers `want` for `user` (the per-node user cache is invalidated through
/// Postgres NOTIFY: allow it a moment, never a stale answer for long).
async fn eventually(
    c: &aws_sdk_cognitoidentityprovider::Client,
    pool: &str,
    user: &str,
    want: Result<&str, &str>,
) {
    until_b_answers(user, want.map(str::to_string), || email_on(c, pool, user)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_changed_on_one_node_is_not_served_stale_by_the_others_cache() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (ca, cb) = (a.client(), b.client());
    let pool = ca
        .create_user_pool()
        .pool_name("users-shared")
        .alias_attributes(aws_sdk_cognitoidentityprovider::types::AliasAttributeType::Email)
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let attr = |n: &str, v: &str| {
        aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
            .name(n)
            .value(v)
            .build()
            .unwrap()
    };
    ca.admin_create_user()
        .user_pool_id(&pool)
        .username("ann")
        .user_attributes(attr("email", "ann@example.com"))
        .user_attributes(attr("email_verified", "true"))
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    // Node B reads ann by username and by alias, and caches both lookups.
    for _ in 0..3 {
        assert_eq!(
            email_on(&cb, &pool, "ann").await.unwrap(),
            "ann@example.com"
        );
        assert_eq!(
            email_on(&cb, &pool, "ann@example.com").await.unwrap(),
            "ann@example.com"
        );
    }
    for round in 0..5 {
        let email = format!("ann{round}@example.com");
        ca.admin_update_user_attributes()
            .user_pool_id(&pool)
            .username("ann")
            .user_attributes(attr("email", &email))
            .user_attributes(attr("email_verified", "true"))
            .send()
            .await
            .unwrap();
        eventually(&cb, &pool, "ann", Ok(&email)).await;
        eventually(&cb, &pool, &email, Ok(&email)).await;
    }
    // The alias ann gave up no longer finds her on B.
    eventually(&cb, &pool, "ann@example.com", Err("UserNotFoundException")).await;

    // ForceAliasCreation moves ann's email to ben: B's cached alias lookup follows it.
    ca.admin_create_user()
        .user_pool_id(&pool)
        .username("ben")
        .user_attributes(attr("email", "ann4@example.com"))
        .user_attributes(attr("email_verified", "true"))
        .force_alias_creation(true)
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let u = cb
            .admin_get_user()
            .user_pool_id(&pool)
            .username("ann4@example.com")
            .send()
            .await
            .unwrap();
        if u.username() == "ben" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node B still finds ann by the moved alias"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // A deletion on A is a deletion on B.
    ca.admin_delete_user()
        .user_pool_id(&pool)
        .username("ann")
        .send()
        .await
        .unwrap();
    eventually(&cb, &pool, "ann", Err("UserNotFoundException")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_regions_can_be_restricted() {
    let mut opts = Options::new(Backend::Sqlite);
    opts.extra_args = vec!["--regions".into(), "us-east-1,eu-central-1".into()];
    let server = Server::start_with(opts).await;
    server
        .client()
        .list_user_pools()
        .max_results(1)
        .send()
        .await
        .expect("us-east-1 is accepted");
    let other = server.client_for(
        "ap-south-1",
        crate::harness::ADMIN_KEY_ID,
        crate::harness::ADMIN_SECRET,
    );
    let err = other
        .list_user_pools()
        .max_results(1)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidSignatureException");
}

/// Runs `gatehouse migrate` with the given key-encryption key (None: unset) and returns
/// (success, stderr).
fn migrate_with_key(database_url: &str, kek: Option<&str>) -> (bool, String) {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.args(["migrate", "--database-url", database_url])
        .arg("--data-dir")
        .arg(tmp.path())
        .env_remove("GATEHOUSE_KEY_ENCRYPTION_KEY")
        .env_remove("GATEHOUSE_PREVIOUS_KEY_ENCRYPTION_KEYS");
    if let Some(k) = kek {
        cmd.env("GATEHOUSE_KEY_ENCRYPTION_KEY", k);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn postgres_requires_a_shared_key_encryption_key() {
    let Some(Backend::Postgres(url)) = Backend::postgres() else {
        return;
    };
    let (ok, err) = migrate_with_key(&url, None);
    assert!(
        !ok,
        "Postgres without a key-encryption key must refuse to start"
    );
    assert!(
        err.contains("a key-encryption key is required with Postgres"),
        "{err}"
    );
    let (ok, err) = migrate_with_key(&url, Some(crate::harness::TEST_KEK));
    assert!(ok, "{err}");
    // A node with another key would fail on the first secret it reads; it refuses at start instead.
    let other = "b3RoZXIga2V5IG90aGVyIGtleSBvdGhlciBrZXkgMTI=";
    let (ok, err) = migrate_with_key(&url, Some(other));
    assert!(!ok);
    assert!(
        err.contains("does not open this database's secrets"),
        "{err}"
    );
    // Rotation: the new key with the old one listed as previous opens the database.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    let tmp = tempfile::tempdir().unwrap();
    let out = cmd
        .args(["migrate", "--database-url", &url])
        .arg("--data-dir")
        .arg(tmp.path())
        .env("GATEHOUSE_KEY_ENCRYPTION_KEY", other)
        .env(
            "GATEHOUSE_PREVIOUS_KEY_ENCRYPTION_KEYS",
            crate::harness::TEST_KEK,
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn embedded_sqlite_generates_its_key_once() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("g.db").display());
    let data = tmp.path().join("data");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["migrate", "--database-url", &url])
            .arg("--data-dir")
            .arg(&data)
            .env_remove("GATEHOUSE_KEY_ENCRYPTION_KEY")
            .output()
            .unwrap()
    };
    assert!(run().status.success());
    let key_file = data.join("key-encryption-key");
    let first = std::fs::read_to_string(&key_file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(run().status.success(), "the second start reuses the key");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), first);
    std::fs::write(&key_file, "b3RoZXIga2V5IG90aGVyIGtleSBvdGhlciBrZXkgMTI=\n").unwrap();
    let out = run();
    assert!(
        !out.status.success(),
        "a replaced key must not silently open the database"
    );
}

/// Sign-in state lives in the database: an SRP sign-in started on one node finishes on the other,
/// both nodes publish the same keys (made once even when both race to make them), and a sign-out
/// on one node is rejected by the other as soon as the sign-out has answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_sign_out_span_nodes() {
    use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType};

    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (ca, cb) = (a.client(), b.client());
    let pool = crate::sign_in::pool(&ca, false).await;
    // Both nodes make the pool's keys at once; one set wins and both serve it.
    let (ja, jb) = tokio::join!(
        reqwest::get(format!("{}/{pool}/.well-known/jwks.json", a.base_url)),
        reqwest::get(format!("{}/{pool}/.well-known/jwks.json", b.base_url)),
    );
    let ja: serde_json::Value = ja.unwrap().json().await.unwrap();
    let jb: serde_json::Value = jb.unwrap().json().await.unwrap();
    assert_eq!(ja["keys"].as_array().unwrap().len(), 2, "{ja}");
    assert_eq!(ja, jb);

    let (client_id, _) = crate::sign_in::app_client(&ca, &pool, false).await;
    crate::sign_in::user(&ca, &pool, "nora", "Passw0rd!x", "nora@example.com").await;

    for round in 0..3 {
        // USER_SRP_AUTH on A, PASSWORD_VERIFIER on B.
        let session = cognito_srp::client::ClientSession::new();
        let r = ca
            .initiate_auth()
            .client_id(&client_id)
            .auth_flow(AuthFlowType::UserSrpAuth)
            .auth_parameters("USERNAME", "nora")
            .auth_parameters("SRP_A", session.srp_a_hex())
            .send()
            .await
            .unwrap();
        let p = r.challenge_parameters().unwrap();
        let ts = cognito_srp::format_timestamp(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64,
        );
        let sig = session
            .sign(
                cognito_srp::pool_name(&pool),
                "nora",
                "Passw0rd!x",
                &p["SALT"],
                &p["SRP_B"],
                &p["SECRET_BLOCK"],
                &ts,
            )
            .unwrap();
        let t = cb
            .respond_to_auth_challenge()
            .client_id(&client_id)
            .challenge_name(ChallengeNameType::PasswordVerifier)
            .session(r.session().unwrap())
            .challenge_responses("USERNAME", "nora")
            .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &p["SECRET_BLOCK"])
            .challenge_responses("PASSWORD_CLAIM_SIGNATURE", sig)
            .challenge_responses("TIMESTAMP", ts)
            .send()
            .await
            .unwrap()
            .authentication_result
            .unwrap();
        let access = t.access_token().unwrap();
        // Both nodes accept the token (and cache that its session is active).
        ca.get_user().access_token(access).send().await.unwrap();
        cb.get_user().access_token(access).send().await.unwrap();

        // Signed out on one node: the other rejects it on the very next request.
        let (out, other) = if round % 2 == 0 {
            (&ca, &cb)
        } else {
            (&cb, &ca)
        };
        out.global_sign_out()
            .access_token(access)
            .send()
            .await
            .unwrap();
        let e = other
            .get_user()
            .access_token(access)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&e), "NotAuthorizedException");
        assert_eq!(
            crate::harness::error_message(&e),
            "Access Token has been revoked"
        );
    }

    // RevokeToken on B rejects that session's access token on A at once, too.
    let t = crate::sign_in::password_sign_in(&ca, &client_id, "nora", "Passw0rd!x")
        .await
        .unwrap();
    ca.get_user()
        .access_token(t.access_token().unwrap())
        .send()
        .await
        .unwrap();
    cb.revoke_token()
        .client_id(&client_id)
        .token(t.refresh_token().unwrap())
        .send()
        .await
        .unwrap();
    let e = ca
        .get_user()
        .access_token(t.access_token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        crate::harness::error_message(&e),
        "Access Token has been revoked"
    );
}

/// `gatehouse rotate-signing-keys`: new tokens are signed with new keys, the old keys stay
/// published, and tokens they signed keep working until they expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_rotate_without_breaking_tokens() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let crate::harness::Backend::Postgres(url) = backend.clone() else {
        return;
    };
    let account = crate::harness::random_account();
    let public = vec![
        "--public-url".to_string(),
        "https://idp.example.test".to_string(),
    ];
    let mut o = Options::new(backend.clone());
    o.account_id = Some(account.clone());
    o.extra_args = public.clone();
    let a = Server::start_with(o).await;
    let ca = a.client();
    let pool = crate::sign_in::pool(&ca, false).await;
    let (client_id, _) = crate::sign_in::app_client(&ca, &pool, false).await;
    crate::sign_in::user(&ca, &pool, "otto", "Passw0rd!x", "otto@example.com").await;
    let before = crate::sign_in::password_sign_in(&ca, &client_id, "otto", "Passw0rd!x")
        .await
        .unwrap();
    let old_kid = crate::sign_in::claims_header(before.access_token().unwrap())["kid"].clone();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("rotate-signing-keys")
        .arg("--pool-id")
        .arg(&pool)
        .arg("--database-url")
        .arg(&url)
        .env("GATEHOUSE_KEY_ENCRYPTION_KEY", crate::harness::TEST_KEK)
        .env("GATEHOUSE_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        printed["keys"].as_array().unwrap().len(),
        4,
        "old and new keys published"
    );

    // A node started after the rotation signs with the new keys and still accepts old tokens.
    let mut o = Options::new(backend);
    o.account_id = Some(account);
    o.extra_args = public;
    let b = Server::start_with(o).await;
    let cb = b.client();
    let after = crate::sign_in::password_sign_in(&cb, &client_id, "otto", "Passw0rd!x")
        .await
        .unwrap();
    let new_kid = crate::sign_in::claims_header(after.access_token().unwrap())["kid"].clone();
    assert_ne!(old_kid, new_kid);
    cb.get_user()
        .access_token(before.access_token().unwrap())
        .send()
        .await
        .unwrap();
    // Node A has never seen the new kid: it re-reads the keys instead of rejecting the token.
    ca.get_user()
        .access_token(after.access_token().unwrap())
        .send()
        .await
        .unwrap();
    let jwks: serde_json::Value =
        reqwest::get(format!("{}/{pool}/.well-known/jwks.json", b.base_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(jwks, printed);
}

/// Polls until `attempt` on node B answers `want` (a value, or the error code): users and app
/// clients are cached per node and invalidated through Postgres NOTIFY, so allow a moment, never a
/// stale answer for long.
async fn until_b_answers<T, F, Fut>(what: &str, want: Result<T, &str>, attempt: F)
where
    T: PartialEq + std::fmt::Debug,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let got = attempt().await;
        if got.as_ref().map_err(String::as_str) == want.as_ref().map_err(|e| *e) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: node B still answers {got:?}, not {want:?}, after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_client_changed_on_one_node_is_seen_by_the_others_sign_ins() {
    use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType};

    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (ca, cb) = (a.client(), b.client());
    let pool = crate::sign_in::pool(&ca, false).await;
    let (client_id, first_secret) = crate::sign_in::app_client(&ca, &pool, true).await;
    crate::sign_in::user(&ca, &pool, "olga", "Passw0rd!x", "olga@example.com").await;
    let sign_in_on_b = |secret: String| {
        let (cb, client_id) = (cb.clone(), client_id.clone());
        async move {
            cb.initiate_auth()
                .client_id(&client_id)
                .auth_flow(AuthFlowType::UserPasswordAuth)
                .auth_parameters("USERNAME", "olga")
                .auth_parameters("PASSWORD", "Passw0rd!x")
                .auth_parameters(
                    "SECRET_HASH",
                    crate::sign_in::secret_hash(&secret, "olga", &client_id),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| error_code(&e))
        }
    };
    // Node B signs in, and so caches the client with its one secret.
    let first_secret = first_secret.unwrap();
    sign_in_on_b(first_secret.clone()).await.unwrap();

    // A second secret added on A signs in on B.
    let second = ca
        .add_user_pool_client_secret()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .send()
        .await
        .unwrap()
        .client_secret_descriptor
        .unwrap();
    let second_secret = second.client_secret_value().unwrap().to_string();
    until_b_answers("a secret added on A", Ok(()), || {
        sign_in_on_b(second_secret.clone())
    })
    .await;

    // The first secret deleted on A stops signing in on B.
    let first_id = ca
        .list_user_pool_client_secrets()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .send()
        .await
        .unwrap()
        .client_secrets()
        .iter()
        .find(|s| s.client_secret_id() != second.client_secret_id())
        .and_then(|s| s.client_secret_id())
        .unwrap()
        .to_string();
    ca.delete_user_pool_client_secret()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .client_secret_id(&first_id)
        .send()
        .await
        .unwrap();
    until_b_answers(
        "a secret deleted on A",
        Err("NotAuthorizedException"),
        || sign_in_on_b(first_secret.clone()),
    )
    .await;

    // USER_PASSWORD_AUTH turned off on A is refused on B.
    ca.update_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserSrpAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap();
    until_b_answers(
        "a flow turned off on A",
        Err("InvalidParameterException"),
        || sign_in_on_b(second_secret.clone()),
    )
    .await;

    // The client deleted on A is gone on B.
    ca.delete_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .send()
        .await
        .unwrap();
    until_b_answers(
        "a client deleted on A",
        Err("ResourceNotFoundException"),
        || sign_in_on_b(second_secret.clone()),
    )
    .await;
}
