//! Noticing dead Postgres connections before they serve a request.
//!
//! When Postgres restarts, every connection the pools hold dies with it, but a connection that
//! sat idle through the restart looks fine until a query is sent on it; that query then fails,
//! possibly long after Postgres came back. Pinging before every use would notice it, at the
//! cost of a round trip per query. Instead a connection is pinged before use only when it may
//! have died unseen:
//! - it has been idle for at least [`IDLE_PING`] (a busy connection that died fails a request
//!   during the outage and is closed by the pool when it is released), or
//! - it was last used before a connection failure was seen anywhere in the process: one
//!   failure makes every older connection suspect.
//!
//! A ping that fails closes the connection, and the pool opens another one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Idle for this long, a connection is pinged before it is used again.
pub const IDLE_PING: Duration = Duration::from_secs(1);

/// Milliseconds since [`epoch`] at which a connection failure was last seen (0: never).
static LAST_FAILURE_MS: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    // +1 so that a failure in the first millisecond is not mistaken for "never".
    epoch().elapsed().as_millis() as u64 + 1
}

/// Whether an error means the connection (or the server behind it) is gone: a broken socket,
/// a connection-class SQLSTATE (08xxx) or the server shutting down (57P01–57P03).
pub fn is_connection_failure(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// Records a failure when `e` is a connection failure (see [`is_connection_failure`]).
pub fn observe(e: &sqlx::Error) {
    if is_connection_failure(e) {
        LAST_FAILURE_MS.fetch_max(now_ms(), Ordering::Relaxed);
    }
}

/// Whether a connection idle for `idle_for` must be pinged before it is handed out.
pub fn needs_ping(idle_for: Duration) -> bool {
    if idle_for >= IDLE_PING {
        return true;
    }
    let failure = LAST_FAILURE_MS.load(Ordering::Relaxed);
    if failure == 0 {
        return false;
    }
    let last_used = now_ms().saturating_sub(idle_for.as_millis() as u64);
    last_used <= failure
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(idle_ms: u64) -> Duration {
        Duration::from_millis(idle_ms)
    }

    #[test]
    fn idle_connections_and_those_older_than_a_failure_are_pinged() {
        // Long idle: always pinged.
        assert!(needs_ping(meta(1_500)));
        // A failure now makes a connection idle for 200 ms suspect, and one released after the
        // failure is not.
        std::thread::sleep(Duration::from_millis(5));
        observe(&sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert!(needs_ping(meta(200)));
        std::thread::sleep(Duration::from_millis(20));
        assert!(!needs_ping(meta(2)));
        // Errors that say nothing about the connection leave the mark alone.
        assert!(!is_connection_failure(&sqlx::Error::RowNotFound));
    }
}
