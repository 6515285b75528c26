//! App clients and client secrets.

use cognito_model::operations::Operation;
use domain::services::Services;
use domain::RequestContext;
use serde_json::Value;

use super::Routed;
use crate::dispatch::call;

pub const OPERATIONS: &[Operation] = &[
    Operation::CreateUserPoolClient,
    Operation::DescribeUserPoolClient,
    Operation::UpdateUserPoolClient,
    Operation::DeleteUserPoolClient,
    Operation::ListUserPoolClients,
    Operation::AddUserPoolClientSecret,
    Operation::ListUserPoolClientSecrets,
    Operation::DeleteUserPoolClientSecret,
];

pub async fn route(s: &Services, ctx: &RequestContext, op: Operation, input: Value) -> Routed {
    let c = &s.app_clients;
    Ok(match op {
        Operation::CreateUserPoolClient => call(input, |r| c.create(ctx, r)).await,
        Operation::DescribeUserPoolClient => call(input, |r| c.describe(ctx, r)).await,
        Operation::UpdateUserPoolClient => call(input, |r| c.update(ctx, r)).await,
        Operation::DeleteUserPoolClient => call(input, |r| c.delete(ctx, r)).await,
        Operation::ListUserPoolClients => call(input, |r| c.list(ctx, r)).await,
        Operation::AddUserPoolClientSecret => call(input, |r| c.add_secret(ctx, r)).await,
        Operation::ListUserPoolClientSecrets => call(input, |r| c.list_secrets(ctx, r)).await,
        Operation::DeleteUserPoolClientSecret => call(input, |r| c.delete_secret(ctx, r)).await,
        _ => return Err(input),
    })
}
