//! The services' `MessageSender`: queues the message in the durable outbox and wakes this node's
//! dispatcher, so the API call returns once the message is safely stored, not once it is sent.

use std::sync::Arc;

use async_trait::async_trait;
use domain::ports::{Clock, MessageSender, OutboundMessage, OutboxStore};
use tokio::sync::Notify;

pub struct OutboxSender {
    store: Arc<dyn OutboxStore>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
}

impl OutboxSender {
    /// `wake` is the dispatcher's [`crate::Dispatcher::waker`].
    pub fn new(store: Arc<dyn OutboxStore>, clock: Arc<dyn Clock>, wake: Arc<Notify>) -> Self {
        OutboxSender { store, clock, wake }
    }

    /// Tells the dispatcher that messages were queued (for code that enqueues inside its own
    /// transaction: call after commit).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

#[async_trait]
impl MessageSender for OutboxSender {
    async fn send(&self, message: &OutboundMessage) -> Result<(), String> {
        self.store
            .enqueue_messages(std::slice::from_ref(message), self.clock.now_ms())
            .await
            .map_err(|e| format!("cannot queue the message: {e}"))?;
        self.wake();
        Ok(())
    }

    fn queued(&self) {
        self.wake();
    }
}
