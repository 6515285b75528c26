//! The user directory through the SDK: users, attributes, aliases, groups.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{
    AliasAttributeType, AttributeDataType, AttributeType, MessageActionType, PasswordPolicyType,
    SchemaAttributeType, StringAttributeConstraintsType, UserPoolPolicyType, UserStatusType,
    UserType, UsernameAttributeType, UsernameConfigurationType,
};

use crate::harness::{error_code, error_message, Backend, Server};

crate::backend_tests!(
    create_and_get_user,
    temporary_password_and_policy,
    schema_rules,
    attribute_updates_and_status_changes,
    password_history,
    alias_attributes_rules,
    username_attributes_rules,
    username_case_sensitivity,
    concurrent_alias_claims_one_winner,
    list_users_filters,
    list_users_pages_stay_complete_under_churn,
    groups_lifecycle,
    group_memberships,
    custom_attributes_and_csv_header,
    auth_events_are_empty,
);

fn attr(name: &str, value: &str) -> AttributeType {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .unwrap()
}

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && s.char_indices().all(|(i, ch)| match i {
            8 | 13 | 18 | 23 => ch == '-',
            _ => ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase(),
        })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

fn attrs_of(list: &[AttributeType]) -> HashMap<String, String> {
    list.iter()
        .map(|a| {
            (
                a.name().to_string(),
                a.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn pool_with(
    c: &cognito::Client,
    f: impl FnOnce(
        cognito::operation::create_user_pool::builders::CreateUserPoolFluentBuilder,
    ) -> cognito::operation::create_user_pool::builders::CreateUserPoolFluentBuilder,
) -> String {
    f(c.create_user_pool().pool_name("directory"))
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap()
}

async fn plain_pool(c: &cognito::Client) -> String {
    pool_with(c, |b| b).await
}

async fn create(
    c: &cognito::Client,
    pool: &str,
    username: &str,
    attributes: &[(&str, &str)],
) -> cognito::types::UserType {
    let mut b = c
        .admin_create_user()
        .user_pool_id(pool)
        .username(username)
        .message_action(MessageActionType::Suppress);
    for (n, v) in attributes {
        b = b.user_attributes(attr(n, v));
    }
    b.send().await.unwrap().user.unwrap()
}

async fn get_user(
    c: &cognito::Client,
    pool: &str,
    username: &str,
) -> cognito::operation::admin_get_user::AdminGetUserOutput {
    c.admin_get_user()
        .user_pool_id(pool)
        .username(username)
        .send()
        .await
        .unwrap()
}

async fn create_and_get_user(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = plain_pool(&c).await;
    let u = create(
        &c,
        &pool,
        "alice",
        &[("email", "alice@example.com"), ("name", "Alice")],
    )
    .await;
    assert_eq!(u.username(), Some("alice"));
    assert_eq!(u.user_status(), Some(&UserStatusType::ForceChangePassword));
    assert!(u.enabled());
    assert!(u.user_create_date().is_some() && u.user_last_modified_date().is_some());
    assert!(u.mfa_options().is_empty());
    let a = attrs_of(u.attributes());
    let sub = a.get("sub").expect("sub attribute").clone();
    assert!(is_uuid_v4(&sub), "sub {sub} is a UUID v4");
    assert_eq!(u.attributes()[0].name(), "sub");
    assert_eq!(
        a.get("email").map(String::as_str),
        Some("alice@example.com")
    );
    assert_eq!(a.get("name").map(String::as_str), Some("Alice"));

    let g = get_user(&c, &pool, "alice").await;
    assert_eq!(g.username(), "alice");
    assert_eq!(attrs_of(g.user_attributes()), a);
    assert_eq!(g.user_status(), Some(&UserStatusType::ForceChangePassword));
    assert!(g.enabled());
    assert!(g.mfa_options().is_empty());
    assert_eq!(g.user_create_date(), u.user_create_date());

    // The same username again.
    let err = c
        .admin_create_user()
        .user_pool_id(&pool)
        .username("alice")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "UsernameExistsException");
    assert_eq!(error_message(&err), "User account already exists");

    // RESEND for a user still in FORCE_CHANGE_PASSWORD answers that user.
    let again = c
        .admin_create_user()
        .user_pool_id(&pool)
        .username("alice")
        .message_action(MessageActionType::Resend)
        .send()
        .await
        .unwrap()
        .user
        .unwrap();
    assert_eq!(attrs_of(again.attributes()).get("sub"), Some(&sub));
    // RESEND for a user past FORCE_CHANGE_PASSWORD.
    create(&c, &pool, "confirmed", &[]).await;
    c.admin_set_user_password()
        .user_pool_id(&pool)
        .username("confirmed")
        .password("Perm4nent!Pass")
        .permanent(true)
        .send()
        .await
        .unwrap();
    let err = c
        .admin_create_user()
        .user_pool_id(&pool)
        .username("confirmed")
        .message_action(MessageActionType::Resend)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "UnsupportedUserStateException");
    assert_eq!(
        error_message(&err),
        "Resend not possible. confirmed status is not FORCE_CHANGE_PASSWORD"
    );
    // RESEND for nobody.
    let err = c
        .admin_create_user()
        .user_pool_id(&pool)
        .username("nobody")
        .message_action(MessageActionType::Resend)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "UserNotFoundException");

    let err = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("nobody")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "UserNotFoundException");
    assert_eq!(error_message(&err), "User does not exist.");

    let err = c
        .admin_get_user()
        .user_pool_id("us-east-1_nopenope1")
        .username("alice")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");

    let d = c
        .describe_user_pool()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap();
    assert_eq!(d.user_pool().unwrap().estimated_number_of_users(), 2);

    c.admin_delete_user()
        .user_pool_id(&pool)
        .username("alice")
        .send()
        .await
        .unwrap();
    let err = c
        .admin_delete_user()
        .user_pool_id(&pool)
        .username("alice")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "UserNotFoundException");
    // The username is free again, with a new sub.
    let again = create(&c, &pool, "alice", &[]).await;
    assert_ne!(attrs_of(again.attributes()).get("sub"), Some(&sub));
}

