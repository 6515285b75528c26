//! User pools: the pool itself, its tags and its MFA configuration.

use cognito_model::operations::Operation;
use domain::services::Services;
use domain::RequestContext;
use serde_json::Value;

use super::Routed;
use crate::dispatch::call;

pub const OPERATIONS: &[Operation] = &[
    Operation::CreateUserPool,
    Operation::DescribeUserPool,
    Operation::UpdateUserPool,
    Operation::DeleteUserPool,
    Operation::ListUserPools,
    Operation::TagResource,
    Operation::UntagResource,
    Operation::ListTagsForResource,
    Operation::GetUserPoolMfaConfig,
    Operation::SetUserPoolMfaConfig,
];

pub async fn route(s: &Services, ctx: &RequestContext, op: Operation, input: Value) -> Routed {
    let p = &s.user_pools;
    Ok(match op {
        Operation::CreateUserPool => call(input, |r| p.create(ctx, r)).await,
        Operation::DescribeUserPool => call(input, |r| p.describe(ctx, r)).await,
        Operation::UpdateUserPool => call(input, |r| p.update(ctx, r)).await,
        Operation::DeleteUserPool => call(input, |r| p.delete(ctx, r)).await,
        Operation::ListUserPools => call(input, |r| p.list(ctx, r)).await,
        Operation::TagResource => call(input, |r| p.tag(ctx, r)).await,
        Operation::UntagResource => call(input, |r| p.untag(ctx, r)).await,
        Operation::ListTagsForResource => call(input, |r| p.list_tags(ctx, r)).await,
        Operation::GetUserPoolMfaConfig => call(input, |r| p.get_mfa_config(ctx, r)).await,
        Operation::SetUserPoolMfaConfig => call(input, |r| p.set_mfa_config(ctx, r)).await,
        _ => return Err(input),
    })
}
