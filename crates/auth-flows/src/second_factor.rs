//! The second factor of a sign-in: after the password (USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH,
//! SRP, NEW_PASSWORD_REQUIRED) a remembered device proves itself (DEVICE_SRP_AUTH), or the user
//! answers an MFA challenge (SMS_MFA, SOFTWARE_TOKEN_MFA, EMAIL_OTP), chooses one
//! (SELECT_MFA_TYPE) or sets one up (MFA_SETUP), as `mfa::decide` says.
//!
//! A locked-out user's code is refused (in the write that would start the session, for a right
//! code), and a wrong code counts in the sign-in lockout. A wrong code answers
//! CodeMismatchException and leaves the Session usable for a few more tries; a TOTP code is
//! accepted once per user across all nodes (the store's step counter), and a code challenge
//! ends in one session at most (its id keys the session).

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::ChallengeNameType;
use domain::ports::{DeliveryChannel, MfaFactor, UserMfaRecord, UserRecord};
use domain::services::directory::codes::mask;
use domain::services::DirectoryService;
use domain::{CognitoError, ServiceResult};
use mfa::{MfaStep, UserMeans};

use crate::client_gate::missing;
use crate::flows::{param, Candidate, Params, Step};
use crate::session_tokens::AnsweredChallenge;
use crate::sessions::{invalid_session, ChallengeState, MfaState, Taken};
use crate::{lockout, AuthService};

/// A wrong code: Cognito's wording differs between a TOTP code and a sent one.
pub(crate) fn code_mismatch(sent: bool) -> CognitoError {
    let message = if sent {
        "Invalid code or auth state for the user."
    } else {
        "Invalid code received for user"
    };
    CognitoError::new(ErrorCode::CodeMismatchException, message)
}

pub(crate) fn token_used() -> CognitoError {
    CognitoError::new(
        ErrorCode::ExpiredCodeException,
        "Your software token has already been used once.",
    )
}

pub(crate) fn means(user: &UserRecord) -> UserMeans {
    UserMeans {
        phone_number: DirectoryService::attribute(user, "phone_number").is_some(),
        email: DirectoryService::attribute(user, "email").is_some(),
    }
}

fn challenge_name(f: MfaFactor) -> ChallengeNameType {
    match f {
        MfaFactor::Sms => ChallengeNameType::SmsMfa,
        MfaFactor::SoftwareToken => ChallengeNameType::SoftwareTokenMfa,
        MfaFactor::Email => ChallengeNameType::EmailOtp,
    }
}

fn factor_list(factors: &[MfaFactor]) -> String {
    let names: Vec<&str> = factors.iter().map(|f| f.as_str()).collect();
    serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())
}

impl AuthService {
    /// The step after the first factor: device SRP for a remembered device, else the MFA the
    /// pool and user call for, else tokens.
    pub(crate) async fn second_factor(
        &self,
        c: &Candidate<'_>,
        user: &UserRecord,
        auth_time_s: i64,
        device_key: Option<String>,
    ) -> ServiceResult<Step> {
        let device_key = match device_key {
            Some(k) if c.pool.record.settings.pool.device_configuration.is_some() => {
                let device = self.store.device(&c.pool.record.id, &k).await?;
                match device {
                    Some(d) if d.user_id == user.id => {
                        if d.remembered && d.verifier.is_some() {
                            return self.device_challenge(c, user, auth_time_s, d).await;
                        }
                        Some(k)
                    }
                    // Clients forget a device key this answer names and sign in again without.
                    _ => {
                        return Err(CognitoError::resource_not_found("Device does not exist."));
                    }
                }
            }
            _ => None,
        };
        let settings = &c.pool.record.settings;
        let mode = settings.mfa_mode();
        let record = if mode == cognito_model::shapes::UserPoolMfaType::Off {
            None
        } else {
            self.store.user_mfa(&user.pool_id, &user.id).await?
        };
        let mut state = self.challenge_state(c, user, auth_time_s, device_key.clone());
        match mfa::decide(mode, settings.mfa_factors(), record.as_ref(), means(user)) {
            MfaStep::None => self.finish(c, user, auth_time_s, device_key, None).await,
            MfaStep::Challenge(f) => self.mfa_challenge(c, user, state, f).await,
            MfaStep::Select(factors) => {
                state.challenge = ChallengeNameType::SelectMfaType.as_str().into();
                state.mfa = Some(MfaState::Choose {
                    factors: factors.iter().map(|f| f.as_str().to_string()).collect(),
                });
                let mut params = Params::new();
                params.insert("MFAS_CAN_CHOOSE".into(), factor_list(&factors));
                self.open_challenge(c, state, ChallengeNameType::SelectMfaType, params)
                    .await
            }
            MfaStep::Setup(factors) => {
                state.challenge = ChallengeNameType::MfaSetup.as_str().into();
                state.mfa = Some(MfaState::Setup {
                    factors: factors.iter().map(|f| f.as_str().to_string()).collect(),
                    totp_secret: None,
                    verified: false,
                });
                let mut params = Params::new();
                params.insert("MFAS_CAN_SETUP".into(), factor_list(&factors));
                self.open_challenge(c, state, ChallengeNameType::MfaSetup, params)
                    .await
            }
        }
    }

