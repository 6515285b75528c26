//! Self-service accounts through the unmodified SDK: SignUp → ConfirmSignUp → sign-in,
//! ResendConfirmationCode, ForgotPassword → ConfirmForgotPassword, AdminResetUserPassword's code,
//! ChangePassword, DeleteUser, and their errors. Codes are read from what was actually delivered
//! (the developer outbox, written by the delivery dispatcher).

use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{
    AccountRecoverySettingType, AdminCreateUserConfigType, DeliveryMediumType,
    PreventUserExistenceErrorTypes, RecoveryOptionNameType, RecoveryOptionType, UserStatusType,
    VerifiedAttributeType,
};
use serde_json::Value;

use crate::harness::{error_code, error_message, Backend, Server};
use crate::sign_in::{attr, password_sign_in, secret_hash, FLOWS};

crate::backend_tests!(
    sign_up_confirm_and_sign_in,
    forgot_password_and_admin_reset,
    change_password_and_delete_user,
    own_attributes_are_verified_by_code,
    changes_wait_for_verification_before_update,
    code_attempts_are_limited,
);

/// The newest code delivered to `destination` for `purpose`, waiting for the dispatcher.
pub async fn delivered_code(server: &Server, purpose: &str, destination: &str) -> (Value, String) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text =
            std::fs::read_to_string(server.data_dir.join("outbox.jsonl")).unwrap_or_default();
        let found = text
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|m| m["purpose"] == purpose && m["destination"] == destination);
        if let Some(m) = found {
            let body = m["body"].as_str().unwrap_or_default();
            let code: String = body
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .expect("a six-digit code in the message")
                .to_string();
            return (m, code);
        }
        assert!(
            Instant::now() < deadline,
            "no {purpose} message for {destination} was delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The code of a message sent after `before` messages for `purpose` to `destination` had been
/// delivered, waiting for the dispatcher (the newest delivered one may still be an older code).
pub async fn code_delivered_after(
    server: &Server,
    purpose: &str,
    destination: &str,
    before: usize,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    while count_delivered(server, purpose, destination) <= before {
        assert!(
            Instant::now() < deadline,
            "no new {purpose} message for {destination} was delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    delivered_code(server, purpose, destination).await.1
}

pub fn count_delivered(server: &Server, purpose: &str, destination: &str) -> usize {
    std::fs::read_to_string(server.data_dir.join("outbox.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["purpose"] == purpose && m["destination"] == destination)
        .count()
}

async fn self_service_pool(c: &cognito::Client, admin_only: bool) -> String {
    c.create_user_pool()
        .pool_name("self-service")
        .schema(
            cognito::types::SchemaAttributeType::builder()
                .name("tier")
                .attribute_data_type(cognito::types::AttributeDataType::Number)
                .build(),
        )
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .email_verification_subject("Confirm your account")
        .email_verification_message("Hello {username}, your code is {####}")
        .admin_create_user_config(
            AdminCreateUserConfigType::builder()
                .allow_admin_create_user_only(admin_only)
                .build(),
        )
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
        )
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap()
}

async fn client(
    c: &cognito::Client,
    pool: &str,
    secret: bool,
    hide: bool,
) -> (String, Option<String>) {
    let mut req = c
        .create_user_pool_client()
        .user_pool_id(pool)
        .client_name("app")
        .set_explicit_auth_flows(Some(FLOWS.to_vec()))
        .generate_secret(secret);
    if hide {
        req = req.prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled);
    }
    let r = req.send().await.unwrap().user_pool_client.unwrap();
    (r.client_id.unwrap(), r.client_secret)
}

async fn sign_up_confirm_and_sign_in(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = self_service_pool(&c, false).await;
    let (client_id, _) = client(&c, &pool, false, false).await;
    let (secret_client, secret) = client(&c, &pool, true, false).await;
    let secret = secret.unwrap();

    let r = c
        .sign_up()
        .client_id(&client_id)
        .username("paula")
        .password("Passw0rd!x")
        .user_attributes(attr("email", "paula@example.com"))
        .send()
        .await
        .unwrap();
    assert!(!r.user_confirmed());
    assert_eq!(r.user_sub().len(), 36);
    let d = r.code_delivery_details().unwrap();
    assert_eq!(d.destination(), Some("p***@e***"));
    assert_eq!(d.delivery_medium(), Some(&DeliveryMediumType::Email));
    assert_eq!(d.attribute_name(), Some("email"));
    let (msg, code) = delivered_code(&server, "sign_up", "paula@example.com").await;
    assert_eq!(msg["subject"], "Confirm your account");
    assert_eq!(
        msg["body"],
        format!("Hello paula, your code is {code}").as_str()
    );

    // Not yet confirmed: sign-in says so after the password is proven.
    assert_eq!(
        password_sign_in(&c, &client_id, "paula", "Passw0rd!x")
            .await
            .unwrap_err(),
        "UserNotConfirmedException: User is not confirmed."
    );
    // A duplicate username.
    let e = c
        .sign_up()
        .client_id(&client_id)
        .username("paula")
        .password("Passw0rd!x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "UsernameExistsException");
    // A weak password.
    let e = c
        .sign_up()
        .client_id(&client_id)
        .username("quinn")
        .password("short")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "InvalidPasswordException");

    // Wrong code, then a resend replaces the code: the old one no longer works.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let e = c
        .confirm_sign_up()
        .client_id(&client_id)
        .username("paula")
        .confirmation_code(wrong)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "CodeMismatchException");
    assert_eq!(
        error_message(&e),
        "Invalid verification code provided, please try again."
    );
    let before = count_delivered(&server, "sign_up", "paula@example.com");
    c.resend_confirmation_code()
        .client_id(&client_id)
        .username("paula")
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while count_delivered(&server, "sign_up", "paula@example.com") == before {
        assert!(
            Instant::now() < deadline,
            "the resent code was not delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, new_code) = delivered_code(&server, "sign_up", "paula@example.com").await;
    if new_code != code {
        let e = c
            .confirm_sign_up()
            .client_id(&client_id)
            .username("paula")
            .confirmation_code(&code)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&e), "CodeMismatchException");
    }
    c.confirm_sign_up()
        .client_id(&client_id)
        .username("paula")
        .confirmation_code(&new_code)
        .send()
        .await
        .unwrap();
    let u = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("paula")
        .send()
        .await
        .unwrap();
    assert_eq!(u.user_status(), Some(&UserStatusType::Confirmed));
    assert!(u
        .user_attributes()
        .iter()
        .any(|a| a.name() == "email_verified" && a.value() == Some("true")));
    let e = c
        .confirm_sign_up()
        .client_id(&client_id)
        .username("paula")
        .confirmation_code(&new_code)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&e),
        "User cannot be confirmed. Current status is CONFIRMED"
    );
    let e = c
        .resend_confirmation_code()
        .client_id(&client_id)
        .username("paula")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "InvalidParameterException");
    password_sign_in(&c, &client_id, "paula", "Passw0rd!x")
        .await
        .unwrap();

    // A client with a secret needs SecretHash on SignUp.
    let e = c
        .sign_up()
        .client_id(&secret_client)
        .username("rita")
        .password("Passw0rd!x")
        .user_attributes(attr("email", "rita@example.com"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "NotAuthorizedException");
    c.sign_up()
        .client_id(&secret_client)
        .secret_hash(secret_hash(&secret, "rita", &secret_client))
        .username("rita")
        .password("Passw0rd!x")
        .user_attributes(attr("email", "rita@example.com"))
        .send()
        .await
        .unwrap();

    // Five wrong codes kill the code.
    for _ in 0..5 {
        let e = c
            .confirm_sign_up()
            .client_id(&secret_client)
            .secret_hash(secret_hash(&secret, "rita", &secret_client))
            .username("rita")
            .confirmation_code("999999x")
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&e), "CodeMismatchException");
    }
    let (_, rita_code) = delivered_code(&server, "sign_up", "rita@example.com").await;
    let e = c
        .confirm_sign_up()
        .client_id(&secret_client)
        .secret_hash(secret_hash(&secret, "rita", &secret_client))
        .username("rita")
        .confirmation_code(rita_code)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "LimitExceededException");

    // Unknown users.
    let e = c
        .confirm_sign_up()
        .client_id(&client_id)
        .username("nobody")
        .confirmation_code("123456")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "UserNotFoundException");

    // A pool that only admins may fill.
    let closed = self_service_pool(&c, true).await;
    let (closed_client, _) = client(&c, &closed, false, false).await;
    let e = c
        .sign_up()
        .client_id(&closed_client)
        .username("sam")
        .password("Passw0rd!x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&e),
        "SignUp is not permitted for this user pool"
    );
}

