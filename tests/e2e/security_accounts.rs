//! The review's account findings, each replayed through the unmodified SDK: a user claiming a
//! verified address it does not own (SignUp, NEW_PASSWORD_REQUIRED), unwritable attributes
//! written through a client, taken usernames costing a password hash, and the ways a client with
//! PreventUserExistenceErrors ENABLED still told real users from unknown names (SRP's
//! USER_ID_FOR_SRP and SALT, the lockout).

use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{
    AttributeType, AuthFlowType, ChallengeNameType, MessageActionType,
    PreventUserExistenceErrorTypes,
};

use crate::harness::{error_code, error_message, Backend, Server};
use crate::sign_in::{attr, claims, password_sign_in, pool, srp_sign_in, user, FLOWS};

crate::backend_tests!(
    sign_up_cannot_claim_verified_or_unwritable_attributes,
    new_password_challenge_honours_write_attributes,
    taken_username_is_refused_before_hashing,
    hidden_users_answer_like_real_ones,
);

async fn client_writing(c: &cognito::Client, pool: &str, writes: &[&str]) -> String {
    let mut req = c
        .create_user_pool_client()
        .user_pool_id(pool)
        .client_name("writes")
        .set_explicit_auth_flows(Some(FLOWS.to_vec()));
    for w in writes {
        req = req.write_attributes(*w);
    }
    req.send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap()
}

async fn sign_up(
    c: &cognito::Client,
    client_id: &str,
    name: &str,
    attrs: &[(&str, &str)],
) -> Result<(), String> {
    let list: Vec<AttributeType> = attrs.iter().map(|(n, v)| attr(n, v)).collect();
    c.sign_up()
        .client_id(client_id)
        .username(name)
        .password("Passw0rd!x")
        .set_user_attributes(Some(list))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{}: {}", error_code(&e), error_message(&e)))
}

async fn attribute(c: &cognito::Client, pool: &str, name: &str, attribute: &str) -> Option<String> {
    c.admin_get_user()
        .user_pool_id(pool)
        .username(name)
        .send()
        .await
        .unwrap()
        .user_attributes()
        .iter()
        .find(|a| a.name() == attribute)
        .and_then(|a| a.value().map(str::to_string))
}

const UNAUTHORIZED: &str =
    "NotAuthorizedException: A client attempted to write unauthorized attribute";

/// Review H1(b): SignUp took `email_verified=true` and ignored WriteAttributes, so an
/// UNCONFIRMED attacker could hold a victim's address as a verified alias.
async fn sign_up_cannot_claim_verified_or_unwritable_attributes(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, true).await;
    let limited = client_writing(&c, &pool, &["name", "email"]).await;
    let open = client_writing(&c, &pool, &[]).await;

    for client in [&limited, &open] {
        for flag in ["email_verified", "phone_number_verified"] {
            assert_eq!(
                sign_up(
                    &c,
                    client,
                    "mallory",
                    &[("email", "victim@corp.example"), (flag, "true")]
                )
                .await
                .unwrap_err(),
                UNAUTHORIZED,
                "{flag} through a client"
            );
        }
    }
    // Outside the client's WriteAttributes.
    assert_eq!(
        sign_up(&c, &limited, "mallory", &[("custom:tier", "9")])
            .await
            .unwrap_err(),
        UNAUTHORIZED
    );
    // None of the refused sign-ups left a user behind.
    let e = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("mallory")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "UserNotFoundException");

    // Allowed attributes pass, and the address stays unverified, so it claims no alias.
    sign_up(&c, &limited, "mallory", &[("email", "victim@corp.example")])
        .await
        .unwrap();
    assert_ne!(
        attribute(&c, &pool, "mallory", "email_verified").await,
        Some("true".to_string())
    );
    // The address's owner can still be created with it verified, and signing in by the address
    // reaches the owner, not the squatter.
    user(&c, &pool, "victim", "Passw0rd!x", "victim@corp.example").await;
    let t = password_sign_in(&c, &open, "victim@corp.example", "Passw0rd!x")
        .await
        .unwrap();
    assert_eq!(claims(t.id_token().unwrap())["cognito:username"], "victim");
}

