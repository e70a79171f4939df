//! The daemon: one task per feed that sleeps until the feed is due and polls it through the
//! pipeline (which applies the fetch limits), plus the outbox (a lane per sink), a heartbeat
//! that tells the store, `/readyz` and systemd's watchdog that this process is alive and
//! recovers the polls of processes that died, pruning, the HTTP server, and config reloads.
//! Owns when things happen (intervals, jitter, backoff), what a reload starts and stops, and
//! shutdown; what a poll does is the pipeline's business.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;

use std::collections::HashMap;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alerts::outbox::{self, Outbox};
use crate::config::{Config, Daemon, FeedSpec};
use crate::pipeline::{Pipeline, PollError};
use crate::reload;
use crate::server::{self, Liveness};
use crate::store::Store;
use crate::systemd;

/// A failing feed is retried later and later, but never given up on: at most this long apart.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// How often a running process records that it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// A process silent for this long is dead, and the polls it left marked were interrupted.
pub const DEAD_AFTER: Duration = Duration::from_secs(10);
/// How often a task whose feed another instance holds looks again (it is also woken when a
/// dead instance's polls are recovered).
const CLAIM_RECHECK: Duration = DEAD_AFTER;
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

/// Runs the daemon until `shutdown` is cancelled: the feed tasks, the outbox, the heartbeat,
/// pruning, the HTTP server on `listen`, and config reloads (SIGHUP or a changed file), which
/// start the tasks of added feeds, end those of removed ones, and hand every task the
/// pipeline of the new config from its next poll on.
pub async fn run(
    config: Arc<Config>,
    store: Store,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let metrics = crate::metrics::install().map_err(|e| anyhow::anyhow!("metrics: {e}"))?;
    // Bound before anything starts, so a taken port fails the start rather than half of it.
    let listener = match config.daemon.listen {
        Some(listen) => Some(server::bind(listen).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {listen} (`[daemon] listen`; \"off\" disables it): {e}"
            )
        })?),
        None => None,
    };
    store.register_feeds(&config.feed_urls()).await?;
    let tracker = TaskTracker::new();
    let wake = Arc::new(Notify::new());
    let (configs_tx, configs) = watch::channel(config.clone());
    let outbox = Outbox::new(&config, store.clone(), wake.clone())?;
    tracker.spawn(outbox.run(shutdown.clone(), Some(configs.clone())));
    // Deliveries other instances on a shared store queue wake this outbox too.
    tracker.spawn({
        let store = store.clone();
        let (wake, shutdown) = (wake.clone(), shutdown.clone());
        async move { store.wake_on_deliveries(wake, shutdown).await }
    });

    let mut pipeline = Pipeline::new(config.clone(), store.clone(), wake)?;
    if listener.is_some() {
        pipeline = pipeline.serving_websub();
    }
    let instance = pipeline.instance().to_string();
    store.register_instance(&instance, Utc::now()).await?;
    let (pipelines_tx, pipelines) = watch::channel(pipeline);
    let liveness = Liveness::default();
    tracker.spawn(keep_alive(
        pipelines.clone(),
        shutdown.clone(),
        Some(liveness.clone()),
    ));
    tracker.spawn(prune_forever(
        store.clone(),
        configs.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(crate::websub::maintain_forever(
        pipelines.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(reload::watch_config(
        config.clone(),
        configs_tx,
        shutdown.clone(),
    ));
    if let Some(listener) = listener {
        let address = listener.local_addr()?;
        let state = server::ServerState {
            store: store.clone(),
            metrics,
            configs: configs.clone(),
            liveness,
            stale_after: DEAD_AFTER,
            pipelines: pipelines.clone(),
        };
        tracker.spawn(server::serve(listener, state, shutdown.clone()));
        tracing::info!(%address, "serving /healthz, /readyz and /metrics");
    }
    let mut feeds: HashMap<String, CancellationToken> = HashMap::new();
    let start = |name: &str, feeds: &mut HashMap<String, CancellationToken>| {
        let stop = shutdown.child_token();
        tracker.spawn(poll_forever(
            pipelines.clone(),
            name.to_string(),
            stop.clone(),
        ));
        feeds.insert(name.to_string(), stop);
    };
    for feed in &config.feeds {
        start(&feed.name, &mut feeds);
    }
    tracing::info!(
        feeds = config.feeds.len(),
        topics = config.topics.len(),
        webhooks = config.webhooks.len(),
        store = store.backend_name(),
        "feedwatch running"
    );
    systemd::ready(&format!("polling {} feeds", config.feeds.len()));

    let mut reloads = configs;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = reloads.changed() => {
                if changed.is_err() {
                    shutdown.cancelled().await;
                    break;
                }
                let config = reloads.borrow_and_update().clone();
                systemd::reloading();
                let current = pipelines_tx.borrow().clone();
                match current.reconfigured(config.clone()) {
                    Ok(pipeline) => {
                        pipelines_tx.send_replace(pipeline);
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "the reloaded config cannot be applied; the running one stays");
                        systemd::ready("reload failed; running the previous config");
                        continue;
                    }
                }
                for feed in &config.feeds {
                    // A changed URL resets the feed's validators and first poll here.
                    if let Err(err) = store.register_feed(&feed.name, feed.url.as_str()).await {
                        tracing::error!(feed = %feed.name, error = %err, "cannot register the feed");
                    }
                    if !feeds.contains_key(&feed.name) {
                        start(&feed.name, &mut feeds);
                    }
                }
                feeds.retain(|name, stop| {
                    let kept = config.feeds.iter().any(|f| &f.name == name);
                    if !kept {
                        tracing::info!(feed = %name, "feed removed from the config; no longer polled");
                        stop.cancel();
                    }
                    kept
                });
                tracing::info!(change = %reload::describe_change(current.config(), &config),
                    "config applied: new polls, articles and deliveries follow it");
                systemd::ready(&format!("polling {} feeds", config.feeds.len()));
            }
        }
    }
    tracing::info!("shutting down");
    systemd::stopping();
    tracker.close();
    // The outbox gives its unfinished requests shutdown_timeout, then releases their rows
    // within RELEASE_GRACE; waiting that little longer lets it do so.
    let shutdown_timeout = pipelines_tx.borrow().config().daemon.shutdown_timeout;
    if tokio::time::timeout(shutdown_timeout + outbox::RELEASE_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("some work did not finish within shutdown_timeout");
    }
    // Polls cut short by the shutdown were cancelled, not killed: they do not count against
    // their feeds.
    if let Err(err) = store.retire_instance(&instance).await {
        tracing::error!(error = %err, "cannot release this process's polls");
    }
    store.close().await;
    Ok(())
}

