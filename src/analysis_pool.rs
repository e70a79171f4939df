//! The analysis pool: a fixed set of OS threads, one per core, on which the daemon runs the
//! CPU-bound cores (feed parsing, extraction, entities, matching), each job with a time budget.
//!
//! Why not tokio's blocking pool: it grows to hundreds of threads, so a burst of heavy
//! articles would take every core from the rest of the daemon, and the runtime waits for its
//! threads at shutdown, so one long job would hold the process up. Here at most one job per
//! core runs at once; a caller that waits longer than the budget gets
//! [`AnalysisError::OverBudget`] and goes on (typically with the feed's own text) while the
//! job finishes in the background, its result dropped; and the threads are detached, so the
//! process can exit whatever they are doing. Jobs must therefore be self-contained: they own
//! their inputs and report only through their return value. The pool never decides what a
//! late or failed job means; the pipeline does.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnalysisError {
    #[error("analysis took longer than its {0:?} budget")]
    OverBudget(Duration),
    #[error("analysis panicked: {0}")]
    Panicked(String),
    #[error("the analysis pool has shut down")]
    ShutDown,
}

/// A handle to the pool; clones share the same threads, which exit once every handle is gone.
#[derive(Clone)]
pub struct AnalysisPool {
    jobs: mpsc::Sender<Job>,
    threads: usize,
}

impl AnalysisPool {
    /// A pool with one thread per available core.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from))
    }

    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("feedwatch-analysis-{index}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take the next job, never while running it.
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match next {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start an analysis thread");
            }
        }
        Self { jobs, threads }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `job` on the pool. Time spent queued behind other jobs does not count against
    /// `budget`; once the job starts, the caller waits at most `budget` for its result.
    pub async fn run<T, F>(&self, budget: Duration, job: F) -> Result<T, AnalysisError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = oneshot::channel::<Result<T, AnalysisError>>();
        let wrapped: Job = Box::new(move || {
            // A caller that gave up while the job was queued does not want it run.
            if done_tx.is_closed() {
                return;
            }
            let _ = started_tx.send(());
            let outcome = catch_unwind(AssertUnwindSafe(job)).map_err(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string());
                AnalysisError::Panicked(message)
            });
            let _ = done_tx.send(outcome);
        });
        self.jobs
            .send(wrapped)
            .map_err(|_| AnalysisError::ShutDown)?;
        if started_rx.await.is_err() {
            return Err(AnalysisError::ShutDown);
        }
        match tokio::time::timeout(budget, done_rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(AnalysisError::ShutDown),
            Err(_) => Err(AnalysisError::OverBudget(budget)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn runs_jobs_and_returns_their_values() {
        let pool = AnalysisPool::new(2);
        let value = pool.run(Duration::from_secs(5), || 6 * 7).await;
        assert_eq!(value, Ok(42));
    }

    #[tokio::test]
    async fn a_slow_job_is_abandoned_at_its_budget_and_the_pool_goes_on() {
        let pool = AnalysisPool::new(2);
        let slow = pool.run(Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_millis(400));
            1
        });
        assert_eq!(
            slow.await,
            Err(AnalysisError::OverBudget(Duration::from_millis(50)))
        );
        // The other thread is free at once.
        assert_eq!(pool.run(Duration::from_secs(5), || 2).await, Ok(2));
    }

    #[tokio::test]
    async fn queueing_does_not_count_against_the_budget() {
        let pool = AnalysisPool::new(1);
        let first = pool.run(Duration::from_secs(5), || {
            std::thread::sleep(Duration::from_millis(200));
            1
        });
        let second = pool.run(Duration::from_millis(100), || 2);
        let (first, second) = tokio::join!(first, second);
        assert_eq!((first, second), (Ok(1), Ok(2)));
    }

    #[tokio::test]
    async fn no_more_jobs_run_at_once_than_threads() {
        let pool = AnalysisPool::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs = (0..8).map(|_| {
            let running = running.clone();
            let peak = peak.clone();
            pool.run(Duration::from_secs(5), move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
            })
        });
        for result in futures_util::future::join_all(jobs).await {
            assert_eq!(result, Ok(()));
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_panic_is_an_error_and_the_thread_survives() {
        let pool = AnalysisPool::new(1);
        let result: Result<(), _> = pool
            .run(Duration::from_secs(5), || panic!("hostile input"))
            .await;
        assert_eq!(result, Err(AnalysisError::Panicked("hostile input".into())));
        assert_eq!(pool.run(Duration::from_secs(5), || 3).await, Ok(3));
    }
}
