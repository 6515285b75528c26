//! The wire-level findings of the security review (#13), each replayed as the attack it describes
//! and shown to fail now: M1 (authorising a member the operation ignores), L3 (a signature that
//! does not cover the target), L5 (sensitive values echoed in validation errors), L6 (slow and
//! oversized bodies) and the unchecked credential-scope region.

use std::time::{Duration, Instant, SystemTime};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{
    error_code, random_account, Backend, Options, Server, ADMIN_KEY_ID, ADMIN_SECRET,
    LIMITED_KEY_ID, LIMITED_SECRET,
};
use crate::raw::{post, send, target, Raw, Signing};

const JSON: &str = "application/x-amz-json-1.1";

fn signing<'a>(key_id: &'a str, secret: &'a str, region: &'a str) -> Signing<'a> {
    Signing {
        key_id,
        secret,
        region,
        service: "cognito-idp",
        time: SystemTime::now(),
    }
}

/// `op` with `body`, signed over every header (as the SDKs sign) by the given key and region.
async fn signed_as(server: &Server, who: Signing<'_>, op: &str, body: &Value) -> Raw {
    let t = target(op);
    post(
        &server.base_url,
        &[("content-type", JSON), ("x-amz-target", &t)],
        body.to_string().as_bytes(),
        Some(who),
    )
    .await
}

fn assert_error(r: &Raw, type_name: &str) {
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.error_type(), type_name, "{}", r.text);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some(format!("{type_name}:").as_str())
    );
}

// ---------------------------------------------------------------------------------------------
// M1: the authorised resource comes from the operation's modelled input only.

