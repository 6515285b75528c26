//! One-time codes as Cognito issues them: six digits, one outstanding per user and purpose (a new
//! one replaces the old), a lifetime per purpose, and the message that carries the code queued in
//! the same transaction as the code itself.
//!
//! Six digits are guessable, so codes are limited (see [`CodeLimits`]): failed attempts are
//! counted per user and purpose across re-issued codes, and codes issued are counted per user and
//! purpose, per destination and per pool. Every counter lives in the database, so the limits hold
//! across nodes and under parallel requests. Codes are stored as HMAC-SHA-256 under a key derived
//! from the key-encryption key, bound to the value they were sent to.

mod delivery;
mod settings;

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::CodeDeliveryDetailsType;
use rand::Rng;
use subtle::ConstantTimeEq;

pub use delivery::{delivery_details, mask, recovery_channel, recovery_options};
pub use settings::{CodeLimits, CodeSettings, MAX_FAILURE_WINDOW_MS};

use delivery::{mfa_message, verification_message};
use settings::{HOUR_MS, ISSUE_WINDOW_MS};

use super::DirectoryService;
use crate::error::{CognitoError, ServiceResult};
use crate::ports::{
    CodeLimit, CodeRecord, CodeWrite, DeliveryChannel, OutboundMessage, UserPoolView, UserRecord,
};

/// What a code is for, and how long it lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodePurpose {
    SignUp,
    ForgotPassword,
    VerifyEmail,
    VerifyPhone,
    /// A sign-in code (SMS_MFA, EMAIL_OTP): lives as long as the challenge it answers.
    MfaSms,
    MfaEmail,
}

impl CodePurpose {
    /// The code that verifies `attribute`, and the channel it goes out on: only `email` and
    /// `phone_number` can be verified.
    pub fn verifying(attribute: &str) -> Option<(CodePurpose, DeliveryChannel)> {
        match attribute {
            "email" => Some((CodePurpose::VerifyEmail, DeliveryChannel::Email)),
            "phone_number" => Some((CodePurpose::VerifyPhone, DeliveryChannel::Sms)),
            _ => None,
        }
    }

    /// The sign-in code sent on `channel`.
    fn mfa(channel: DeliveryChannel) -> CodePurpose {
        match channel {
            DeliveryChannel::Sms => CodePurpose::MfaSms,
            DeliveryChannel::Email => CodePurpose::MfaEmail,
        }
    }

    fn key(self) -> &'static str {
        match self {
            CodePurpose::SignUp => "sign_up",
            CodePurpose::ForgotPassword => "forgot_password",
            CodePurpose::VerifyEmail => "verify:email",
            CodePurpose::VerifyPhone => "verify:phone_number",
            CodePurpose::MfaSms => "mfa:sms",
            CodePurpose::MfaEmail => "mfa:email",
        }
    }

    fn lifetime_ms(self) -> i64 {
        match self {
            CodePurpose::SignUp | CodePurpose::VerifyEmail | CodePurpose::VerifyPhone => {
                24 * HOUR_MS
            }
            CodePurpose::ForgotPassword => HOUR_MS,
            // Cognito's longest AuthSessionValidity: the session decides first.
            CodePurpose::MfaSms | CodePurpose::MfaEmail => 15 * 60 * 1000,
        }
    }

    /// Codes that mark an address verified prove only the address they went to, so they are
    /// bound to it. A recovery code proves control of the account's recovery channel, whichever
    /// it was; binding it would only break resets when a user's address changes meanwhile.
    fn binds_destination(self) -> bool {
        !matches!(self, CodePurpose::ForgotPassword)
    }

    fn bound(self, destination: &str) -> &str {
        if self.binds_destination() {
            destination
        } else {
            ""
        }
    }
}

/// What a sign-in code's hash is bound to: its address and the challenge it was sent for, so a
/// code answers that challenge only (a Session replayed after a newer sign-in sent a new code
/// cannot use it).
fn mfa_binding(destination: &str, challenge: &str) -> String {
    format!("{destination}\n{challenge}")
}

/// Who a counted code is for: a user, or a username nobody has (answered as if it existed when
/// the client hides user existence).
#[derive(Clone, Copy, Debug)]
pub enum CodeSubject<'a> {
    User(&'a UserRecord),
    Unknown(&'a str),
}

/// A code that was checked and found right, not yet used up.
#[derive(Debug)]
pub struct CheckedCode {
    purpose: CodePurpose,
    pool_id: String,
    user_id: String,
    code_hash: String,
}

/// Six random digits.
fn new_code() -> String {
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32))
}

