//! The dispatcher: one per node. It leases due messages from the durable outbox, delivers each
//! through its channel's deliverer, marks it delivered, or records the failure and schedules a
//! retry with backoff. A permanent failure (an SMTP 5xx, an invalid SNS request) ends the message
//! at once: it is marked dead, logged and counted, never retried. Transient failures are retried
//! (past [`LOUD_AFTER`] failures every few minutes, each logged at error level) until the message
//! is [`MAX_AGE_MS`] old; then it is dead too: every code it could carry has expired by then.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use domain::ports::{Clock, DeliveryChannel, OutboxDepth, OutboxStore, QueuedMessage};
use rand::Rng;
use tokio::sync::Notify;

use crate::backoff::retry_delay_ms;
use crate::{Deliverer, DeliveryError};

/// How long a leased message belongs to this node. Deliverers time out well before (20 s), so a
/// live node finishes before another may take the message over.
pub const LEASE_MS: i64 = 60_000;
/// Messages leased per round, delivered concurrently.
const BATCH: u32 = 16;
/// How often the queue is looked at when nothing wakes the dispatcher (messages queued on other
/// nodes, retries coming due).
const POLL: Duration = Duration::from_millis(500);
/// Failures after which each further failure is logged at error level.
pub const LOUD_AFTER: i64 = 8;
/// Age after which a message that still fails is given up: the longest-lived code (sign-up and
/// attribute verification) lasts this long, and a temporary password is not sent a day late.
pub const MAX_AGE_MS: i64 = 24 * 3_600_000;
/// Delivered rows are kept this long for audit, then pruned.
const KEEP_DELIVERED_MS: i64 = 7 * 24 * 3_600_000;
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);

/// Counters since the node started, per channel.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    pub email_delivered: AtomicU64,
    pub sms_delivered: AtomicU64,
    pub email_failed_attempts: AtomicU64,
    pub sms_failed_attempts: AtomicU64,
    pub email_dead: AtomicU64,
    pub sms_dead: AtomicU64,
}

impl DeliveryStats {
    fn count(&self, channel: DeliveryChannel, ok: bool) {
        let c = match (channel, ok) {
            (DeliveryChannel::Email, true) => &self.email_delivered,
            (DeliveryChannel::Sms, true) => &self.sms_delivered,
            (DeliveryChannel::Email, false) => &self.email_failed_attempts,
            (DeliveryChannel::Sms, false) => &self.sms_failed_attempts,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn count_dead(&self, channel: DeliveryChannel) {
        match channel {
            DeliveryChannel::Email => &self.email_dead,
            DeliveryChannel::Sms => &self.sms_dead,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition of the counters, plus the queue depth read by the caller.
    pub fn render(&self, depth: OutboxDepth) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "# HELP gatehouse_messages_delivered_total Messages delivered by this node.\n\
             # TYPE gatehouse_messages_delivered_total counter\n\
             gatehouse_messages_delivered_total{{channel=\"email\"}} {}\n\
             gatehouse_messages_delivered_total{{channel=\"sms\"}} {}\n\
             # HELP gatehouse_message_delivery_failures_total Failed delivery attempts on this node (each is retried).\n\
             # TYPE gatehouse_message_delivery_failures_total counter\n\
             gatehouse_message_delivery_failures_total{{channel=\"email\"}} {}\n\
             gatehouse_message_delivery_failures_total{{channel=\"sms\"}} {}\n\
             # HELP gatehouse_messages_dead_total Messages this node gave up on (a permanent failure, or failing for a day).\n\
             # TYPE gatehouse_messages_dead_total counter\n\
             gatehouse_messages_dead_total{{channel=\"email\"}} {}\n\
             gatehouse_messages_dead_total{{channel=\"sms\"}} {}\n\
             # HELP gatehouse_outbox_pending Undelivered messages in the outbox (all nodes).\n\
             # TYPE gatehouse_outbox_pending gauge\n\
             gatehouse_outbox_pending {}\n\
             # HELP gatehouse_outbox_retrying Undelivered messages that have failed at least once.\n\
             # TYPE gatehouse_outbox_retrying gauge\n\
             gatehouse_outbox_retrying {}\n\
             # HELP gatehouse_outbox_dead Messages given up and not yet pruned (all nodes).\n\
             # TYPE gatehouse_outbox_dead gauge\n\
             gatehouse_outbox_dead {}\n",
            get(&self.email_delivered),
            get(&self.sms_delivered),
            get(&self.email_failed_attempts),
            get(&self.sms_failed_attempts),
            get(&self.email_dead),
            get(&self.sms_dead),
            depth.pending,
            depth.retrying,
            depth.dead,
        )
    }
}

pub struct Dispatcher {
    store: Arc<dyn OutboxStore>,
    clock: Arc<dyn Clock>,
    account_id: String,
    email: Arc<dyn Deliverer>,
    sms: Arc<dyn Deliverer>,
    wake: Arc<Notify>,
    stats: Arc<DeliveryStats>,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn OutboxStore>,
        clock: Arc<dyn Clock>,
        account_id: impl Into<String>,
        email: Arc<dyn Deliverer>,
        sms: Arc<dyn Deliverer>,
    ) -> Dispatcher {
        Dispatcher {
            store,
            clock,
            account_id: account_id.into(),
            email,
            sms,
            wake: Arc::new(Notify::new()),
            stats: Arc::new(DeliveryStats::default()),
        }
    }

    /// Poked by the sender on this node when it queues a message.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub fn stats(&self) -> Arc<DeliveryStats> {
        self.stats.clone()
    }

