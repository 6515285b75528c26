//! Challenge sessions: the state between InitiateAuth and RespondToAuthChallenge. Two kinds:
//!
//! - Stored: the client holds a random handle; the database holds the state (sealed) under the
//!   handle's hash, so any node can continue a sign-in, and taking it deletes it, so each Session
//!   answers one challenge only. Every challenge but the code challenges is stored: SRP's state
//!   must not be answerable twice, and MFA_SETUP's changes as the user sets a factor up.
//! - Sealed ([`sealed`]): a code challenge (SMS_MFA, EMAIL_OTP, SOFTWARE_TOKEN_MFA) carries its
//!   state in the Session string, so the hot MFA path writes no challenge row; the answer's own
//!   once-only writes make it single-use (see `sealed`).
//!
//! SRP's SECRET_BLOCK carries the same handle: some clients answer PASSWORD_VERIFIER without the
//! Session and Cognito accepts that, so the block alone must find the state.

mod sealed;

pub use sealed::{SealedState, SessionSeal};

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use cognito_model::errors::ErrorCode;
use domain::ports::{ChallengeSessionRecord, Clock, Store};
use domain::{CognitoError, ServiceResult};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Wrong codes (MFA answers, VerifySoftwareToken during MFA_SETUP) one Session takes before it is
/// spent.
pub const WRONG_CODES_PER_SESSION: u32 = 3;

/// Sessions are longer than Cognito's minimum of 20 characters and say nothing about their state.
const HANDLE_BYTES: usize = 48;

/// The SRP half of a PASSWORD_VERIFIER step. `b` is the server's secret exponent: Debug hides
/// it (and so ChallengeState's Debug, which prints this, shows no secret either).
#[derive(Clone, Serialize, Deserialize)]
pub struct SrpStep {
    pub b: String,
    pub srp_b: String,
    pub srp_a: String,
}

impl std::fmt::Debug for SrpStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrpStep")
            .field("b", &"<redacted>")
            .field("srp_b", &self.srp_b)
            .field("srp_a", &self.srp_a)
            .finish()
    }
}

/// What the next challenge response is checked against.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChallengeState {
    pub pool_id: String,
    pub client_id: String,
    /// `None` for the simulated challenge of an unknown user (PreventUserExistenceErrors).
    pub user_id: Option<String>,
    /// The internal username (USER_ID_FOR_SRP).
    pub username: String,
    /// The ChallengeName this state answers, e.g. `PASSWORD_VERIFIER`.
    pub challenge: String,
    /// Started by an admin (SigV4) call: must be answered by the admin call too.
    pub admin: bool,
    #[serde(default)]
    pub srp: Option<SrpStep>,
    /// Seconds since the epoch when the password was proven (for `auth_time`).
    #[serde(default)]
    pub auth_time_s: Option<i64>,
    /// The DEVICE_KEY the client signs in from, if any.
    #[serde(default)]
    pub device_key: Option<String>,
    /// The second-factor step this state waits for.
    #[serde(default)]
    pub mfa: Option<MfaState>,
    /// Wrong answers given to this challenge so far (a code challenge allows a few).
    #[serde(default)]
    pub tries: u32,
    /// A CUSTOM_CHALLENGE round: what the custom-auth triggers need next.
    #[serde(default)]
    pub custom: Option<CustomRound>,
}

/// The state of a custom-auth round (see `custom_auth`). Its Debug hides the private
/// parameters: they usually hold the expected answer.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct CustomRound {
    /// The rounds so far, as DefineAuthChallenge's `session` lists them.
    pub history: Vec<serde_json::Value>,
    /// CreateAuthChallenge's privateChallengeParameters, for VerifyAuthChallengeResponse.
    pub private: serde_json::Value,
    /// CreateAuthChallenge's challengeMetadata, recorded in the round's history entry.
    pub metadata: Option<String>,
}

impl std::fmt::Debug for CustomRound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomRound")
            .field("history", &self.history)
            .field("private", &"<redacted>")
            .field("metadata", &self.metadata)
            .finish()
    }
}

/// The state of a second-factor step.
#[derive(Clone, Serialize, Deserialize)]
pub enum MfaState {
    /// SMS_MFA or EMAIL_OTP: the code went to `destination`. `set_up`: an address given at
    /// MFA_SETUP, which becomes the user's verified email when its code is answered.
    Code {
        destination: String,
        #[serde(default)]
        set_up: bool,
    },
    /// SOFTWARE_TOKEN_MFA.
    SoftwareToken,
    /// SELECT_MFA_TYPE: the factors offered (wire names).
    Choose { factors: Vec<String> },
    /// MFA_SETUP: the factors offered, the TOTP secret AssociateSoftwareToken handed out (hex),
    /// and whether VerifySoftwareToken confirmed it.
    Setup {
        factors: Vec<String>,
        totp_secret: Option<String>,
        verified: bool,
    },
    /// DEVICE_SRP_AUTH / DEVICE_PASSWORD_VERIFIER for a remembered device.
    Device { group_key: String },
}

