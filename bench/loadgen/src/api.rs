//! The few unsigned Cognito JSON calls the load generator makes.

use serde_json::{json, Value};

pub struct Api {
    http: reqwest::Client,
    endpoint: String,
}

/// A call's outcome: the JSON answer, or Cognito's error type and message.
pub type Answer = Result<Value, String>;

impl Api {
    pub fn new(endpoint: &str, connections: usize) -> Result<Api, String> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Api {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string() + "/",
        })
    }

    pub async fn call(&self, operation: &str, body: &Value) -> Answer {
        let resp = self
            .http
            .post(&self.endpoint)
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "X-Amz-Target",
                format!("AWSCognitoIdentityProviderService.{operation}"),
            )
            .json(body)
            .send()
            .await
            .map_err(|e| format!("transport: {e}"))?;
        let status = resp.status();
        let v: Value = resp.json().await.map_err(|e| format!("body: {e}"))?;
        if status.is_success() {
            Ok(v)
        } else {
            Err(format!(
                "{} {}: {}",
                status.as_u16(),
                v["__type"].as_str().unwrap_or("?"),
                v["message"].as_str().unwrap_or("")
            ))
        }
    }

    pub async fn password_sign_in(&self, client_id: &str, user: &str, pw: &str) -> Answer {
        self.call(
            "InitiateAuth",
            &json!({
                "AuthFlow": "USER_PASSWORD_AUTH",
                "ClientId": client_id,
                "AuthParameters": {"USERNAME": user, "PASSWORD": pw},
            }),
        )
        .await
    }
}
