//! Resource servers and identity providers through the unmodified SDK, on SQLite and Postgres.

use std::collections::{HashMap, HashSet};

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{
    AliasAttributeType, AttributeDataType, AttributeType, IdentityProviderTypeType as T,
    MessageActionType, ProviderUserIdentifierType, ResourceServerScopeType, SchemaAttributeType,
};

use crate::harness::{error_code, error_message, Backend, Server};

crate::backend_tests!(
    resource_server_round_trip,
    resource_server_errors,
    resource_server_limit_holds_under_concurrency,
    resource_servers_list_pages_without_gaps,
    google_provider_gets_cognito_defaults,
    social_details_are_filled_in,
    provider_name_must_fit_type,
    required_details_per_type,
    oidc_and_saml_details,
    duplicate_provider_name,
    idp_identifiers_are_unique_per_pool,
    update_replaces_only_what_it_gives,
    attribute_mapping_must_name_pool_attributes,
    identity_providers_list_pages_without_gaps,
    delete_identity_provider,
    concurrent_creates_have_one_winner,
    concurrent_updates_of_different_members_both_survive,
    unknown_pool_is_not_found,
    link_and_disable_provider_for_user,
    link_provider_errors,
    link_destination_by_alias,
    link_destination_with_immutable_attribute,
    links_go_with_users_and_providers,
    concurrent_links_keep_limit_and_identities_in_step,
);

const SAML_METADATA: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com/metadata">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.com/slo/post"/>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/slo/redirect"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.com/sso/post"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso/redirect?x=1&amp;y=2"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#;

fn scope(name: &str, description: &str) -> ResourceServerScopeType {
    ResourceServerScopeType::builder()
        .scope_name(name)
        .scope_description(description)
        .build()
        .unwrap()
}

