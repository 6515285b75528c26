//! Remembered devices through the unmodified SDK: NewDeviceMetadata after an MFA sign-in, the
//! `device_key` claim, ConfirmDevice with a verifier made as amazon-cognito-identity-js makes it,
//! remembering, a second sign-in that skips MFA through device SRP, a wrong device signature,
//! device-bound refresh, listing with pages, and ForgetDevice ending the device's sign-ins.

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{
    AuthFlowType, ChallengeNameType, DeviceConfigurationType, DeviceRememberedStatusType,
    DeviceSecretVerifierConfigType, SmsMfaConfigType, UserPoolMfaType,
};

use crate::harness::{error_code, error_message, Backend, Server};
use crate::mfa::{mfa_user, now_s, respond, PHONE};
use crate::sign_in::{app_client, claims};

crate::backend_tests!(
    remembered_device_skips_mfa,
    device_operations_and_forgetting,
);

/// An OPTIONAL SMS pool that tracks devices and remembers them when the user says so.
async fn device_pool(c: &cognito::Client) -> String {
    let sms = crate::mfa::sms_config();
    let pool = c
        .create_user_pool()
        .pool_name("devices")
        .sms_configuration(sms.clone())
        .device_configuration(
            DeviceConfigurationType::builder()
                .challenge_required_on_new_device(true)
                .device_only_remembered_on_user_prompt(true)
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
        .mfa_configuration(UserPoolMfaType::Optional)
        .sms_mfa_configuration(
            SmsMfaConfigType::builder()
                .sms_configuration(sms)
                .sms_authentication_message("Code {####}")
                .build(),
        )
        .send()
        .await
        .unwrap();
    pool
}

async fn sms_user(c: &cognito::Client, pool: &str, name: &str) {
    mfa_user(c, pool, name, "Passw0rd!x").await;
    crate::mfa::prefer_sms(c, pool, name).await;
}

fn sms_count(server: &Server) -> usize {
    crate::self_service::count_delivered(server, "mfa:sms", PHONE)
}

/// A password sign-in answered with the SMS code: its tokens.
async fn sms_sign_in(
    server: &Server,
    c: &cognito::Client,
    client: &str,
    name: &str,
    device: Option<&str>,
) -> cognito::types::AuthenticationResultType {
    let before = sms_count(server);
    let mut r = c
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", name)
        .auth_parameters("PASSWORD", "Passw0rd!x");
    if let Some(d) = device {
        r = r.auth_parameters("DEVICE_KEY", d);
    }
    let r = r.send().await.unwrap();
    assert_eq!(r.challenge_name, Some(ChallengeNameType::SmsMfa));
    // This sign-in's own code.
    let code = crate::self_service::code_delivered_after(server, "mfa:sms", PHONE, before).await;
    respond(
        c,
        client,
        ChallengeNameType::SmsMfa,
        r.session.as_deref().unwrap(),
        &[("USERNAME", name), ("SMS_MFA_CODE", &code)],
    )
    .await
    .unwrap()
    .authentication_result
    .unwrap()
}

/// What the client keeps of a device: its keys and the secret only it knows.
struct DeviceSecret {
    key: String,
    group: String,
    password: String,
}

/// ConfirmDevice with a verifier computed as amazon-cognito-identity-js computes it.
async fn confirm(
    c: &cognito::Client,
    access: &str,
    meta: &cognito::types::NewDeviceMetadataType,
) -> (DeviceSecret, bool) {
    let secret = DeviceSecret {
        key: meta.device_key().unwrap().to_string(),
        group: meta.device_group_key().unwrap().to_string(),
        password: format!("device-secret-{}", now_s()),
    };
    let v = cognito_srp::Verifier::generate(&secret.group, &secret.key, &secret.password);
    let (verifier, salt) = v.to_device_config();
    let out = c
        .confirm_device()
        .access_token(access)
        .device_key(&secret.key)
        .device_name("laptop")
        .device_secret_verifier_config(
            DeviceSecretVerifierConfigType::builder()
                .password_verifier(verifier)
                .salt(salt)
                .build(),
        )
        .send()
        .await
        .unwrap();
    (secret, out.user_confirmation_necessary)
}

/// A password sign-in from a remembered device, answered through device SRP. `corrupt` signs
/// with the wrong device secret.
async fn device_sign_in(
    c: &cognito::Client,
    pool: &str,
    client: &str,
    name: &str,
    d: &DeviceSecret,
    corrupt: bool,
) -> Result<cognito::types::AuthenticationResultType, String> {
    let r = c
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", name)
        .auth_parameters("PASSWORD", "Passw0rd!x")
        .auth_parameters("DEVICE_KEY", &d.key)
        .send()
        .await
        .map_err(|e| format!("{}: {}", error_code(&e), error_message(&e)))?;
    assert_eq!(r.challenge_name, Some(ChallengeNameType::DeviceSrpAuth));
    let user_id = r.challenge_parameters().unwrap()["USERNAME"].clone();
    let srp = cognito_srp::client::ClientSession::new();
    let step = respond(
        c,
        client,
        ChallengeNameType::DeviceSrpAuth,
        r.session.as_deref().unwrap(),
        &[
            ("USERNAME", &user_id),
            ("DEVICE_KEY", &d.key),
            ("SRP_A", &srp.srp_a_hex()),
        ],
    )
    .await?;
    assert_eq!(
        step.challenge_name,
        Some(ChallengeNameType::DevicePasswordVerifier)
    );
    let p = step.challenge_parameters.clone().unwrap();
    let ts = cognito_srp::format_timestamp(now_s());
    let password = if corrupt {
        "not the secret"
    } else {
        &d.password
    };
    let signature = srp
        .sign_device(
            &d.group,
            &d.key,
            password,
            &p["SALT"],
            &p["SRP_B"],
            &p["SECRET_BLOCK"],
            cognito_srp::pool_name(pool),
            &ts,
        )
        .unwrap();
    let out = respond(
        c,
        client,
        ChallengeNameType::DevicePasswordVerifier,
        step.session.as_deref().unwrap(),
        &[
            ("USERNAME", &user_id),
            ("DEVICE_KEY", &d.key),
            ("PASSWORD_CLAIM_SECRET_BLOCK", &p["SECRET_BLOCK"]),
            ("PASSWORD_CLAIM_SIGNATURE", &signature),
            ("TIMESTAMP", &ts),
        ],
    )
    .await?;
    Ok(out.authentication_result.unwrap())
}

async fn refresh(
    c: &cognito::Client,
    client: &str,
    token: &str,
    device: Option<&str>,
) -> Result<String, String> {
    let mut r = c
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", token);
    if let Some(d) = device {
        r = r.auth_parameters("DEVICE_KEY", d);
    }
    r.send()
        .await
        .map(|o| {
            o.authentication_result
                .unwrap()
                .access_token
                .unwrap_or_default()
        })
        .map_err(|e| format!("{}: {}", error_code(&e), error_message(&e)))
}

async fn remembered_device_skips_mfa(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = device_pool(&c).await;
    let (client, _) = app_client(&c, &pool, false).await;
    sms_user(&c, &pool, "dora").await;

    let t = sms_sign_in(&server, &c, &client, "dora", None).await;
    let meta = t.new_device_metadata.clone().expect("NewDeviceMetadata");
    let key = meta.device_key().unwrap().to_string();
    assert!(key.starts_with("us-east-1_"), "{key}");
    let access = t.access_token().unwrap().to_string();
    assert_eq!(claims(&access)["device_key"], key.as_str());
    let (device, necessary) = confirm(&c, &access, &meta).await;
    assert!(necessary, "the pool remembers devices on the user's word");

    // Confirmed, not remembered: MFA still asked, and no new device offered.
    let again = sms_sign_in(&server, &c, &client, "dora", Some(&key)).await;
    assert!(again.new_device_metadata.is_none());
    c.update_device_status()
        .access_token(&access)
        .device_key(&key)
        .device_remembered_status(DeviceRememberedStatusType::Remembered)
        .send()
        .await
        .unwrap();

    // Remembered: device SRP instead of the SMS code.
    let sent = sms_count(&server);
    let e = device_sign_in(&c, &pool, &client, "dora", &device, true)
        .await
        .unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
    let t = device_sign_in(&c, &pool, &client, "dora", &device, false)
        .await
        .unwrap();
    assert_eq!(
        sms_count(&server),
        sent,
        "no SMS code for a remembered device"
    );
    assert!(t.new_device_metadata.is_none());
    assert_eq!(
        claims(t.access_token().unwrap())["device_key"],
        key.as_str()
    );

    // Refresh names the device.
    let rt = t.refresh_token().unwrap().to_string();
    let refreshed = refresh(&c, &client, &rt, Some(&key)).await.unwrap();
    assert_eq!(claims(&refreshed)["device_key"], key.as_str());
    assert_eq!(
        refresh(&c, &client, &rt, None).await.unwrap_err(),
        "NotAuthorizedException: Invalid Refresh Token"
    );
    let g = c
        .get_tokens_from_refresh_token()
        .client_id(&client)
        .refresh_token(&rt)
        .device_key(&key)
        .send()
        .await
        .unwrap();
    assert!(g.authentication_result.unwrap().access_token.is_some());

    // Forgotten: no more refresh, and a sign-in naming it is told the device is gone.
    c.forget_device()
        .access_token(&access)
        .device_key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        refresh(&c, &client, &rt, Some(&key)).await.unwrap_err(),
        "NotAuthorizedException: Invalid Refresh Token"
    );
    let e = c
        .initiate_auth()
        .client_id(&client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "dora")
        .auth_parameters("PASSWORD", "Passw0rd!x")
        .auth_parameters("DEVICE_KEY", &key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (error_code(&e), error_message(&e)),
        (
            "ResourceNotFoundException".into(),
            "Device does not exist.".into()
        )
    );
}

