//! Bulk import of users: many users per transaction, written row for row as `insert_user` writes
//! them (users, search rows, aliases, the pool's user count, the password state sealed the same
//! way), but with multi-row INSERTs and none of the per-user checks. Made for seeding large pools
//! (benchmarks, migrations from another directory); the caller vouches that the usernames, subs
//! and alias values are new to the pool, and the database's unique keys refuse the whole batch if
//! they are not.

use domain::ports::{StoreError, StoreResult, UserWrite};
use sqlx::{Any, Transaction};

use super::directory::{json, sealed_password, CLEAR_ALL_USERS, SEARCH_COPIES};
use super::{backend_err, SqlStore};

/// Bound values per statement: under SQLite's 32,766 and Postgres's 65,535.
const MAX_BINDS: usize = 30_000;

#[derive(Clone)]
enum Val {
    S(String),
    I(i64),
    N(Option<String>),
}

/// What a bulk import did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkOutcome {
    /// This many users were written.
    Written(u64),
    /// The pool does not exist.
    PoolNotFound,
}

/// Inserts `rows` (each `cols.len()` values) into `table` with as few statements as the bind
/// limit allows.
async fn insert_rows(
    tx: &mut Transaction<'static, Any>,
    table: &str,
    cols: &[&str],
    rows: Vec<Vec<Val>>,
) -> StoreResult<()> {
    let per_stmt = (MAX_BINDS / cols.len()).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Val>> = rows.by_ref().take(per_stmt).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..cols.len() {
                if c > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                sql.push_str(&format!("${n}"));
            }
            sql.push(')');
        }
        let mut q = sqlx::query(&sql);
        for v in chunk.into_iter().flatten() {
            q = match v {
                Val::S(s) => q.bind(s),
                Val::I(i) => q.bind(i),
                Val::N(o) => q.bind(o),
            };
        }
        q.execute(&mut **tx).await.map_err(backend_err)?;
    }
    Ok(())
}

impl SqlStore {
    /// Inserts new users of one pool in one transaction. Every user must be new: an existing
    /// username, sub or alias value fails the whole batch with the database's error. Every node's
    /// user cache is cleared (the new aliases may change what an alias lookup finds).
    pub async fn bulk_insert_users(&self, writes: &[UserWrite]) -> StoreResult<BulkOutcome> {
        let Some(first) = writes.first() else {
            return Ok(BulkOutcome::Written(0));
        };
        let pool_id = first.user.pool_id.clone();
        if writes.iter().any(|w| w.user.pool_id != pool_id) {
            return Err(StoreError::Backend(
                "a bulk import writes users of one pool".into(),
            ));
        }
        let mut users = Vec::with_capacity(writes.len());
        let mut search = Vec::new();
        let mut aliases = Vec::new();
        for w in writes {
            let u = &w.user;
            // In SEARCH_COPIES order: the users row's own values, which each of its search rows
            // copies.
            let copies = [
                Val::S(u.username.clone()),
                Val::S(u.username_key.clone()),
                Val::S(u.status.clone()),
                Val::I(i64::from(u.enabled)),
                Val::I(u.created_ms),
                Val::I(u.modified_ms),
                Val::I(u.version),
                Val::S(json(&u.attributes)?),
            ];
            let mut row = vec![Val::S(u.pool_id.clone()), Val::S(u.id.clone())];
            row.extend(copies.iter().cloned());
            row.push(Val::N(sealed_password(self.sealer(), u)?));
            users.push(row);
            // insert_user skips a duplicate search row (ON CONFLICT DO NOTHING); so does this.
            let mut seen = std::collections::HashSet::new();
            for (name, value) in &w.search {
                if seen.insert((name, value)) {
                    let mut row = vec![
                        Val::S(u.pool_id.clone()),
                        Val::S(name.clone()),
                        Val::S(value.clone()),
                        Val::S(u.id.clone()),
                    ];
                    row.extend(copies.iter().cloned());
                    search.push(row);
                }
            }
            for (kind, key) in &w.aliases {
                aliases.push(vec![
                    Val::S(u.pool_id.clone()),
                    Val::S(kind.clone()),
                    Val::S(key.clone()),
                    Val::S(u.id.clone()),
                ]);
            }
        }
        let mut tx = self.begin().await?;
        if !Self::lock_pool(&mut tx, &pool_id).await? {
            return Ok(BulkOutcome::PoolNotFound);
        }
        insert_rows(
            &mut tx,
            "users",
            &[
                &["pool_id", "id"][..],
                &SEARCH_COPIES[..],
                &["password"][..],
            ]
            .concat(),
            users,
        )
        .await?;
        insert_rows(
            &mut tx,
            "user_search",
            &[
                &["pool_id", "name", "value", "user_id"][..],
                &SEARCH_COPIES[..],
            ]
            .concat(),
            search,
        )
        .await?;
        insert_rows(
            &mut tx,
            "user_aliases",
            &["pool_id", "kind", "value", "user_id"],
            aliases,
        )
        .await?;
        let n = writes.len() as i64;
        sqlx::query(
            "INSERT INTO user_counts (pool_id, n) VALUES ($1, $2) \
             ON CONFLICT (pool_id) DO UPDATE SET n = user_counts.n + $3",
        )
        .bind(&pool_id)
        .bind(n)
        .bind(n)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        self.notify_users(&mut tx, &[CLEAR_ALL_USERS.to_string()])
            .await?;
        self.notify(&mut tx, &pool_id).await?;
        self.commit_and_invalidate(tx, &pool_id).await?;
        self.users.clear();
        Ok(BulkOutcome::Written(writes.len() as u64))
    }
}