fn details(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn google_details() -> HashMap<String, String> {
    details(&[
        ("client_id", "google-client"),
        ("client_secret", "google-secret"),
        ("authorize_scopes", "email profile openid"),
    ])
}

fn oidc_details() -> HashMap<String, String> {
    details(&[
        ("client_id", "oidc-client"),
        ("client_secret", "oidc-secret"),
        ("authorize_scopes", "openid email"),
        ("oidc_issuer", "https://issuer.example.com"),
        ("attributes_request_method", "GET"),
    ])
}

async fn new_pool(c: &cognito::Client) -> String {
    c.create_user_pool()
        .pool_name("federation")
        .schema(
            SchemaAttributeType::builder()
                .name("tenant")
                .attribute_data_type(AttributeDataType::String)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap()
}

async fn create_oidc(
    c: &cognito::Client,
    pool: &str,
    name: &str,
) -> cognito::types::IdentityProviderType {
    c.create_identity_provider()
        .user_pool_id(pool)
        .provider_name(name)
        .provider_type(T::Oidc)
        .set_provider_details(Some(oidc_details()))
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap()
}

async fn resource_server_round_trip(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    let created = c
        .create_resource_server()
        .user_pool_id(&pool)
        .identifier("https://api.example.com")
        .name("Photos API")
        .scopes(scope("photos.read", "Read photos"))
        .scopes(scope("photos.write", "Write photos"))
        .send()
        .await
        .unwrap()
        .resource_server
        .unwrap();
    assert_eq!(created.user_pool_id(), Some(pool.as_str()));
    assert_eq!(created.identifier(), Some("https://api.example.com"));
    assert_eq!(created.name(), Some("Photos API"));
    let names: Vec<_> = created
        .scopes()
        .iter()
        .map(|s| (s.scope_name(), s.scope_description()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("photos.read", "Read photos"),
            ("photos.write", "Write photos")
        ]
    );
    let described = c
        .describe_resource_server()
        .user_pool_id(&pool)
        .identifier("https://api.example.com")
        .send()
        .await
        .unwrap()
        .resource_server
        .unwrap();
    assert_eq!(described, created);

    // Update replaces the name and every scope.
    let updated = c
        .update_resource_server()
        .user_pool_id(&pool)
        .identifier("https://api.example.com")
        .name("Albums API")
        .scopes(scope("albums.read", "Read albums"))
        .send()
        .await
        .unwrap()
        .resource_server
        .unwrap();
    assert_eq!(updated.name(), Some("Albums API"));
    assert_eq!(updated.scopes().len(), 1);
    assert_eq!(updated.scopes()[0].scope_name(), "albums.read");
    let described = c
        .describe_resource_server()
        .user_pool_id(&pool)
        .identifier("https://api.example.com")
        .send()
        .await
        .unwrap()
        .resource_server
        .unwrap();
    assert_eq!(described, updated);

    // Omitting Scopes on update removes them all.
    let cleared = c
        .update_resource_server()
        .user_pool_id(&pool)
        .identifier("https://api.example.com")
        .name("Albums API")
        .send()
        .await
        .unwrap()
        .resource_server
        .unwrap();
    assert!(cleared.scopes().is_empty());

    // A server without scopes answers an empty list.
    let bare = c
        .create_resource_server()
        .user_pool_id(&pool)
        .identifier("com.example.bare")
        .name("bare")
        .send()
        .await
        .unwrap()
        .resource_server
        .unwrap();
    assert!(bare.scopes().is_empty());

    c.delete_resource_server()
        .user_pool_id(&pool)
        .identifier("https://api.example.com")
        .send()
        .await
        .unwrap();
    let err = c
        .describe_resource_server()
        .user_pool_id(&pool)
        .identifier("https://api.example.com")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    assert_eq!(
        error_message(&err),
        "Resource server https://api.example.com does not exist."
    );
    // The identifier is free again.
    c.create_resource_server()
        .user_pool_id(&pool)
        .identifier("https://api.example.com")
        .name("again")
        .send()
        .await
        .unwrap();
}

async fn resource_server_errors(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    c.create_resource_server()
        .user_pool_id(&pool)
        .identifier("rs")
        .name("first")
        .send()
        .await
        .unwrap();
    let err = c
        .create_resource_server()
        .user_pool_id(&pool)
        .identifier("rs")
        .name("second")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert_eq!(
        error_message(&err),
        format!("rs already exists in pool {pool}.")
    );
    // The first one is untouched.
    let rs = c
        .describe_resource_server()
        .user_pool_id(&pool)
        .identifier("rs")
        .send()
        .await
        .unwrap()
        .resource_server
        .unwrap();
    assert_eq!(rs.name(), Some("first"));

    // The same identifier in another pool is fine.
    let other = new_pool(&c).await;
    c.create_resource_server()
        .user_pool_id(&other)
        .identifier("rs")
        .name("other")
        .send()
        .await
        .unwrap();

    let err = c
        .update_resource_server()
        .user_pool_id(&pool)
        .identifier("missing")
        .name("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    assert_eq!(
        error_message(&err),
        "Resource server missing does not exist."
    );
    let err = c
        .delete_resource_server()
        .user_pool_id(&pool)
        .identifier("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");

    // More than 100 scopes is refused by the model's constraint.
    let mut req = c
        .create_resource_server()
        .user_pool_id(&pool)
        .identifier("many")
        .name("many");
    for i in 0..101 {
        req = req.scopes(scope(&format!("s{i}"), "d"));
    }
    let err = req.send().await.unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    // Exactly 100 is accepted.
    let mut req = c
        .create_resource_server()
        .user_pool_id(&pool)
        .identifier("hundred")
        .name("hundred");
    for i in 0..100 {
        req = req.scopes(scope(&format!("s{i}"), "d"));
    }
    let rs = req.send().await.unwrap().resource_server.unwrap();
    assert_eq!(rs.scopes().len(), 100);

    // A scope name may not contain '/'.
    let err = c
        .create_resource_server()
        .user_pool_id(&pool)
        .identifier("slash")
        .name("slash")
        .scopes(scope("a/b", "d"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");

    let err = c
        .list_resource_servers()
        .user_pool_id(&pool)
        .max_results(10)
        .next_token("garbage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    let err = c
        .list_resource_servers()
        .user_pool_id(&pool)
        .max_results(51)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
}

async fn resource_server_limit_holds_under_concurrency(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let c = c.clone();
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            c.create_resource_server()
                .user_pool_id(pool)
                .identifier(format!("rs-{i:02}"))
                .name("n")
                .send()
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(error_code(&e), "LimitExceededException");
            }
        }
    }
    assert_eq!(ok, 25);
    let all = c
        .list_resource_servers()
        .user_pool_id(&pool)
        .max_results(50)
        .send()
        .await
        .unwrap();
    assert_eq!(all.resource_servers().len(), 25);
    assert!(all.next_token().is_none());
}

async fn resource_servers_list_pages_without_gaps(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    let mut created = HashSet::new();
    for i in 0..7 {
        let id = format!("com.example.rs{i}");
        c.create_resource_server()
            .user_pool_id(&pool)
            .identifier(&id)
            .name(format!("rs {i}"))
            .scopes(scope("read", "r"))
            .send()
            .await
            .unwrap();
        created.insert(id);
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = c
            .list_resource_servers()
            .user_pool_id(&pool)
            .max_results(3)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(out.resource_servers().len() <= 3);
        for rs in out.resource_servers() {
            assert_eq!(rs.user_pool_id(), Some(pool.as_str()));
            assert_eq!(rs.scopes().len(), 1);
            seen.push(rs.identifier().unwrap().to_string());
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7, "no duplicates");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), created);

    let all: Vec<_> = c
        .list_resource_servers()
        .user_pool_id(&pool)
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(all.len(), 7);

    // Without MaxResults every server comes back on one page.
    let out = c
        .list_resource_servers()
        .user_pool_id(&pool)
        .max_results(50)
        .send()
        .await
        .unwrap();
    assert_eq!(out.resource_servers().len(), 7);
    assert!(out.next_token().is_none());
}

async fn google_provider_gets_cognito_defaults(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    let created = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Google")
        .provider_type(T::Google)
        .set_provider_details(Some(google_details()))
        .attribute_mapping("email", "email")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert_eq!(created.user_pool_id(), Some(pool.as_str()));
    assert_eq!(created.provider_name(), Some("Google"));
    assert_eq!(created.provider_type(), Some(&T::Google));
    let d = created.provider_details().unwrap();
    let want = details(&[
        ("client_id", "google-client"),
        ("client_secret", "google-secret"),
        ("authorize_scopes", "email profile openid"),
        (
            "attributes_url",
            "https://people.googleapis.com/v1/people/me?personFields=",
        ),
        ("attributes_url_add_attributes", "true"),
        (
            "authorize_url",
            "https://accounts.google.com/o/oauth2/v2/auth",
        ),
        ("oidc_issuer", "https://accounts.google.com"),
        ("token_request_method", "POST"),
        ("token_url", "https://www.googleapis.com/oauth2/v4/token"),
    ]);
    assert_eq!(d, &want);
    let m = created.attribute_mapping().unwrap();
    assert_eq!(
        m,
        &details(&[("email", "email"), ("username", "sub")]),
        "username maps to sub by default"
    );
    assert!(created.idp_identifiers().is_empty());
    let (cd, md) = (
        created.creation_date().unwrap(),
        created.last_modified_date().unwrap(),
    );
    assert_eq!(cd, md);

    let described = c
        .describe_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Google")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert_eq!(described, created);

    let listed = c
        .list_identity_providers()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.providers().len(), 1);
    let p = &listed.providers()[0];
    assert_eq!(p.provider_name(), Some("Google"));
    assert_eq!(p.provider_type(), Some(&T::Google));
    assert_eq!(p.creation_date(), created.creation_date());
    assert_eq!(p.last_modified_date(), created.last_modified_date());
    assert!(listed.next_token().is_none());
}