/// Beats the heartbeat of this process and recovers the polls of dead ones, until shutdown.
/// Each beat that reached the store also tells `liveness` (for `/readyz`) and systemd's
/// watchdog, so a daemon whose scheduler or store is wedged stops answering both.
pub async fn keep_alive(
    pipelines: watch::Receiver<Pipeline>,
    shutdown: CancellationToken,
    liveness: Option<Liveness>,
) {
    let watchdog = systemd::watchdog_timeout();
    if let Some(timeout) = watchdog
        && timeout <= HEARTBEAT * 2
    {
        tracing::warn!(watchdog = ?timeout, heartbeat = ?HEARTBEAT,
            "WatchdogSec is too short for the heartbeat; set it to 30s or more");
    }
    loop {
        let pipeline = pipelines.borrow().clone();
        let store = pipeline.store();
        match store.heartbeat(pipeline.instance(), Utc::now()).await {
            Ok(()) => {
                if let Some(liveness) = &liveness {
                    liveness.beat();
                }
                if watchdog.is_some() {
                    systemd::watchdog_ping();
                }
            }
            Err(err) => tracing::error!(error = %err, "cannot record the heartbeat"),
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
/// and then every quarter of the period, at most hourly, off the polling path. The period is
/// the current config's.
async fn prune_forever(
    store: Store,
    configs: watch::Receiver<Arc<Config>>,
    shutdown: CancellationToken,
) {
    loop {
        let retention = configs.borrow().daemon.retention;
        let every = (retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600));
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

/// Polls the feed named `name` whenever it is due, under the pipeline of the current config,
/// until `shutdown` or until the feed is no longer in the config.
async fn poll_forever(
    mut pipelines: watch::Receiver<Pipeline>,
    name: String,
    shutdown: CancellationToken,
) {
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
        let pipeline = pipelines.borrow_and_update().clone();
        // Enabled before the state is read, so a subscription that ends in between (its next
        // poll brought forward) still wakes this task.
        let websub = pipeline.websub().clone();
        let rescheduled = websub.rescheduled().notified();
        tokio::pin!(rescheduled);
        rescheduled.as_mut().enable();
        let Some(feed) = pipeline
            .config()
            .feeds
            .iter()
            .find(|f| f.name == name)
            .cloned()
        else {
            return;
        };
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
        // A reload may change the feed's settings or remove it: look again then.
        let reloaded = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => false,
            _ = pipelines.changed() => true,
            _ = &mut rescheduled => true,
        };
        if reloaded {
            continue;
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
            result = pipeline.poll_due(&feed) => result,
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
                // Another instance holds this feed: it is polling it and will schedule the
                // next poll, or it died, and the heartbeat that recovers its polls wakes this
                // task (`rescheduled`). Looking again only now and then keeps the instances
                // that lost the race from loading the store with claims meanwhile.
                tracing::debug!(feed = %feed.name, "another poll of this feed is marked as running");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(CLAIM_RECHECK) => {}
                    _ = &mut rescheduled => {}
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
