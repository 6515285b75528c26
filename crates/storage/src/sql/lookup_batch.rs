//! Users looked up by username at the same moment share one Postgres round trip.
//!
//! On a small machine a user read by username costs far more in the round trip than in the index:
//! profiling AdminGetUser over random users showed the server and Postgres spending most of their
//! time sending, receiving and waking each other, four wake-ups per request. Here a lookup that
//! finds every lane busy waits in a queue; the next lane to come free takes the whole queue and
//! asks for all of it at once (`username_key = ANY($2)`). A lookup on an idle node goes out at
//! once, alone, so nothing waits for a batch to fill.
//!
//! The query that answers a lookup always starts after the lookup was queued, so it sees every write
//! committed before the caller asked: the same answer a query of its own would give.

use std::collections::HashMap;
use std::sync::Mutex;

use domain::ports::{StoreError, StoreResult, UserRecord};
use sqlx::{PgPool, Postgres};
use tokio::sync::{oneshot, Semaphore};

use super::backend_err;
use super::directory::{user_of, USER_COLS};
use crate::sealing::Sealer;

type Reply = oneshot::Sender<StoreResult<Option<UserRecord>>>;

struct Pending {
    pool_id: String,
    key: String,
    reply: Reply,
}

pub(super) struct LookupBatch {
    queue: Mutex<Vec<Pending>>,
    /// Batches in flight at once; each holds one connection of the read pool.
    lanes: Semaphore,
}

impl LookupBatch {
    pub(super) fn new(lanes: usize) -> LookupBatch {
        LookupBatch {
            queue: Mutex::new(Vec::new()),
            lanes: Semaphore::new(lanes.max(1)),
        }
    }

    /// The user of `pool_id` whose username key is `key`.
    pub(super) async fn user(
        &self,
        pg: &PgPool,
        sealer: &Sealer,
        pool_id: &str,
        key: &str,
    ) -> StoreResult<Option<UserRecord>> {
        let (reply, mut answer) = oneshot::channel();
        self.lock().push(Pending {
            pool_id: pool_id.to_string(),
            key: key.to_string(),
            reply,
        });
        let answered = tokio::select! {
            biased;
            // Another lane took this lookup along with its own.
            done = &mut answer => Some(done),
            permit = self.lanes.acquire() => {
                let _lane = permit.map_err(|_| StoreError::Backend("lookup lanes closed".into()))?;
                // Usually holds this lookup; empty when another lane took it meanwhile.
                let batch = std::mem::take(&mut *self.lock());
                ask(pg, sealer, batch).await;
                None
            }
        };
        let done = match answered {
            Some(done) => done,
            None => answer.await,
        };
        match done {
            Ok(r) => r,
            // The lane that took this lookup was dropped before it answered (its own caller went
            // away): ask alone.
            Err(_) => {
                let mut one = ask_pool(pg, sealer, pool_id, &[key.to_string()]).await?;
                Ok(one.remove(key))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        // A panic while holding the lock cannot leave the queue half-changed (push and take only).
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Answers every lookup of `batch`, one query per pool.
async fn ask(pg: &PgPool, sealer: &Sealer, batch: Vec<Pending>) {
    let mut by_pool: HashMap<String, Vec<Pending>> = HashMap::new();
    for p in batch {
        by_pool.entry(p.pool_id.clone()).or_default().push(p);
    }
    for (pool_id, waiting) in by_pool {
        let keys: Vec<String> = waiting.iter().map(|p| p.key.clone()).collect();
        match ask_pool(pg, sealer, &pool_id, &keys).await {
            Ok(found) => {
                for p in waiting {
                    // A receiver that went away needs no answer.
                    let _ = p.reply.send(Ok(found.get(&p.key).cloned()));
                }
            }
            Err(e) => {
                let e = e.to_string();
                for p in waiting {
                    let _ = p.reply.send(Err(StoreError::Backend(e.clone())));
                }
            }
        }
    }
}

/// The users of `pool_id` with these username keys, by key.
async fn ask_pool(
    pg: &PgPool,
    sealer: &Sealer,
    pool_id: &str,
    keys: &[String],
) -> StoreResult<HashMap<String, UserRecord>> {
    let rows = sqlx::query::<Postgres>(&format!(
        "SELECT {USER_COLS} FROM users u WHERE u.pool_id = $1 AND u.username_key = ANY($2)"
    ))
    .bind(pool_id)
    .bind(keys)
    .fetch_all(pg)
    .await
    .map_err(backend_err)?;
    rows.iter()
        .map(|r| user_of(sealer, r).map(|u| (u.username_key.clone(), u)))
        .collect()
}