async fn device_operations_and_forgetting(backend: Backend) {
    let server = Server::start(backend).await;
    let c = server.client();
    let pool = device_pool(&c).await;
    let (client, _) = app_client(&c, &pool, false).await;
    sms_user(&c, &pool, "dave").await;
    let t1 = sms_sign_in(&server, &c, &client, "dave", None).await;
    let access = t1.access_token().unwrap().to_string();
    let (d1, _) = confirm(&c, &access, t1.new_device_metadata().unwrap()).await;
    let t2 = sms_sign_in(&server, &c, &client, "dave", None).await;
    let (d2, _) = confirm(&c, &access, t2.new_device_metadata().unwrap()).await;
    assert_ne!(d1.key, d2.key);

    // A key nobody issued, or one confirmed already, is refused.
    let e = c
        .confirm_device()
        .access_token(&access)
        .device_key(format!("us-east-1_{}", "0".repeat(36)))
        .device_secret_verifier_config(
            DeviceSecretVerifierConfigType::builder()
                .password_verifier("AQ==")
                .salt("AQ==")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (error_code(&e), error_message(&e)),
        (
            "InvalidParameterException".into(),
            "Invalid device key given.".into()
        )
    );

    // Not remembered yet: the user sees none, the administrator sees both.
    let mine = c.list_devices().access_token(&access).send().await.unwrap();
    assert!(mine.devices().is_empty());
    let all = c
        .admin_list_devices()
        .user_pool_id(&pool)
        .username("dave")
        .send()
        .await
        .unwrap();
    assert_eq!(all.devices().len(), 2);
    let e = c
        .get_device()
        .access_token(&access)
        .device_key(&d1.key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&e), "Device does not exist.");
    for d in [&d1, &d2] {
        c.admin_update_device_status()
            .user_pool_id(&pool)
            .username("dave")
            .device_key(&d.key)
            .device_remembered_status(DeviceRememberedStatusType::Remembered)
            .send()
            .await
            .unwrap();
    }
    let got = c
        .get_device()
        .access_token(&access)
        .device_key(&d1.key)
        .send()
        .await
        .unwrap()
        .device
        .unwrap();
    let attrs: std::collections::HashMap<_, _> = got
        .device_attributes()
        .iter()
        .map(|a| {
            (
                a.name().to_string(),
                a.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(attrs["device_name"], "laptop");
    assert_eq!(attrs["device_status"], "valid");
    assert_eq!(attrs["dev:device_remembered_status"], "remembered");
    assert!(got.device_create_date.is_some() && got.device_last_authenticated_date.is_some());

    // Pages of one.
    let first = c
        .list_devices()
        .access_token(&access)
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(first.devices().len(), 1);
    let token = first.pagination_token().expect("a second page").to_string();
    let second = c
        .list_devices()
        .access_token(&access)
        .limit(1)
        .pagination_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(second.devices().len(), 1);
    assert!(second.pagination_token().is_none());
    assert_ne!(
        first.devices()[0].device_key(),
        second.devices()[0].device_key()
    );

    // Forgetting through either form removes the device for good.
    c.admin_forget_device()
        .user_pool_id(&pool)
        .username("dave")
        .device_key(&d2.key)
        .send()
        .await
        .unwrap();
    let e = c
        .admin_get_device()
        .user_pool_id(&pool)
        .username("dave")
        .device_key(&d2.key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ResourceNotFoundException");
    let e = c
        .forget_device()
        .access_token(&access)
        .device_key(&d2.key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_message(&e), "Device does not exist.");
    // Another user's device is not this user's to see or forget.
    sms_user(&c, &pool, "eve").await;
    let te = sms_sign_in(&server, &c, &client, "eve", None).await;
    let e = c
        .forget_device()
        .access_token(te.access_token().unwrap())
        .device_key(&d1.key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ResourceNotFoundException");
    let still = c
        .admin_get_device()
        .user_pool_id(&pool)
        .username("dave")
        .device_key(&d1.key)
        .send()
        .await;
    assert!(still.is_ok(), "eve's attempt forgot nothing");
}