    pub(crate) fn challenge_state(
        &self,
        c: &Candidate<'_>,
        user: &UserRecord,
        auth_time_s: i64,
        device_key: Option<String>,
    ) -> ChallengeState {
        ChallengeState {
            pool_id: c.pool.record.id.clone(),
            client_id: c.client.record.client_id.clone(),
            user_id: Some(user.id.clone()),
            username: user.username.clone(),
            challenge: String::new(),
            admin: c.admin,
            srp: None,
            auth_time_s: Some(auth_time_s),
            device_key,
            mfa: None,
            tries: 0,
            custom: None,
        }
    }

    /// Stores the state under a new Session and answers the challenge, with USER_ID_FOR_SRP.
    pub(crate) async fn open_challenge(
        &self,
        c: &Candidate<'_>,
        state: ChallengeState,
        name: ChallengeNameType,
        mut params: Params,
    ) -> ServiceResult<Step> {
        params.insert("USER_ID_FOR_SRP".into(), state.username.clone());
        let opened = self
            .sessions
            .open(&state, self.session_minutes(c.client))
            .await?;
        Ok(Step::Challenge {
            name,
            session: opened.session,
            params,
        })
    }

    /// Sends the code of an SMS or email factor (none for TOTP) to the user's own address and
    /// asks for it.
    async fn mfa_challenge(
        &self,
        c: &Candidate<'_>,
        user: &UserRecord,
        state: ChallengeState,
        f: MfaFactor,
    ) -> ServiceResult<Step> {
        let destination = match f {
            MfaFactor::Sms => Some("phone_number"),
            MfaFactor::Email => Some("email"),
            MfaFactor::SoftwareToken => None,
        }
        .map(|attribute| {
            DirectoryService::attribute(user, attribute)
                .map(str::to_string)
                .ok_or_else(|| mfa::preferences::cannot_enable(f))
        })
        .transpose()?;
        self.code_challenge(c, user, state, f, destination, false)
            .await
    }

    /// Asks for the code of factor `f`, first sending it to `destination` (SMS and email).
    /// `set_up`: the destination is an address being set up (see `answer_mfa_setup`).
    async fn code_challenge(
        &self,
        c: &Candidate<'_>,
        user: &UserRecord,
        mut state: ChallengeState,
        f: MfaFactor,
        destination: Option<String>,
        set_up: bool,
    ) -> ServiceResult<Step> {
        let name = challenge_name(f);
        state.challenge = name.as_str().into();
        let mut params = Params::new();
        let channel = match f {
            MfaFactor::Sms => Some((DeliveryChannel::Sms, "SMS")),
            MfaFactor::Email => Some((DeliveryChannel::Email, "EMAIL")),
            MfaFactor::SoftwareToken => None,
        };
        let send = match (channel, destination) {
            (Some((channel, medium)), Some(destination)) => {
                params.insert("CODE_DELIVERY_DELIVERY_MEDIUM".into(), medium.into());
                params.insert(
                    "CODE_DELIVERY_DESTINATION".into(),
                    mask(channel, &destination),
                );
                state.mfa = Some(MfaState::Code {
                    destination: destination.clone(),
                    set_up,
                });
                Some((channel, destination))
            }
            (Some(_), None) => return Err(mfa::preferences::cannot_enable(f)),
            (None, _) => {
                let record = self.store.user_mfa(&user.pool_id, &user.id).await?;
                if let Some(name) = record.and_then(|r| r.totp_name) {
                    params.insert("FRIENDLY_DEVICE_NAME".into(), name);
                }
                state.mfa = Some(MfaState::SoftwareToken);
                None
            }
        };
        params.insert("USER_ID_FOR_SRP".into(), state.username.clone());
        // A code challenge's Session is sealed (nothing is stored), so it is made first and its
        // code, bound to its id, sent after.
        let opened = self
            .sessions
            .open(&state, self.session_minutes(c.client))
            .await?;
        if let Some((channel, destination)) = send {
            let challenge = opened.challenge_id.as_deref().unwrap_or_default();
            self.services
                .directory
                .issue_mfa_code(c.pool, user, channel, &destination, challenge)
                .await?;
        }
        Ok(Step::Challenge {
            name,
            session: opened.session,
            params,
        })
    }