pub fn code_mismatch() -> CognitoError {
    CognitoError::new(
        ErrorCode::CodeMismatchException,
        "Invalid verification code provided, please try again.",
    )
}

/// What ConfirmSignUp, ConfirmForgotPassword and VerifyUserAttribute answer once the user has
/// used up the wrong codes the window allows, and what every code-sending call answers over one
/// of its limits. Cognito answers LimitExceededException in both cases (as clients report it after
/// repeated wrong codes and resends), not TooManyFailedAttemptsException, which
/// VerifyUserAttribute's model does not even list.
pub fn attempt_limit_exceeded() -> CognitoError {
    CognitoError::new(
        ErrorCode::LimitExceededException,
        "Attempt limit exceeded, please try after some time.",
    )
}

fn code_expired() -> CognitoError {
    CognitoError::new(
        ErrorCode::ExpiredCodeException,
        "Invalid code provided, please request a code again.",
    )
}

impl DirectoryService {
    fn failure_limit(&self, scope: String) -> CodeLimit {
        let l = self.codes.limits();
        CodeLimit {
            scope,
            limit: i64::from(l.failures),
            window_ms: l.failure_window_ms,
            charge: true,
        }
    }

    /// The counter `kind` keeps for a subject and purpose: per user id, or per typed name (held
    /// only as a keyed tag) for a name the client hides.
    fn subject_scope(&self, kind: &str, subject: CodeSubject<'_>, purpose: CodePurpose) -> String {
        match subject {
            CodeSubject::User(u) => format!("{kind}:{}:{}", purpose.key(), u.id),
            CodeSubject::Unknown(name) => format!(
                "{kind}-name:{}:{}",
                purpose.key(),
                self.codes.tag("name", name)
            ),
        }
    }

    fn failure_scope(&self, subject: CodeSubject<'_>, purpose: CodePurpose) -> String {
        self.subject_scope("fail", subject, purpose)
    }

    /// An address as the per-destination counters key it: keyed under the server's secret (the
    /// counters hold no address), email case-insensitively.
    fn destination_tag(&self, channel: DeliveryChannel, destination: &str) -> String {
        match channel {
            DeliveryChannel::Email => self.codes.tag("email", &destination.to_lowercase()),
            DeliveryChannel::Sms => self.codes.tag("sms", destination),
        }
    }

    /// The counters a code for `subject` must stay under. `sent`: a real message goes out (then
    /// the destination and the pool are charged; a code answered but not sent only needs the
    /// pool to have room, so that a full pool answers alike for every name).
    fn issue_limits(
        &self,
        subject: CodeSubject<'_>,
        purpose: CodePurpose,
        sent: Option<(DeliveryChannel, &str)>,
    ) -> Vec<CodeLimit> {
        let l = *self.codes.limits();
        let hour = |scope: String, limit: u32, charge: bool| CodeLimit {
            scope,
            limit: i64::from(limit),
            window_ms: ISSUE_WINDOW_MS,
            charge,
        };
        let mut limits = Vec::new();
        // While the purpose is locked by wrong codes no new code is sent either: a fresh code
        // must not come with fresh guesses.
        let mut locked = self.failure_limit(self.failure_scope(subject, purpose));
        locked.charge = false;
        limits.push(locked);
        if l.per_user > 0 {
            let scope = self.subject_scope("issue", subject, purpose);
            limits.push(hour(scope, l.per_user, true));
        }
        if let (Some((channel, dest)), true) = (sent, l.per_destination > 0) {
            let scope = format!("dest:{}", self.destination_tag(channel, dest));
            limits.push(hour(scope, l.per_destination, true));
        }
        if l.per_pool > 0 {
            limits.push(hour("pool".to_string(), l.per_pool, sent.is_some()));
        }
        limits
    }

    /// Issues a new code for the user and queues the message carrying it to `destination`,
    /// within the limits: LimitExceededException when one is reached.
    pub async fn issue_code(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
        purpose: CodePurpose,
        channel: DeliveryChannel,
        destination: &str,
    ) -> ServiceResult<CodeDeliveryDetailsType> {
        let limits = self.issue_limits(
            CodeSubject::User(user),
            purpose,
            Some((channel, destination)),
        );
        self.store_code(pool, user, purpose, channel, destination, &limits)
            .await
    }

    /// A code an administrator asked for (AdminResetUserPassword, an address set by
    /// AdminUpdateUserAttributes): signed and trusted, so not limited.
    pub async fn issue_code_unlimited(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
        purpose: CodePurpose,
        channel: DeliveryChannel,
        destination: &str,
    ) -> ServiceResult<CodeDeliveryDetailsType> {
        self.store_code(pool, user, purpose, channel, destination, &[])
            .await
    }