    /// Runs until the runtime shuts down.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move { self.run().await })
    }

    async fn run(self) {
        tracing::info!(
            email = self.email.name(),
            sms = self.sms.name(),
            "message dispatcher started"
        );
        let mut last_prune: Option<tokio::time::Instant> = None;
        loop {
            if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(tokio::time::Instant::now());
                match self
                    .store
                    .prune_outbox(self.clock.now_ms() - KEEP_DELIVERED_MS)
                    .await
                {
                    Ok(n) if n > 0 => tracing::info!(rows = n, "pruned old outbox rows"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "outbox prune failed"),
                }
            }
            match self.round().await {
                // A full batch: there may be more due at once.
                Ok(n) if n == BATCH as usize => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot lease messages from the outbox"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Leases one batch and delivers it. Returns how many messages were leased.
    pub async fn round(&self) -> Result<usize, domain::ports::StoreError> {
        let batch = self
            .store
            .lease_messages(&self.account_id, self.clock.now_ms(), LEASE_MS, BATCH)
            .await?;
        let n = batch.len();
        futures::future::join_all(batch.into_iter().map(|m| self.deliver(m))).await;
        Ok(n)
    }

    async fn deliver(&self, queued: QueuedMessage) {
        let deliverer = match queued.message.channel {
            DeliveryChannel::Email => &self.email,
            DeliveryChannel::Sms => &self.sms,
        };
        let attempt = queued.attempts + 1;
        match deliverer.deliver(&queued.message).await {
            Ok(()) => {
                self.stats.count(queued.message.channel, true);
                if let Err(e) = self
                    .store
                    .message_delivered(&queued.id, self.clock.now_ms())
                    .await
                {
                    // The message went out but is not marked: it will be sent again when the
                    // lease runs out. Nothing better can be done without the database.
                    tracing::error!(message_id = %queued.id, error = %e, "delivered message could not be marked delivered");
                }
                tracing::debug!(message_id = %queued.id, channel = ?queued.message.channel, attempt, via = deliverer.name(), "message delivered");
            }
            Err(error) => {
                self.stats.count(queued.message.channel, false);
                let now = self.clock.now_ms();
                let m = &queued.message;
                match verdict(&error, attempt, queued.created_ms, now) {
                    Verdict::Dead(why) => {
                        self.stats.count_dead(m.channel);
                        // The error names the relay's or SNS's reason, never the body (codes,
                        // temporary passwords).
                        tracing::error!(message_id = %queued.id, pool_id = %m.pool_id, purpose = %m.purpose, channel = ?m.channel, attempt, via = deliverer.name(), reason = why, error = %error, "message given up (dead)");
                        if let Err(e) = self
                            .store
                            .message_dead(&queued.id, now, &error.message)
                            .await
                        {
                            tracing::error!(message_id = %queued.id, error = %e, "cannot mark a message dead; it is retried when its lease runs out");
                        }
                    }
                    Verdict::Retry(delay) => {
                        if attempt >= LOUD_AFTER {
                            tracing::error!(message_id = %queued.id, pool_id = %m.pool_id, channel = ?m.channel, attempt, via = deliverer.name(), retry_in_ms = delay, error = %error, "message delivery keeps failing; retrying");
                        } else {
                            tracing::warn!(message_id = %queued.id, pool_id = %m.pool_id, channel = ?m.channel, attempt, via = deliverer.name(), retry_in_ms = delay, error = %error, "message delivery failed; retrying");
                        }
                        if let Err(e) = self
                            .store
                            .message_failed(&queued.id, now + delay, &error.message)
                            .await
                        {
                            tracing::error!(message_id = %queued.id, error = %e, "cannot record a failed delivery; the message is retried when its lease runs out");
                        }
                    }
                }
            }
        }
    }
}

/// What happens to a message after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Try again after this many milliseconds.
    Retry(i64),
    /// Give up; the reason, for the log.
    Dead(&'static str),
}

/// A permanent error ends the message at once; a transient one is retried with backoff until the
/// message is [`MAX_AGE_MS`] old (or its next attempt would come after that).
pub fn verdict(error: &DeliveryError, attempt: i64, created_ms: i64, now_ms: i64) -> Verdict {
    if error.permanent {
        return Verdict::Dead("permanent failure");
    }
    let jitter = rand::thread_rng().gen_range(-1.0..=1.0);
    let delay = retry_delay_ms(attempt, jitter);
    if now_ms + delay - created_ms > MAX_AGE_MS {
        return Verdict::Dead("still failing after a day");
    }
    Verdict::Retry(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    #[test]
    fn permanent_errors_end_the_message_at_once() {
        let e = DeliveryError::permanent("SMTP: permanent error (550): no such user");
        assert_eq!(verdict(&e, 1, T0, T0), Verdict::Dead("permanent failure"));
    }

    #[test]
    fn transient_errors_retry_until_a_day_has_passed() {
        let e = DeliveryError::transient("SMTP: connection refused");
        match verdict(&e, 1, T0, T0 + 1_000) {
            Verdict::Retry(d) => assert!((800..=1_200).contains(&d), "{d}"),
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            verdict(&e, 40, T0, T0 + MAX_AGE_MS - 3_600_000),
            Verdict::Retry(_)
        ));
        assert_eq!(
            verdict(&e, 300, T0, T0 + MAX_AGE_MS - 1_000),
            Verdict::Dead("still failing after a day")
        );
    }

    #[test]
    fn metrics_show_dead_messages() {
        let stats = DeliveryStats::default();
        stats.count_dead(DeliveryChannel::Email);
        let text = stats.render(OutboxDepth {
            pending: 2,
            retrying: 1,
            dead: 1,
        });
        assert!(
            text.contains("gatehouse_messages_dead_total{channel=\"email\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("gatehouse_messages_dead_total{channel=\"sms\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("gatehouse_outbox_dead 1\n"), "{text}");
        assert!(text.contains("gatehouse_outbox_pending 2\n"), "{text}");
    }
}