async fn social_details_are_filled_in(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    let fb = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Facebook")
        .provider_type(T::Facebook)
        .set_provider_details(Some(details(&[
            ("client_id", "fb"),
            ("client_secret", "fb-secret"),
            ("authorize_scopes", "public_profile,email"),
            ("api_version", "v18.0"),
        ])))
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    let d = fb.provider_details().unwrap();
    assert_eq!(
        d.get("authorize_url").map(String::as_str),
        Some("https://www.facebook.com/v18.0/dialog/oauth")
    );
    assert_eq!(
        d.get("token_url").map(String::as_str),
        Some("https://graph.facebook.com/v18.0/oauth/access_token")
    );
    assert_eq!(
        d.get("attributes_url").map(String::as_str),
        Some("https://graph.facebook.com/v18.0/me?fields=")
    );
    assert_eq!(
        d.get("token_request_method").map(String::as_str),
        Some("GET")
    );
    assert_eq!(
        fb.attribute_mapping()
            .unwrap()
            .get("username")
            .map(String::as_str),
        Some("id")
    );

    let amazon = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("LoginWithAmazon")
        .provider_type(T::LoginWithAmazon)
        .set_provider_details(Some(details(&[
            ("client_id", "amzn"),
            ("client_secret", "amzn-secret"),
            ("authorize_scopes", "profile"),
        ])))
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    let d = amazon.provider_details().unwrap();
    assert_eq!(
        d.get("authorize_url").map(String::as_str),
        Some("https://www.amazon.com/ap/oa")
    );
    assert_eq!(
        d.get("token_url").map(String::as_str),
        Some("https://api.amazon.com/auth/o2/token")
    );
    assert_eq!(
        d.get("attributes_url").map(String::as_str),
        Some("https://api.amazon.com/user/profile")
    );
    assert_eq!(
        amazon
            .attribute_mapping()
            .unwrap()
            .get("username")
            .map(String::as_str),
        Some("user_id")
    );

    let apple = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("SignInWithApple")
        .provider_type(T::SignInWithApple)
        .set_provider_details(Some(details(&[
            ("client_id", "com.example.web"),
            ("team_id", "TEAM123456"),
            ("key_id", "KEY1234567"),
            (
                "private_key",
                "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----",
            ),
            ("authorize_scopes", "email name"),
        ])))
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    let d = apple.provider_details().unwrap();
    assert!(
        !d.contains_key("private_key"),
        "the private key is write-only"
    );
    assert_eq!(d.get("team_id").map(String::as_str), Some("TEAM123456"));
    assert_eq!(
        d.get("authorize_url").map(String::as_str),
        Some("https://appleid.apple.com/auth/authorize")
    );
    assert_eq!(
        d.get("oidc_issuer").map(String::as_str),
        Some("https://appleid.apple.com")
    );
    let described = c
        .describe_identity_provider()
        .user_pool_id(&pool)
        .provider_name("SignInWithApple")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert!(!described
        .provider_details()
        .unwrap()
        .contains_key("private_key"));
    assert_eq!(described, apple);

    // Updating Apple's details without the private key keeps the stored one (no error).
    let updated = c
        .update_identity_provider()
        .user_pool_id(&pool)
        .provider_name("SignInWithApple")
        .set_provider_details(Some(details(&[
            ("client_id", "com.example.web2"),
            ("team_id", "TEAM123456"),
            ("key_id", "KEY1234567"),
            ("authorize_scopes", "email"),
        ])))
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert_eq!(
        updated
            .provider_details()
            .unwrap()
            .get("client_id")
            .map(String::as_str),
        Some("com.example.web2")
    );
}

