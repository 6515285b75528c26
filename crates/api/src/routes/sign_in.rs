//! Sign-in, tokens and sign-out: the operations the auth-flows crate answers.

use auth_flows::AuthService;
use cognito_model::operations::Operation;
use domain::RequestContext;
use serde_json::Value;

use super::Routed;
use crate::dispatch::call;

pub const OPERATIONS: &[Operation] = &[
    Operation::InitiateAuth,
    Operation::AdminInitiateAuth,
    Operation::RespondToAuthChallenge,
    Operation::AdminRespondToAuthChallenge,
    Operation::GetTokensFromRefreshToken,
    Operation::GetUser,
    Operation::GlobalSignOut,
    Operation::AdminUserGlobalSignOut,
    Operation::RevokeToken,
];

pub async fn route(a: &AuthService, ctx: &RequestContext, op: Operation, input: Value) -> Routed {
    Ok(match op {
        Operation::InitiateAuth => call(input, |r| a.initiate_auth(ctx, r)).await,
        Operation::AdminInitiateAuth => call(input, |r| a.admin_initiate_auth(ctx, r)).await,
        Operation::RespondToAuthChallenge => {
            call(input, |r| a.respond_to_auth_challenge(ctx, r)).await
        }
        Operation::AdminRespondToAuthChallenge => {
            call(input, |r| a.admin_respond_to_auth_challenge(ctx, r)).await
        }
        Operation::GetTokensFromRefreshToken => {
            call(input, |r| a.get_tokens_from_refresh_token(ctx, r)).await
        }
        Operation::GetUser => call(input, |r| a.get_user(ctx, r)).await,
        Operation::GlobalSignOut => call(input, |r| a.global_sign_out(ctx, r)).await,
        Operation::AdminUserGlobalSignOut => {
            call(input, |r| a.admin_user_global_sign_out(ctx, r)).await
        }
        Operation::RevokeToken => call(input, |r| a.revoke_token(ctx, r)).await,
        _ => return Err(input),
    })
}