async fn temporary_password_and_policy(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = plain_pool(&c).await;
    for (pw, why) in [
        ("Ab1!", "Password not long enough"),
        ("ABCDEFGH1!", "Password must have lowercase characters"),
        ("abcdefgh1!", "Password must have uppercase characters"),
        ("Abcdefghi!", "Password must have numeric characters"),
        ("Abcdefgh12", "Password must have symbol characters"),
    ] {
        let err = c
            .admin_create_user()
            .user_pool_id(&pool)
            .username("weak")
            .temporary_password(pw)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidPasswordException", "{pw}");
        assert_eq!(
            error_message(&err),
            format!("Password does not conform to policy: {why}")
        );
    }
    let u = c
        .admin_create_user()
        .user_pool_id(&pool)
        .username("strong")
        .temporary_password("Str0ng-Passw0rd")
        .desired_delivery_mediums(cognito::types::DeliveryMediumType::Email)
        .validation_data(attr("anything", "goes"))
        .client_metadata("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(
        u.user.unwrap().user_status(),
        Some(&UserStatusType::ForceChangePassword)
    );

    // A relaxed policy accepts what the default one rejects.
    let relaxed = pool_with(&c, |b| {
        b.policies(
            UserPoolPolicyType::builder()
                .password_policy(
                    PasswordPolicyType::builder()
                        .minimum_length(6)
                        .require_uppercase(false)
                        .require_lowercase(false)
                        .require_numbers(false)
                        .require_symbols(false)
                        .build(),
                )
                .build(),
        )
    })
    .await;
    c.admin_create_user()
        .user_pool_id(&relaxed)
        .username("easy")
        .temporary_password("simple")
        .send()
        .await
        .unwrap();

    // AdminSetUserPassword enforces the policy and sets the status.
    let err = c
        .admin_set_user_password()
        .user_pool_id(&pool)
        .username("strong")
        .password("short")
        .permanent(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidPasswordException");
    assert_eq!(
        error_message(&err),
        "Password does not conform to policy: Password not long enough"
    );
    c.admin_set_user_password()
        .user_pool_id(&pool)
        .username("strong")
        .password("N3w-Passw0rd!")
        .permanent(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        get_user(&c, &pool, "strong").await.user_status(),
        Some(&UserStatusType::Confirmed)
    );
    c.admin_set_user_password()
        .user_pool_id(&pool)
        .username("strong")
        .password("N3w-Passw0rd!2")
        .permanent(false)
        .send()
        .await
        .unwrap();
    assert_eq!(
        get_user(&c, &pool, "strong").await.user_status(),
        Some(&UserStatusType::ForceChangePassword)
    );
}

async fn schema_rules(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool_with(&c, |b| {
        b.schema(
            SchemaAttributeType::builder()
                .name("email")
                .attribute_data_type(AttributeDataType::String)
                .required(true)
                .build(),
        )
        .schema(
            SchemaAttributeType::builder()
                .name("tier")
                .attribute_data_type(AttributeDataType::String)
                .mutable(false)
                .string_attribute_constraints(
                    StringAttributeConstraintsType::builder()
                        .min_length("1")
                        .max_length("5")
                        .build(),
                )
                .build(),
        )
        .schema(
            SchemaAttributeType::builder()
                .name("secret")
                .attribute_data_type(AttributeDataType::String)
                .developer_only_attribute(true)
                .build(),
        )
    })
    .await;
    let try_create = |attrs: Vec<(&'static str, &'static str)>| {
        let c = c.clone();
        let pool = pool.clone();
        async move {
            let mut b = c.admin_create_user().user_pool_id(&pool).username("u1");
            for (n, v) in attrs {
                b = b.user_attributes(attr(n, v));
            }
            b.send().await
        }
    };
    let err = try_create(vec![("email", "u1@example.com"), ("custom:nope", "x")])
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert_eq!(
        error_message(&err),
        "Attributes did not conform to the schema: custom:nope: Attribute does not exist in the schema.\n"
    );
    let err = try_create(vec![("name", "No Email")]).await.unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert_eq!(
        error_message(&err),
        "Attributes did not conform to the schema: email: The attribute is required\n"
    );
    let err = try_create(vec![("email", "not-an-email")])
        .await
        .unwrap_err();
    assert_eq!(error_message(&err), "Invalid email address format.");
    let err = try_create(vec![("email", "u1@example.com"), ("phone_number", "0123")])
        .await
        .unwrap_err();
    assert_eq!(error_message(&err), "Invalid phone number format.");
    let err = try_create(vec![
        ("email", "u1@example.com"),
        ("custom:tier", "toolong"),
    ])
    .await
    .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert!(
        error_message(&err).starts_with("Attributes did not conform to the schema: custom:tier:"),
        "{}",
        error_message(&err)
    );
    let err = try_create(vec![("email", "u1@example.com"), ("email_verified", "yes")])
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");

    // Admins may write developer-only and immutable attributes at creation.
    try_create(vec![
        ("email", "u1@example.com"),
        ("custom:tier", "gold"),
        ("dev:custom:secret", "s"),
        ("phone_number", "+14155550100"),
        ("email_verified", "True"),
    ])
    .await
    .unwrap();
    let a = attrs_of(get_user(&c, &pool, "u1").await.user_attributes());
    assert_eq!(a.get("email_verified").map(String::as_str), Some("true"));
    assert_eq!(a.get("dev:custom:secret").map(String::as_str), Some("s"));

    // Immutable attributes cannot change afterwards; required ones cannot be deleted.
    let err = c
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("u1")
        .user_attributes(attr("custom:tier", "blue"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert_eq!(
        error_message(&err),
        "Cannot modify the non-mutable attribute custom:tier"
    );
    let err = c
        .admin_delete_user_attributes()
        .user_pool_id(&pool)
        .username("u1")
        .user_attribute_names("email")
        .send()
        .await
        .unwrap_err();
    // Deletes and updates word it as `user.<name>: ...` lines (corrections.md #7).
    assert_eq!(
        error_message(&err),
        "user.email: The attribute is required\n"
    );
    let err = c
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("u1")
        .user_attributes(attr("sub", "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
}

async fn attribute_updates_and_status_changes(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = plain_pool(&c).await;
    let u = create(
        &c,
        &pool,
        "bob",
        &[
            ("email", "bob@example.com"),
            ("email_verified", "true"),
            ("name", "Bob"),
        ],
    )
    .await;
    let before = u.user_last_modified_date().unwrap().as_secs_f64();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    c.admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("bob")
        .user_attributes(attr("email", "robert@example.com"))
        .user_attributes(attr("given_name", "Robert"))
        .client_metadata("k", "v")
        .send()
        .await
        .unwrap();
    let g = get_user(&c, &pool, "bob").await;
    let a = attrs_of(g.user_attributes());
    assert_eq!(
        a.get("email").map(String::as_str),
        Some("robert@example.com")
    );
    assert_eq!(
        a.get("email_verified").map(String::as_str),
        Some("false"),
        "a changed email is no longer verified"
    );
    assert_eq!(a.get("given_name").map(String::as_str), Some("Robert"));
    assert!(g.user_last_modified_date().unwrap().as_secs_f64() > before);

    c.admin_delete_user_attributes()
        .user_pool_id(&pool)
        .username("bob")
        .user_attribute_names("name")
        .user_attribute_names("given_name")
        .send()
        .await
        .unwrap();
    let a = attrs_of(get_user(&c, &pool, "bob").await.user_attributes());
    assert!(!a.contains_key("name") && !a.contains_key("given_name"));
    assert!(a.contains_key("sub"));

    c.admin_disable_user()
        .user_pool_id(&pool)
        .username("bob")
        .send()
        .await
        .unwrap();
    assert!(!get_user(&c, &pool, "bob").await.enabled());
    c.admin_enable_user()
        .user_pool_id(&pool)
        .username("bob")
        .send()
        .await
        .unwrap();
    assert!(get_user(&c, &pool, "bob").await.enabled());

    // Still on the invitation's temporary password: nothing to reset (corrections.md #10).
    let err = c
        .admin_reset_user_password()
        .user_pool_id(&pool)
        .username("bob")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&err),
        "User password cannot be reset in the current state."
    );
    c.admin_set_user_password()
        .user_pool_id(&pool)
        .username("bob")
        .password("Perm4nent!Pass0")
        .permanent(true)
        .send()
        .await
        .unwrap();

    // No verified channel: the reset cannot deliver a code.
    let err = c
        .admin_reset_user_password()
        .user_pool_id(&pool)
        .username("bob")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    c.admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("bob")
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap();
    c.admin_reset_user_password()
        .user_pool_id(&pool)
        .username("bob")
        .send()
        .await
        .unwrap();
    assert_eq!(
        get_user(&c, &pool, "bob").await.user_status(),
        Some(&UserStatusType::ResetRequired)
    );

    c.admin_set_user_password()
        .user_pool_id(&pool)
        .username("bob")
        .password("Perm4nent!Pass")
        .permanent(true)
        .send()
        .await
        .unwrap();
    let err = c
        .admin_confirm_sign_up()
        .user_pool_id(&pool)
        .username("bob")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NotAuthorizedException");
    assert_eq!(
        error_message(&err),
        "User cannot be confirmed. Current status is CONFIRMED"
    );
    let err = c
        .admin_enable_user()
        .user_pool_id(&pool)
        .username("ghost")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "UserNotFoundException");
}

async fn password_history(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool_with(&c, |b| {
        b.policies(
            UserPoolPolicyType::builder()
                .password_policy(
                    PasswordPolicyType::builder()
                        .minimum_length(8)
                        .require_uppercase(true)
                        .require_lowercase(true)
                        .require_numbers(true)
                        .require_symbols(true)
                        .password_history_size(2)
                        .build(),
                )
                .build(),
        )
    })
    .await;
    create(&c, &pool, "carol", &[]).await;
    let set = |pw: &'static str| {
        let c = c.clone();
        let pool = pool.clone();
        async move {
            c.admin_set_user_password()
                .user_pool_id(&pool)
                .username("carol")
                .password(pw)
                .permanent(true)
                .send()
                .await
        }
    };
    set("First-Pass1").await.unwrap();
    let err = set("First-Pass1").await.unwrap_err();
    assert_eq!(error_code(&err), "PasswordHistoryPolicyViolationException");
    set("Second-Pass2").await.unwrap();
    let err = set("First-Pass1").await.unwrap_err();
    assert_eq!(error_code(&err), "PasswordHistoryPolicyViolationException");
    set("Third-Pass3").await.unwrap();
    // Two passwords later the first one is usable again.
    set("First-Pass1").await.unwrap();
}

async fn alias_attributes_rules(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool_with(&c, |b| {
        b.alias_attributes(AliasAttributeType::Email)
            .alias_attributes(AliasAttributeType::PreferredUsername)
    })
    .await;
    let err = c
        .admin_create_user()
        .user_pool_id(&pool)
        .username("dave@example.com")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert_eq!(
        error_message(&err),
        "Username cannot be of email format, since user pool is configured for email alias."
    );
    let dave = create(
        &c,
        &pool,
        "dave",
        &[
            ("email", "dave@example.com"),
            ("email_verified", "true"),
            ("preferred_username", "davey"),
        ],
    )
    .await;
    // Admin APIs accept the verified email and preferred_username in Username.
    assert_eq!(
        get_user(&c, &pool, "dave@example.com").await.username(),
        "dave"
    );
    assert_eq!(get_user(&c, &pool, "davey").await.username(), "dave");

    // Unverified duplicates are fine and are not aliases.
    create(&c, &pool, "erin", &[("email", "dave@example.com")]).await;
    assert_eq!(
        get_user(&c, &pool, "dave@example.com").await.username(),
        "dave"
    );

    let err = c
        .admin_create_user()
        .user_pool_id(&pool)
        .username("frank")
        .user_attributes(attr("email", "dave@example.com"))
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "AliasExistsException");
    assert_eq!(
        error_message(&err),
        "An account with the given email already exists."
    );
    let err = c
        .admin_create_user()
        .user_pool_id(&pool)
        .username("frank")
        .user_attributes(attr("preferred_username", "davey"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "AliasExistsException");
    // Verifying erin's copy of the email clashes too.
    let err = c
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("erin")
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "AliasExistsException");

    // ForceAliasCreation moves the alias to the new user.
    c.admin_create_user()
        .user_pool_id(&pool)
        .username("frank")
        .user_attributes(attr("email", "dave@example.com"))
        .user_attributes(attr("email_verified", "true"))
        .force_alias_creation(true)
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    assert_eq!(
        get_user(&c, &pool, "dave@example.com").await.username(),
        "frank"
    );
    let old = attrs_of(get_user(&c, &pool, "dave").await.user_attributes());
    assert_eq!(old.get("email_verified").map(String::as_str), Some("false"));
    // Lists by the email show dave as he is now too: dave, erin and frank hold it, only frank
    // verified.
    let holders = list_all(&c, &pool, Some("email = \"dave@example.com\""))
        .await
        .unwrap();
    let verified: HashMap<&str, Option<String>> = holders
        .iter()
        .map(|u| {
            let a = attrs_of(u.attributes());
            (u.username().unwrap(), a.get("email_verified").cloned())
        })
        .collect();
    assert_eq!(verified.len(), 3, "{verified:?}");
    assert_eq!(verified["dave"].as_deref(), Some("false"));
    assert_eq!(verified["frank"].as_deref(), Some("true"));
    assert_eq!(
        attrs_of(dave.attributes()).get("sub"),
        old.get("sub"),
        "still the same user"
    );

    // preferred_username cannot be forced over.
    let err = c
        .admin_create_user()
        .user_pool_id(&pool)
        .username("gus")
        .user_attributes(attr("preferred_username", "davey"))
        .force_alias_creation(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "AliasExistsException");
    // dave keeps working after losing the email alias.
    c.admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("davey")
        .user_attributes(attr("name", "Dave"))
        .send()
        .await
        .unwrap();

    // Deleting the holder frees the alias.
    c.admin_delete_user()
        .user_pool_id(&pool)
        .username("dave@example.com")
        .send()
        .await
        .unwrap();
    let err = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("dave@example.com")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "UserNotFoundException");
}

