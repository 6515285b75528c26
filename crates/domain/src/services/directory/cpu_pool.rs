//! The threads that run CPU-heavy work (argon2, SRP): one per core. More would only time-slice
//! the same cores, and argon2's 19 MiB working sets would evict each other from the caches.
//!
//! Jobs wait in one queue, and a thread that finishes a job takes the next one itself. With a
//! semaphore in front of tokio's blocking pool instead, every hand-off went through the async
//! runtime (the finished task woken, its permit dropped, the next task woken and polled, a
//! blocking thread signalled), and under parallel sign-ins the cores sat idle for about a tenth
//! of the time between one argon2 check and the next.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{CognitoError, ServiceResult};

type Job = Box<dyn FnOnce() + Send>;

/// How many jobs run at once: the machine's cores.
pub(super) fn threads() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

fn queue() -> &'static Sender<Job> {
    static QUEUE: OnceLock<Sender<Job>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..threads() {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("gatehouse-cpu-{n}"))
                .spawn(move || work(&rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a CPU worker thread");
            }
        }
        tx
    })
}

fn work(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // A panicking job fails its own caller (its result channel is dropped), not the thread.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

/// Runs CPU-heavy work off the async workers, at most one job per core at a time, in the order
/// the jobs arrived.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> ServiceResult<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    queue().send(job).map_err(|_| CognitoError::internal())?;
    rx.await.map_err(|_| CognitoError::internal())
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