    /// SMS_MFA, EMAIL_OTP and SOFTWARE_TOKEN_MFA answers. A right code's checks (the lockout, a
    /// spent challenge, a used TOTP step) are made in the write that starts the session, so a
    /// right answer costs that one write; a wrong one is counted against the Session and the
    /// lockout.
    pub(crate) async fn answer_mfa_code(
        &self,
        c: &Candidate<'_>,
        taken: Option<Taken>,
        r: &Params,
    ) -> ServiceResult<Step> {
        let Some(taken) = taken else {
            return Err(missing("Session"));
        };
        let state = taken.state.clone();
        let (key, channel) = match state.challenge.as_str() {
            "SMS_MFA" => ("SMS_MFA_CODE", Some(DeliveryChannel::Sms)),
            "EMAIL_OTP" => ("EMAIL_OTP_CODE", Some(DeliveryChannel::Email)),
            _ => ("SOFTWARE_TOKEN_MFA_CODE", None),
        };
        let Some(code) = param(r, key) else {
            // Nothing was tried: the Session stays as it was.
            self.sessions.restore(taken).await?;
            return Err(missing(key));
        };
        let Some(user) = self.state_user(c, &state).await? else {
            return Err(invalid_session());
        };
        let mut totp_step = None;
        let right = match (channel, &state.mfa) {
            (Some(channel), Some(MfaState::Code { destination, .. })) => {
                // A sent code is used up when compared right, so a spent Session is refused
                // before it can use up (or be counted wrong against) a newer challenge's code.
                self.sessions.ensure_unanswered(&taken).await?;
                self.services
                    .directory
                    .take_mfa_code(
                        c.pool,
                        &user,
                        channel,
                        destination,
                        taken.challenge_id(),
                        code,
                    )
                    .await?
            }
            (None, Some(MfaState::SoftwareToken)) => {
                let record = self.store.user_mfa(&user.pool_id, &user.id).await?;
                let secret = record.and_then(|r| r.totp_secret);
                // The step is claimed with the session the tokens start (see `finish`).
                totp_step = secret.and_then(|s| mfa::totp::matching_step(&s, code, self.now_s()));
                totp_step.is_some()
            }
            _ => return Err(invalid_session()),
        };
        if !right {
            // A Session past its tries answers as a spent one, uncounted; otherwise the code
            // counts in the lockout, and a lock it earns (or one already there) answers as the
            // lock does.
            let now = self.clock.now_ms();
            if channel.is_none() {
                self.sessions.ensure_unanswered(&taken).await?;
            }
            self.sessions.retry_after_wrong_code(taken).await?;
            lockout::begin(&*self.store, &user.pool_id, &user.id, now).await?;
            return Err(code_mismatch(channel.is_some()));
        }
        let answered = AnsweredChallenge {
            challenge_id: taken.challenge_id().to_string(),
            totp_step,
        };
        let user = match &state.mfa {
            Some(MfaState::Code {
                destination,
                set_up: true,
            }) => self.email_set_up(c, &user, destination).await?,
            _ => user,
        };
        let auth_time = state.auth_time_s.unwrap_or_else(|| self.now_s());
        self.finish(
            c,
            &user,
            auth_time,
            state.device_key.clone(),
            Some(answered),
        )
        .await
    }

