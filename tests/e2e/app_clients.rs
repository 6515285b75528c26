//! App clients and their secrets through the SDK, on SQLite and Postgres.

use std::collections::HashSet;

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{
    AnalyticsConfigurationType, AttributeDataType, ExplicitAuthFlowsType, FeatureType,
    OAuthFlowType, PreventUserExistenceErrorTypes, RefreshTokenRotationType, SchemaAttributeType,
    TimeUnitsType, TokenValidityUnitsType, UserPoolClientType,
};

use crate::harness::{error_code, error_message, Backend, Server, ADMIN_KEY_ID, ADMIN_SECRET};
use crate::raw::{post, target, Signing};

crate::backend_tests!(
    create_and_describe_fill_cognito_defaults,
    generated_and_custom_secrets_at_create,
    every_setting_round_trips,
    update_resets_what_it_omits,
    invalid_settings_get_cognito_errors,
    unknown_pool_and_client_are_not_found,
    list_user_pool_clients_pages_without_gaps,
    secret_rotation_lifecycle,
    concurrent_add_secret_keeps_the_two_secret_limit,
    deleting_a_client_or_its_pool_removes_it,
    default_client_on_the_wire_has_cognito_members_only,
);

fn is_lower_alnum(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

async fn new_pool(c: &cognito::Client, name: &str) -> String {
    c.create_user_pool()
        .pool_name(name)
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap()
}

/// A pool with a required standard attribute (email) and two custom ones, one of them immutable.
async fn pool_with_schema(c: &cognito::Client) -> String {
    let attr = |name: &str, mutable: bool| {
        SchemaAttributeType::builder()
            .name(name)
            .attribute_data_type(AttributeDataType::String)
            .mutable(mutable)
            .build()
    };
    c.create_user_pool()
        .pool_name("schema")
        .schema(
            SchemaAttributeType::builder()
                .name("email")
                .required(true)
                .build(),
        )
        .schema(attr("team", true))
        .schema(attr("badge", false))
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap()
}

async fn new_client(
    c: &cognito::Client,
    pool: &str,
    name: &str,
    secret: bool,
) -> UserPoolClientType {
    c.create_user_pool_client()
        .user_pool_id(pool)
        .client_name(name)
        .generate_secret(secret)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
}

async fn create_and_describe_fill_cognito_defaults(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c, "clients").await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let created = new_client(&c, &pool, "web", false).await;
    let id = created.client_id().unwrap();
    assert_eq!(id.len(), 26, "client id {id}");
    assert!(is_lower_alnum(id), "client id {id}");
    assert_eq!(created.user_pool_id(), Some(pool.as_str()));
    assert_eq!(created.client_name(), Some("web"));
    assert_eq!(created.client_secret(), None, "no secret unless asked for");
    assert_eq!(created.refresh_token_validity(), 30);
    assert_eq!(created.access_token_validity(), None);
    assert_eq!(created.id_token_validity(), None);
    assert_eq!(
        created.token_validity_units(),
        Some(&TokenValidityUnitsType::builder().build()),
        "TokenValidityUnits is {{}} when not given"
    );
    // Cognito applies its default flows (refresh, SRP, custom) without listing them, and leaves
    // PreventUserExistenceErrors out (LEGACY behaviour) for clients made through the API.
    assert_eq!(created.explicit_auth_flows, None);
    assert_eq!(created.allowed_o_auth_flows_user_pool_client(), Some(false));
    assert_eq!(created.prevent_user_existence_errors(), None);
    assert_eq!(created.enable_token_revocation(), Some(true));
    assert_eq!(
        created.enable_propagate_additional_user_context_data(),
        Some(false)
    );
    assert_eq!(created.auth_session_validity(), Some(3));
    assert!(created.read_attributes().is_empty());
    assert!(created.write_attributes().is_empty());
    assert!(created.callback_urls().is_empty());
    assert!(created.allowed_o_auth_flows().is_empty());
    assert!(created.supported_identity_providers().is_empty());
    assert_eq!(created.refresh_token_rotation(), None);
    assert_eq!(created.analytics_configuration(), None);
    let made = created.creation_date().unwrap().as_secs_f64();
    assert!(
        (made - before).abs() < 60.0,
        "creation date {made} vs {before}"
    );
    assert_eq!(created.creation_date(), created.last_modified_date());

    let described = c
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(id)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(
        described, created,
        "CreateUserPoolClient and DescribeUserPoolClient answer the same client"
    );
}

