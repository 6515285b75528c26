//! Operation dispatch: a validated input becomes a typed request, the service answers, the typed
//! output becomes the JSON body. Every operation of the model is routed; those not built yet answer
//! `UnsupportedOperationException` naming the operation. Each Cognito resource has its routes in
//! `crate::routes::<resource>`.

use std::future::Future;

use auth_flows::AuthService;
use cognito_model::operations::Operation;
use domain::services::Services;
use domain::{RequestContext, ServiceResult};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::routes;

/// Runs one operation. The input was validated against the model already.
pub async fn dispatch(
    services: &Services,
    auth: &AuthService,
    ctx: &RequestContext,
    op: Operation,
    input: Value,
) -> Result<Vec<u8>, ApiError> {
    let input = match routes::user_pools::route(services, ctx, op, input).await {
        Ok(answer) => return answer,
        Err(input) => input,
    };
    let input = match routes::app_clients::route(services, ctx, op, input).await {
        Ok(answer) => return answer,
        Err(input) => input,
    };
    let input = match routes::directory::route(services, ctx, op, input).await {
        Ok(answer) => return answer,
        Err(input) => input,
    };
    let input = match routes::identity_providers::route(services, ctx, op, input).await {
        Ok(answer) => return answer,
        Err(input) => input,
    };
    let input = match routes::mfa::route(auth, ctx, op, input).await {
        Ok(answer) => return answer,
        Err(input) => input,
    };
    let input = match routes::devices::route(auth, ctx, op, input).await {
        Ok(answer) => return answer,
        Err(input) => input,
    };
    match routes::sign_in::route(auth, ctx, op, input).await {
        Ok(answer) => answer,
        Err(_) => Err(not_available(op)),
    }
}

/// Whether Gatehouse serves this operation (the compatibility table is checked against it).
pub fn is_available(op: Operation) -> bool {
    [
        routes::user_pools::OPERATIONS,
        routes::app_clients::OPERATIONS,
        routes::directory::OPERATIONS,
        routes::identity_providers::OPERATIONS,
        routes::sign_in::OPERATIONS,
        routes::mfa::OPERATIONS,
        routes::devices::OPERATIONS,
    ]
    .iter()
    .any(|ops| ops.contains(&op))
}

/// Deserialises the request, runs the service call, serialises its answer.
pub async fn call<Req, Resp, F, Fut>(input: Value, f: F) -> Result<Vec<u8>, ApiError>
where
    Req: DeserializeOwned,
    Resp: Serialize,
    F: FnOnce(Req) -> Fut,
    Fut: Future<Output = ServiceResult<Resp>>,
{
    let req = serde_json::from_value(input).map_err(|e| ApiError::serialization(e.to_string()))?;
    let out = f(req).await?;
    body_of(&out)
}

/// Operations without an output shape answer `{}`, which every client accepts.
fn body_of<T: Serialize>(out: &T) -> Result<Vec<u8>, ApiError> {
    let bytes = serde_json::to_vec(out).map_err(|_| ApiError::internal())?;
    Ok(if bytes == b"null" {
        b"{}".to_vec()
    } else {
        bytes
    })
}

fn not_available(op: Operation) -> ApiError {
    ApiError {
        type_name: std::borrow::Cow::Borrowed("UnsupportedOperationException"),
        status: 400,
        message: Some(format!(
            "{} is not yet supported by this Gatehouse server.",
            op.name()
        )),
        message_key: crate::error::MessageKey::Lower,
    }
}

#[cfg(test)]
mod compatibility {
    use super::*;

    /// docs/compatibility.md lists every operation once, and says "Supported" exactly for those
    /// the dispatcher serves.
    #[test]
    fn compatibility_table_matches_dispatch() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/compatibility.md"
        ))
        .expect("docs/compatibility.md");
        for op in Operation::ALL {
            let prefix = format!("| {} |", op.name());
            let rows: Vec<&str> = doc.lines().filter(|l| l.starts_with(&prefix)).collect();
            assert_eq!(rows.len(), 1, "{} must have exactly one row", op.name());
            let status = rows[0].split('|').nth(3).unwrap_or("").trim();
            let expected = if is_available(op) {
                "Supported"
            } else {
                "Not yet"
            };
            assert_eq!(status, expected, "{}: table says {status}", op.name());
        }
    }
}