async fn forgot_password_and_admin_reset(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = self_service_pool(&c, false).await;
    let (client_id, _) = client(&c, &pool, false, false).await;
    let (hiding, _) = client(&c, &pool, false, true).await;
    crate::sign_in::user(&c, &pool, "tess", "Passw0rd!x", "tess@example.com").await;

    let r = c
        .forgot_password()
        .client_id(&client_id)
        .username("tess")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.code_delivery_details().unwrap().destination(),
        Some("t***@e***")
    );
    let (_, code) = delivered_code(&server, "forgot_password", "tess@example.com").await;
    let e = c
        .confirm_forgot_password()
        .client_id(&client_id)
        .username("tess")
        .confirmation_code(&code)
        .password("weak")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "InvalidPasswordException");
    c.confirm_forgot_password()
        .client_id(&client_id)
        .username("tess")
        .confirmation_code(&code)
        .password("Recovered-1!")
        .send()
        .await
        .unwrap();
    password_sign_in(&c, &client_id, "tess", "Recovered-1!")
        .await
        .unwrap();
    crate::sign_in::srp_sign_in(&c, &pool, &client_id, "tess", "Recovered-1!", None, true)
        .await
        .unwrap();
    // The code is spent.
    let e = c
        .confirm_forgot_password()
        .client_id(&client_id)
        .username("tess")
        .confirmation_code(&code)
        .password("Recovered-2!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "CodeMismatchException");

    // Unknown users: LEGACY says so; ENABLED answers like a real delivery.
    let e = c
        .forgot_password()
        .client_id(&client_id)
        .username("nobody")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "UserNotFoundException");
    let r = c
        .forgot_password()
        .client_id(&hiding)
        .username("nobody")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.code_delivery_details().unwrap().delivery_medium(),
        Some(&DeliveryMediumType::Email)
    );
    let e = c
        .confirm_forgot_password()
        .client_id(&hiding)
        .username("nobody")
        .confirmation_code("123456")
        .password("Recovered-1!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "CodeMismatchException");

    // AdminResetUserPassword: RESET_REQUIRED and a code; ConfirmForgotPassword confirms again.
    c.admin_reset_user_password()
        .user_pool_id(&pool)
        .username("tess")
        .send()
        .await
        .unwrap();
    let before = count_delivered(&server, "forgot_password", "tess@example.com");
    assert!(before >= 1);
    let deadline = Instant::now() + Duration::from_secs(15);
    while count_delivered(&server, "forgot_password", "tess@example.com") < 2 {
        assert!(
            Instant::now() < deadline,
            "the reset code was not delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, code) = delivered_code(&server, "forgot_password", "tess@example.com").await;
    assert_eq!(
        password_sign_in(&c, &client_id, "tess", "Recovered-1!")
            .await
            .unwrap_err(),
        "PasswordResetRequiredException: Password reset required for the user"
    );
    c.confirm_forgot_password()
        .client_id(&client_id)
        .username("tess")
        .confirmation_code(&code)
        .password("After-Reset-1!")
        .send()
        .await
        .unwrap();
    let u = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("tess")
        .send()
        .await
        .unwrap();
    assert_eq!(u.user_status(), Some(&UserStatusType::Confirmed));
    password_sign_in(&c, &client_id, "tess", "After-Reset-1!")
        .await
        .unwrap();
}

async fn change_password_and_delete_user(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = self_service_pool(&c, false).await;
    let (client_id, _) = client(&c, &pool, false, false).await;
    crate::sign_in::user(&c, &pool, "uma", "Passw0rd!x", "uma@example.com").await;
    let t = password_sign_in(&c, &client_id, "uma", "Passw0rd!x")
        .await
        .unwrap();
    let access = t.access_token().unwrap();

    let e = c
        .change_password()
        .access_token(access)
        .previous_password("wrong-Passw0rd")
        .proposed_password("Changed-1!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&e), "Incorrect username or password.");
    let e = c
        .change_password()
        .access_token(access)
        .previous_password("Passw0rd!x")
        .proposed_password("weak")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "InvalidPasswordException");
    c.change_password()
        .access_token(access)
        .previous_password("Passw0rd!x")
        .proposed_password("Changed-1!")
        .send()
        .await
        .unwrap();
    password_sign_in(&c, &client_id, "uma", "Changed-1!")
        .await
        .unwrap();
    crate::sign_in::srp_sign_in(&c, &pool, &client_id, "uma", "Changed-1!", None, true)
        .await
        .unwrap();

    c.delete_user().access_token(access).send().await.unwrap();
    let e = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("uma")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "UserNotFoundException");
    let e = c.get_user().access_token(access).send().await.unwrap_err();
    assert_eq!(error_code(&e), "NotAuthorizedException");
}

async fn own_attributes_are_verified_by_code(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = self_service_pool(&c, false).await;
    let (client_id, _) = client(&c, &pool, false, false).await;
    crate::sign_in::user(&c, &pool, "vera", "Passw0rd!x", "vera@example.com").await;
    let t = password_sign_in(&c, &client_id, "vera", "Passw0rd!x")
        .await
        .unwrap();
    let access = t.access_token().unwrap();
    let attrs_of = |c: cognito::Client, access: String| async move {
        c.get_user()
            .access_token(access)
            .send()
            .await
            .unwrap()
            .user_attributes()
            .iter()
            .map(|a| {
                (
                    a.name().to_string(),
                    a.value().unwrap_or_default().to_string(),
                )
            })
            .collect::<std::collections::HashMap<_, _>>()
    };

    let r = c
        .update_user_attributes()
        .access_token(access)
        .user_attributes(attr("email", "vera@new.example"))
        .user_attributes(attr("name", "Vera"))
        .send()
        .await
        .unwrap();
    let d = &r.code_delivery_details_list()[0];
    assert_eq!(d.destination(), Some("v***@n***"));
    let now = attrs_of(c.clone(), access.to_string()).await;
    assert_eq!(now["email"], "vera@new.example");
    assert_eq!(now["email_verified"], "false");
    assert_eq!(now["name"], "Vera");
    let (_, code) = delivered_code(&server, "verify:email", "vera@new.example").await;

    let e = c
        .verify_user_attribute()
        .access_token(access)
        .attribute_name("email")
        .code(if code == "000000" { "111111" } else { "000000" })
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "CodeMismatchException");
    c.verify_user_attribute()
        .access_token(access)
        .attribute_name("email")
        .code(&code)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attrs_of(c.clone(), access.to_string()).await["email_verified"],
        "true"
    );

    // A fresh code on request.
    let r = c
        .get_user_attribute_verification_code()
        .access_token(access)
        .attribute_name("email")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.code_delivery_details().unwrap().attribute_name(),
        Some("email")
    );

    // The verified flags are not the user's to write.
    let e = c
        .update_user_attributes()
        .access_token(access)
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&e),
        "A client attempted to write unauthorized attribute"
    );
    c.delete_user_attributes()
        .access_token(access)
        .user_attribute_names("name")
        .send()
        .await
        .unwrap();
    assert!(!attrs_of(c.clone(), access.to_string())
        .await
        .contains_key("name"));
}

