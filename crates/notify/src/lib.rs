//! Outbound delivery: the durable outbox dispatcher and its deliverers (SMTP for email, SNS for
//! SMS, the developer outbox file when neither is configured).
//!
//! Services hand messages to [`OutboxSender`], which queues them in the database; each node runs
//! one [`Dispatcher`] that leases due messages, delivers them and retries failures with backoff.

mod backoff;
mod dispatcher;
mod outbox;
mod sender;
mod sms;
mod smtp;

use async_trait::async_trait;
use domain::ports::OutboundMessage;

pub use backoff::retry_delay_ms;
pub use dispatcher::{verdict, DeliveryStats, Dispatcher, Verdict, MAX_AGE_MS};
pub use outbox::DeveloperOutbox;
pub use sender::OutboxSender;
pub use sms::{SnsConfig, SnsDeliverer};
pub use smtp::{SmtpConfig, SmtpDeliverer, TlsMode};

/// Why a delivery failed. Its text is logged and stored, so it never carries the message body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryError {
    /// No later attempt can succeed (the relay rejected the recipient with a 5xx, SNS refused the
    /// request as invalid): the message is marked dead at once instead of being retried.
    pub permanent: bool,
    pub message: String,
}

impl DeliveryError {
    pub fn transient(message: impl Into<String>) -> DeliveryError {
        DeliveryError {
            permanent: false,
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> DeliveryError {
        DeliveryError {
            permanent: true,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One way a message travels (a mail relay, an SMS gateway, a file). A transient error is retried
/// later by the dispatcher, a permanent one ends the message.
#[async_trait]
pub trait Deliverer: Send + Sync {
    async fn deliver(&self, message: &OutboundMessage) -> Result<(), DeliveryError>;
    /// For logs and metrics: `smtp`, `sns`, `developer-outbox`.
    fn name(&self) -> &'static str;
}