async fn username_attributes_rules(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool_with(&c, |b| b.username_attributes(UsernameAttributeType::Email)).await;
    let err = c
        .admin_create_user()
        .user_pool_id(&pool)
        .username("plainname")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    assert_eq!(error_message(&err), "Username should be an email.");
    let u = create(&c, &pool, "gina@example.com", &[("name", "Gina")]).await;
    let a = attrs_of(u.attributes());
    assert_eq!(
        u.username(),
        a.get("sub").map(String::as_str),
        "username is the sub"
    );
    assert_eq!(a.get("email").map(String::as_str), Some("gina@example.com"));
    let g = get_user(&c, &pool, "gina@example.com").await;
    assert_eq!(Some(g.username()), u.username());
    let err = c
        .admin_create_user()
        .user_pool_id(&pool)
        .username("gina@example.com")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "UsernameExistsException");
    assert_eq!(
        error_message(&err),
        "An account with the given email already exists."
    );

    // Changing to an email another user holds clashes.
    create(&c, &pool, "hank@example.com", &[]).await;
    let err = c
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("hank@example.com")
        .user_attributes(attr("email", "gina@example.com"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "AliasExistsException");
    assert_eq!(
        error_message(&err),
        "An account with the given email already exists."
    );

    let both = pool_with(&c, |b| {
        b.username_attributes(UsernameAttributeType::Email)
            .username_attributes(UsernameAttributeType::PhoneNumber)
    })
    .await;
    let err = c
        .admin_create_user()
        .user_pool_id(&both)
        .username("plainname")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&err),
        "Username should be either an email or a phone number."
    );
    let p = create(&c, &both, "+14155550123", &[]).await;
    assert_eq!(
        attrs_of(p.attributes())
            .get("phone_number")
            .map(String::as_str),
        Some("+14155550123")
    );
    get_user(&c, &both, "+14155550123").await;
}

