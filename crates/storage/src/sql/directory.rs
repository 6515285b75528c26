//! Users, attributes, aliases, groups and memberships.
//!
//! Every write takes the pool's lock first (see `lock_pool`), so uniqueness checks of usernames and
//! aliases and the writes that follow them are serialised per pool; the unique keys back them up.
//! Lists page by keyset on indexed columns; prefix filters are index ranges `[p, succ(p))` over
//! bytewise-ordered text (the "C" collation on Postgres, BINARY on SQLite).

use async_trait::async_trait;
use domain::ports::{
    DirectoryStore, GroupPage, GroupRecord, MembershipOutcome, OutboundMessage, PasswordState,
    StoreError, StoreResult, UserCursor, UserPage, UserQuery, UserRecord, UserWrite,
    UserWriteOutcome,
};
use sqlx::any::AnyRow;
use sqlx::query::Query;
use sqlx::{Any, ColumnIndex, Database, Decode, Encode, Postgres, Row, Transaction, Type};

use super::{backend_err, get, pg_notify, Backend, SqlStore, USER_CHANNEL};
use crate::sealing::Sealer;
use crate::user_cache::{alias_mark, user_mark, Lookup};

/// Separates the marks in one user-invalidation notification.
pub(super) const MARK_LIST_SEP: char = '\u{1e}';
/// A notification that drops every cached user (a bulk write, or marks too long for one payload).
pub(super) const CLEAR_ALL_USERS: &str = "*";
/// Postgres refuses NOTIFY payloads of 8000 bytes or more.
const MAX_NOTIFY_PAYLOAD: usize = 7900;

pub(super) const USER_COLS: &str =
    "u.pool_id, u.id, u.username, u.username_key, u.status, u.enabled, \
     u.created_ms, u.modified_ms, u.version, u.password, u.attributes, u.pending_attributes";
/// The columns of a listed user: no password state (nor pending attribute values). No list shows it, and leaving it out spares
/// moving and unsealing it for every row of every page.
const LIST_COLS: &str = "u.pool_id, u.id, u.username, u.username_key, u.status, u.enabled, \
     u.created_ms, u.modified_ms, u.version, NULL AS password, u.attributes, \
     NULL AS pending_attributes";
/// What each user_search row copies from its user: what a listed user shows, so an attribute
/// page reads the search rows alone (migration 0011). Every write of a user rewrites or refreshes
/// its search rows from the users row in the same transaction (`write_index`,
/// `set_user_attributes`); the bulk import writes the same values (`bulk.rs`).
pub(super) const SEARCH_COPIES: [&str; 8] = [
    "username",
    "username_key",
    "status",
    "enabled",
    "created_ms",
    "modified_ms",
    "version",
    "attributes",
];
/// LIST_COLS, read from a search row's copies.
const SEARCH_LIST_COLS: &str = "s.pool_id, s.user_id AS id, s.username, s.username_key, \
     s.status, s.enabled, s.created_ms, s.modified_ms, s.version, NULL AS password, s.attributes, \
     NULL AS pending_attributes";

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("corrupt user row: {e}"))
}

/// Where a user's password state lives, bound into its sealing so it cannot be moved to another user.
fn password_context(pool_id: &str, user_id: &str) -> String {
    format!("user-password:{pool_id}/{user_id}")
}

/// Reads a row's columns one after another, by position: a user row in the order USER_COLS
/// names them (LIST_COLS and SEARCH_LIST_COLS keep that order), then any extra column. Looking
/// each column up by name was a sixth of the server's time on a list page. Works on rows of
/// either driver: `AnyRow`, or `PgRow` from the Postgres read pools.
struct InOrder<'r, R> {
    row: &'r R,
    next: usize,
}

impl<'r, R> InOrder<'r, R>
where
    R: Row,
    usize: ColumnIndex<R>,
{
    fn new(row: &'r R) -> Self {
        InOrder { row, next: 0 }
    }

    fn take<T>(&mut self) -> StoreResult<T>
    where
        T: Decode<'r, R::Database> + Type<R::Database>,
    {
        self.next += 1;
        self.row.try_get::<T, _>(self.next - 1).map_err(backend_err)
    }
}

/// Decodes one user from a row that starts with USER_COLS' columns (or LIST_COLS').
pub(super) fn user_of<R>(sealer: &Sealer, row: &R) -> StoreResult<UserRecord>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    i64: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    user_in_order(sealer, &mut InOrder::new(row))
}

fn user_in_order<R>(sealer: &Sealer, cols: &mut InOrder<'_, R>) -> StoreResult<UserRecord>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    i64: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    let pool_id: String = cols.take()?;
    let id: String = cols.take()?;
    let username: String = cols.take()?;
    let username_key: String = cols.take()?;
    let status: String = cols.take()?;
    let enabled: i64 = cols.take()?;
    let created_ms: i64 = cols.take()?;
    let modified_ms: i64 = cols.take()?;
    let version: i64 = cols.take()?;
    let password: Option<String> = cols.take()?;
    let attributes: String = cols.take()?;
    let pending: Option<String> = cols.take()?;
    let password = match password {
        // The password state (argon2id hash, SRP salt and verifier, history) is sealed at rest.
        // Only a sealed state opens: plain JSON here would let anyone who can write the database
        // set a user's password without the key-encryption key. Rows from before sealing were
        // sealed once at startup (seal_legacy_password_states), so none is legitimately plain.
        Some(p) => {
            let plain = sealer.open_string(&password_context(&pool_id, &id), &p)?;
            Some(serde_json::from_str::<PasswordState>(&plain).map_err(corrupt)?)
        }
        None => None,
    };
    let attributes: Vec<(String, String)> = serde_json::from_str(&attributes).map_err(corrupt)?;
    let pending_attributes: Vec<(String, String)> = match pending {
        Some(p) => serde_json::from_str(&p).map_err(corrupt)?,
        None => Vec::new(),
    };
    Ok(UserRecord {
        pool_id,
        id,
        username,
        username_key,
        status,
        enabled: enabled != 0,
        created_ms,
        modified_ms,
        version,
        password,
        attributes,
        pending_attributes,
    })
}

