//! Multi-factor sign-in through the unmodified SDK: the pool's MFA settings, TOTP set-up by access
//! token and during sign-in (MFA_SETUP), SMS and email codes read from the outbox, SELECT_MFA_TYPE,
//! each challenge after a password, after SRP and after NEW_PASSWORD_REQUIRED, wrong, reused and
//! expired codes and sessions, the lockout, and a TOTP code used on one node refused on another.
//! TOTP codes are computed with totp-rs here (pyotp does the same in scripts/cross-client/mfa).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cognitoidentityprovider as cognito;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cognito::types::{
    AuthFlowType, ChallengeNameType, EmailConfigurationType, EmailMfaConfigType,
    EmailMfaSettingsType, EmailSendingAccountType, MessageActionType, SmsConfigurationType,
    SmsMfaConfigType, SmsMfaSettingsType, SoftwareTokenMfaConfigType, SoftwareTokenMfaSettingsType,
    UserPoolMfaType, VerifySoftwareTokenResponseType,
};
use sha2::Digest;

use crate::harness::{error_code, error_message, Backend, Options, Server};
use crate::sign_in::{app_client, attr, password_sign_in, srp_sign_in_steps};

crate::backend_tests!(
    pool_mfa_settings_follow_cognito,
    totp_set_up_by_access_token_then_sign_in,
    sms_and_email_codes_and_choosing,
    mfa_setup_during_sign_in,
    wrong_codes_count_in_the_lockout,
);

pub const PHONE: &str = "+15555550100";

pub fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The TOTP code of `secret` (base32) `steps` steps from now.
pub fn totp(secret: &str, steps: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .unwrap();
    let t = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 0, 30, bytes).unwrap();
    t.generate((now_s() + steps * 30) as u64)
}

pub fn sms_config() -> SmsConfigurationType {
    SmsConfigurationType::builder()
        .sns_caller_arn("arn:aws:iam::123456789012:role/sns")
        .external_id("gatehouse")
        .build()
}

