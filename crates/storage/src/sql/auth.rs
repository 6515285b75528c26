//! Sign-in state: signing keys, challenge sessions, token sessions and failed-attempt counters.

use std::borrow::Cow;
use std::sync::OnceLock;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use domain::ports::{
    AttemptOutcome, AuthStore, ChallengeProof, ChallengeSessionRecord, ChallengeStart, KeyPurpose,
    LockoutPolicy, RefreshMatch, SigningKeyRecord, StoreError, StoreResult, TokenSessionRecord,
};
use sqlx::any::AnyRow;

use super::{backend_err, get, Backend, SqlStore};

fn key_context(pool_id: &str, kid: &str) -> String {
    format!("signing-key:{pool_id}/{kid}")
}

fn challenge_context(id_hash: &str) -> String {
    format!("challenge-session:{id_hash}")
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> StoreResult<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| StoreError::Backend(format!("corrupt signing key row: {e}")))
}

pub(super) const TOKEN_SESSION_COLS: &str = "origin_jti, pool_id, client_id, user_id, refresh_hash, \
     previous_refresh_hash, previous_valid_until_ms, auth_time_s, created_ms, expires_ms, revoked_ms, \
     device_key";

/// Binds a token session's columns as $1..$12, in [`TOKEN_SESSION_COLS`] order.
pub(super) fn bind_token_session<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    s: &'q TokenSessionRecord,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(&s.origin_jti)
        .bind(&s.pool_id)
        .bind(&s.client_id)
        .bind(&s.user_id)
        .bind(&s.refresh_hash)
        .bind(&s.previous_refresh_hash)
        .bind(s.previous_valid_until_ms)
        .bind(s.auth_time_s)
        .bind(s.created_ms)
        .bind(s.expires_ms)
        .bind(s.revoked_ms)
        .bind(&s.device_key)
}

fn token_session_of(row: &AnyRow) -> StoreResult<TokenSessionRecord> {
    Ok(TokenSessionRecord {
        origin_jti: get(row, "origin_jti")?,
        pool_id: get(row, "pool_id")?,
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        refresh_hash: get(row, "refresh_hash")?,
        previous_refresh_hash: get(row, "previous_refresh_hash")?,
        previous_valid_until_ms: get(row, "previous_valid_until_ms")?,
        auth_time_s: get(row, "auth_time_s")?,
        created_ms: get(row, "created_ms")?,
        expires_ms: get(row, "expires_ms")?,
        revoked_ms: get(row, "revoked_ms")?,
        device_key: get(row, "device_key")?,
    })
}

impl SqlStore {
    fn signing_key_of(&self, row: &AnyRow) -> StoreResult<SigningKeyRecord> {
        let pool_id: String = get(row, "pool_id")?;
        let kid: String = get(row, "kid")?;
        let purpose: String = get(row, "purpose")?;
        let sealed: String = get(row, "private_key")?;
        let private = self.sealer().open(&key_context(&pool_id, &kid), &sealed)?;
        Ok(SigningKeyRecord {
            purpose: KeyPurpose::parse(&purpose)
                .ok_or_else(|| StoreError::Backend(format!("unknown key purpose {purpose}")))?,
            private_pkcs1_der: private,
            modulus: unb64(&get::<String>(row, "modulus")?)?,
            exponent: unb64(&get::<String>(row, "exponent")?)?,
            created_ms: get(row, "created_ms")?,
            retired_ms: get(row, "retired_ms")?,
            pool_id,
            kid,
        })
    }
}