async fn generated_and_custom_secrets_at_create(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c, "secrets").await;
    let confidential = new_client(&c, &pool, "backend", true).await;
    let secret = confidential.client_secret().unwrap();
    assert_eq!(secret.len(), 51, "generated secret length");
    assert!(is_lower_alnum(secret));
    let id = confidential.client_id().unwrap();
    let described = c
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(id)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(described.client_secret(), Some(secret));

    let listed = c
        .list_user_pool_client_secrets()
        .user_pool_id(&pool)
        .client_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.next_token(), None);
    let secrets = listed.client_secrets();
    assert_eq!(secrets.len(), 1);
    let sid = secrets[0].client_secret_id().unwrap();
    let (prefix, stamp) = sid.split_once("--").unwrap();
    assert_eq!(prefix, id, "secret id is <client-id>--<epoch-create-time>");
    assert!(stamp.parse::<u64>().is_ok(), "{sid}");
    assert_eq!(
        secrets[0].client_secret_value(),
        None,
        "values are never listed"
    );
    assert!(secrets[0].client_secret_create_date().is_some());

    let custom = "my_own_secret_value_0123456789";
    let created = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("custom")
        .client_secret(custom)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(created.client_secret(), Some(custom));
    let described = c
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(created.client_id().unwrap())
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(described.client_secret(), Some(custom));
}