    /// The code sent to an address given at MFA_SETUP was answered: the address is the user's
    /// verified email now, and email MFA is enabled (and preferred, if nothing else is).
    async fn email_set_up(
        &self,
        c: &Candidate<'_>,
        user: &UserRecord,
        address: &str,
    ) -> ServiceResult<UserRecord> {
        let user = self
            .services
            .directory
            .set_proven_email(c.ctx, c.pool, user, address)
            .await?;
        self.enable_email_factor(&user).await?;
        Ok(user)
    }

    async fn enable_email_factor(&self, user: &UserRecord) -> ServiceResult<()> {
        let mut record = self
            .store
            .user_mfa(&user.pool_id, &user.id)
            .await?
            .unwrap_or_else(|| UserMfaRecord::new(&user.pool_id, &user.id));
        record.set_enabled(MfaFactor::Email, true);
        if record.preferred.is_none() {
            record.preferred = Some(MfaFactor::Email);
        }
        record.modified_ms = self.clock.now_ms();
        if !self.store.put_user_mfa(&record).await? {
            return Err(invalid_session());
        }
        Ok(())
    }

    /// SELECT_MFA_TYPE: the user picked one of the offered factors.
    pub(crate) async fn answer_mfa_choice(
        &self,
        c: &Candidate<'_>,
        state: ChallengeState,
        r: &Params,
    ) -> ServiceResult<Step> {
        let answer = param(r, "ANSWER").ok_or_else(|| missing("ANSWER"))?;
        let Some(MfaState::Choose { factors }) = &state.mfa else {
            return Err(invalid_session());
        };
        let Some(f) = MfaFactor::parse(answer).filter(|f| factors.iter().any(|n| n == f.as_str()))
        else {
            return Err(CognitoError::invalid_parameter(
                "Invalid ANSWER in ChallengeResponses.",
            ));
        };
        let Some(user) = self.state_user(c, &state).await? else {
            return Err(invalid_session());
        };
        let mut next = state.clone();
        next.mfa = None;
        next.tries = 0;
        self.mfa_challenge(c, &user, next, f).await
    }

    /// MFA_SETUP answered: after VerifySoftwareToken confirmed a TOTP secret on this Session,
    /// the sign-in completes; with an EMAIL the email factor is set up through an EMAIL_OTP.
    pub(crate) async fn answer_mfa_setup(
        &self,
        c: &Candidate<'_>,
        state: ChallengeState,
        r: &Params,
    ) -> ServiceResult<Step> {
        let Some(MfaState::Setup {
            factors, verified, ..
        }) = &state.mfa
        else {
            return Err(invalid_session());
        };
        let Some(user) = self.state_user(c, &state).await? else {
            return Err(invalid_session());
        };
        let auth_time = state.auth_time_s.unwrap_or_else(|| self.now_s());
        if *verified {
            return self
                .finish(c, &user, auth_time, state.device_key.clone(), None)
                .await;
        }
        let email_offered = factors.iter().any(|f| f == MfaFactor::Email.as_str());
        match param(r, "EMAIL") {
            Some(email) if email_offered => {
                let mut next = state.clone();
                next.mfa = None;
                next.tries = 0;
                match DirectoryService::attribute(&user, "email") {
                    // The user's own address: email MFA is on from here, and its code is asked.
                    Some(own) if own.eq_ignore_ascii_case(email) => {
                        self.enable_email_factor(&user).await?;
                        self.mfa_challenge(c, &user, next, MfaFactor::Email).await
                    }
                    // Setting a factor up must not move where an account's mail already goes.
                    Some(_) => Err(CognitoError::invalid_parameter(
                        "EMAIL must be the user's email address.",
                    )),
                    // A user without an address gets one: checked as an attribute write, sent a
                    // code, and written (verified) only when that code comes back.
                    None => {
                        let address = DirectoryService::check_mfa_email(c.pool, email)?;
                        self.code_challenge(c, &user, next, MfaFactor::Email, Some(address), true)
                            .await
                    }
                }
            }
            _ => Err(CognitoError::invalid_parameter(
                "Software token MFA must be verified with VerifySoftwareToken before answering MFA_SETUP.",
            )),
        }
    }
}
