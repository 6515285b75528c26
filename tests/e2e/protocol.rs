//! The AWS JSON 1.1 protocol and SigV4, proven with raw HTTP requests.

use std::time::{Duration, SystemTime};

use crate::harness::{Backend, Server, ADMIN_KEY_ID, ADMIN_SECRET};
use crate::raw::{post, send, target, Raw, Signing};

fn admin(time: SystemTime) -> Signing<'static> {
    Signing {
        key_id: ADMIN_KEY_ID,
        secret: ADMIN_SECRET,
        region: "us-east-1",
        service: "cognito-idp",
        time,
    }
}

async fn signed(server: &Server, op: &str, body: &str) -> Raw {
    let t = target(op);
    post(
        &server.base_url,
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", &t),
        ],
        body.as_bytes(),
        Some(admin(SystemTime::now())),
    )
    .await
}

fn assert_cognito_error(r: &Raw, status: u16, type_name: &str) {
    assert_eq!(r.status, status, "status for {type_name}: {}", r.text);
    assert_eq!(r.error_type(), type_name, "{}", r.text);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some(format!("{type_name}:").as_str())
    );
    assert!(r.header("x-amzn-requestid").is_some_and(|v| v.len() == 36));
    assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.1"));
    assert!(
        r.body.get("code").is_none(),
        "error bodies never carry `code`"
    );
}

#[tokio::test]
async fn unknown_and_missing_targets() {
    let server = Server::start(Backend::Sqlite).await;
    let r = signed(&server, "NoSuchOperation", "{}").await;
    assert_cognito_error(&r, 400, "UnknownOperationException");
    let r = post(
        &server.base_url,
        &[("content-type", "application/x-amz-json-1.1")],
        b"{}",
        None,
    )
    .await;
    assert_cognito_error(&r, 400, "UnknownOperationException");
    let r = post(
        &server.base_url,
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "SomeOtherService.ListUserPools"),
        ],
        b"{}",
        None,
    )
    .await;
    assert_cognito_error(&r, 400, "UnknownOperationException");
}

