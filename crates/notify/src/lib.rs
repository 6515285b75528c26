//! Outbound delivery adapters for the domain's `MessageSender` port.

mod outbox;

pub use outbox::DeveloperOutbox;
