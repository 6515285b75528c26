//! Sign-in through the unmodified SDK: password and SRP flows, NEW_PASSWORD_REQUIRED, tokens and
//! their claims checked against the served JWKS, refresh, revocation, sign-out, lockout and the
//! errors Cognito answers. SRP's client side is computed with the same math amazon-cognito-identity-js
//! uses (`cognito_srp::client`), proven against the reference vector in that crate.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cognito;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cognito::types::{
    AliasAttributeType, AttributeDataType, AttributeType, AuthFlowType, AuthenticationResultType,
    ChallengeNameType, ExplicitAuthFlowsType, FeatureType, MessageActionType, PasswordPolicyType,
    PreventUserExistenceErrorTypes, RefreshTokenRotationType, SchemaAttributeType, TimeUnitsType,
    TokenValidityUnitsType, UserPoolPolicyType, UserStatusType,
};
use serde_json::Value;

use crate::harness::{error_code, error_message, Backend, Server};

crate::backend_tests!(
    password_sign_in_issues_cognitos_tokens,
    srp_sign_in_with_alias_secret_and_no_session,
    new_password_required_then_sign_in,
    sign_in_errors_follow_cognito,
    refresh_revoke_and_sign_out,
    refresh_token_rotation,
    lockout_holds_under_parallel_attempts,
);

pub const FLOWS: [ExplicitAuthFlowsType; 4] = [
    ExplicitAuthFlowsType::AllowUserPasswordAuth,
    ExplicitAuthFlowsType::AllowUserSrpAuth,
    ExplicitAuthFlowsType::AllowAdminUserPasswordAuth,
    ExplicitAuthFlowsType::AllowRefreshTokenAuth,
];

pub fn attr(name: &str, value: &str) -> AttributeType {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .unwrap()
}

pub async fn pool(c: &cognito::Client, alias_email: bool) -> String {
    let mut req = c.create_user_pool().pool_name("signin").schema(
        SchemaAttributeType::builder()
            .name("tier")
            .attribute_data_type(AttributeDataType::Number)
            .build(),
    );
    if alias_email {
        req = req.alias_attributes(AliasAttributeType::Email);
    }
    req.send().await.unwrap().user_pool.unwrap().id.unwrap()
}

pub async fn app_client(c: &cognito::Client, pool: &str, secret: bool) -> (String, Option<String>) {
    let r = c
        .create_user_pool_client()
        .user_pool_id(pool)
        .client_name("app")
        .set_explicit_auth_flows(Some(FLOWS.to_vec()))
        .generate_secret(secret)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    (r.client_id.unwrap(), r.client_secret)
}

/// A CONFIRMED user with a permanent password.
pub async fn user(c: &cognito::Client, pool: &str, name: &str, pw: &str, email: &str) {
    c.admin_create_user()
        .user_pool_id(pool)
        .username(name)
        .message_action(MessageActionType::Suppress)
        .user_attributes(attr("email", email))
        .user_attributes(attr("email_verified", "true"))
        .user_attributes(attr("custom:tier", "3"))
        .send()
        .await
        .unwrap();
    c.admin_set_user_password()
        .user_pool_id(pool)
        .username(name)
        .password(pw)
        .permanent(true)
        .send()
        .await
        .unwrap();
}

pub fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

pub fn claims_header(token: &str) -> Value {
    header(token)
}

fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

pub fn secret_hash(secret: &str, username: &str, client_id: &str) -> String {
    cognito_srp::secret_hash(secret, username, client_id)
}

pub async fn password_sign_in(
    c: &cognito::Client,
    client_id: &str,
    username: &str,
    pw: &str,
) -> Result<AuthenticationResultType, String> {
    match c
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", pw)
        .send()
        .await
    {
        Ok(r) => r
            .authentication_result
            .ok_or_else(|| format!("challenge {:?}", r.challenge_name)),
        Err(e) => Err(format!("{}: {}", error_code(&e), error_message(&e))),
    }
}

/// The two SRP round trips as amazon-cognito-identity-js makes them. `with_session` false answers
/// with the SECRET_BLOCK alone, as some clients do.
pub async fn srp_sign_in(
    c: &cognito::Client,
    pool: &str,
    client_id: &str,
    username: &str,
    pw: &str,
    secret: Option<&str>,
    with_session: bool,
) -> Result<AuthenticationResultType, String> {
    let out = srp_exchange(c, pool, client_id, username, pw, secret, with_session).await?;
    out.authentication_result
        .ok_or_else(|| format!("challenge {:?}", out.challenge_name))
}

