//! The corrections of issue 15 (../shared/reference/corrections.md and the hostile-input items),
//! each through the unmodified SDK, or raw HTTP where the SDK cannot send the input, on both
//! backends: schema definitions, attribute-update wording, the order of status and credential
//! checks, list-member validation, HTTP statuses, loopback callback URLs, NUL characters,
//! bounded echoes and `Connection: close` after a malformed request.

use std::time::{Duration, SystemTime};

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{
    AttributeDataType, AuthFlowType, MessageActionType, OAuthFlowType,
    PreventUserExistenceErrorTypes, SchemaAttributeType, StringAttributeConstraintsType,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{error_code, error_message, Backend, Server, ADMIN_KEY_ID, ADMIN_SECRET};
use crate::raw::{post, target, Raw, Signing};
use crate::sign_in::{app_client, attr, pool, user, FLOWS};

crate::backend_tests!(
    schema_definitions_answer_as_cognito,
    attribute_updates_are_worded_per_attribute,
    unconfirmed_users_are_refused_before_their_password,
    resets_of_disabled_and_invited_users_are_refused,
    scalar_list_members_and_statuses_answer_as_cognito,
    loopback_callback_urls_are_accepted,
    null_characters_are_refused_the_same_on_both_backends,
    huge_values_are_echoed_bounded,
    a_malformed_request_closes_with_connection_close,
);

fn schema(name: &str, t: Option<AttributeDataType>) -> SchemaAttributeType {
    SchemaAttributeType::builder()
        .name(name)
        .set_attribute_data_type(t)
        .build()
}

async fn create_with(
    c: &cognito::Client,
    attrs: Vec<SchemaAttributeType>,
) -> Result<String, String> {
    c.create_user_pool()
        .pool_name("corrections")
        .set_schema(Some(attrs))
        .send()
        .await
        .map(|r| r.user_pool.unwrap().id.unwrap())
        .map_err(|e| format!("{}: {}", error_code(&e), error_message(&e)))
}

async fn signed(server: &Server, op: &str, body: &Value) -> Raw {
    let t = target(op);
    post(
        &server.base_url,
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", &t),
        ],
        body.to_string().as_bytes(),
        Some(Signing {
            key_id: ADMIN_KEY_ID,
            secret: ADMIN_SECRET,
            region: "us-east-1",
            service: "cognito-idp",
            time: SystemTime::now(),
        }),
    )
    .await
}

/// Corrections #1 to #4.
async fn schema_definitions_answer_as_cognito(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let refused = "InvalidParameterException: You can not change AttributeDataType or set developerOnlyAttribute for standard schema attribute email";
    // #1: a standard attribute retyped, or made developer-only.
    assert_eq!(
        create_with(&c, vec![schema("email", Some(AttributeDataType::Number))]).await,
        Err(refused.to_string())
    );
    let dev_only = SchemaAttributeType::builder()
        .name("email")
        .developer_only_attribute(true)
        .build();
    assert_eq!(
        create_with(&c, vec![dev_only]).await,
        Err(refused.to_string())
    );
    // ... while the CDK's `{Name: email, Required: true, Mutable: true}` is accepted.
    let cdk = SchemaAttributeType::builder()
        .name("email")
        .required(true)
        .mutable(true)
        .build();
    let id = create_with(
        &c,
        vec![cdk, schema("tier", Some(AttributeDataType::String))],
    )
    .await
    .unwrap();
    // #2: a custom attribute needs a type, at creation and when added.
    let untyped = "InvalidParameterException: Invalid AttributeDataType input, consider using the provided AttributeDataType enum.";
    assert_eq!(
        create_with(&c, vec![schema("team", None)]).await,
        Err(untyped.to_string())
    );
    let err = c
        .add_custom_attributes()
        .user_pool_id(&id)
        .custom_attributes(schema("team", None))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        format!("{}: {}", error_code(&err), error_message(&err)),
        untyped
    );
    // #3: adding one that exists names it first.
    let err = c
        .add_custom_attributes()
        .user_pool_id(&id)
        .custom_attributes(schema("tier", Some(AttributeDataType::String)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&err),
        "custom:tier: Existing attribute already has name custom:tier."
    );
    // #4: a standard attribute's string constraints are checked like a custom one's.
    let constrained = |min: &str, max: &str| {
        SchemaAttributeType::builder()
            .name("name")
            .string_attribute_constraints(
                StringAttributeConstraintsType::builder()
                    .min_length(min)
                    .max_length(max)
                    .build(),
            )
            .build()
    };
    for (min, max) in [("0", "3000"), ("x", "10"), ("20", "10")] {
        let got = create_with(&c, vec![constrained(min, max)]).await;
        assert!(
            got.as_ref()
                .is_err_and(|e| e.starts_with("InvalidParameterException: Invalid")),
            "{min}..{max}: {got:?}"
        );
    }
    create_with(&c, vec![constrained("1", "100")])
        .await
        .unwrap();
}

