//! The password verifier a server stores instead of the password: salt s and v = g^x mod N.
//! The same shape holds a remembered device's verifier (from ConfirmDevice).

use base64::Engine as _;
use rand::RngCore;

use crate::encoding::LENIENT_BASE64;
use crate::group::{group, int_hex, pad_hex, private_key_x, strip_leading_zeros};

/// Length of a generated salt. No client fixes it; 16 bytes matches what the JS client uses for
/// device salts.
const SALT_LEN: usize = 16;

/// Longest accepted `PasswordVerifier` in a device config, after base64 decoding: padHex of a
/// value below N is at most 385 bytes.
const MAX_DEVICE_VERIFIER_LEN: usize = 385;

/// Longest accepted device `Salt` after base64 decoding; the JS client sends 16 or 17 bytes.
const MAX_DEVICE_SALT_LEN: usize = 512;

/// The part of a pool id after the first '_' (`us-east-1_ABCdef123` -> `ABCdef123`).
///
/// An id without '_' is returned whole (the clients would use `undefined`/fail; real pool ids
/// always have one).
pub fn pool_name(pool_id: &str) -> &str {
    pool_id.split_once('_').map_or(pool_id, |(_, name)| name)
}

/// A stored password verifier: salt and v = g^x mod N, both as big-endian bytes.
///
/// Both fields hold the *minimal* big-endian encoding (no leading zero bytes): clients treat the
/// salt as an integer, so `00 9f ..` and `9f ..` are the same salt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    pub salt: Vec<u8>,
    pub verifier: Vec<u8>,
}

impl Verifier {
    /// Random salt and its verifier for `username` (the USER_ID_FOR_SRP) in pool `pool_name`.
    ///
    /// The salt is 16 random bytes whose first byte is forced into `0x40..=0x7f` (126 random
    /// bits remain). That makes its minimal hex exactly 32 digits with no leading zero and no
    /// top bit, so the SALT string, the stored bytes and padHex(salt) are all the same bytes
    /// and every client encoding path (JS re-encodes the parsed integer, Python pads the string
    /// as received, see srp.md §3) hashes identical input.
    pub fn generate(pool_name: &str, username: &str, password: &str) -> Verifier {
        let mut salt = [0u8; SALT_LEN];
        rand::thread_rng().fill_bytes(&mut salt);
        salt[0] = (salt[0] & 0x3f) | 0x40;
        Verifier::with_salt(pool_name, username, password, &salt)
    }

    /// The verifier for a given salt. For a device verifier pass the DeviceGroupKey as
    /// `pool_name`, the DeviceKey as `username` and the device's random password.
    pub fn with_salt(pool_name: &str, username: &str, password: &str, salt: &[u8]) -> Verifier {
        let group = group();
        let x = private_key_x(salt, pool_name, username, password);
        let v = group.pow_g(x.as_ref());
        Verifier {
            salt: strip_leading_zeros(salt).to_vec(),
            verifier: group.to_be_bytes(&v),
        }
    }

    /// The SALT challenge parameter: minimal lower-case hex of the salt integer.
    pub fn salt_hex(&self) -> String {
        int_hex(&self.salt)
    }

    /// Device verifiers arrive from ConfirmDevice as base64(padHex bytes) of v and salt.
    ///
    /// Returns `None` when either field is not base64, the salt is empty, or the verifier is not
    /// in 1..N (a zero verifier would let anyone pass, an oversized one is no client's output).
    pub fn from_device_config(password_verifier_b64: &str, salt_b64: &str) -> Option<Verifier> {
        let verifier = LENIENT_BASE64.decode(password_verifier_b64).ok()?;
        let salt = LENIENT_BASE64.decode(salt_b64).ok()?;
        if verifier.len() > MAX_DEVICE_VERIFIER_LEN
            || salt.is_empty()
            || salt.len() > MAX_DEVICE_SALT_LEN
        {
            return None;
        }
        let verifier = strip_leading_zeros(&verifier);
        let group = group();
        // Comparing the round-tripped residue with the input tells "below N" apart from
        // "needed reduction"; the verifier is secret, but this runs once, on the client's own
        // submission, before it is stored.
        let reduced = group.to_be_bytes(&group.residue(verifier));
        if reduced.is_empty() || reduced != verifier {
            return None;
        }
        Some(Verifier {
            salt: strip_leading_zeros(&salt).to_vec(),
            verifier: verifier.to_vec(),
        })
    }

    /// The inverse of [`Verifier::from_device_config`]: `(PasswordVerifier, Salt)` as the JS
    /// client sends them in `DeviceSecretVerifierConfig`.
    pub fn to_device_config(&self) -> (String, String) {
        let engine = &base64::engine::general_purpose::STANDARD;
        (
            engine.encode(pad_hex(&self.verifier)),
            engine.encode(pad_hex(&self.salt)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_name_is_after_the_first_underscore() {
        assert_eq!(pool_name("us-east-1_ABCdef123"), "ABCdef123");
        assert_eq!(pool_name("eu-west-2_a_b"), "a_b");
        assert_eq!(pool_name("nounderscore"), "nounderscore");
    }

    #[test]
    fn generated_salt_is_sixteen_bytes_with_a_clean_hex_form() {
        for _ in 0..64 {
            let v = Verifier::generate("pool", "user", "pw");
            assert_eq!(v.salt.len(), SALT_LEN);
            assert!((0x40..=0x7f).contains(&v.salt[0]));
            assert_eq!(v.salt_hex(), hex::encode(&v.salt));
            assert_eq!(pad_hex(&v.salt), v.salt);
        }
    }

    #[test]
    fn generate_uses_fresh_salts() {
        let a = Verifier::generate("pool", "user", "pw");
        let b = Verifier::generate("pool", "user", "pw");
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.verifier, b.verifier);
    }

    #[test]
    fn salt_is_stored_minimal() {
        let v = Verifier::with_salt("p", "u", "pw", &[0, 0, 0x0a, 0xbc]);
        assert_eq!(v.salt, vec![0x0a, 0xbc]);
        assert_eq!(v.salt_hex(), "abc");
        assert_eq!(v, Verifier::with_salt("p", "u", "pw", &[0x0a, 0xbc]));
    }

    #[test]
    fn device_config_rejects_bad_input() {
        let good = Verifier::with_salt("-grp", "dev", "pw", &[1, 2, 3]);
        let (v_b64, s_b64) = good.to_device_config();
        assert_eq!(Verifier::from_device_config(&v_b64, &s_b64), Some(good));
        assert_eq!(Verifier::from_device_config("not base64!", &s_b64), None);
        assert_eq!(Verifier::from_device_config(&v_b64, "%%"), None);
        assert_eq!(Verifier::from_device_config(&v_b64, ""), None);
        // v = 0
        assert_eq!(Verifier::from_device_config("AA==", &s_b64), None);
        // v = 2^3072 - 1 is above N: no client computes that.
        let engine = &base64::engine::general_purpose::STANDARD;
        let all_ones = engine.encode([0xffu8; 384]);
        assert_eq!(Verifier::from_device_config(&all_ones, &s_b64), None);
        let too_long = engine.encode([0x01u8; 386]);
        assert_eq!(Verifier::from_device_config(&too_long, &s_b64), None);
    }
}