    async fn store_code(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
        purpose: CodePurpose,
        channel: DeliveryChannel,
        destination: &str,
        limits: &[CodeLimit],
    ) -> ServiceResult<CodeDeliveryDetailsType> {
        let code = new_code();
        let (subject, body) =
            verification_message(&pool.record.settings.pool, channel, &user.username, &code);
        self.put_code(
            pool,
            user,
            purpose,
            channel,
            (destination, purpose.bound(destination)),
            &code,
            subject,
            body,
            limits,
        )
        .await
    }

    /// Stores `code` and queues its message, within `limits`. `to` is the destination and what
    /// the code's hash is bound to.
    #[allow(clippy::too_many_arguments)]
    async fn put_code(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
        purpose: CodePurpose,
        channel: DeliveryChannel,
        (destination, bound): (&str, &str),
        code: &str,
        subject: Option<String>,
        body: String,
        limits: &[CodeLimit],
    ) -> ServiceResult<CodeDeliveryDetailsType> {
        let now = self.clock.now_ms();
        let (from, reply_to) = match channel {
            DeliveryChannel::Email => super::invitations::email_sender(&pool.record.settings.pool),
            DeliveryChannel::Sms => (None, None),
        };
        let message = OutboundMessage {
            pool_id: pool.record.id.clone(),
            purpose: purpose.key().to_string(),
            channel,
            username: user.username.clone(),
            destination: destination.to_string(),
            subject,
            body,
            from,
            reply_to,
        };
        let record = CodeRecord {
            pool_id: pool.record.id.clone(),
            user_id: user.id.clone(),
            purpose: purpose.key().to_string(),
            code_hash: self
                .codes
                .code_hash(&pool.record.id, &user.id, purpose.key(), bound, code),
            expires_ms: now + purpose.lifetime_ms(),
            attempts: 0,
            created_ms: now,
        };
        match self
            .store
            .put_code(&record, Some(&message), limits, now)
            .await?
        {
            CodeWrite::Stored => {}
            CodeWrite::UserGone => return Err(super::user_not_found()),
            CodeWrite::Limited => return Err(attempt_limit_exceeded()),
        }
        self.sender.queued();
        Ok(delivery_details(channel, destination))
    }

    /// Sends a sign-in MFA code (SMS_MFA, EMAIL_OTP) with the pool's MFA message. The password
    /// was proven already, so no per-user limit applies (it would lock a user out of signing
    /// in); wrong answers count in the sign-in lockout instead.
    pub async fn issue_mfa_code(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
        channel: DeliveryChannel,
        destination: &str,
        challenge: &str,
    ) -> ServiceResult<CodeDeliveryDetailsType> {
        let purpose = CodePurpose::mfa(channel);
        let l = *self.codes.limits();
        let hour = |scope: String, limit: u32| CodeLimit {
            scope,
            limit: i64::from(limit),
            window_ms: ISSUE_WINDOW_MS,
            charge: true,
        };
        let mut limits = Vec::new();
        // One address still gets only so many sign-in codes an hour (three times the ceiling
        // for other codes, counted apart from them): whoever knows a password cannot flood the
        // owner's phone, and a real user signing in often is not stopped.
        if l.per_destination > 0 {
            let scope = format!("mfa-dest:{}", self.destination_tag(channel, destination));
            limits.push(hour(scope, l.per_destination.saturating_mul(3)));
        }
        if l.per_pool > 0 {
            limits.push(hour("pool".to_string(), l.per_pool));
        }
        let code = new_code();
        let (subject, body) = mfa_message(&pool.record.settings, channel, &code);
        self.put_code(
            pool,
            user,
            purpose,
            channel,
            (destination, &mfa_binding(destination, challenge)),
            &code,
            subject,
            body,
            &limits,
        )
        .await
    }

    /// Checks a sign-in MFA code sent to `destination` for `challenge` and uses it up when
    /// right: Ok(false) for a wrong code (or one another challenge was sent),
    /// ExpiredCodeException for one past its life.
    pub async fn take_mfa_code(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
        channel: DeliveryChannel,
        destination: &str,
        challenge: &str,
        given: &str,
    ) -> ServiceResult<bool> {
        let purpose = CodePurpose::mfa(channel);
        let (pid, uid) = (&pool.record.id, &user.id);
        let Some(rec) = self.store.get_code(pid, uid, purpose.key()).await? else {
            return Ok(false);
        };
        if rec.expires_ms <= self.clock.now_ms() {
            return Err(code_expired());
        }
        let bound = mfa_binding(destination, challenge);
        let expected = self.codes.code_hash(pid, uid, purpose.key(), &bound, given);
        if !bool::from(expected.as_bytes().ct_eq(rec.code_hash.as_bytes())) {
            return Ok(false);
        }
        // Two right answers at once: only the one that deletes it signs in.
        self.store
            .delete_code(pid, uid, purpose.key(), Some(&rec.code_hash))
            .await
            .map_err(Into::into)
    }