/// Correction #7: updates and deletes answer one `user.<name>:` line per attribute.
async fn attribute_updates_are_worded_per_attribute(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let (client, _) = app_client(&c, &pool, false).await;
    user(&c, &pool, "ann", "Passw0rd!x", "ann@example.com").await;
    let err = c
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("ann")
        .user_attributes(attr("custom:address", "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert_eq!(
        error_message(&err),
        "user.custom:address: Attribute does not exist in the schema.\n"
    );
    // The self-service form, with two unknown names: one line each.
    let tokens = crate::sign_in::password_sign_in(&c, &client, "ann", "Passw0rd!x")
        .await
        .unwrap();
    let err = c
        .update_user_attributes()
        .access_token(tokens.access_token().unwrap())
        .user_attributes(attr("custom:address", "x"))
        .user_attributes(attr("custom:floor", "2"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&err),
        "user.custom:address: Attribute does not exist in the schema.\nuser.custom:floor: Attribute does not exist in the schema.\n"
    );
    let err = c
        .delete_user_attributes()
        .access_token(tokens.access_token().unwrap())
        .user_attribute_names("custom:nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&err),
        "user.custom:nope: Attribute does not exist in the schema.\n"
    );
    // SignUp and AdminCreateUser keep their heading.
    let err = c
        .admin_create_user()
        .user_pool_id(&pool)
        .username("bob")
        .user_attributes(attr("custom:address", "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&err),
        "Attributes did not conform to the schema: custom:address: Attribute does not exist in the schema.\n"
    );
}

/// Correction #8: an unconfirmed user hears UserNotConfirmedException whatever the password, in
/// every password flow, and SRP issues no PASSWORD_VERIFIER challenge; with
/// PreventUserExistenceErrors too.
async fn unconfirmed_users_are_refused_before_their_password(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    for prevent in [false, true] {
        let client = c
            .create_user_pool_client()
            .user_pool_id(&pool)
            .client_name("app")
            .set_explicit_auth_flows(Some(FLOWS.to_vec()))
            .prevent_user_existence_errors(if prevent {
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
            .unwrap();
        let name = format!("pending{prevent}");
        c.sign_up()
            .client_id(&client)
            .username(&name)
            .password("Passw0rd!x")
            .user_attributes(attr("email", "p@example.com"))
            .send()
            .await
            .unwrap();
        for pw in ["Passw0rd!x", "wrong-Passw0rd!"] {
            let err = c
                .initiate_auth()
                .client_id(&client)
                .auth_flow(AuthFlowType::UserPasswordAuth)
                .auth_parameters("USERNAME", &name)
                .auth_parameters("PASSWORD", pw)
                .send()
                .await
                .unwrap_err();
            assert_eq!(
                format!("{}: {}", error_code(&err), error_message(&err)),
                "UserNotConfirmedException: User is not confirmed.",
                "USER_PASSWORD_AUTH, {pw}, prevent={prevent}"
            );
            let err = c
                .admin_initiate_auth()
                .user_pool_id(&pool)
                .client_id(&client)
                .auth_flow(AuthFlowType::AdminUserPasswordAuth)
                .auth_parameters("USERNAME", &name)
                .auth_parameters("PASSWORD", pw)
                .send()
                .await
                .unwrap_err();
            assert_eq!(
                error_code(&err),
                "UserNotConfirmedException",
                "ADMIN_USER_PASSWORD_AUTH, {pw}, prevent={prevent}"
            );
        }
        let err = c
            .initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::UserSrpAuth)
            .auth_parameters("USERNAME", &name)
            .auth_parameters(
                "SRP_A",
                cognito_srp::client::ClientSession::new().srp_a_hex(),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            error_code(&err),
            "UserNotConfirmedException",
            "SRP, prevent={prevent}"
        );
    }
}

/// Corrections #9 and #10.
async fn resets_of_disabled_and_invited_users_are_refused(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let (client, _) = app_client(&c, &pool, false).await;
    user(&c, &pool, "off", "Passw0rd!x", "off@example.com").await;
    c.admin_disable_user()
        .user_pool_id(&pool)
        .username("off")
        .send()
        .await
        .unwrap();
    let err = c
        .admin_reset_user_password()
        .user_pool_id(&pool)
        .username("off")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        format!("{}: {}", error_code(&err), error_message(&err)),
        "NotAuthorizedException: User is disabled."
    );
    // An invited user (FORCE_CHANGE_PASSWORD) cannot be reset, by the user or the admin.
    c.admin_create_user()
        .user_pool_id(&pool)
        .username("invited")
        .message_action(MessageActionType::Suppress)
        .user_attributes(attr("email", "inv@example.com"))
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap();
    let refused = "NotAuthorizedException: User password cannot be reset in the current state.";
    let err = c
        .forgot_password()
        .client_id(&client)
        .username("invited")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        format!("{}: {}", error_code(&err), error_message(&err)),
        refused
    );
    let err = c
        .admin_reset_user_password()
        .user_pool_id(&pool)
        .username("invited")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        format!("{}: {}", error_code(&err), error_message(&err)),
        refused
    );
    // Nothing changed: the user is still invited.
    let u = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("invited")
        .send()
        .await
        .unwrap();
    assert_eq!(u.user_status().unwrap().as_str(), "FORCE_CHANGE_PASSWORD");
}

