//! The daemon: one task per feed that sleeps until the feed is due and polls it through the
//! pipeline (which applies the fetch limits), plus the outbox (a lane per sink) and a
//! heartbeat that tells the store this process is alive and recovers the polls of processes
//! that died. Owns when things happen (intervals, jitter, backoff) and shutdown; what a poll
//! does is the pipeline's business.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alerts::outbox::{self, Outbox};
use crate::config::{Config, Daemon, FeedSpec};
use crate::pipeline::{Pipeline, PollError};
use crate::store::Store;

/// A failing feed is retried later and later, but never given up on: at most this long apart.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// How often a running process records that it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// A process silent for this long is dead, and the polls it left marked were interrupted.
pub const DEAD_AFTER: Duration = Duration::from_secs(10);
/// How often a stopped or quarantined feed's task looks whether it was resumed.
const RESUME_CHECK: Duration = Duration::from_secs(30);

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
    store
        .register_instance(pipeline.instance(), Utc::now())
        .await?;
    tracker.spawn(keep_alive(pipeline.clone(), shutdown.clone()));
    tracker.spawn(prune_forever(
        store.clone(),
        config.daemon.retention,
        shutdown.clone(),
    ));
    for feed in &config.feeds {
        tracker.spawn(poll_forever(
            pipeline.clone(),
            feed.clone(),
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
    // The outbox gives its unfinished requests shutdown_timeout, then releases their rows
    // within RELEASE_GRACE; waiting that little longer lets it do so.
    if tokio::time::timeout(
        config.daemon.shutdown_timeout + outbox::RELEASE_GRACE,
        tracker.wait(),
    )
    .await
    .is_err()
    {
        tracing::warn!("some work did not finish within shutdown_timeout");
    }
    // Polls cut short by the shutdown were cancelled, not killed: they do not count against
    // their feeds.
    if let Err(err) = store.retire_instance(pipeline.instance()).await {
        tracing::error!(error = %err, "cannot release this process's polls");
    }
    store.close().await;
    Ok(())
}

/// Beats the heartbeat of this process and recovers the polls of dead ones, until shutdown.
pub async fn keep_alive(pipeline: Pipeline, shutdown: CancellationToken) {
    loop {
        let store = pipeline.store();
        if let Err(err) = store.heartbeat(pipeline.instance(), Utc::now()).await {
            tracing::error!(error = %err, "cannot record the heartbeat");
        }
        if let Err(err) = pipeline.recover_interrupted_polls(DEAD_AFTER).await {
            tracing::error!(error = %err, "cannot recover interrupted polls");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(HEARTBEAT) => {}
        }
    }
}

/// Prunes what is older than `retention` (see `store::retention`), a little after the start
/// and then every quarter of the period, at most hourly, off the polling path.
async fn prune_forever(store: Store, retention: Duration, shutdown: CancellationToken) {
    let every = (retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match store.prune(Utc::now(), retention).await {
            Ok(pruned) if pruned != crate::store::Pruned::default() => {
                tracing::info!(?pruned, "pruned what is older than retention")
            }
            Ok(_) => {}
            Err(err) => tracing::error!(error = %err, "pruning failed; will try again"),
        }
    }
}

async fn poll_forever(pipeline: Pipeline, feed: FeedSpec, shutdown: CancellationToken) {
    let pause = |duration: Duration| {
        let shutdown = shutdown.clone();
        async move {
            tokio::select! {
                _ = shutdown.cancelled() => false,
                _ = tokio::time::sleep(duration) => true,
            }
        }
    };
    loop {
        let due = match pipeline.store().feed_state(&feed.name).await {
            Ok(state) => {
                if let Some(reason) = state
                    .quarantined_reason
                    .as_ref()
                    .or(state.stopped_reason.as_ref())
                {
                    // Stopped (410) or quarantined: wait for `feeds resume` or a new URL.
                    tracing::debug!(feed = %feed.name, reason, "feed is not polled");
                    if !pause(RESUME_CHECK).await {
                        return;
                    }
                    continue;
                }
                state.next_poll_at
            }
            Err(err) => {
                tracing::error!(feed = %feed.name, error = %err, "cannot read feed state");
                Some(Utc::now() + chrono::Duration::seconds(30))
            }
        };
        // Items waiting for another try at their page may be due before the feed is.
        let retry_due = pipeline
            .store()
            .next_pending_item(&feed.name)
            .await
            .unwrap_or_else(|err| {
                tracing::error!(feed = %feed.name, error = %err, "cannot read pending items");
                None
            });
        let wake = match (due, retry_due) {
            (Some(due), Some(retry)) => Some(due.min(retry)),
            (due, retry) => due.or(retry),
        };
        let wait = wake
            .and_then(|at| (at - Utc::now()).to_std().ok())
            .unwrap_or(Duration::ZERO);
        if !pause(wait).await {
            return;
        }
        if retry_due.is_some_and(|at| at <= Utc::now()) {
            let retried = tokio::select! {
                _ = shutdown.cancelled() => return,
                retried = pipeline.retry_pending_items(&feed) => retried,
            };
            if let Err(err) = retried {
                tracing::warn!(feed = %feed.name, error = %feed.scrub(&err.to_string()),
                    "retrying article pages failed; will try again");
                if !pause(Duration::from_secs(30)).await {
                    return;
                }
            }
        }
        if due.is_some_and(|at| at > Utc::now()) {
            continue;
        }
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
            Err(PollError::InProgress) => {
                // Another process's poll of this feed is marked: it is running, or it died
                // and the heartbeat will soon recover it (and back the feed off).
                tracing::debug!(feed = %feed.name, "another poll of this feed is marked as running");
                if !pause(HEARTBEAT).await {
                    return;
                }
            }
            Err(PollError::Stopped(_) | PollError::Quarantined(_)) => {}
            Err(PollError::Store(err)) => {
                // The outcome could not be recorded, so the stored next poll time is stale:
                // wait here rather than polling again at once.
                tracing::error!(feed = %feed.name, error = %err, "cannot record the poll; retrying in 30 s");
                if !pause(Duration::from_secs(30)).await {
                    return;
                }
            }
            Err(err) => {
                tracing::warn!(feed = %feed.name, url = %feed.shown_url,
                    error = %feed.scrub(&err.to_string()), "poll failed; will retry")
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
            shown_url: "http://127.0.0.1/feed".into(),
            url_secrets: vec![],
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