fn attrs_map(attrs: &[cognito::types::AttributeType]) -> std::collections::HashMap<String, String> {
    attrs
        .iter()
        .map(|a| {
            (
                a.name().to_string(),
                a.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Waits until a code for `destination` has been delivered `n` or more times; the newest code.
async fn nth_code(server: &Server, purpose: &str, destination: &str, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    while count_delivered(server, purpose, destination) < n {
        assert!(
            Instant::now() < deadline,
            "{purpose} message {n} for {destination} was not delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    delivered_code(server, purpose, destination).await.1
}

/// AttributesRequireVerificationBeforeUpdate: the pool setting's validation, and a changed email
/// that stays pending (old value, its verified flag and its sign-in alias in force) until the code
/// sent to the new address is confirmed, through the user's own and the administrator's updates.
async fn changes_wait_for_verification_before_update(backend: Backend) {
    use cognito::types::{AliasAttributeType, UserAttributeUpdateSettingsType};
    let server = Server::start(backend).await;
    let c = server.client();
    let email_first = UserAttributeUpdateSettingsType::builder()
        .attributes_require_verification_before_update(VerifiedAttributeType::Email)
        .build();
    let tier = cognito::types::SchemaAttributeType::builder()
        .name("tier")
        .attribute_data_type(cognito::types::AttributeDataType::Number)
        .build();

    // Only auto-verified attributes can wait for verification.
    let e = c
        .create_user_pool()
        .pool_name("held")
        .user_attribute_update_settings(email_first.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "InvalidParameterException");
    assert_eq!(
        error_message(&e),
        "All attributes in AttributesRequireVerificationBeforeUpdate must exist in AutoVerifiedAttributes"
    );
    let pool = c
        .create_user_pool()
        .pool_name("held")
        .schema(tier)
        .alias_attributes(AliasAttributeType::Email)
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .user_attribute_update_settings(email_first.clone())
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap();
    assert_eq!(
        pool.user_attribute_update_settings()
            .unwrap()
            .attributes_require_verification_before_update(),
        &[VerifiedAttributeType::Email]
    );
    let pool = pool.id.unwrap();
    // UpdateUserPool resets what it omits, so the request itself must auto-verify the attribute.
    let e = c
        .update_user_pool()
        .user_pool_id(&pool)
        .user_attribute_update_settings(email_first.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&e),
        "All attributes in AttributesRequireVerificationBeforeUpdate must exist in AutoVerifiedAttributes"
    );
    c.update_user_pool()
        .user_pool_id(&pool)
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .user_attribute_update_settings(email_first)
        .send()
        .await
        .unwrap();
    let described = c
        .describe_user_pool()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap();
    assert_eq!(
        described
            .user_attribute_update_settings()
            .unwrap()
            .attributes_require_verification_before_update(),
        &[VerifiedAttributeType::Email]
    );

    let (client_id, _) = client(&c, &pool, false, false).await;
    crate::sign_in::user(&c, &pool, "wes", "Passw0rd!x", "wes@old.example").await;
    let access = password_sign_in(&c, &client_id, "wes", "Passw0rd!x")
        .await
        .unwrap()
        .access_token()
        .unwrap()
        .to_string();
    let own = |c: cognito::Client, access: String| async move {
        attrs_map(
            c.get_user()
                .access_token(access)
                .send()
                .await
                .unwrap()
                .user_attributes(),
        )
    };
    let admin = |c: cognito::Client, pool: String| async move {
        attrs_map(
            c.admin_get_user()
                .user_pool_id(pool)
                .username("wes")
                .send()
                .await
                .unwrap()
                .user_attributes(),
        )
    };

    // The user's own change: the code goes to the new address, nothing else changes yet.
    let r = c
        .update_user_attributes()
        .access_token(&access)
        .user_attributes(attr("email", "wes@new.example"))
        .user_attributes(attr("name", "Wes"))
        .send()
        .await
        .unwrap();
    let d = &r.code_delivery_details_list()[0];
    assert_eq!(d.destination(), Some("w***@n***"));
    assert_eq!(d.attribute_name(), Some("email"));
    let first = nth_code(&server, "verify:email", "wes@new.example", 1).await;
    for view in [
        own(c.clone(), access.clone()).await,
        admin(c.clone(), pool.clone()).await,
    ] {
        assert_eq!(view["email"], "wes@old.example");
        assert_eq!(view["email_verified"], "true");
        assert_eq!(view["name"], "Wes", "other attributes change at once");
    }
    // The old address still signs in (it is still the verified alias); the new one does not yet.
    password_sign_in(&c, &client_id, "wes@old.example", "Passw0rd!x")
        .await
        .unwrap();
    assert!(
        password_sign_in(&c, &client_id, "wes@new.example", "Passw0rd!x")
            .await
            .is_err()
    );
    // A second change before verification replaces the waiting value and its code.
    c.update_user_attributes()
        .access_token(&access)
        .user_attributes(attr("email", "wes@newer.example"))
        .send()
        .await
        .unwrap();
    let second = nth_code(&server, "verify:email", "wes@newer.example", 1).await;
    if first != second {
        let e = c
            .verify_user_attribute()
            .access_token(&access)
            .attribute_name("email")
            .code(&first)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&e), "CodeMismatchException");
    }
    assert_eq!(
        own(c.clone(), access.clone()).await["email"],
        "wes@old.example"
    );
    // GetUserAttributeVerificationCode sends a fresh code to the waiting value.
    let r = c
        .get_user_attribute_verification_code()
        .access_token(&access)
        .attribute_name("email")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.code_delivery_details().unwrap().destination(),
        Some("w***@n***")
    );
    let third = nth_code(&server, "verify:email", "wes@newer.example", 2).await;
    c.verify_user_attribute()
        .access_token(&access)
        .attribute_name("email")
        .code(&third)
        .send()
        .await
        .unwrap();
    let now = admin(c.clone(), pool.clone()).await;
    assert_eq!(now["email"], "wes@newer.example");
    assert_eq!(now["email_verified"], "true");
    password_sign_in(&c, &client_id, "wes@newer.example", "Passw0rd!x")
        .await
        .unwrap();
    assert!(
        password_sign_in(&c, &client_id, "wes@old.example", "Passw0rd!x")
            .await
            .is_err(),
        "the old alias is released once the new value is verified"
    );

    // The administrator's change waits the same way and sends the code to the new address.
    c.admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("wes")
        .user_attributes(attr("email", "wes@admin.example"))
        .send()
        .await
        .unwrap();
    let admin_code = nth_code(&server, "verify:email", "wes@admin.example", 1).await;
    let now = admin(c.clone(), pool.clone()).await;
    assert_eq!(now["email"], "wes@newer.example");
    assert_eq!(now["email_verified"], "true");
    // With email_verified=true in the same request the new value applies at once, verified,
    // without a message, and what was waiting is settled (its code no longer verifies anything).
    let before = count_delivered(&server, "verify:email", "wes@direct.example");
    c.admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("wes")
        .user_attributes(attr("email", "wes@direct.example"))
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap();
    let now = admin(c.clone(), pool.clone()).await;
    assert_eq!(now["email"], "wes@direct.example");
    assert_eq!(now["email_verified"], "true");
    let e = c
        .verify_user_attribute()
        .access_token(&access)
        .attribute_name("email")
        .code(&admin_code)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "CodeMismatchException");
    assert_eq!(
        admin(c.clone(), pool.clone()).await["email"],
        "wes@direct.example"
    );
    password_sign_in(&c, &client_id, "wes@direct.example", "Passw0rd!x")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        count_delivered(&server, "verify:email", "wes@direct.example"),
        before,
        "a change the administrator marks verified sends no code"
    );
}

