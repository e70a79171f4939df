//! One poll of one feed, through every stage: fetch the feed (conditionally), parse it, find
//! the items the store has not seen, fetch and extract each new item's page, match the topics,
//! and record the item with its alerts in one transaction. The CPU-bound analysis runs on a
//! blocking thread. The poll's outcome is recorded with the next poll time that
//! `scheduler::next_poll_delay` gives; the scheduler decides when polls start.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use ulid::Ulid;

use crate::alerts::payload::{
    AlertPayload, FEED_HEALTH_TYPE, FeedHealth, FeedHealthEvent, timestamp,
};
use crate::article::{self, Article};
use crate::config::{Config, FeedSpec, FirstPoll};
use crate::entities::{Recognizer, shipped_recognizer};
use crate::extract::{self, ExtractOptions, Hints, HostMemory};
use crate::feeds::{self, FeedError, FeedItem};
use crate::fetch::{FetchError, FetchOutcome, Fetcher, Trust, Validators, redacted};
use crate::scheduler;
use crate::store::{NewAlert, Sink, Store, StoreError};
use crate::topics::TopicSet;

#[derive(Debug, Default)]
pub struct PollReport {
    pub not_modified: bool,
    pub items: usize,
    pub new_items: usize,
    /// True when this was the feed's first poll and its items were only marked seen.
    pub marked_seen: bool,
    pub alerts: Vec<AlertPayload>,
}

/// How long one poll may spend fetching and analysing its new items.
const ITEM_BUDGET: Duration = Duration::from_secs(120);

