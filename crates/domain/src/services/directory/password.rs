//! Passwords: the pool's policy, temporary-password generation, argon2id hashing and history.
//! Plaintext passwords only pass through here; they are never stored or logged.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::Mutex;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use cognito_model::errors::ErrorCode;
use cognito_model::shapes::PasswordPolicyType;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore};
use subtle::ConstantTimeEq;

use crate::error::{CognitoError, ServiceResult};

/// The characters Cognito counts as symbols.
pub const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-";

/// Checks a password against the policy; the admin operations word the failure this way.
pub fn check_policy(policy: &PasswordPolicyType, pw: &str) -> ServiceResult<()> {
    let fail = |what: &str| {
        Err(CognitoError::new(
            ErrorCode::InvalidPasswordException,
            format!("Password does not conform to policy: {what}"),
        ))
    };
    let min = policy.minimum_length.unwrap_or(8).max(0) as usize;
    if pw.chars().count() < min {
        return fail("Password not long enough");
    }
    if policy.require_lowercase.unwrap_or(false) && !pw.chars().any(|c| c.is_lowercase()) {
        return fail("Password must have lowercase characters");
    }
    if policy.require_uppercase.unwrap_or(false) && !pw.chars().any(|c| c.is_uppercase()) {
        return fail("Password must have uppercase characters");
    }
    if policy.require_numbers.unwrap_or(false) && !pw.chars().any(|c| c.is_ascii_digit()) {
        return fail("Password must have numeric characters");
    }
    if policy.require_symbols.unwrap_or(false) && !pw.chars().any(|c| SYMBOLS.contains(c)) {
        return fail("Password must have symbol characters");
    }
    Ok(())
}

/// A random temporary password that satisfies the policy (one character of every class, then
/// random letters, digits and symbols), at least 12 characters long.
pub fn generate(policy: &PasswordPolicyType) -> String {
    let mut rng = rand::thread_rng();
    let lower = b"abcdefghijkmnopqrstuvwxyz";
    let upper = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    let digits = b"23456789";
    let symbols = SYMBOLS.as_bytes();
    let len = (policy.minimum_length.unwrap_or(8).max(0) as usize).max(12);
    let mut out: Vec<u8> = vec![
        lower[rng.gen_range(0..lower.len())],
        upper[rng.gen_range(0..upper.len())],
        digits[rng.gen_range(0..digits.len())],
        symbols[rng.gen_range(0..symbols.len())],
    ];
    let all: Vec<u8> = [&lower[..], &upper[..], &digits[..], b"!#%&*+-="].concat();
    while out.len() < len {
        out.push(all[rng.gen_range(0..all.len())]);
    }
    out.shuffle(&mut rng);
    String::from_utf8(out).unwrap_or_default()
}

fn hasher() -> Argon2<'static> {
    // OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of an argon2id hash of the password, with a random salt.
pub fn hash(pw: &str) -> ServiceResult<String> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| CognitoError::internal())?;
    hasher()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| CognitoError::internal())
}

/// The stored credential for a new password: its argon2id hash (for password flows) and Cognito
/// SRP's salt and verifier (for USER_SRP_AUTH), computed with the pool name and the user's internal
/// username exactly as clients compute `x`. CPU-heavy: call through [`blocking`].
pub fn credential(
    pool_id: &str,
    username: &str,
    pw: &str,
) -> ServiceResult<(String, crate::ports::SrpVerifier)> {
    let hash = hash(pw)?;
    let v = cognito_srp::Verifier::generate(cognito_srp::pool_name(pool_id), username, pw);
    Ok((
        hash,
        crate::ports::SrpVerifier {
            salt: hex::encode(&v.salt),
            verifier: hex::encode(&v.verifier),
        },
    ))
}

/// Whether the password matches a stored PHC hash. Constant-time in the hash comparison.
pub fn verify(phc: &str, pw: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    match verify_in_thread_memory(&parsed, pw) {
        Some(ok) => ok,
        None => hasher().verify_password(pw.as_bytes(), &parsed).is_ok(),
    }
}