const LIMIT: &str = "LimitExceededException: Attempt limit exceeded, please try after some time.";

fn wrong(code: &str) -> String {
    if code == "000000" {
        "111111".into()
    } else {
        "000000".into()
    }
}

/// An SDK error as `Code: message`, the form [`LIMIT`] is written in.
fn code_and_message<E, R>(e: &cognito::error::SdkError<E, R>) -> String
where
    E: cognito::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    format!("{}: {}", error_code(e), error_message(e))
}

async fn confirm_sign_up(
    c: &cognito::Client,
    client_id: &str,
    user: &str,
    code: &str,
) -> Result<(), String> {
    c.confirm_sign_up()
        .client_id(client_id)
        .username(user)
        .confirmation_code(code)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code_and_message(&e))
}

async fn confirm_forgot_password(
    c: &cognito::Client,
    client_id: &str,
    user: &str,
    code: &str,
    password: &str,
) -> Result<(), String> {
    c.confirm_forgot_password()
        .client_id(client_id)
        .username(user)
        .confirmation_code(code)
        .password(password)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code_and_message(&e))
}

async fn verify_email(c: &cognito::Client, access: &str, code: &str) -> Result<(), String> {
    c.verify_user_attribute()
        .access_token(access)
        .attribute_name("email")
        .code(code)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code_and_message(&e))
}

