//! One-time codes as Cognito issues them: six digits, one outstanding per user and purpose (a new
//! one replaces the old), a lifetime per purpose, a few wrong guesses, and the message that
//! carries the code queued in the same transaction as the code itself.

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{
    CodeDeliveryDetailsType, DeliveryMediumType, RecoveryOptionNameType, UserPoolType,
};
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::DirectoryService;
use crate::error::{CognitoError, ServiceResult};
use crate::ports::{CodeRecord, DeliveryChannel, OutboundMessage, UserPoolView, UserRecord};

/// Attempts allowed at one code (right or wrong) before it is dead.
const MAX_ATTEMPTS: i64 = 5;
const HOUR_MS: i64 = 3_600_000;

/// What a code is for, and how long it lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodePurpose {
    SignUp,
    ForgotPassword,
    VerifyEmail,
    VerifyPhone,
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

    fn key(self) -> &'static str {
        match self {
            CodePurpose::SignUp => "sign_up",
            CodePurpose::ForgotPassword => "forgot_password",
            CodePurpose::VerifyEmail => "verify:email",
            CodePurpose::VerifyPhone => "verify:phone_number",
        }
    }

    fn lifetime_ms(self) -> i64 {
        match self {
            CodePurpose::SignUp | CodePurpose::VerifyEmail | CodePurpose::VerifyPhone => {
                24 * HOUR_MS
            }
            CodePurpose::ForgotPassword => HOUR_MS,
        }
    }
}