async fn every_setting_round_trips(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool_with_schema(&c).await;
    let units = TokenValidityUnitsType::builder()
        .access_token(TimeUnitsType::Minutes)
        .id_token(TimeUnitsType::Minutes)
        .refresh_token(TimeUnitsType::Hours)
        .build();
    let analytics = AnalyticsConfigurationType::builder()
        .application_arn("arn:aws:mobiletargeting:us-east-1:123456789012:apps/abc")
        .user_data_shared(true)
        .build();
    let rotation = RefreshTokenRotationType::builder()
        .feature(FeatureType::Enabled)
        .retry_grace_period_seconds(10)
        .build()
        .unwrap();
    let created = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("full")
        .generate_secret(true)
        .refresh_token_validity(2)
        .access_token_validity(15)
        .id_token_validity(20)
        .token_validity_units(units.clone())
        .read_attributes("email")
        .read_attributes("custom:team")
        .read_attributes("email_verified")
        .write_attributes("email")
        .write_attributes("custom:team")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .supported_identity_providers("COGNITO")
        .callback_urls("https://app.example.com/cb")
        .callback_urls("http://localhost:3000/cb")
        .callback_urls("myapp://cb")
        .logout_urls("https://app.example.com/bye")
        .default_redirect_uri("https://app.example.com/cb")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_flows(OAuthFlowType::Implicit)
        .allowed_o_auth_scopes("openid")
        .allowed_o_auth_scopes("email")
        .allowed_o_auth_scopes("api.example.com/read")
        .allowed_o_auth_flows_user_pool_client(true)
        .analytics_configuration(analytics.clone())
        .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
        .enable_token_revocation(false)
        .enable_propagate_additional_user_context_data(true)
        .auth_session_validity(15)
        .refresh_token_rotation(rotation.clone())
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    let d = c
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(created.client_id().unwrap())
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(d, created);
    assert_eq!(d.refresh_token_validity(), 2);
    assert_eq!(d.access_token_validity(), Some(15));
    assert_eq!(d.id_token_validity(), Some(20));
    assert_eq!(d.token_validity_units(), Some(&units));
    assert_eq!(
        d.read_attributes(),
        &["email", "custom:team", "email_verified"]
    );
    assert_eq!(d.write_attributes(), &["email", "custom:team"]);
    assert_eq!(
        d.explicit_auth_flows(),
        &[
            ExplicitAuthFlowsType::AllowUserPasswordAuth,
            ExplicitAuthFlowsType::AllowRefreshTokenAuth
        ]
    );
    assert_eq!(d.supported_identity_providers(), &["COGNITO"]);
    assert_eq!(
        d.callback_urls(),
        &[
            "https://app.example.com/cb",
            "http://localhost:3000/cb",
            "myapp://cb"
        ]
    );
    assert_eq!(d.logout_urls(), &["https://app.example.com/bye"]);
    assert_eq!(d.default_redirect_uri(), Some("https://app.example.com/cb"));
    assert_eq!(
        d.allowed_o_auth_flows(),
        &[OAuthFlowType::Code, OAuthFlowType::Implicit]
    );
    assert_eq!(
        d.allowed_o_auth_scopes(),
        &["openid", "email", "api.example.com/read"]
    );
    assert_eq!(d.allowed_o_auth_flows_user_pool_client(), Some(true));
    assert_eq!(d.analytics_configuration(), Some(&analytics));
    assert_eq!(
        d.prevent_user_existence_errors(),
        Some(&PreventUserExistenceErrorTypes::Enabled)
    );
    assert_eq!(d.enable_token_revocation(), Some(false));
    assert_eq!(
        d.enable_propagate_additional_user_context_data(),
        Some(true)
    );
    assert_eq!(d.auth_session_validity(), Some(15));
    assert_eq!(d.refresh_token_rotation(), Some(&rotation));

    // A legacy flow list is kept as given.
    let legacy = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("legacy")
        .explicit_auth_flows(ExplicitAuthFlowsType::UserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AdminNoSrpAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(
        legacy.explicit_auth_flows(),
        &[
            ExplicitAuthFlowsType::UserPasswordAuth,
            ExplicitAuthFlowsType::AdminNoSrpAuth
        ]
    );

    // client_credentials on a client with a secret.
    let m2m = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("m2m")
        .generate_secret(true)
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .allowed_o_auth_scopes("api.example.com/read")
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(
        m2m.allowed_o_auth_flows(),
        &[OAuthFlowType::ClientCredentials]
    );
}

async fn update_resets_what_it_omits(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c, "update").await;
    let created = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("before")
        .generate_secret(true)
        .access_token_validity(2)
        .refresh_token_validity(7)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .callback_urls("https://a.example.com")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .allowed_o_auth_flows_user_pool_client(true)
        .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
        .enable_token_revocation(false)
        .auth_session_validity(10)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    let id = created.client_id().unwrap();

    let updated = c
        .update_user_pool_client()
        .user_pool_id(&pool)
        .client_id(id)
        .id_token_validity(3)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(updated.client_name(), Some("before"), "the name is kept");
    assert_eq!(
        updated.client_secret(),
        created.client_secret(),
        "the secret is kept"
    );
    assert_eq!(updated.creation_date(), created.creation_date());
    assert!(
        updated.last_modified_date().unwrap().as_secs_f64()
            >= created.last_modified_date().unwrap().as_secs_f64()
    );
    assert_eq!(updated.id_token_validity(), Some(3));
    assert_eq!(updated.access_token_validity(), None, "reset");
    assert_eq!(updated.refresh_token_validity(), 30, "reset to the default");
    assert_eq!(
        updated.explicit_auth_flows, None,
        "back to the unlisted defaults"
    );
    assert!(updated.callback_urls().is_empty());
    assert!(updated.allowed_o_auth_flows().is_empty());
    assert!(updated.allowed_o_auth_scopes().is_empty());
    assert_eq!(updated.allowed_o_auth_flows_user_pool_client(), Some(false));
    assert_eq!(updated.prevent_user_existence_errors(), None);
    assert_eq!(updated.enable_token_revocation(), Some(true));
    assert_eq!(updated.auth_session_validity(), Some(3));

    let described = c
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(id)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(
        described, updated,
        "UpdateUserPoolClient answers what is stored"
    );

    let renamed = c
        .update_user_pool_client()
        .user_pool_id(&pool)
        .client_id(id)
        .client_name("after")
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(renamed.client_name(), Some("after"));
    let listed = c
        .list_user_pool_clients()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.user_pool_clients()[0].client_name(), Some("after"));
}

