//! The welcome message AdminCreateUser sends (and RESEND sends again): the pool's
//! InviteMessageTemplate, or Cognito's default wording, with `{username}` and `{####}` filled in.

use cognito_model::shapes::{DeliveryMediumType, EmailSendingAccountType, UserPoolType};

use crate::context::RequestContext;
use crate::error::{CognitoError, ServiceResult};
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

/// The senders a pool may name (EmailConfiguration's From, or the address or domain of its
/// SourceArn): the operator's allow-list of domains (`example.com`) and addresses
/// (`team@example.com`), plus the server's own default sender. With nothing listed only the
/// default sender is allowed, so a pool admin cannot send mail in someone else's name through the
/// operator's relay. Cognito's counterpart is SES's verified identities.
#[derive(Clone, Debug, Default)]
pub struct SenderPolicy {
    /// Allows every sender: only for tests and tools that send nothing.
    any: bool,
    /// Lower-cased entries.
    allowed: Vec<String>,
    /// The default sender's address, lower-cased.
    default_sender: Option<String>,
}

/// The address of a mailbox (`Name <a@b>` or `a@b`), lower-cased; None when it has none.
pub fn mailbox_address(mailbox: &str) -> Option<String> {
    let m = mailbox.trim();
    let address = match (m.rfind('<'), m.rfind('>')) {
        (Some(open), Some(close)) if open < close => &m[open + 1..close],
        _ => m,
    };
    let address = address.trim();
    let (local, domain) = address.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() || address.chars().any(char::is_whitespace) {
        return None;
    }
    Some(address.to_ascii_lowercase())
}

impl SenderPolicy {
    /// `allowed`: domains and addresses; `default_sender`: the server's sender as configured
    /// (any mailbox form).
    pub fn new(allowed: &[String], default_sender: Option<&str>) -> Self {
        SenderPolicy {
            any: false,
            allowed: allowed
                .iter()
                .map(|a| a.trim().trim_start_matches('@').to_ascii_lowercase())
                .filter(|a| !a.is_empty())
                .collect(),
            default_sender: default_sender.and_then(mailbox_address),
        }
    }

    /// A policy that allows every sender (services built without configuration: tests, tools).
    pub fn any() -> Self {
        SenderPolicy {
            any: true,
            ..SenderPolicy::default()
        }
    }

    /// Whether mail may go out as `identity`: a mailbox (`Name <a@b>`, `a@b`) or, as a SourceArn
    /// may name, a bare domain (which only a listed domain allows).
    pub fn allows(&self, identity: &str) -> bool {
        if self.any {
            return true;
        }
        if !identity.contains('@') {
            let domain = identity.trim().to_ascii_lowercase();
            return !domain.is_empty() && self.allowed.contains(&domain);
        }
        let Some(address) = mailbox_address(identity) else {
            return false;
        };
        if self.default_sender.as_deref() == Some(address.as_str()) {
            return true;
        }
        let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
        self.allowed.iter().any(|a| {
            if a.contains('@') {
                *a == address
            } else {
                a == domain
            }
        })
    }

    /// Refuses a pool whose EmailConfiguration names a sender the policy does not allow, with the
    /// error Cognito relays from SES for an unverified identity.
    pub fn check(&self, pool: &UserPoolType, ctx: &RequestContext) -> ServiceResult<()> {
        let Some(c) = pool.email_configuration.as_ref() else {
            return Ok(());
        };
        let arn_identity = c
            .source_arn
            .as_deref()
            .filter(|a| !a.is_empty())
            .map(|arn| arn.rsplit_once(":identity/").map_or("", |(_, id)| id));
        let from = c.from.as_deref().filter(|f| !f.is_empty());
        for identity in [arn_identity, from].into_iter().flatten() {
            if self.allows(identity) {
                continue;
            }
            let arn = match c.source_arn.as_deref().filter(|a| !a.is_empty()) {
                Some(arn) => arn.to_string(),
                None => format!(
                    "arn:aws:ses:{}:{}:identity/{}",
                    ctx.region,
                    ctx.account_id,
                    mailbox_address(identity).unwrap_or_else(|| identity.to_string())
                ),
            };
            return Err(CognitoError::invalid_parameter(format!(
                "Cognito received the following error from Amazon SES when attempting to send \
                 email: Email address is not verified. The following identities failed the check \
                 in region {}: {arn}",
                ctx.region.to_ascii_uppercase()
            )));
        }
        Ok(())
    }
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

    #[test]
    fn sender_policy_allows_listed_domains_addresses_and_the_default_sender() {
        let p = SenderPolicy::new(
            &["Example.com".into(), "team@corp.example".into()],
            Some("Gatehouse <no-reply@gatehouse.example>"),
        );
        assert!(p.allows("Team <anyone@EXAMPLE.com>"));
        assert!(p.allows("team@corp.example"));
        assert!(p.allows("no-reply@gatehouse.example"));
        assert!(p.allows("example.com"), "a SourceArn domain identity");
        assert!(!p.allows("other@corp.example"));
        assert!(!p.allows("Security <security@bank.example>"));
        assert!(
            !p.allows("x@sub.example.com"),
            "subdomains are listed on their own"
        );
        assert!(!p.allows("bank.example"));
        assert!(!p.allows("Evil <evil@bank.example> <ok@example.com"));
        let none = SenderPolicy::new(&[], None);
        assert!(!none.allows("a@example.com"));
        let only_default = SenderPolicy::new(&[], Some("no-reply@gatehouse.example"));
        assert!(only_default.allows("Us <No-Reply@gatehouse.example>"));
        assert!(!only_default.allows("x@gatehouse.example"));
    }

    #[test]
    fn sender_policy_check_refuses_unlisted_from_and_source_arn() {
        use cognito_model::shapes::EmailConfigurationType;
        let ctx = RequestContext {
            region: "eu-west-1".into(),
            account_id: "123456789012".into(),
            request_id: "r".into(),
        };
        let p = SenderPolicy::new(&["example.com".into()], None);
        let pool = |from: Option<&str>, arn: Option<&str>| UserPoolType {
            email_configuration: Some(EmailConfigurationType {
                email_sending_account: Some(EmailSendingAccountType::Developer),
                from: from.map(Into::into),
                source_arn: arn.map(Into::into),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(p
            .check(&pool(Some("Team <t@example.com>"), None), &ctx)
            .is_ok());
        assert!(p.check(&UserPoolType::default(), &ctx).is_ok());
        let e = p
            .check(&pool(Some("Security <security@bank.example>"), None), &ctx)
            .unwrap_err();
        assert_eq!(
            e.code,
            cognito_model::errors::ErrorCode::InvalidParameterException
        );
        assert!(
            e.message.ends_with(
                "in region EU-WEST-1: arn:aws:ses:eu-west-1:123456789012:identity/security@bank.example"
            ),
            "{}",
            e.message
        );
        let arn = "arn:aws:ses:eu-west-1:123456789012:identity/bank.example";
        let e = p.check(&pool(None, Some(arn)), &ctx).unwrap_err();
        assert!(e.message.ends_with(arn), "{}", e.message);
    }

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
