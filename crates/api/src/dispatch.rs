//! Operation dispatch: a validated input becomes a typed request, the service answers, the typed
//! output becomes the JSON body. Every operation of the model is routed; those not built yet answer
//! `UnsupportedOperationException` naming the operation.

use cognito_model::operations::Operation;
use domain::RequestContext;
use serde_json::Value;

use crate::error::ApiError;
use crate::server::AppState;

/// Runs one operation. The input was validated against the model already.
pub async fn dispatch(
    state: &AppState,
    ctx: &RequestContext,
    op: Operation,
    input: Value,
) -> Result<Vec<u8>, ApiError> {
    macro_rules! call {
        ($svc:expr, $method:ident) => {{
            let req = serde_json::from_value(input)
                .map_err(|e| ApiError::serialization(e.to_string()))?;
            let out = $svc.$method(ctx, req).await?;
            body_of(&out)
        }};
    }
    let pools = &state.user_pools;
    match op {
        Operation::CreateUserPool => call!(pools, create),
        Operation::DescribeUserPool => call!(pools, describe),
        Operation::UpdateUserPool => call!(pools, update),
        Operation::DeleteUserPool => call!(pools, delete),
        Operation::ListUserPools => call!(pools, list),
        Operation::TagResource => call!(pools, tag),
        Operation::UntagResource => call!(pools, untag),
        Operation::ListTagsForResource => call!(pools, list_tags),
        Operation::GetUserPoolMfaConfig => call!(pools, get_mfa_config),
        Operation::SetUserPoolMfaConfig => call!(pools, set_mfa_config),
        other => Err(not_available(other)),
    }
}

/// Whether Gatehouse serves this operation (used by the compatibility table's test too).
pub fn is_available(op: Operation) -> bool {
    matches!(
        op,
        Operation::CreateUserPool
            | Operation::DescribeUserPool
            | Operation::UpdateUserPool
            | Operation::DeleteUserPool
            | Operation::ListUserPools
            | Operation::TagResource
            | Operation::UntagResource
            | Operation::ListTagsForResource
            | Operation::GetUserPoolMfaConfig
            | Operation::SetUserPoolMfaConfig
    )
}

/// Operations without an output shape answer `{}`, which every client accepts.
fn body_of<T: serde::Serialize>(out: &T) -> Result<Vec<u8>, ApiError> {
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
