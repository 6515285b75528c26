//! Storage port for sign-in: token signing keys, challenge sessions, token sessions (refresh
//! tokens and what revokes them) and failed-attempt counters.

use async_trait::async_trait;

use super::StoreResult;

/// What a signing key signs. Cognito signs ID and access tokens with different keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    Id,
    Access,
}

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Id => "id",
            KeyPurpose::Access => "access",
        }
    }

    pub fn parse(s: &str) -> Option<KeyPurpose> {
        match s {
            "id" => Some(KeyPurpose::Id),
            "access" => Some(KeyPurpose::Access),
            _ => None,
        }
    }
}

/// One RSA signing key of a pool. The store seals `private_pkcs1_der` at rest (bound to the
/// pool and kid); its Debug never shows the private key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub pool_id: String,
    pub kid: String,
    pub purpose: KeyPurpose,
    pub private_pkcs1_der: Vec<u8>,
    /// Big-endian modulus and exponent, stored beside the key for operators to read. They are not
    /// sealed, so whoever can write the database can change them: readers derive the public key
    /// from the opened private key and use these only to notice such a change.
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
    pub created_ms: i64,
    /// Set when a newer key took over; the key stays published until its tokens have expired.
    pub retired_ms: Option<i64>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("pool_id", &self.pool_id)
            .field("kid", &self.kid)
            .field("purpose", &self.purpose)
            .field("private_pkcs1_der", &"<redacted>")
            .field("created_ms", &self.created_ms)
            .field("retired_ms", &self.retired_ms)
            .finish_non_exhaustive()
    }
}

/// The state of one challenge step between InitiateAuth and RespondToAuthChallenge. `id_hash` is
/// the SHA-256 of the Session string the client holds; `state` is opaque JSON the store seals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeSessionRecord {
    pub id_hash: String,
    pub pool_id: String,
    pub client_id: String,
    pub state: String,
    pub expires_ms: i64,
}

/// One signed-in session: what a refresh token continues and what access tokens point back to
/// through `origin_jti`. Revoking it rejects its refresh token and every access token from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSessionRecord {
    pub origin_jti: String,
    pub pool_id: String,
    pub client_id: String,
    pub user_id: String,
    /// SHA-256 (hex) of the current refresh token.
    pub refresh_hash: String,
    /// The refresh token a rotation replaced, and until when it is still honoured.
    pub previous_refresh_hash: Option<String>,
    pub previous_valid_until_ms: Option<i64>,
    pub auth_time_s: i64,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub revoked_ms: Option<i64>,
    /// The device the sign-in came from (device tracking): its refresh needs the device kept.
    pub device_key: Option<String>,
}

/// Which refresh token of a session was presented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshMatch {
    Current(TokenSessionRecord),
    /// A token a rotation replaced; the record says whether its grace period is over.
    Previous(TokenSessionRecord),
    None,
}

/// What an answered code challenge brings to the write that starts its session: the TOTP step
/// its code matched (claimed once per user), and how many wrong codes spend the challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChallengeProof {
    pub totp_step: Option<i64>,
    pub max_failures: i64,
}

/// Why a session after a code challenge was or was not started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeStart {
    Started,
    /// The user is locked out (nothing was stored).
    Locked,
    /// The challenge already ended in a session, or took its wrong codes.
    Spent,
    /// The TOTP step was used already, on any node.
    StepUsed,
}

/// The answer of the failed-attempt counter before a credential is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The attempt may check the credential; it already counts as a failure until `succeeded`.
    Allowed,
    /// Too many failures: locked until this time.
    Locked { until_ms: i64 },
}

/// How the lockout grows: `free_failures` failures are allowed, then each further failure locks for
/// `base_ms` doubled per failure beyond that, up to `max_ms`; a quiet `reset_after_ms` forgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub free_failures: i64,
    pub base_ms: i64,
    pub max_ms: i64,
    pub reset_after_ms: i64,
}

impl LockoutPolicy {
    /// Cognito's documented behaviour: five failures, then one second doubling up to about
    /// fifteen minutes; fifteen quiet minutes reset the count.
    pub const COGNITO: LockoutPolicy = LockoutPolicy {
        free_failures: 5,
        base_ms: 1_000,
        max_ms: 15 * 60 * 1000,
        reset_after_ms: 15 * 60 * 1000,
    };

    /// The lock that follows the `n`-th consecutive failure (0 while failures are free).
    pub fn lock_after(&self, n: i64) -> i64 {
        if n < self.free_failures {
            return 0;
        }
        let doublings = (n - self.free_failures).min(30) as u32;
        self.base_ms
            .saturating_mul(1i64 << doublings)
            .min(self.max_ms)
    }
}