async fn provider_name_must_fit_type(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    let err = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("NameOfGP")
        .provider_type(T::Google)
        .set_provider_details(Some(google_details()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert_eq!(
        error_message(&err),
        "Provider NameOfGP cannot be of type Google."
    );

    let err = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Google")
        .provider_type(T::Oidc)
        .set_provider_details(Some(oidc_details()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert_eq!(
        error_message(&err),
        "Provider Google cannot be of type OIDC."
    );

    let err = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Facebook")
        .provider_type(T::Google)
        .set_provider_details(Some(google_details()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&err),
        "Provider Facebook cannot be of type Google."
    );

    // A leading underscore breaks the model's pattern for new provider names.
    let err = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("_bad")
        .provider_type(T::Oidc)
        .set_provider_details(Some(oidc_details()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    // Nothing was stored by the refused calls.
    let listed = c
        .list_identity_providers()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap();
    assert!(listed.providers().is_empty());
}

async fn expect_invalid(
    c: &cognito::Client,
    pool: &str,
    name: &str,
    t: T,
    d: HashMap<String, String>,
    message: &str,
) {
    let err = c
        .create_identity_provider()
        .user_pool_id(pool)
        .provider_name(name)
        .provider_type(t.clone())
        .set_provider_details(Some(d))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err),
        "InvalidParameterException",
        "{name} {t:?}"
    );
    assert_eq!(error_message(&err), message, "{name} {t:?}");
}

async fn required_details_per_type(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    let social = "client_id, client_secret and authorize_scopes are all required idp details";
    for (name, t) in [
        ("Google", T::Google),
        ("Facebook", T::Facebook),
        ("LoginWithAmazon", T::LoginWithAmazon),
    ] {
        for missing in ["client_id", "client_secret", "authorize_scopes"] {
            let mut d = google_details();
            d.remove(missing);
            expect_invalid(&c, &pool, name, t.clone(), d, social).await;
        }
        // An empty value counts as missing.
        let mut d = google_details();
        d.insert("client_secret".into(), String::new());
        expect_invalid(&c, &pool, name, t.clone(), d, social).await;
    }
    let apple = details(&[
        ("client_id", "a"),
        ("team_id", "t"),
        ("key_id", "k"),
        ("private_key", "p"),
    ]);
    for missing in ["client_id", "team_id", "key_id", "private_key"] {
        let mut d = apple.clone();
        d.remove(missing);
        expect_invalid(
            &c,
            &pool,
            "SignInWithApple",
            T::SignInWithApple,
            d,
            "client_id, private_key, team_id, and key_id are all required idp details",
        )
        .await;
    }
    for missing in [
        "client_id",
        "authorize_scopes",
        "oidc_issuer",
        "attributes_request_method",
    ] {
        let mut d = oidc_details();
        d.remove(missing);
        expect_invalid(
            &c,
            &pool,
            "Corp",
            T::Oidc,
            d,
            "client_id, authorize_scopes, oidc_issuer and attributes_request_method are all required idp details",
        )
        .await;
    }
    let mut d = oidc_details();
    d.insert("attributes_request_method".into(), "PUT".into());
    expect_invalid(
        &c,
        &pool,
        "Corp",
        T::Oidc,
        d,
        "attributes_request_method must be GET or POST, not PUT",
    )
    .await;
    expect_invalid(
        &c,
        &pool,
        "Saml",
        T::Saml,
        details(&[("IDPSignout", "true")]),
        "At least one of the MetadataURL or MetadataFile should be provided.",
    )
    .await;
    expect_invalid(
        &c,
        &pool,
        "Saml",
        T::Saml,
        details(&[("MetadataFile", "<md:EntityDescriptor/>")]),
        "No SingleSignOn Http redirect binding location found in metadata.",
    )
    .await;
    expect_invalid(
        &c,
        &pool,
        "Saml",
        T::Saml,
        details(&[("MetadataFile", "not xml at all <<<")]),
        "No SingleSignOn Http redirect binding location found in metadata.",
    )
    .await;
    let listed = c
        .list_identity_providers()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap();
    assert!(
        listed.providers().is_empty(),
        "no refused provider was stored"
    );
}

async fn oidc_and_saml_details(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    // OIDC: what was given, plus attributes_url_add_attributes; no discovery over the network.
    let mut given = oidc_details();
    given.insert("attributes_request_method".into(), "POST".into());
    given.insert(
        "authorize_url".into(),
        "https://issuer.example.com/auth".into(),
    );
    let oidc = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .provider_type(T::Oidc)
        .set_provider_details(Some(given.clone()))
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    let mut want = given.clone();
    want.insert("attributes_url_add_attributes".into(), "false".into());
    assert_eq!(oidc.provider_details().unwrap(), &want);
    assert_eq!(
        oidc.attribute_mapping().unwrap(),
        &details(&[("username", "sub")])
    );
    // OIDC without a client secret (a public client) is accepted.
    let mut public = oidc_details();
    public.remove("client_secret");
    create_oidc_with(&c, &pool, "Public", public).await;

    // SAML with a metadata document: the redirect bindings are read from it.
    let saml = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Okta")
        .provider_type(T::Saml)
        .set_provider_details(Some(details(&[
            ("MetadataFile", SAML_METADATA),
            ("IDPSignout", "true"),
        ])))
        .attribute_mapping(
            "email",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        )
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    let d = saml.provider_details().unwrap();
    assert_eq!(
        d.get("SSORedirectBindingURI").map(String::as_str),
        Some("https://idp.example.com/sso/redirect?x=1&y=2")
    );
    assert_eq!(
        d.get("SLORedirectBindingURI").map(String::as_str),
        Some("https://idp.example.com/slo/redirect")
    );
    assert_eq!(
        d.get("MetadataFile").map(String::as_str),
        Some(SAML_METADATA)
    );
    assert_eq!(d.get("IDPSignout").map(String::as_str), Some("true"));
    assert!(
        !saml.attribute_mapping().unwrap().contains_key("username"),
        "SAML gets no default username mapping"
    );
    // SAML with a metadata URL is stored as given (nothing is fetched).
    let by_url = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Adfs")
        .provider_type(T::Saml)
        .set_provider_details(Some(details(&[(
            "MetadataURL",
            "https://adfs.example.com/FederationMetadata/2007-06/FederationMetadata.xml",
        )])))
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert_eq!(by_url.provider_details().unwrap().len(), 1);
}

async fn create_oidc_with(
    c: &cognito::Client,
    pool: &str,
    name: &str,
    d: HashMap<String, String>,
) -> cognito::types::IdentityProviderType {
    c.create_identity_provider()
        .user_pool_id(pool)
        .provider_name(name)
        .provider_type(T::Oidc)
        .set_provider_details(Some(d))
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap()
}

async fn duplicate_provider_name(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    create_oidc(&c, &pool, "Corp").await;
    let err = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .provider_type(T::Saml)
        .set_provider_details(Some(details(&[("MetadataURL", "https://x.example.com")])))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "DuplicateProviderException");
    assert_eq!(
        error_message(&err),
        format!("Corp already exists in user pool {pool}")
    );
    let p = c
        .describe_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert_eq!(
        p.provider_type(),
        Some(&T::Oidc),
        "the first provider is kept"
    );
    // Another pool may use the name.
    let other = new_pool(&c).await;
    create_oidc(&c, &other, "Corp").await;
}

async fn idp_identifiers_are_unique_per_pool(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    let a = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("ProvA")
        .provider_type(T::Oidc)
        .set_provider_details(Some(oidc_details()))
        .idp_identifiers("example.com")
        .idp_identifiers("a-corp")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert_eq!(a.idp_identifiers(), ["example.com", "a-corp"]);
    let err = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("ProvB")
        .provider_type(T::Oidc)
        .set_provider_details(Some(oidc_details()))
        .idp_identifiers("b-corp")
        .idp_identifiers("a-corp")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert_eq!(
        error_message(&err),
        "Duplicate identifier a-corp found in user pool."
    );
    // Nothing of B was kept, not even its first identifier.
    let err = c
        .describe_identity_provider()
        .user_pool_id(&pool)
        .provider_name("ProvB")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    assert_eq!(
        error_message(&err),
        "Identity provider ProvB does not exist."
    );
    let err = c
        .get_identity_provider_by_identifier()
        .user_pool_id(&pool)
        .idp_identifier("b-corp")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    assert_eq!(
        error_message(&err),
        "Identity provider with identifier b-corp does not exist."
    );
    // The same identifier twice in one request.
    let err = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("ProvC")
        .provider_type(T::Oidc)
        .set_provider_details(Some(oidc_details()))
        .idp_identifiers("c")
        .idp_identifiers("c")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");

    let found = c
        .get_identity_provider_by_identifier()
        .user_pool_id(&pool)
        .idp_identifier("example.com")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert_eq!(found, a);

    // Update moves A's identifiers; the released one can go to another provider.
    let updated = c
        .update_identity_provider()
        .user_pool_id(&pool)
        .provider_name("ProvA")
        .idp_identifiers("a-new")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert_eq!(updated.idp_identifiers(), ["a-new"]);
    let b = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("ProvB")
        .provider_type(T::Oidc)
        .set_provider_details(Some(oidc_details()))
        .idp_identifiers("a-corp")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    let found = c
        .get_identity_provider_by_identifier()
        .user_pool_id(&pool)
        .idp_identifier("a-corp")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert_eq!(found, b);
    // Taking B's identifier on update fails and leaves A as it was.
    let err = c
        .update_identity_provider()
        .user_pool_id(&pool)
        .provider_name("ProvA")
        .idp_identifiers("a-corp")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    let a_now = c
        .describe_identity_provider()
        .user_pool_id(&pool)
        .provider_name("ProvA")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert_eq!(a_now, updated);
    // The same identifier in another pool is fine.
    let other = new_pool(&c).await;
    c.create_identity_provider()
        .user_pool_id(&other)
        .provider_name("ProvA")
        .provider_type(T::Oidc)
        .set_provider_details(Some(oidc_details()))
        .idp_identifiers("a-corp")
        .send()
        .await
        .unwrap();
}

async fn update_replaces_only_what_it_gives(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    let created = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .provider_type(T::Oidc)
        .set_provider_details(Some(oidc_details()))
        .attribute_mapping("email", "mail")
        .idp_identifiers("corp")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    // Only the mapping: details and identifiers stay.
    let u1 = c
        .update_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .attribute_mapping("name", "display_name")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert_eq!(u1.provider_details(), created.provider_details());
    assert_eq!(u1.idp_identifiers(), ["corp"]);
    assert_eq!(
        u1.attribute_mapping().unwrap(),
        &details(&[("name", "display_name"), ("username", "sub")])
    );
    assert_eq!(u1.creation_date(), created.creation_date());
    assert!(u1.last_modified_date().unwrap() > created.last_modified_date().unwrap());

    // Only the details: validated for the type, replaced whole.
    let mut d = oidc_details();
    d.insert("oidc_issuer".into(), "https://new.example.com".into());
    d.remove("client_secret");
    let u2 = c
        .update_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .set_provider_details(Some(d))
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    let pd = u2.provider_details().unwrap();
    assert_eq!(
        pd.get("oidc_issuer").map(String::as_str),
        Some("https://new.example.com")
    );
    assert!(!pd.contains_key("client_secret"));
    assert_eq!(u2.attribute_mapping(), u1.attribute_mapping());
    assert_eq!(u2.idp_identifiers(), ["corp"]);

    let err = c
        .update_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .set_provider_details(Some(details(&[("client_id", "x")])))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert_eq!(
        error_message(&err),
        "client_id, authorize_scopes, oidc_issuer and attributes_request_method are all required idp details"
    );
    let now = c
        .describe_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert_eq!(now, u2, "a refused update changes nothing");

    // An empty identifier list clears them.
    let u3 = c
        .update_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .set_idp_identifiers(Some(vec![]))
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert!(u3.idp_identifiers().is_empty());

    let err = c
        .update_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Nobody")
        .attribute_mapping("email", "mail")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    assert_eq!(
        error_message(&err),
        "Identity provider Nobody does not exist."
    );
}

async fn attribute_mapping_must_name_pool_attributes(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    let err = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .provider_type(T::Oidc)
        .set_provider_details(Some(oidc_details()))
        .attribute_mapping("shoe_size", "shoe")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert_eq!(
        error_message(&err),
        "Attribute shoe_size in the attribute mapping does not exist in the user pool schema."
    );
    let p = c
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .provider_type(T::Oidc)
        .set_provider_details(Some(oidc_details()))
        .attribute_mapping("custom:tenant", "tid")
        .attribute_mapping("email_verified", "email_verified")
        .attribute_mapping("username", "oid")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert_eq!(
        p.attribute_mapping().unwrap(),
        &details(&[
            ("custom:tenant", "tid"),
            ("email_verified", "email_verified"),
            ("username", "oid"),
        ]),
        "an explicit username mapping wins over the default"
    );
    let err = c
        .update_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .attribute_mapping("custom:nope", "x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
}

async fn identity_providers_list_pages_without_gaps(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    let mut created = HashSet::new();
    for i in 0..7 {
        let name = format!("Corp{i}");
        create_oidc(&c, &pool, &name).await;
        created.insert(name);
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = c
            .list_identity_providers()
            .user_pool_id(&pool)
            .max_results(3)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(out.providers().len() <= 3);
        for p in out.providers() {
            assert_eq!(p.provider_type(), Some(&T::Oidc));
            assert!(p.creation_date().is_some());
            seen.push(p.provider_name().unwrap().to_string());
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7, "no duplicates");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), created);

    let all: Vec<_> = c
        .list_identity_providers()
        .user_pool_id(&pool)
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(all.len(), 7);
    for max in [0, 60] {
        let out = c
            .list_identity_providers()
            .user_pool_id(&pool)
            .max_results(max)
            .send()
            .await
            .unwrap();
        assert_eq!(out.providers().len(), 7);
        assert!(out.next_token().is_none());
    }
    let err = c
        .list_identity_providers()
        .user_pool_id(&pool)
        .max_results(61)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    let err = c
        .list_identity_providers()
        .user_pool_id(&pool)
        .next_token("garbage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
}

async fn delete_identity_provider(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    c.create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .provider_type(T::Oidc)
        .set_provider_details(Some(oidc_details()))
        .idp_identifiers("corp.example.com")
        .send()
        .await
        .unwrap();
    c.delete_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .send()
        .await
        .unwrap();
    let err = c
        .describe_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    let err = c
        .delete_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    assert_eq!(
        error_message(&err),
        "Identity provider Corp does not exist."
    );
    let err = c
        .get_identity_provider_by_identifier()
        .user_pool_id(&pool)
        .idp_identifier("corp.example.com")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    // Name and identifier are free again.
    c.create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .provider_type(T::Saml)
        .set_provider_details(Some(details(&[("MetadataURL", "https://m.example.com")])))
        .idp_identifiers("corp.example.com")
        .send()
        .await
        .unwrap();
}

async fn concurrent_creates_have_one_winner(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let c = c.clone();
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            // Half race for one name, half for one identifier under distinct names.
            let name = if i % 2 == 0 {
                "Same".to_string()
            } else {
                format!("P{i}")
            };
            c.create_identity_provider()
                .user_pool_id(pool)
                .provider_name(name)
                .provider_type(T::Oidc)
                .set_provider_details(Some(oidc_details()))
                .idp_identifiers(format!("id-{i}"))
                .idp_identifiers("shared")
                .send()
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                let code = error_code(&e);
                assert!(
                    code == "DuplicateProviderException" || code == "InvalidParameterException",
                    "{code}"
                );
            }
        }
    }
    assert_eq!(ok, 1, "only one provider can hold 'shared'");
    let listed = c
        .list_identity_providers()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.providers().len(), 1);
    let winner = c
        .get_identity_provider_by_identifier()
        .user_pool_id(&pool)
        .idp_identifier("shared")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert_eq!(
        winner.provider_name(),
        listed.providers()[0].provider_name()
    );
    assert_eq!(winner.idp_identifiers().len(), 2);
}