/// SRP for a client without a secret, answering with the Session: what follows the password
/// (tokens or the next challenge).
pub async fn srp_sign_in_steps(
    c: &cognito::Client,
    pool: &str,
    client_id: &str,
    username: &str,
    pw: &str,
) -> Result<cognito::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput, String> {
    srp_exchange(c, pool, client_id, username, pw, None, true).await
}

async fn srp_exchange(
    c: &cognito::Client,
    pool: &str,
    client_id: &str,
    username: &str,
    pw: &str,
    secret: Option<&str>,
    with_session: bool,
) -> Result<cognito::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput, String> {
    let session = cognito_srp::client::ClientSession::new();
    let mut init = c
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("SRP_A", session.srp_a_hex());
    if let Some(s) = secret {
        init = init.auth_parameters("SECRET_HASH", secret_hash(s, username, client_id));
    }
    let r = init
        .send()
        .await
        .map_err(|e| format!("{}: {}", error_code(&e), error_message(&e)))?;
    assert_eq!(r.challenge_name, Some(ChallengeNameType::PasswordVerifier));
    let p = r.challenge_parameters.unwrap();
    let user_id = p["USER_ID_FOR_SRP"].clone();
    assert_eq!(p["USERNAME"], user_id);
    let timestamp = cognito_srp::format_timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    let signature = session
        .sign(
            cognito_srp::pool_name(pool),
            &user_id,
            pw,
            &p["SALT"],
            &p["SRP_B"],
            &p["SECRET_BLOCK"],
            &timestamp,
        )
        .map_err(|e| format!("client SRP failed: {e:?}"))?;
    let mut resp = c
        .respond_to_auth_challenge()
        .client_id(client_id)
        .challenge_name(ChallengeNameType::PasswordVerifier)
        .challenge_responses("USERNAME", &user_id)
        .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &p["SECRET_BLOCK"])
        .challenge_responses("PASSWORD_CLAIM_SIGNATURE", signature)
        .challenge_responses("TIMESTAMP", timestamp);
    if with_session {
        resp = resp.session(r.session.unwrap());
    }
    if let Some(s) = secret {
        resp = resp.challenge_responses("SECRET_HASH", secret_hash(s, &user_id, client_id));
    }
    resp.send()
        .await
        .map_err(|e| format!("{}: {}", error_code(&e), error_message(&e)))
}