    /// Counts a code that is answered but not sent (a user the client hides: unknown, disabled,
    /// already confirmed, without a recovery channel) against the same per-user limit as a real
    /// one, so that the answers stay alike: LimitExceededException at the same point.
    pub async fn count_unsent_code(
        &self,
        pool: &UserPoolView,
        subject: CodeSubject<'_>,
        purpose: CodePurpose,
    ) -> ServiceResult<()> {
        let name;
        let subject = match subject {
            CodeSubject::Unknown(typed) => {
                name = super::attributes::username_key(&pool.record.settings.pool, typed);
                CodeSubject::Unknown(&name)
            }
            user => user,
        };
        let limits = self.issue_limits(subject, purpose, None);
        if !self
            .store
            .count_code_limits(&pool.record.id, &limits, self.clock.now_ms())
            .await?
        {
            return Err(attempt_limit_exceeded());
        }
        Ok(())
    }

    /// Forgets the outstanding verification code of an attribute (its value changed).
    pub(crate) async fn drop_verification_code(
        &self,
        user: &UserRecord,
        attribute: &str,
    ) -> ServiceResult<()> {
        let Some((purpose, _)) = CodePurpose::verifying(attribute) else {
            return Ok(());
        };
        self.store
            .delete_code(&user.pool_id, &user.id, purpose.key(), None)
            .await?;
        Ok(())
    }

    /// Counts one attempt at a code before anything is compared, atomically, so parallel
    /// guesses each take their own place under the limit. LimitExceededException once the
    /// user (or the unknown name) has had its wrong codes for the window.
    async fn count_attempt(
        &self,
        pool: &UserPoolView,
        subject: CodeSubject<'_>,
        purpose: CodePurpose,
    ) -> ServiceResult<String> {
        let scope = self.failure_scope(subject, purpose);
        let limit = self.failure_limit(scope.clone());
        if !self
            .store
            .count_code_limits(&pool.record.id, &[limit], self.clock.now_ms())
            .await?
        {
            return Err(attempt_limit_exceeded());
        }
        Ok(scope)
    }

    /// Checks a code sent to `destination` (the value it must still be for) without using it
    /// up. Every attempt counts against the user's failures for the purpose before the
    /// comparison; those failures survive new codes, and a right code clears them.
    pub async fn verify_code(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
        purpose: CodePurpose,
        destination: &str,
        given: &str,
    ) -> ServiceResult<CheckedCode> {
        let (pid, uid) = (&pool.record.id, &user.id);
        let scope = self
            .count_attempt(pool, CodeSubject::User(user), purpose)
            .await?;
        let Some(rec) = self.store.get_code(pid, uid, purpose.key()).await? else {
            return Err(code_mismatch());
        };
        if rec.expires_ms <= self.clock.now_ms() {
            return Err(code_expired());
        }
        let expected =
            self.codes
                .code_hash(pid, uid, purpose.key(), purpose.bound(destination), given);
        if !bool::from(expected.as_bytes().ct_eq(rec.code_hash.as_bytes())) {
            return Err(code_mismatch());
        }
        self.store.reset_code_limit(pid, &scope).await?;
        Ok(CheckedCode {
            purpose,
            pool_id: pid.clone(),
            user_id: uid.clone(),
            code_hash: rec.code_hash,
        })
    }

    /// Uses up a checked code. Two right answers at once: only the one that used it up
    /// succeeds; a code replaced since it was checked is not used either.
    pub async fn use_code(&self, checked: CheckedCode) -> ServiceResult<()> {
        if !self
            .store
            .delete_code(
                &checked.pool_id,
                &checked.user_id,
                checked.purpose.key(),
                Some(&checked.code_hash),
            )
            .await?
        {
            return Err(code_mismatch());
        }
        Ok(())
    }

    /// Checks a code and uses it up (see [`Self::verify_code`]).
    pub async fn check_code(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
        purpose: CodePurpose,
        destination: &str,
        given: &str,
    ) -> ServiceResult<()> {
        let checked = self
            .verify_code(pool, user, purpose, destination, given)
            .await?;
        self.use_code(checked).await
    }