/// What a bad request must answer: error code and message.
struct Bad {
    code: &'static str,
    message: String,
}

fn bad(code: &'static str, message: impl Into<String>) -> Bad {
    Bad {
        code,
        message: message.into(),
    }
}

async fn invalid_settings_get_cognito_errors(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool_with_schema(&c).await;
    let range = || {
        bad(
            "InvalidParameterException",
            "Invalid range for token validity.",
        )
    };
    let units = |a: TimeUnitsType, r: TimeUnitsType| {
        TokenValidityUnitsType::builder()
            .access_token(a.clone())
            .id_token(a)
            .refresh_token(r)
            .build()
    };
    let base = || {
        c.create_user_pool_client()
            .user_pool_id(&pool)
            .client_name("bad")
    };
    let cases: Vec<(&str, _, Bad)> = vec![
        (
            "access 4 minutes",
            base()
                .access_token_validity(4)
                .token_validity_units(units(TimeUnitsType::Minutes, TimeUnitsType::Days)),
            range(),
        ),
        (
            "access 25 hours (default unit hours)",
            base().access_token_validity(25),
            range(),
        ),
        (
            "id token 2 days",
            base()
                .id_token_validity(2)
                .token_validity_units(units(TimeUnitsType::Days, TimeUnitsType::Days)),
            range(),
        ),
        (
            "refresh 3651 days",
            base().refresh_token_validity(3651),
            range(),
        ),
        (
            "refresh 59 minutes",
            base()
                .refresh_token_validity(59)
                .token_validity_units(units(TimeUnitsType::Hours, TimeUnitsType::Minutes)),
            range(),
        ),
        (
            "refresh unit seconds with the default 30",
            base().token_validity_units(
                TokenValidityUnitsType::builder()
                    .refresh_token(TimeUnitsType::Seconds)
                    .build(),
            ),
            range(),
        ),
        (
            "legacy and ALLOW_ flows mixed",
            base()
                .explicit_auth_flows(ExplicitAuthFlowsType::UserPasswordAuth)
                .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth),
            bad(
                "InvalidParameterException",
                "ExplicitAuthFlows cannot mix legacy values (ADMIN_NO_SRP_AUTH, CUSTOM_AUTH_FLOW_ONLY, USER_PASSWORD_AUTH) with ALLOW_ values.",
            ),
        ),
        (
            "ALLOW_ flows without refresh",
            base().explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth),
            bad(
                "InvalidParameterException",
                "REFRESH_TOKEN_AUTH should always be allowed.",
            ),
        ),
        (
            "unknown read attribute",
            base().read_attributes("custom:nope"),
            bad(
                "InvalidParameterException",
                "Invalid read attributes specified while creating a client",
            ),
        ),
        (
            "email_verified is not writable",
            base()
                .write_attributes("email")
                .write_attributes("email_verified"),
            bad(
                "InvalidParameterException",
                "Invalid write attributes specified while creating a client",
            ),
        ),
        (
            "immutable custom attribute is not writable",
            base()
                .write_attributes("email")
                .write_attributes("custom:badge"),
            bad(
                "InvalidParameterException",
                "Invalid write attributes specified while creating a client",
            ),
        ),
        (
            "write attributes must include the required ones",
            base().write_attributes("name"),
            bad(
                "InvalidParameterException",
                "Invalid write attributes specified while creating a client",
            ),
        ),
        (
            "http callback that is not localhost",
            base().callback_urls("http://app.example.com/cb"),
            bad(
                "InvalidParameterException",
                "Invalid CallbackURL: http://app.example.com/cb. A redirect URL must be absolute, contain no fragment, and use HTTPS unless it is http://localhost.",
            ),
        ),
        (
            "callback with a fragment",
            base().callback_urls("https://app.example.com/cb#x"),
            bad(
                "InvalidParameterException",
                "Invalid CallbackURL: https://app.example.com/cb#x. A redirect URL must be absolute, contain no fragment, and use HTTPS unless it is http://localhost.",
            ),
        ),
        (
            "http logout url",
            base().logout_urls("http://example.com"),
            bad(
                "InvalidParameterException",
                "Invalid LogoutURL: http://example.com. A redirect URL must be absolute, contain no fragment, and use HTTPS unless it is http://localhost.",
            ),
        ),
        (
            "default redirect outside the callbacks",
            base()
                .callback_urls("https://a.example.com")
                .default_redirect_uri("https://b.example.com"),
            bad(
                "InvalidParameterException",
                "DefaultRedirectURI must be one of the CallbackURLs.",
            ),
        ),
        (
            "client_credentials with code",
            base()
                .generate_secret(true)
                .callback_urls("https://a.example.com")
                .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
                .allowed_o_auth_flows(OAuthFlowType::Code),
            bad(
                "InvalidOAuthFlowException",
                "client_credentials flow can not be selected along with code flow or implicit flow.",
            ),
        ),
        (
            "client_credentials without a secret",
            base().allowed_o_auth_flows(OAuthFlowType::ClientCredentials),
            bad(
                "InvalidOAuthFlowException",
                "client_credentials flow can not be selected if client does not have a client secret.",
            ),
        ),
        (
            "client_credentials with a standard scope",
            base()
                .generate_secret(true)
                .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
                .allowed_o_auth_scopes("api.example.com/read")
                .allowed_o_auth_scopes("openid"),
            bad(
                "InvalidOAuthFlowException",
                "openid is not supported with client_credentials flow",
            ),
        ),
        (
            "code flow without callbacks",
            base().allowed_o_auth_flows(OAuthFlowType::Code),
            bad(
                "InvalidOAuthFlowException",
                "CallbackUrls can not be empty when code flow or implicit flow is selected",
            ),
        ),
        (
            "unknown scope",
            base().allowed_o_auth_scopes("superpowers"),
            bad(
                "ScopeDoesNotExistException",
                "Invalid scope requested: superpowers",
            ),
        ),
        (
            "context data propagation without a secret",
            base().enable_propagate_additional_user_context_data(true),
            bad(
                "InvalidParameterException",
                "EnablePropagateAdditionalUserContextData can only be activated for an app client that has a client secret.",
            ),
        ),
    ];
    for (what, call, want) in cases {
        let err = call.send().await.expect_err(what);
        assert_eq!(error_code(&err), want.code, "{what}");
        assert_eq!(error_message(&err), want.message, "{what}");
    }
    // Model-level limits are enforced too.
    let err = base().auth_session_validity(16).send().await.unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");

    // Nothing was created by the failed calls.
    let listed = c
        .list_user_pool_clients()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap();
    assert!(listed.user_pool_clients().is_empty());

    // Update checks the same rules, in its own words.
    let client = new_client(&c, &pool, "ok", false).await;
    let err = c
        .update_user_pool_client()
        .user_pool_id(&pool)
        .client_id(client.client_id().unwrap())
        .write_attributes("sub")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert_eq!(
        error_message(&err),
        "Invalid write attributes specified while updating a client"
    );
    let err = c
        .update_user_pool_client()
        .user_pool_id(&pool)
        .client_id(client.client_id().unwrap())
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidOAuthFlowException");
    let unchanged = c
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(client.client_id().unwrap())
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(unchanged, client, "a rejected update changes nothing");
}