/// Verifies a token's RS256 signature with the key the pool's JWKS publishes under its kid.
async fn verify_with_jwks(server: &Server, pool: &str, token: &str) -> Value {
    let jwks: Value = reqwest::get(format!("{}/{pool}/.well-known/jwks.json", server.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = header(token)["kid"].as_str().unwrap().to_string();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("kid published in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .expect("signature verifies")
        .claims
}

async fn password_sign_in_issues_cognitos_tokens(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let client_id = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("app")
        .set_explicit_auth_flows(Some(FLOWS.to_vec()))
        .read_attributes("email")
        .read_attributes("email_verified")
        .read_attributes("custom:tier")
        .access_token_validity(30)
        .id_token_validity(2)
        .token_validity_units(
            TokenValidityUnitsType::builder()
                .access_token(TimeUnitsType::Minutes)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    user(&c, &pool, "alice", "Passw0rd!x", "alice@example.com").await;
    c.admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("alice")
        .user_attributes(attr("name", "Alice Liddell"))
        .send()
        .await
        .unwrap();
    for (g, p, role) in [
        (
            "readers",
            Some(5),
            Some("arn:aws:iam::123456789012:role/readers"),
        ),
        (
            "admins",
            Some(1),
            Some("arn:aws:iam::123456789012:role/admins"),
        ),
        ("plain", None, None),
    ] {
        c.create_group()
            .user_pool_id(&pool)
            .group_name(g)
            .set_precedence(p)
            .set_role_arn(role.map(str::to_string))
            .send()
            .await
            .unwrap();
        c.admin_add_user_to_group()
            .user_pool_id(&pool)
            .username("alice")
            .group_name(g)
            .send()
            .await
            .unwrap();
    }

    let t = password_sign_in(&c, &client_id, "alice", "Passw0rd!x")
        .await
        .unwrap();
    assert_eq!(t.token_type(), Some("Bearer"));
    assert_eq!(
        t.expires_in(),
        30 * 60,
        "ExpiresIn is the access token lifetime"
    );
    let refresh = t.refresh_token().unwrap();
    assert_eq!(
        refresh.split('.').count(),
        5,
        "refresh tokens keep Cognito's JWE shape"
    );
    let (id, access) = (t.id_token().unwrap(), t.access_token().unwrap());

    // Header exactly {kid, alg}; ID and access tokens are signed with different keys.
    let (hi, ha) = (header(id), header(access));
    assert_eq!(hi.as_object().unwrap().len(), 2, "{hi}");
    assert_eq!(hi["alg"], "RS256");
    assert_ne!(hi["kid"], ha["kid"]);

    let ic = verify_with_jwks(&server, &pool, id).await;
    let ac = verify_with_jwks(&server, &pool, access).await;
    let iss = format!("{}/{pool}", server.base_url);
    let sub = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("alice")
        .send()
        .await
        .unwrap()
        .user_attributes()
        .iter()
        .find(|a| a.name() == "sub")
        .unwrap()
        .value()
        .unwrap()
        .to_string();

    assert_eq!(ic["iss"], iss.as_str());
    assert_eq!(ic["sub"], sub.as_str());
    assert_eq!(ic["aud"], client_id.as_str());
    assert_eq!(ic["token_use"], "id");
    assert_eq!(ic["cognito:username"], "alice");
    assert_eq!(ic["email"], "alice@example.com");
    assert_eq!(ic["email_verified"], Value::Bool(true));
    assert_eq!(
        ic["custom:tier"], "3",
        "custom attributes are strings in tokens"
    );
    assert!(
        ic.get("name").is_none(),
        "name is not in the client's ReadAttributes"
    );
    assert_eq!(
        ic["cognito:groups"],
        serde_json::json!(["admins", "readers", "plain"]),
        "groups by precedence"
    );
    assert_eq!(
        ic["cognito:roles"],
        serde_json::json!([
            "arn:aws:iam::123456789012:role/admins",
            "arn:aws:iam::123456789012:role/readers"
        ])
    );
    assert_eq!(
        ic["cognito:preferred_role"],
        "arn:aws:iam::123456789012:role/admins"
    );
    assert_eq!(
        ic["exp"].as_i64().unwrap() - ic["iat"].as_i64().unwrap(),
        2 * 3600,
        "IdTokenValidity 2 in the default unit, hours"
    );

    assert_eq!(ac["iss"], iss.as_str());
    assert_eq!(ac["sub"], sub.as_str());
    assert!(
        ac.get("aud").is_none(),
        "access tokens carry client_id, not aud"
    );
    assert_eq!(ac["client_id"], client_id.as_str());
    assert_eq!(ac["token_use"], "access");
    assert_eq!(ac["scope"], "aws.cognito.signin.user.admin");
    assert_eq!(ac["username"], "alice");
    assert_eq!(ac["cognito:groups"], ic["cognito:groups"]);
    assert_eq!(ac["origin_jti"], ic["origin_jti"]);
    assert_ne!(ac["jti"], ic["jti"]);
    assert_eq!(ac["auth_time"], ic["auth_time"]);
    assert_eq!(
        ac["exp"].as_i64().unwrap() - ac["iat"].as_i64().unwrap(),
        1800
    );
    for k in ["jti", "origin_jti", "event_id"] {
        assert_eq!(ac[k].as_str().unwrap().len(), 36, "{k} is a UUID");
    }

    // The discovery document names the same issuer and the JWKS.
    let doc: Value = reqwest::get(format!(
        "{}/{pool}/.well-known/openid-configuration",
        server.base_url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(doc["issuer"], iss.as_str());
    assert_eq!(
        doc["jwks_uri"],
        format!("{iss}/.well-known/jwks.json").as_str()
    );
    let missing = reqwest::get(format!(
        "{}/us-east-1_nopool/.well-known/jwks.json",
        server.base_url
    ))
    .await
    .unwrap();
    assert_eq!(missing.status(), 404);

    // GetUser answers the user's attributes the token's client may read (its ReadAttributes
    // leave out `name`), and refuses the ID token.
    let me = c.get_user().access_token(access).send().await.unwrap();
    assert_eq!(me.username(), "alice");
    let names: Vec<&str> = me.user_attributes().iter().map(|a| a.name()).collect();
    assert!(names.contains(&"sub") && names.contains(&"email") && !names.contains(&"name"));
    let e = c.get_user().access_token(id).send().await.unwrap_err();
    assert_eq!(error_code(&e), "NotAuthorizedException");
    assert_eq!(error_message(&e), "Invalid Access Token");

    // A tampered payload fails the signature.
    let mut parts: Vec<String> = access.split('.').map(str::to_string).collect();
    let mut forged = claims(access);
    forged["username"] = Value::String("mallory".into());
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
    let e = c
        .get_user()
        .access_token(parts.join("."))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&e), "Invalid Access Token");

    // ADMIN_USER_PASSWORD_AUTH and its legacy name ADMIN_NO_SRP_AUTH, signed.
    for flow in [
        AuthFlowType::AdminUserPasswordAuth,
        AuthFlowType::AdminNoSrpAuth,
    ] {
        let r = c
            .admin_initiate_auth()
            .user_pool_id(&pool)
            .client_id(&client_id)
            .auth_flow(flow)
            .auth_parameters("USERNAME", "alice")
            .auth_parameters("PASSWORD", "Passw0rd!x")
            .send()
            .await
            .unwrap();
        assert!(r.authentication_result().unwrap().id_token().is_some());
    }
}

async fn srp_sign_in_with_alias_secret_and_no_session(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, true).await;
    let (plain, _) = app_client(&c, &pool, false).await;
    let (secret_client, secret) = app_client(&c, &pool, true).await;
    let secret = secret.unwrap();
    user(&c, &pool, "bob", "Sup3r$ecret", "bob@example.com").await;

    // By username, with the Session.
    let t = srp_sign_in(&c, &pool, &plain, "bob", "Sup3r$ecret", None, true)
        .await
        .unwrap();
    assert_eq!(claims(t.access_token().unwrap())["username"], "bob");
    // By the verified email alias: USER_ID_FOR_SRP is the real username.
    let t = srp_sign_in(
        &c,
        &pool,
        &plain,
        "bob@example.com",
        "Sup3r$ecret",
        None,
        false,
    )
    .await
    .unwrap();
    assert_eq!(claims(t.id_token().unwrap())["cognito:username"], "bob");
    // With a client secret (SECRET_HASH on both steps).
    srp_sign_in(
        &c,
        &pool,
        &secret_client,
        "bob",
        "Sup3r$ecret",
        Some(&secret),
        true,
    )
    .await
    .unwrap();
    // A wrong password fails the signature check.
    let e = srp_sign_in(&c, &pool, &plain, "bob", "wrong-Passw0rd", None, true)
        .await
        .unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
    // SECRET_HASH missing or wrong.
    let e = srp_sign_in(&c, &pool, &secret_client, "bob", "Sup3r$ecret", None, true)
        .await
        .unwrap_err();
    assert_eq!(
        e,
        format!(
            "NotAuthorizedException: Client {secret_client} is configured for secret but secret was not received"
        )
    );
    let e = srp_sign_in(
        &c,
        &pool,
        &secret_client,
        "bob",
        "Sup3r$ecret",
        Some("wrong"),
        true,
    )
    .await
    .unwrap_err();
    assert_eq!(
        e,
        format!("NotAuthorizedException: Unable to verify secret hash for client {secret_client}")
    );

    // A Session answers once: replaying the same answer is refused.
    let session = cognito_srp::client::ClientSession::new();
    let r = c
        .initiate_auth()
        .client_id(&plain)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", "bob")
        .auth_parameters("SRP_A", session.srp_a_hex())
        .send()
        .await
        .unwrap();
    let p = r.challenge_parameters().unwrap().clone();
    let ts = cognito_srp::format_timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    let sig = session
        .sign(
            cognito_srp::pool_name(&pool),
            "bob",
            "Sup3r$ecret",
            &p["SALT"],
            &p["SRP_B"],
            &p["SECRET_BLOCK"],
            &ts,
        )
        .unwrap();
    let answer = |session_id: String| {
        c.respond_to_auth_challenge()
            .client_id(&plain)
            .challenge_name(ChallengeNameType::PasswordVerifier)
            .session(session_id)
            .challenge_responses("USERNAME", "bob")
            .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &p["SECRET_BLOCK"])
            .challenge_responses("PASSWORD_CLAIM_SIGNATURE", &sig)
            .challenge_responses("TIMESTAMP", &ts)
            .send()
    };
    answer(r.session().unwrap().to_string()).await.unwrap();
    let e = answer(r.session().unwrap().to_string()).await.unwrap_err();
    assert_eq!(error_code(&e), "NotAuthorizedException");
    assert_eq!(
        error_message(&e),
        "Invalid session for the user, session is expired."
    );

    // SRP through AdminInitiateAuth / AdminRespondToAuthChallenge.
    let session = cognito_srp::client::ClientSession::new();
    let r = c
        .admin_initiate_auth()
        .user_pool_id(&pool)
        .client_id(&plain)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", "bob")
        .auth_parameters("SRP_A", session.srp_a_hex())
        .send()
        .await
        .unwrap();
    let p = r.challenge_parameters().unwrap();
    let sig = session
        .sign(
            cognito_srp::pool_name(&pool),
            "bob",
            "Sup3r$ecret",
            &p["SALT"],
            &p["SRP_B"],
            &p["SECRET_BLOCK"],
            &ts,
        )
        .unwrap();
    let done = c
        .admin_respond_to_auth_challenge()
        .user_pool_id(&pool)
        .client_id(&plain)
        .challenge_name(ChallengeNameType::PasswordVerifier)
        .session(r.session().unwrap())
        .challenge_responses("USERNAME", "bob")
        .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &p["SECRET_BLOCK"])
        .challenge_responses("PASSWORD_CLAIM_SIGNATURE", sig)
        .challenge_responses("TIMESTAMP", &ts)
        .send()
        .await
        .unwrap();
    assert!(done
        .authentication_result()
        .unwrap()
        .access_token()
        .is_some());
}

async fn new_password_required_then_sign_in(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let (client_id, _) = app_client(&c, &pool, false).await;
    c.admin_create_user()
        .user_pool_id(&pool)
        .username("carol")
        .temporary_password("Temp-0rary!")
        .message_action(MessageActionType::Suppress)
        .user_attributes(attr("email", "carol@example.com"))
        .send()
        .await
        .unwrap();

    // SRP with the temporary password leads to NEW_PASSWORD_REQUIRED too.
    let session = cognito_srp::client::ClientSession::new();
    let r = c
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", "carol")
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
            "carol",
            "Temp-0rary!",
            &p["SALT"],
            &p["SRP_B"],
            &p["SECRET_BLOCK"],
            &ts,
        )
        .unwrap();
    let r = c
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::PasswordVerifier)
        .session(r.session().unwrap())
        .challenge_responses("USERNAME", "carol")
        .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &p["SECRET_BLOCK"])
        .challenge_responses("PASSWORD_CLAIM_SIGNATURE", sig)
        .challenge_responses("TIMESTAMP", ts)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.challenge_name(),
        Some(&ChallengeNameType::NewPasswordRequired)
    );
    let p = r.challenge_parameters().unwrap();
    assert_eq!(p["USER_ID_FOR_SRP"], "carol");
    assert_eq!(p["requiredAttributes"], "[]");
    let current: HashMap<String, String> = serde_json::from_str(&p["userAttributes"]).unwrap();
    assert_eq!(current["email"], "carol@example.com");
    assert!(!current.contains_key("sub"));

    // A new password below the policy is refused; the session is spent, so start again.
    let e = c
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(r.session().unwrap())
        .challenge_responses("USERNAME", "carol")
        .challenge_responses("NEW_PASSWORD", "short")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "InvalidPasswordException");

    let r = c
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "carol")
        .auth_parameters("PASSWORD", "Temp-0rary!")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.challenge_name(),
        Some(&ChallengeNameType::NewPasswordRequired)
    );
    let done = c
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(r.session().unwrap())
        .challenge_responses("USERNAME", "carol")
        .challenge_responses("NEW_PASSWORD", "Brand-New-1!")
        .challenge_responses("userAttributes.name", "Carol")
        .send()
        .await
        .unwrap();
    let t = done.authentication_result().unwrap();
    assert_eq!(claims(t.id_token().unwrap())["name"], "Carol");

    let u = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("carol")
        .send()
        .await
        .unwrap();
    assert_eq!(u.user_status(), Some(&UserStatusType::Confirmed));
    // The new password works for both flows; the temporary one no longer does.
    password_sign_in(&c, &client_id, "carol", "Brand-New-1!")
        .await
        .unwrap();
    srp_sign_in(&c, &pool, &client_id, "carol", "Brand-New-1!", None, true)
        .await
        .unwrap();
    assert_eq!(
        password_sign_in(&c, &client_id, "carol", "Temp-0rary!")
            .await
            .unwrap_err(),
        "NotAuthorizedException: Incorrect username or password."
    );
}

