//! The HMACs a client proves itself with: PASSWORD_CLAIM_SIGNATURE (keyed by the SRP key K)
//! and SECRET_HASH (keyed by the app client secret).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::encoding::LENIENT_BASE64;

type HmacSha256 = Hmac<Sha256>;

fn claim_mac(
    key: &[u8; 16],
    pool_name: &str,
    user_id_for_srp: &str,
    secret_block: &[u8],
    timestamp: &str,
) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    // No separators: the clients concatenate the raw bytes.
    mac.update(pool_name.as_bytes());
    mac.update(user_id_for_srp.as_bytes());
    mac.update(secret_block);
    mac.update(timestamp.as_bytes());
    mac.finalize().into_bytes().into()
}

/// base64 HMAC-SHA256(K, pool_name || user_id || secret_block || timestamp).
///
/// For device SRP pass the DeviceGroupKey as `pool_name` and the DeviceKey as
/// `user_id_for_srp` (that is what both reference clients sign). `secret_block` is the
/// base64-*decoded* SECRET_BLOCK; `timestamp` is the TIMESTAMP string exactly as sent.
pub fn claim_signature(
    key: &[u8; 16],
    pool_name: &str,
    user_id_for_srp: &str,
    secret_block: &[u8],
    timestamp: &str,
) -> String {
    STANDARD.encode(claim_mac(
        key,
        pool_name,
        user_id_for_srp,
        secret_block,
        timestamp,
    ))
}

/// Constant-time check of a PASSWORD_CLAIM_SIGNATURE (base64) against the expected one.
///
/// Accepts the signature with or without `=` padding; anything that does not decode to exactly
/// 32 bytes is a mismatch.
pub fn verify_claim_signature(
    key: &[u8; 16],
    pool_name: &str,
    user_id_for_srp: &str,
    secret_block: &[u8],
    timestamp: &str,
    signature_b64: &str,
) -> bool {
    let Ok(given) = LENIENT_BASE64.decode(signature_b64) else {
        return false;
    };
    let expected = claim_mac(key, pool_name, user_id_for_srp, secret_block, timestamp);
    // Length is public (always 32 for an honest client); only the content comparison must not
    // leak how many bytes matched.
    given.len() == expected.len() && bool::from(given.ct_eq(&expected))
}

/// SECRET_HASH = base64(HMAC-SHA256(client_secret, username || client_id)).
pub fn secret_hash(client_secret: &str, username: &str, client_id: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(client_secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    mac.update(client_id.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Constant-time check of a SECRET_HASH sent by a client (padding optional, like signatures).
pub fn verify_secret_hash(
    client_secret: &str,
    username: &str,
    client_id: &str,
    secret_hash_b64: &str,
) -> bool {
    let Ok(given) = LENIENT_BASE64.decode(secret_hash_b64) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(client_secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    mac.update(client_id.as_bytes());
    // `verify_slice` compares in constant time and refuses a wrong length.
    mac.verify_slice(&given).is_ok()
}