#[tokio::test]
async fn malformed_bodies_and_wrong_types() {
    let server = Server::start(Backend::Sqlite).await;
    let r = signed(&server, "ListUserPools", "{not json").await;
    assert_cognito_error(&r, 400, "SerializationException");
    let r = signed(&server, "ListUserPools", "[1,2]").await;
    assert_cognito_error(&r, 400, "SerializationException");
    let r = signed(&server, "ListUserPools", r#"{"MaxResults":"ten"}"#).await;
    assert_cognito_error(&r, 400, "SerializationException");
    let r = signed(&server, "CreateUserPool", r#"{"PoolName":{"nested":true}}"#).await;
    assert_cognito_error(&r, 400, "SerializationException");
    let r = signed(
        &server,
        "CreateUserPool",
        r#"{"PoolName":"p","AutoVerifiedAttributes":"email"}"#,
    )
    .await;
    assert_cognito_error(&r, 400, "SerializationException");
}

#[tokio::test]
async fn model_constraints_give_invalid_parameter() {
    let server = Server::start(Backend::Sqlite).await;
    let r = signed(&server, "ListUserPools", "{}").await;
    assert_cognito_error(&r, 400, "InvalidParameterException");
    assert_eq!(
        r.message(),
        "1 validation error detected: Value null at 'maxResults' failed to satisfy constraint: Member must not be null"
    );
    let r = signed(&server, "ListUserPools", r#"{"MaxResults":61}"#).await;
    assert_eq!(
        r.message(),
        "1 validation error detected: Value '61' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 60"
    );
    let r = signed(&server, "DescribeUserPool", r#"{"UserPoolId":"string"}"#).await;
    assert_cognito_error(&r, 400, "InvalidParameterException");
    assert_eq!(
        r.message(),
        "1 validation error detected: Value 'string' at 'userPoolId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+"
    );
    let long = "x".repeat(129);
    let r = signed(
        &server,
        "CreateUserPool",
        &format!(r#"{{"PoolName":"{long}","MfaConfiguration":"SOMETIMES"}}"#),
    )
    .await;
    assert_cognito_error(&r, 400, "InvalidParameterException");
    assert!(
        r.message().starts_with("2 validation errors detected: "),
        "{}",
        r.message()
    );
    assert!(r
        .message()
        .contains("Member must have length less than or equal to 128"));
    assert!(r.message().contains("at 'mfaConfiguration' failed to satisfy constraint: Member must satisfy enum value set: [OPTIONAL, OFF, ON]"));
    let r = signed(
        &server,
        "CreateUserPool",
        r#"{"PoolName":"p","Policies":{"PasswordPolicy":{"MinimumLength":5}}}"#,
    )
    .await;
    assert!(r.message().contains("at 'policies.passwordPolicy.minimumLength' failed to satisfy constraint: Member must have value greater than or equal to 6"), "{}", r.message());
}

#[tokio::test]
async fn signature_failures() {
    let server = Server::start(Backend::Sqlite).await;
    let t = target("ListUserPools");
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", t.as_str()),
    ];
    let body = br#"{"MaxResults":10}"#;

    // No Authorization header at all.
    let r = post(&server.base_url, &headers, body, None).await;
    assert_cognito_error(&r, 400, "MissingAuthenticationTokenException");

    // Malformed Authorization.
    let mut h: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    h.push(("authorization".into(), "AWS4-HMAC-SHA256 Credential".into()));
    h.push(("x-amz-date".into(), "20260101T000000Z".into()));
    let r = send(&server.base_url, &h, body).await;
    assert_cognito_error(&r, 400, "IncompleteSignatureException");
    let mut h2: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    h2.push((
        "authorization".into(),
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00".into(),
    ));
    let r = send(&server.base_url, &h2, body).await;
    assert_cognito_error(&r, 400, "IncompleteSignatureException");
    assert!(r
        .message()
        .contains("Authorization header requires 'Credential' parameter."));

    // Unknown access key.
    let r = post(
        &server.base_url,
        &headers,
        body,
        Some(Signing {
            key_id: "AKIDUNKNOWNKEY000000",
            ..admin(SystemTime::now())
        }),
    )
    .await;
    assert_cognito_error(&r, 400, "UnrecognizedClientException");
    assert_eq!(
        r.message(),
        "The security token included in the request is invalid."
    );

    // Wrong secret.
    let r = post(
        &server.base_url,
        &headers,
        body,
        Some(Signing {
            secret: "not-the-secret-at-all",
            ..admin(SystemTime::now())
        }),
    )
    .await;
    assert_cognito_error(&r, 400, "InvalidSignatureException");
    assert!(r
        .message()
        .starts_with("The request signature we calculated does not match"));

    // The same request correctly signed passes (tampering is covered by tampered_body_is_rejected).
    let r = post(
        &server.base_url,
        &headers,
        body,
        Some(admin(SystemTime::now())),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Expired and future signatures (over 5 minutes of skew).
    let r = post(
        &server.base_url,
        &headers,
        body,
        Some(admin(SystemTime::now() - Duration::from_secs(6 * 60))),
    )
    .await;
    assert_cognito_error(&r, 400, "InvalidSignatureException");
    assert!(
        r.message().starts_with("Signature expired: "),
        "{}",
        r.message()
    );
    assert!(r.message().ends_with(" - 5 min.)"));
    let r = post(
        &server.base_url,
        &headers,
        body,
        Some(admin(SystemTime::now() + Duration::from_secs(6 * 60))),
    )
    .await;
    assert_cognito_error(&r, 400, "InvalidSignatureException");
    assert!(
        r.message().starts_with("Signature not yet current: "),
        "{}",
        r.message()
    );
    // Within the window is fine.
    let r = post(
        &server.base_url,
        &headers,
        body,
        Some(admin(SystemTime::now() - Duration::from_secs(4 * 60))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Scoped to another service.
    let r = post(
        &server.base_url,
        &headers,
        body,
        Some(Signing {
            service: "s3",
            ..admin(SystemTime::now())
        }),
    )
    .await;
    assert_cognito_error(&r, 400, "InvalidSignatureException");
    assert!(r
        .message()
        .contains("Credential should be scoped to correct service: 'cognito-idp'"));
}

#[tokio::test]
async fn tampered_body_is_rejected() {
    let server = Server::start(Backend::Sqlite).await;
    let t = target("ListUserPools");
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", t.as_str()),
    ];
    // Sign one body, send another, with the signature headers the signer produced.
    let host = server.base_url.trim_start_matches("http://").to_string();
    let creds =
        aws_credential_types::Credentials::new(ADMIN_KEY_ID, ADMIN_SECRET, None, None, "raw");
    let identity = creds.into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("cognito-idp")
        .time(SystemTime::now())
        .settings(aws_sigv4::http_request::SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let mut all: Vec<(String, String)> = vec![("host".into(), host)];
    all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let signable = aws_sigv4::http_request::SignableRequest::new(
        "POST",
        format!("{}/", server.base_url),
        all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        aws_sigv4::http_request::SignableBody::Bytes(br#"{"MaxResults":10}"#),
    )
    .unwrap();
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .unwrap()
        .into_parts();
    for (k, v) in instructions.headers() {
        all.push((k.to_string(), v.to_string()));
    }
    let r = send(&server.base_url, &all, br#"{"MaxResults":11}"#).await;
    assert_cognito_error(&r, 400, "InvalidSignatureException");
    let r = send(&server.base_url, &all, br#"{"MaxResults":10}"#).await;
    assert_eq!(r.status, 200, "the untampered request verifies: {}", r.text);
}

#[tokio::test]
async fn access_policies_limit_actions_and_resources() {
    let account = crate::harness::random_account();
    let toml = format!(
        r#"
account_id = "{account}"
[[access_keys]]
id = "{ADMIN_KEY_ID}"
secret = "{ADMIN_SECRET}"

[[access_keys]]
id = "{limited}"
secret = "{limited_secret}"
name = "reader"
[[access_keys.allow]]
actions = ["cognito-idp:Describe*", "cognito-idp:GetUserPoolMfaConfig"]
resources = ["arn:aws:cognito-idp:us-east-1:{account}:userpool/*"]
"#,
        limited = crate::harness::LIMITED_KEY_ID,
        limited_secret = crate::harness::LIMITED_SECRET,
    );
    let mut opts = crate::harness::Options::new(Backend::Sqlite);
    opts.config_toml = Some(toml);
    opts.account_id = Some(account.clone());
    let server = Server::start_with(opts).await;
    let admin = server.client();
    let reader = server.client_for(
        "us-east-1",
        crate::harness::LIMITED_KEY_ID,
        crate::harness::LIMITED_SECRET,
    );
    let id = admin
        .create_user_pool()
        .pool_name("p")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    reader
        .describe_user_pool()
        .user_pool_id(&id)
        .send()
        .await
        .expect("Describe* on the pool is allowed");
    let err = reader
        .list_user_pools()
        .max_results(10)
        .send()
        .await
        .unwrap_err();
    assert_eq!(crate::harness::error_code(&err), "AccessDeniedException");
    assert_eq!(
        crate::harness::error_message(&err),
        format!("User: arn:aws:iam::{account}:user/reader is not authorized to perform: cognito-idp:ListUserPools on resource: * because no identity-based policy allows the cognito-idp:ListUserPools action")
    );
    let err = reader
        .delete_user_pool()
        .user_pool_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(crate::harness::error_code(&err), "AccessDeniedException");
    admin
        .describe_user_pool()
        .user_pool_id(&id)
        .send()
        .await
        .expect("the pool was not deleted");
    let eu = server.client_for(
        "eu-west-1",
        crate::harness::LIMITED_KEY_ID,
        crate::harness::LIMITED_SECRET,
    );
    let err = eu
        .describe_user_pool()
        .user_pool_id("eu-west-1_abc")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        crate::harness::error_code(&err),
        "AccessDeniedException",
        "resource ARNs of another region are not covered"
    );
}

#[tokio::test]
async fn unsigned_operations_need_no_credentials() {
    let server = Server::start(Backend::Sqlite).await;
    // An unsigned operation with a bearer header (as pycognito sends) is not treated as SigV4.
    let t = target("GetUser");
    let r = post(
        &server.base_url,
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", &t),
            ("authorization", "Bearer abc"),
        ],
        br#"{"AccessToken":"abc"}"#,
        None,
    )
    .await;
    assert_ne!(r.error_type(), "MissingAuthenticationTokenException");
    assert_ne!(r.error_type(), "IncompleteSignatureException");
    assert!(r.status < 500, "{}", r.text);
}

#[tokio::test]
async fn cors_health_and_ready() {
    let server = Server::start(Backend::Sqlite).await;
    let http = reqwest::Client::new();
    let pre = http
        .request(reqwest::Method::OPTIONS, format!("{}/", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 200);
    assert_eq!(pre.headers()["access-control-allow-origin"], "*");
    let h = http
        .get(format!("{}/health", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 200);
    let r = http
        .get(format!("{}/ready", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ok = signed(&server, "ListUserPools", r#"{"MaxResults":1}"#).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("access-control-allow-origin"), Some("*"));
    assert!(ok.header("x-amzn-requestid").is_some());
    assert_eq!(ok.body["UserPools"], serde_json::json!([]));
}

/// The last two signature-related failures, as raw HTTP: a key whose allow list does not cover the
/// call, and a credential scope in a region the server does not accept.
#[tokio::test]
async fn not_allowed_and_region_not_accepted_over_raw_http() {
    let account = crate::harness::random_account();
    let toml = format!(
        r#"
account_id = "{account}"
regions = ["us-east-1"]
[[access_keys]]
id = "{limited}"
secret = "{limited_secret}"
name = "reader"
[[access_keys.allow]]
actions = ["cognito-idp:Describe*"]
resources = ["*"]
"#,
        limited = crate::harness::LIMITED_KEY_ID,
        limited_secret = crate::harness::LIMITED_SECRET,
    );
    let mut opts = crate::harness::Options::new(Backend::Sqlite);
    opts.config_toml = Some(toml);
    opts.account_id = Some(account.clone());
    let server = Server::start_with(opts).await;
    let t = target("ListUserPools");
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", t.as_str()),
    ];
    let reader = |region: &'static str| Signing {
        key_id: crate::harness::LIMITED_KEY_ID,
        secret: crate::harness::LIMITED_SECRET,
        region,
        service: "cognito-idp",
        time: SystemTime::now(),
    };
    let r = post(
        &server.base_url,
        &headers,
        br#"{"MaxResults":10}"#,
        Some(reader("us-east-1")),
    )
    .await;
    assert_cognito_error(&r, 400, "AccessDeniedException");
    assert_eq!(
        r.message(),
        format!("User: arn:aws:iam::{account}:user/reader is not authorized to perform: cognito-idp:ListUserPools on resource: * because no identity-based policy allows the cognito-idp:ListUserPools action")
    );
    let r = post(
        &server.base_url,
        &headers,
        br#"{"MaxResults":10}"#,
        Some(reader("ap-south-1")),
    )
    .await;
    assert_cognito_error(&r, 400, "InvalidSignatureException");
    assert!(
        r.message()
            .contains("Credential should be scoped to a valid region"),
        "{}",
        r.message()
    );
}
