//! Trigger delivery as webhooks: each LambdaConfig ARN resolves to an endpoint the operator
//! configured (an exact ARN, or a pattern with `*`), and the event is POSTed to it as JSON,
//! signed, over pooled connections. The answer's body is the returned event, as a Lambda's
//! return value is (docs/triggers.md).
//!
//! Signature: `X-Gatehouse-Timestamp: <unix seconds>` and `X-Gatehouse-Signature: v1=<hex>`,
//! the HMAC-SHA256 under the endpoint's secret of `<timestamp>.<body>`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use domain::ports::{InvokeError, TriggerInvoker};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

/// Cognito's limit for a synchronous trigger, and its attempts after a timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
pub const ATTEMPTS: usize = 3;

/// One configured endpoint (`[[triggers]]` in the configuration file).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// The exact function ARN this endpoint serves ...
    #[serde(default)]
    pub arn: Option<String>,
    /// ... or a pattern of ARNs, `*` matching any run of characters.
    #[serde(default)]
    pub arn_pattern: Option<String>,
    /// Where events go; `{function}` is replaced by the function's name from the ARN.
    pub url: String,
    /// The HMAC-SHA256 key of the signature.
    pub secret: String,
    /// Per attempt; Cognito's 5 seconds when absent.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("arn", &self.arn)
            .field("arn_pattern", &self.arn_pattern)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl Endpoint {
    /// Exact ARNs match first, then patterns (see [`WebhookInvoker::endpoint`]).
    fn matches(&self, arn: &str) -> Option<bool> {
        if self.arn.as_deref() == Some(arn) {
            return Some(true);
        }
        self.arn_pattern
            .as_deref()
            .filter(|p| glob(p, arn))
            .map(|_| false)
    }

    /// Checks what a configuration must say.
    pub fn validate(&self) -> Result<(), String> {
        if self.arn.is_none() == self.arn_pattern.is_none() {
            return Err("a trigger endpoint needs exactly one of arn and arn_pattern".into());
        }
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(format!(
                "trigger endpoint url must be http:// or https://: {}",
                self.url
            ));
        }
        if self.secret.len() < 16 {
            return Err("a trigger endpoint's secret needs at least 16 characters".into());
        }
        Ok(())
    }
}

/// `*` matches any run of characters (empty included); everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// The function's name in `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`.
fn function_name(arn: &str) -> &str {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) if i + 1 < parts.len() => parts[i + 1],
        _ => arn.rsplit(':').next().unwrap_or(arn),
    }
}

/// The signature header's value for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

pub struct WebhookInvoker {
    endpoints: Vec<Endpoint>,
    /// One client: its connections are pooled and reused across invocations.
    client: reqwest::Client,
}

impl WebhookInvoker {
    pub fn new(endpoints: Vec<Endpoint>) -> Result<Self, String> {
        for e in &endpoints {
            e.validate()?;
        }
        let client = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            // Requests go only where the configuration says: no redirects followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the trigger client: {e}"))?;
        Ok(WebhookInvoker { endpoints, client })
    }

    /// The endpoint for `arn`: an exact ARN before any pattern, the first that matches.
    fn endpoint(&self, arn: &str) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.matches(arn) == Some(true))
            .or_else(|| {
                self.endpoints
                    .iter()
                    .find(|e| e.matches(arn) == Some(false))
            })
    }
}

/// The message a failed function's answer carries: Lambda's `errorMessage`, else the text.
fn error_message(status: u16, body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if let Some(m) = v.get("errorMessage").and_then(Value::as_str) {
            return m.to_string();
        }
    }
    let text = String::from_utf8_lossy(body).trim().to_string();
    if text.is_empty() {
        format!("HTTP {status}")
    } else {
        text
    }
}

#[async_trait::async_trait]
impl TriggerInvoker for WebhookInvoker {
    fn resolves(&self, arn: &str) -> bool {
        self.endpoint(arn).is_some()
    }