async fn username_case_sensitivity(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let insensitive = pool_with(&c, |b| {
        b.username_configuration(
            UsernameConfigurationType::builder()
                .case_sensitive(false)
                .build()
                .unwrap(),
        )
    })
    .await;
    create(&c, &insensitive, "Harry", &[]).await;
    assert_eq!(
        get_user(&c, &insensitive, "harry").await.username(),
        "Harry"
    );
    let err = c
        .admin_create_user()
        .user_pool_id(&insensitive)
        .username("HARRY")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "UsernameExistsException");

    // Without UsernameConfiguration the API creates case-sensitive pools.
    let sensitive = plain_pool(&c).await;
    create(&c, &sensitive, "Harry", &[]).await;
    create(&c, &sensitive, "harry", &[]).await;
    let err = c
        .admin_get_user()
        .user_pool_id(&sensitive)
        .username("HARRY")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "UserNotFoundException");
}

async fn concurrent_alias_claims_one_winner(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool_with(&c, |b| b.alias_attributes(AliasAttributeType::Email)).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let c = c.clone();
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            c.admin_create_user()
                .user_pool_id(&pool)
                .username(format!("racer{i}"))
                .user_attributes(attr("email", "same@example.com"))
                .user_attributes(attr("email_verified", "true"))
                .message_action(MessageActionType::Suppress)
                .send()
                .await
        }));
    }
    let mut winners = 0;
    let mut codes = BTreeSet::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => winners += 1,
            Err(e) => {
                codes.insert(error_code(&e));
            }
        }
    }
    assert_eq!(winners, 1, "exactly one create claims the verified email");
    assert_eq!(
        codes.into_iter().collect::<Vec<_>>(),
        vec!["AliasExistsException".to_string()]
    );
    let holder = get_user(&c, &pool, "same@example.com").await;
    assert!(holder.username().starts_with("racer"));
}