async fn unknown_pool_is_not_found(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = "us-east-1_Nope12345";
    let msg = format!("User pool {pool} does not exist.");
    let e = c
        .create_resource_server()
        .user_pool_id(pool)
        .identifier("x")
        .name("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (error_code(&e), error_message(&e)),
        ("ResourceNotFoundException".into(), msg.clone())
    );
    let e = c
        .list_resource_servers()
        .user_pool_id(pool)
        .max_results(5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (error_code(&e), error_message(&e)),
        ("ResourceNotFoundException".into(), msg.clone())
    );
    let e = c
        .create_identity_provider()
        .user_pool_id(pool)
        .provider_name("Corp")
        .provider_type(T::Oidc)
        .set_provider_details(Some(oidc_details()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (error_code(&e), error_message(&e)),
        ("ResourceNotFoundException".into(), msg.clone())
    );
    let e = c
        .list_identity_providers()
        .user_pool_id(pool)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (error_code(&e), error_message(&e)),
        ("ResourceNotFoundException".into(), msg.clone())
    );

    // A pool's resource servers and providers go with it.
    let real = new_pool(&c).await;
    create_oidc(&c, &real, "Corp").await;
    c.create_resource_server()
        .user_pool_id(&real)
        .identifier("rs")
        .name("rs")
        .send()
        .await
        .unwrap();
    c.delete_user_pool()
        .user_pool_id(&real)
        .send()
        .await
        .unwrap();
    let e = c
        .describe_identity_provider()
        .user_pool_id(&real)
        .provider_name("Corp")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&e),
        format!("User pool {real} does not exist.")
    );
}

