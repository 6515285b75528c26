//! Cognito's failed-attempt lockout: five failures, then a lock of one second doubling with every
//! further failure up to about fifteen minutes. Each attempt is counted before its credential is
//! checked, in one database step, so parallel guesses cannot all slip in before the count.

use cognito_model::errors::ErrorCode;
use domain::ports::{AttemptOutcome, LockoutPolicy, Store};
use domain::{CognitoError, ServiceResult};

pub fn attempts_exceeded() -> CognitoError {
    CognitoError::new(
        ErrorCode::NotAuthorizedException,
        "Password attempts exceeded",
    )
}

/// Counts an attempt; fails when the user is locked out.
pub async fn begin(
    store: &dyn Store,
    pool_id: &str,
    user_id: &str,
    now_ms: i64,
) -> ServiceResult<()> {
    match store
        .begin_sign_in_attempt(pool_id, user_id, now_ms, &LockoutPolicy::COGNITO)
        .await?
    {
        AttemptOutcome::Allowed => Ok(()),
        AttemptOutcome::Locked { .. } => Err(attempts_exceeded()),
    }
}

/// Counts an attempt against a name that matches no user (its decoy name, see
/// `flows::decoy_name`); fails as a real user's lockout would.
pub async fn begin_unknown(
    store: &dyn Store,
    pool_id: &str,
    name_key: &str,
    now_ms: i64,
) -> ServiceResult<()> {
    match store
        .begin_unknown_sign_in_attempt(pool_id, name_key, now_ms, &LockoutPolicy::COGNITO)
        .await?
    {
        AttemptOutcome::Allowed => Ok(()),
        AttemptOutcome::Locked { .. } => Err(attempts_exceeded()),
    }
}

/// The credential was right.
pub async fn succeeded(store: &dyn Store, pool_id: &str, user_id: &str) -> ServiceResult<()> {
    store.sign_in_succeeded(pool_id, user_id).await?;
    Ok(())
}
