//! Secrets at rest. Client secrets, signing keys, SRP verifiers and TOTP secrets are sealed with
//! AES-256-GCM under a configured key-encryption key (KEK) before they reach a database row.
//!
//! A sealed value is `gh1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`. The key id (the first 8 hex
//! digits of SHA-256 of the key) lets a node hold the current KEK plus retired ones, so a KEK can be
//! rotated: new values are sealed with the current key, old ones still open. Each value is bound to
//! where it lives through the associated data (e.g. `client-secret/<pool>/<client>`), so a sealed
//! value copied into another row does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use domain::ports::StoreError;
use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "gh1";
const NONCE_LEN: usize = 12;

/// A 256-bit key-encryption key.
#[derive(Clone)]
pub struct Kek([u8; 32]);

impl Kek {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Kek(bytes)
    }

    /// Parses the base64 (standard or URL-safe) form used in configuration.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| "the key-encryption key is not valid base64".to_string())?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| {
            "the key-encryption key must be 32 bytes (44 base64 characters)".to_string()
        })?;
        Ok(Kek(arr))
    }

    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Kek(k)
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// A key for another purpose, derived with HKDF-SHA-256 (RFC 5869) so the KEK itself is used
    /// only for sealing and each purpose's key reveals nothing about the others. `info` names the
    /// purpose, e.g. `gatehouse/one-time-codes/v1`.
    pub fn derive(&self, info: &str) -> zeroize::Zeroizing<[u8; 32]> {
        let mut out = zeroize::Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<Sha256>::new(None, &self.0)
            .expand(info.as_bytes(), &mut out[..])
            .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA-256 output length"));
        out
    }

    /// A short public fingerprint, safe to log.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.0)[..4])
    }
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kek({})", self.id())
    }
}

pub struct Sealer {
    /// The current key first, then retired keys that still open old values.
    keys: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field(
                "keys",
                &self.keys.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Sealer {
    pub fn new(current: &Kek, retired: &[Kek]) -> Self {
        let keys = std::iter::once(current)
            .chain(retired.iter())
            .map(|k| {
                (
                    k.id(),
                    Aes256Gcm::new_from_slice(&k.0).expect("32-byte key"),
                )
            })
            .collect();
        Sealer { keys }
    }

    /// A sealer with a random key that lives only as long as the process (tests, throwaway stores).
    pub fn ephemeral() -> Self {
        Sealer::new(&Kek::generate(), &[])
    }

    pub fn current_key_id(&self) -> &str {
        &self.keys[0].0
    }

    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce cannot fail for in-memory buffers.
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut blob = Vec::with_capacity(NONCE_LEN + ct.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ct);
        format!("{PREFIX}.{id}.{}", URL_SAFE_NO_PAD.encode(blob))
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, StoreError> {
        let bad = |why: &str| StoreError::Backend(format!("sealed value for {context} {why}"));
        let mut parts = sealed.splitn(3, '.');
        if parts.next() != Some(PREFIX) {
            return Err(bad("has an unknown format"));
        }
        let id = parts.next().ok_or_else(|| bad("has no key id"))?;
        let blob = URL_SAFE_NO_PAD
            .decode(parts.next().ok_or_else(|| bad("has no body"))?)
            .map_err(|_| bad("is not base64"))?;
        if blob.len() < NONCE_LEN + 16 {
            return Err(bad("is truncated"));
        }
        let (_, cipher) = self.keys.iter().find(|(k, _)| k == id).ok_or_else(|| {
            bad(&format!(
                "was sealed with key {id}, which this node does not hold"
            ))
        })?;
        let (nonce, ct) = blob.split_at(NONCE_LEN);
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| bad("does not open (wrong key, or moved from another row)"))
    }

    pub fn open_string(&self, context: &str, sealed: &str) -> Result<String, StoreError> {
        String::from_utf8(self.open(context, sealed)?)
            .map_err(|_| StoreError::Backend(format!("sealed value for {context} is not text")))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn derived_keys_are_stable_and_separate() {
        let kek = Kek::from_bytes([3u8; 32]);
        let a = kek.derive("gatehouse/one-time-codes/v1");
        assert_eq!(*a, *kek.derive("gatehouse/one-time-codes/v1"));
        assert_ne!(*a, *kek.derive("gatehouse/other/v1"));
        assert_ne!(
            *a,
            *Kek::from_bytes([4u8; 32]).derive("gatehouse/one-time-codes/v1")
        );
        assert_ne!(&a[..], &[3u8; 32][..]);
    }

    use super::*;

    #[test]
    fn round_trip_binds_context_and_hides_plaintext() {
        let s = Sealer::ephemeral();
        let sealed = s.seal("client-secret/p/c", b"hunter2-secret");
        assert!(sealed.starts_with("gh1."));
        assert!(!sealed.contains("hunter2"));
        assert_eq!(
            s.open("client-secret/p/c", &sealed).unwrap(),
            b"hunter2-secret"
        );
        assert!(
            s.open("client-secret/p/other", &sealed).is_err(),
            "bound to its row"
        );
        let again = s.seal("client-secret/p/c", b"hunter2-secret");
        assert_ne!(sealed, again, "fresh nonce each time");
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let old = Kek::generate();
        let new = Kek::generate();
        let before = Sealer::new(&old, &[]).seal("x", b"v");
        let rotated = Sealer::new(&new, std::slice::from_ref(&old));
        assert_eq!(rotated.open("x", &before).unwrap(), b"v");
        assert!(rotated.seal("x", b"v").contains(&new.id()));
        assert!(
            Sealer::new(&new, &[]).open("x", &before).is_err(),
            "without the old key it does not open"
        );
    }

    #[test]
    fn tampering_is_detected() {
        let s = Sealer::ephemeral();
        let sealed = s.seal("x", b"value");
        let mut chars: Vec<char> = sealed.chars().collect();
        let last = chars.len() - 3;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert!(s.open("x", &tampered).is_err());
        assert!(s.open("x", "plain").is_err());
    }

    #[test]
    fn kek_parsing() {
        let k = Kek::generate();
        assert_eq!(Kek::from_base64(&k.to_base64()).unwrap().id(), k.id());
        assert!(Kek::from_base64("c2hvcnQ=").is_err());
        assert!(!format!("{k:?}").contains(&k.to_base64()));
    }
}