#[async_trait]
pub trait AuthStore: Send + Sync {
    /// Every key of the pool, current and retired, oldest first.
    async fn signing_keys(&self, pool_id: &str) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Adds the pool's current key for a purpose unless one exists already (another node won the
    /// race): then false, and the caller reads the winner.
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<bool>;
    /// Retires the pool's current keys (rotation); new ones are made on next need.
    async fn retire_signing_keys(&self, pool_id: &str, at_ms: i64) -> StoreResult<u64>;

    async fn insert_challenge_session(&self, s: &ChallengeSessionRecord) -> StoreResult<()>;
    /// Removes and returns the session if it belongs to `client_id`: a Session answers one
    /// challenge response only. A session of another client is left in place (None), so whoever
    /// merely saw a Session cannot cancel the sign-in by answering it with the wrong client.
    /// An empty `client_id` takes it whoever's it is (AssociateSoftwareToken and
    /// VerifySoftwareToken name no client).
    async fn take_challenge_session(
        &self,
        id_hash: &str,
        client_id: &str,
    ) -> StoreResult<Option<ChallengeSessionRecord>>;

    /// Stores the session of a successful sign-in and, since that sign-in proved a credential,
    /// forgets the user's failed attempts, in one database step where the backend allows it (a
    /// sign-in then costs one write instead of two).
    async fn start_token_session(&self, s: &TokenSessionRecord) -> StoreResult<()>;
    /// Starts the session of an answered code challenge, whose id is `s.origin_jti`, in one
    /// database step where the backend allows it: only if the user is not locked out, the
    /// challenge has not taken `max_failures` wrong codes nor ended in a session already (the id
    /// is the session's key, so a challenge yields one session at most) and the TOTP step, if
    /// any, is fresh (then claimed); the failed attempts are forgotten with it.
    async fn start_token_session_after_challenge(
        &self,
        s: &TokenSessionRecord,
        proof: &ChallengeProof,
        now_ms: i64,
    ) -> StoreResult<ChallengeStart>;
    /// Whether a code challenge (by id) ended in a session already: its Session is spent.
    async fn challenge_answered(&self, challenge_id: &str) -> StoreResult<bool>;
    /// Counts a wrong code against a challenge (by id) and returns its wrong codes so far. Kept
    /// until `expires_ms`, the challenge's own end.
    async fn count_challenge_failure(
        &self,
        challenge_id: &str,
        expires_ms: i64,
    ) -> StoreResult<i64>;
    /// The session a refresh token (its hash) belongs to, as current or replaced token.
    async fn token_session_by_refresh(&self, refresh_hash: &str) -> StoreResult<RefreshMatch>;
    /// Replaces the current refresh token if it is still `old_hash`; false when another request
    /// rotated it first.
    async fn rotate_refresh_token(
        &self,
        origin_jti: &str,
        old_hash: &str,
        new_hash: &str,
        old_valid_until_ms: i64,
    ) -> StoreResult<bool>;
    /// Revokes one session. False when it was unknown.
    async fn revoke_token_session(&self, origin_jti: &str, at_ms: i64) -> StoreResult<bool>;
    /// Revokes every session of a user (global sign-out, deletion, disabling).
    async fn revoke_user_sessions(
        &self,
        pool_id: &str,
        user_id: &str,
        at_ms: i64,
    ) -> StoreResult<u64>;
    /// Whether access tokens of this session are still good. Hot: called for every
    /// token-authorised request, so adapters cache it and invalidate on revocation, on every node.
    async fn token_session_active(&self, origin_jti: &str) -> StoreResult<bool>;

    /// Counts a sign-in attempt against the user before the credential is checked, atomically, so
    /// parallel attempts cannot slip past the lockout.
    async fn begin_sign_in_attempt(
        &self,
        pool_id: &str,
        user_id: &str,
        now_ms: i64,
        policy: &LockoutPolicy,
    ) -> StoreResult<AttemptOutcome>;
    /// The same count for a sign-in name that matches no user (`name_key`: the name in the
    /// pool's matching form), so that a client hiding user existence locks a guessed name out
    /// exactly as it would a real user. Rows are pruned once quiet for the policy's reset time.
    async fn begin_unknown_sign_in_attempt(
        &self,
        pool_id: &str,
        name_key: &str,
        now_ms: i64,
        policy: &LockoutPolicy,
    ) -> StoreResult<AttemptOutcome>;
    /// The credential was right: forget the failures.
    async fn sign_in_succeeded(&self, pool_id: &str, user_id: &str) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_signing_key_hides_the_private_key() {
        let k = SigningKeyRecord {
            pool_id: "p".into(),
            kid: "kid-1".into(),
            purpose: KeyPurpose::Id,
            private_pkcs1_der: vec![0xAB; 8],
            modulus: vec![1],
            exponent: vec![1, 0, 1],
            created_ms: 0,
            retired_ms: None,
        };
        let shown = format!("{k:?} {k:#?}");
        assert!(!shown.contains("171"), "{shown}");
        assert!(!shown.to_lowercase().contains("ab, ab"), "{shown}");
        assert!(shown.contains("kid-1"), "{shown}");
    }
}