#[async_trait]
impl AuthStore for SqlStore {
    async fn signing_keys(&self, pool_id: &str) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(
            "SELECT pool_id, kid, purpose, private_key, modulus, exponent, created_ms, retired_ms \
             FROM signing_keys WHERE pool_id = $1 ORDER BY created_ms, kid",
        )
        .bind(pool_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows.iter().map(|r| self.signing_key_of(r)).collect()
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<bool> {
        let sealed = self
            .sealer()
            .seal(&key_context(&key.pool_id, &key.kid), &key.private_pkcs1_der);
        // The partial unique index on (pool, purpose) for current keys decides races between nodes.
        let r = sqlx::query(
            "INSERT INTO signing_keys (pool_id, kid, purpose, private_key, modulus, exponent, \
             created_ms, retired_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&key.pool_id)
        .bind(&key.kid)
        .bind(key.purpose.as_str())
        .bind(sealed)
        .bind(b64(&key.modulus))
        .bind(b64(&key.exponent))
        .bind(key.created_ms)
        .execute(&self.writer)
        .await;
        match r {
            Ok(r) => Ok(r.rows_affected() == 1),
            // The pool was deleted meanwhile.
            Err(e) if e.as_database_error().is_some() => Ok(false),
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn retire_signing_keys(&self, pool_id: &str, at_ms: i64) -> StoreResult<u64> {
        let r = sqlx::query(
            "UPDATE signing_keys SET retired_ms = $1 WHERE pool_id = $2 AND retired_ms IS NULL",
        )
        .bind(at_ms)
        .bind(pool_id)
        .execute(&self.writer)
        .await
        .map_err(backend_err)?;
        Ok(r.rows_affected())
    }

    async fn insert_challenge_session(&self, s: &ChallengeSessionRecord) -> StoreResult<()> {
        let sealed = self
            .sealer()
            .seal(&challenge_context(&s.id_hash), s.state.as_bytes());
        sqlx::query(
            "INSERT INTO challenge_sessions (id_hash, pool_id, client_id, state, expires_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&s.id_hash)
        .bind(&s.pool_id)
        .bind(&s.client_id)
        .bind(sealed)
        .bind(s.expires_ms)
        .execute(&self.relaxed)
        .await
        .map_err(backend_err)?;
        Ok(())
    }

    async fn take_challenge_session(
        &self,
        id_hash: &str,
        client_id: &str,
    ) -> StoreResult<Option<ChallengeSessionRecord>> {
        // DELETE ... RETURNING makes the take atomic: two racing answers cannot both get it. The
        // client is part of the condition, so an answer through another client deletes nothing.
        let row = sqlx::query(
            "DELETE FROM challenge_sessions WHERE id_hash = $1 AND ($2 = '' OR client_id = $2) \
             RETURNING id_hash, pool_id, client_id, state, expires_ms",
        )
        .bind(id_hash)
        .bind(client_id)
        .fetch_optional(&self.relaxed)
        .await
        .map_err(backend_err)?;
        let Some(row) = row else { return Ok(None) };
        let sealed: String = get(&row, "state")?;
        let state = self
            .sealer()
            .open_string(&challenge_context(id_hash), &sealed)?;
        Ok(Some(ChallengeSessionRecord {
            id_hash: get(&row, "id_hash")?,
            pool_id: get(&row, "pool_id")?,
            client_id: get(&row, "client_id")?,
            state,
            expires_ms: get(&row, "expires_ms")?,
        }))
    }

    async fn start_token_session(&self, s: &TokenSessionRecord) -> StoreResult<()> {
        const RESET: &str = "UPDATE sign_in_failures SET failures = 0, locked_until_ms = 0 \
                             WHERE pool_id = $2 AND user_id = $4";
        let insert = format!(
            "INSERT INTO token_sessions ({TOKEN_SESSION_COLS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        );
        // Postgres runs the reset as a data-modifying CTE of the insert; SQLite has none, and
        // its statements cost no round trip, so there the reset follows the insert.
        let postgres = self.backend == Backend::Postgres;
        let sql = if postgres {
            format!("WITH forgotten AS ({RESET}) {insert}")
        } else {
            insert
        };
        bind_token_session(sqlx::query(&sql), s)
            .execute(&self.writer)
            .await
            // The user may have been deleted while signing in.
            .map_err(user_gone("token session"))?;
        if !postgres {
            self.sign_in_succeeded(&s.pool_id, &s.user_id).await?;
        }
        Ok(())
    }

    async fn start_token_session_after_challenge(
        &self,
        s: &TokenSessionRecord,
        proof: &ChallengeProof,
        now_ms: i64,
    ) -> StoreResult<ChallengeStart> {
        if self.backend != Backend::Postgres {
            return self.start_after_challenge_in_steps(s, proof, now_ms).await;
        }
        // One statement (its text built once: every MFA answer runs it), so an MFA answer waits
        // for one durable commit and reads nothing else:
        // the lock and the challenge's wrong codes are checked, the TOTP step claimed, the
        // session stored under the challenge's id (a second answer finds it there, or collides
        // with it if both run at once, and stores nothing) and the failures forgotten, each step
        // only if the ones before it held. The counts say which step stopped it.
        static SQL: OnceLock<String> = OnceLock::new();
        let sql = SQL.get_or_init(|| {
            format!(
            "WITH unlocked AS (SELECT 1 AS ok WHERE NOT EXISTS (SELECT 1 FROM sign_in_failures \
             WHERE pool_id = $2 AND user_id = $4 AND locked_until_ms > $14)), \
             live AS (SELECT 1 AS ok FROM unlocked WHERE NOT EXISTS (SELECT 1 FROM \
             challenge_failures WHERE challenge_id = $1 AND failures >= $15) \
             AND NOT EXISTS (SELECT 1 FROM token_sessions WHERE origin_jti = $1)), \
             step AS (UPDATE user_mfa SET totp_last_step = $13 \
             WHERE pool_id = $2 AND user_id = $4 AND totp_last_step < $13 \
             AND EXISTS (SELECT 1 FROM live) RETURNING 1 AS ok), \
             started AS (INSERT INTO token_sessions ({TOKEN_SESSION_COLS}) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 \
             WHERE EXISTS (SELECT 1 FROM live) AND ($13 IS NULL OR EXISTS (SELECT 1 FROM step)) \
             ON CONFLICT (origin_jti) DO NOTHING RETURNING 1 AS ok), \
             forgotten AS (UPDATE sign_in_failures SET failures = 0, locked_until_ms = 0 \
             WHERE pool_id = $2 AND user_id = $4 AND EXISTS (SELECT 1 FROM started)) \
             SELECT (SELECT count(*) FROM unlocked) AS unlocked, \
             (SELECT count(*) FROM live) AS live, (SELECT count(*) FROM step) AS step, \
             (SELECT count(*) FROM started) AS started"
        )
        });
        let row = bind_token_session(sqlx::query(sql), s)
            .bind(proof.totp_step)
            .bind(now_ms)
            .bind(proof.max_failures)
            .fetch_one(&self.writer)
            .await
            // The user may have been deleted while signing in.
            .map_err(user_gone("token session"))?;
        let n = |c: &str| get::<i64>(&row, c);
        Ok(if n("started")? == 1 {
            ChallengeStart::Started
        } else if n("unlocked")? == 0 {
            ChallengeStart::Locked
        } else if n("live")? == 0 || proof.totp_step.is_none() || n("step")? == 1 {
            ChallengeStart::Spent
        } else {
            ChallengeStart::StepUsed
        })
    }

    async fn challenge_answered(&self, challenge_id: &str) -> StoreResult<bool> {
        Ok(
            sqlx::query("SELECT 1 AS x FROM token_sessions WHERE origin_jti = $1")
                .bind(challenge_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_err)?
                .is_some(),
        )
    }

    async fn count_challenge_failure(
        &self,
        challenge_id: &str,
        expires_ms: i64,
    ) -> StoreResult<i64> {
        // A lost count (a crash before the relaxed commit reached disk) only gives a Session
        // back a try; the user's lockout still counts every wrong code.
        let row = sqlx::query(
            "INSERT INTO challenge_failures (challenge_id, failures, expires_ms) VALUES ($1, 1, $2) \
             ON CONFLICT (challenge_id) DO UPDATE SET failures = challenge_failures.failures + 1 \
             RETURNING failures",
        )
        .bind(challenge_id)
        .bind(expires_ms)
        .fetch_one(&self.relaxed)
        .await
        .map_err(backend_err)?;
        get(&row, "failures")
    }

    async fn token_session_by_refresh(&self, refresh_hash: &str) -> StoreResult<RefreshMatch> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_SESSION_COLS} FROM token_sessions WHERE refresh_hash = $1"
        ))
        .bind(refresh_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        if let Some(row) = row {
            return Ok(RefreshMatch::Current(token_session_of(&row)?));
        }
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_SESSION_COLS} FROM token_sessions WHERE previous_refresh_hash = $1"
        ))
        .bind(refresh_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        Ok(match row {
            Some(row) => RefreshMatch::Previous(token_session_of(&row)?),
            None => RefreshMatch::None,
        })
    }

    async fn rotate_refresh_token(
        &self,
        origin_jti: &str,
        old_hash: &str,
        new_hash: &str,
        old_valid_until_ms: i64,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE token_sessions SET refresh_hash = $1, previous_refresh_hash = $2, \
             previous_valid_until_ms = $3 WHERE origin_jti = $4 AND refresh_hash = $2 \
             AND revoked_ms IS NULL",
        )
        .bind(new_hash)
        .bind(old_hash)
        .bind(old_valid_until_ms)
        .bind(origin_jti)
        .execute(&self.writer)
        .await
        .map_err(backend_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn revoke_token_session(&self, origin_jti: &str, at_ms: i64) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let r = sqlx::query(
            "UPDATE token_sessions SET revoked_ms = $1 WHERE origin_jti = $2 AND revoked_ms IS NULL",
        )
        .bind(at_ms)
        .bind(origin_jti)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        self.commit_revocation(tx, origin_jti).await?;
        Ok(r.rows_affected() == 1)
    }

    async fn revoke_user_sessions(
        &self,
        pool_id: &str,
        user_id: &str,
        at_ms: i64,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let r = sqlx::query(
            "UPDATE token_sessions SET revoked_ms = $1 \
             WHERE pool_id = $2 AND user_id = $3 AND revoked_ms IS NULL",
        )
        .bind(at_ms)
        .bind(pool_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        let who = crate::session_cache::user_key(pool_id, user_id);
        self.commit_revocation(tx, &who).await?;
        Ok(r.rows_affected())
    }

    async fn token_session_active(&self, origin_jti: &str) -> StoreResult<bool> {
        if self.sessions().is_active(origin_jti) {
            return Ok(true);
        }
        let generation = self.sessions().generation();
        let row = sqlx::query(
            "SELECT pool_id, user_id, revoked_ms FROM token_sessions WHERE origin_jti = $1",
        )
        .bind(origin_jti)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        let Some(row) = row else { return Ok(false) };
        let revoked: Option<i64> = get(&row, "revoked_ms")?;
        if revoked.is_some() {
            return Ok(false);
        }
        let pool_id: String = get(&row, "pool_id")?;
        let user_id: String = get(&row, "user_id")?;
        self.sessions()
            .put_active_if_current(origin_jti, &pool_id, &user_id, generation);
        Ok(true)
    }

    async fn begin_sign_in_attempt(
        &self,
        pool_id: &str,
        user_id: &str,
        now_ms: i64,
        policy: &LockoutPolicy,
    ) -> StoreResult<AttemptOutcome> {
        self.count_attempt(FailureTable::Users, pool_id, user_id, now_ms, policy)
            .await
    }

    async fn begin_unknown_sign_in_attempt(
        &self,
        pool_id: &str,
        name_key: &str,
        now_ms: i64,
        policy: &LockoutPolicy,
    ) -> StoreResult<AttemptOutcome> {
        self.count_attempt(
            FailureTable::UnknownNames,
            pool_id,
            name_key,
            now_ms,
            policy,
        )
        .await
    }

    async fn sign_in_succeeded(&self, pool_id: &str, user_id: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE sign_in_failures SET failures = 0, locked_until_ms = 0 \
             WHERE pool_id = $1 AND user_id = $2",
        )
        .bind(pool_id)
        .bind(user_id)
        .execute(&self.relaxed)
        .await
        .map_err(backend_err)?;
        Ok(())
    }
}

/// The two failed-attempt tables: real users', and names that match no user (kept so that a
/// client hiding user existence locks a guessed name out exactly as it would a real user).
#[derive(Clone, Copy, PartialEq, Eq)]
enum FailureTable {
    Users,
    UnknownNames,
}

impl FailureTable {
    fn table_and_key(self) -> (&'static str, &'static str) {
        match self {
            FailureTable::Users => ("sign_in_failures", "user_id"),
            FailureTable::UnknownNames => ("unknown_sign_in_failures", "name_key"),
        }
    }
}

impl SqlStore {
    /// `start_token_session_after_challenge` on SQLite: the same checks and writes one after
    /// another (its statements cost no round trip, and one writer connection runs them in turn;
    /// each write is conditional, so a parallel answer still cannot pass a check twice).
    async fn start_after_challenge_in_steps(
        &self,
        s: &TokenSessionRecord,
        proof: &ChallengeProof,
        now_ms: i64,
    ) -> StoreResult<ChallengeStart> {
        let locked = sqlx::query(
            "SELECT 1 AS x FROM sign_in_failures \
             WHERE pool_id = $1 AND user_id = $2 AND locked_until_ms > $3",
        )
        .bind(&s.pool_id)
        .bind(&s.user_id)
        .bind(now_ms)
        .fetch_optional(&self.writer)
        .await
        .map_err(backend_err)?;
        if locked.is_some() {
            return Ok(ChallengeStart::Locked);
        }
        let spent = sqlx::query(
            "SELECT 1 AS x FROM challenge_failures WHERE challenge_id = $1 AND failures >= $2 \
             UNION ALL SELECT 1 AS x FROM token_sessions WHERE origin_jti = $1",
        )
        .bind(&s.origin_jti)
        .bind(proof.max_failures)
        .fetch_optional(&self.writer)
        .await
        .map_err(backend_err)?;
        if spent.is_some() {
            return Ok(ChallengeStart::Spent);
        }
        if let Some(step) = proof.totp_step {
            let r = sqlx::query(
                "UPDATE user_mfa SET totp_last_step = $1 \
                 WHERE pool_id = $2 AND user_id = $3 AND totp_last_step < $1",
            )
            .bind(step)
            .bind(&s.pool_id)
            .bind(&s.user_id)
            .execute(&self.writer)
            .await
            .map_err(backend_err)?;
            if r.rows_affected() != 1 {
                return Ok(ChallengeStart::StepUsed);
            }
        }
        let insert = format!(
            "INSERT INTO token_sessions ({TOKEN_SESSION_COLS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (origin_jti) DO NOTHING"
        );
        let r = bind_token_session(sqlx::query(&insert), s)
            .execute(&self.writer)
            .await
            .map_err(user_gone("token session"))?;
        if r.rows_affected() != 1 {
            return Ok(ChallengeStart::Spent);
        }
        self.sign_in_succeeded(&s.pool_id, &s.user_id).await?;
        Ok(ChallengeStart::Started)
    }