fn code_hash(pool_id: &str, user_id: &str, purpose: &str, code: &str) -> String {
    let mut h = Sha256::new();
    for part in [pool_id, user_id, purpose, code] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// `a***@e***` for email, `+*******1234` for phone numbers, as Cognito masks destinations.
pub fn mask(channel: DeliveryChannel, destination: &str) -> String {
    match channel {
        DeliveryChannel::Email => {
            let (local, domain) = destination.split_once('@').unwrap_or((destination, ""));
            let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
            format!("{}***@{}***", first(local), first(domain))
        }
        DeliveryChannel::Sms => {
            let digits: Vec<char> = destination.chars().collect();
            let keep = digits.len().saturating_sub(4);
            let mut out = String::new();
            for (i, c) in digits.iter().enumerate() {
                out.push(if i == 0 && *c == '+' {
                    '+'
                } else if i < keep {
                    '*'
                } else {
                    *c
                });
            }
            out
        }
    }
}

pub fn delivery_details(channel: DeliveryChannel, destination: &str) -> CodeDeliveryDetailsType {
    let (medium, attribute) = match channel {
        DeliveryChannel::Email => (DeliveryMediumType::Email, "email"),
        DeliveryChannel::Sms => (DeliveryMediumType::Sms, "phone_number"),
    };
    CodeDeliveryDetailsType {
        destination: Some(mask(channel, destination)),
        delivery_medium: Some(medium),
        attribute_name: Some(attribute.to_string()),
    }
}

/// The verification message: the pool's VerificationMessageTemplate, else the older
/// EmailVerificationMessage / Subject and SmsVerificationMessage, else Cognito's defaults.
fn verification_message(
    pool: &UserPoolType,
    channel: DeliveryChannel,
    username: &str,
    code: &str,
) -> (Option<String>, String) {
    let t = pool
        .verification_message_template
        .clone()
        .unwrap_or_default();
    let fill = |s: String| s.replace("{####}", code).replace("{username}", username);
    match channel {
        DeliveryChannel::Email => {
            let subject = t
                .email_subject
                .or_else(|| pool.email_verification_subject.clone())
                .unwrap_or_else(|| "Your verification code".into());
            let body = t
                .email_message
                .or_else(|| pool.email_verification_message.clone())
                .unwrap_or_else(|| "Your verification code is {####}. ".into());
            (Some(fill(subject)), fill(body))
        }
        DeliveryChannel::Sms => {
            let body = t
                .sms_message
                .or_else(|| pool.sms_verification_message.clone())
                .unwrap_or_else(|| "Your verification code is {####}. ".into());
            (None, fill(body))
        }
    }
}

pub fn code_mismatch() -> CognitoError {
    CognitoError::new(
        ErrorCode::CodeMismatchException,
        "Invalid verification code provided, please try again.",
    )
}

/// What ConfirmSignUp, ConfirmForgotPassword and VerifyUserAttribute answer once a code has had
/// its five attempts. Cognito answers LimitExceededException here (as clients report it after
/// repeated wrong codes), not TooManyFailedAttemptsException, which VerifyUserAttribute's model
/// does not even list.
fn attempt_limit_exceeded() -> CognitoError {
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

fn verified(user: &UserRecord, attr: &str) -> Option<String> {
    let flag = format!("{attr}_verified");
    match (
        DirectoryService::attribute(user, attr),
        DirectoryService::attribute(user, &flag),
    ) {
        (Some(v), Some("true")) => Some(v.to_string()),
        _ => None,
    }
}

/// Where a recovery code goes: AccountRecoverySetting in priority order (by default a verified
/// phone number, then a verified email).
pub fn recovery_channel(
    pool: &UserPoolView,
    user: &UserRecord,
) -> ServiceResult<(DeliveryChannel, String)> {
    let mut options: Vec<(i32, RecoveryOptionNameType)> = pool
        .record
        .settings
        .pool
        .account_recovery_setting
        .as_ref()
        .and_then(|s| s.recovery_mechanisms.clone())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| Some((o.priority.unwrap_or(1), o.name?)))
        .collect();
    if options.is_empty() {
        options = vec![
            (1, RecoveryOptionNameType::VerifiedPhoneNumber),
            (2, RecoveryOptionNameType::VerifiedEmail),
        ];
    }
    options.sort_by_key(|o| o.0);
    for (_, name) in &options {
        match name {
            RecoveryOptionNameType::VerifiedEmail => {
                if let Some(e) = verified(user, "email") {
                    return Ok((DeliveryChannel::Email, e));
                }
            }
            RecoveryOptionNameType::VerifiedPhoneNumber => {
                if let Some(p) = verified(user, "phone_number") {
                    return Ok((DeliveryChannel::Sms, p));
                }
            }
            RecoveryOptionNameType::AdminOnly => {
                return Err(CognitoError::new(
                    ErrorCode::NotAuthorizedException,
                    "User password cannot be reset in the current state.",
                ))
            }
        }
    }
    Err(CognitoError::invalid_parameter(
        "Cannot reset password for the user as there is no registered/verified email or phone_number",
    ))
}

impl DirectoryService {
    /// Issues a new code for the user and queues the message carrying it to `destination`.
    pub async fn issue_code(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
        purpose: CodePurpose,
        channel: DeliveryChannel,
        destination: &str,
    ) -> ServiceResult<CodeDeliveryDetailsType> {
        let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
        let now = self.clock.now_ms();
        let (subject, body) =
            verification_message(&pool.record.settings.pool, channel, &user.username, &code);
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
        let stored = self
            .store
            .put_code(
                &CodeRecord {
                    pool_id: pool.record.id.clone(),
                    user_id: user.id.clone(),
                    purpose: purpose.key().to_string(),
                    code_hash: code_hash(&pool.record.id, &user.id, purpose.key(), &code),
                    expires_ms: now + purpose.lifetime_ms(),
                    attempts: 0,
                    created_ms: now,
                },
                Some(&message),
            )
            .await?;
        if !stored {
            return Err(super::user_not_found());
        }
        self.sender.queued();
        Ok(delivery_details(channel, destination))
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
            .delete_code(&user.pool_id, &user.id, purpose.key())
            .await?;
        Ok(())
    }

    /// Checks a code; a right one is used up. Every attempt is counted before the comparison
    /// (atomically, so parallel guesses cannot share a number); the sixth and later attempts at
    /// one code answer `LimitExceededException`, right code or not, until a new code is issued.
    pub async fn check_code(
        &self,
        pool: &UserPoolView,
        user: &UserRecord,
        purpose: CodePurpose,
        given: &str,
    ) -> ServiceResult<()> {
        let (pid, uid) = (&pool.record.id, &user.id);
        let Some(rec) = self
            .store
            .count_code_attempt(pid, uid, purpose.key())
            .await?
        else {
            return Err(code_mismatch());
        };
        if rec.attempts > MAX_ATTEMPTS {
            return Err(attempt_limit_exceeded());
        }
        if rec.expires_ms <= self.clock.now_ms() {
            return Err(code_expired());
        }
        let expected = code_hash(pid, uid, purpose.key(), given);
        if !bool::from(expected.as_bytes().ct_eq(rec.code_hash.as_bytes())) {
            return Err(code_mismatch());
        }
        // Two right answers at once: only the one that used the code up succeeds.
        if !self.store.delete_code(pid, uid, purpose.key()).await? {
            return Err(code_mismatch());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_masked_like_cognitos() {
        assert_eq!(
            mask(DeliveryChannel::Email, "jane@example.com"),
            "j***@e***"
        );
        assert_eq!(mask(DeliveryChannel::Sms, "+15555551234"), "+*******1234");
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