async fn sign_in_errors_follow_cognito(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let (client_id, _) = app_client(&c, &pool, false).await;
    user(&c, &pool, "dave", "Passw0rd!x", "dave@example.com").await;

    // A flow the client does not allow.
    let srp_only = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("srp-only")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserSrpAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    assert_eq!(
        password_sign_in(&c, &srp_only, "dave", "Passw0rd!x")
            .await
            .unwrap_err(),
        "InvalidParameterException: USER_PASSWORD_AUTH flow not enabled for this client"
    );
    // Admin flows are not for InitiateAuth.
    let e = c
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "dave")
        .auth_parameters("PASSWORD", "Passw0rd!x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&e), "Initiate Auth method not supported.");
    // Missing parameters.
    let e = c
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", "dave")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "InvalidParameterException");
    assert_eq!(error_message(&e), "Missing required parameter SRP_A");
    // An unknown client.
    let e = c
        .initiate_auth()
        .client_id("nosuchclient0000000000000")
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "dave")
        .auth_parameters("PASSWORD", "x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ResourceNotFoundException");

    // Unknown users: LEGACY says so, ENABLED answers like a wrong password (both flows).
    assert_eq!(
        password_sign_in(&c, &client_id, "nobody", "Passw0rd!x")
            .await
            .unwrap_err(),
        "UserNotFoundException: User does not exist."
    );
    let hiding = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("hiding")
        .set_explicit_auth_flows(Some(FLOWS.to_vec()))
        .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    assert_eq!(
        password_sign_in(&c, &hiding, "nobody", "Passw0rd!x")
            .await
            .unwrap_err(),
        "NotAuthorizedException: Incorrect username or password."
    );
    assert_eq!(
        srp_sign_in(&c, &pool, &hiding, "nobody", "Passw0rd!x", None, true)
            .await
            .unwrap_err(),
        "NotAuthorizedException: Incorrect username or password."
    );
    // The decoy challenge of an unknown user is stable, like a real user's salt.
    let salt_of = |name: &'static str| {
        let c = c.clone();
        let hiding = hiding.clone();
        async move {
            c.initiate_auth()
                .client_id(hiding)
                .auth_flow(AuthFlowType::UserSrpAuth)
                .auth_parameters("USERNAME", name)
                .auth_parameters(
                    "SRP_A",
                    cognito_srp::client::ClientSession::new().srp_a_hex(),
                )
                .send()
                .await
                .unwrap()
                .challenge_parameters()
                .unwrap()["SALT"]
                .clone()
        }
    };
    assert_eq!(salt_of("nobody").await, salt_of("nobody").await);
    assert_ne!(salt_of("nobody").await, salt_of("someone-else").await);
    assert_eq!(salt_of("dave").await, salt_of("dave").await);

    // Disabled users.
    c.admin_disable_user()
        .user_pool_id(&pool)
        .username("dave")
        .send()
        .await
        .unwrap();
    assert_eq!(
        password_sign_in(&c, &client_id, "dave", "Passw0rd!x")
            .await
            .unwrap_err(),
        "NotAuthorizedException: User is disabled."
    );
    c.admin_enable_user()
        .user_pool_id(&pool)
        .username("dave")
        .send()
        .await
        .unwrap();
    password_sign_in(&c, &client_id, "dave", "Passw0rd!x")
        .await
        .unwrap();

    // RESET_REQUIRED after AdminResetUserPassword.
    c.admin_reset_user_password()
        .user_pool_id(&pool)
        .username("dave")
        .send()
        .await
        .unwrap();
    assert_eq!(
        password_sign_in(&c, &client_id, "dave", "Passw0rd!x")
            .await
            .unwrap_err(),
        "PasswordResetRequiredException: Password reset required for the user"
    );

    // An expired temporary password (validity 0 days: expired at once).
    let strict = c
        .create_user_pool()
        .pool_name("strict")
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(
                    PasswordPolicyType::builder()
                        .minimum_length(8)
                        .temporary_password_validity_days(0)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let (strict_client, _) = app_client(&c, &strict, false).await;
    c.admin_create_user()
        .user_pool_id(&strict)
        .username("erin")
        .temporary_password("Temp-0rary!")
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        password_sign_in(&c, &strict_client, "erin", "Temp-0rary!")
            .await
            .unwrap_err(),
        "NotAuthorizedException: Temporary password has expired and must be reset by an administrator."
    );

    // A pool that requires MFA never hands out tokens on a password alone: the user must set a
    // factor up first (tests/e2e/mfa.rs follows the set-up through).
    c.set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .software_token_mfa_configuration(
            cognito::types::SoftwareTokenMfaConfigType::builder()
                .enabled(true)
                .build(),
        )
        .mfa_configuration(cognito::types::UserPoolMfaType::On)
        .send()
        .await
        .unwrap();
    c.admin_set_user_password()
        .user_pool_id(&pool)
        .username("dave")
        .password("Passw0rd!x")
        .permanent(true)
        .send()
        .await
        .unwrap();
    let e = password_sign_in(&c, &client_id, "dave", "Passw0rd!x")
        .await
        .unwrap_err();
    assert_eq!(e, "challenge Some(MfaSetup)");
}

