//! The threads that run CPU-heavy work (argon2, SRP): one per core. More would only time-slice
//! the same cores, and argon2's 19 MiB working sets would evict each other from the caches.
//!
//! Jobs wait in one queue, and a thread that finishes a job takes the next one itself. With a
//! semaphore in front of tokio's blocking pool instead, every hand-off went through the async
//! runtime (the finished task woken, its permit dropped, the next task woken and polled, a
//! blocking thread signalled), and under parallel sign-ins the cores sat idle for about a tenth
//! of the time between one argon2 check and the next.
//!
//! The queue is bounded: unsigned callers can make the server hash (sign-ins of unknown users
//! spend a decoy argon2), so an unbounded queue let anyone grow every sign-in's wait without
//! limit. A job that finds the queue full fails at once with Cognito's throttling error, and a
//! job whose caller has gone (its request was dropped) is skipped rather than run for nobody.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{CognitoError, ServiceResult};

type Job = Box<dyn FnOnce() + Send>;

/// Jobs allowed to wait per core when nothing is configured. An argon2 check takes about 20 ms
/// of one core, so a full queue means a wait of well under a second, which the SDKs' default
/// timeouts and retries absorb; beyond that, failing fast is kinder than queueing.
pub const DEFAULT_QUEUE_PER_CORE: usize = 32;

/// How many jobs run at once: the machine's cores.
pub(super) fn threads() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// Worker threads and the queue in front of them. The process has one (`shared()`); tests make
/// their own so a tiny limit cannot disturb other tests.
struct Pool {
    tx: Sender<Job>,
    /// Jobs accepted but not yet taken by a worker.
    waiting: Arc<AtomicUsize>,
    /// 0 means "not configured": `threads() * DEFAULT_QUEUE_PER_CORE`.
    limit: AtomicUsize,
}

impl Pool {
    fn start(threads: usize, name: &str) -> Pool {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let waiting = Arc::new(AtomicUsize::new(0));
        for n in 0..threads {
            let rx = rx.clone();
            let waiting = waiting.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || work(&rx, &waiting));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a CPU worker thread");
            }
        }
        Pool {
            tx,
            waiting,
            limit: AtomicUsize::new(0),
        }
    }

    fn limit(&self) -> usize {
        match self.limit.load(Ordering::Relaxed) {
            0 => threads() * DEFAULT_QUEUE_PER_CORE,
            n => n,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> ServiceResult<T> {
        let limit = self.limit();
        // Reserve a place first, so concurrent callers cannot together overshoot the limit.
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= limit {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(limit, "CPU queue full: request refused");
            return Err(CognitoError::rate_exceeded());
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller's future was dropped (its client hung up): nobody would read the result.
            if tx.is_closed() {
                return;
            }
            let _ = tx.send(f());
        });
        if self.tx.send(job).is_err() {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(CognitoError::internal());
        }
        rx.await.map_err(|_| CognitoError::internal())
    }
}

fn shared() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::start(threads(), "gatehouse-cpu"))
}

fn work(rx: &Mutex<Receiver<Job>>, waiting: &AtomicUsize) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        waiting.fetch_sub(1, Ordering::AcqRel);
        // A panicking job fails its own caller (its result channel is dropped), not the thread.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

/// Cognito's answer when a request rate or a capacity is exceeded.
/// Sets how many jobs may wait for a CPU thread (at least 1); the server calls it at start-up
/// from its configuration.
pub fn set_queue_limit(jobs: usize) {
    shared().limit.store(jobs.max(1), Ordering::Relaxed);
}

/// The number of jobs that may wait for a CPU thread.
pub fn queue_limit() -> usize {
    shared().limit()
}

/// Runs CPU-heavy work off the async workers, at most one job per core at a time, in the order
/// the jobs arrived. Fails with TooManyRequestsException, without waiting, when the queue is full.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> ServiceResult<T> {
    shared().run(f).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use cognito_model::errors::ErrorCode;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn jobs_run_at_most_one_per_core_and_all_finish() {
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        static MOST: AtomicUsize = AtomicUsize::new(0);
        let jobs = (0..4 * threads()).map(|i| {
            blocking(move || {
                let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
                MOST.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(5));
                RUNNING.fetch_sub(1, Ordering::SeqCst);
                i
            })
        });
        let done: Vec<usize> = futures::future::join_all(jobs)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(done, (0..4 * threads()).collect::<Vec<_>>());
        assert!(MOST.load(Ordering::SeqCst) <= threads());
    }

    #[tokio::test]
    async fn a_panicking_job_fails_its_caller_and_the_pool_goes_on() {
        let r = blocking(|| -> u8 { panic!("job failed") }).await;
        assert!(r.is_err());
        for _ in 0..threads() + 1 {
            assert_eq!(blocking(|| 7).await.unwrap(), 7);
        }
    }

    /// A gate the test opens: jobs block on it so the queue can be filled deterministically.
    fn gate() -> (
        std::sync::mpsc::Sender<()>,
        Arc<Mutex<std::sync::mpsc::Receiver<()>>>,
    ) {
        let (open, wait) = std::sync::mpsc::channel::<()>();
        (open, Arc::new(Mutex::new(wait)))
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_with_rate_exceeded() {
        let pool = Arc::new(Pool::start(1, "test-full"));
        pool.limit.store(2, Ordering::Relaxed);
        let (open, wait) = gate();
        // One job runs (blocked on the gate), two wait: the queue is full.
        let mut held = Vec::new();
        for _ in 0..3 {
            let (pool, wait) = (pool.clone(), wait.clone());
            held.push(tokio::spawn(async move {
                pool.run(move || {
                    let _ = wait.lock().unwrap().recv();
                })
                .await
            }));
            // Let the first job reach the worker before the next is queued.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let started = std::time::Instant::now();
        let refused = pool.run(|| 1).await.unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        assert_eq!(refused.code, ErrorCode::TooManyRequestsException);
        assert_eq!(refused.message, "Rate exceeded");
        for _ in 0..3 {
            open.send(()).unwrap();
        }
        for h in held {
            h.await.unwrap().unwrap();
        }
        // Room again once the queue drained.
        assert_eq!(pool.run(|| 5).await.unwrap(), 5);
    }

    #[tokio::test]
    async fn a_job_whose_caller_is_gone_is_skipped() {
        static RAN: AtomicUsize = AtomicUsize::new(0);
        let pool = Arc::new(Pool::start(1, "test-gone"));
        let (open, wait) = gate();
        let busy = {
            let (pool, wait) = (pool.clone(), wait.clone());
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = wait.lock().unwrap().recv();
                })
                .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        // Queued behind the busy job, then abandoned, as when actix drops a handler whose client
        // disconnected.
        let abandoned = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(|| {
                    RAN.fetch_add(1, Ordering::SeqCst);
                })
                .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        abandoned.abort();
        let _ = abandoned.await;
        open.send(()).unwrap();
        busy.await.unwrap().unwrap();
        // A later job runs, so the abandoned one was taken (and skipped) before it.
        assert_eq!(pool.run(|| 9).await.unwrap(), 9);
        assert_eq!(RAN.load(Ordering::SeqCst), 0);
        assert_eq!(pool.waiting.load(Ordering::SeqCst), 0);
    }
}