/// Tenant A's key may do anything, but only on pools whose id is in us-east-1 (in any ARN
/// region): pool A is one, pool B (eu-west-1) is not. Before the fix, a `UserPoolId` naming an
/// allowed pool, added to a call whose input has no such member, was authorised instead of the
/// resource the call really acts on.
async fn authorisation_ignores_unmodelled_members(backend: Backend) {
    let account = random_account();
    let toml = format!(
        r#"
account_id = "{account}"
[[access_keys]]
id = "{ADMIN_KEY_ID}"
secret = "{ADMIN_SECRET}"

[[access_keys]]
id = "{LIMITED_KEY_ID}"
secret = "{LIMITED_SECRET}"
name = "tenant-a"
[[access_keys.allow]]
actions = ["cognito-idp:*"]
resources = ["arn:aws:cognito-idp:*:{account}:userpool/us-east-1_*"]
"#
    );
    let mut opts = Options::new(backend);
    opts.config_toml = Some(toml);
    opts.account_id = Some(account.clone());
    let server = Server::start_with(opts).await;
    let admin_us = server.client();
    let admin_eu = server.client_for("eu-west-1", ADMIN_KEY_ID, ADMIN_SECRET);
    let pool_a = admin_us
        .create_user_pool()
        .pool_name("tenant-a-pool")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let pool_b = admin_eu
        .create_user_pool()
        .pool_name("tenant-b-secret-name")
        .user_pool_tags("owner", "tenant-b")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let arn_a = server.pool_arn("us-east-1", &pool_a);
    let arn_b = server.pool_arn("eu-west-1", &pool_b);
    let tenant_us = || signing(LIMITED_KEY_ID, LIMITED_SECRET, "us-east-1");
    let tenant_eu = || signing(LIMITED_KEY_ID, LIMITED_SECRET, "eu-west-1");
    let denied = |r: &Raw, op: &str, resource: &str| {
        assert_error(r, "AccessDeniedException");
        assert_eq!(
            r.message(),
            format!("User: arn:aws:iam::{account}:user/tenant-a is not authorized to perform: cognito-idp:{op} on resource: {resource} because no identity-based policy allows the cognito-idp:{op} action")
        );
    };

    // The legitimate calls on pool A work.
    let r = signed_as(
        &server,
        tenant_us(),
        "TagResource",
        &json!({"ResourceArn": arn_a, "Tags": {"team": "a"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = signed_as(
        &server,
        tenant_us(),
        "ListTagsForResource",
        &json!({"ResourceArn": arn_a}),
    )
    .await;
    assert_eq!(r.body["Tags"], json!({"team": "a"}), "{}", r.text);
    let r = signed_as(
        &server,
        tenant_us(),
        "UntagResource",
        &json!({"ResourceArn": arn_a, "TagKeys": ["team"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = signed_as(
        &server,
        tenant_us(),
        "DescribeUserPool",
        &json!({"UserPoolId": pool_a}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // The attack: pool B's ARN, with pool A's id injected where the operation declares no such
    // member (and in the scope's region, so the injected pool's ARN would match the policy).
    let injected = pool_a.clone();
    let r = signed_as(
        &server,
        tenant_eu(),
        "TagResource",
        &json!({"ResourceArn": arn_b, "Tags": {"pwned": "by-tenant-a"}, "UserPoolId": injected}),
    )
    .await;
    denied(&r, "TagResource", &arn_b);
    let r = signed_as(
        &server,
        tenant_eu(),
        "UntagResource",
        &json!({"ResourceArn": arn_b, "TagKeys": ["owner"], "UserPoolId": injected}),
    )
    .await;
    denied(&r, "UntagResource", &arn_b);
    let r = signed_as(
        &server,
        tenant_eu(),
        "ListTagsForResource",
        &json!({"ResourceArn": arn_b, "UserPoolId": injected}),
    )
    .await;
    denied(&r, "ListTagsForResource", &arn_b);
    assert!(!r.text.contains("tenant-b"), "{}", r.text);
    let r = signed_as(
        &server,
        tenant_eu(),
        "ListUserPools",
        &json!({"MaxResults": 60, "UserPoolId": injected}),
    )
    .await;
    denied(&r, "ListUserPools", "*");
    assert!(!r.text.contains("tenant-b-secret-name"), "{}", r.text);
    let r = signed_as(
        &server,
        tenant_eu(),
        "CreateUserPool",
        &json!({"PoolName": "squatter", "UserPoolId": injected}),
    )
    .await;
    denied(&r, "CreateUserPool", "*");

    // Pool B is as its owner left it, and no pool was created.
    let tags = admin_eu
        .list_tags_for_resource()
        .resource_arn(&arn_b)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default();
    assert_eq!(tags.len(), 1, "{tags:?}");
    assert_eq!(tags.get("owner").map(String::as_str), Some("tenant-b"));
    let pools = admin_eu
        .list_user_pools()
        .max_results(60)
        .send()
        .await
        .unwrap()
        .user_pools
        .unwrap_or_default();
    let names: Vec<_> = pools.iter().filter_map(|p| p.name()).collect();
    assert_eq!(names, vec!["tenant-b-secret-name"]);
}

// ---------------------------------------------------------------------------------------------
// L3: X-Amz-Target, Content-Type and X-Amz-Date must be signed.

/// Signs `body` over `host` plus `signed` (and the signer's own x-amz-date), as a client that
/// leaves other headers out of the signature would, and returns the headers to send.
fn sign_over(server: &Server, signed: &[(&str, &str)], body: &[u8]) -> Vec<(String, String)> {
    let host = server.base_url.trim_start_matches("http://").to_string();
    let mut headers = vec![("host".to_string(), host)];
    headers.extend(signed.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let creds = aws_credential_types::Credentials::new(ADMIN_KEY_ID, ADMIN_SECRET, None, None, "t");
    let identity = creds.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("cognito-idp")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "POST",
        format!("{}/", server.base_url),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    for (k, v) in instructions.headers() {
        headers.push((k.to_string(), v.to_string()));
    }
    headers
}

fn signed_headers_of(headers: &[(String, String)]) -> &str {
    let auth = &headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .unwrap()
        .1;
    let from = auth.find("SignedHeaders=").unwrap() + "SignedHeaders=".len();
    auth[from..].split(',').next().unwrap()
}

async fn unsigned_target_cannot_be_replayed(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.client();
    let pool = admin
        .create_user_pool()
        .pool_name("keep-me")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let body = json!({"UserPoolId": pool}).to_string();

    // The review's replay: a signature over host;x-amz-date, captured from a DescribeUserPool and
    // resent as DeleteUserPool. Neither target is accepted with it.
    let captured = sign_over(&server, &[], body.as_bytes());
    assert_eq!(signed_headers_of(&captured), "host;x-amz-date");
    for op in ["DescribeUserPool", "DeleteUserPool"] {
        let mut h = captured.clone();
        h.push(("content-type".into(), JSON.into()));
        h.push(("x-amz-target".into(), target(op)));
        let r = send(&server.base_url, &h, body.as_bytes()).await;
        assert_error(&r, "InvalidSignatureException");
        assert_eq!(
            r.message(),
            "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.",
            "{op}"
        );
    }

    // The target signed but the content type added afterwards is refused too.
    let describe = target("DescribeUserPool");
    let mut h = sign_over(&server, &[("x-amz-target", &describe)], body.as_bytes());
    assert_eq!(signed_headers_of(&h), "host;x-amz-date;x-amz-target");
    h.push(("content-type".into(), JSON.into()));
    let r = send(&server.base_url, &h, body.as_bytes()).await;
    assert_error(&r, "InvalidSignatureException");
    assert_eq!(
        r.message(),
        "'Content-Type' must be a 'SignedHeader' in the AWS Authorization."
    );
    // A header that is not sent needs no signature: the same request without a content type.
    h.pop();
    let r = send(&server.base_url, &h, body.as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // The pool survived, and a normal SDK call (which signs every header) still works.
    let described = admin
        .describe_user_pool()
        .user_pool_id(&pool)
        .send()
        .await
        .expect("the pool was not deleted");
    assert_eq!(described.user_pool.unwrap().name(), Some("keep-me"));
}

// ---------------------------------------------------------------------------------------------
// L5: sensitive map values are never echoed.

async fn sensitive_values_are_not_echoed(backend: Backend) {
    let server = Server::start(backend).await;
    let secret = format!("TOPSECRET-{}", "x".repeat(131_072));
    let cases = [
        (
            "InitiateAuth",
            json!({"ClientId": "abc", "AuthFlow": "USER_PASSWORD_AUTH",
                   "AuthParameters": {"USERNAME": "alice", "PASSWORD": secret}}),
            "authParameters",
        ),
        (
            "RespondToAuthChallenge",
            json!({"ClientId": "abc", "ChallengeName": "NEW_PASSWORD_REQUIRED",
                   "ChallengeResponses": {"USERNAME": "alice", "NEW_PASSWORD": secret}}),
            "challengeResponses",
        ),
    ];
    for (op, body, member) in cases {
        let t = target(op);
        let r = post(
            &server.base_url,
            &[("content-type", JSON), ("x-amz-target", &t)],
            body.to_string().as_bytes(),
            None,
        )
        .await;
        assert_error(&r, "InvalidParameterException");
        let expected = format!("1 validation error detected: Value at '{member}' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 131072]");
        assert_eq!(r.message(), expected, "{op}");
        assert_eq!(r.header("x-amzn-errormessage"), Some(expected.as_str()));
        assert!(!r.text.contains("TOPSECRET"), "{op} body echoes the value");
        for (name, value) in r.headers.iter() {
            assert!(
                !value.as_bytes().windows(9).any(|w| w == b"TOPSECRET"),
                "{op}: header {name} echoes the value"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// L6: a body-read deadline, and oversized bodies refused before they are read.

const HEADERS_ONLY: &str = "POST / HTTP/1.1\r\nHost: gatehouse\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: AWSCognitoIdentityProviderService.InitiateAuth\r\n";

fn addr(server: &Server) -> String {
    server.base_url.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (or resets it), at most `limit`; also returns
/// how long the first bytes of an answer took.
async fn read_until_closed(
    stream: &mut tokio::net::tcp::OwnedReadHalf,
    limit: Duration,
) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut first = None;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    first.get_or_insert(started.elapsed());
                    got.extend_from_slice(&buf[..n]);
                }
            }
        }
    })
    .await;
    (String::from_utf8_lossy(&got).into_owned(), first)
}

async fn slow_and_oversized_bodies_are_cut_off(backend: Backend) {
    let mut opts = Options::new(backend);
    opts.env
        .push(("GATEHOUSE_BODY_READ_TIMEOUT_MS".into(), "1000".into()));
    let server = Server::start_with(opts).await;
    let admin = server.client();

    // A slow sender: 100 KB declared, one byte every 100 ms.
    let stream = TcpStream::connect(addr(&server)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(format!("{HEADERS_ONLY}Content-Length: 100000\r\n\r\n{{").as_bytes())
        .await
        .unwrap();
    let started = Instant::now();
    let drip = tokio::spawn(async move {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(b" ").await.is_err() {
                break;
            }
        }
    });
    // Other clients are served meanwhile.
    let t = Instant::now();
    admin.list_user_pools().max_results(1).send().await.unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    let (answer, _) = read_until_closed(&mut reader, Duration::from_secs(8)).await;
    let took = started.elapsed();
    drip.abort();
    assert!(
        took < Duration::from_secs(4),
        "the slow sender was still connected after {took:?}"
    );
    assert!(
        took >= Duration::from_millis(900),
        "cut off early: {took:?}"
    );
    if !answer.is_empty() {
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains("SerializationException"), "{answer}");
        assert!(
            answer.contains("Timed out reading the request body"),
            "{answer}"
        );
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
    }

    // A declared length above 1 MiB is answered at once, without sending the body.
    let stream = TcpStream::connect(addr(&server)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(format!("{HEADERS_ONLY}Content-Length: 2000000\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // (actix then waits up to its client_disconnect_timeout, 1 s, for the client to hang up.)
    let (answer, first) = read_until_closed(&mut reader, Duration::from_secs(5)).await;
    assert!(
        first.is_some_and(|t| t < Duration::from_millis(500)),
        "{first:?}"
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("\"__type\":\"SerializationException\""),
        "{answer}"
    );
    assert!(answer.contains("Request body too large"), "{answer}");
    drop(writer);

    // A legitimate request near the largest real size is still served.
    let big = json!({"ClientId": "abc", "AuthFlow": "USER_PASSWORD_AUTH",
                     "AuthParameters": {"USERNAME": "alice", "PASSWORD": "p".repeat(131_000)}});
    let t = target("InitiateAuth");
    let r = post(
        &server.base_url,
        &[("content-type", JSON), ("x-amz-target", &t)],
        big.to_string().as_bytes(),
        None,
    )
    .await;
    assert_ne!(r.error_type(), "SerializationException", "{}", r.text);
    assert!(r.status == 400 && !r.error_type().is_empty(), "{}", r.text);
    let err = admin
        .describe_user_pool()
        .user_pool_id("us-east-1_nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
}

// ---------------------------------------------------------------------------------------------
// The credential scope's region must be well formed even when any region is accepted.

async fn scope_region_format_is_checked(backend: Backend) {
    let server = Server::start(backend).await;
    for bad in ["us_east_1", "US-EAST-1"] {
        let r = signed_as(
            &server,
            signing(ADMIN_KEY_ID, ADMIN_SECRET, bad),
            "CreateUserPool",
            &json!({"PoolName": "odd-region"}),
        )
        .await;
        assert_error(&r, "InvalidSignatureException");
        assert_eq!(
            r.message(),
            format!("Credential should be scoped to a valid region, not '{bad}'. ")
        );
    }
    // A well-formed region not configured anywhere is still accepted (regions = []).
    let r = signed_as(
        &server,
        signing(ADMIN_KEY_ID, ADMIN_SECRET, "ap-southeast-4"),
        "CreateUserPool",
        &json!({"PoolName": "fine"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["UserPool"]["Id"].as_str().unwrap_or_default();
    assert!(id.starts_with("ap-southeast-4_"), "{id}");
}

crate::backend_tests!(
    authorisation_ignores_unmodelled_members,
    unsigned_target_cannot_be_replayed,
    sensitive_values_are_not_echoed,
    slow_and_oversized_bodies_are_cut_off,
    scope_region_format_is_checked,
);