async fn refresh_revoke_and_sign_out(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let (client_id, _) = app_client(&c, &pool, false).await;
    let (other_client, _) = app_client(&c, &pool, false).await;
    user(&c, &pool, "frank", "Passw0rd!x", "frank@example.com").await;

    let first = password_sign_in(&c, &client_id, "frank", "Passw0rd!x")
        .await
        .unwrap();
    let refresh = first.refresh_token().unwrap().to_string();
    let r = c
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", &refresh)
        .send()
        .await
        .unwrap();
    let again = r.authentication_result().unwrap();
    assert!(
        again.refresh_token().is_none(),
        "no rotation: no new refresh token"
    );
    let (old, new) = (
        claims(first.access_token().unwrap()),
        claims(again.access_token().unwrap()),
    );
    assert_eq!(old["origin_jti"], new["origin_jti"]);
    assert_eq!(old["auth_time"], new["auth_time"]);
    assert_ne!(old["jti"], new["jti"]);
    // REFRESH_TOKEN is the same flow under its other name; another client cannot use the token.
    c.initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::RefreshToken)
        .auth_parameters("REFRESH_TOKEN", &refresh)
        .send()
        .await
        .unwrap();
    let e = c
        .initiate_auth()
        .client_id(&other_client)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", &refresh)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&e), "Invalid Refresh Token");

    // RevokeToken: an access token is not a refresh token; another client may not revoke it.
    let e = c
        .revoke_token()
        .client_id(&client_id)
        .token(first.access_token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "UnsupportedTokenTypeException");
    let e = c
        .revoke_token()
        .client_id(&other_client)
        .token(&refresh)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "UnauthorizedException");
    // A second session stays valid when the first is revoked.
    let second = password_sign_in(&c, &client_id, "frank", "Passw0rd!x")
        .await
        .unwrap();
    c.get_user()
        .access_token(again.access_token().unwrap())
        .send()
        .await
        .unwrap();
    c.revoke_token()
        .client_id(&client_id)
        .token(&refresh)
        .send()
        .await
        .unwrap();
    for token in [first.access_token().unwrap(), again.access_token().unwrap()] {
        let e = c.get_user().access_token(token).send().await.unwrap_err();
        assert_eq!(error_message(&e), "Access Token has been revoked");
    }
    let e = c
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", &refresh)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&e), "Refresh Token has been revoked");
    // Revoking again (or an unknown token) succeeds, as Cognito's revocation does.
    c.revoke_token()
        .client_id(&client_id)
        .token(&refresh)
        .send()
        .await
        .unwrap();
    c.get_user()
        .access_token(second.access_token().unwrap())
        .send()
        .await
        .unwrap();

    // GlobalSignOut ends every session of the user; AdminUserGlobalSignOut likewise.
    let third = password_sign_in(&c, &client_id, "frank", "Passw0rd!x")
        .await
        .unwrap();
    c.global_sign_out()
        .access_token(second.access_token().unwrap())
        .send()
        .await
        .unwrap();
    for t in [&second, &third] {
        let e = c
            .get_user()
            .access_token(t.access_token().unwrap())
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_message(&e), "Access Token has been revoked");
        let e = c
            .initiate_auth()
            .client_id(&client_id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", t.refresh_token().unwrap())
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_message(&e), "Refresh Token has been revoked");
    }
    let fourth = password_sign_in(&c, &client_id, "frank", "Passw0rd!x")
        .await
        .unwrap();
    c.admin_user_global_sign_out()
        .user_pool_id(&pool)
        .username("frank")
        .send()
        .await
        .unwrap();
    let e = c
        .get_user()
        .access_token(fourth.access_token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&e), "Access Token has been revoked");

    // A token of a deleted user, and garbage.
    let fifth = password_sign_in(&c, &client_id, "frank", "Passw0rd!x")
        .await
        .unwrap();
    c.admin_delete_user()
        .user_pool_id(&pool)
        .username("frank")
        .send()
        .await
        .unwrap();
    let e = c
        .get_user()
        .access_token(fifth.access_token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "NotAuthorizedException");
    let e = c
        .get_user()
        .access_token("not-a-token")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&e), "Invalid Access Token");
}

