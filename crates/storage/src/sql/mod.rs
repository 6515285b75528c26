//! The SQL store over sqlx `Any`: one implementation, two backends.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use domain::ports::{StoreError, StoreResult, UserPoolView};
use domain::user_pool::{PoolSettings, UserPoolRecord};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};

use crate::cache::{ClientCache, PoolCache};
use crate::sealing::Sealer;
use crate::session_cache::SessionCache;

mod app_clients;
mod auth;
mod bulk;
mod codes;
use crate::user_cache::UserCache;
pub use bulk::BulkOutcome;
mod directory;
mod identity_providers;
mod liveness;
mod lookup_batch;
mod mfa;
mod outbox;
mod user_pools;

/// The NOTIFY channel that carries the id of a changed pool to every node.
const INVALIDATE_CHANNEL: &str = "gatehouse_pool_changed";
/// The NOTIFY channel that carries the id of a changed app client (settings or secrets).
const CLIENT_CHANNEL: &str = "gatehouse_client_changed";
/// The NOTIFY channel that carries a revoked session (origin_jti) or user (`user:<pool>/<id>`).
const REVOKE_CHANNEL: &str = "gatehouse_session_revoked";
/// The NOTIFY channel on which nodes acknowledge a revocation: `<nonce>:<node id>`.
const ACK_CHANNEL: &str = "gatehouse_revocation_ack";
/// A node that has not written its heartbeat for this long is not waited for.
const NODE_LIVENESS_MS: i64 = 3_000;
/// The NOTIFY channel that carries the user cache marks of a committed user write (see `user_cache`).
const USER_CHANNEL: &str = "gatehouse_user_changed";

/// How long `/ready` waits for the database before it says not ready.
pub const READY_TIMEOUT: Duration = Duration::from_millis(800);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else {
            None
        }
    }
}

#[derive(Clone)]
pub struct SqlStore {
    /// Reads, and on Postgres writes too.
    pool: AnyPool,
    /// Writes: on SQLite a pool of one connection, on Postgres the same pool as reads. SQLite
    /// takes one writer at a time, and a writer that finds the file locked sleeps in SQLite's busy
    /// handler (1, 2, 5, 10 ms...) long after the lock is free: under parallel sign-ins that left
    /// a tenth of the CPU idle. Writers queue for the one connection here instead, and are handed
    /// it the moment it is free. Every transaction (`begin`) is on it; so a write must never wait
    /// for a second write connection while it holds one.
    writer: AnyPool,
    /// Writes a crash may lose without harm, committed without waiting for the WAL flush
    /// (`synchronous_commit = off`, Postgres; on SQLite the writer): challenge sessions and
    /// failed-attempt counters. A crash loses at most the last moment's (Postgres flushes them
    /// within a fraction of a second): a sign-in in flight starts over, a few failures are not
    /// counted. Waiting for the flush of three such writes made an MFA answer cost four times
    /// what a refresh costs.
    relaxed: AnyPool,
    /// On Postgres, the same database through sqlx's Postgres driver, for user reads: a user by
    /// username or alias, ListUsers and ListUsersInGroup pages. `Any` copies every row into a
    /// generic row with its column metadata before it can be read: a sixth of the server's CPU on
    /// a 60-user page. Split into one pool per core (`pg_reads`): a request that waits for a
    /// connection is then woken by a request of its own thread, not across threads, which cost a
    /// fifth of ListUsers' throughput at 50 connections.
    reads: Vec<PgPool>,
    /// On Postgres, concurrent lookups by username share a round trip (see `lookup_batch`).
    lookups: Arc<lookup_batch::LookupBatch>,
    backend: Backend,
    url: String,
    cache: Arc<PoolCache>,
    /// App clients recently read: every sign-in reads its client.
    clients: Arc<ClientCache>,
    sessions: Arc<SessionCache>,
    /// Users recently read, by username and alias (see `user_cache`).
    users: Arc<UserCache>,
    /// Seals secrets before they are written and opens them when read (see `sealing`).
    sealer: Arc<Sealer>,
}

fn backend_err(e: sqlx::Error) -> StoreError {
    liveness::observe(&e);
    StoreError::Backend(e.to_string())
}