async fn concurrent_updates_of_different_members_both_survive(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = new_pool(&c).await;
    create_oidc(&c, &pool, "Corp").await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let c = c.clone();
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let req = c
                .update_identity_provider()
                .user_pool_id(pool)
                .provider_name("Corp");
            let req = if i % 2 == 0 {
                req.attribute_mapping("name", format!("name-{i}"))
            } else {
                req.idp_identifiers(format!("corp-{i}"))
            };
            req.send().await.map(|_| ())
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let p = c
        .describe_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    // The last mapping writer and the last identifier writer both left their mark.
    let name = p
        .attribute_mapping()
        .unwrap()
        .get("name")
        .cloned()
        .unwrap_or_default();
    assert!(name.starts_with("name-"), "mapping kept: {name}");
    assert_eq!(p.idp_identifiers().len(), 1);
    assert!(p.idp_identifiers()[0].starts_with("corp-"));
    assert_eq!(
        p.provider_details()
            .unwrap()
            .get("client_id")
            .map(String::as_str),
        Some("oidc-client")
    );
    // The identifier index agrees with the provider.
    let by_id = c
        .get_identity_provider_by_identifier()
        .user_pool_id(&pool)
        .idp_identifier(&p.idp_identifiers()[0])
        .send()
        .await
        .unwrap()
        .identity_provider
        .unwrap();
    assert_eq!(by_id, p);
}

fn ident(provider: &str, attr: Option<&str>, value: &str) -> ProviderUserIdentifierType {
    ProviderUserIdentifierType::builder()
        .provider_name(provider)
        .set_provider_attribute_name(attr.map(str::to_string))
        .provider_attribute_value(value)
        .build()
}

fn cognito_user(name: &str) -> ProviderUserIdentifierType {
    ident("Cognito", None, name)
}

async fn create_google(c: &cognito::Client, pool: &str) {
    c.create_identity_provider()
        .user_pool_id(pool)
        .provider_name("Google")
        .provider_type(T::Google)
        .set_provider_details(Some(google_details()))
        .send()
        .await
        .unwrap();
}

async fn create_user(c: &cognito::Client, pool: &str, name: &str, attrs: &[(&str, &str)]) {
    let mut b = c
        .admin_create_user()
        .user_pool_id(pool)
        .username(name)
        .message_action(MessageActionType::Suppress);
    for (n, v) in attrs {
        b = b.user_attributes(AttributeType::builder().name(*n).value(*v).build().unwrap());
    }
    b.send().await.unwrap();
}

async fn link(
    c: &cognito::Client,
    pool: &str,
    dest: ProviderUserIdentifierType,
    src: ProviderUserIdentifierType,
) -> Result<
    cognito::operation::admin_link_provider_for_user::AdminLinkProviderForUserOutput,
    cognito::error::SdkError<
        cognito::operation::admin_link_provider_for_user::AdminLinkProviderForUserError,
    >,
> {
    c.admin_link_provider_for_user()
        .user_pool_id(pool)
        .destination_user(dest)
        .source_user(src)
        .send()
        .await
}

async fn disable(
    c: &cognito::Client,
    pool: &str,
    user: ProviderUserIdentifierType,
) -> Result<
    cognito::operation::admin_disable_provider_for_user::AdminDisableProviderForUserOutput,
    cognito::error::SdkError<
        cognito::operation::admin_disable_provider_for_user::AdminDisableProviderForUserError,
    >,
> {
    c.admin_disable_provider_for_user()
        .user_pool_id(pool)
        .user(user)
        .send()
        .await
}

/// The user's attributes as AdminGetUser shows them, in order.
async fn attributes_of(c: &cognito::Client, pool: &str, name: &str) -> Vec<(String, String)> {
    c.admin_get_user()
        .user_pool_id(pool)
        .username(name)
        .send()
        .await
        .unwrap()
        .user_attributes
        .unwrap_or_default()
        .into_iter()
        .map(|a| (a.name, a.value.unwrap_or_default()))
        .collect()
}

