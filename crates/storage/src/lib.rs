//! Storage adapters: the domain's ports on Postgres (production) and SQLite (the embedded default).
//!
//! Both backends run through sqlx's `Any` driver with one set of SQL statements written to the
//! common dialect (`$n` placeholders, `ON CONFLICT`), so the two cannot drift apart;
//! what differs (migrations, cross-node invalidation through LISTEN/NOTIFY) is chosen by [`Backend`].

mod cache;
mod sealing;
mod session_cache;
mod sql;
mod user_cache;

pub use cache::{ClientCache, PoolCache};
pub use sealing::{Kek, Sealer};
pub use sql::{redact, Backend, BulkOutcome, SqlStore};
pub use user_cache::{
    Lookup, ReadTicket, UserCache, DEFAULT_CAPACITY as DEFAULT_USER_CACHE_CAPACITY,
};
