//! Resource servers and federated identity providers of a user pool.

mod details;
mod links;
mod providers;
mod resource_servers;
mod saml;

use std::sync::Arc;

use cognito_model::errors::ErrorCode;

use crate::error::CognitoError;
use crate::ports::{Clock, Store};
use crate::services::UserPoolService;

/// Most resource servers one pool may have (Cognito's quota).
pub const MAX_RESOURCE_SERVERS: usize = 25;
/// Most identity providers one pool may have (Cognito's quota).
pub const MAX_IDENTITY_PROVIDERS: usize = 300;
/// How often a write retries after losing an optimistic-concurrency race.
const WRITE_RETRIES: usize = 8;

#[derive(Clone)]
pub struct IdentityProviderService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    pools: UserPoolService,
}

impl IdentityProviderService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, pools: UserPoolService) -> Self {
        Self {
            store,
            clock,
            pools,
        }
    }
}

fn limit_exceeded(message: impl Into<String>) -> CognitoError {
    CognitoError::new(ErrorCode::LimitExceededException, message)
}

fn concurrent_modification() -> CognitoError {
    CognitoError::new(
        ErrorCode::ConcurrentModificationException,
        "The identity provider was modified concurrently; try again.",
    )
}