async fn unknown_pool_and_client_are_not_found(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c, "nf").await;
    let missing_pool = "us-east-1_Nope12345";
    let missing_client = "0000000000000000000000nope";
    let pool_msg = format!("User pool {missing_pool} does not exist.");
    let client_msg = format!("User pool client {missing_client} does not exist.");

    let err = c
        .create_user_pool_client()
        .user_pool_id(missing_pool)
        .client_name("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    assert_eq!(error_message(&err), pool_msg);
    let err = c
        .list_user_pool_clients()
        .user_pool_id(missing_pool)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&err), pool_msg);
    let err = c
        .describe_user_pool_client()
        .user_pool_id(missing_pool)
        .client_id(missing_client)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&err), pool_msg);

    let err = c
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(missing_client)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    assert_eq!(error_message(&err), client_msg);
    let err = c
        .update_user_pool_client()
        .user_pool_id(&pool)
        .client_id(missing_client)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&err), client_msg);
    let err = c
        .delete_user_pool_client()
        .user_pool_id(&pool)
        .client_id(missing_client)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&err), client_msg);
    let err = c
        .add_user_pool_client_secret()
        .user_pool_id(&pool)
        .client_id(missing_client)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&err), client_msg);
    let err = c
        .list_user_pool_client_secrets()
        .user_pool_id(&pool)
        .client_id(missing_client)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&err), client_msg);
    let err = c
        .delete_user_pool_client_secret()
        .user_pool_id(&pool)
        .client_id(missing_client)
        .client_secret_id(format!("{missing_client}--1"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&err), client_msg);

    // A client belongs to its pool: another pool of the account does not see it.
    let other = new_pool(&c, "other").await;
    let client = new_client(&c, &pool, "mine", false).await;
    let err = c
        .describe_user_pool_client()
        .user_pool_id(&other)
        .client_id(client.client_id().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    // Nor does another region.
    let err = server
        .client_for(
            "eu-west-1",
            crate::harness::ADMIN_KEY_ID,
            crate::harness::ADMIN_SECRET,
        )
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(client.client_id().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
}

async fn list_user_pool_clients_pages_without_gaps(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c, "paging").await;
    let other = new_pool(&c, "neighbour").await;
    new_client(&c, &other, "not-mine", false).await;
    let mut want = HashSet::new();
    let mut tasks = Vec::new();
    for i in 0..23 {
        let c = c.clone();
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            new_client(&c, &pool, &format!("client-{i}"), false).await
        }));
    }
    for t in tasks {
        want.insert(t.await.unwrap().client_id.unwrap());
    }
    assert_eq!(want.len(), 23);

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = c
            .list_user_pool_clients()
            .user_pool_id(&pool)
            .max_results(5)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(page.user_pool_clients().len() <= 5);
        for d in page.user_pool_clients() {
            assert_eq!(d.user_pool_id(), Some(pool.as_str()));
            assert!(d.client_name().unwrap().starts_with("client-"));
            seen.push(d.client_id().unwrap().to_string());
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(seen.len(), 23, "no duplicates");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), want);

    // Without MaxResults one page holds them all.
    let all = c
        .list_user_pool_clients()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap();
    assert_eq!(all.user_pool_clients().len(), 23);
    assert_eq!(all.next_token(), None);

    // A client deleted between pages is simply not seen; the rest still are.
    let first = c
        .list_user_pool_clients()
        .user_pool_id(&pool)
        .max_results(10)
        .send()
        .await
        .unwrap();
    let victim = seen
        .iter()
        .filter(|id| {
            !first
                .user_pool_clients()
                .iter()
                .any(|d| d.client_id() == Some(id.as_str()))
        })
        .max()
        .unwrap()
        .clone();
    c.delete_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&victim)
        .send()
        .await
        .unwrap();
    let mut rest = Vec::new();
    let mut token = first.next_token().map(str::to_string);
    while let Some(t) = token {
        let page = c
            .list_user_pool_clients()
            .user_pool_id(&pool)
            .max_results(10)
            .next_token(t)
            .send()
            .await
            .unwrap();
        rest.extend(
            page.user_pool_clients()
                .iter()
                .map(|d| d.client_id().unwrap().to_string()),
        );
        token = page.next_token().map(str::to_string);
    }
    assert_eq!(first.user_pool_clients().len() + rest.len(), 22);
    assert!(!rest.contains(&victim));

    let err = c
        .list_user_pool_clients()
        .user_pool_id(&pool)
        .next_token("garbage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    let err = c
        .list_user_pool_clients()
        .user_pool_id(&pool)
        .max_results(61)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
}