type ListUsersSdkError = cognito::error::SdkError<cognito::operation::list_users::ListUsersError>;

/// Every user ListUsers shows for `filter`, two to a page.
async fn list_all(
    c: &cognito::Client,
    pool: &str,
    filter: Option<&str>,
) -> Result<Vec<UserType>, ListUsersSdkError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_users()
            .user_pool_id(pool)
            .set_filter(filter.map(str::to_string))
            .limit(2)
            .set_pagination_token(token.clone())
            .send()
            .await?;
        token = r.pagination_token().map(str::to_string);
        out.extend(r.users.unwrap_or_default());
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The usernames ListUsers shows for `filter`, in its order.
async fn list(
    c: &cognito::Client,
    pool: &str,
    filter: Option<&str>,
) -> Result<Vec<String>, ListUsersSdkError> {
    Ok(list_all(c, pool, filter)
        .await?
        .into_iter()
        .filter_map(|u| u.username)
        .collect())
}

async fn list_users_filters(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = plain_pool(&c).await;
    let alice = create(
        &c,
        &pool,
        "alice",
        &[
            ("email", "alice@example.com"),
            ("name", "Alice Smith"),
            ("given_name", "Alice"),
            ("family_name", "Smith"),
            ("phone_number", "+14155550101"),
            ("preferred_username", "ally"),
        ],
    )
    .await;
    create(
        &c,
        &pool,
        "alan",
        &[("email", "alan@example.org"), ("name", "Zoë Alan")],
    )
    .await;
    create(
        &c,
        &pool,
        "bob",
        &[("email", "bob@example.com"), ("family_name", "Smith")],
    )
    .await;
    create(&c, &pool, "carl", &[]).await;
    c.admin_disable_user()
        .user_pool_id(&pool)
        .username("bob")
        .send()
        .await
        .unwrap();
    c.admin_set_user_password()
        .user_pool_id(&pool)
        .username("carl")
        .password("Carl-Passw0rd")
        .permanent(true)
        .send()
        .await
        .unwrap();
    let sub = attrs_of(alice.attributes()).get("sub").unwrap().clone();
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    assert_eq!(
        list(&c, &pool, None).await.unwrap(),
        v(&["alan", "alice", "bob", "carl"])
    );
    assert_eq!(
        list(&c, &pool, Some("")).await.unwrap(),
        v(&["alan", "alice", "bob", "carl"])
    );
    for (filter, mut want) in [
        ("username = \"alice\"", v(&["alice"])),
        ("username ^= \"al\"", v(&["alan", "alice"])),
        ("username^=\"b\"", v(&["bob"])),
        ("email ^= \"al\"", v(&["alan", "alice"])),
        ("email = \"bob@example.com\"", v(&["bob"])),
        ("email = \"BOB@example.com\"", v(&[])),
        ("name ^= \"Zo\"", v(&["alan"])),
        ("name ^= \"Zoë\"", v(&["alan"])),
        ("given_name = \"Alice\"", v(&["alice"])),
        ("family_name = \"Smith\"", v(&["alice", "bob"])),
        ("phone_number ^= \"+1415\"", v(&["alice"])),
        ("preferred_username = \"ally\"", v(&["alice"])),
        ("status = \"Disabled\"", v(&["bob"])),
        ("status = \"Enabled\"", v(&["alan", "alice", "carl"])),
        ("cognito:user_status = \"CONFIRMED\"", v(&["carl"])),
        (
            "cognito:user_status = \"force_change_password\"",
            v(&["alan", "alice", "bob"]),
        ),
        ("cognito:user_status = \"UNCONFIRMED\"", v(&[])),
    ] {
        // Cognito promises no order for filtered results.
        let mut got = list(&c, &pool, Some(filter)).await.unwrap();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{filter}");
    }
    // An attribute filter shows each user as it is now, not as it was when last searched by.
    let bs = list_all(&c, &pool, Some("email ^= \"b\"")).await.unwrap();
    assert_eq!(bs.len(), 1);
    assert!(!bs[0].enabled(), "bob was disabled after he was created");
    c.admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("alice")
        .user_attributes(attr("nickname", "Al"))
        .send()
        .await
        .unwrap();
    let smiths = list_all(&c, &pool, Some("family_name = \"Smith\""))
        .await
        .unwrap();
    let alice_now = smiths.iter().find(|u| u.username() == Some("alice"));
    let alice_now = attrs_of(alice_now.unwrap().attributes());
    assert_eq!(alice_now.get("nickname").map(String::as_str), Some("Al"));

    let by_sub = format!("sub = \"{sub}\"");
    assert_eq!(list(&c, &pool, Some(&by_sub)).await.unwrap(), v(&["alice"]));
    let by_sub_prefix = format!("sub ^= \"{}\"", &sub[..13]);
    assert_eq!(
        list(&c, &pool, Some(&by_sub_prefix)).await.unwrap(),
        v(&["alice"])
    );

    for bad in [
        "email = alice",
        "email",
        "email ~= \"x\"",
        "email = \"x\" extra",
    ] {
        let err = list(&c, &pool, Some(bad)).await.unwrap_err();
        assert_eq!(error_code(&err), "InvalidParameterException", "{bad}");
    }
    let err = list(&c, &pool, Some("custom:tier = \"x\""))
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");

    // AttributesToGet narrows the attributes; Limit defaults to 60.
    let r = c
        .list_users()
        .user_pool_id(&pool)
        .attributes_to_get("email")
        .send()
        .await
        .unwrap();
    assert_eq!(r.users().len(), 4);
    assert!(r.pagination_token().is_none());
    let alice_row = r
        .users()
        .iter()
        .find(|u| u.username() == Some("alice"))
        .unwrap();
    assert_eq!(
        alice_row
            .attributes()
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>(),
        vec!["email"]
    );
    assert!(alice_row.enabled());
    assert_eq!(
        alice_row.user_status(),
        Some(&UserStatusType::ForceChangePassword)
    );
    assert!(alice_row.user_create_date().is_some());
    let bob_row = r
        .users()
        .iter()
        .find(|u| u.username() == Some("bob"))
        .unwrap();
    assert!(!bob_row.enabled());

    // A token belongs to its filter.
    let first = c
        .list_users()
        .user_pool_id(&pool)
        .limit(1)
        .send()
        .await
        .unwrap();
    let token = first.pagination_token().unwrap().to_string();
    let err = c
        .list_users()
        .user_pool_id(&pool)
        .filter("email ^= \"a\"")
        .pagination_token(&token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
    let err = c
        .list_users()
        .user_pool_id(&pool)
        .pagination_token("garbage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");
}

/// Pages by keyset: users that exist throughout a listing appear exactly once, however users are
/// added and removed between pages.
async fn list_users_pages_stay_complete_under_churn(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    for filter in [None, Some("email ^= \"u\"")] {
        let pool = plain_pool(&c).await;
        for i in (0..40).step_by(2) {
            let name = format!("u{i:02}");
            create(
                &c,
                &pool,
                &name,
                &[("email", &format!("{name}@example.com"))],
            )
            .await;
        }
        let mut seen: Vec<String> = Vec::new();
        let mut removed_ahead: BTreeSet<String> = BTreeSet::new();
        let mut token: Option<String> = None;
        let mut round = 0;
        loop {
            let r = c
                .list_users()
                .user_pool_id(&pool)
                .set_filter(filter.map(str::to_string))
                .limit(3)
                .set_pagination_token(token.clone())
                .send()
                .await
                .unwrap();
            seen.extend(
                r.users()
                    .iter()
                    .filter_map(|u| u.username().map(str::to_string)),
            );
            token = r.pagination_token().map(str::to_string);
            if token.is_none() {
                break;
            }
            // Churn: remove one user ahead of the cursor and one behind it, add one on each side.
            round += 1;
            let existing = list(&c, &pool, None).await.unwrap();
            let last = seen.last().unwrap().clone();
            if let Some(ahead) = existing
                .iter()
                .rev()
                .find(|u| **u > last && u.starts_with('u'))
            {
                c.admin_delete_user()
                    .user_pool_id(&pool)
                    .username(ahead)
                    .send()
                    .await
                    .unwrap();
                removed_ahead.insert(ahead.clone());
            }
            if let Some(behind) = existing.iter().find(|u| **u < last && u.starts_with('u')) {
                c.admin_delete_user()
                    .user_pool_id(&pool)
                    .username(behind)
                    .send()
                    .await
                    .unwrap();
            }
            let tag = format!("{}{round:02}", if filter.is_some() { "f" } else { "n" });
            create(
                &c,
                &pool,
                &format!("a{tag}"),
                &[("email", &format!("a{tag}@example.com"))],
            )
            .await;
            create(
                &c,
                &pool,
                &format!("z{tag}"),
                &[("email", &format!("z{tag}@example.com"))],
            )
            .await;
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no user twice: {seen:?}");
        let now = list(&c, &pool, None).await.unwrap();
        // Every user that was there before the listing and is still there was seen.
        for u in now.iter().filter(|u| u.starts_with('u')) {
            assert!(seen.contains(u), "{u} missing from {seen:?}");
        }
        // Users deleted ahead of the cursor were not returned.
        assert!(!removed_ahead.is_empty());
        for u in &removed_ahead {
            assert!(
                !seen.contains(u),
                "{u} was deleted before the cursor reached it"
            );
        }
        // Users added ahead of the cursor (z*) are returned when the listing is unfiltered.
        if filter.is_none() {
            assert!(seen.iter().any(|u| u.starts_with('z')));
        }
        assert!(round > 3, "the listing took several pages");
        if let Some(f) = filter {
            assert!(
                seen.iter().all(|u| u.starts_with('u')),
                "{f}: only u* emails"
            );
        }
    }
}

async fn groups_lifecycle(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = plain_pool(&c).await;
    let g = c
        .create_group()
        .user_pool_id(&pool)
        .group_name("admins")
        .description("The admins")
        .role_arn("arn:aws:iam::123456789012:role/admins")
        .precedence(1)
        .send()
        .await
        .unwrap()
        .group
        .unwrap();
    assert_eq!(g.group_name(), Some("admins"));
    assert_eq!(g.user_pool_id(), Some(pool.as_str()));
    assert_eq!(g.description(), Some("The admins"));
    assert_eq!(g.role_arn(), Some("arn:aws:iam::123456789012:role/admins"));
    assert_eq!(g.precedence(), Some(1));
    assert!(g.creation_date().is_some() && g.last_modified_date().is_some());
    let got = c
        .get_group()
        .user_pool_id(&pool)
        .group_name("admins")
        .send()
        .await
        .unwrap()
        .group
        .unwrap();
    assert_eq!(got, g);

    let err = c
        .create_group()
        .user_pool_id(&pool)
        .group_name("admins")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "GroupExistsException");
    assert_eq!(
        error_message(&err),
        "A group with the name admins already exists."
    );
    let err = c
        .get_group()
        .user_pool_id(&pool)
        .group_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    assert_eq!(error_message(&err), "Group not found.");

    // UpdateGroup changes what it is given and keeps the rest.
    let u = c
        .update_group()
        .user_pool_id(&pool)
        .group_name("admins")
        .description("Administrators")
        .send()
        .await
        .unwrap()
        .group
        .unwrap();
    assert_eq!(u.description(), Some("Administrators"));
    assert_eq!(u.precedence(), Some(1));
    assert_eq!(u.role_arn(), g.role_arn());
    assert_eq!(u.creation_date(), g.creation_date());
    let err = c
        .update_group()
        .user_pool_id(&pool)
        .group_name("nope")
        .description("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");

    for name in ["b", "c", "d", "e"] {
        c.create_group()
            .user_pool_id(&pool)
            .group_name(name)
            .send()
            .await
            .unwrap();
    }
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let r = c
            .list_groups()
            .user_pool_id(&pool)
            .limit(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        names.extend(
            r.groups()
                .iter()
                .filter_map(|g| g.group_name().map(str::to_string)),
        );
        token = r.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, vec!["admins", "b", "c", "d", "e"]);

    c.delete_group()
        .user_pool_id(&pool)
        .group_name("b")
        .send()
        .await
        .unwrap();
    let err = c
        .delete_group()
        .user_pool_id(&pool)
        .group_name("b")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    let all = c.list_groups().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(all.groups().len(), 4);
    assert!(all.next_token().is_none());
}

async fn group_memberships(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = pool_with(&c, |b| b.alias_attributes(AliasAttributeType::Email)).await;
    for g in ["editors", "viewers"] {
        c.create_group()
            .user_pool_id(&pool)
            .group_name(g)
            .send()
            .await
            .unwrap();
    }
    create(
        &c,
        &pool,
        "ann",
        &[("email", "ann@example.com"), ("email_verified", "true")],
    )
    .await;
    for u in ["ben", "cat", "dan"] {
        create(&c, &pool, u, &[]).await;
    }
    let add = |user: &'static str, group: &'static str| {
        let c = c.clone();
        let pool = pool.clone();
        async move {
            c.admin_add_user_to_group()
                .user_pool_id(&pool)
                .username(user)
                .group_name(group)
                .send()
                .await
        }
    };
    add("ann@example.com", "editors").await.unwrap();
    add("ann", "editors").await.unwrap(); // adding twice is harmless
    add("ann", "viewers").await.unwrap();
    for u in ["ben", "cat", "dan"] {
        add(u, "viewers").await.unwrap();
    }
    let err = add("ghost", "viewers").await.unwrap_err();
    assert_eq!(error_code(&err), "UserNotFoundException");
    let err = add("ann", "ghosts").await.unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    assert_eq!(error_message(&err), "Group not found.");

    let groups_of = |user: &'static str| {
        let c = c.clone();
        let pool = pool.clone();
        async move {
            let mut out = Vec::new();
            let mut token = None;
            loop {
                let r = c
                    .admin_list_groups_for_user()
                    .user_pool_id(&pool)
                    .username(user)
                    .limit(1)
                    .set_next_token(token)
                    .send()
                    .await
                    .unwrap();
                out.extend(
                    r.groups()
                        .iter()
                        .filter_map(|g| g.group_name().map(str::to_string)),
                );
                token = r.next_token().map(str::to_string);
                if token.is_none() {
                    return out;
                }
            }
        }
    };
    let members_of = |group: &'static str| {
        let c = c.clone();
        let pool = pool.clone();
        async move {
            let mut out = Vec::new();
            let mut token = None;
            loop {
                let r = c
                    .list_users_in_group()
                    .user_pool_id(&pool)
                    .group_name(group)
                    .limit(2)
                    .set_next_token(token)
                    .send()
                    .await
                    .unwrap();
                for u in r.users() {
                    assert!(u.attributes().iter().any(|a| a.name() == "sub"));
                    out.push(u.username().unwrap().to_string());
                }
                token = r.next_token().map(str::to_string);
                if token.is_none() {
                    return out;
                }
            }
        }
    };
    assert_eq!(groups_of("ann").await, vec!["editors", "viewers"]);
    assert_eq!(
        members_of("viewers").await,
        vec!["ann", "ben", "cat", "dan"]
    );
    assert_eq!(members_of("editors").await, vec!["ann"]);
    let err = c
        .list_users_in_group()
        .user_pool_id(&pool)
        .group_name("ghosts")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");

    c.admin_remove_user_from_group()
        .user_pool_id(&pool)
        .username("ben")
        .group_name("viewers")
        .send()
        .await
        .unwrap();
    assert_eq!(members_of("viewers").await, vec!["ann", "cat", "dan"]);
    assert!(groups_of("ben").await.is_empty());

    // Deleting a user removes its memberships; a new user of the same name starts with none.
    c.admin_delete_user()
        .user_pool_id(&pool)
        .username("cat")
        .send()
        .await
        .unwrap();
    assert_eq!(members_of("viewers").await, vec!["ann", "dan"]);
    create(&c, &pool, "cat", &[]).await;
    assert!(groups_of("cat").await.is_empty());

    // Deleting a group removes its memberships; a new group of the same name starts empty.
    c.delete_group()
        .user_pool_id(&pool)
        .group_name("editors")
        .send()
        .await
        .unwrap();
    assert_eq!(groups_of("ann").await, vec!["viewers"]);
    c.create_group()
        .user_pool_id(&pool)
        .group_name("editors")
        .send()
        .await
        .unwrap();
    assert!(members_of("editors").await.is_empty());

    // Deleting the pool takes users, groups and memberships with it.
    c.delete_user_pool()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap();
    let err = c
        .list_groups()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
}