/// argon2's working memory (19 MiB at our parameters), reused between checks: allocating it
/// fresh for every check cost about a tenth of a sign-in in page faults and zeroing. Buffers are
/// taken last-in first-out, so a check gets the one most recently used (still partly in the
/// processor's cache), and at most one is kept per CPU thread (see `cpu_pool`): one per blocking
/// thread made the server hold and cycle through eight of them.
static ARGON2_MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

fn with_argon2_memory<R>(blocks: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
    let taken = ARGON2_MEMORY.lock().ok().and_then(|mut m| m.pop());
    let mut memory = taken.unwrap_or_default();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let r = f(&mut memory[..blocks]);
    if let Ok(mut kept) = ARGON2_MEMORY.lock() {
        if kept.len() < super::cpu_pool::threads() {
            kept.push(memory);
        }
    }
    r
}

/// Checks `pw` against an argon2 PHC hash the way `PasswordVerifier` does, but in this thread's
/// reused memory. `None` when the hash is not an argon2 one it can read (the caller falls back).
fn verify_in_thread_memory(parsed: &PasswordHash<'_>, pw: &str) -> Option<bool> {
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(parsed).ok()?;
    let expected = parsed.hash?;
    let mut salt_buf = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt_buf).ok()?;
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut out = zeroize::Zeroizing::new(vec![0u8; expected.len()]);
    with_argon2_memory(blocks, |memory| {
        argon
            .hash_password_into_with_memory(pw.as_bytes(), salt, &mut out, memory)
            .ok()?;
        Some(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
    })
}

pub use super::cpu_pool::{blocking, queue_limit, set_queue_limit, DEFAULT_QUEUE_PER_CORE};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user_pool::default_password_policy;

    #[test]
    fn verification_in_reused_memory_agrees_with_the_generic_verifier() {
        let phc = hash("Correct-h0rse").unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        assert_eq!(
            verify_in_thread_memory(&parsed, "Correct-h0rse"),
            Some(true)
        );
        assert_eq!(
            verify_in_thread_memory(&parsed, "Correct-h0rsE"),
            Some(false)
        );
        assert!(verify(&phc, "Correct-h0rse"));
        assert!(!verify(&phc, "wrong"));
        // A hash at other parameters (less memory) in the same thread's larger buffer.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw", &SaltString::encode_b64(b"0123456789abcdef").unwrap())
        .unwrap()
        .to_string();
        assert!(hasher()
            .verify_password(b"pw", &PasswordHash::new(&small).unwrap())
            .is_ok());
        assert!(verify(&small, "pw"));
        assert!(!verify(&small, "pW"));
        assert!(!verify("not a hash", "pw"));
    }

    #[test]
    fn policy_messages_and_generation() {
        let p = default_password_policy();
        let msg = |pw: &str| check_policy(&p, pw).unwrap_err().message;
        assert_eq!(
            msg("Ab1!"),
            "Password does not conform to policy: Password not long enough"
        );
        assert!(msg("ABCDEFG1!").ends_with("lowercase characters"));
        assert!(msg("abcdefg1!").ends_with("uppercase characters"));
        assert!(msg("Abcdefgh!").ends_with("numeric characters"));
        assert!(msg("Abcdefgh1").ends_with("symbol characters"));
        assert!(check_policy(&p, "Abcdefg1!").is_ok());
        for _ in 0..50 {
            let g = generate(&p);
            assert!(check_policy(&p, &g).is_ok(), "{g}");
        }
    }

    #[test]
    fn hash_and_verify() {
        let h = hash("Secret-Passw0rd").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!h.contains("Secret"));
        assert!(verify(&h, "Secret-Passw0rd"));
        assert!(!verify(&h, "Secret-Passw0rd."));
        assert!(!verify("garbage", "x"));
    }
}
