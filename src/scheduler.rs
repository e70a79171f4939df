//! The daemon: one task per feed that sleeps until the feed is due, polls it through the
//! pipeline within the global and per-host concurrency limits, and goes back to sleep; plus the
//! outbox worker. Owns when things happen (intervals, jitter, backoff) and shutdown; what a
//! poll does is the pipeline's business.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use std::sync::Mutex;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alerts::outbox::Outbox;
use crate::config::{Config, Daemon, FeedSpec};
use crate::fetch::redacted;
use crate::pipeline::{Pipeline, PollError};
use crate::store::Store;

/// A failing feed is retried later and later, but never given up on: at most this long apart.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// How long shutdown waits for in-flight work before giving up on it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// How long to wait before polling `feed` again: its interval, doubled per consecutive failure
/// up to `MAX_BACKOFF`, moved at random by up to ±`daemon.jitter` so feeds drift apart.
/// `server_hint` — how long the server says the feed stays fresh, or its Retry-After after a
/// failure — is a lower bound, capped at `daemon.max_interval` so a server cannot silence a
/// feed for days.
pub fn next_poll_delay(
    feed: &FeedSpec,
    daemon: &Daemon,
    consecutive_failures: u32,
    server_hint: Option<Duration>,
) -> Duration {
    let base = if consecutive_failures == 0 {
        feed.interval
    } else {
        let doubled = feed
            .interval
            .saturating_mul(1 << consecutive_failures.saturating_sub(1).min(16));
        doubled.min(MAX_BACKOFF.max(feed.interval))
    };
    let base = match server_hint {
        Some(hint) => base.max(hint.min(daemon.max_interval)),
        None => base,
    };
    let factor = if daemon.jitter > 0.0 {
        rand::rng().random_range(1.0 - daemon.jitter..=1.0 + daemon.jitter)
    } else {
        1.0
    };
    base.mul_f64(factor)
}

/// Runs the daemon until `shutdown` is cancelled.
pub async fn run(
    config: Arc<Config>,
    store: Store,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    for feed in &config.feeds {
        store.register_feed(&feed.name, feed.url.as_str()).await?;
    }
    let tracker = TaskTracker::new();
    let wake = Arc::new(Notify::new());
    let outbox = Outbox::new(&config, store.clone(), wake.clone())?;
    tracker.spawn(outbox.run(shutdown.clone()));

    let pipeline = Pipeline::new(config.clone(), store.clone(), wake)?;
    let limits = Limits::new(&config);
    for feed in &config.feeds {
        tracker.spawn(poll_forever(
            pipeline.clone(),
            feed.clone(),
            limits.clone(),
            shutdown.clone(),
        ));
    }
    tracing::info!(
        feeds = config.feeds.len(),
        topics = config.topics.len(),
        webhooks = config.webhooks.len(),
        "feedwatch running"
    );
    tracker.close();
    shutdown.cancelled().await;
    tracing::info!("shutting down");
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("some work did not finish within the shutdown grace period");
    }
    store.close().await;
    Ok(())
}

/// Concurrency limits shared by all feed tasks.
#[derive(Clone)]
struct Limits {
    global: Arc<Semaphore>,
    per_host: Arc<HashMap<String, Arc<HostGate>>>,
}

/// Politeness towards one host: at most `per_host_concurrency` requests at once, and starts at
/// least `per_host_spacing` apart.
struct HostGate {
    slots: Arc<Semaphore>,
    spacing: Duration,
    next_start: Mutex<tokio::time::Instant>,
}

impl HostGate {
    /// Waits for a slot and for this host's next start time; the permit is held for the poll.
    async fn enter(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.slots.clone().acquire_owned().await.ok()?;
        let start = {
            let mut next = self.next_start.lock().unwrap_or_else(|e| e.into_inner());
            let start = (*next).max(tokio::time::Instant::now());
            *next = start + self.spacing;
            start
        };
        tokio::time::sleep_until(start).await;
        Some(permit)
    }
}

impl Limits {
    fn new(config: &Config) -> Self {
        let mut per_host = HashMap::new();
        for feed in &config.feeds {
            let host = feed.url.host_str().unwrap_or_default().to_string();
            per_host.entry(host).or_insert_with(|| {
                Arc::new(HostGate {
                    slots: Arc::new(Semaphore::new(config.daemon.per_host_concurrency)),
                    spacing: config.daemon.per_host_spacing,
                    next_start: Mutex::new(tokio::time::Instant::now()),
                })
            });
        }
        Self {
            global: Arc::new(Semaphore::new(config.daemon.max_concurrent_fetches)),
            per_host: Arc::new(per_host),
        }
    }

