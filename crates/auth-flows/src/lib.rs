//! Sign-in: InitiateAuth / AdminInitiateAuth and the challenge responses (password, Cognito SRP,
//! NEW_PASSWORD_REQUIRED), ID / access / refresh tokens with per-pool RSA keys, the JWKS, refresh,
//! sign-out and revocation, and the failed-attempt lockout. Written against the domain's ports.

mod account;
mod attributes;
mod client_gate;
mod custom_auth;
mod devices;
mod flows;
pub mod issuer;
pub mod keys;
mod lockout;
mod mfa_settings;
mod pre_token;
mod second_factor;
pub mod session_tokens;
pub mod sessions;
pub mod tokens;

use std::sync::Arc;

use domain::ports::{Clock, Store};
use domain::services::Services;

pub use issuer::IssuerConfig;
pub use keys::KeyRing;

/// The server secrets sign-in derives from the key-encryption key, so every node agrees.
pub struct SignInSecrets {
    /// Decoy identities of unknown users (see `flows::decoy_identity`); survives signing-key
    /// rotation.
    pub decoy: [u8; 32],
    /// Seals code challenges' Sessions (see `sessions`).
    pub sessions: [u8; 32],
}

/// The sign-in service: one per node, cheap to clone.
#[derive(Clone)]
pub struct AuthService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    services: Services,
    keys: KeyRing,
    sessions: sessions::SessionBook,
    issuer: IssuerConfig,
    verified: Arc<tokens::VerifiedTokens>,
    /// The server's secret for decoy identities (see `flows::decoy_identity`): derived from the
    /// key-encryption key, so every node agrees and it survives signing-key rotation.
    decoy_secret: [u8; 32],
}

impl AuthService {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        services: Services,
        issuer: IssuerConfig,
        secrets: SignInSecrets,
    ) -> Self {
        Self {
            keys: KeyRing::new(store.clone(), clock.clone()),
            sessions: sessions::SessionBook::new(store.clone(), clock.clone(), secrets.sessions),
            store,
            clock,
            services,
            issuer,
            verified: Arc::new(tokens::VerifiedTokens::default()),
            decoy_secret: secrets.decoy,
        }
    }

    pub fn issuer(&self) -> &IssuerConfig {
        &self.issuer
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The JWKS of a pool (its keys are made on first need), or None when there is no such pool.
    pub async fn jwks(&self, pool_id: &str) -> domain::ServiceResult<Option<serde_json::Value>> {
        if !could_be_pool_id(pool_id) || self.store.get_user_pool(pool_id).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(self.keys.keys(pool_id).await?.jwks().clone()))
    }

    /// The discovery document of a pool, or None when there is no such pool.
    pub async fn openid_configuration(
        &self,
        pool_id: &str,
    ) -> domain::ServiceResult<Option<serde_json::Value>> {
        if !could_be_pool_id(pool_id) || self.store.get_user_pool(pool_id).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(self.issuer.openid_configuration(pool_id)))
    }

    fn now_s(&self) -> i64 {
        self.clock.now_ms().div_euclid(1000)
    }
}

/// Whether a path segment has the shape of a pool id (`[\w-]+_[0-9a-zA-Z]+`, at most 55
/// characters). The well-known paths take any text, including a decoded `%00` that Postgres
/// cannot compare; anything else is a pool that does not exist.
fn could_be_pool_id(id: &str) -> bool {
    let Some((region, suffix)) = id.rsplit_once('_') else {
        return false;
    };
    id.len() <= 55
        && !region.is_empty()
        && !suffix.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && suffix.chars().all(|c| c.is_ascii_alphanumeric())
}