impl std::fmt::Debug for MfaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MfaState::Code { .. } => f.write_str("Code"),
            MfaState::SoftwareToken => f.write_str("SoftwareToken"),
            MfaState::Choose { factors } => {
                f.debug_struct("Choose").field("factors", factors).finish()
            }
            MfaState::Setup {
                factors, verified, ..
            } => f
                .debug_struct("Setup")
                .field("factors", factors)
                .field("verified", verified)
                .finish_non_exhaustive(),
            MfaState::Device { .. } => f.write_str("Device"),
        }
    }
}

impl MfaState {
    /// Whether this step is answered with a code, and so travels sealed in its Session.
    fn is_code(&self) -> bool {
        matches!(self, MfaState::Code { .. } | MfaState::SoftwareToken)
    }
}

/// A state taken from its session, with what it takes to put it back (a wrong code may be
/// answered again under the same Session).
pub struct Taken {
    pub state: ChallengeState,
    id: String,
    origin: Origin,
}

enum Origin {
    Stored { id_hash: String, expires_ms: i64 },
    Sealed { expires_ms: i64 },
}

impl Taken {
    /// The challenge's id: the tokens' session it ends in is stored under it, so that the
    /// challenge ends in one session at most, and its sent code is bound to it. A sealed
    /// Session carries its own; a stored one (already deleted by the take) gets a fresh one.
    pub fn challenge_id(&self) -> &str {
        &self.id
    }
}

pub fn invalid_session() -> CognitoError {
    CognitoError::new(
        ErrorCode::NotAuthorizedException,
        "Invalid session for the user, session is expired.",
    )
}

fn hash(handle: &[u8]) -> String {
    hex::encode(Sha256::digest(handle))
}

/// An opened challenge: what the client gets back.
pub struct Opened {
    pub session: String,
    /// base64 of the handle, for SRP's SECRET_BLOCK (empty for a sealed Session).
    pub secret_block: String,
    /// A sealed Session's challenge id (see [`Taken::challenge_id`]).
    pub challenge_id: Option<String>,
}

#[derive(Clone)]
pub struct SessionBook {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    seal: sealed::SessionSeal,
}

