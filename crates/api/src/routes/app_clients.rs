//! App clients and client secrets.

use cognito_model::operations::Operation;
use domain::services::Services;
use domain::RequestContext;
use serde_json::Value;

use super::Routed;

pub const OPERATIONS: &[Operation] = &[];

pub async fn route(_s: &Services, _ctx: &RequestContext, _op: Operation, input: Value) -> Routed {
    Err(input)
}
