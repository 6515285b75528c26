//! The ports: what services need from the outside world. Adapters (storage, notify) implement them.

mod app_clients;
mod auth;
mod codes;
mod directory;
mod identity_providers;
mod messages;
mod mfa;
mod outbox;
mod triggers;
mod user_pools;

pub use app_clients::*;
pub use auth::*;
pub use codes::*;
pub use directory::*;
pub use identity_providers::*;
pub use messages::*;
pub use mfa::*;
pub use outbox::*;
pub use triggers::*;
pub use user_pools::*;

/// A storage failure. `Conflict` is a unique-key clash the service can act on; everything else is
/// the backend's problem and surfaces to clients as an internal error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("backend: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the services need from storage: one trait per Cognito resource.
pub trait Store:
    UserPoolStore
    + AppClientStore
    + DirectoryStore
    + IdentityProviderStore
    + AuthStore
    + CodeStore
    + OutboxStore
    + MfaStore
{
}
impl<
        T: UserPoolStore
            + AppClientStore
            + DirectoryStore
            + IdentityProviderStore
            + AuthStore
            + CodeStore
            + OutboxStore
            + MfaStore,
    > Store for T
{
}

/// Time, as a port so tests can pin it. Milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        d.as_millis() as i64
    }
}