/// A successful poll, with what the scheduler and the store need to know.
struct Polled {
    report: PollReport,
    validators: Option<Validators>,
    fresh_for: Option<Duration>,
    moved_to: Option<url::Url>,
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("polling stopped: {0}")]
    Stopped(String),
    #[error("fetching the feed failed: {0}")]
    Fetch(#[from] FetchError),
    #[error("{0}")]
    Feed(#[from] FeedError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("analysis task failed: {0}")]
    Analysis(String),
}

/// Why a pipeline could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Fetch(#[from] crate::fetch::FetcherError),
    #[error(transparent)]
    Entities(#[from] crate::entities::LoadError),
}

#[derive(Clone)]
pub struct Pipeline {
    config: Arc<Config>,
    store: Store,
    fetcher: Fetcher,
    topics: Arc<TopicSet>,
    recognizer: Arc<Recognizer>,
    /// Bounds concurrent article page fetches across all feeds.
    article_fetches: Arc<tokio::sync::Semaphore>,
    /// Woken whenever deliveries were queued, so the outbox sends without waiting.
    outbox_wake: Arc<Notify>,
}

impl Pipeline {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        outbox_wake: Arc<Notify>,
    ) -> Result<Self, PipelineError> {
        let fetcher = Fetcher::new(&config.daemon)?;
        let recognizer = Arc::new(shipped_recognizer(&config.entities)?);
        let topics = Arc::new(TopicSet::new(
            config
                .topics
                .iter()
                .map(|t| (t.name.clone(), t.query.clone()))
                .collect(),
        ));
        Ok(Self {
            store,
            fetcher,
            topics,
            recognizer,
            article_fetches: Arc::new(tokio::sync::Semaphore::new(
                config.daemon.max_concurrent_article_fetches,
            )),
            config,
            outbox_wake,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Polls `feed` once and records the outcome (success with its validators, or the error)
    /// together with when to poll it next. A 410 stops the feed; a permanent redirect moves it;
    /// a run of failures longer than the health threshold is reported to the health webhook.
    pub async fn poll(&self, feed: &FeedSpec) -> Result<PollReport, PollError> {
        let state = self.store.feed_state(&feed.name).await?;
        if let Some(reason) = &state.stopped_reason {
            return Err(PollError::Stopped(reason.clone()));
        }
        let url = state
            .moved_to
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .unwrap_or_else(|| feed.url.clone());
        let outcome = self.poll_inner(feed, &url, &state).await;
        let now = Utc::now();
        let daemon = &self.config.daemon;
        match &outcome {
            Ok(polled) => {
                let next = now + scheduler::next_poll_delay(feed, daemon, 0, polled.fresh_for);
                self.store
                    .record_poll_success(&feed.name, polled.validators.as_ref(), now, next)
                    .await?;
                if let Some(moved) = &polled.moved_to {
                    tracing::warn!(feed = %feed.name, from = %redacted(&url), to = %redacted(moved),
                        "feed moved permanently; polling the new URL (update the config to match)");
                    self.store.record_move(&feed.name, moved.as_str()).await?;
                }
                if state.health_alerted {
                    self.report_health(feed, &url, &state, FeedHealth::Recovered, now)
                        .await?;
                }
            }
            Err(PollError::Fetch(err)) if err.is_gone() => {
                let reason = format!(
                    "HTTP 410 Gone on {}: the feed was removed; polling stopped until its url changes",
                    now.format("%Y-%m-%d %H:%M UTC")
                );
                tracing::error!(feed = %feed.name, url = %redacted(&url), "{reason}");
                self.store.stop_feed(&feed.name, &reason).await?;
                self.store
                    .record_poll_failure(&feed.name, &reason, now, now)
                    .await?;
            }
            Err(err) => {
                let failures = state.consecutive_failures + 1;
                let retry_after = match err {
                    PollError::Fetch(fetch) => fetch.retry_after(),
                    _ => None,
                };
                let next = now + scheduler::next_poll_delay(feed, daemon, failures, retry_after);
                self.store
                    .record_poll_failure(&feed.name, &err.to_string(), now, next)
                    .await?;
                let failing_since = state.failing_since.unwrap_or(now);
                let threshold =
                    chrono::Duration::from_std(daemon.health_threshold).unwrap_or_default();
                if !state.health_alerted && now - failing_since >= threshold {
                    let state = self.store.feed_state(&feed.name).await?;
                    self.report_health(feed, &url, &state, FeedHealth::Failing, now)
                        .await?;
                }
            }
        }
        outcome.map(|polled| polled.report)
    }

    /// Queues a feed-health notice for the health webhook, if one is configured, and records
    /// that it was sent so each failure run is reported once, and its recovery once.
    async fn report_health(
        &self,
        feed: &FeedSpec,
        url: &url::Url,
        state: &crate::store::FeedState,
        health: FeedHealth,
        now: DateTime<Utc>,
    ) -> Result<(), PollError> {
        let Some(webhook) = &self.config.daemon.health_webhook else {
            return Ok(());
        };
        let event = FeedHealthEvent {
            id: Ulid::new().to_string(),
            kind: FEED_HEALTH_TYPE.to_string(),
            feed: feed.name.clone(),
            url: redacted(url),
            status: health,
            failing_since: state.failing_since.map(timestamp),
            consecutive_failures: state.consecutive_failures,
            last_error: state.last_error.clone(),
            detected_at: timestamp(now),
        };
        let sinks = vec![(Sink::Webhook(webhook.clone()), now)];
        self.store.record_health_event(&event, &sinks, now).await?;
        self.store
            .set_health_alerted(&feed.name, health == FeedHealth::Failing)
            .await?;
        tracing::warn!(feed = %feed.name, status = ?health, "feed health reported");
        self.outbox_wake.notify_one();
        Ok(())
    }

    async fn poll_inner(
        &self,
        feed: &FeedSpec,
        url: &url::Url,
        state: &crate::store::FeedState,
    ) -> Result<Polled, PollError> {
        let fetched = match self
            .fetcher
            .get(url, &state.validators, Trust::Configured)
            .await?
        {
            FetchOutcome::NotModified { fresh_for } => {
                let report = PollReport {
                    not_modified: true,
                    ..PollReport::default()
                };
                return Ok(Polled {
                    report,
                    validators: None,
                    fresh_for,
                    moved_to: None,
                });
            }
            FetchOutcome::Fetched(fetched) => fetched,
        };
        let body = fetched.body;
        let base = fetched.final_url.to_string();
        let content_type = fetched.content_type.clone();
        let mut parsed = tokio::task::spawn_blocking(move || {
            feeds::parse_fetched(&body, content_type.as_deref(), Some(&base))
        })
        .await
        .map_err(|e| PollError::Analysis(e.to_string()))??;
        let cap = self.config.daemon.max_items_per_feed;
        if parsed.items.len() > cap {
            tracing::warn!(feed = %feed.name, items = parsed.items.len(), cap,
                "feed lists more items than max_items_per_feed; the oldest are ignored");
            // Newest first whatever order the feed uses; undated items keep their place last.
            parsed
                .items
                .sort_by_key(|item| std::cmp::Reverse(item.published));
            parsed.items.truncate(cap);
        }

        let mut report = PollReport {
            items: parsed.items.len(),
            ..PollReport::default()
        };
        let keys: Vec<_> = parsed.items.iter().map(|i| &i.key).collect();
        let unseen = self.store.unseen(&feed.name, &keys).await?;
        let mut fresh: Vec<&FeedItem> = Vec::new();
        for (item, is_new) in parsed.items.iter().zip(unseen) {
            // A feed may list the same item twice; it is one item.
            if is_new && !fresh.iter().any(|f| f.key == item.key) {
                fresh.push(item);
            }
        }
        report.new_items = fresh.len();
        let mut unfinished = false;
        if !state.first_polled && self.config.daemon.first_poll == FirstPoll::MarkSeen {
            self.store.mark_seen(&feed.name, &fresh, Utc::now()).await?;
            report.marked_seen = true;
        } else {
            // Feeds list newest first; alerting oldest first keeps alerts in publication order.
            let started = std::time::Instant::now();
            for item in fresh.into_iter().rev() {
                // A feed full of slow links must not hold its slots for hours: what is left
                // waits for the next poll (unrecorded items are simply new again then).
                if started.elapsed() > ITEM_BUDGET {
                    tracing::warn!(feed = %feed.name, "time budget for this poll's articles spent; the rest waits for the next poll");
                    unfinished = true;
                    break;
                }
                match self.process_item(feed, item).await {
                    Ok(alerts) => report.alerts.extend(alerts),
                    // One item whose analysis failed must not block the feed's later items
                    // forever: it is recorded without alerts and the poll goes on.
                    Err(PollError::Analysis(error)) => {
                        tracing::error!(feed = %feed.name, item = %item.title, %error,
                            "analysing the item failed; recorded without alerts");
                        self.store
                            .mark_seen(&feed.name, &[item], Utc::now())
                            .await?;
                    }
                    Err(other) => return Err(other),
                }
            }
        }
        if unfinished {
            // Keep the old validators and the plain interval: were this response's ETag stored,
            // the next poll would get a 304 and never see the items left over.
            return Ok(Polled {
                report,
                validators: None,
                fresh_for: None,
                moved_to: fetched.moved_permanently,
            });
        }
        // The server's freshness and the publisher's own update hint both bound the interval.
        let fresh_for = match (fetched.fresh_for, parsed.update_hint) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Ok(Polled {
            report,
            validators: Some(fetched.validators),
            fresh_for,
            moved_to: fetched.moved_permanently,
        })
    }

    /// Builds, analyses and records one new item; returns the alerts it created.
    async fn process_item(
        &self,
        feed: &FeedSpec,
        item: &FeedItem,
    ) -> Result<Vec<AlertPayload>, PollError> {
        let page = match (&item.link, feed.full_text) {
            (Some(link), true) => self.fetch_page(feed, link).await,
            _ => None,
        };
        // What earlier pages of this host taught about its template (bounded in size).
        let host = page.as_ref().and_then(|(_, url, _)| article::site_of(url));
        let memory = match &host {
            Some(host) => self
                .store
                .host_memory(host)
                .await?
                .and_then(|bytes| HostMemory::from_bytes(&bytes)),
            None => None,
        };
        let config = self.config.clone();
        let topics = self.topics.clone();
        let recognizer = self.recognizer.clone();
        let feed_spec = feed.clone();
        let owned_item = item.clone();
        let (article, matches, learned) = tokio::task::spawn_blocking(move || {
            // The feed reader already gives the title and summary as plain text.
            let options = ExtractOptions {
                hints: Some(Hints {
                    title: Some(&owned_item.title),
                    summary: owned_item.summary.as_deref(),
                }),
                memory: memory.as_ref(),
                ..ExtractOptions::default()
            };
            let mut learned = None;
            let page = page.and_then(|(bytes, url, content_type)| {
                match extract::extract_with(&bytes, Some(&url), content_type.as_deref(), &options) {
                    Ok((article, blocks)) => {
                        let mut memory = memory.clone().unwrap_or_default();
                        memory.learn(&blocks);
                        learned = Some(memory.to_bytes());
                        Some(article)
                    }
                    Err(err) => {
                        tracing::info!(feed = %feed_spec.name, url = %url, error = %err,
                            "extraction found no article text; using the feed's text");
                        None
                    }
                }
            });
            let mut article = Article::from_item(&feed_spec, &owned_item, page);
            article.truncate_text(config.daemon.max_article_chars);
            article.recognize(&recognizer);
            let matches =
                article::matching_topics(&topics, &config.topics, &config.entities, &article);
            (article, matches, learned)
        })
        .await
        .map_err(|e| PollError::Analysis(e.to_string()))?;
        if let (Some(host), Some(learned)) = (&host, &learned) {
            self.store
                .save_host_memory(host, learned, Utc::now())
                .await?;
        }

        let now = Utc::now();
        let mut payloads = Vec::new();
        let mut alerts = Vec::new();
        for found in &matches {
            let payload = article::alert_payload(Ulid::new().to_string(), &article, found, now);
            alerts.push(NewAlert {
                id: payload.id.clone(),
                topic: payload.topic.clone(),
                payload: serde_json::to_string(&payload).unwrap_or_default(),
                sinks: self.sinks_for(&found.name, now),
            });
            payloads.push(payload);
        }
        let created = self
            .store
            .record_item(&feed.name, item, &alerts, now)
            .await?;
        if !created.is_empty() {
            tracing::info!(feed = %feed.name, item = %item.title, alerts = created.len(), "new alerts");
            self.outbox_wake.notify_one();
        }
        payloads.retain(|p| created.contains(&p.id));
        Ok(payloads)
    }

    /// The page behind an item's link, or `None` (logged) when it cannot be had: the item is
    /// then matched on the feed's own text rather than lost.
    async fn fetch_page(
        &self,
        feed: &FeedSpec,
        link: &str,
    ) -> Option<(Vec<u8>, String, Option<String>)> {
        let url = match url::Url::parse(link) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            _ => {
                tracing::info!(feed = %feed.name, link, "item link is not an http(s) URL; using the feed's text");
                return None;
            }
        };
        let _permit = self.article_fetches.acquire().await.ok()?;
        match self
            .fetcher
            .get(&url, &Validators::default(), Trust::Untrusted)
            .await
        {
            Ok(FetchOutcome::Fetched(page)) => {
                Some((page.body, page.final_url.to_string(), page.content_type))
            }
            Ok(FetchOutcome::NotModified { .. }) => None,
            Err(err) => {
                tracing::warn!(feed = %feed.name, link, error = %err,
                    "cannot fetch the article page; using the feed's text");
                None
            }
        }
    }

    /// Where a topic's alert goes and when it is due: at once, or for a digest webhook at the
    /// end of the current digest window, so one window's alerts leave together.
    fn sinks_for(&self, topic: &str, now: DateTime<Utc>) -> Vec<(Sink, DateTime<Utc>)> {
        let notify = self
            .config
            .topics
            .iter()
            .find(|t| t.name == topic)
            .map(|t| t.notify.as_slice())
            .unwrap_or_default();
        if notify.is_empty() {
            return vec![(Sink::Stdout, now)];
        }
        notify
            .iter()
            .map(|name| {
                let digest = self
                    .config
                    .webhooks
                    .iter()
                    .find(|w| &w.name == name)
                    .and_then(|w| w.digest);
                let due = digest.map_or(now, |window| window_end(now, window));
                (Sink::Webhook(name.clone()), due)
            })
            .collect()
    }
}

/// The end of the `window`-long period (aligned to the Unix epoch) that contains `now`.
fn window_end(now: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    let window_ms = window.as_millis().max(1) as i64;
    let end = (now.timestamp_millis() / window_ms + 1) * window_ms;
    DateTime::from_timestamp_millis(end).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_windows_are_aligned() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T10:07:30Z")
            .unwrap()
            .with_timezone(&Utc);
        let end = window_end(now, Duration::from_secs(900));
        assert_eq!(end.to_rfc3339(), "2026-01-01T10:15:00+00:00");
    }
}
