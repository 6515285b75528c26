//! `gatehouse seed-users`: fills a pool with many generated users through the store's bulk import,
//! for benchmarks and load tests. AdminCreateUser would cost one argon2id hash per user (about
//! 20 ms of CPU each); here one hash of one password is computed once and shared by every seeded
//! user, who is otherwise exactly what AdminCreateUser writes (random `sub`, validated attributes,
//! search rows, alias claims, sealed password state).

use std::time::Instant;

use cognito_model::shapes::{AttributeType, UserStatusType};
use domain::ports::{PasswordState, UserPoolStore, UserWrite};
use domain::services::directory::{import_write, password, ImportedUser};
use storage::{BulkOutcome, SqlStore};

use crate::config::SeedArgs;

/// Seeded user number `i`: `user0000042`, `user0000042@example.com` (verified), every tenth
/// waiting for its first sign-in (FORCE_CHANGE_PASSWORD) and every twentieth disabled, so that
/// ListUsers status filters have something to tell apart.
pub fn seeded_user(i: u64, password: &PasswordState) -> ImportedUser {
    let name = format!("user{i:07}");
    let attr = |n: &str, v: String| AttributeType {
        name: Some(n.to_string()),
        value: Some(v),
    };
    ImportedUser {
        attributes: vec![
            attr("email", format!("{name}@example.com")),
            attr("email_verified", "true".into()),
            attr("name", format!("User {i}")),
        ],
        username: name,
        status: if i % 10 == 3 {
            UserStatusType::ForceChangePassword
        } else {
            UserStatusType::Confirmed
        },
        enabled: i % 20 != 7,
        password: Some(password.clone()),
    }
}

pub async fn seed_users(store: SqlStore, args: &SeedArgs) -> Result<(), String> {
    let pool = store
        .get_user_pool(&args.pool_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user pool {}", args.pool_id))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let pw = args.password.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let state = PasswordState {
        hash,
        set_ms: now,
        srp: None,
        history: vec![],
    };
    let batch = args.batch.max(1);
    let end = args.start + args.count;
    let build = |from: u64, to: u64| {
        let (pool, state) = (pool.clone(), state.clone());
        tokio::task::spawn_blocking(move || {
            (from..to)
                .map(|i| import_write(&pool, seeded_user(i, &state), now))
                .collect::<Result<Vec<UserWrite>, _>>()
                .map_err(|e| e.to_string())
        })
    };
    let started = Instant::now();
    let mut written = 0u64;
    let mut from = args.start;
    let mut next = (from < end).then(|| build(from, (from + batch).min(end)));
    while let Some(pending) = next.take() {
        let writes = pending.await.map_err(|e| e.to_string())??;
        // Build the next batch while this one is written.
        from += writes.len() as u64;
        if from < end {
            next = Some(build(from, (from + batch).min(end)));
        }
        match store
            .bulk_insert_users(&writes)
            .await
            .map_err(|e| e.to_string())?
        {
            BulkOutcome::Written(n) => written += n,
            BulkOutcome::PoolNotFound => return Err(format!("no user pool {}", args.pool_id)),
        }
        if written.is_multiple_of(batch * 100) {
            tracing::info!(
                written,
                rate = written as f64 / started.elapsed().as_secs_f64(),
                "seeding"
            );
        }
    }
    let secs = started.elapsed().as_secs_f64();
    store.vacuum_analyze().await.map_err(|e| e.to_string())?;
    println!(
        "seeded {written} users (user{:07}..user{:07}) into {} in {secs:.1} s: {:.0} users/s",
        args.start,
        end.saturating_sub(1),
        args.pool_id,
        written as f64 / secs
    );
    Ok(())
}