fn custom(name: &str, t: AttributeDataType) -> SchemaAttributeType {
    SchemaAttributeType::builder()
        .name(name)
        .attribute_data_type(t)
        .build()
}

async fn custom_attributes_and_csv_header(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = plain_pool(&c).await;
    let header = c.get_csv_header().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(header.user_pool_id(), Some(pool.as_str()));
    assert_eq!(
        header.csv_header(),
        &[
            "name",
            "given_name",
            "family_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "email",
            "email_verified",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "phone_number",
            "phone_number_verified",
            "address",
            "updated_at",
            "cognito:mfa_enabled",
            "cognito:username",
        ]
    );

    c.add_custom_attributes()
        .user_pool_id(&pool)
        .custom_attributes(
            SchemaAttributeType::builder()
                .name("tier")
                .attribute_data_type(AttributeDataType::String)
                .string_attribute_constraints(
                    StringAttributeConstraintsType::builder()
                        .max_length("4")
                        .build(),
                )
                .build(),
        )
        .custom_attributes(
            SchemaAttributeType::builder()
                .name("level")
                .attribute_data_type(AttributeDataType::Number)
                .number_attribute_constraints(
                    cognito::types::NumberAttributeConstraintsType::builder()
                        .min_value("1")
                        .max_value("10")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let schema = c
        .describe_user_pool()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .schema_attributes
        .unwrap();
    let names: Vec<&str> = schema.iter().filter_map(|a| a.name()).collect();
    assert_eq!(names.len(), 22);
    assert_eq!(&names[20..], &["custom:tier", "custom:level"]);
    let header = c.get_csv_header().user_pool_id(&pool).send().await.unwrap();
    let h = header.csv_header();
    assert_eq!(
        &h[h.len() - 4..],
        &[
            "custom:tier",
            "custom:level",
            "cognito:mfa_enabled",
            "cognito:username"
        ]
    );

    let err = c
        .add_custom_attributes()
        .user_pool_id(&pool)
        .custom_attributes(custom("tier", AttributeDataType::String))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");

    // The new attributes are usable, within their constraints.
    create(
        &c,
        &pool,
        "ivy",
        &[("custom:tier", "gold"), ("custom:level", "3")],
    )
    .await;
    for (n, v) in [
        ("custom:tier", "platinum"),
        ("custom:level", "11"),
        ("custom:level", "x"),
    ] {
        let err = c
            .admin_update_user_attributes()
            .user_pool_id(&pool)
            .username("ivy")
            .user_attributes(attr(n, v))
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidParameterException", "{n}={v}");
        assert!(
            error_message(&err).starts_with(&format!("user.{n}:")),
            "{}",
            error_message(&err)
        );
    }

    // At most 50 custom attributes.
    for batch in 0..2 {
        let mut b = c.add_custom_attributes().user_pool_id(&pool);
        for i in 0..24 {
            b = b.custom_attributes(custom(&format!("a{batch}x{i}"), AttributeDataType::String));
        }
        b.send().await.unwrap();
    }
    let err = c
        .add_custom_attributes()
        .user_pool_id(&pool)
        .custom_attributes(custom("onemore", AttributeDataType::String))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterException");

    let err = c
        .get_csv_header()
        .user_pool_id("us-east-1_nopenope1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
}

async fn auth_events_are_empty(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = plain_pool(&c).await;
    create(&c, &pool, "jack", &[]).await;
    let r = c
        .admin_list_user_auth_events()
        .user_pool_id(&pool)
        .username("jack")
        .max_results(10)
        .send()
        .await
        .unwrap();
    assert!(r.auth_events().is_empty());
    assert!(r.next_token().is_none());
    let err = c
        .admin_list_user_auth_events()
        .user_pool_id(&pool)
        .username("jill")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "UserNotFoundException");
}
