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
pub use dispatcher::{DeliveryStats, Dispatcher};
pub use outbox::DeveloperOutbox;
pub use sender::OutboxSender;
pub use sms::{SnsConfig, SnsDeliverer};
pub use smtp::{SmtpConfig, SmtpDeliverer, TlsMode};

/// One way a message travels (a mail relay, an SMS gateway, a file). An error is retried later by
/// the dispatcher; its text is logged, so it never carries the message body.
#[async_trait]
pub trait Deliverer: Send + Sync {
    async fn deliver(&self, message: &OutboundMessage) -> Result<(), String>;
    /// For logs and metrics: `smtp`, `sns`, `developer-outbox`.
    fn name(&self) -> &'static str;
}
