//! One sink's lane: the loop that drains one webhook (or the local stdout sink) on its own,
//! and the tasks that carry its messages. A lane claims only when it has a free request slot
//! (`concurrency` of them) and, for a rate-limited webhook, only once the limiter has room, so
//! rows waiting for either stay unclaimed, oldest first, and nothing else waits with them.
//! Each message's result is recorded as soon as its request ends, with the claim's token.
//! It never decides what an answer means (`send` does) and never writes SQL (the store does).

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::send::{self, Outcome, retry_delay};
use super::{RELEASE_GRACE, Shared};
use crate::config::{RateLimit, WebhookSpec};
use crate::store::{ClaimShape, DueDelivery, Sink, StoreError};

/// Retry-After values beyond this are treated as this, so one answer cannot park an alert.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
/// The most alerts one digest message carries; more due alerts of a topic go in the next.
const DIGEST_ROWS: u32 = 64;
/// The most local-sink rows written (and synced) in one go.
const LOCAL_BATCH: u32 = 64;
/// How long an idle lane sleeps at most before it looks at the store again: the bound on
/// how soon it notices `alerts retry` or a change made by another process.
const IDLE_CHECK: Duration = Duration::from_secs(60);
/// After a store error, how long the lane waits before it tries again.
const STORE_RETRY: Duration = Duration::from_secs(1);
/// How long rows of a sink nobody has heard of are kept (that of a webhook's `max_age`).
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3 * 24 * 3600);

/// Whether a lane serves until shutdown, or stops once nothing is due (`once --deliver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Run,
    Drain,
}

pub(super) enum Target {
    Webhook(WebhookSpec),
    /// `alerts.jsonl` next to the store, and stdout when `echo` is set.
    Local {
        path: PathBuf,
        echo: bool,
    },
}

pub(super) struct Lane {
    sink: Sink,
    target: Target,
    shape: ClaimShape,
    concurrency: usize,
    /// One permit per request this lane may have in flight.
    slots: Arc<Semaphore>,
    limiter: Option<DefaultDirectRateLimiter>,
    lease: Duration,
    max_age: Duration,
    wake: Notify,
    shared: Arc<Shared>,
}

/// The pace a chat service's incoming webhooks accept, for a webhook that sets no
/// `rate_limit` of its own:
/// - Slack: "Posting messages: 1 per second; short bursts >1 allowed", with no guarantee
///   for bursts (api.slack.com/docs/rate-limits), a rule that covers incoming webhooks
///   (api.slack.com/changelog/2018-03-great-rate-limits): 1/s.
/// - Discord does not publish fixed numbers and asks clients to follow its rate-limit headers
///   (docs.discord.com/developers/topics/rate-limits); measured limits are 5 requests per 2 s
///   per webhook (birdie0.github.io/discord-webhooks-guide/other/rate_limits.html) and 30
///   messages per minute per channel. A burst of 5 refilled one every 2.4 s ("5/12s") keeps
///   under both: at most 5 in any 2 s, and at most 5 + 25 = 30 in any minute. Its 429s
///   with Retry-After are honoured on top.
///
/// An explicit `rate_limit` always wins.
fn rate_limit(webhook: &WebhookSpec) -> Option<RateLimit> {
    use crate::config::WebhookFormat;
    if webhook.rate_limit.is_some() {
        return webhook.rate_limit;
    }
    match webhook.format {
        WebhookFormat::Slack => Some(RateLimit {
            count: 1,
            per: Duration::from_secs(1),
        }),
        WebhookFormat::Discord => Some(RateLimit {
            count: 5,
            per: Duration::from_secs(12),
        }),
        _ => None,
    }
}

/// `count` messages at once, then one every `per / count`.
fn quota(limit: &RateLimit) -> Option<Quota> {
    let count = NonZeroU32::new(limit.count)?;
    Some(Quota::with_period(limit.per / limit.count)?.allow_burst(count))
}