/// A pool with the given MFA mode offering TOTP, SMS and email codes.
pub async fn mfa_pool(c: &cognito::Client, mode: UserPoolMfaType) -> String {
    let pool = c
        .create_user_pool()
        .pool_name("mfa")
        .email_configuration(
            EmailConfigurationType::builder()
                .email_sending_account(EmailSendingAccountType::Developer)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    c.set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .mfa_configuration(mode)
        .software_token_mfa_configuration(
            SoftwareTokenMfaConfigType::builder().enabled(true).build(),
        )
        .sms_mfa_configuration(
            SmsMfaConfigType::builder()
                .sms_authentication_message("Your sign-in code is {####}")
                .sms_configuration(sms_config())
                .build(),
        )
        .email_mfa_configuration(
            EmailMfaConfigType::builder()
                .message("Email code {####}")
                .subject("Sign-in code")
                .build(),
        )
        .send()
        .await
        .unwrap();
    pool
}

/// A confirmed user with an email and a phone number.
pub async fn mfa_user(c: &cognito::Client, pool: &str, name: &str, pw: &str) {
    c.admin_create_user()
        .user_pool_id(pool)
        .username(name)
        .message_action(MessageActionType::Suppress)
        .user_attributes(attr("email", &format!("{name}@example.com")))
        .user_attributes(attr("email_verified", "true"))
        .user_attributes(attr("phone_number", PHONE))
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

pub async fn initiate(
    c: &cognito::Client,
    client: &str,
    name: &str,
    pw: &str,
) -> cognito::operation::initiate_auth::InitiateAuthOutput {
    c.initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", name)
        .auth_parameters("PASSWORD", pw)
        .send()
        .await
        .unwrap()
}

pub async fn respond(
    c: &cognito::Client,
    client: &str,
    name: ChallengeNameType,
    session: &str,
    answers: &[(&str, &str)],
) -> Result<cognito::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput, String> {
    let mut r = c
        .respond_to_auth_challenge()
        .client_id(client)
        .challenge_name(name)
        .session(session);
    for (k, v) in answers {
        r = r.challenge_responses(*k, *v);
    }
    r.send()
        .await
        .map_err(|e| format!("{}: {}", error_code(&e), error_message(&e)))
}

/// Enables SMS MFA for a user and prefers it, as an administrator.
pub async fn prefer_sms(c: &cognito::Client, pool: &str, name: &str) {
    c.admin_set_user_mfa_preference()
        .user_pool_id(pool)
        .username(name)
        .sms_mfa_settings(
            SmsMfaSettingsType::builder()
                .enabled(true)
                .preferred_mfa(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Sets up TOTP through the access token and prefers it; returns the secret.
pub async fn enrol_totp(c: &cognito::Client, access: &str) -> String {
    enrol_totp_at(c, access, 0).await
}

/// As [`enrol_totp`], verifying with the code of the step `steps` from now (so later steps stay
/// fresh for the sign-ins that follow).
pub async fn enrol_totp_at(c: &cognito::Client, access: &str, steps: i64) -> String {
    let secret = c
        .associate_software_token()
        .access_token(access)
        .send()
        .await
        .unwrap()
        .secret_code
        .unwrap();
    let v = c
        .verify_software_token()
        .access_token(access)
        .user_code(totp(&secret, steps))
        .friendly_device_name("phone")
        .send()
        .await
        .unwrap();
    assert_eq!(v.status, Some(VerifySoftwareTokenResponseType::Success));
    c.set_user_mfa_preference()
        .access_token(access)
        .software_token_mfa_settings(
            SoftwareTokenMfaSettingsType::builder()
                .enabled(true)
                .preferred_mfa(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    secret
}

async fn pool_mfa_settings_follow_cognito(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = crate::sign_in::pool(&c, false).await;
    let set = || c.set_user_pool_mfa_config().user_pool_id(&pool);
    let refused = |e: cognito::error::SdkError<_, _>| (error_code(&e), error_message(&e));
    let e = set()
        .mfa_configuration(UserPoolMfaType::On)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refused(e),
        (
            "InvalidParameterException".into(),
            "Invalid MFA Configuration given. SMS MFA, Email MFA, or Software Token MFA must be enabled.".into()
        )
    );
    let e = set()
        .mfa_configuration(UserPoolMfaType::Optional)
        .software_token_mfa_configuration(
            SoftwareTokenMfaConfigType::builder().enabled(false).build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&e),
        "Invalid MFA configuration given, can't disable all MFAs with a required or optional configuration."
    );
    let e = set()
        .mfa_configuration(UserPoolMfaType::Off)
        .software_token_mfa_configuration(
            SoftwareTokenMfaConfigType::builder().enabled(true).build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&e),
        "Invalid MFA configuration given, can't turn off MFA and configure an MFA together."
    );
    // SMS MFA needs an SMS configuration, in the request or the pool.
    let e = set()
        .mfa_configuration(UserPoolMfaType::Optional)
        .sms_mfa_configuration(
            SmsMfaConfigType::builder()
                .sms_authentication_message("Code {####}")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "InvalidParameterException");
    // SmsAuthenticationMessage must hold the code's placeholder (the model's pattern).
    let e = set()
        .mfa_configuration(UserPoolMfaType::Optional)
        .sms_mfa_configuration(
            SmsMfaConfigType::builder()
                .sms_authentication_message("no code here")
                .sms_configuration(sms_config())
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "InvalidParameterException");
    assert!(
        error_message(&e).contains("smsAuthenticationMessage"),
        "{}",
        error_message(&e)
    );
    // Email codes need the pool's own SES sending.
    let e = set()
        .mfa_configuration(UserPoolMfaType::Optional)
        .email_mfa_configuration(EmailMfaConfigType::builder().message("code {####}").build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "InvalidParameterException");
    let out = set()
        .mfa_configuration(UserPoolMfaType::Optional)
        .software_token_mfa_configuration(
            SoftwareTokenMfaConfigType::builder().enabled(true).build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.mfa_configuration, Some(UserPoolMfaType::Optional));
    let got = c
        .get_user_pool_mfa_config()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap();
    assert_eq!(got.mfa_configuration, Some(UserPoolMfaType::Optional));
    assert!(got.software_token_mfa_configuration.unwrap().enabled);
    assert!(got.sms_mfa_configuration.is_none());
    let described = c
        .describe_user_pool()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap();
    assert_eq!(described.mfa_configuration, Some(UserPoolMfaType::Optional));
    // TOTP off in the pool: AssociateSoftwareToken says so.
    let p2 = crate::sign_in::pool(&c, false).await;
    let (client, _) = app_client(&c, &p2, false).await;
    mfa_user(&c, &p2, "nototp", "Passw0rd!x").await;
    let t = password_sign_in(&c, &client, "nototp", "Passw0rd!x")
        .await
        .unwrap();
    let e = c
        .associate_software_token()
        .access_token(t.access_token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (error_code(&e), error_message(&e)),
        (
            "SoftwareTokenMFANotFoundException".into(),
            "Software Token MFA has not been enabled by the userPool".into()
        )
    );
}

fn email_server(backend: Backend) -> Options {
    let mut o = Options::new(backend);
    o.extra_args = vec!["--allowed-email-senders".into(), "example.com".into()];
    o
}

async fn totp_set_up_by_access_token_then_sign_in(backend: Backend) {
    let server = Server::start_with(email_server(backend)).await;
    let c = server.client();
    let pool = mfa_pool(&c, UserPoolMfaType::Optional).await;
    let (client, _) = app_client(&c, &pool, false).await;
    mfa_user(&c, &pool, "tina", "Passw0rd!x").await;
    mfa_user(&c, &pool, "sam", "Passw0rd!x").await;

    // OPTIONAL: no factor yet, so tokens straight away.
    let t = password_sign_in(&c, &client, "tina", "Passw0rd!x")
        .await
        .unwrap();
    let access = t.access_token().unwrap().to_string();
    let secret = c
        .associate_software_token()
        .access_token(&access)
        .send()
        .await
        .unwrap()
        .secret_code
        .unwrap();
    assert_eq!(secret.len(), 32);
    assert!(secret
        .bytes()
        .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
    // A wrong code does not verify; enabling the factor before it is verified is refused.
    let wrong = if totp(&secret, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let e = c
        .verify_software_token()
        .access_token(&access)
        .user_code(wrong)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (error_code(&e), error_message(&e)),
        (
            "EnableSoftwareTokenMFAException".into(),
            "Code mismatch and fail enable Software Token MFA".into()
        )
    );
    let e = c
        .set_user_mfa_preference()
        .access_token(&access)
        .software_token_mfa_settings(
            SoftwareTokenMfaSettingsType::builder()
                .enabled(true)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&e),
        "User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA"
    );
    let enrolment_code = totp(&secret, 0);
    c.verify_software_token()
        .access_token(&access)
        .user_code(&enrolment_code)
        .friendly_device_name("phone")
        .send()
        .await
        .unwrap();
    c.set_user_mfa_preference()
        .access_token(&access)
        .software_token_mfa_settings(
            SoftwareTokenMfaSettingsType::builder()
                .enabled(true)
                .preferred_mfa(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let me = c.get_user().access_token(&access).send().await.unwrap();
    assert_eq!(me.preferred_mfa_setting(), Some("SOFTWARE_TOKEN_MFA"));
    assert_eq!(me.user_mfa_setting_list(), ["SOFTWARE_TOKEN_MFA"]);
    assert!(me.mfa_options().is_empty());
    let admin = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("tina")
        .send()
        .await
        .unwrap();
    assert_eq!(admin.preferred_mfa_setting(), Some("SOFTWARE_TOKEN_MFA"));

    // Sign-in after a password: SOFTWARE_TOKEN_MFA.
    let r = initiate(&c, &client, "tina", "Passw0rd!x").await;
    assert_eq!(r.challenge_name, Some(ChallengeNameType::SoftwareTokenMfa));
    let p = r.challenge_parameters.clone().unwrap();
    assert_eq!(p["FRIENDLY_DEVICE_NAME"], "phone");
    assert_eq!(p["USER_ID_FOR_SRP"], "tina");
    let session = r.session.unwrap();
    // The enrolment code was used: refused as used, the Session stays for another try.
    let e = respond(
        &c,
        &client,
        ChallengeNameType::SoftwareTokenMfa,
        &session,
        &[
            ("USERNAME", "tina"),
            ("SOFTWARE_TOKEN_MFA_CODE", &enrolment_code),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(
        e,
        "ExpiredCodeException: Your software token has already been used once."
    );
    let r = initiate(&c, &client, "tina", "Passw0rd!x").await;
    let session = r.session.unwrap();
    let wrong = if totp(&secret, 1) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let e = respond(
        &c,
        &client,
        ChallengeNameType::SoftwareTokenMfa,
        &session,
        &[("USERNAME", "tina"), ("SOFTWARE_TOKEN_MFA_CODE", wrong)],
    )
    .await
    .unwrap_err();
    assert_eq!(e, "CodeMismatchException: Invalid code received for user");
    // The same Session takes the right code (the next step's, within the drift).
    let next = totp(&secret, 1);
    let ok = respond(
        &c,
        &client,
        ChallengeNameType::SoftwareTokenMfa,
        &session,
        &[("USERNAME", "tina"), ("SOFTWARE_TOKEN_MFA_CODE", &next)],
    )
    .await
    .unwrap();
    assert!(ok.authentication_result.unwrap().access_token.is_some());
    // A Session answers once.
    let e = respond(
        &c,
        &client,
        ChallengeNameType::SoftwareTokenMfa,
        &session,
        &[("USERNAME", "tina"), ("SOFTWARE_TOKEN_MFA_CODE", &next)],
    )
    .await
    .unwrap_err();
    assert!(e.starts_with("NotAuthorizedException"), "{e}");
    // The code that signed in is used too, on the next sign-in (admin flow this time).
    let r = c
        .admin_initiate_auth()
        .user_pool_id(&pool)
        .client_id(&client)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "tina")
        .auth_parameters("PASSWORD", "Passw0rd!x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.challenge_name, Some(ChallengeNameType::SoftwareTokenMfa));
    let e = c
        .admin_respond_to_auth_challenge()
        .user_pool_id(&pool)
        .client_id(&client)
        .challenge_name(ChallengeNameType::SoftwareTokenMfa)
        .session(r.session.unwrap())
        .challenge_responses("USERNAME", "tina")
        .challenge_responses("SOFTWARE_TOKEN_MFA_CODE", &next)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ExpiredCodeException");

    // After SRP: another user, a fresh authenticator.
    let t = password_sign_in(&c, &client, "sam", "Passw0rd!x")
        .await
        .unwrap();
    let sam_secret = enrol_totp(&c, t.access_token().unwrap()).await;
    let step = srp_sign_in_steps(&c, &pool, &client, "sam", "Passw0rd!x")
        .await
        .unwrap();
    assert_eq!(
        step.challenge_name,
        Some(ChallengeNameType::SoftwareTokenMfa)
    );
    let ok = respond(
        &c,
        &client,
        ChallengeNameType::SoftwareTokenMfa,
        step.session.as_deref().unwrap(),
        &[
            ("USERNAME", "sam"),
            ("SOFTWARE_TOKEN_MFA_CODE", &totp(&sam_secret, 1)),
        ],
    )
    .await
    .unwrap();
    assert!(ok.authentication_result.is_some());

    // AdminDeleteSoftwareToken: the authenticator is gone and TOTP no longer challenges.
    c.admin_delete_software_token()
        .user_pool_id(&pool)
        .username("sam")
        .send()
        .await
        .unwrap();
    let admin = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("sam")
        .send()
        .await
        .unwrap();
    assert!(admin.user_mfa_setting_list().is_empty());
    assert_eq!(admin.preferred_mfa_setting(), None);
    let r = initiate(&c, &client, "sam", "Passw0rd!x").await;
    assert!(r.authentication_result.is_some(), "{:?}", r.challenge_name);
}

async fn sms_and_email_codes_and_choosing(backend: Backend) {
    let server = Server::start_with(email_server(backend.clone())).await;
    let c = server.client();
    let pool = mfa_pool(&c, UserPoolMfaType::Optional).await;
    let (client, _) = app_client(&c, &pool, false).await;
    mfa_user(&c, &pool, "ella", "Passw0rd!x").await;
    prefer_sms(&c, &pool, "ella").await;
    let me = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("ella")
        .send()
        .await
        .unwrap();
    assert_eq!(me.preferred_mfa_setting(), Some("SMS_MFA"));
    let options = me.mfa_options();
    assert_eq!(options.len(), 1);
    assert_eq!(options[0].attribute_name(), Some("phone_number"));

    let r = initiate(&c, &client, "ella", "Passw0rd!x").await;
    assert_eq!(r.challenge_name, Some(ChallengeNameType::SmsMfa));
    let p = r.challenge_parameters.clone().unwrap();
    assert_eq!(p["CODE_DELIVERY_DELIVERY_MEDIUM"], "SMS");
    assert_eq!(p["CODE_DELIVERY_DESTINATION"], "+*******0100");
    let (message, code) = crate::self_service::delivered_code(&server, "mfa:sms", PHONE).await;
    assert!(
        message["body"]
            .as_str()
            .unwrap()
            .starts_with("Your sign-in code is "),
        "the pool's SmsAuthenticationMessage: {message}"
    );
    let session = r.session.unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let e = respond(
        &c,
        &client,
        ChallengeNameType::SmsMfa,
        &session,
        &[("USERNAME", "ella"), ("SMS_MFA_CODE", wrong)],
    )
    .await
    .unwrap_err();
    assert_eq!(
        e,
        "CodeMismatchException: Invalid code or auth state for the user."
    );
    let ok = respond(
        &c,
        &client,
        ChallengeNameType::SmsMfa,
        &session,
        &[("USERNAME", "ella"), ("SMS_MFA_CODE", &code)],
    )
    .await
    .unwrap();
    let access = ok.authentication_result.unwrap().access_token.unwrap();
    // A used code does not sign in again.
    let sent = crate::self_service::count_delivered(&server, "mfa:sms", PHONE);
    let r = initiate(&c, &client, "ella", "Passw0rd!x").await;
    let fresh = crate::self_service::code_delivered_after(&server, "mfa:sms", PHONE, sent).await;
    // (Only if the new code happens to equal the old one, one time in a million, is there
    // nothing to refuse.)
    if fresh != code {
        let e = respond(
            &c,
            &client,
            ChallengeNameType::SmsMfa,
            r.session.as_deref().unwrap(),
            &[("USERNAME", "ella"), ("SMS_MFA_CODE", &code)],
        )
        .await
        .unwrap_err();
        assert!(e.starts_with("CodeMismatchException"), "{e}");
    }

    // Email too, and no preference: the user chooses.
    c.set_user_mfa_preference()
        .access_token(&access)
        .sms_mfa_settings(
            SmsMfaSettingsType::builder()
                .enabled(true)
                .preferred_mfa(false)
                .build(),
        )
        .email_mfa_settings(EmailMfaSettingsType::builder().enabled(true).build())
        .send()
        .await
        .unwrap();
    let me = c.get_user().access_token(&access).send().await.unwrap();
    assert_eq!(me.preferred_mfa_setting(), None);
    assert_eq!(me.user_mfa_setting_list(), ["SMS_MFA", "EMAIL_OTP"]);
    let r = initiate(&c, &client, "ella", "Passw0rd!x").await;
    assert_eq!(r.challenge_name, Some(ChallengeNameType::SelectMfaType));
    let p = r.challenge_parameters.clone().unwrap();
    assert_eq!(p["MFAS_CAN_CHOOSE"], r#"["SMS_MFA","EMAIL_OTP"]"#);
    let chosen = respond(
        &c,
        &client,
        ChallengeNameType::SelectMfaType,
        r.session.as_deref().unwrap(),
        &[("USERNAME", "ella"), ("ANSWER", "EMAIL_OTP")],
    )
    .await
    .unwrap();
    assert_eq!(chosen.challenge_name, Some(ChallengeNameType::EmailOtp));
    let p = chosen.challenge_parameters.clone().unwrap();
    assert_eq!(p["CODE_DELIVERY_DELIVERY_MEDIUM"], "EMAIL");
    assert!(p["CODE_DELIVERY_DESTINATION"].contains('*'));
    let (message, code) =
        crate::self_service::delivered_code(&server, "mfa:email", "ella@example.com").await;
    assert_eq!(message["subject"], "Sign-in code");
    let ok = respond(
        &c,
        &client,
        ChallengeNameType::EmailOtp,
        chosen.session.as_deref().unwrap(),
        &[("USERNAME", "ella"), ("EMAIL_OTP_CODE", &code)],
    )
    .await
    .unwrap();
    assert!(ok.authentication_result.is_some());

    // An expired challenge session answers NotAuthorizedException.
    let r = initiate(&c, &client, "ella", "Passw0rd!x").await;
    let session = r.session.unwrap();
    let store = crate::security_floods::open_store(&server, &backend).await;
    let handle = URL_SAFE_NO_PAD.decode(&session).unwrap();
    let id_hash = hex::encode(sha2::Sha256::digest(&handle));
    let mut rec = domain_ports_take(&store, &id_hash, &client).await;
    rec.expires_ms = now_s() * 1000 - 1_000;
    domain_ports_put(&store, &rec).await;
    let e = respond(
        &c,
        &client,
        ChallengeNameType::SelectMfaType,
        &session,
        &[("USERNAME", "ella"), ("ANSWER", "SMS_MFA")],
    )
    .await
    .unwrap_err();
    assert_eq!(
        e,
        "NotAuthorizedException: Invalid session for the user, session is expired."
    );

    // Legacy SetUserSettings turns SMS MFA off (MFAOptions empty).
    c.set_user_settings()
        .access_token(&access)
        .set_mfa_options(Some(vec![]))
        .send()
        .await
        .unwrap();
    let me = c.get_user().access_token(&access).send().await.unwrap();
    assert_eq!(me.user_mfa_setting_list(), ["EMAIL_OTP"]);
    assert!(me.mfa_options().is_empty());
    // ... and the admin form back on, with the SMS option AdminGetUser shows.
    c.admin_set_user_settings()
        .user_pool_id(&pool)
        .username("ella")
        .mfa_options(
            cognito::types::MfaOptionType::builder()
                .delivery_medium(cognito::types::DeliveryMediumType::Sms)
                .attribute_name("phone_number")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let admin = c
        .admin_get_user()
        .user_pool_id(&pool)
        .username("ella")
        .send()
        .await
        .unwrap();
    assert_eq!(admin.user_mfa_setting_list(), ["SMS_MFA", "EMAIL_OTP"]);
    assert_eq!(admin.mfa_options().len(), 1);

    // SMS_MFA after SRP, too (SMS preferred again).
    prefer_sms(&c, &pool, "ella").await;
    let sent = crate::self_service::count_delivered(&server, "mfa:sms", PHONE);
    let step = srp_sign_in_steps(&c, &pool, &client, "ella", "Passw0rd!x")
        .await
        .unwrap();
    assert_eq!(step.challenge_name, Some(ChallengeNameType::SmsMfa));
    let code = crate::self_service::code_delivered_after(&server, "mfa:sms", PHONE, sent).await;
    let ok = respond(
        &c,
        &client,
        ChallengeNameType::SmsMfa,
        step.session.as_deref().unwrap(),
        &[("USERNAME", "ella"), ("SMS_MFA_CODE", &code)],
    )
    .await
    .unwrap();
    assert!(ok.authentication_result.is_some());

    // A user without a phone number cannot turn SMS MFA on.
    c.admin_create_user()
        .user_pool_id(&pool)
        .username("nophone")
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let e = c
        .admin_set_user_mfa_preference()
        .user_pool_id(&pool)
        .username("nophone")
        .sms_mfa_settings(SmsMfaSettingsType::builder().enabled(true).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (error_code(&e), error_message(&e)),
        (
            "InvalidParameterException".into(),
            "User does not have delivery config set to turn on SMS_MFA".into()
        )
    );
}

async fn domain_ports_take(
    store: &storage::SqlStore,
    id_hash: &str,
    client: &str,
) -> domain::ports::ChallengeSessionRecord {
    use domain::ports::AuthStore;
    store
        .take_challenge_session(id_hash, client)
        .await
        .unwrap()
        .expect("the challenge session is stored")
}

async fn domain_ports_put(store: &storage::SqlStore, rec: &domain::ports::ChallengeSessionRecord) {
    use domain::ports::AuthStore;
    store.insert_challenge_session(rec).await.unwrap();
}

async fn mfa_setup_during_sign_in(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = crate::sign_in::pool(&c, false).await;
    c.set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::On)
        .software_token_mfa_configuration(
            SoftwareTokenMfaConfigType::builder().enabled(true).build(),
        )
        .send()
        .await
        .unwrap();
    let (client, _) = app_client(&c, &pool, false).await;
    crate::sign_in::user(&c, &pool, "otto", "Passw0rd!x", "otto@example.com").await;

    let r = initiate(&c, &client, "otto", "Passw0rd!x").await;
    assert_eq!(r.challenge_name, Some(ChallengeNameType::MfaSetup));
    let p = r.challenge_parameters.clone().unwrap();
    assert_eq!(p["MFAS_CAN_SETUP"], r#"["SOFTWARE_TOKEN_MFA"]"#);
    // MFA_SETUP cannot be skipped.
    let e = respond(
        &c,
        &client,
        ChallengeNameType::MfaSetup,
        r.session.as_deref().unwrap(),
        &[("USERNAME", "otto")],
    )
    .await
    .unwrap_err();
    assert!(e.starts_with("InvalidParameterException"), "{e}");
    let r = initiate(&c, &client, "otto", "Passw0rd!x").await;
    let assoc = c
        .associate_software_token()
        .session(r.session.unwrap())
        .send()
        .await
        .unwrap();
    let secret = assoc.secret_code.unwrap();
    let session = assoc.session.unwrap();
    let wrong = if totp(&secret, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let e = c
        .verify_software_token()
        .session(&session)
        .user_code(wrong)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "EnableSoftwareTokenMFAException");
    let v = c
        .verify_software_token()
        .session(&session)
        .user_code(totp(&secret, 0))
        .send()
        .await
        .unwrap();
    assert_eq!(v.status, Some(VerifySoftwareTokenResponseType::Success));
    let done = respond(
        &c,
        &client,
        ChallengeNameType::MfaSetup,
        v.session.as_deref().unwrap(),
        &[("USERNAME", "otto")],
    )
    .await
    .unwrap();
    assert!(done.authentication_result.unwrap().id_token.is_some());
    // From now on TOTP is the user's factor.
    let r = initiate(&c, &client, "otto", "Passw0rd!x").await;
    assert_eq!(r.challenge_name, Some(ChallengeNameType::SoftwareTokenMfa));

    // After NEW_PASSWORD_REQUIRED the MFA step follows.
    c.admin_create_user()
        .user_pool_id(&pool)
        .username("nina")
        .temporary_password("Temp0rary!x")
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let r = initiate(&c, &client, "nina", "Temp0rary!x").await;
    assert_eq!(
        r.challenge_name,
        Some(ChallengeNameType::NewPasswordRequired)
    );
    let next = respond(
        &c,
        &client,
        ChallengeNameType::NewPasswordRequired,
        r.session.as_deref().unwrap(),
        &[("USERNAME", "nina"), ("NEW_PASSWORD", "Passw0rd!new")],
    )
    .await
    .unwrap();
    assert_eq!(next.challenge_name, Some(ChallengeNameType::MfaSetup));
}

async fn wrong_codes_count_in_the_lockout(backend: Backend) {
    let server = Server::start_with(email_server(backend)).await;
    let c = server.client();
    let pool = mfa_pool(&c, UserPoolMfaType::Optional).await;
    let (client, _) = app_client(&c, &pool, false).await;
    mfa_user(&c, &pool, "lou", "Passw0rd!x").await;
    let t = password_sign_in(&c, &client, "lou", "Passw0rd!x")
        .await
        .unwrap();
    let secret = enrol_totp(&c, t.access_token().unwrap()).await;
    let codes = [totp(&secret, -1), totp(&secret, 0), totp(&secret, 1)];
    let wrong = (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|w| !codes.contains(w))
        .unwrap();
    // Knowing the password does not buy fresh guesses: wrong codes lock the user out, and the
    // lock then refuses the password step too.
    let mut locked = false;
    for _ in 0..8 {
        let r = c
            .initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", "lou")
            .auth_parameters("PASSWORD", "Passw0rd!x")
            .send()
            .await;
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                assert_eq!(error_message(&e), "Password attempts exceeded");
                locked = true;
                break;
            }
        };
        let e = respond(
            &c,
            &client,
            ChallengeNameType::SoftwareTokenMfa,
            r.session.as_deref().unwrap(),
            &[("USERNAME", "lou"), ("SOFTWARE_TOKEN_MFA_CODE", &wrong)],
        )
        .await
        .unwrap_err();
        if e.contains("Password attempts exceeded") {
            locked = true;
            break;
        }
        assert!(e.starts_with("CodeMismatchException"), "{e}");
    }
    assert!(locked, "wrong MFA codes never locked the user out");
}

/// A TOTP code accepted on one node is refused on the other, and MFA settings changed on one
/// node are seen by the other at once (two nodes on one Postgres).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_totp_code_is_used_once_across_nodes() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let account = crate::harness::random_account();
    let node = |account: &str| {
        let mut o = Options::new(backend.clone());
        o.account_id = Some(account.to_string());
        o.extra_args = vec!["--public-url".into(), "https://idp.example.test".into()];
        o
    };
    let a = Server::start_with(node(&account)).await;
    let b = Server::start_with(node(&account)).await;
    let (ca, cb) = (a.client(), b.client());
    let pool = crate::sign_in::pool(&ca, false).await;
    ca.set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::Optional)
        .software_token_mfa_configuration(
            SoftwareTokenMfaConfigType::builder().enabled(true).build(),
        )
        .send()
        .await
        .unwrap();
    let (client, _) = app_client(&ca, &pool, false).await;
    crate::sign_in::user(&ca, &pool, "nodes", "Passw0rd!x", "nodes@example.com").await;
    let t = password_sign_in(&ca, &client, "nodes", "Passw0rd!x")
        .await
        .unwrap();
    let secret = enrol_totp(&ca, t.access_token().unwrap()).await;
    let code = totp(&secret, 1);
    let ra = initiate(&ca, &client, "nodes", "Passw0rd!x").await;
    let rb = initiate(&cb, &client, "nodes", "Passw0rd!x").await;
    respond(
        &ca,
        &client,
        ChallengeNameType::SoftwareTokenMfa,
        ra.session.as_deref().unwrap(),
        &[("USERNAME", "nodes"), ("SOFTWARE_TOKEN_MFA_CODE", &code)],
    )
    .await
    .unwrap();
    let e = respond(
        &cb,
        &client,
        ChallengeNameType::SoftwareTokenMfa,
        rb.session.as_deref().unwrap(),
        &[("USERNAME", "nodes"), ("SOFTWARE_TOKEN_MFA_CODE", &code)],
    )
    .await
    .unwrap_err();
    assert_eq!(
        e,
        "ExpiredCodeException: Your software token has already been used once."
    );

    // Settings are cached per node: a change on one node shows on the other at once.
    let access = t.access_token().unwrap();
    let before = cb.get_user().access_token(access).send().await.unwrap();
    assert_eq!(before.preferred_mfa_setting(), Some("SOFTWARE_TOKEN_MFA"));
    ca.set_user_mfa_preference()
        .access_token(access)
        .software_token_mfa_settings(
            SoftwareTokenMfaSettingsType::builder()
                .enabled(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let after = cb.get_user().access_token(access).send().await.unwrap();
    assert_eq!(after.preferred_mfa_setting(), None);
    assert!(after.user_mfa_setting_list().is_empty());
    let r = initiate(&cb, &client, "nodes", "Passw0rd!x").await;
    assert!(
        r.authentication_result.is_some(),
        "TOTP turned off: no challenge on node B"
    );
}