/// The `identities` attribute as (providerName, userId) pairs, checking each element's shape.
async fn identities_of(c: &cognito::Client, pool: &str, name: &str) -> Vec<(String, String)> {
    let attrs = attributes_of(c, pool, name).await;
    let Some((_, raw)) = attrs.iter().find(|(n, _)| n == "identities") else {
        return vec![];
    };
    let v: serde_json::Value = serde_json::from_str(raw).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let o = e.as_object().unwrap();
            assert_eq!(o.len(), 6, "{raw}");
            assert!(o["issuer"].is_null(), "{raw}");
            assert_eq!(o["primary"], serde_json::Value::Bool(false), "{raw}");
            assert!(
                o["dateCreated"].as_i64().unwrap() > 1_600_000_000_000,
                "{raw}"
            );
            (
                o["providerName"].as_str().unwrap().to_string(),
                o["userId"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn federation_pool(c: &cognito::Client) -> String {
    let pool = new_pool(c).await;
    create_google(c, &pool).await;
    c.create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .provider_type(T::Oidc)
        .set_provider_details(Some(oidc_details()))
        .attribute_mapping("email", "mail")
        .send()
        .await
        .unwrap();
    pool
}

async fn link_and_disable_provider_for_user(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = federation_pool(&c).await;
    create_user(&c, &pool, "alice", &[("email", "alice@example.com")]).await;
    let before = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("alice")
        .send()
        .await
        .unwrap();
    assert!(!attributes_of(&c, &pool, "alice")
        .await
        .iter()
        .any(|(n, _)| n == "identities"));
    let start_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // The DestinationUser's ProviderAttributeName may be Cognito_Subject or left out.
    link(
        &c,
        &pool,
        ident("Cognito", Some("Cognito_Subject"), "alice"),
        ident("Google", Some("Cognito_Subject"), "g-1"),
    )
    .await
    .unwrap();
    let attrs = attributes_of(&c, &pool, "alice").await;
    // `identities` comes right after `sub`, as a JSON string in Cognito's member order.
    assert_eq!(attrs[0].0, "sub");
    assert_eq!(attrs[1].0, "identities");
    let prefix = r#"[{"userId":"g-1","providerName":"Google","providerType":"Google","issuer":null,"primary":false,"dateCreated":"#;
    assert!(attrs[1].1.starts_with(prefix), "{}", attrs[1].1);
    let v: serde_json::Value = serde_json::from_str(&attrs[1].1).unwrap();
    let created = v[0]["dateCreated"].as_i64().unwrap();
    assert!(created >= start_ms - 5_000 && created <= start_ms + 60_000);
    assert!(attrs.contains(&("email".into(), "alice@example.com".into())));
    let after = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("alice")
        .send()
        .await
        .unwrap();
    assert!(after.user_last_modified_date.unwrap() >= before.user_last_modified_date.unwrap());
    assert_eq!(after.user_status, before.user_status);
    // An OIDC identity may be named by a mapped pool attribute.
    link(
        &c,
        &pool,
        cognito_user("alice"),
        ident("Corp", Some("email"), "alice@corp.example.com"),
    )
    .await
    .unwrap();
    assert_eq!(
        identities_of(&c, &pool, "alice").await,
        vec![
            ("Google".to_string(), "g-1".to_string()),
            ("Corp".to_string(), "alice@corp.example.com".to_string()),
        ]
    );
    let attrs = attributes_of(&c, &pool, "alice").await;
    let raw = &attrs.iter().find(|(n, _)| n == "identities").unwrap().1;
    assert!(raw.contains(r#""providerName":"Corp","providerType":"OIDC""#));
    // ListUsers shows the attribute too, whether it finds alice by username or by an attribute.
    for filter in ["username = \"alice\"", "email = \"alice@example.com\""] {
        let listed = c
            .list_users()
            .user_pool_id(&pool)
            .filter(filter)
            .send()
            .await
            .unwrap();
        let u = &listed.users.unwrap()[0];
        assert!(
            u.attributes
                .as_deref()
                .unwrap()
                .iter()
                .any(|a| a.name == "identities" && a.value.as_deref() == Some(raw.as_str())),
            "{filter}"
        );
    }
    // The attribute is not the client's to write.
    let err = c
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("alice")
        .user_attributes(
            AttributeType::builder()
                .name("identities")
                .value("[]")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    // Other writes keep it.
    c.admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("alice")
        .user_attributes(
            AttributeType::builder()
                .name("name")
                .value("Alice")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(identities_of(&c, &pool, "alice").await.len(), 2);

    // Disabling removes one identity; the answer is an empty object.
    disable(&c, &pool, ident("Google", Some("Cognito_Subject"), "g-1"))
        .await
        .unwrap();
    assert_eq!(
        identities_of(&c, &pool, "alice").await,
        vec![("Corp".to_string(), "alice@corp.example.com".to_string())]
    );
    // A link made with a mapped attribute is disabled with the same attribute.
    let err = disable(
        &c,
        &pool,
        ident("Corp", Some("Cognito_Subject"), "alice@corp.example.com"),
    )
    .await
    .unwrap_err();
    assert_eq!(error_code(&err), "UserNotFoundException");
    assert_eq!(error_message(&err), "User does not exist.");
    disable(
        &c,
        &pool,
        ident("Corp", Some("email"), "alice@corp.example.com"),
    )
    .await
    .unwrap();
    // The last identity gone, so is the attribute; the user is otherwise untouched.
    let attrs = attributes_of(&c, &pool, "alice").await;
    assert!(!attrs.iter().any(|(n, _)| n == "identities"));
    assert!(attrs.contains(&("name".into(), "Alice".into())));
    // Nothing left to disable.
    let err = disable(&c, &pool, ident("Google", Some("Cognito_Subject"), "g-1"))
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "UserNotFoundException");
    assert_eq!(error_message(&err), "User does not exist.");
    // The identity is free again.
    link(
        &c,
        &pool,
        cognito_user("alice"),
        ident("Google", Some("Cognito_Subject"), "g-1"),
    )
    .await
    .unwrap();
    assert_eq!(
        identities_of(&c, &pool, "alice").await,
        vec![("Google".to_string(), "g-1".to_string())]
    );
}

async fn link_provider_errors(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = federation_pool(&c).await;
    create_user(&c, &pool, "alice", &[]).await;
    create_user(&c, &pool, "bob", &[]).await;
    let g = |v: &str| ident("Google", Some("Cognito_Subject"), v);

    // The pool must exist.
    let err = link(&c, "us-east-1_nopool123", cognito_user("alice"), g("x"))
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    let err = disable(&c, "us-east-1_nopool123", g("x"))
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    // The destination must be an existing user.
    let err = link(&c, &pool, cognito_user("nobody"), g("x"))
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "UserNotFoundException");
    assert_eq!(error_message(&err), "User does not exist.");
    let err = link(
        &c,
        &pool,
        ident("Google", Some("Cognito_Subject"), "alice"),
        g("x"),
    )
    .await
    .unwrap_err();
    assert_eq!(error_code(&err), "UserNotFoundException");
    // The source must be an external identity of an existing provider.
    let err = link(&c, &pool, cognito_user("alice"), cognito_user("bob"))
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert_eq!(
        error_message(&err),
        "Invalid SourceUser: Cognito users with a username/password may not be passed in as a SourceUser, only as a DestinationUser"
    );
    let err = link(
        &c,
        &pool,
        cognito_user("alice"),
        ident("Nobody", Some("Cognito_Subject"), "x"),
    )
    .await
    .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    let err = disable(&c, &pool, ident("Nobody", Some("Cognito_Subject"), "x"))
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    // Social providers take Cognito_Subject only; OIDC also a mapped pool attribute.
    let err = link(
        &c,
        &pool,
        cognito_user("alice"),
        ident("Google", Some("email"), "a@example.com"),
    )
    .await
    .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    let err = link(
        &c,
        &pool,
        cognito_user("alice"),
        ident("Corp", Some("phone_number"), "+15550100"),
    )
    .await
    .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    let err = link(&c, &pool, cognito_user("alice"), ident("Google", None, "x"))
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    // Disabling a Cognito user through this call is refused.
    let err = disable(
        &c,
        &pool,
        ident("Cognito", Some("Cognito_Subject"), "alice"),
    )
    .await
    .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    // An identity links to one user, once.
    link(&c, &pool, cognito_user("alice"), g("g-1"))
        .await
        .unwrap();
    for who in ["alice", "bob"] {
        let err = link(&c, &pool, cognito_user(who), g("g-1"))
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidParameterException");
        assert_eq!(
            error_message(&err),
            "SourceUser is already linked to DestinationUser"
        );
    }
    assert!(identities_of(&c, &pool, "bob").await.is_empty());
    // At most five identities per user.
    for i in 2..=5 {
        link(&c, &pool, cognito_user("alice"), g(&format!("g-{i}")))
            .await
            .unwrap();
    }
    let err = link(&c, &pool, cognito_user("alice"), g("g-6"))
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "LimitExceededException");
    assert_eq!(identities_of(&c, &pool, "alice").await.len(), 5);
    // Another user still can.
    link(&c, &pool, cognito_user("bob"), g("g-6"))
        .await
        .unwrap();
    assert_eq!(
        identities_of(&c, &pool, "bob").await,
        vec![("Google".to_string(), "g-6".to_string())]
    );
    // Making room lets the user link again.
    disable(&c, &pool, g("g-3")).await.unwrap();
    link(&c, &pool, cognito_user("alice"), g("g-7"))
        .await
        .unwrap();
    let ids: Vec<String> = identities_of(&c, &pool, "alice")
        .await
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(ids, ["g-1", "g-2", "g-4", "g-5", "g-7"]);
}

async fn link_destination_by_alias(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = c
        .create_user_pool()
        .pool_name("aliases")
        .alias_attributes(AliasAttributeType::Email)
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    create_google(&c, &pool).await;
    create_user(
        &c,
        &pool,
        "bob",
        &[("email", "bob@example.com"), ("email_verified", "true")],
    )
    .await;
    // The destination is resolved like other admin calls: a verified alias names the user.
    link(
        &c,
        &pool,
        cognito_user("bob@example.com"),
        ident("Google", Some("Cognito_Subject"), "g-bob"),
    )
    .await
    .unwrap();
    assert_eq!(
        identities_of(&c, &pool, "bob").await,
        vec![("Google".to_string(), "g-bob".to_string())]
    );
    disable(&c, &pool, ident("Google", Some("Cognito_Subject"), "g-bob"))
        .await
        .unwrap();
    assert!(identities_of(&c, &pool, "bob").await.is_empty());
}

async fn link_destination_with_immutable_attribute(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = c
        .create_user_pool()
        .pool_name("immutable")
        .schema(
            SchemaAttributeType::builder()
                .name("badge")
                .attribute_data_type(AttributeDataType::String)
                .mutable(false)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    create_google(&c, &pool).await;
    create_user(&c, &pool, "carol", &[("custom:badge", "b-1")]).await;
    create_user(&c, &pool, "dave", &[]).await;
    let err = link(
        &c,
        &pool,
        cognito_user("carol"),
        ident("Google", Some("Cognito_Subject"), "g-c"),
    )
    .await
    .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert!(identities_of(&c, &pool, "carol").await.is_empty());
    // Without a value for the immutable attribute the user can be linked.
    link(
        &c,
        &pool,
        cognito_user("dave"),
        ident("Google", Some("Cognito_Subject"), "g-c"),
    )
    .await
    .unwrap();
}

async fn links_go_with_users_and_providers(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = federation_pool(&c).await;
    create_user(&c, &pool, "alice", &[]).await;
    create_user(&c, &pool, "carol", &[]).await;
    let g = ident("Google", Some("Cognito_Subject"), "g-1");
    link(&c, &pool, cognito_user("alice"), g.clone())
        .await
        .unwrap();
    // Deleting the user frees its identities; a new user of the same name has none.
    c.admin_delete_user()
        .user_pool_id(&pool)
        .username("alice")
        .send()
        .await
        .unwrap();
    let err = disable(&c, &pool, g.clone()).await.unwrap_err();
    assert_eq!(error_code(&err), "UserNotFoundException");
    create_user(&c, &pool, "alice", &[]).await;
    assert!(identities_of(&c, &pool, "alice").await.is_empty());
    link(&c, &pool, cognito_user("carol"), g.clone())
        .await
        .unwrap();
    // Deleting the provider removes its links: recreated, the identity can be linked again, and
    // the user lists it once.
    c.delete_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Google")
        .send()
        .await
        .unwrap();
    create_google(&c, &pool).await;
    let err = disable(&c, &pool, g.clone()).await.unwrap_err();
    assert_eq!(error_code(&err), "UserNotFoundException");
    link(&c, &pool, cognito_user("carol"), g.clone())
        .await
        .unwrap();
    assert_eq!(
        identities_of(&c, &pool, "carol").await,
        vec![("Google".to_string(), "g-1".to_string())]
    );
}

async fn concurrent_links_keep_limit_and_identities_in_step(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = federation_pool(&c).await;
    for who in ["alice", "bob", "carol"] {
        create_user(&c, &pool, who, &[]).await;
    }
    // Eight identities at once to one user: five win, and its attribute lists exactly those.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (c, pool) = (c.clone(), pool.clone());
            tokio::spawn(async move {
                link(
                    &c,
                    &pool,
                    cognito_user("alice"),
                    ident("Google", Some("Cognito_Subject"), &format!("g-{i}")),
                )
                .await
                .map(|_| format!("g-{i}"))
                .map_err(|e| error_code(&e))
            })
        })
        .collect();
    let mut won = HashSet::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(v) => {
                won.insert(v);
            }
            Err(code) => assert_eq!(code, "LimitExceededException"),
        }
    }
    assert_eq!(won.len(), 5);
    let listed: HashSet<String> = identities_of(&c, &pool, "alice")
        .await
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(listed, won);
    // One identity to two users at once: exactly one gets it.
    let tasks: Vec<_> = ["bob", "carol"]
        .into_iter()
        .map(|who| {
            let (c, pool) = (c.clone(), pool.clone());
            tokio::spawn(async move {
                link(
                    &c,
                    &pool,
                    cognito_user(who),
                    ident("Corp", Some("Cognito_Subject"), "shared"),
                )
                .await
                .map_err(|e| error_code(&e))
            })
        })
        .collect();
    let mut oks = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => oks += 1,
            Err(code) => assert_eq!(code, "InvalidParameterException"),
        }
    }
    assert_eq!(oks, 1);
    let holders =
        identities_of(&c, &pool, "bob").await.len() + identities_of(&c, &pool, "carol").await.len();
    assert_eq!(holders, 1);
}