/// The gatehouse_meta key that records that plain password states were sealed.
const PASSWORD_STATES_SEALED: &str = "password_states_sealed";

impl SqlStore {
    /// Seals, once per database, the password states written as plain JSON before password
    /// states were sealed. Afterwards plain states are refused when read, so a plain state that
    /// appears later (written by someone without the key-encryption key) is never trusted, and a
    /// restart does not seal it either: the mark this leaves in gatehouse_meta says the upgrade
    /// is done. Returns how many rows were sealed. Nodes starting together serialise on the mark.
    pub async fn seal_legacy_password_states(&self) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await.map_err(backend_err)?;
        let first = sqlx::query(
            "INSERT INTO gatehouse_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(PASSWORD_STATES_SEALED)
        .bind(now_ms_string())
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?
        .rows_affected()
            == 1;
        if !first {
            tx.rollback().await.map_err(backend_err)?;
            return Ok(0);
        }
        let rows = sqlx::query("SELECT pool_id, id, password FROM users WHERE password LIKE '{%'")
            .fetch_all(&mut *tx)
            .await
            .map_err(backend_err)?;
        let mut sealed = 0;
        for row in &rows {
            let pool_id: String = get(row, "pool_id")?;
            let id: String = get(row, "id")?;
            let plain: String = get(row, "password")?;
            // Only what decodes as a password state is sealed; anything else stays unreadable.
            if serde_json::from_str::<PasswordState>(&plain).is_err() {
                tracing::warn!(pool_id = %pool_id, "a user's password state is neither sealed nor valid; left as it is");
                continue;
            }
            let value = self
                .sealer()
                .seal(&password_context(&pool_id, &id), plain.as_bytes());
            sqlx::query("UPDATE users SET password = $1 WHERE pool_id = $2 AND id = $3")
                .bind(value)
                .bind(&pool_id)
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(backend_err)?;
            sealed += 1;
        }
        tx.commit().await.map_err(backend_err)?;
        if sealed > 0 {
            tracing::info!(
                users = sealed,
                "sealed password states stored before sealing"
            );
        }
        Ok(sealed)
    }
}

fn now_ms_string() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        .to_string()
}

/// The pending_attributes column: NULL when nothing is pending.
fn pending_json(u: &UserRecord) -> StoreResult<Option<String>> {
    if u.pending_attributes.is_empty() {
        Ok(None)
    } else {
        json(&u.pending_attributes).map(Some)
    }
}

fn group_of(row: &AnyRow) -> StoreResult<GroupRecord> {
    Ok(GroupRecord {
        pool_id: get(row, "pool_id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        role_arn: get(row, "role_arn")?,
        precedence: get(row, "precedence")?,
        created_ms: get(row, "created_ms")?,
        modified_ms: get(row, "modified_ms")?,
    })
}

pub(super) fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

/// The smallest string greater than every string starting with `p` (bytewise / code-point order),
/// or None when there is none (empty prefix, or only U+10FFFF characters).
pub(crate) fn prefix_upper_bound(p: &str) -> Option<String> {
    let mut chars: Vec<char> = p.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

async fn user_in_tx(
    sealer: &Sealer,
    tx: &mut Transaction<'static, Any>,
    pool_id: &str,
    user_id: &str,
) -> StoreResult<Option<UserRecord>> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLS} FROM users u WHERE u.pool_id = $1 AND u.id = $2"
    ))
    .bind(pool_id)
    .bind(user_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(|r| user_of(sealer, r)).transpose()
}

/// Claims the write's aliases for its user. Another holder makes this fail with the alias kind,
/// unless the write forces the alias over: then the holder loses it and its verified flag.
async fn claim_aliases(
    sealer: &Sealer,
    tx: &mut Transaction<'static, Any>,
    w: &UserWrite,
    marks: &mut Vec<String>,
) -> StoreResult<Option<String>> {
    let u = &w.user;
    for (kind, key) in &w.aliases {
        let holder: Option<String> = sqlx::query(
            "SELECT user_id FROM user_aliases WHERE pool_id = $1 AND kind = $2 AND value = $3",
        )
        .bind(&u.pool_id)
        .bind(kind)
        .bind(key)
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend_err)?
        .map(|r| get(&r, "user_id"))
        .transpose()?;
        let Some(holder) = holder else { continue };
        if holder == u.id {
            continue;
        }
        // Only email and phone aliases can be forced over (ForceAliasCreation).
        if !w.force_aliases || (kind != "email" && kind != "phone_number") {
            return Ok(Some(kind.clone()));
        }
        sqlx::query("DELETE FROM user_aliases WHERE pool_id = $1 AND kind = $2 AND value = $3")
            .bind(&u.pool_id)
            .bind(kind)
            .bind(key)
            .execute(&mut **tx)
            .await
            .map_err(backend_err)?;
        marks.push(user_mark(&u.pool_id, &holder));
        if let Some(mut other) = user_in_tx(sealer, tx, &u.pool_id, &holder).await? {
            let flag = format!("{kind}_verified");
            for (n, v) in other.attributes.iter_mut() {
                if *n == flag {
                    *v = "false".to_string();
                }
            }
            // Read in this transaction, under the pool's lock: no other write can come between.
            let version = other.version + 1;
            let modified_ms = u.modified_ms.max(other.modified_ms);
            let attributes = json(&other.attributes)?;
            set_user_attributes(tx, &u.pool_id, &holder, &attributes, version, modified_ms).await?;
        }
    }
    Ok(None)
}