/// Pings a pooled Postgres connection before it serves a request when it may have died unseen
/// (see `liveness`); a failed ping makes the pool drop it and open another.
async fn check_before_use<C: sqlx::Connection>(
    conn: &mut C,
    idle_for: Duration,
) -> Result<bool, sqlx::Error> {
    if liveness::needs_ping(idle_for) {
        if let Err(e) = conn.ping().await {
            liveness::observe(&e);
            return Ok(false);
        }
    }
    Ok(true)
}

impl SqlStore {
    /// Connects to `postgres://...` or `sqlite://...`; a SQLite file is created when missing.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<SqlStore> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url).ok_or_else(|| {
            StoreError::Backend(format!("unsupported database URL scheme: {}", redact(url)))
        })?;
        let mut opts = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            // No ping round trip before every query (sqlx's default): it doubled the database work
            // of AdminGetUser. On Postgres a connection that may have died unseen (idle, or older
            // than a failure) is pinged before use instead (see `liveness`).
            .test_before_acquire(false);
        if backend == Backend::Sqlite {
            // Each pooled connection waits for the single SQLite writer instead of failing at once.
            opts = opts.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA busy_timeout = 10000")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA foreign_keys = ON")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        if backend == Backend::Postgres {
            opts = opts
                .after_connect(|conn, _| {
                    Box::pin(async move { conn.execute(POSTGRES_SESSION).await.map(drop) })
                })
                .before_acquire(|conn, meta| Box::pin(check_before_use(conn, meta.idle_for)));
        }
        let url_for_pool = if backend == Backend::Sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" })
        } else {
            url.to_string()
        };
        let pool = opts
            .clone()
            .connect(&url_for_pool)
            .await
            .map_err(backend_err)?;
        if backend == Backend::Sqlite {
            // WAL lets readers proceed while one writer commits; the setting is kept in the file.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(backend_err)?;
        }
        // An in-memory SQLite database exists per connection pool: a second pool would be another
        // database, so there reads and writes share one.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let writer = if backend == Backend::Sqlite && !in_memory {
            opts.clone()
                .max_connections(1)
                .connect(&url_for_pool)
                .await
                .map_err(backend_err)?
        } else {
            pool.clone()
        };
        let relaxed = if backend == Backend::Postgres {
            opts.clone()
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute(POSTGRES_SESSION).await?;
                        conn.execute("SET synchronous_commit = off").await.map(drop)
                    })
                })
                .connect_lazy(&url_for_pool)
                .map_err(backend_err)?
        } else {
            writer.clone()
        };
        let mut reads = Vec::new();
        if backend == Backend::Postgres {
            // Each part half as many as the other pool (at least one): with fewer, list pages
            // queued for a connection while Postgres had a core idle, and a worker that got more
            // than its share of the clients kept some waiting, up to a third of a second.
            // Connections open when first needed, so an idle part holds none. At most four parts,
            // so that the read pools of a node on a large machine hold at most twice its configured
            // connections (threads beyond four share parts).
            let parts = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
            let each = (max_connections / 2).max(1);
            for _ in 0..parts {
                reads.push(
                    PgPoolOptions::new()
                        .max_connections(each)
                        .acquire_timeout(Duration::from_secs(10))
                        .test_before_acquire(false)
                        .before_acquire(|conn, meta| {
                            Box::pin(check_before_use(conn, meta.idle_for))
                        })
                        .after_connect(|conn, _| {
                            Box::pin(async move { conn.execute(POSTGRES_SESSION).await.map(drop) })
                        })
                        .connect_lazy(url)
                        .map_err(backend_err)?,
                );
            }
        }
        Ok(SqlStore {
            pool,
            writer,
            relaxed,
            reads,
            lookups: Arc::new(lookup_batch::LookupBatch::new(lookup_lanes(
                max_connections,
            ))),
            backend,
            url: url.to_string(),
            cache: Arc::new(PoolCache::default()),
            clients: Arc::new(ClientCache::default()),
            sessions: Arc::new(SessionCache::default()),
            users: Arc::new(UserCache::default()),
            // Until a configured key is given, secrets are sealed with a key that dies with the process.
            sealer: Arc::new(Sealer::ephemeral()),
        })
    }

    /// Uses the configured key-encryption keys for secrets at rest.
    pub fn with_sealer(mut self, sealer: Sealer) -> Self {
        self.sealer = Arc::new(sealer);
        self
    }

    /// Caches at most `capacity` user lookups on this node; 0 turns the user cache off.
    pub fn with_user_cache_capacity(mut self, capacity: usize) -> Self {
        self.users = Arc::new(UserCache::new(capacity));
        self
    }

    pub fn user_cache(&self) -> &Arc<UserCache> {
        &self.users
    }

    /// This thread's part of the Postgres read pool (None on SQLite). Each thread keeps to one
    /// part, so the requests of one server worker share (and wait for) the same connections.
    fn pg_reads(&self) -> Option<&PgPool> {
        thread_local! {
            static PART: usize = {
                static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            };
        }
        if self.reads.is_empty() {
            return None;
        }
        Some(&self.reads[PART.with(|p| *p) % self.reads.len()])
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// Proves this node's key-encryption key is the one the database's secrets were sealed with:
    /// the first node seals a check value; every later start must be able to open it.
    pub async fn check_sealing_key(&self) -> StoreResult<()> {
        const CONTEXT: &str = "gatehouse-meta/kek-check";
        sqlx::query("INSERT INTO gatehouse_meta (key, value) VALUES ('kek_check', $1) ON CONFLICT (key) DO NOTHING")
            .bind(self.sealer.seal(CONTEXT, b"gatehouse"))
            .execute(&self.writer)
            .await
            .map_err(backend_err)?;
        let row = sqlx::query("SELECT value FROM gatehouse_meta WHERE key = 'kek_check'")
            .fetch_one(&self.pool)
            .await
            .map_err(backend_err)?;
        let sealed: String = get(&row, "value")?;
        match self.sealer.open(CONTEXT, &sealed) {
            Ok(v) if v == b"gatehouse" => Ok(()),
            _ => Err(StoreError::Backend(format!(
                "the key-encryption key (id {}) does not open this database's secrets; start with the key it was \
                 created with, and list retired keys as previous keys",
                self.sealer.current_key_id()
            ))),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the backend's migrations. Idempotent. On Postgres, concurrent nodes serialise on
    /// sqlx's advisory lock. sqlx's SQLite migrator takes no lock, so there callers in this process
    /// queue on a mutex, and a run that lost a race with another process is retried: the retry
    /// finds the winner's migrations recorded and has nothing left to do.
    pub async fn migrate(&self) -> StoreResult<()> {
        static SQLITE_MIGRATIONS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        match self.backend {
            Backend::Postgres => sqlx::migrate!("../../migrations/postgres")
                .run(&self.pool)
                .await
                .map_err(|e| StoreError::Backend(e.to_string())),
            Backend::Sqlite => {
                let _guard = SQLITE_MIGRATIONS.lock().await;
                let mut attempt = 0;
                loop {
                    match sqlx::migrate!("../../migrations/sqlite")
                        .run(&self.pool)
                        .await
                    {
                        Ok(()) => return Ok(()),
                        Err(e) if attempt < 5 => {
                            attempt += 1;
                            tracing::warn!(error = %e, attempt, "SQLite migration raced another process; retrying");
                            tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                        }
                        Err(e) => return Err(StoreError::Backend(e.to_string())),
                    }
                }
            }
        }
    }

    /// Reachability, for `/ready`.
    /// Bounded by [`READY_TIMEOUT`]: a database that hangs is as unready as one that is down.
    pub async fn ping(&self) -> StoreResult<()> {
        let probe = sqlx::query("SELECT 1").execute(&self.pool);
        match tokio::time::timeout(READY_TIMEOUT, probe).await {
            Ok(done) => done.map(drop).map_err(backend_err),
            Err(_) => Err(StoreError::Backend(
                "the database did not answer in time".into(),
            )),
        }
    }

    pub fn cache(&self) -> &Arc<PoolCache> {
        &self.cache
    }

    /// On Postgres, listens for other nodes' changes and drops them from this node's cache.
    /// Returns at once on SQLite, where one process owns the file.
    pub fn spawn_invalidation_listener(&self) {
        if self.backend != Backend::Postgres {
            return;
        }
        let url = self.url.clone();
        let caches = Caches {
            pools: self.cache.clone(),
            clients: self.clients.clone(),
            sessions: self.sessions.clone(),
            users: self.users.clone(),
        };
        let pool = self.pool.clone();
        tokio::spawn(async move {
            loop {
                match listen(&url, &pool, &caches).await {
                    Ok(()) => {}
                    Err(e) => tracing::warn!(error = %e, "invalidation listener failed; retrying"),
                }
                // Whatever happened while not listening is unknown: forget everything.
                caches.clear();
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }

    /// Removes this node from the live-node table at shutdown, so revocations stop waiting for it.
    pub async fn leave(&self) {
        if self.backend == Backend::Postgres {
            let _ = sqlx::query("DELETE FROM gatehouse_nodes WHERE node_id = $1")
                .bind(self.sessions.node_id())
                .execute(&self.pool)
                .await;
        }
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Any>> {
        self.writer.begin().await.map_err(backend_err)
    }

    /// Takes the pool's row lock at the start of a write transaction: on Postgres a row lock, on
    /// SQLite the database write lock (taken up front so a deferred transaction cannot fail to
    /// upgrade later). False when the pool does not exist.
    async fn lock_pool(tx: &mut Transaction<'static, Any>, pool_id: &str) -> StoreResult<bool> {
        let r = sqlx::query("UPDATE user_pools SET version = version WHERE id = $1")
            .bind(pool_id)
            .execute(&mut **tx)
            .await
            .map_err(backend_err)?;
        Ok(r.rows_affected() > 0)
    }

    async fn notify(&self, tx: &mut Transaction<'static, Any>, pool_id: &str) -> StoreResult<()> {
        if self.backend == Backend::Postgres {
            // Delivered at commit, only if the transaction commits.
            pg_notify(&mut **tx, INVALIDATE_CHANNEL, pool_id)
                .await
                .map_err(backend_err)?;
        }
        Ok(())
    }

    fn sessions(&self) -> &SessionCache {
        &self.sessions
    }

    /// Revokes `key` (an origin_jti or a user key) on every node. The notification goes out at
    /// commit; on Postgres the call then waits until every live node (this one included) has
    /// acknowledged that it dropped the key from its cache, so once the caller has its answer no
    /// node accepts the revoked token. A node that does not answer within a second is logged
    /// and not waited for longer (its listener reconnects and clears its cache).
    async fn commit_revocation(
        &self,
        mut tx: Transaction<'static, Any>,
        key: &str,
    ) -> StoreResult<()> {
        if self.backend != Backend::Postgres {
            tx.commit().await.map_err(backend_err)?;
            self.sessions.revoke(key);
            return Ok(());
        }
        let (payload, nonce) = SessionCache::payload(key);
        let mut acks = self.sessions.expect_acks(&nonce);
        pg_notify(&mut *tx, REVOKE_CHANNEL, &payload)
            .await
            .map_err(backend_err)?;
        tx.commit().await.map_err(backend_err)?;
        self.sessions.revoke(key);
        let mut waiting: std::collections::HashSet<String> =
            sqlx::query("SELECT node_id FROM gatehouse_nodes WHERE seen_ms > $1")
                .bind(now_ms() - NODE_LIVENESS_MS)
                .fetch_all(&self.pool)
                .await
                .map_err(backend_err)?
                .iter()
                .map(|r| get::<String>(r, "node_id"))
                .collect::<StoreResult<_>>()?;
        if !self.sessions.listening() {
            // This node hears nothing (a tool, a test store): it cannot collect answers.
            waiting.clear();
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        while !waiting.is_empty() {
            match tokio::time::timeout_at(deadline, acks.recv()).await {
                Ok(Some(node)) => {
                    waiting.remove(&node);
                }
                _ => {
                    tracing::warn!(
                        nodes = waiting.len(),
                        "nodes did not acknowledge a revocation within 1 s"
                    );
                    break;
                }
            }
        }
        self.sessions.forget_acks(&nonce);
        Ok(())
    }

    /// Commits a write to an app client (settings or secrets), telling every node to drop its
    /// cached copy: other nodes through a notification sent with the commit, this one at once.
    async fn commit_client_write(
        &self,
        mut tx: Transaction<'static, Any>,
        client_id: &str,
    ) -> StoreResult<()> {
        if self.backend == Backend::Postgres {
            pg_notify(&mut *tx, CLIENT_CHANNEL, client_id)
                .await
                .map_err(backend_err)?;
        }
        tx.commit().await.map_err(backend_err)?;
        self.clients.invalidate(client_id);
        Ok(())
    }

    async fn commit_and_invalidate(
        &self,
        tx: Transaction<'static, Any>,
        pool_id: &str,
    ) -> StoreResult<()> {
        tx.commit().await.map_err(backend_err)?;
        self.cache.invalidate(pool_id);
        Ok(())
    }

    async fn read_pool(&self, pool_id: &str) -> StoreResult<Option<UserPoolView>> {
        let row = sqlx::query(
            "SELECT id, account_id, region, name, created_ms, modified_ms, version, settings \
             FROM user_pools WHERE id = $1",
        )
        .bind(pool_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        let Some(row) = row else { return Ok(None) };
        let record = record_of(&row)?;
        let tag_rows =
            sqlx::query("SELECT key, value FROM user_pool_tags WHERE pool_id = $1 ORDER BY key")
                .bind(pool_id)
                .fetch_all(&self.pool)
                .await
                .map_err(backend_err)?;
        let mut tags = BTreeMap::new();
        for r in tag_rows {
            tags.insert(get::<String>(&r, "key")?, get::<String>(&r, "value")?);
        }
        let estimated_users: i64 = sqlx::query("SELECT n FROM user_counts WHERE pool_id = $1")
            .bind(pool_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?
            .map(|r| get(&r, "n"))
            .transpose()?
            .unwrap_or(0);
        Ok(Some(UserPoolView {
            record,
            tags,
            estimated_users,
        }))
    }
}

/// This node's caches that other nodes' writes make stale.
struct Caches {
    pools: Arc<PoolCache>,
    clients: Arc<ClientCache>,
    sessions: Arc<SessionCache>,
    users: Arc<UserCache>,
}

impl Caches {
    fn clear(&self) {
        self.pools.clear();
        self.clients.clear();
        self.sessions.clear();
        self.users.clear();
    }
}

async fn listen(url: &str, pool: &AnyPool, caches: &Caches) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener
        .listen_all([
            INVALIDATE_CHANNEL,
            CLIENT_CHANNEL,
            USER_CHANNEL,
            REVOKE_CHANNEL,
            ACK_CHANNEL,
        ])
        .await?;
    let sessions = &caches.sessions;
    heartbeat(pool, sessions.node_id()).await?;
    // Anything cached before the subscription took effect may have missed a notification.
    caches.clear();
    sessions.set_listening(true);
    let result = receive(&mut listener, pool, caches).await;
    sessions.set_listening(false);
    result
}

/// Marks this node alive, so revocations wait for its acknowledgement.
async fn heartbeat(pool: &AnyPool, node_id: &str) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO gatehouse_nodes (node_id, seen_ms) VALUES ($1, $2) \
         ON CONFLICT (node_id) DO UPDATE SET seen_ms = EXCLUDED.seen_ms",
    )
    .bind(node_id)
    .bind(now)
    .execute(pool)
    .await?;
    // Nodes gone for an hour are forgotten.
    sqlx::query("DELETE FROM gatehouse_nodes WHERE seen_ms < $1")
        .bind(now - 3_600_000)
        .execute(pool)
        .await?;
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

async fn receive(
    listener: &mut sqlx::postgres::PgListener,
    pool: &AnyPool,
    caches: &Caches,
) -> Result<(), sqlx::Error> {
    let sessions = &caches.sessions;
    let mut beat = tokio::time::interval(Duration::from_secs(1));
    loop {
        let n = tokio::select! {
            n = listener.try_recv() => n?,
            _ = beat.tick() => {
                heartbeat(pool, sessions.node_id()).await?;
                continue;
            }
        };
        match n {
            Some(n) if n.channel() == USER_CHANNEL => {
                if n.payload() == directory::CLEAR_ALL_USERS {
                    caches.users.clear();
                } else {
                    let marks: Vec<&str> = n.payload().split(directory::MARK_LIST_SEP).collect();
                    caches.users.invalidate(&marks);
                }
            }
            Some(n) if n.channel() == REVOKE_CHANNEL => {
                if let Some(nonce) = sessions.notified(n.payload()) {
                    let ack = format!("{nonce}:{}", sessions.node_id());
                    pg_notify(pool, ACK_CHANNEL, &ack).await?;
                }
            }
            Some(n) if n.channel() == ACK_CHANNEL => sessions.acknowledged(n.payload()),
            Some(n) if n.channel() == CLIENT_CHANNEL => caches.clients.invalidate(n.payload()),
            Some(n) => caches.pools.invalidate(n.payload()),
            None => {
                // The connection dropped and notifications may have been lost.
                caches.clear();
                return Ok(());
            }
        }
    }
}

/// Sends `payload` to every node listening on `channel` (Postgres only). Inside a transaction it is
/// delivered at commit, and only if the transaction commits.
async fn pg_notify<'e, E>(executor: E, channel: &str, payload: &str) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    sqlx::query("SELECT 1 AS sent FROM (SELECT pg_notify($1, $2)) AS n")
        .bind(channel)
        .bind(payload)
        .execute(executor)
        .await?;
    Ok(())
}

/// How every Postgres connection of the store plans. Every statement is prepared once per
/// connection, and its generic plan serves every later run: Postgres's default replans a statement
/// whose generic plan it estimates dearer than its custom ones, and for a ListUsers attribute page
/// it always does (a prefix range is estimated at 0.5 % of the index), so each page paid a full
/// planning, a seventh of Postgres's work. Every statement of the store is a key lookup or a keyset
/// range on an index that serves its ORDER BY, so its generic plan is its custom one
/// (bench/directory_plans.sql checks the list statements' generic plans on a 1,000,000-user pool).
/// A generic plan with `LIMIT $n` may be estimated large enough to start a parallel worker, which
/// costs milliseconds to launch; no statement here reads more than a page of rows.
/// Both settings in one simple-protocol round trip, run on every new connection of either pool.
const POSTGRES_SESSION: &str =
    "SET plan_cache_mode = force_generic_plan; SET max_parallel_workers_per_gather = 0";

/// Username lookup batches in flight at once: an eighth of the pool (two of the default 16). On
/// the 2-core benchmark machine one or two lanes gave the most AdminGetUser requests per second
/// (over 2.5 times as many as a query per lookup at 50 connections); four gave fewer, as each batch
/// shrank back towards a single lookup.
fn lookup_lanes(max_connections: u32) -> usize {
    (max_connections / 8).max(1) as usize
}

fn get<T>(row: &AnyRow, col: &str) -> StoreResult<T>
where
    T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get::<T, _>(col).map_err(backend_err)
}

fn record_of(row: &AnyRow) -> StoreResult<UserPoolRecord> {
    let settings: String = get(row, "settings")?;
    let settings: PoolSettings = serde_json::from_str(&settings)
        .map_err(|e| StoreError::Backend(format!("corrupt pool settings: {e}")))?;
    Ok(UserPoolRecord {
        id: get(row, "id")?,
        account_id: get(row, "account_id")?,
        region: get(row, "region")?,
        name: get(row, "name")?,
        created_ms: get(row, "created_ms")?,
        modified_ms: get(row, "modified_ms")?,
        version: get(row, "version")?,
        settings,
    })
}

fn settings_json(r: &UserPoolRecord) -> StoreResult<String> {
    serde_json::to_string(&r.settings).map_err(|e| StoreError::Backend(e.to_string()))
}

/// Hides the password in a database URL before it reaches a log line or an error.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::of_url(s).ok_or_else(|| format!("unsupported database URL: {}", redact(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_password() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
