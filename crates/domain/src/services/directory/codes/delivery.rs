//! Where a code goes and what carries it: the masked destination Cognito answers, the
//! verification message, and the recovery channel of a user.

use cognito_model::errors::ErrorCode;
use cognito_model::shapes::{
    CodeDeliveryDetailsType, DeliveryMediumType, RecoveryOptionNameType, UserPoolType,
};

use crate::error::{CognitoError, ServiceResult};
use crate::ports::{DeliveryChannel, UserPoolView, UserRecord};
use crate::services::directory::DirectoryService;

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
    let medium = match channel {
        DeliveryChannel::Email => DeliveryMediumType::Email,
        DeliveryChannel::Sms => DeliveryMediumType::Sms,
    };
    CodeDeliveryDetailsType {
        destination: Some(mask(channel, destination)),
        delivery_medium: Some(medium),
        attribute_name: Some(channel.attribute().to_string()),
    }
}

/// The verification message: the pool's VerificationMessageTemplate, else the older
/// EmailVerificationMessage / Subject and SmsVerificationMessage, else Cognito's defaults.
pub(super) fn verification_message(
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

/// The message that carries a sign-in MFA code: the pool's SmsAuthenticationMessage, or its
/// EmailMfaConfiguration's Message and Subject, else Cognito's defaults.
pub(super) fn mfa_message(
    settings: &crate::user_pool::PoolSettings,
    channel: DeliveryChannel,
    code: &str,
) -> (Option<String>, String) {
    let fill = |s: String| s.replace("{####}", code);
    match channel {
        DeliveryChannel::Sms => {
            let body = settings
                .mfa
                .sms
                .as_ref()
                .and_then(|s| s.sms_authentication_message.clone())
                .or_else(|| settings.pool.sms_authentication_message.clone())
                .unwrap_or_else(|| "Your authentication code is {####}. ".into());
            (None, fill(body))
        }
        DeliveryChannel::Email => {
            let email = settings.mfa.email.clone().unwrap_or_default();
            let subject = email.subject.unwrap_or_else(|| "Your sign-in code".into());
            let body = email
                .message
                .unwrap_or_else(|| "Your sign-in code is {####}. ".into());
            (Some(fill(subject)), fill(body))
        }
    }
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

/// The pool's AccountRecoverySetting mechanisms in priority order (by default a verified phone
/// number, then a verified email).
pub fn recovery_options(pool: &UserPoolView) -> Vec<RecoveryOptionNameType> {
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
    options.into_iter().map(|o| o.1).collect()
}

/// Where a recovery code goes: the first of `recovery_options` the user has.
pub fn recovery_channel(
    pool: &UserPoolView,
    user: &UserRecord,
) -> ServiceResult<(DeliveryChannel, String)> {
    for name in recovery_options(pool) {
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