async fn refresh_token_rotation(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let (client_id, secret) = {
        let r = c
            .create_user_pool_client()
            .user_pool_id(&pool)
            .client_name("rotating")
            .set_explicit_auth_flows(Some(FLOWS.to_vec()))
            .generate_secret(true)
            .refresh_token_rotation(
                RefreshTokenRotationType::builder()
                    .feature(FeatureType::Enabled)
                    .retry_grace_period_seconds(0)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .user_pool_client
            .unwrap();
        (r.client_id.unwrap(), r.client_secret.unwrap())
    };
    user(&c, &pool, "gina", "Passw0rd!x", "gina@example.com").await;
    let t = c
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "gina")
        .auth_parameters("PASSWORD", "Passw0rd!x")
        .auth_parameters("SECRET_HASH", secret_hash(&secret, "gina", &client_id))
        .send()
        .await
        .unwrap()
        .authentication_result
        .unwrap();
    let first = t.refresh_token().unwrap().to_string();
    let e = c
        .get_tokens_from_refresh_token()
        .client_id(&client_id)
        .refresh_token(&first)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&e),
        format!("Client {client_id} is configured for secret but secret was not received")
    );
    let r = c
        .get_tokens_from_refresh_token()
        .client_id(&client_id)
        .client_secret(&secret)
        .refresh_token(&first)
        .send()
        .await
        .unwrap();
    let rotated = r.authentication_result().unwrap();
    let second = rotated.refresh_token().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(
        claims(rotated.access_token().unwrap())["origin_jti"],
        claims(t.access_token().unwrap())["origin_jti"]
    );
    // The replaced token is spent (grace period 0).
    tokio::time::sleep(Duration::from_millis(10)).await;
    let e = c
        .get_tokens_from_refresh_token()
        .client_id(&client_id)
        .client_secret(&secret)
        .refresh_token(&first)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "RefreshTokenReuseException");
    c.get_tokens_from_refresh_token()
        .client_id(&client_id)
        .client_secret(&secret)
        .refresh_token(&second)
        .send()
        .await
        .unwrap();
}