async fn write_index(tx: &mut Transaction<'static, Any>, w: &UserWrite) -> StoreResult<()> {
    let u = &w.user;
    sqlx::query("DELETE FROM user_search WHERE pool_id = $1 AND user_id = $2")
        .bind(&u.pool_id)
        .bind(&u.id)
        .execute(&mut **tx)
        .await
        .map_err(backend_err)?;
    sqlx::query("DELETE FROM user_aliases WHERE pool_id = $1 AND user_id = $2")
        .bind(&u.pool_id)
        .bind(&u.id)
        .execute(&mut **tx)
        .await
        .map_err(backend_err)?;
    // The copies come from the users row this transaction has just written.
    let copies = SEARCH_COPIES.join(", ");
    let insert = format!(
        "INSERT INTO user_search (pool_id, name, value, user_id, {copies}) \
         SELECT pool_id, $2, $3, id, {copies} FROM users WHERE pool_id = $1 AND id = $4 \
         ON CONFLICT DO NOTHING"
    );
    for (name, value) in &w.search {
        sqlx::query(&insert)
            .bind(&u.pool_id)
            .bind(name)
            .bind(value)
            .bind(&u.id)
            .execute(&mut **tx)
            .await
            .map_err(backend_err)?;
    }
    for (kind, key) in &w.aliases {
        sqlx::query(
            "INSERT INTO user_aliases (pool_id, kind, value, user_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(&u.pool_id)
        .bind(kind)
        .bind(key)
        .bind(&u.id)
        .execute(&mut **tx)
        .await
        .map_err(backend_err)?;
    }
    Ok(())
}

/// Writes a user's attributes (JSON), version and modification time, for a write that changes
/// neither what the user is searched by nor its aliases (a flag cleared when its alias is forced
/// away, a linked identity); the copies in its search rows follow in the same transaction.
pub(super) async fn set_user_attributes(
    tx: &mut Transaction<'static, Any>,
    pool_id: &str,
    user_id: &str,
    attributes: &str,
    version: i64,
    modified_ms: i64,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE users SET attributes = $1, version = $2, modified_ms = $3 \
         WHERE pool_id = $4 AND id = $5",
    )
    .bind(attributes)
    .bind(version)
    .bind(modified_ms)
    .bind(pool_id)
    .bind(user_id)
    .execute(&mut **tx)
    .await
    .map_err(backend_err)?;
    let copies = SEARCH_COPIES.join(", ");
    sqlx::query(&format!(
        "UPDATE user_search SET ({copies}) = (SELECT {copies} FROM users u \
         WHERE u.pool_id = user_search.pool_id AND u.id = user_search.user_id) \
         WHERE pool_id = $1 AND user_id = $2"
    ))
    .bind(pool_id)
    .bind(user_id)
    .execute(&mut **tx)
    .await
    .map_err(backend_err)?;
    Ok(())
}

pub(super) fn sealed_password(sealer: &Sealer, u: &UserRecord) -> StoreResult<Option<String>> {
    u.password
        .as_ref()
        .map(|p| {
            let plain = json(p)?;
            Ok(sealer.seal(&password_context(&u.pool_id, &u.id), plain.as_bytes()))
        })
        .transpose()
}

/// The user cache marks a write of `w` leaves: the user, and every alias value it claims (a lookup
/// of that value may now find this user instead of another holder of the value under another kind).
fn write_marks(w: &UserWrite) -> Vec<String> {
    let u = &w.user;
    let mut marks = vec![user_mark(&u.pool_id, &u.id)];
    marks.extend(w.aliases.iter().map(|(_, v)| alias_mark(&u.pool_id, v)));
    marks
}

impl SqlStore {
    /// Tells the other nodes, at commit, which cached users a write makes stale.
    pub(super) async fn notify_users(
        &self,
        tx: &mut Transaction<'static, Any>,
        marks: &[String],
    ) -> StoreResult<()> {
        if self.backend != Backend::Postgres || marks.is_empty() {
            return Ok(());
        }
        let mut payload = marks.join(&MARK_LIST_SEP.to_string());
        if payload.len() > MAX_NOTIFY_PAYLOAD {
            payload = CLEAR_ALL_USERS.to_string();
        }
        pg_notify(&mut **tx, USER_CHANNEL, &payload)
            .await
            .map_err(backend_err)?;
        Ok(())
    }

    /// Sends the marks with the transaction, commits it, then drops what they name from this
    /// node's user cache.
    pub(super) async fn commit_user_write(
        &self,
        mut tx: Transaction<'static, Any>,
        marks: &[String],
    ) -> StoreResult<()> {
        self.notify_users(&mut tx, marks).await?;
        tx.commit().await.map_err(backend_err)?;
        self.users.invalidate(marks);
        Ok(())
    }

