//! Email through an SMTP relay with lettre (tokio, rustls).

use std::time::Duration;

use async_trait::async_trait;
use domain::ports::OutboundMessage;
use domain::services::directory::SenderPolicy;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::{Deliverer, DeliveryError};

/// How the connection to the relay is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text (a relay on localhost or a test server).
    None,
    /// Plain connect, then STARTTLS, required (port 587).
    #[default]
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

impl std::str::FromStr for TlsMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "plain" => Ok(TlsMode::None),
            "starttls" => Ok(TlsMode::StartTls),
            "tls" | "implicit" => Ok(TlsMode::Tls),
            other => Err(format!(
                "unknown SMTP TLS mode '{other}' (none, starttls or tls)"
            )),
        }
    }
}

#[derive(Clone, Default, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: Option<u16>,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The default sender (COGNITO_DEFAULT pools, and DEVELOPER pools without a From).
    pub from: String,
    /// A reply-to address for messages whose pool names none.
    pub reply_to: Option<String>,
}

/// Never prints the password.
impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .finish()
    }
}

impl SmtpConfig {
    /// `smtp://[user[:password]@]host[:port][?tls=none|starttls|tls]`; `smtps://` means `tls=tls`.
    /// User and password are percent-decoded. STARTTLS is the default for `smtp://`.
    pub fn from_url(text: &str) -> Result<SmtpConfig, String> {
        let url = url::Url::parse(text).map_err(|_| "invalid SMTP URL".to_string())?;
        let mut tls = match url.scheme() {
            "smtp" => TlsMode::StartTls,
            "smtps" => TlsMode::Tls,
            other => {
                return Err(format!(
                    "SMTP URL scheme must be smtp or smtps, not {other}"
                ))
            }
        };
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "tls" => tls = v.parse()?,
                other => return Err(format!("unknown SMTP URL parameter '{other}'")),
            }
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("the SMTP URL names no host")?
            .to_string();
        let decode = |s: &str| -> Result<String, String> {
            url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .ok_or_else(|| "invalid SMTP URL credentials".to_string())
        };
        let username = match url.username() {
            "" => None,
            u => Some(decode(u)?),
        };
        let password = url.password().map(decode).transpose()?;
        Ok(SmtpConfig {
            host,
            port: url.port(),
            tls,
            username,
            password,
            from: String::new(),
            reply_to: None,
        })
    }
}

pub struct SmtpDeliverer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    senders: SenderPolicy,
}

impl SmtpDeliverer {
    pub fn new(config: &SmtpConfig) -> Result<SmtpDeliverer, String> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| format!("invalid SMTP from address '{}': {e}", config.from))?;
        let reply_to = config
            .reply_to
            .as_deref()
            .map(|r| {
                r.parse::<Mailbox>()
                    .map_err(|e| format!("invalid SMTP reply-to address '{r}': {e}"))
            })
            .transpose()?;
        let mut builder = match config.tls {
            TlsMode::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
            TlsMode::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                .map_err(|e| format!("SMTP TLS setup for {}: {e}", config.host))?,
            TlsMode::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|e| format!("SMTP TLS setup for {}: {e}", config.host))?,
        };
        if let Some(port) = config.port {
            builder = builder.port(port);
        }
        // Well under the dispatcher's lease, so a hung relay cannot outlive it.
        builder = builder.timeout(Some(Duration::from_secs(20)));
        if let Some(user) = &config.username {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                config.password.clone().unwrap_or_default(),
            ));
        }
        Ok(SmtpDeliverer {
            transport: builder.build(),
            from,
            reply_to,
            senders: SenderPolicy::any(),
        })
    }

    /// Sends a pool's own From only when `policy` allows it; otherwise the default sender. Pools
    /// are checked when configured, so this catches those configured before the policy existed.
    pub fn with_sender_policy(mut self, policy: SenderPolicy) -> Self {
        self.senders = policy;
        self
    }

    fn build(&self, m: &OutboundMessage) -> Result<Message, String> {
        let from = match &m.from {
            Some(f) if self.senders.allows(f) => f
                .parse::<Mailbox>()
                .map_err(|e| format!("invalid pool From address: {e}"))?,
            Some(_) => {
                tracing::warn!(pool_id = %m.pool_id, "the pool's email sender is not allowed; sending as the default sender");
                self.from.clone()
            }
            None => self.from.clone(),
        };
        let to: Mailbox = m
            .destination
            .parse()
            .map_err(|e| format!("invalid destination address: {e}"))?;
        let mut b = Message::builder()
            .from(from)
            .to(to)
            .subject(m.subject.clone().unwrap_or_default());
        let reply_to = match &m.reply_to {
            Some(r) => Some(
                r.parse::<Mailbox>()
                    .map_err(|e| format!("invalid pool reply-to address: {e}"))?,
            ),
            None => self.reply_to.clone(),
        };
        if let Some(r) = reply_to {
            b = b.reply_to(r);
        }
        b.header(ContentType::TEXT_PLAIN)
            .body(m.body.clone())
            .map_err(|e| format!("cannot build the email: {e}"))
    }
}

