//! Multi-factor settings: the TOTP authenticator and the factors a user enables.

use auth_flows::AuthService;
use cognito_model::operations::Operation;
use domain::RequestContext;
use serde_json::Value;

use super::Routed;
use crate::dispatch::call;

pub const OPERATIONS: &[Operation] = &[
    Operation::AssociateSoftwareToken,
    Operation::VerifySoftwareToken,
    Operation::SetUserMFAPreference,
    Operation::AdminSetUserMFAPreference,
    Operation::SetUserSettings,
    Operation::AdminSetUserSettings,
    Operation::AdminDeleteSoftwareToken,
];

pub async fn route(a: &AuthService, ctx: &RequestContext, op: Operation, input: Value) -> Routed {
    Ok(match op {
        Operation::AssociateSoftwareToken => {
            call(input, |r| a.associate_software_token(ctx, r)).await
        }
        Operation::VerifySoftwareToken => call(input, |r| a.verify_software_token(ctx, r)).await,
        Operation::SetUserMFAPreference => call(input, |r| a.set_user_mfa_preference(ctx, r)).await,
        Operation::AdminSetUserMFAPreference => {
            call(input, |r| a.admin_set_user_mfa_preference(ctx, r)).await
        }
        Operation::SetUserSettings => call(input, |r| a.set_user_settings(ctx, r)).await,
        Operation::AdminSetUserSettings => call(input, |r| a.admin_set_user_settings(ctx, r)).await,
        Operation::AdminDeleteSoftwareToken => {
            call(input, |r| a.admin_delete_software_token(ctx, r)).await
        }
        _ => return Err(input),
    })
}