    /// Waits for the host's gate, then for a global slot.
    async fn enter(
        &self,
        feed: &FeedSpec,
    ) -> Option<(Option<OwnedSemaphorePermit>, OwnedSemaphorePermit)> {
        let host = match self.per_host.get(feed.url.host_str().unwrap_or_default()) {
            Some(gate) => Some(gate.enter().await?),
            None => None,
        };
        let global = self.global.clone().acquire_owned().await.ok()?;
        Some((host, global))
    }
}

async fn poll_forever(
    pipeline: Pipeline,
    feed: FeedSpec,
    limits: Limits,
    shutdown: CancellationToken,
) {
    loop {
        let due = match pipeline.store().feed_state(&feed.name).await {
            Ok(state) if state.stopped_reason.is_some() => {
                tracing::warn!(feed = %feed.name, reason = state.stopped_reason.as_deref().unwrap_or_default(),
                    "feed is stopped; change its url in the config to resume");
                return;
            }
            Ok(state) => state.next_poll_at,
            Err(err) => {
                tracing::error!(feed = %feed.name, error = %err, "cannot read feed state");
                Some(Utc::now() + chrono::Duration::seconds(30))
            }
        };
        let wait = due
            .and_then(|due| (due - Utc::now()).to_std().ok())
            .unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let _permits = tokio::select! {
            _ = shutdown.cancelled() => return,
            permits = limits.enter(&feed) => permits,
        };
        // Cancelling mid-poll is safe: an item and its alerts are one transaction, so an
        // interrupted poll is simply repeated after the restart.
        let result = tokio::select! {
            _ = shutdown.cancelled() => return,
            result = pipeline.poll(&feed) => result,
        };
        match result {
            Ok(report) if report.not_modified => {
                tracing::debug!(feed = %feed.name, "not modified");
            }
            Ok(report) => tracing::debug!(
                feed = %feed.name, items = report.items, new = report.new_items,
                alerts = report.alerts.len(), first_poll = report.marked_seen, "polled"
            ),
            Err(PollError::Store(err)) => {
                // The outcome could not be recorded, so the stored next poll time is stale:
                // wait here rather than polling again at once.
                tracing::error!(feed = %feed.name, error = %err, "cannot record the poll; retrying in 30 s");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(30)) => {}
                }
            }
            Err(err) => {
                tracing::warn!(feed = %feed.name, url = %redacted(&feed.url), error = %err, "poll failed; will retry")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(interval: u64) -> FeedSpec {
        FeedSpec {
            name: "f".into(),
            url: url::Url::parse("http://127.0.0.1/feed").unwrap(),
            interval: Duration::from_secs(interval),
            full_text: true,
            tags: vec![],
            origin: crate::config::Location {
                file: "x".into(),
                line: 1,
                column: 1,
            },
        }
    }

    fn daemon(jitter: f64) -> Daemon {
        let mut daemon = crate::config::default_daemon();
        daemon.jitter = jitter;
        daemon
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let d = daemon(0.0);
        assert_eq!(
            next_poll_delay(&feed(60), &d, 0, None),
            Duration::from_secs(60)
        );
        assert_eq!(
            next_poll_delay(&feed(60), &d, 1, None),
            Duration::from_secs(60)
        );
        assert_eq!(
            next_poll_delay(&feed(60), &d, 3, None),
            Duration::from_secs(240)
        );
        assert_eq!(next_poll_delay(&feed(60), &d, 40, None), MAX_BACKOFF);
        // A feed polled less often than the cap keeps its own interval.
        assert_eq!(
            next_poll_delay(&feed(86400), &d, 5, None),
            Duration::from_secs(86400)
        );
    }

    #[test]
    fn server_hints_are_lower_bounds_with_a_cap() {
        let d = daemon(0.0);
        let hint = |secs| Some(Duration::from_secs(secs));
        assert_eq!(
            next_poll_delay(&feed(60), &d, 0, hint(600)),
            Duration::from_secs(600)
        );
        assert_eq!(
            next_poll_delay(&feed(600), &d, 0, hint(60)),
            Duration::from_secs(600)
        );
        assert_eq!(
            next_poll_delay(&feed(60), &d, 0, hint(86400)),
            d.max_interval
        );
        assert_eq!(
            next_poll_delay(&feed(60), &d, 1, hint(300)),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let d = daemon(0.1);
        for _ in 0..100 {
            let delay = next_poll_delay(&feed(100), &d, 0, None).as_secs_f64();
            assert!((90.0..=110.0).contains(&delay), "{delay}");
        }
    }
}