async fn secret_rotation_lifecycle(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c, "rotation").await;
    let client = new_client(&c, &pool, "rotating", true).await;
    let id = client.client_id().unwrap();
    let first_secret = client.client_secret().unwrap().to_string();
    let list = |c: cognito::Client, pool: String, id: String| async move {
        c.list_user_pool_client_secrets()
            .user_pool_id(pool)
            .client_id(id)
            .send()
            .await
            .unwrap()
            .client_secrets
            .unwrap_or_default()
    };
    let first_id = list(c.clone(), pool.clone(), id.to_string()).await[0]
        .client_secret_id
        .clone()
        .unwrap();

    let added = c
        .add_user_pool_client_secret()
        .user_pool_id(&pool)
        .client_id(id)
        .send()
        .await
        .unwrap()
        .client_secret_descriptor
        .unwrap();
    let second_value = added.client_secret_value().unwrap().to_string();
    assert_eq!(second_value.len(), 51);
    assert!(is_lower_alnum(&second_value));
    assert_ne!(second_value, first_secret);
    let second_id = added.client_secret_id().unwrap().to_string();
    assert!(second_id.starts_with(&format!("{id}--")));
    assert!(added.client_secret_create_date().is_some());

    let secrets = list(c.clone(), pool.clone(), id.to_string()).await;
    assert_eq!(
        secrets
            .iter()
            .map(|s| s.client_secret_id().unwrap())
            .collect::<Vec<_>>(),
        vec![first_id.as_str(), second_id.as_str()]
    );
    assert!(secrets.iter().all(|s| s.client_secret_value().is_none()));

    let err = c
        .add_user_pool_client_secret()
        .user_pool_id(&pool)
        .client_id(id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "LimitExceededException");
    assert_eq!(
        error_message(&err),
        format!("App client {id} already has the maximum number of client secrets (2).")
    );

    // Retire the first secret: the second becomes the one DescribeUserPoolClient shows.
    c.delete_user_pool_client_secret()
        .user_pool_id(&pool)
        .client_id(id)
        .client_secret_id(&first_id)
        .send()
        .await
        .unwrap();
    let d = c
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(id)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(d.client_secret(), Some(second_value.as_str()));
    assert_eq!(list(c.clone(), pool.clone(), id.to_string()).await.len(), 1);

    let err = c
        .delete_user_pool_client_secret()
        .user_pool_id(&pool)
        .client_id(id)
        .client_secret_id(&first_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    assert_eq!(
        error_message(&err),
        format!("Client secret {first_id} does not exist.")
    );
    let err = c
        .delete_user_pool_client_secret()
        .user_pool_id(&pool)
        .client_id(id)
        .client_secret_id(&second_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err),
        "InvalidParameterException",
        "the last secret stays"
    );

    // A caller-supplied secret is accepted and never echoed back.
    let custom = c
        .add_user_pool_client_secret()
        .user_pool_id(&pool)
        .client_id(id)
        .client_secret("caller_chosen_secret_000000000001")
        .send()
        .await
        .unwrap()
        .client_secret_descriptor
        .unwrap();
    assert_eq!(custom.client_secret_value(), None);
    assert!(custom.client_secret_id().is_some());
    assert_eq!(list(c.clone(), pool.clone(), id.to_string()).await.len(), 2);
    let d = c
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(id)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    assert_eq!(
        d.client_secret(),
        Some(second_value.as_str()),
        "the oldest secret is shown"
    );

    // An updated client keeps its secrets.
    c.update_user_pool_client()
        .user_pool_id(&pool)
        .client_id(id)
        .client_name("renamed")
        .send()
        .await
        .unwrap();
    assert_eq!(list(c.clone(), pool.clone(), id.to_string()).await.len(), 2);

    // A public client has no secret to rotate.
    let public = new_client(&c, &pool, "public", false).await;
    let err = c
        .add_user_pool_client_secret()
        .user_pool_id(&pool)
        .client_id(public.client_id().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert!(
        list(c.clone(), pool.clone(), public.client_id.clone().unwrap())
            .await
            .is_empty()
    );

    // Secrets shorter than 24 characters are refused by the model's constraints.
    let err = c
        .add_user_pool_client_secret()
        .user_pool_id(&pool)
        .client_id(id)
        .client_secret("short")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
}