    /// A code given for a username the client hides (unknown, or disabled): counted like an
    /// attempt at a real user's code, so it answers CodeMismatchException, and after the same
    /// number of tries LimitExceededException, exactly as a real user would.
    pub async fn check_hidden_code(
        &self,
        pool: &UserPoolView,
        typed_username: &str,
        purpose: CodePurpose,
    ) -> ServiceResult<()> {
        let name = super::attributes::username_key(&pool.record.settings.pool, typed_username);
        self.count_attempt(pool, CodeSubject::Unknown(&name), purpose)
            .await?;
        Err(code_mismatch())
    }

    /// The masked destination a simulated delivery names for a username nobody has: the same
    /// shape a real one has, and the same every time for the name (derived from it under the
    /// server's key), so repeated requests cannot tell it from a real user's.
    pub fn simulated_destination(&self, channel: DeliveryChannel, typed_username: &str) -> String {
        // Lower case: real addresses are nearly always stored so, and a typed name's case must
        // not show through (nor change the derived letters).
        let typed_username = &typed_username.to_lowercase();
        let d = self.codes.mac("simulated/v1", &[typed_username]);
        match channel {
            // Pools that sign in by email show the typed address itself, as they would for a
            // user who has it.
            DeliveryChannel::Email if typed_username.contains('@') => mask(channel, typed_username),
            DeliveryChannel::Email => {
                const LOCAL: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
                // First letters of mail domains, weighted toward the large providers.
                const DOMAIN: &[u8] = b"gggggggghhhhooooyyyiimmaacdeflnprstuwz";
                let l = LOCAL[usize::from(d[0]) % LOCAL.len()] as char;
                let r = DOMAIN[usize::from(d[1]) % DOMAIN.len()] as char;
                format!("{l}***@{r}***")
            }
            DeliveryChannel::Sms if typed_username.starts_with('+') => {
                mask(channel, typed_username)
            }
            DeliveryChannel::Sms => {
                let digits: String = d[2..6].iter().map(|b| char::from(b'0' + b % 10)).collect();
                format!("+*******{digits}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cognito_model::shapes::UserPoolType;
    use zeroize::Zeroizing;

    #[test]
    fn destinations_are_masked_like_cognitos() {
        assert_eq!(
            mask(DeliveryChannel::Email, "jane@example.com"),
            "j***@e***"
        );
        assert_eq!(mask(DeliveryChannel::Sms, "+15555551234"), "+*******1234");
    }

    fn settings() -> CodeSettings {
        CodeSettings::new(Zeroizing::new([7u8; 32]), CodeLimits::default())
    }

    #[test]
    fn code_hashes_are_keyed_and_bound_to_the_destination() {
        let s = settings();
        let h = s.code_hash("p", "u", "verify:email", "a@x.example", "123456");
        assert_eq!(
            h,
            s.code_hash("p", "u", "verify:email", "a@x.example", "123456")
        );
        assert_ne!(
            h,
            s.code_hash("p", "u", "verify:email", "b@x.example", "123456")
        );
        assert_ne!(
            h,
            s.code_hash("p", "u", "verify:email", "a@x.example", "123457")
        );
        let other = CodeSettings::new(Zeroizing::new([8u8; 32]), CodeLimits::default());
        assert_ne!(
            h,
            other.code_hash("p", "u", "verify:email", "a@x.example", "123456")
        );
        // Length prefixes: moving a boundary between parts changes the hash.
        assert_ne!(
            s.code_hash("p", "u", "ab", "c", "123456"),
            s.code_hash("p", "u", "a", "bc", "123456")
        );
    }

    #[test]
    fn limits_are_kept_sane() {
        let s = CodeSettings::new(
            Zeroizing::new([0u8; 32]),
            CodeLimits {
                failures: 0,
                failure_window_ms: i64::MAX,
                ..CodeLimits::default()
            },
        );
        assert_eq!(s.limits().failures, 1);
        assert_eq!(s.limits().failure_window_ms, MAX_FAILURE_WINDOW_MS);
        assert!(!format!("{s:?}").contains("key"));
    }

    #[test]
    fn templates_fill_code_and_username() {
        let mut p = UserPoolType::default();
        let (s, b) = verification_message(&p, DeliveryChannel::Email, "ann", "123456");
        assert_eq!(s.as_deref(), Some("Your verification code"));
        assert_eq!(b, "Your verification code is 123456. ");
        p.email_verification_message = Some("Hi {username}: {####}".into());
        let (_, b) = verification_message(&p, DeliveryChannel::Email, "ann", "123456");
        assert_eq!(b, "Hi ann: 123456");
    }
}
