//! Sealed Sessions: the state of a code challenge (SMS_MFA, EMAIL_OTP, SOFTWARE_TOKEN_MFA) travels
//! in the Session string itself, encrypted and authenticated, so opening such a challenge writes
//! nothing and answering it reads nothing but the user.
//!
//! Why this is safe without a stored row:
//! - The client can neither read nor change the state: AES-256-GCM under a key derived from the
//!   key-encryption key (every node holds it), with a fresh key per Session (HKDF over a random
//!   salt), so no nonce budget is ever near its limit however many sign-ins a key serves.
//! - Expiry and client are inside the sealed state and checked on every answer.
//! - Single use rests on the answer's own once-only writes: the tokens' session is stored under
//!   the challenge's id (a second answer collides with it), a TOTP step is claimed once per user
//!   and a sent code is deleted when used.
//! - Wrong codes per Session are counted in a row written only when a code is wrong
//!   (`challenge_failures`), checked inside the write that issues the tokens.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::ChallengeState;

/// The first byte of a sealed Session: its format. A stored Session's handle is random bytes of a
/// fixed length, so the two kinds are told apart by length first.
const VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
/// Binds the ciphertext to its use: a value sealed for another purpose under a sibling key does
/// not open here.
const AAD: &[u8] = b"gatehouse/challenge-session/v1";

/// What a sealed Session carries.
#[derive(Serialize, Deserialize)]
pub struct SealedState {
    pub state: ChallengeState,
    /// The challenge's id: the tokens' session it ends in is stored under it (`origin_jti`).
    pub id: String,
    pub expires_ms: i64,
}

/// Seals and opens code challenges' Sessions. Public so that tests can open a Session the server
/// sealed and seal a changed one (an expired one, say) as a node would.
#[derive(Clone)]
pub struct SessionSeal {
    key: zeroize::Zeroizing<[u8; 32]>,
}

impl SessionSeal {
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            key: zeroize::Zeroizing::new(key),
        }
    }

    fn cipher(&self, salt: &[u8]) -> Aes256Gcm {
        let mut k = zeroize::Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<Sha256>::new(Some(salt), &self.key[..])
            .expand(AAD, &mut k[..])
            .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA-256 output length"));
        Aes256Gcm::new_from_slice(&k[..]).unwrap_or_else(|_| unreachable!("the key is 32 bytes"))
    }

    pub fn seal(&self, s: &SealedState) -> Option<String> {
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(s).ok()?);
        let mut head = [0u8; 1 + SALT_LEN + NONCE_LEN];
        head[0] = VERSION;
        rand::rngs::OsRng.fill_bytes(&mut head[1..]);
        let (salt, nonce) = head[1..].split_at(SALT_LEN);
        let ct = self
            .cipher(salt)
            .encrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: &plain,
                    aad: AAD,
                },
            )
            .ok()?;
        let mut out = Vec::with_capacity(head.len() + ct.len());
        out.extend_from_slice(&head);
        out.extend_from_slice(&ct);
        Some(URL_SAFE_NO_PAD.encode(out))
    }

    /// The state of a sealed Session as the client holds it.
    pub fn open_session(&self, session: &str) -> Option<SealedState> {
        self.open(&URL_SAFE_NO_PAD.decode(session.trim_end_matches('=')).ok()?)
    }

    /// The state of a sealed Session (its raw bytes), or None when it was not sealed here or was
    /// changed. Expiry and client are the caller's to check.
    pub fn open(&self, raw: &[u8]) -> Option<SealedState> {
        let head = 1 + SALT_LEN + NONCE_LEN;
        if raw.len() <= head || raw[0] != VERSION {
            return None;
        }
        let (salt, rest) = raw[1..].split_at(SALT_LEN);
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let plain = zeroize::Zeroizing::new(
            self.cipher(salt)
                .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: AAD })
                .ok()?,
        );
        serde_json::from_slice(&plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::MfaState;

    fn sample() -> SealedState {
        SealedState {
            state: ChallengeState {
                pool_id: "us-east-1_pool".into(),
                client_id: "client".into(),
                user_id: Some("user-id".into()),
                username: "alice".into(),
                challenge: "SMS_MFA".into(),
                admin: false,
                srp: None,
                auth_time_s: Some(1),
                device_key: None,
                mfa: Some(MfaState::Code {
                    destination: "+15555550100".into(),
                    set_up: false,
                }),
                tries: 0,
                custom: None,
            },
            id: "6f1c0a52-9d0e-4f43-9a49-51c9d0a1b2c3".into(),
            expires_ms: 42,
        }
    }

    fn raw(session: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(session).unwrap()
    }

    #[test]
    fn a_sealed_session_opens_to_its_state_and_hides_it() {
        let seal = SessionSeal::new([7; 32]);
        let session = seal.seal(&sample()).unwrap();
        // Nothing of the state is readable in the Session.
        for secret in ["alice", "5555550100", "user-id", "6f1c0a52"] {
            assert!(!session.contains(secret), "{secret} in {session}");
        }
        let opened = seal.open(&raw(&session)).unwrap();
        assert_eq!(opened.id, sample().id);
        assert_eq!(opened.expires_ms, 42);
        assert_eq!(opened.state.username, "alice");
        assert!(
            session.len() >= 20 && session.len() <= 2048,
            "{}",
            session.len()
        );
    }

    #[test]
    fn two_seals_of_one_state_differ() {
        let seal = SessionSeal::new([7; 32]);
        assert_ne!(seal.seal(&sample()), seal.seal(&sample()));
    }

    #[test]
    fn a_changed_or_foreign_session_does_not_open() {
        let seal = SessionSeal::new([7; 32]);
        let mut bytes = raw(&seal.seal(&sample()).unwrap());
        assert!(SessionSeal::new([8; 32]).open(&bytes).is_none());
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(seal.open(&bytes).is_none());
        bytes[last] ^= 1;
        bytes[20] ^= 0x80;
        assert!(seal.open(&bytes).is_none());
        assert!(seal.open(&[VERSION; 20]).is_none());
        assert!(seal.open(&[]).is_none());
    }
}