    /// A writer lost a version race holding a stale copy of the user, perhaps from this node's
    /// cache while the winning writer has committed but not yet invalidated it: drop it so the
    /// retry reads the database instead of conflicting again on the same copy.
    pub(super) fn forget_stale_user(&self, pool_id: &str, user_id: &str) {
        self.users.invalidate(&[user_mark(pool_id, user_id)]);
    }

    /// After a bulk import: refreshes the planner's statistics, and on Postgres also the visibility
    /// map and free space (`VACUUM`), as autovacuum would some time later.
    pub async fn vacuum_analyze(&self) -> StoreResult<()> {
        let sql = match self.backend {
            Backend::Postgres => "VACUUM ANALYZE",
            Backend::Sqlite => "ANALYZE",
        };
        sqlx::query(sql)
            .execute(&self.writer)
            .await
            .map_err(backend_err)?;
        Ok(())
    }

    /// The query plan of the first ListUsers page for `query`, one line per plan node: for
    /// checking that every filter is served by an index. Diagnostics only.
    pub async fn explain_list_users(
        &self,
        pool_id: &str,
        query: &UserQuery,
    ) -> StoreResult<Vec<String>> {
        let Some(l) = list_sql(pool_id, query, None) else {
            return Ok(vec![]);
        };
        let (prefix, col) = match self.backend {
            super::Backend::Postgres => ("EXPLAIN ", 0),
            super::Backend::Sqlite => ("EXPLAIN QUERY PLAN ", 3),
        };
        let sql = format!("{prefix}{}", l.sql);
        let rows = bind_all(sqlx::query::<Any>(&sql), l.binds)
            .bind(61_i64)
            .fetch_all(&self.pool)
            .await
            .map_err(backend_err)?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(col).map_err(backend_err))
            .collect()
    }

    /// The shared buffers (pages) one ListUsers page for `query` after `after` touches on
    /// Postgres, from `EXPLAIN (ANALYZE, BUFFERS)`: for checking that a page reads a few index
    /// pages whatever the pool's size and the page's depth. None on SQLite. Diagnostics only.
    pub async fn list_users_buffers(
        &self,
        pool_id: &str,
        query: &UserQuery,
        after: Option<&UserCursor>,
    ) -> StoreResult<Option<i64>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let Some(l) = list_sql(pool_id, query, after) else {
            return Ok(Some(0));
        };
        let sql = format!("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {}", l.sql);
        let rows = bind_all(sqlx::query::<Any>(&sql), l.binds)
            .bind(61_i64)
            .fetch_all(&self.pool)
            .await
            .map_err(backend_err)?;
        // The first "Buffers:" line is the top node's, which counts its children's too.
        for r in &rows {
            let line = r.try_get::<String, _>(0).map_err(backend_err)?;
            if let Some(b) = line.trim().strip_prefix("Buffers: shared ") {
                let total = b
                    .split(' ')
                    .filter_map(|kv| kv.split_once('='))
                    .filter_map(|(_, n)| n.parse::<i64>().ok())
                    .sum();
                return Ok(Some(total));
            }
        }
        Ok(Some(0))
    }

    /// A user lookup answered from this node's user cache when it can be, otherwise by `read`,
    /// whose answer is cached unless a write overtook it (the ticket is taken before `read`
    /// starts, and a future does nothing until awaited).
    async fn through_cache(
        &self,
        pool_id: &str,
        lookup: Lookup<'_>,
        read: impl std::future::Future<Output = StoreResult<Option<UserRecord>>>,
    ) -> StoreResult<Option<UserRecord>> {
        if let Some(u) = self.users.get(pool_id, lookup) {
            return Ok(Some(u));
        }
        let ticket = self.users.begin_read();
        let user = read.await?;
        if let Some(u) = &user {
            self.users.put_if_current(pool_id, lookup, u, ticket);
        }
        Ok(user)
    }

    /// The one user `sql` finds by its two text parameters (a username or an alias lookup), read
    /// like a list page: on Postgres through the read pool's own driver, elsewhere through `Any`.
    async fn fetch_user(&self, sql: &str, [a, b]: [&str; 2]) -> StoreResult<Option<UserRecord>> {
        match self.pg_reads() {
            Some(pg) => sqlx::query::<Postgres>(sql)
                .bind(a)
                .bind(b)
                .fetch_optional(pg)
                .await
                .map_err(backend_err)?
                .map(|r| user_of(self.sealer(), &r))
                .transpose(),
            None => sqlx::query::<Any>(sql)
                .bind(a)
                .bind(b)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_err)?
                .map(|r| user_of(self.sealer(), &r))
                .transpose(),
        }
    }

    /// The rows of one user list page (`sql`'s last placeholder is the row limit, one more than
    /// `limit`): on Postgres through the read pool's own driver, elsewhere through `Any`. With
    /// `sort_value`, each user comes with that column too (what an attribute page is sorted by).
    async fn fetch_users(
        &self,
        sql: &str,
        binds: Vec<Bind>,
        limit: u32,
        sort_value: bool,
    ) -> StoreResult<Vec<(UserRecord, Option<String>)>> {
        let limit = i64::from(limit) + 1;
        match self.pg_reads() {
            Some(pg) => {
                let rows = bind_all(sqlx::query::<Postgres>(sql), binds)
                    .bind(limit)
                    .fetch_all(pg)
                    .await
                    .map_err(backend_err)?;
                rows.iter()
                    .map(|r| listed(self.sealer(), r, sort_value))
                    .collect()
            }
            None => {
                let rows = bind_all(sqlx::query::<Any>(sql), binds)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend_err)?;
                rows.iter()
                    .map(|r| listed(self.sealer(), r, sort_value))
                    .collect()
            }
        }
    }
}