async fn concurrent_add_secret_keeps_the_two_secret_limit(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c, "race").await;
    for round in 0..4 {
        let client = new_client(&c, &pool, &format!("racer{round}"), true).await;
        let id = client.client_id().unwrap().to_string();
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(12));
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let c = c.clone();
            let pool = pool.clone();
            let id = id.clone();
            let start = start.clone();
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                c.add_user_pool_client_secret()
                    .user_pool_id(pool)
                    .client_id(id)
                    .send()
                    .await
            }));
        }
        let mut ok = 0;
        let mut limited = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert_eq!(error_code(&e), "LimitExceededException");
                    limited += 1;
                }
            }
        }
        assert_eq!((ok, limited), (1, 11), "exactly one more secret fits");
        let secrets = c
            .list_user_pool_client_secrets()
            .user_pool_id(&pool)
            .client_id(&id)
            .send()
            .await
            .unwrap();
        assert_eq!(secrets.client_secrets().len(), 2);
        let ids: HashSet<_> = secrets
            .client_secrets()
            .iter()
            .map(|s| s.client_secret_id().unwrap())
            .collect();
        assert_eq!(ids.len(), 2, "secret ids are unique");
    }
}

async fn deleting_a_client_or_its_pool_removes_it(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c, "cascade").await;
    let a = new_client(&c, &pool, "a", true).await;
    let b = new_client(&c, &pool, "b", true).await;
    let a_id = a.client_id().unwrap();
    c.delete_user_pool_client()
        .user_pool_id(&pool)
        .client_id(a_id)
        .send()
        .await
        .unwrap();
    for err in [
        c.describe_user_pool_client()
            .user_pool_id(&pool)
            .client_id(a_id)
            .send()
            .await
            .map(|_| ())
            .unwrap_err()
            .into_service_error()
            .meta()
            .message()
            .map(str::to_string),
        c.list_user_pool_client_secrets()
            .user_pool_id(&pool)
            .client_id(a_id)
            .send()
            .await
            .map(|_| ())
            .unwrap_err()
            .into_service_error()
            .meta()
            .message()
            .map(str::to_string),
    ] {
        assert_eq!(
            err,
            Some(format!("User pool client {a_id} does not exist."))
        );
    }
    let listed = c
        .list_user_pool_clients()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.user_pool_clients().len(), 1);
    assert_eq!(listed.user_pool_clients()[0].client_id(), b.client_id());

    // Deleting the pool takes its clients (and their secrets) with it.
    c.delete_user_pool()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap();
    let err = c
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(b.client_id().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    assert_eq!(
        error_message(&err),
        format!("User pool {pool} does not exist.")
    );
}