#[async_trait]
impl Deliverer for SmtpDeliverer {
    async fn deliver(&self, message: &OutboundMessage) -> Result<(), DeliveryError> {
        // A message that cannot be built (an invalid address) never will be.
        let email = self.build(message).map_err(DeliveryError::permanent)?;
        self.transport.send(email).await.map(|_| ()).map_err(|e| {
            // 5xx: the relay refuses for good (unknown recipient, rejected sender); 4xx,
            // connection and TLS trouble may pass.
            let text = format!("SMTP: {e}");
            if e.is_permanent() {
                DeliveryError::permanent(text)
            } else {
                DeliveryError::transient(text)
            }
        })
    }

    fn name(&self) -> &'static str {
        "smtp"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_smtp_urls() {
        let c = SmtpConfig::from_url("smtp://mailer:p%40ss%2Bw@mail.example.com:2525?tls=none")
            .unwrap();
        assert_eq!(c.host, "mail.example.com");
        assert_eq!(c.port, Some(2525));
        assert_eq!(c.tls, TlsMode::None);
        assert_eq!(c.username.as_deref(), Some("mailer"));
        assert_eq!(c.password.as_deref(), Some("p@ss+w"));
        assert!(
            !format!("{c:?}").contains("p@ss"),
            "Debug hides the password"
        );

        let c = SmtpConfig::from_url("smtp://relay.example.com").unwrap();
        assert_eq!((c.tls, c.port, c.username), (TlsMode::StartTls, None, None));
        assert_eq!(
            SmtpConfig::from_url("smtps://relay:465").unwrap().tls,
            TlsMode::Tls
        );
        assert!(SmtpConfig::from_url("http://relay").is_err());
        assert!(SmtpConfig::from_url("smtp://relay?tls=maybe").is_err());
    }

    // The deliverer's connection pool starts a task, so it is built inside a runtime.
    #[tokio::test]
    async fn builds_the_email_with_pool_or_default_sender() {
        let d = SmtpDeliverer::new(&SmtpConfig {
            host: "localhost".into(),
            tls: TlsMode::None,
            from: "Gatehouse <no-reply@example.com>".into(),
            ..Default::default()
        })
        .unwrap();
        let mut m = OutboundMessage {
            pool_id: "p".into(),
            purpose: "invitation".into(),
            channel: domain::ports::DeliveryChannel::Email,
            username: "alice".into(),
            destination: "alice@example.com".into(),
            subject: Some("Welcome".into()),
            body: "Your code is 123456".into(),
            from: None,
            reply_to: Some("help@example.com".into()),
        };
        let raw = String::from_utf8(d.build(&m).unwrap().formatted()).unwrap();
        assert!(
            raw.contains("From: Gatehouse <no-reply@example.com>"),
            "{raw}"
        );
        assert!(raw.contains("To: alice@example.com"), "{raw}");
        assert!(raw.contains("Reply-To: help@example.com"), "{raw}");
        assert!(raw.contains("Subject: Welcome"), "{raw}");
        m.from = Some("team@example.org".into());
        let raw = String::from_utf8(d.build(&m).unwrap().formatted()).unwrap();
        assert!(raw.contains("From: team@example.org"), "{raw}");
        m.destination = "not an address".into();
        assert!(d.build(&m).is_err());

        // With a sender policy, a pool's From outside it goes out as the default sender.
        let d = d.with_sender_policy(SenderPolicy::new(
            &["example.org".into()],
            Some("no-reply@example.com"),
        ));
        m.destination = "alice@example.com".into();
        let raw = String::from_utf8(d.build(&m).unwrap().formatted()).unwrap();
        assert!(raw.contains("From: team@example.org"), "{raw}");
        m.from = Some("Security <security@bank.example>".into());
        let raw = String::from_utf8(d.build(&m).unwrap().formatted()).unwrap();
        assert!(
            raw.contains("From: Gatehouse <no-reply@example.com>") && !raw.contains("bank.example"),
            "{raw}"
        );
    }
}