    async fn invoke(&self, arn: &str, event: &Value) -> Result<Value, InvokeError> {
        let Some(endpoint) = self.endpoint(arn) else {
            return Err(InvokeError::Unresolved);
        };
        let url = endpoint.url.replace("{function}", function_name(arn));
        let body = serde_json::to_vec(event).map_err(|_| InvokeError::Unrecognizable)?;
        let timeout = endpoint
            .timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_TIMEOUT);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let ts = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let sent = self
                .client
                .post(&url)
                .timeout(timeout)
                .header("content-type", "application/json")
                .header("x-gatehouse-timestamp", ts.to_string())
                .header(
                    "x-gatehouse-signature",
                    signature(&endpoint.secret, ts, &body),
                )
                .header("x-gatehouse-trigger-arn", arn)
                .body(body.clone())
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    // Only what the function never answered is retried, as Cognito retries.
                    last = if e.is_timeout() {
                        "Socket timeout while invoking Lambda function".into()
                    } else {
                        "Connection failure while invoking Lambda function".into()
                    };
                    tracing::warn!(arn, attempt, error = %last, "trigger endpoint did not answer");
                    continue;
                }
            };
            let status = resp.status().as_u16();
            let bytes = match resp.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    last = if e.is_timeout() {
                        "Socket timeout while invoking Lambda function".into()
                    } else {
                        "Connection failure while invoking Lambda function".into()
                    };
                    continue;
                }
            };
            if !(200..300).contains(&status) {
                return Err(InvokeError::Function(error_message(status, &bytes)));
            }
            return match serde_json::from_slice::<Value>(&bytes) {
                Ok(v @ Value::Object(_)) => Ok(v),
                _ => Err(InvokeError::Unrecognizable),
            };
        }
        Err(InvokeError::Unreachable(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(arn: Option<&str>, pattern: Option<&str>, url: &str) -> Endpoint {
        Endpoint {
            arn: arn.map(str::to_string),
            arn_pattern: pattern.map(str::to_string),
            url: url.into(),
            secret: "0123456789abcdef".into(),
            timeout_ms: None,
        }
    }

    #[test]
    fn exact_arns_win_over_patterns() {
        let exact = "arn:aws:lambda:us-east-1:111122223333:function:pre";
        let inv = WebhookInvoker::new(vec![
            endpoint(
                None,
                Some("arn:aws:lambda:*:*:function:*"),
                "http://a/{function}",
            ),
            endpoint(Some(exact), None, "http://b/"),
        ])
        .unwrap();
        assert_eq!(inv.endpoint(exact).unwrap().url, "http://b/");
        assert_eq!(
            inv.endpoint("arn:aws:lambda:eu-west-1:1:function:other")
                .unwrap()
                .url,
            "http://a/{function}"
        );
        assert!(!inv.resolves("arn:aws:sns:us-east-1:1:topic"));
        assert_eq!(function_name(exact), "pre");
        assert_eq!(function_name("arn:aws:lambda:r:1:function:f:live"), "f");
    }

    #[test]
    fn globs() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxc"));
        assert!(!glob("abc", "abcd"));
        assert!(!glob("a*a", "a"));
    }

    #[test]
    fn the_signature_covers_the_timestamp_and_the_body() {
        let s = signature("0123456789abcdef", 1_700_000_000, b"{}");
        assert!(s.starts_with("v1=") && s.len() == 67);
        assert_ne!(s, signature("0123456789abcdef", 1_700_000_001, b"{}"));
        assert_ne!(s, signature("0123456789abcdef", 1_700_000_000, b"{ }"));
    }

    #[test]
    fn configurations_are_checked_and_secrets_never_printed() {
        assert!(endpoint(None, None, "http://x").validate().is_err());
        assert!(endpoint(Some("a"), Some("b"), "http://x")
            .validate()
            .is_err());
        assert!(endpoint(Some("a"), None, "ftp://x").validate().is_err());
        let e = endpoint(Some("a"), None, "http://x");
        assert!(!format!("{e:?}").contains("0123456789abcdef"));
    }
}