/// Starts a sign-in with the temporary password and answers NEW_PASSWORD_REQUIRED with the
/// given attributes.
async fn answer_new_password(
    c: &cognito::Client,
    client_id: &str,
    name: &str,
    attrs: &[(&str, &str)],
) -> Result<cognito::types::AuthenticationResultType, String> {
    let r = c
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", name)
        .auth_parameters("PASSWORD", "Temp-0rary!")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.challenge_name(),
        Some(&ChallengeNameType::NewPasswordRequired)
    );
    let mut answer = c
        .respond_to_auth_challenge()
        .client_id(client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(r.session().unwrap())
        .challenge_responses("USERNAME", name)
        .challenge_responses("NEW_PASSWORD", "N3w-Passw0rd!");
    for (n, v) in attrs {
        answer = answer.challenge_responses(format!("userAttributes.{n}"), *v);
    }
    match answer.send().await {
        Ok(r) => r
            .authentication_result
            .ok_or_else(|| format!("challenge {:?}", r.challenge_name)),
        Err(e) => Err(format!("{}: {}", error_code(&e), error_message(&e))),
    }
}

async fn invited(c: &cognito::Client, pool: &str, name: &str, email: &str) {
    c.admin_create_user()
        .user_pool_id(pool)
        .username(name)
        .temporary_password("Temp-0rary!")
        .message_action(MessageActionType::Suppress)
        .user_attributes(attr("email", email))
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap();
}

/// Review H1(a): NEW_PASSWORD_REQUIRED wrote any attribute through the admin path, so an invited
/// user could answer with `email=ceo@…, email_verified=true` and get an ID token saying so.
async fn new_password_challenge_honours_write_attributes(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let names_only = client_writing(&c, &pool, &["name"]).await;
    let with_email = client_writing(&c, &pool, &["name", "email"]).await;
    invited(&c, &pool, "newbie", "newbie@corp.example").await;

    // The review's reproduction, and its parts one at a time.
    for attrs in [
        &[("email", "ceo@corp.example"), ("email_verified", "true")][..],
        &[("email", "ceo@corp.example")][..],
        &[("email_verified", "true")][..],
    ] {
        assert_eq!(
            answer_new_password(&c, &names_only, "newbie", attrs)
                .await
                .unwrap_err(),
            UNAUTHORIZED,
            "{attrs:?}"
        );
    }
    assert_eq!(
        answer_new_password(
            &c,
            &with_email,
            "newbie",
            &[("email", "ceo@corp.example"), ("email_verified", "true")]
        )
        .await
        .unwrap_err(),
        UNAUTHORIZED
    );
    assert_eq!(
        attribute(&c, &pool, "newbie", "email").await.as_deref(),
        Some("newbie@corp.example")
    );

    // A writable attribute is applied.
    let t = answer_new_password(&c, &names_only, "newbie", &[("name", "New Bie")])
        .await
        .unwrap();
    let id = claims(t.id_token().unwrap());
    assert_eq!(id["name"], "New Bie");
    assert_eq!(id["email"], "newbie@corp.example");
    assert_eq!(id["email_verified"], true);

    // A new address through a client that may write it is unverified until a code proves it.
    invited(&c, &pool, "second", "second@corp.example").await;
    let t = answer_new_password(
        &c,
        &with_email,
        "second",
        &[("email", "other@corp.example")],
    )
    .await
    .unwrap();
    let id = claims(t.id_token().unwrap());
    assert_eq!(id["email"], "other@corp.example");
    assert_eq!(id["email_verified"], false);
    assert_eq!(
        attribute(&c, &pool, "second", "email_verified")
            .await
            .as_deref(),
        Some("false")
    );
}