/// Waits for `future` unless `stop` comes first.
async fn unless_stopped<T>(
    stop: &CancellationToken,
    future: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        _ = stop.cancelled() => None,
        value = future => Some(value),
    }
}

/// Sleeps for `duration`; false when `stop` came first.
async fn pause(stop: &CancellationToken, duration: Duration) -> bool {
    unless_stopped(stop, tokio::time::sleep(duration))
        .await
        .is_some()
}

impl Lane {
    pub(super) fn webhook(spec: &WebhookSpec, lease: Duration, shared: Arc<Shared>) -> Self {
        let rate = rate_limit(spec);
        let shape = match spec.digest {
            Some(_) => ClaimShape::ByTopic(DIGEST_ROWS),
            None => ClaimShape::Single,
        };
        let concurrency = spec.concurrency.max(1);
        Self {
            sink: Sink::Webhook(spec.name.clone()),
            shape,
            concurrency,
            slots: Arc::new(Semaphore::new(concurrency)),
            limiter: rate.as_ref().and_then(quota).map(RateLimiter::direct),
            lease,
            max_age: spec.max_age,
            target: Target::Webhook(spec.clone()),
            wake: Notify::new(),
            shared,
        }
    }

    /// The stdout sink: one writer, so `alerts.jsonl` keeps the order of the alerts.
    pub(super) fn local(path: PathBuf, echo: bool, lease: Duration, shared: Arc<Shared>) -> Self {
        Self {
            sink: Sink::Stdout,
            target: Target::Local { path, echo },
            shape: ClaimShape::Batch(LOCAL_BATCH),
            concurrency: 1,
            slots: Arc::new(Semaphore::new(1)),
            limiter: None,
            lease,
            max_age: DEFAULT_MAX_AGE,
            wake: Notify::new(),
            shared,
        }
    }

    /// Tells the lane that new rows may be due.
    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Claims and sends this sink's due rows until `stop` (or, when draining, until nothing
    /// is due and nothing is in flight). Claiming stops at once on `stop`; messages in flight
    /// go on in the outbox's task tracker. A store error ends a drain and is retried by a run.
    pub(super) async fn drive(
        self: Arc<Self>,
        stop: CancellationToken,
        mode: Mode,
    ) -> Result<(), StoreError> {
        loop {
            // A lane with all its requests in flight claims nothing: its rows wait unclaimed.
            let Some(Ok(first)) = unless_stopped(&stop, self.slots.clone().acquire_owned()).await
            else {
                return Ok(());
            };
            let now = Utc::now();
            match self.shared.store.next_delivery_due(&self.sink).await {
                Ok(Some(due)) if due <= now => {}
                Ok(next) => {
                    drop(first);
                    let go_on = match mode {
                        Mode::Run => {
                            let pause = next
                                .and_then(|due| (due - now).to_std().ok())
                                .unwrap_or(IDLE_CHECK)
                                .clamp(Duration::from_millis(20), IDLE_CHECK);
                            tokio::select! {
                                _ = stop.cancelled() => false,
                                _ = self.wake.notified() => true,
                                _ = tokio::time::sleep(pause) => true,
                            }
                        }
                        Mode::Drain => self.wait_for_in_flight().await,
                    };
                    if !go_on {
                        return Ok(());
                    }
                    continue;
                }
                Err(err) => {
                    drop(first);
                    self.store_trouble(mode, err, &stop).await?;
                    continue;
                }
            }
            let mut slots = vec![first];
            match &self.limiter {
                // Ask the limiter before claiming, so a throttled row stays unclaimed (and in
                // its place in the queue) until it may go; one message per grant.
                Some(limiter) => {
                    if !self.until_allowed(limiter, &stop).await {
                        return Ok(());
                    }
                }
                None => {
                    while let Ok(slot) = self.slots.clone().try_acquire_owned() {
                        slots.push(slot);
                    }
                }
            }
            let claimed = self
                .shared
                .store
                .claim_deliveries(&self.sink, Utc::now(), slots.len(), self.shape, self.lease)
                .await;
            match claimed {
                Ok(messages) if messages.is_empty() => {
                    // Due a moment ago, gone now: another sender took it. A short pause
                    // keeps a disagreement between the two queries from becoming a spin.
                    pause(&stop, Duration::from_millis(50)).await;
                }
                Ok(messages) => {
                    let lease_end = Instant::now() + self.lease;
                    for (message, slot) in messages.into_iter().zip(slots) {
                        self.dispatch(message, slot, lease_end, &self.shared.in_flight);
                    }
                }
                Err(err) => self.store_trouble(mode, err, &stop).await?,
            }
        }
    }

