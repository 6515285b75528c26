//! TOTP as Cognito runs it (RFC 6238): HMAC-SHA-1, 30-second steps, 6 digits, one step of drift
//! either way. The code arithmetic is totp-rs's; this module adds the secret format Cognito hands
//! out (base32 of 20 random bytes, 32 characters) and which step a code matched, so the caller can
//! accept each step once.

use rand::RngCore;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

/// 160 bits, RFC 4226's recommended secret length; its base32 form is 32 characters.
const SECRET_BYTES: usize = 20;
const STEP_S: u64 = 30;
const DIGITS: usize = 6;

/// A new random TOTP secret.
pub fn new_secret() -> Vec<u8> {
    let mut s = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut s);
    s
}

/// The SecretCode of AssociateSoftwareToken: upper-case base32 without padding.
pub fn secret_code(secret: &[u8]) -> String {
    match &Secret::Raw(secret.to_vec()).to_encoded() {
        Secret::Encoded(s) => s.trim_end_matches('=').to_string(),
        Secret::Raw(_) => unreachable!("to_encoded answers the encoded form"),
    }
}

/// The time step `now_s` falls in.
pub fn step_of(now_s: i64) -> i64 {
    now_s.div_euclid(STEP_S as i64)
}

/// The step whose code `code` is, among the current step and one either side, or None. Every
/// candidate is compared (in constant time), so the answer's timing says nothing about which.
pub fn matching_step(secret: &[u8], code: &str, now_s: i64) -> Option<i64> {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = TOTP::new(Algorithm::SHA1, DIGITS, 0, STEP_S, secret.to_vec()).ok()?;
    let now = step_of(now_s);
    let mut found = None;
    for step in [now - 1, now, now + 1] {
        let Ok(at) = u64::try_from(step * STEP_S as i64) else {
            continue;
        };
        let expected = totp.generate(at);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

/// The code of a step (tests and tools).
pub fn code_at(secret: &[u8], now_s: i64) -> Option<String> {
    let totp = TOTP::new(Algorithm::SHA1, DIGITS, 0, STEP_S, secret.to_vec()).ok()?;
    Some(totp.generate(u64::try_from(now_s).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (the 8-digit values' last six digits).
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(secret, t).as_deref(), Some(code), "t={t}");
            assert_eq!(matching_step(secret, code, t), Some(step_of(t)));
        }
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_more() {
        let secret = new_secret();
        let now = 1_800_000_015;
        let at = |steps: i64| code_at(&secret, now + steps * 30).unwrap();
        assert_eq!(matching_step(&secret, &at(-1), now), Some(step_of(now) - 1));
        assert_eq!(matching_step(&secret, &at(1), now), Some(step_of(now) + 1));
        // A code two steps away is refused unless it happens to equal a nearby one.
        for far in [-2, 2] {
            let code = at(far);
            if ![at(-1), at(0), at(1)].contains(&code) {
                assert_eq!(matching_step(&secret, &code, now), None);
            }
        }
    }

    #[test]
    fn malformed_codes_never_match() {
        let secret = new_secret();
        for code in ["", "12345", "1234567", "12a456", " 12345"] {
            assert_eq!(matching_step(&secret, code, 1_800_000_000), None, "{code}");
        }
    }

    #[test]
    fn secret_codes_are_32_base32_characters() {
        let code = secret_code(&new_secret());
        assert_eq!(code.len(), 32);
        assert!(code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
        assert_eq!(
            secret_code(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }
}
