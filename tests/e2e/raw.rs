//! A raw HTTP client for protocol tests: sends exactly the bytes and headers a test wants,
//! optionally SigV4-signed with the AWS SDK's own signer.

use std::time::SystemTime;

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::Value;

pub struct Raw {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Raw {
    pub fn error_type(&self) -> &str {
        self.body
            .get("__type")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.body
            .get("message")
            .or_else(|| self.body.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct Signing<'a> {
    pub key_id: &'a str,
    pub secret: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    pub time: SystemTime,
}

pub fn target(op: &str) -> String {
    format!("AWSCognitoIdentityProviderService.{op}")
}

/// Signs (when asked) and sends `POST /`.
pub async fn post(
    base_url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    signing: Option<Signing<'_>>,
) -> Raw {
    let host = base_url.trim_start_matches("http://");
    let mut all: Vec<(String, String)> = vec![("host".into(), host.into())];
    all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    if let Some(s) = signing {
        let creds = aws_credential_types::Credentials::new(s.key_id, s.secret, None, None, "raw");
        let identity = creds.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(s.region)
            .name(s.service)
            .time(s.time)
            .settings(SigningSettings::default())
            .build()
            .expect("signing params")
            .into();
        let signable = SignableRequest::new(
            "POST",
            format!("{base_url}/"),
            all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        for (k, v) in instructions.headers() {
            all.push((k.to_string(), v.to_string()));
        }
    }
    send(base_url, &all, body).await
}

pub async fn send(base_url: &str, headers: &[(String, String)], body: &[u8]) -> Raw {
    let client = reqwest::Client::new();
    let mut req = client.post(format!("{base_url}/")).body(body.to_vec());
    for (k, v) in headers {
        if k != "host" {
            req = req.header(k.as_str(), v.as_str());
        }
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Raw {
        status,
        headers,
        body,
        text,
    }
}
