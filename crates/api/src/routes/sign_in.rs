//! Sign-in, tokens, sign-out and self-service accounts: the operations the auth-flows crate answers.

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
    Operation::SignUp,
    Operation::ConfirmSignUp,
    Operation::ResendConfirmationCode,
    Operation::ForgotPassword,
    Operation::ConfirmForgotPassword,
    Operation::ChangePassword,
    Operation::DeleteUser,
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
        Operation::SignUp => call(input, |r| a.sign_up(ctx, r)).await,
        Operation::ConfirmSignUp => call(input, |r| a.confirm_sign_up(ctx, r)).await,
        Operation::ResendConfirmationCode => {
            call(input, |r| a.resend_confirmation_code(ctx, r)).await
        }
        Operation::ForgotPassword => call(input, |r| a.forgot_password(ctx, r)).await,
        Operation::ConfirmForgotPassword => {
            call(input, |r| a.confirm_forgot_password(ctx, r)).await
        }
        Operation::ChangePassword => call(input, |r| a.change_password(ctx, r)).await,
        Operation::DeleteUser => call(input, |r| a.delete_user(ctx, r)).await,
        _ => return Err(input),
    })
}