const MISMATCH: &str =
    "CodeMismatchException: Invalid verification code provided, please try again.";

/// Five wrong codes per user and purpose on ConfirmSignUp, ConfirmForgotPassword and
/// VerifyUserAttribute: the sixth attempt answers LimitExceededException even with the right code
/// (what Cognito answers; the model's TooManyFailedAttemptsException is not what clients see for
/// codes), parallel guesses are counted one by one, a right code clears the count, and a new code
/// does not: it is refused while the purpose is locked (security_codes.rs tests this further).
async fn code_attempts_are_limited(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = self_service_pool(&c, false).await;
    let (client_id, _) = client(&c, &pool, false, false).await;

    // ConfirmSignUp, ten wrong guesses at once: five are compared, five are refused.
    c.sign_up()
        .client_id(&client_id)
        .username("xena")
        .password("Passw0rd!x")
        .user_attributes(attr("email", "xena@example.com"))
        .send()
        .await
        .unwrap();
    let code = nth_code(&server, "sign_up", "xena@example.com", 1).await;
    let guesses = (0..10).map(|_| {
        let c = c.clone();
        let (client_id, guess) = (client_id.clone(), wrong(&code));
        tokio::spawn(async move {
            confirm_sign_up(&c, &client_id, "xena", &guess)
                .await
                .unwrap_err()
        })
    });
    let mut answers: Vec<String> = Vec::new();
    for g in guesses.collect::<Vec<_>>() {
        answers.push(g.await.unwrap());
    }
    answers.sort();
    let mismatches = answers.iter().filter(|a| *a == MISMATCH).count();
    let limited = answers.iter().filter(|a| *a == LIMIT).count();
    assert_eq!((mismatches, limited), (5, 5), "{answers:?}");
    assert_eq!(
        confirm_sign_up(&c, &client_id, "xena", &code).await,
        Err(LIMIT.to_string())
    );
    // No new code (with new guesses) while locked; an administrator can still confirm.
    let e = c
        .resend_confirmation_code()
        .client_id(&client_id)
        .username("xena")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(&e), LIMIT);
    c.admin_confirm_sign_up()
        .user_pool_id(&pool)
        .username("xena")
        .send()
        .await
        .unwrap();

    // ConfirmForgotPassword: four wrong, then the right one still works within five attempts;
    // the next code after five wrong ones is dead.
    c.admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("xena")
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap();
    c.forgot_password()
        .client_id(&client_id)
        .username("xena")
        .send()
        .await
        .unwrap();
    let code = nth_code(&server, "forgot_password", "xena@example.com", 1).await;
    for _ in 0..4 {
        assert_eq!(
            confirm_forgot_password(&c, &client_id, "xena", &wrong(&code), "Recovered-1!").await,
            Err(MISMATCH.to_string())
        );
    }
    confirm_forgot_password(&c, &client_id, "xena", &code, "Recovered-1!")
        .await
        .unwrap();
    c.forgot_password()
        .client_id(&client_id)
        .username("xena")
        .send()
        .await
        .unwrap();
    let code = nth_code(&server, "forgot_password", "xena@example.com", 2).await;
    for _ in 0..5 {
        assert_eq!(
            confirm_forgot_password(&c, &client_id, "xena", &wrong(&code), "Recovered-2!").await,
            Err(MISMATCH.to_string())
        );
    }
    assert_eq!(
        confirm_forgot_password(&c, &client_id, "xena", &code, "Recovered-2!").await,
        Err(LIMIT.to_string())
    );
    password_sign_in(&c, &client_id, "xena", "Recovered-1!")
        .await
        .unwrap();

    // VerifyUserAttribute.
    let access = password_sign_in(&c, &client_id, "xena", "Recovered-1!")
        .await
        .unwrap()
        .access_token()
        .unwrap()
        .to_string();
    c.update_user_attributes()
        .access_token(&access)
        .user_attributes(attr("email", "xena@new.example"))
        .send()
        .await
        .unwrap();
    let code = nth_code(&server, "verify:email", "xena@new.example", 1).await;
    for _ in 0..5 {
        assert_eq!(
            verify_email(&c, &access, &wrong(&code)).await,
            Err(MISMATCH.to_string())
        );
    }
    assert_eq!(
        verify_email(&c, &access, &code).await,
        Err(LIMIT.to_string())
    );
    let e = c
        .get_user_attribute_verification_code()
        .access_token(&access)
        .attribute_name("email")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(&e), LIMIT);
}