    /// When draining: waits until this lane's requests in flight have ended; false when there
    /// were none, so the drain is over.
    async fn wait_for_in_flight(&self) -> bool {
        if self.slots.available_permits() >= self.concurrency {
            return false;
        }
        let all = u32::try_from(self.concurrency).unwrap_or(u32::MAX);
        let _all = self.slots.acquire_many(all).await;
        true
    }

    async fn store_trouble(
        &self,
        mode: Mode,
        err: StoreError,
        stop: &CancellationToken,
    ) -> Result<(), StoreError> {
        if mode == Mode::Drain {
            return Err(err);
        }
        tracing::error!(sink = %self.sink, error = %err,
            "outbox: cannot read or claim deliveries; retrying");
        pause(stop, STORE_RETRY).await;
        Ok(())
    }

    /// Waits until the rate limiter grants one message; false when `stop` came first.
    async fn until_allowed(
        &self,
        limiter: &DefaultDirectRateLimiter,
        stop: &CancellationToken,
    ) -> bool {
        loop {
            match limiter.check() {
                Ok(()) => return true,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(DefaultClock::default().now());
                    if !pause(stop, wait.max(Duration::from_millis(1))).await {
                        return false;
                    }
                }
            }
        }
    }

    fn dispatch(
        self: &Arc<Self>,
        message: Vec<DueDelivery>,
        slot: OwnedSemaphorePermit,
        lease_end: Instant,
        tracker: &TaskTracker,
    ) {
        let lane = self.clone();
        tracker.spawn(async move {
            lane.deliver(message, lease_end).await;
            drop(slot);
        });
    }

    /// Sends one message and records its outcome; past the shutdown deadline, gives its rows
    /// back instead, so the next start sends them at once rather than after the lease.
    async fn deliver(&self, rows: Vec<DueDelivery>, lease_end: Instant) {
        let sent_at = Utc::now();
        let outcome = tokio::select! {
            outcome = self.send(&rows) => outcome,
            _ = self.shared.hard_stop.cancelled() => {
                self.release(&rows).await;
                return;
            }
        };
        self.record(&rows, outcome, sent_at, lease_end).await;
        // The lane may be asleep until this claim's lease ends; the rows are due at their
        // retry time now, or not at all.
        self.wake();
    }

    async fn send(&self, rows: &[DueDelivery]) -> Outcome {
        match &self.target {
            Target::Webhook(spec) => send::post(&self.shared.client, spec, rows).await,
            Target::Local { path, echo } => {
                let (path, echo) = (path.clone(), *echo);
                let payloads: Vec<String> = rows.iter().map(|r| r.payload.clone()).collect();
                tokio::task::spawn_blocking(move || send::write_local(&path, &payloads, echo))
                    .await
                    .unwrap_or_else(|err| Outcome::Retry {
                        error: format!("writing the local record failed: {err}"),
                        after: None,
                    })
            }
        }
    }

    async fn release(&self, rows: &[DueDelivery]) {
        match tokio::time::timeout(RELEASE_GRACE, self.shared.store.release(rows)).await {
            Ok(Ok(released)) => tracing::info!(sink = %self.sink, released,
                "shutdown: request cut short; its alerts are due again at the next start"),
            Ok(Err(err)) => tracing::warn!(sink = %self.sink, error = %err,
                "shutdown: cannot release an unfinished delivery; it is sent again when its lease runs out"),
            Err(_) => tracing::warn!(sink = %self.sink,
                "shutdown: the store is too slow to release an unfinished delivery; it is sent again when its lease runs out"),
        }
    }

    async fn record(
        &self,
        rows: &[DueDelivery],
        outcome: Outcome,
        sent_at: DateTime<Utc>,
        lease_end: Instant,
    ) {
        let Some(first) = rows.first() else {
            return;
        };
        let store = &self.shared.store;
        let now = Utc::now();
        let result = match &outcome {
            Outcome::Delivered => "delivered",
            Outcome::Gone => "gone",
            Outcome::Retry { .. } => "failed",
        };
        metrics::counter!(crate::metrics::DELIVERIES, "webhook" => self.sink.stored().to_string(), "result" => result)
            .increment(rows.len() as u64);
        match outcome {
            Outcome::Delivered => {
                let recorded = self
                    .persist(lease_end, || store.mark_delivered(rows, now))
                    .await;
                for row in rows {
                    tracing::info!(alert = %row.alert_id, sink = %row.sink, "alert delivered");
                }
                self.note_taken_over(rows.len(), recorded);
            }
            Outcome::Gone => {
                // Disabled before the rows are released: released first, they are due at once
                // and another sender of this lane could claim and send one in between.
                if let Sink::Webhook(name) = &self.sink {
                    match store
                        .disable_webhook(name, "HTTP 410 Gone", now, sent_at)
                        .await
                    {
                        Ok(true) => tracing::error!(webhook = %name,
                            "the webhook answered 410 Gone: disabled; its alerts wait until its URL changes or `feedwatch alerts retry --webhook {name}`"),
                        Ok(false) => tracing::warn!(webhook = %name,
                            "the webhook answered 410 Gone to a request sent before it was enabled again; it stays enabled"),
                        Err(err) => tracing::error!(webhook = %name, error = %err,
                            "the webhook answered 410 Gone, but it cannot be recorded as disabled"),
                    }
                }
                let failures: Vec<_> = rows.iter().map(|row| (row, Some(now))).collect();
                let error = "HTTP 410 Gone: webhook disabled";
                let recorded = self
                    .persist(lease_end, || store.mark_failed(&failures, error, false))
                    .await;
                self.note_taken_over(rows.len(), recorded);
            }
            Outcome::Retry { error, after } => {
                let initial = self.shared.retry_initial;
                // One retry time for the whole message, so a digest's rows stay together.
                // Never sooner than the first retry delay: "Retry-After: 0" must not turn
                // into a tight loop.
                let wait = after.map_or_else(
                    || retry_delay(first.attempts + 1, initial),
                    |a| a.clamp(initial, MAX_RETRY_AFTER),
                );
                let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                let max_age = chrono::Duration::from_std(self.max_age).unwrap_or_default();
                let failures: Vec<_> = rows
                    .iter()
                    .map(|row| (row, (at <= row.created_at + max_age).then_some(at)))
                    .collect();
                for (row, retry_at) in &failures {
                    match retry_at {
                        Some(at) => tracing::warn!(alert = %row.alert_id, sink = %row.sink,
                            attempt = row.attempts + 1, %error, retry_at = %at, "delivery failed; will retry"),
                        None => tracing::error!(alert = %row.alert_id, sink = %row.sink,
                            attempt = row.attempts + 1, %error,
                            "delivery failed for longer than max_age; kept as a dead letter (`feedwatch alerts retry` resends)"),
                    }
                }
                let recorded = self
                    .persist(lease_end, || {
                        store.mark_failed(&failures, &error, after.is_some())
                    })
                    .await;
                self.note_taken_over(rows.len(), recorded);
            }
        }
    }

    /// Runs a completion update, again after a store error while the claim's lease lasts
    /// (later the rows belong to whoever claims them next). `None` when it never succeeded.
    async fn persist<F, Fut>(&self, lease_end: Instant, update: F) -> Option<usize>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<usize, StoreError>>,
    {
        let mut backoff = Duration::from_millis(100);
        loop {
            match update().await {
                Ok(changed) => return Some(changed),
                Err(err) if Instant::now() + backoff < lease_end => {
                    tracing::warn!(sink = %self.sink, error = %err,
                        "cannot record a delivery result; trying again");
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                }
                Err(err) => {
                    tracing::error!(sink = %self.sink, error = %err,
                        "cannot record a delivery result; its alerts are sent again when their lease runs out");
                    return None;
                }
            }
        }
    }

    fn note_taken_over(&self, sent: usize, recorded: Option<usize>) {
        if let Some(recorded) = recorded
            && recorded < sent
        {
            tracing::warn!(sink = %self.sink, rows = sent - recorded,
                "a result was not recorded: the claim had run out and another sender took the rows over (a slow store, or a second sender); the newer claim decides");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn webhook(format: &str, extra: &str) -> WebhookSpec {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feedwatch.toml");
        let text = format!(
            "[[webhook]]\nname = \"w\"\nformat = \"{format}\"\nurl = \"http://127.0.0.1:9/w\"\n{extra}\n"
        );
        std::fs::write(&path, text).unwrap();
        let config = crate::config::load_with_env(&path, &|_| None).unwrap();
        config.webhooks[0].clone()
    }

    #[test]
    fn chat_webhooks_get_their_service_limits_unless_they_set_one() {
        let slack = rate_limit(&webhook("slack", "")).unwrap();
        assert_eq!((slack.count, slack.per), (1, Duration::from_secs(1)));
        let discord = rate_limit(&webhook("discord", "")).unwrap();
        assert_eq!((discord.count, discord.per), (5, Duration::from_secs(12)));
        assert_eq!(rate_limit(&webhook("json", "")), None);
        assert_eq!(rate_limit(&webhook("teams", "")), None);
        let explicit = rate_limit(&webhook("slack", "rate_limit = \"10/min\"")).unwrap();
        assert_eq!(
            (explicit.count, explicit.per),
            (10, Duration::from_secs(60))
        );
    }

    /// How many messages the limiter grants in each window of `window`, sending whenever
    /// it allows, over `total`, in steps of 100 ms.
    fn grants_per_window(limit: RateLimit, window: Duration, total: Duration) -> Vec<usize> {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(quota(&limit).unwrap(), clock.clone());
        let step = Duration::from_millis(100);
        let mut granted = Vec::new();
        let mut at = Duration::ZERO;
        while at < total {
            while limiter.check().is_ok() {
                granted.push(at);
            }
            clock.advance(step);
            at += step;
        }
        // Every window starting at a step, as a sliding-window counter would see it.
        let mut counts = Vec::new();
        let mut start = Duration::ZERO;
        while start + window <= total {
            counts.push(
                granted
                    .iter()
                    .filter(|t| **t >= start && **t < start + window)
                    .count(),
            );
            start += step;
        }
        counts
    }

    #[test]
    fn the_discord_default_keeps_under_both_of_its_limits() {
        let discord = rate_limit(&webhook("discord", "")).unwrap();
        let total = Duration::from_secs(180);
        let per_2s = grants_per_window(discord, Duration::from_secs(2), total);
        assert_eq!(per_2s.iter().max(), Some(&5));
        let per_minute = grants_per_window(discord, Duration::from_secs(60), total);
        assert!(per_minute.iter().all(|n| *n <= 30), "{per_minute:?}");
        // Not far under it either: 5 at once, then one every 2.4 s.
        assert_eq!(per_minute.iter().max(), Some(&29));
        let slack = rate_limit(&webhook("slack", "")).unwrap();
        let per_second = grants_per_window(slack, Duration::from_secs(1), total);
        assert_eq!(per_second.iter().max(), Some(&1));
    }
}