    async fn count_attempt(
        &self,
        table: FailureTable,
        pool_id: &str,
        key: &str,
        now_ms: i64,
        policy: &LockoutPolicy,
    ) -> StoreResult<AttemptOutcome> {
        // One statement counts the attempt and sets the lock it earns, or, when the key is
        // locked, changes nothing and returns no row. The upsert takes the row's lock (Postgres)
        // or the write lock (SQLite), so parallel attempts are counted one after another and
        // none can slip in between the count and the lock.
        let first_lock = policy.lock_after(1);
        let counted = sqlx::query(&attempt_sql(table, policy))
            .bind(pool_id)
            .bind(key)
            .bind(if first_lock > 0 {
                now_ms + first_lock
            } else {
                0
            })
            .bind(now_ms)
            .bind(policy.reset_after_ms)
            .fetch_optional(&self.relaxed)
            .await
            .map_err(user_gone("user"))?;
        if counted.is_some() {
            return Ok(AttemptOutcome::Allowed);
        }
        let (name, column) = table.table_and_key();
        let until: i64 = sqlx::query(&format!(
            "SELECT locked_until_ms FROM {name} WHERE pool_id = $1 AND {column} = $2"
        ))
        .bind(pool_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?
        .map(|r| get(&r, "locked_until_ms"))
        .transpose()?
        .unwrap_or(now_ms);
        Ok(AttemptOutcome::Locked { until_ms: until })
    }
}

/// The attempt-counting upsert for `policy` (see `begin_sign_in_attempt`). Binds: $1 pool,
/// $2 user, $3 the lock a first failure earns (absolute, 0 for none), $4 now, $5 the quiet time
/// that forgets failures. The lock ladder is spelled out as a CASE because SQLite has no `power`.
/// Every sign-in runs it, so the text for the policy in use is built once.
fn attempt_sql(table: FailureTable, policy: &LockoutPolicy) -> Cow<'static, str> {
    static USERS: OnceLock<(LockoutPolicy, String)> = OnceLock::new();
    static UNKNOWN: OnceLock<(LockoutPolicy, String)> = OnceLock::new();
    let cell = match table {
        FailureTable::Users => &USERS,
        FailureTable::UnknownNames => &UNKNOWN,
    };
    let (built_for, sql) = cell.get_or_init(|| (*policy, build_attempt_sql(table, policy)));
    if built_for == policy {
        Cow::Borrowed(sql)
    } else {
        Cow::Owned(build_attempt_sql(table, policy))
    }
}

fn build_attempt_sql(table: FailureTable, policy: &LockoutPolicy) -> String {
    let (old, key) = table.table_and_key();
    let failures =
        format!("(CASE WHEN $4 - {old}.last_ms > $5 THEN 1 ELSE {old}.failures + 1 END)");
    let mut ladder = String::from("CASE");
    let mut n = 1;
    loop {
        let lock = policy.lock_after(n);
        if lock >= policy.max_ms || n > 64 {
            ladder.push_str(&format!(" ELSE $4 + {lock} END"));
            break;
        }
        let value = if lock > 0 {
            format!("$4 + {lock}")
        } else {
            "0".to_string()
        };
        ladder.push_str(&format!(" WHEN {failures} <= {n} THEN {value}"));
        n += 1;
    }
    format!(
        "INSERT INTO {old} (pool_id, {key}, failures, locked_until_ms, last_ms) \
         VALUES ($1, $2, 1, $3, $4) \
         ON CONFLICT (pool_id, {key}) DO UPDATE SET failures = {failures}, \
         locked_until_ms = {ladder}, last_ms = $4 \
         WHERE {old}.locked_until_ms <= $4 \
         RETURNING failures"
    )
}

/// A write that refers to a user (by foreign key) fails with a database error when the user was
/// deleted meanwhile: a conflict on `what`; any other failure is the backend's.
fn user_gone(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match e.as_database_error() {
        Some(_) => StoreError::Conflict(what.into()),
        None => backend_err(e),
    }
}

/// How long a device offered at sign-in waits for ConfirmDevice before it is pruned.
pub const UNCONFIRMED_DEVICE_MS: i64 = 24 * 60 * 60 * 1000;

/// Rows deleted per statement when pruning, so a large backlog (after a flood) is removed in
/// short transactions that never hold the tables for long.
const PRUNE_BATCH: i64 = 5_000;

/// How long a token session is kept after its refresh token's end. Tokens issued by the last
/// refresh before that end stay valid for their own lifetime (at most a day), and their checks
/// read this row: a missing row counts as revoked. Two days covers that with room to spare.
pub const TOKEN_SESSION_GRACE_MS: i64 = 2 * 24 * 60 * 60 * 1000;

impl SqlStore {
    /// Deletes challenge sessions that have expired (a sign-in cannot continue them: an expired
    /// row is refused exactly like a missing one) and token sessions whose refresh token ended
    /// more than `TOKEN_SESSION_GRACE_MS` before `now_ms`. Returns the rows deleted from each.
    /// Any node may run it at any time; concurrent runs only share the work.
    pub async fn prune_expired_sessions(&self, now_ms: i64) -> StoreResult<(u64, u64)> {
        let challenges = self
            .prune_batches(
                "DELETE FROM challenge_sessions WHERE id_hash IN \
                 (SELECT id_hash FROM challenge_sessions WHERE expires_ms <= $1 LIMIT $2)",
                now_ms,
            )
            .await?;
        // Wrong-code counts of sealed challenges go with the challenges' end.
        self.prune_batches(
            "DELETE FROM challenge_failures WHERE challenge_id IN \
             (SELECT challenge_id FROM challenge_failures WHERE expires_ms <= $1 LIMIT $2)",
            now_ms,
        )
        .await?;
        let tokens = self
            .prune_batches(
                "DELETE FROM token_sessions WHERE origin_jti IN \
                 (SELECT origin_jti FROM token_sessions WHERE expires_ms < $1 LIMIT $2)",
                now_ms.saturating_sub(TOKEN_SESSION_GRACE_MS),
            )
            .await?;
        Ok((challenges, tokens))
    }