/// Review H2: SignUp hashed the password (tens of milliseconds of a core) before it found the
/// username taken, so unsigned callers could spend the CPU at will with one known name.
async fn taken_username_is_refused_before_hashing(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let client = client_writing(&c, &pool, &[]).await;
    sign_up(&c, &client, "taken", &[]).await.unwrap();

    // Warm up both paths once, then compare: five fresh sign-ups each hash a password; ten
    // sign-ups of the taken name must cost less than those five together (before the fix each
    // of them hashed too, so they cost about twice as much).
    sign_up(&c, &client, "fresh-0", &[]).await.unwrap();
    let e = sign_up(&c, &client, "taken", &[]).await.unwrap_err();
    assert_eq!(e, "UsernameExistsException: User already exists");
    let started = Instant::now();
    for i in 1..=3 {
        sign_up(&c, &client, &format!("fresh-{i}"), &[])
            .await
            .unwrap();
    }
    let fresh = started.elapsed();
    let started = Instant::now();
    for _ in 0..10 {
        let e = sign_up(&c, &client, "taken", &[]).await.unwrap_err();
        assert_eq!(e, "UsernameExistsException: User already exists");
    }
    let taken = started.elapsed();
    assert!(
        taken < fresh,
        "10 taken-name sign-ups took {taken:?}, 5 fresh ones {fresh:?}"
    );
}

/// Wrong guesses at `name` as an attacker would make them: five, then one after each lock has
/// passed until the lock is four seconds long, then one more password and one SRP answer inside
/// that lock. Answers the messages in order.
async fn guesses(c: &cognito::Client, pool: &str, client_id: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let wrong = |out: &mut Vec<String>, r: Result<_, String>| {
        out.push(r.map(|_| "signed in".to_string()).unwrap_or_else(|e| e));
    };
    for _ in 0..5 {
        wrong(
            &mut out,
            password_sign_in(c, client_id, name, "Wr0ng-guess!").await,
        );
    }
    for lock in [1, 2] {
        tokio::time::sleep(Duration::from_millis(lock * 1000 + 200)).await;
        wrong(
            &mut out,
            password_sign_in(c, client_id, name, "Wr0ng-guess!").await,
        );
    }
    wrong(
        &mut out,
        password_sign_in(c, client_id, name, "Wr0ng-guess!").await,
    );
    wrong(
        &mut out,
        srp_sign_in(c, pool, client_id, name, "Wr0ng-guess!", None, true).await,
    );
    out
}

/// Review M2 (1, 2, 6): with PreventUserExistenceErrors ENABLED, USER_ID_FOR_SRP was a UUID for
/// unknown names, decoy salts had another form, and only real users ever got "Password attempts
/// exceeded".
async fn hidden_users_answer_like_real_ones(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
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
    user(&c, &pool, "alice", "Passw0rd!x", "alice@example.com").await;

    let challenge = |name: String| {
        let (c, hiding) = (c.clone(), hiding.clone());
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
                .unwrap()
                .clone()
        }
    };
    // USER_ID_FOR_SRP is the name a user of this pool would have, not a UUID.
    assert_eq!(challenge("alice".into()).await["USER_ID_FOR_SRP"], "alice");
    assert_eq!(
        challenge("nobody".into()).await["USER_ID_FOR_SRP"],
        "nobody"
    );
    // Every salt has the generated form: 32 hex digits, the first of them 4 to 7.
    let mut names: Vec<String> = (0..24).map(|i| format!("ghost-{i}")).collect();
    names.push("alice".into());
    for name in names {
        let salt = challenge(name.clone()).await["SALT"].clone();
        assert_eq!(salt.len(), 32, "{name}: {salt}");
        assert!(matches!(salt.as_bytes()[0], b'4'..=b'7'), "{name}: {salt}");
    }

    // The lockout: a real user and an unknown name answer the same guesses the same way.
    let (real, unknown) = tokio::join!(
        guesses(&c, &pool, &hiding, "alice"),
        guesses(&c, &pool, &hiding, "ghost")
    );
    assert_eq!(real, unknown);
    assert_eq!(
        real[0],
        "NotAuthorizedException: Incorrect username or password."
    );
    assert_eq!(
        &real[real.len() - 2..],
        &[
            "NotAuthorizedException: Password attempts exceeded".to_string(),
            "NotAuthorizedException: Password attempts exceeded".to_string()
        ]
    );
}
