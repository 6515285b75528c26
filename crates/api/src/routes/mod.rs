//! Routes per Cognito resource. Each module lists the operations it serves and answers them, or hands
//! the input back (`Err(input)`) when the operation is not its own.

pub mod app_clients;
pub mod devices;
pub mod directory;
pub mod identity_providers;
pub mod mfa;
pub mod sign_in;
pub mod user_pools;

use crate::error::ApiError;

/// `Ok(answer)` when the module served the operation, `Err(input)` to pass it on.
pub type Routed = Result<Result<Vec<u8>, ApiError>, serde_json::Value>;
