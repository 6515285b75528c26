//! The welcome message AdminCreateUser sends (and RESEND sends again): the pool's
//! InviteMessageTemplate, or Cognito's default wording, with `{username}` and `{####}` filled in.

use cognito_model::shapes::{DeliveryMediumType, EmailSendingAccountType, UserPoolType};

use crate::ports::{DeliveryChannel, OutboundMessage, UserRecord};

pub const DEFAULT_EMAIL_SUBJECT: &str = "Your temporary password";
pub const DEFAULT_EMAIL_MESSAGE: &str =
    "Your username is {username} and temporary password is {####}.";
pub const DEFAULT_SMS_MESSAGE: &str =
    "Your username is {username} and temporary password is {####}";

fn render(template: &str, username: &str, password: &str) -> String {
    template
        .replace("{username}", username)
        .replace("{####}", password)
}

fn attribute<'a>(user: &'a UserRecord, name: &str) -> Option<&'a str> {
    user.attributes
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The sender and reply-to address of the pool's email: with `EmailSendingAccount` DEVELOPER the
/// pool's `From` (or the address of its SES identity `SourceArn`), with COGNITO_DEFAULT the
/// server's default sender (none here); `ReplyToEmailAddress` applies in both.
pub fn email_sender(pool: &UserPoolType) -> (Option<String>, Option<String>) {
    let Some(c) = pool.email_configuration.as_ref() else {
        return (None, None);
    };
    let reply_to = c.reply_to_email_address.clone().filter(|r| !r.is_empty());
    let from = match c.email_sending_account {
        Some(EmailSendingAccountType::Developer) => {
            c.from.clone().filter(|f| !f.is_empty()).or_else(|| {
                c.source_arn
                    .as_deref()
                    .and_then(|arn| arn.rsplit_once(":identity/"))
                    .map(|(_, address)| address.to_string())
                    .filter(|a| a.contains('@'))
            })
        }
        _ => None,
    };
    (from, reply_to)
}

/// The messages an invitation consists of: one per requested medium (SMS when none is named) for
/// which the user has a destination.
pub fn invitation_messages(
    pool: &UserPoolType,
    pool_id: &str,
    user: &UserRecord,
    temporary_password: &str,
    mediums: Option<&[DeliveryMediumType]>,
) -> Vec<OutboundMessage> {
    let template = pool
        .admin_create_user_config
        .as_ref()
        .and_then(|c| c.invite_message_template.as_ref());
    let mediums = match mediums {
        Some(m) if !m.is_empty() => m.to_vec(),
        _ => vec![DeliveryMediumType::Sms],
    };
    let (from, reply_to) = email_sender(pool);
    let mut out = Vec::new();
    for medium in mediums {
        let message = match medium {
            DeliveryMediumType::Email => attribute(user, "email").map(|to| OutboundMessage {
                pool_id: pool_id.to_string(),
                purpose: "invitation".into(),
                channel: DeliveryChannel::Email,
                username: user.username.clone(),
                destination: to.to_string(),
                subject: Some(
                    template
                        .and_then(|t| t.email_subject.clone())
                        .unwrap_or_else(|| DEFAULT_EMAIL_SUBJECT.into()),
                ),
                body: render(
                    template
                        .and_then(|t| t.email_message.as_deref())
                        .unwrap_or(DEFAULT_EMAIL_MESSAGE),
                    &user.username,
                    temporary_password,
                ),
                from: from.clone(),
                reply_to: reply_to.clone(),
            }),
            DeliveryMediumType::Sms => attribute(user, "phone_number").map(|to| OutboundMessage {
                pool_id: pool_id.to_string(),
                purpose: "invitation".into(),
                channel: DeliveryChannel::Sms,
                username: user.username.clone(),
                destination: to.to_string(),
                subject: None,
                body: render(
                    template
                        .and_then(|t| t.sms_message.as_deref())
                        .unwrap_or(DEFAULT_SMS_MESSAGE),
                    &user.username,
                    temporary_password,
                ),
                from: None,
                reply_to: None,
            }),
        };
        out.extend(message);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cognito_model::shapes::{AdminCreateUserConfigType, MessageTemplateType};

    fn user(attrs: &[(&str, &str)]) -> UserRecord {
        UserRecord {
            pending_attributes: vec![],
            pool_id: "p".into(),
            id: "s".into(),
            username: "alice".into(),
            username_key: "alice".into(),
            status: "FORCE_CHANGE_PASSWORD".into(),
            enabled: true,
            created_ms: 0,
            modified_ms: 0,
            version: 1,
            password: None,
            attributes: attrs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        }
    }

    #[test]
    fn defaults_to_sms_with_cognito_wording() {
        let u = user(&[("phone_number", "+15550100"), ("email", "a@example.com")]);
        let m = invitation_messages(&UserPoolType::default(), "p", &u, "Tmp#1234", None);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].channel, DeliveryChannel::Sms);
        assert_eq!(
            m[0].body,
            "Your username is alice and temporary password is Tmp#1234"
        );
        assert!(
            !format!("{:?}", m[0]).contains("Tmp#1234"),
            "Debug never shows the password"
        );
    }

    #[test]
    fn uses_the_pool_template_and_skips_missing_destinations() {
        let pool = UserPoolType {
            admin_create_user_config: Some(AdminCreateUserConfigType {
                invite_message_template: Some(MessageTemplateType {
                    email_subject: Some("Welcome".into()),
                    email_message: Some("Hi {username}, use {####}".into()),
                    sms_message: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let u = user(&[("email", "a@example.com")]);
        let m = invitation_messages(
            &pool,
            "p",
            &u,
            "pw",
            Some(&[DeliveryMediumType::Email, DeliveryMediumType::Sms]),
        );
        assert_eq!(m.len(), 1, "no phone number, no SMS");
        assert_eq!(m[0].subject.as_deref(), Some("Welcome"));
        assert_eq!(m[0].body, "Hi alice, use pw");
        assert_eq!(m[0].destination, "a@example.com");
    }

    #[test]
    fn developer_email_uses_the_pool_sender() {
        use cognito_model::shapes::EmailConfigurationType;
        let u = user(&[("email", "a@example.com")]);
        let mut pool = UserPoolType {
            email_configuration: Some(EmailConfigurationType {
                email_sending_account: Some(EmailSendingAccountType::Developer),
                source_arn: Some(
                    "arn:aws:ses:us-east-1:123456789012:identity/ses@example.com".into(),
                ),
                reply_to_email_address: Some("help@example.com".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let email = [DeliveryMediumType::Email];
        let m = invitation_messages(&pool, "p", &u, "Tmp#1234", Some(&email));
        assert_eq!(m[0].from.as_deref(), Some("ses@example.com"));
        assert_eq!(m[0].reply_to.as_deref(), Some("help@example.com"));
        pool.email_configuration.as_mut().unwrap().from = Some("Team <team@example.com>".into());
        let m = invitation_messages(&pool, "p", &u, "Tmp#1234", Some(&email));
        assert_eq!(m[0].from.as_deref(), Some("Team <team@example.com>"));
        // COGNITO_DEFAULT: the server's sender, the pool's reply-to.
        pool.email_configuration
            .as_mut()
            .unwrap()
            .email_sending_account = Some(EmailSendingAccountType::CognitoDefault);
        let m = invitation_messages(&pool, "p", &u, "Tmp#1234", Some(&email));
        assert_eq!(m[0].from, None);
        assert_eq!(m[0].reply_to.as_deref(), Some("help@example.com"));
    }
}