/// One user of a list page, and with `sort_value` the column after the user's (what an attribute
/// page is sorted by).
fn listed<R>(
    sealer: &Sealer,
    row: &R,
    sort_value: bool,
) -> StoreResult<(UserRecord, Option<String>)>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    i64: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    let mut cols = InOrder::new(row);
    let user = user_in_order(sealer, &mut cols)?;
    let v = if sort_value { Some(cols.take()?) } else { None };
    Ok((user, v))
}

fn bind_all<'q, DB: Database>(
    mut q: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    binds: Vec<Bind>,
) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    String: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
{
    for b in binds {
        q = match b {
            Bind::S(s) => q.bind(s),
            Bind::I(i) => q.bind(i),
        };
    }
    q
}

enum Bind {
    S(String),
    I(i64),
}

/// The SQL of one ListUsers page (its last placeholder is the row limit), its binds, and where
/// the sort value of each row comes from. None when the query matches nobody.
fn list_sql(pool_id: &str, query: &UserQuery, after: Option<&UserCursor>) -> Option<ListSql> {
    let after_v = after.map(|c| c.v.clone()).unwrap_or_default();
    let after_id = after.map(|c| c.id.clone()).unwrap_or_default();
    let mut binds = vec![Bind::S(pool_id.to_string())];
    let mut n = 1;
    let mut next = |binds: &mut Vec<Bind>, b: Bind| {
        binds.push(b);
        n += 1;
        format!("${n}")
    };
    // (sql, how to read the sort value back from a user)
    let (sql, by_id, attr): (String, bool, bool) = match query {
        UserQuery::Nothing => return None,
        UserQuery::All => {
            let a = next(&mut binds, Bind::S(after_v));
            (
                format!(
                    "SELECT {LIST_COLS} FROM users u WHERE u.pool_id = $1 AND u.username > {a} \
                     ORDER BY u.username LIMIT"
                ),
                false,
                false,
            )
        }
        UserQuery::Username { value, prefix } | UserQuery::Sub { value, prefix } => {
            let col = if matches!(query, UserQuery::Sub { .. }) {
                "u.id"
            } else {
                "u.username"
            };
            let cond = range_cond(col, value, *prefix, &mut binds, &mut next);
            let a = next(&mut binds, Bind::S(after_v));
            (
                format!(
                    "SELECT {LIST_COLS} FROM users u WHERE u.pool_id = $1 AND {cond} \
                     AND {col} > {a} ORDER BY {col} LIMIT"
                ),
                col == "u.id",
                false,
            )
        }
        UserQuery::Status(statuses) => {
            let ph: Vec<String> = statuses
                .iter()
                .map(|s| next(&mut binds, Bind::S(s.clone())))
                .collect();
            let a = next(&mut binds, Bind::S(after_v));
            (
                format!(
                    "SELECT {LIST_COLS} FROM users u WHERE u.pool_id = $1 AND u.status IN ({}) \
                     AND u.username > {a} ORDER BY u.username LIMIT",
                    ph.join(", ")
                ),
                false,
                false,
            )
        }
        UserQuery::Enabled(e) => {
            let p = next(&mut binds, Bind::I(i64::from(*e)));
            let a = next(&mut binds, Bind::S(after_v));
            (
                format!(
                    "SELECT {LIST_COLS} FROM users u WHERE u.pool_id = $1 AND u.enabled = {p} \
                     AND u.username > {a} ORDER BY u.username LIMIT"
                ),
                false,
                false,
            )
        }
        UserQuery::Attribute {
            name,
            value,
            prefix,
        } => {
            let np = next(&mut binds, Bind::S(name.clone()));
            // A B-tree scan starts at one lower bound per column, and Postgres cannot tell which of
            // `value >= prefix` and the row comparison `(value, user_id) > cursor` is the tighter:
            // given both, it may start at the row comparison, and a first page's empty cursor then
            // scans the attribute's whole index up to the prefix. So exactly one lower bound is
            // sent, chosen here (strings compare bytewise here as in the database).
            let cond = match after {
                None => range_cond("s.value", value, *prefix, &mut binds, &mut next),
                // An exact value: resume within it, after the last user id.
                Some(c) if !*prefix => match c.v.as_str().cmp(value.as_str()) {
                    std::cmp::Ordering::Less => {
                        range_cond("s.value", value, false, &mut binds, &mut next)
                    }
                    std::cmp::Ordering::Equal => {
                        let eq = range_cond("s.value", value, false, &mut binds, &mut next);
                        let ai = next(&mut binds, Bind::S(after_id));
                        format!("{eq} AND s.user_id > {ai}")
                    }
                    std::cmp::Ordering::Greater => return None,
                },
                // A prefix, resumed inside its range: the cursor is the only lower bound.
                Some(c) if c.v.as_str() >= value.as_str() => {
                    let av = next(&mut binds, Bind::S(after_v));
                    let ai = next(&mut binds, Bind::S(after_id));
                    // Every row after the cursor is at or above the prefix already; the upper
                    // bound ends the range (a cursor past it matches nothing).
                    let mut cond = format!("(s.value, s.user_id) > ({av}, {ai})");
                    if let Some(hi) = prefix_upper_bound(value) {
                        let hi = next(&mut binds, Bind::S(hi));
                        cond.push_str(&format!(" AND s.value < {hi}"));
                    }
                    cond
                }
                // A cursor before the prefix's range skips nothing in it.
                Some(_) => range_cond("s.value", value, true, &mut binds, &mut next),
            };
            (
                format!(
                    "SELECT {SEARCH_LIST_COLS}, s.value AS sort_value FROM user_search s \
                     WHERE s.pool_id = $1 AND s.name = {np} AND {cond} \
                     ORDER BY s.value, s.user_id LIMIT"
                ),
                false,
                true,
            )
        }
    };
    Some(ListSql {
        sql: format!("{sql} ${}", n + 1),
        binds,
        by_id,
        attr,
    })
}