    /// Forgets failed attempts against unknown names that have been quiet for the lockout's
    /// reset time (they would count from one again anyway). Returns the rows deleted.
    pub async fn prune_quiet_unknown_failures(&self, now_ms: i64) -> StoreResult<u64> {
        self.prune_batches(
            "DELETE FROM unknown_sign_in_failures WHERE (pool_id, name_key) IN \
             (SELECT pool_id, name_key FROM unknown_sign_in_failures WHERE last_ms < $1 LIMIT $2)",
            now_ms.saturating_sub(LockoutPolicy::COGNITO.reset_after_ms),
        )
        .await
    }

    /// Forgets devices offered at sign-in (NewDeviceMetadata) that nobody confirmed within a
    /// day: a client that ignores them would otherwise add a row with every sign-in.
    pub async fn prune_unconfirmed_devices(&self, now_ms: i64) -> StoreResult<u64> {
        self.prune_batches(
            "DELETE FROM devices WHERE (pool_id, device_key) IN \
             (SELECT pool_id, device_key FROM devices WHERE verifier IS NULL AND created_ms < $1 \
             LIMIT $2)",
            now_ms.saturating_sub(UNCONFIRMED_DEVICE_MS),
        )
        .await
    }

    async fn prune_batches(&self, sql: &str, before_ms: i64) -> StoreResult<u64> {
        let mut total = 0;
        loop {
            let r = sqlx::query(sql)
                .bind(before_ms)
                .bind(PRUNE_BATCH)
                .execute(&self.writer)
                .await
                .map_err(backend_err)?;
            total += r.rows_affected();
            if r.rows_affected() < PRUNE_BATCH as u64 {
                return Ok(total);
            }
        }
    }
}