/// Corrections #11 to #13.
async fn scalar_list_members_and_statuses_answer_as_cognito(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let err = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_flows(OAuthFlowType::from("token"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&err),
        "1 validation error detected: Value '[code, token]' at 'allowedOAuthFlows' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [implicit, client_credentials, code]]"
    );
    let r = signed(
        &server,
        "SetUserPoolMfaConfig",
        &json!({"UserPoolId": pool, "MfaConfiguration": "SOMETIMES"}),
    )
    .await;
    assert!(
        r.message()
            .contains("Member must satisfy enum value set: [OPTIONAL, OFF, ON]"),
        "{}",
        r.text
    );
    // A missing user is a 400, as the live service sends it.
    let r = signed(
        &server,
        "AdminGetUser",
        &json!({"UserPoolId": pool, "Username": "nobody"}),
    )
    .await;
    assert_eq!(
        (r.status, r.error_type()),
        (400, "UserNotFoundException"),
        "{}",
        r.text
    );
}

/// Correction #14.
async fn loopback_callback_urls_are_accepted(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let urls = [
        "http://127.0.0.1:8080/callback",
        "http://[::1]/cb",
        "http://localhost:3000",
    ];
    let made = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("native")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .allowed_o_auth_flows_user_pool_client(true)
        .supported_identity_providers("COGNITO")
        .set_callback_urls(Some(urls.iter().map(|s| s.to_string()).collect()))
        .logout_urls("http://127.0.0.1/bye")
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(made.callback_urls(), urls);
    for bad in ["http://127.0.0.2/cb", "http://127.0.0.1.example.com/cb"] {
        let err = c
            .create_user_pool_client()
            .user_pool_id(&pool)
            .client_name("bad")
            .allowed_o_auth_flows(OAuthFlowType::Code)
            .allowed_o_auth_scopes("openid")
            .allowed_o_auth_flows_user_pool_client(true)
            .supported_identity_providers("COGNITO")
            .callback_urls(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidParameterException", "{bad}");
    }
}

/// Issue 15 item 2: U+0000 in any string is refused with InvalidParameterException before a
/// lookup or a write, on both backends alike, and nothing is stored.
async fn null_characters_are_refused_the_same_on_both_backends(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let (client, _) = app_client(&c, &pool, false).await;
    user(&c, &pool, "u1", "Passw0rd!x", "u1@example.com").await;
    let nul = "u1\u{0}";
    let invalid = |r: &Raw| {
        assert_eq!(
            (r.status, r.error_type()),
            (400, "InvalidParameterException"),
            "{}",
            r.text
        );
    };
    // Unsigned: InitiateAuth with the NUL in USERNAME.
    let t = target("InitiateAuth");
    let r = post(
        &server.base_url,
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", &t),
        ],
        json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
               "AuthParameters": {"USERNAME": nul, "PASSWORD": "Passw0rd!x"}})
        .to_string()
        .as_bytes(),
        None,
    )
    .await;
    invalid(&r);
    assert!(
        r.message()
            .contains("Member must not contain null characters"),
        "{}",
        r.text
    );
    // Through the SDK: attribute values, a filter, a description, a tag value.
    let err = c
        .sign_up()
        .client_id(&client)
        .username("u2")
        .password("Passw0rd!x")
        .user_attributes(attr("email", "u2@example.com"))
        .user_attributes(attr("name", "Bob\u{0}"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    let err = c
        .admin_create_user()
        .user_pool_id(&pool)
        .username("u3")
        .user_attributes(attr("email", "u3\u{0}@example.com"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    let err = c
        .list_users()
        .user_pool_id(&pool)
        .filter("username = \"u1\u{0}\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    let err = c
        .create_group()
        .user_pool_id(&pool)
        .group_name("g")
        .description("a\u{0}b")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    let arn = c
        .describe_user_pool()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .arn
        .unwrap();
    let err = c
        .tag_resource()
        .resource_arn(&arn)
        .tags("team", "a\u{0}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    // The well-known paths take any text: a decoded %00 is a pool that does not exist.
    let r = reqwest::get(format!(
        "{}/us-east-1_a%00b/.well-known/jwks.json",
        server.base_url
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    // Nothing was stored, and the real user still signs in.
    let users = c.list_users().user_pool_id(&pool).send().await.unwrap();
    let names: Vec<_> = users.users().iter().filter_map(|u| u.username()).collect();
    assert_eq!(names, ["u1"]);
    assert!(c
        .list_groups()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap()
        .groups()
        .is_empty());
    crate::sign_in::password_sign_in(&c, &client, "u1", "Passw0rd!x")
        .await
        .unwrap();
}

/// Issue 15 item 3: a 70,000-character value comes back cut short, in the body and in the
/// `x-amzn-ErrorMessage` header, and the SDK gets its InvalidParameterException.
async fn huge_values_are_echoed_bounded(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool(&c, false).await;
    let huge = "x".repeat(70_000);
    let r = signed(
        &server,
        "CreateGroup",
        &json!({"UserPoolId": pool, "GroupName": "g", "Description": huge}),
    )
    .await;
    assert_eq!(
        (r.status, r.error_type()),
        (400, "InvalidParameterException"),
        "{}",
        r.text.chars().take(300).collect::<String>()
    );
    assert!(
        r.message().len() < 1_000,
        "{} characters",
        r.message().len()
    );
    assert!(r
        .message()
        .contains(&format!("Value '{}...' at 'description'", "x".repeat(256))));
    let header = r.header("x-amzn-errormessage").unwrap();
    assert!(header.len() <= 1024, "{}", header.len());
    // Through the SDK.
    let err = c
        .create_group()
        .user_pool_id(&pool)
        .group_name("g")
        .description(&huge)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    let err = c
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("nobody")
        .user_attributes(attr("name", &huge))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
}

/// Issue 15 item 6: after a good request on a keep-alive connection, a malformed one gets its
/// 400 with `Connection: close`, and the connection is closed.
async fn a_malformed_request_closes_with_connection_close(backend: Backend) {
    let server = Server::start(backend).await;
    let host = server.base_url.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&host).await.unwrap();
    let good = format!("GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n");
    s.write_all(good.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    let first = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
    assert!(first.starts_with("http/1.1 200"), "{first}");
    assert!(!first.contains("connection: close"), "{first}");
    for malformed in [
        "GET /health HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n".to_string(),
        "NOT A REQUEST LINE\r\n\r\n".to_string(),
    ] {
        let mut s = TcpStream::connect(&host).await.unwrap();
        s.write_all(good.as_bytes()).await.unwrap();
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0);
        s.write_all(malformed.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "the connection was not closed");
        let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
        assert!(
            answer.starts_with("http/1.1 400"),
            "{malformed:?}: {answer}"
        );
        assert!(
            answer.contains("\r\nconnection: close\r\n"),
            "{malformed:?}: {answer}"
        );
    }
}