struct ListSql {
    sql: String,
    binds: Vec<Bind>,
    by_id: bool,
    attr: bool,
}

#[async_trait]
impl DirectoryStore for SqlStore {
    async fn insert_user(&self, w: &UserWrite) -> StoreResult<UserWriteOutcome> {
        self.insert_user_and_queue(w, &[], 0).await
    }

    async fn insert_user_and_queue(
        &self,
        w: &UserWrite,
        messages: &[OutboundMessage],
        now_ms: i64,
    ) -> StoreResult<UserWriteOutcome> {
        let u = &w.user;
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, &u.pool_id).await? {
            return Ok(UserWriteOutcome::NotFound);
        }
        let taken = sqlx::query(
            "SELECT id FROM users WHERE pool_id = $1 AND username_key = $2 \
             UNION ALL SELECT id FROM users WHERE pool_id = $3 AND username = $4",
        )
        .bind(&u.pool_id)
        .bind(&u.username_key)
        .bind(&u.pool_id)
        .bind(&u.username)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend_err)?;
        if taken.is_some() {
            return Ok(UserWriteOutcome::UsernameExists);
        }
        // A new user was never cached; what its aliases may have been cached as, and any holder
        // it takes an alias from, is.
        let mut marks = write_marks(w);
        if let Some(kind) = claim_aliases(self.sealer(), &mut tx, w, &mut marks).await? {
            return Ok(UserWriteOutcome::AliasExists(kind));
        }
        sqlx::query(
            "INSERT INTO users (pool_id, id, username, username_key, status, enabled, created_ms, \
             modified_ms, version, password, attributes, pending_attributes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&u.pool_id)
        .bind(&u.id)
        .bind(&u.username)
        .bind(&u.username_key)
        .bind(&u.status)
        .bind(i64::from(u.enabled))
        .bind(u.created_ms)
        .bind(u.modified_ms)
        .bind(u.version)
        .bind(sealed_password(self.sealer(), u)?)
        .bind(json(&u.attributes)?)
        .bind(pending_json(u)?)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        write_index(&mut tx, w).await?;
        sqlx::query(
            "INSERT INTO user_counts (pool_id, n) VALUES ($1, 1) \
             ON CONFLICT (pool_id) DO UPDATE SET n = user_counts.n + 1",
        )
        .bind(&u.pool_id)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        if !messages.is_empty() {
            super::outbox::enqueue_in_tx(&mut tx, self.sealer(), messages, now_ms).await?;
        }
        self.notify_users(&mut tx, &marks).await?;
        // Only this node's cached view learns the new count at once; others within the cache TTL.
        self.commit_and_invalidate(tx, &u.pool_id).await?;
        self.users.invalidate(&marks);
        Ok(UserWriteOutcome::Written)
    }

    async fn update_user(&self, w: &UserWrite) -> StoreResult<UserWriteOutcome> {
        self.update_user_and_queue(w, &[], 0).await
    }

    async fn update_user_and_queue(
        &self,
        w: &UserWrite,
        messages: &[OutboundMessage],
        now_ms: i64,
    ) -> StoreResult<UserWriteOutcome> {
        let u = &w.user;
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, &u.pool_id).await? {
            return Ok(UserWriteOutcome::NotFound);
        }
        let current: Option<i64> =
            sqlx::query("SELECT version FROM users WHERE pool_id = $1 AND id = $2")
                .bind(&u.pool_id)
                .bind(&u.id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_err)?
                .map(|r| get(&r, "version"))
                .transpose()?;
        match current {
            None => return Ok(UserWriteOutcome::NotFound),
            Some(v) if v != u.version - 1 => {
                self.forget_stale_user(&u.pool_id, &u.id);
                return Ok(UserWriteOutcome::VersionConflict);
            }
            Some(_) => {}
        }
        let mut marks = write_marks(w);
        if let Some(kind) = claim_aliases(self.sealer(), &mut tx, w, &mut marks).await? {
            return Ok(UserWriteOutcome::AliasExists(kind));
        }
        sqlx::query(
            "UPDATE users SET status = $1, enabled = $2, modified_ms = $3, version = $4, \
             password = $5, attributes = $6, pending_attributes = $7 \
             WHERE pool_id = $8 AND id = $9",
        )
        .bind(&u.status)
        .bind(i64::from(u.enabled))
        .bind(u.modified_ms)
        .bind(u.version)
        .bind(sealed_password(self.sealer(), u)?)
        .bind(json(&u.attributes)?)
        .bind(pending_json(u)?)
        .bind(&u.pool_id)
        .bind(&u.id)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        write_index(&mut tx, w).await?;
        if !messages.is_empty() {
            super::outbox::enqueue_in_tx(&mut tx, self.sealer(), messages, now_ms).await?;
        }
        self.commit_user_write(tx, &marks).await?;
        Ok(UserWriteOutcome::Written)
    }

    async fn delete_user(&self, pool_id: &str, user_id: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, pool_id).await? {
            return Ok(false);
        }
        // Its linked external identities go with it (AdminLinkProviderForUser).
        sqlx::query(
            "DELETE FROM provider_user_links WHERE pool_id = $1 AND username IN \
             (SELECT username FROM users WHERE pool_id = $2 AND id = $3)",
        )
        .bind(pool_id)
        .bind(pool_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        for table in ["group_members", "user_search", "user_aliases"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE pool_id = $1 AND user_id = $2"
            ))
            .bind(pool_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        }
        let r = sqlx::query("DELETE FROM users WHERE pool_id = $1 AND id = $2")
            .bind(pool_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        let marks = [user_mark(pool_id, user_id)];
        if r.rows_affected() > 0 {
            sqlx::query("UPDATE user_counts SET n = n - 1 WHERE pool_id = $1 AND n > 0")
                .bind(pool_id)
                .execute(&mut *tx)
                .await
                .map_err(backend_err)?;
            self.notify_users(&mut tx, &marks).await?;
        }
        self.commit_and_invalidate(tx, pool_id).await?;
        self.users.invalidate(&marks);
        Ok(r.rows_affected() > 0)
    }

    async fn get_user_by_key(
        &self,
        pool_id: &str,
        username_key: &str,
    ) -> StoreResult<Option<UserRecord>> {
        let read = async {
            match self.pg_reads() {
                Some(pg) => {
                    self.lookups
                        .user(pg, self.sealer(), pool_id, username_key)
                        .await
                }
                None => {
                    self.fetch_user(
                        &format!(
                            "SELECT {USER_COLS} FROM users u \
                             WHERE u.pool_id = $1 AND u.username_key = $2"
                        ),
                        [pool_id, username_key],
                    )
                    .await
                }
            }
        };
        self.through_cache(pool_id, Lookup::Username(username_key), read)
            .await
    }

    async fn get_user_by_alias(&self, pool_id: &str, key: &str) -> StoreResult<Option<UserRecord>> {
        let sql = format!(
            "SELECT {USER_COLS} FROM user_aliases a JOIN users u \
             ON u.pool_id = a.pool_id AND u.id = a.user_id \
             WHERE a.pool_id = $1 AND a.value = $2 ORDER BY a.kind LIMIT 1"
        );
        let read = self.fetch_user(&sql, [pool_id, key]);
        self.through_cache(pool_id, Lookup::Alias(key), read).await
    }

    async fn list_users(
        &self,
        pool_id: &str,
        query: &UserQuery,
        after: Option<&UserCursor>,
        limit: u32,
    ) -> StoreResult<UserPage> {
        let Some(ListSql {
            sql,
            binds,
            by_id,
            attr,
        }) = list_sql(pool_id, query, after)
        else {
            return Ok(UserPage {
                users: vec![],
                next: None,
            });
        };
        let mut rows = self.fetch_users(&sql, binds, limit, attr).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        // The cursor resumes after the last row, by what the page is sorted on.
        let next = match rows.last() {
            Some((u, sort_value)) if more => Some(UserCursor {
                v: match sort_value {
                    Some(v) => v.clone(),
                    None if by_id => u.id.clone(),
                    None => u.username.clone(),
                },
                id: u.id.clone(),
            }),
            _ => None,
        };
        let users = rows.into_iter().map(|(u, _)| u).collect();
        Ok(UserPage { users, next })
    }

    async fn insert_group(&self, g: &GroupRecord) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, &g.pool_id).await? {
            return Ok(false);
        }
        let r = sqlx::query(
            "INSERT INTO groups (pool_id, name, description, role_arn, precedence, created_ms, \
             modified_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(&g.pool_id)
        .bind(&g.name)
        .bind(&g.description)
        .bind(&g.role_arn)
        .bind(g.precedence)
        .bind(g.created_ms)
        .bind(g.modified_ms)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("group {} exists", g.name)));
        }
        tx.commit().await.map_err(backend_err)?;
        Ok(true)
    }

    async fn get_group(&self, pool_id: &str, name: &str) -> StoreResult<Option<GroupRecord>> {
        let row = sqlx::query("SELECT * FROM groups WHERE pool_id = $1 AND name = $2")
            .bind(pool_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?;
        row.as_ref().map(group_of).transpose()
    }

    async fn update_group(&self, g: &GroupRecord) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, &g.pool_id).await? {
            return Ok(false);
        }
        let r = sqlx::query(
            "UPDATE groups SET description = $1, role_arn = $2, precedence = $3, modified_ms = $4 \
             WHERE pool_id = $5 AND name = $6",
        )
        .bind(&g.description)
        .bind(&g.role_arn)
        .bind(g.precedence)
        .bind(g.modified_ms)
        .bind(&g.pool_id)
        .bind(&g.name)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        tx.commit().await.map_err(backend_err)?;
        Ok(r.rows_affected() > 0)
    }

    async fn delete_group(&self, pool_id: &str, name: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, pool_id).await? {
            return Ok(false);
        }
        sqlx::query("DELETE FROM group_members WHERE pool_id = $1 AND group_name = $2")
            .bind(pool_id)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        let r = sqlx::query("DELETE FROM groups WHERE pool_id = $1 AND name = $2")
            .bind(pool_id)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        tx.commit().await.map_err(backend_err)?;
        Ok(r.rows_affected() > 0)
    }

    async fn list_groups(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<GroupPage> {
        let rows = sqlx::query(
            "SELECT * FROM groups WHERE pool_id = $1 AND name > $2 ORDER BY name LIMIT $3",
        )
        .bind(pool_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        group_page(&rows, limit)
    }

    async fn add_member(
        &self,
        pool_id: &str,
        group: &str,
        user_id: &str,
    ) -> StoreResult<MembershipOutcome> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, pool_id).await? {
            return Ok(MembershipOutcome::GroupNotFound);
        }
        let g = sqlx::query("SELECT name FROM groups WHERE pool_id = $1 AND name = $2")
            .bind(pool_id)
            .bind(group)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend_err)?;
        if g.is_none() {
            return Ok(MembershipOutcome::GroupNotFound);
        }
        let Some(user) = user_in_tx(self.sealer(), &mut tx, pool_id, user_id).await? else {
            return Ok(MembershipOutcome::UserNotFound);
        };
        sqlx::query(
            "INSERT INTO group_members (pool_id, group_name, user_id, username) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(pool_id)
        .bind(group)
        .bind(user_id)
        .bind(&user.username)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        tx.commit().await.map_err(backend_err)?;
        Ok(MembershipOutcome::Written)
    }

    async fn remove_member(
        &self,
        pool_id: &str,
        group: &str,
        user_id: &str,
    ) -> StoreResult<MembershipOutcome> {
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, pool_id).await? {
            return Ok(MembershipOutcome::GroupNotFound);
        }
        let g = sqlx::query("SELECT name FROM groups WHERE pool_id = $1 AND name = $2")
            .bind(pool_id)
            .bind(group)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend_err)?;
        if g.is_none() {
            return Ok(MembershipOutcome::GroupNotFound);
        }
        sqlx::query(
            "DELETE FROM group_members WHERE pool_id = $1 AND group_name = $2 AND user_id = $3",
        )
        .bind(pool_id)
        .bind(group)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        tx.commit().await.map_err(backend_err)?;
        Ok(MembershipOutcome::Written)
    }

    async fn list_groups_for_user(
        &self,
        pool_id: &str,
        user_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<GroupPage> {
        let rows = sqlx::query(
            "SELECT g.* FROM group_members m JOIN groups g \
             ON g.pool_id = m.pool_id AND g.name = m.group_name \
             WHERE m.pool_id = $1 AND m.user_id = $2 AND m.group_name > $3 \
             ORDER BY m.group_name LIMIT $4",
        )
        .bind(pool_id)
        .bind(user_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        group_page(&rows, limit)
    }

    async fn list_users_in_group(
        &self,
        pool_id: &str,
        group: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<UserPage> {
        let sql = format!(
            "SELECT {LIST_COLS} FROM group_members m JOIN users u \
             ON u.pool_id = m.pool_id AND u.id = m.user_id \
             WHERE m.pool_id = $1 AND m.group_name = $2 AND m.username > $3 \
             ORDER BY m.username LIMIT $4"
        );
        let mut users = self
            .fetch_users(
                &sql,
                vec![
                    Bind::S(pool_id.to_string()),
                    Bind::S(group.to_string()),
                    Bind::S(after.unwrap_or("").to_string()),
                ],
                limit,
                false,
            )
            .await?
            .into_iter()
            .map(|(u, _)| u)
            .collect::<Vec<_>>();
        let more = users.len() > limit as usize;
        users.truncate(limit as usize);
        let next = if more {
            users.last().map(|u| UserCursor {
                v: u.username.clone(),
                id: u.id.clone(),
            })
        } else {
            None
        };
        Ok(UserPage { users, next })
    }
}

fn range_cond(
    col: &str,
    value: &str,
    prefix: bool,
    binds: &mut Vec<Bind>,
    next: &mut impl FnMut(&mut Vec<Bind>, Bind) -> String,
) -> String {
    if !prefix {
        let p = next(binds, Bind::S(value.to_string()));
        return format!("{col} = {p}");
    }
    let lo = next(binds, Bind::S(value.to_string()));
    match prefix_upper_bound(value) {
        Some(hi) => {
            let hi = next(binds, Bind::S(hi));
            format!("{col} >= {lo} AND {col} < {hi}")
        }
        None => format!("{col} >= {lo}"),
    }
}

fn group_page(rows: &[AnyRow], limit: u32) -> StoreResult<GroupPage> {
    let mut groups = rows.iter().map(group_of).collect::<StoreResult<Vec<_>>>()?;
    let more = groups.len() > limit as usize;
    groups.truncate(limit as usize);
    let last_key = if more {
        groups.last().map(|g| g.name.clone())
    } else {
        None
    };
    Ok(GroupPage { groups, last_key })
}

#[cfg(test)]
mod tests {
    use super::prefix_upper_bound;

    #[test]
    fn upper_bound_of_prefixes() {
        assert_eq!(prefix_upper_bound("abc").as_deref(), Some("abd"));
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{D7FF}").as_deref(), Some("\u{E000}"));
    }
}