async fn lockout_holds_under_parallel_attempts(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let (client_id, _) = app_client(&c, &pool, false).await;
    user(&c, &pool, "hank", "Passw0rd!x", "hank@example.com").await;
    user(&c, &pool, "ivan", "Passw0rd!x", "ivan@example.com").await;

    // Sequential: five failures, then even the right password is refused for a while.
    for _ in 0..5 {
        assert_eq!(
            password_sign_in(&c, &client_id, "hank", "wrong-password")
                .await
                .unwrap_err(),
            "NotAuthorizedException: Incorrect username or password."
        );
    }
    assert_eq!(
        password_sign_in(&c, &client_id, "hank", "Passw0rd!x")
            .await
            .unwrap_err(),
        "NotAuthorizedException: Password attempts exceeded"
    );
    // The first lock lasts one second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    password_sign_in(&c, &client_id, "hank", "Passw0rd!x")
        .await
        .unwrap();
    // Other users are not affected.
    password_sign_in(&c, &client_id, "ivan", "Passw0rd!x")
        .await
        .unwrap();
    // The sign-in forgot hank's failures: four more wrong guesses are checked, not locked out, and
    // the right password still signs in. (Without the reset hank would be past five failures, and
    // the sign-in above would have earned a two-second lock.)
    for _ in 0..4 {
        assert_eq!(
            password_sign_in(&c, &client_id, "hank", "wrong-password")
                .await
                .unwrap_err(),
            "NotAuthorizedException: Incorrect username or password."
        );
    }
    password_sign_in(&c, &client_id, "hank", "Passw0rd!x")
        .await
        .unwrap();

    // Parallel: once the lock has grown, twelve simultaneous wrong guesses get exactly one check.
    // (Starting from zero failures the count is the same but the first lock lasts only a second,
    // which a loaded machine can outlast mid-burst; a longer lock keeps the test exact.)
    for _ in 0..5 {
        password_sign_in(&c, &client_id, "ivan", "wrong-password")
            .await
            .unwrap_err();
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        password_sign_in(&c, &client_id, "ivan", "wrong-password")
            .await
            .unwrap_err(),
        "NotAuthorizedException: Incorrect username or password.",
        "after the first lock, one more attempt is checked"
    );
    // Six failures: locked for two seconds.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let attempts = (0..12).map(|_| {
        let c = c.clone();
        let client_id = client_id.clone();
        tokio::spawn(
            async move { password_sign_in(&c, &client_id, "ivan", "wrong-password").await },
        )
    });
    let mut incorrect = 0;
    let mut exceeded = 0;
    for a in attempts {
        match a.await.unwrap().unwrap_err().as_str() {
            "NotAuthorizedException: Incorrect username or password." => incorrect += 1,
            "NotAuthorizedException: Password attempts exceeded" => exceeded += 1,
            other => panic!("unexpected answer {other}"),
        }
    }
    assert_eq!((incorrect, exceeded), (1, 11));
}
