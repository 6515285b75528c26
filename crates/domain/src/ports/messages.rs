//! Port for outbound messages (invitations now; codes and MFA later). The adapter decides how a
//! message travels: the developer outbox today, SMTP and SNS with the delivery work.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DeliveryChannel {
    Email,
    Sms,
}

impl DeliveryChannel {
    /// The attribute whose value a message on this channel goes to.
    pub fn attribute(self) -> &'static str {
        match self {
            DeliveryChannel::Email => "email",
            DeliveryChannel::Sms => "phone_number",
        }
    }
}

/// One message for one recipient. The body may carry a temporary password or a code, so `Debug`
/// never prints it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub pool_id: String,
    /// What the message is for, e.g. `invitation`.
    pub purpose: String,
    pub channel: DeliveryChannel,
    pub username: String,
    pub destination: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub body: String,
    /// The sender for email: the pool's `EmailConfiguration.From` when it sends as DEVELOPER;
    /// none means the server's configured default sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The pool's `EmailConfiguration.ReplyToEmailAddress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

impl std::fmt::Debug for OutboundMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundMessage")
            .field("pool_id", &self.pool_id)
            .field("purpose", &self.purpose)
            .field("channel", &self.channel)
            .field("destination", &self.destination)
            .field("from", &self.from)
            .field("body", &"*** redacted ***")
            .finish()
    }
}

#[async_trait]
pub trait MessageSender: Send + Sync {
    /// Delivers or queues the message. An error is reported, never turned into an API failure
    /// that Cognito would not give.
    async fn send(&self, message: &OutboundMessage) -> Result<(), String>;

    /// Messages were queued in the durable outbox by a store transaction of their own (a code,
    /// an invitation written with its user): deliver them soon. Called after the commit.
    fn queued(&self) {}
}

/// Drops every message (tests and tools that deliver nothing).
#[derive(Clone, Copy, Debug, Default)]
pub struct DropMessages;

#[async_trait]
impl MessageSender for DropMessages {
    async fn send(&self, _message: &OutboundMessage) -> Result<(), String> {
        Ok(())
    }
}
