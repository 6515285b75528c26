//! How many codes may be tried and sent, and the key they are stored under.

use std::sync::{Arc, OnceLock};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

pub(super) const HOUR_MS: i64 = 3_600_000;
/// Issuance is counted per hour.
pub(super) const ISSUE_WINDOW_MS: i64 = HOUR_MS;
/// The longest failure window accepted (counter rows are pruned some time after this).
pub const MAX_FAILURE_WINDOW_MS: i64 = 24 * HOUR_MS;

/// How many codes may be tried and issued. The defaults follow Cognito where it is known (five
/// wrong codes, a handful of codes per user per hour) and are otherwise chosen to stay out of a
/// legitimate user's way while capping abuse; all are configurable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeLimits {
    /// Wrong codes per user and purpose within `failure_window_ms`, across re-issued codes.
    /// The next attempt (even with the right code) and further codes for the purpose are
    /// refused until the window, which opens with the first failure, has passed. At least 1.
    pub failures: u32,
    pub failure_window_ms: i64,
    /// Codes per user and purpose per hour (0: no limit).
    pub per_user: u32,
    /// Codes per destination (email address or phone number, across users) per hour (0: none).
    pub per_destination: u32,
    /// Codes per user pool per hour (0: no limit).
    pub per_pool: u32,
}

impl Default for CodeLimits {
    fn default() -> Self {
        CodeLimits {
            failures: 5,
            failure_window_ms: HOUR_MS,
            per_user: 5,
            per_destination: 10,
            per_pool: 1000,
        }
    }
}

/// The key codes are hashed under, and their limits. One per deployment: every node must hold
/// the same key (it is derived from the shared key-encryption key at wiring time).
pub struct CodeSettings {
    key: Zeroizing<[u8; 32]>,
    limits: CodeLimits,
}

impl std::fmt::Debug for CodeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeSettings")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl CodeSettings {
    pub fn new(key: Zeroizing<[u8; 32]>, mut limits: CodeLimits) -> Self {
        limits.failures = limits.failures.max(1);
        limits.failure_window_ms = limits.failure_window_ms.clamp(1, MAX_FAILURE_WINDOW_MS);
        CodeSettings { key, limits }
    }

    /// Settings for tests and tools that wire no key-encryption key: a key random to this
    /// process (codes then cannot be checked by another process) and the default limits.
    pub fn process_local() -> Arc<CodeSettings> {
        static LOCAL: OnceLock<Arc<CodeSettings>> = OnceLock::new();
        LOCAL
            .get_or_init(|| {
                let mut key = Zeroizing::new([0u8; 32]);
                rand::rngs::OsRng.fill_bytes(&mut key[..]);
                Arc::new(CodeSettings::new(key, CodeLimits::default()))
            })
            .clone()
    }

    pub fn limits(&self) -> &CodeLimits {
        &self.limits
    }

    pub(super) fn mac(&self, label: &str, parts: &[&str]) -> Vec<u8> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.key[..])
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        // Length-prefixed, so no two different part lists hash alike.
        for part in std::iter::once(label).chain(parts.iter().copied()) {
            m.update(&(part.len() as u64).to_be_bytes());
            m.update(part.as_bytes());
        }
        m.finalize().into_bytes().to_vec()
    }

    /// The stored form of a code: bound to pool, user, purpose and the value it was sent to.
    pub(super) fn code_hash(
        &self,
        pool_id: &str,
        user_id: &str,
        purpose: &str,
        bound: &str,
        code: &str,
    ) -> String {
        hex::encode(self.mac("code/v1", &[pool_id, user_id, purpose, bound, code]))
    }

    /// A name for a counter about a destination or a typed username, so the counter table holds
    /// no address or name in clear.
    pub(super) fn tag(&self, kind: &str, value: &str) -> String {
        hex::encode(&self.mac("limit/v1", &[kind, value])[..16])
    }
}