/// The JSON Cognito answers for a client made with a name only (captures of real responses list
/// exactly these members; TokenValidityUnits is an empty object).
async fn default_client_on_the_wire_has_cognito_members_only(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c, "wire").await;
    let client = new_client(&c, &pool, "plain", false).await;
    let body = serde_json::json!({
        "UserPoolId": pool,
        "ClientId": client.client_id().unwrap(),
    })
    .to_string();
    let t = target("DescribeUserPoolClient");
    let r = post(
        &server.base_url,
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", &t),
        ],
        body.as_bytes(),
        Some(Signing {
            key_id: ADMIN_KEY_ID,
            secret: ADMIN_SECRET,
            region: "us-east-1",
            service: "cognito-idp",
            time: std::time::SystemTime::now(),
        }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let upc = r.body["UserPoolClient"].as_object().unwrap();
    let mut keys: Vec<&str> = upc.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "AllowedOAuthFlowsUserPoolClient",
            "AuthSessionValidity",
            "ClientId",
            "ClientName",
            "CreationDate",
            "EnablePropagateAdditionalUserContextData",
            "EnableTokenRevocation",
            "LastModifiedDate",
            "RefreshTokenValidity",
            "TokenValidityUnits",
            "UserPoolId",
        ]
    );
    assert_eq!(upc["TokenValidityUnits"], serde_json::json!({}));
    assert_eq!(upc["RefreshTokenValidity"], serde_json::json!(30));
    assert_eq!(upc["AuthSessionValidity"], serde_json::json!(3));
    assert_eq!(upc["EnableTokenRevocation"], serde_json::json!(true));
    assert!(upc["CreationDate"].is_number(), "epoch seconds on the wire");
}