impl SessionBook {
    /// `seal_key` seals code challenges' Sessions; every node must hold the same one.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, seal_key: [u8; 32]) -> Self {
        Self {
            store,
            clock,
            seal: sealed::SessionSeal::new(seal_key),
        }
    }

    /// Opens a challenge valid for `validity_minutes` (the client's AuthSessionValidity): a code
    /// challenge sealed into its Session, any other stored.
    pub async fn open(
        &self,
        state: &ChallengeState,
        validity_minutes: i64,
    ) -> ServiceResult<Opened> {
        let expires_ms = self.clock.now_ms() + validity_minutes * 60_000;
        if state.mfa.as_ref().is_some_and(MfaState::is_code) {
            let id = uuid::Uuid::new_v4().to_string();
            let session = self
                .seal
                .seal(&sealed::SealedState {
                    state: state.clone(),
                    id: id.clone(),
                    expires_ms,
                })
                .ok_or_else(CognitoError::internal)?;
            // No SRP step answers a code challenge, so its SECRET_BLOCK is never asked for.
            return Ok(Opened {
                session,
                secret_block: String::new(),
                challenge_id: Some(id),
            });
        }
        let mut handle = [0u8; HANDLE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut handle);
        let json = serde_json::to_string(state).map_err(|_| CognitoError::internal())?;
        self.store
            .insert_challenge_session(&ChallengeSessionRecord {
                id_hash: hash(&handle),
                pool_id: state.pool_id.clone(),
                client_id: state.client_id.clone(),
                state: json,
                expires_ms,
            })
            .await?;
        Ok(Opened {
            session: URL_SAFE_NO_PAD.encode(handle),
            secret_block: STANDARD.encode(handle),
            challenge_id: None,
        })
    }

    /// Takes the state a Session names, if it is the client's and has not expired.
    pub async fn take_session(
        &self,
        session: &str,
        client_id: &str,
    ) -> ServiceResult<ChallengeState> {
        Ok(self
            .take_session_restorable(session, client_id)
            .await?
            .state)
    }

    /// As [`Self::take_session`], keeping what [`Self::restore`] needs.
    pub async fn take_session_restorable(
        &self,
        session: &str,
        client_id: &str,
    ) -> ServiceResult<Taken> {
        let raw = URL_SAFE_NO_PAD
            .decode(session.trim_end_matches('='))
            .map_err(|_| invalid_session())?;
        if raw.len() == HANDLE_BYTES {
            return self.take(&raw, client_id).await;
        }
        let sealed = self.seal.open(&raw).ok_or_else(invalid_session)?;
        if sealed.expires_ms <= self.clock.now_ms()
            || (!client_id.is_empty() && sealed.state.client_id != client_id)
        {
            return Err(invalid_session());
        }
        Ok(Taken {
            state: sealed.state,
            id: sealed.id,
            origin: Origin::Sealed {
                expires_ms: sealed.expires_ms,
            },
        })
    }

    /// Refuses a sealed Session whose challenge already ended in a session (a stored one was
    /// deleted when taken, so it cannot be here twice). For answers that would otherwise be
    /// compared (and counted) before the write that starts the session sees it.
    pub async fn ensure_unanswered(&self, taken: &Taken) -> ServiceResult<()> {
        if matches!(taken.origin, Origin::Sealed { .. })
            && self.store.challenge_answered(&taken.id).await?
        {
            return Err(invalid_session());
        }
        Ok(())
    }

    /// Counts a wrong code against a taken Session. A stored Session is put back while it has
    /// tries left ([`WRONG_CODES_PER_SESSION`]); a sealed one is counted by its id. Err
    /// (invalid session) when the Session had no tries left, so the wrong code was not even
    /// looked at; Ok when it was a counted try (after the last one the Session is spent).
    pub async fn retry_after_wrong_code(&self, mut taken: Taken) -> ServiceResult<()> {
        match &taken.origin {
            Origin::Sealed { expires_ms } => {
                let wrong = self
                    .store
                    .count_challenge_failure(&taken.id, *expires_ms)
                    .await?;
                if wrong > i64::from(WRONG_CODES_PER_SESSION) {
                    return Err(invalid_session());
                }
            }
            Origin::Stored { .. } => {
                taken.state.tries += 1;
                if taken.state.tries < WRONG_CODES_PER_SESSION {
                    self.restore(taken).await?;
                }
            }
        }
        Ok(())
    }

    /// Puts a taken state back under its Session, with its original expiry (a sealed Session
    /// was never taken from anywhere).
    pub async fn restore(&self, taken: Taken) -> ServiceResult<()> {
        let Origin::Stored {
            id_hash,
            expires_ms,
        } = taken.origin
        else {
            return Ok(());
        };
        let json = serde_json::to_string(&taken.state).map_err(|_| CognitoError::internal())?;
        self.store
            .insert_challenge_session(&ChallengeSessionRecord {
                id_hash,
                pool_id: taken.state.pool_id.clone(),
                client_id: taken.state.client_id.clone(),
                state: json,
                expires_ms,
            })
            .await?;
        Ok(())
    }

    /// Takes the state a SECRET_BLOCK names.
    pub async fn take_secret_block(
        &self,
        block: &str,
        client_id: &str,
    ) -> ServiceResult<ChallengeState> {
        let handle = STANDARD.decode(block).map_err(|_| invalid_session())?;
        Ok(self.take(&handle, client_id).await?.state)
    }

    async fn take(&self, handle: &[u8], client_id: &str) -> ServiceResult<Taken> {
        if handle.len() != HANDLE_BYTES {
            return Err(invalid_session());
        }
        // Taken only when it is this client's: an answer through another client is refused
        // without using the session up.
        let rec = self
            .store
            .take_challenge_session(&hash(handle), client_id)
            .await?
            .ok_or_else(invalid_session)?;
        if rec.expires_ms <= self.clock.now_ms()
            || (!client_id.is_empty() && rec.client_id != client_id)
        {
            return Err(invalid_session());
        }
        let state = serde_json::from_str(&rec.state).map_err(|_| invalid_session())?;
        Ok(Taken {
            state,
            id: uuid::Uuid::new_v4().to_string(),
            origin: Origin::Stored {
                id_hash: rec.id_hash,
                expires_ms: rec.expires_ms,
            },
        })
    }

    /// Whether a SECRET_BLOCK is the base64 of this Session's handle.
    pub fn same_handle(session: &str, block: &str) -> bool {
        match (
            URL_SAFE_NO_PAD.decode(session.trim_end_matches('=')),
            STANDARD.decode(block),
        ) {
            (Ok(a), Ok(b)) => subtle::ConstantTimeEq::ct_eq(&a[..], &b[..]).into(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_challenge_state_hides_the_srp_secret() {
        let state = ChallengeState {
            pool_id: "p".into(),
            client_id: "c".into(),
            user_id: Some("u".into()),
            username: "alice".into(),
            challenge: "PASSWORD_VERIFIER".into(),
            admin: false,
            srp: Some(SrpStep {
                b: "5ec7e75ec7e7".into(),
                srp_b: "0b0b".into(),
                srp_a: "0a0a".into(),
            }),
            auth_time_s: None,
            device_key: None,
            mfa: Some(MfaState::Setup {
                factors: vec![],
                totp_secret: Some("70707070".into()),
                verified: false,
            }),
            tries: 0,
            custom: None,
        };
        let shown = format!("{state:?} {state:#?} {:?}", state.srp);
        assert!(!shown.contains("5ec7e7"), "{shown}");
        assert!(!shown.contains("7070"), "{shown}");
        assert!(shown.contains("alice") && shown.contains("0b0b"), "{shown}");
    }
}
