//! One poll of one feed, through every stage: fetch the feed (conditionally), parse it, find
//! the items the store has not seen, fetch and extract each new item's page, match the topics,
//! and record the item with its alerts in one transaction. The CPU-bound analysis runs on a
//! blocking thread. When to poll is the scheduler's business, not this module's.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use ulid::Ulid;

use crate::alerts::payload::AlertPayload;
use crate::article::{self, Article};
use crate::config::{Config, FeedSpec, FirstPoll};
use crate::entities::{Model, Recognizer, SHIPPED_MODEL};
use crate::extract;
use crate::feeds::{self, FeedError, FeedItem};
use crate::fetch::{FetchError, FetchOutcome, Fetcher, Validators};
use crate::scheduler;
use crate::store::{NewAlert, Sink, Store, StoreError};
use crate::topics::TopicSet;

/// What happens to the alerts a poll creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// Queue a delivery to each webhook the topic notifies (or to stdout and alerts.jsonl when
    /// it names none): the daemon, and `once --deliver`.
    Deliver,
    /// Record the alerts but queue no delivery: `once` without `--deliver`, which prints them.
    RecordOnly,
}

#[derive(Debug, Default)]
pub struct PollReport {
    pub not_modified: bool,
    pub items: usize,
    pub new_items: usize,
    /// True when this was the feed's first poll and its items were only marked seen.
    pub marked_seen: bool,
    pub alerts: Vec<AlertPayload>,
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
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
    #[error("cannot build the HTTP client: {0}")]
    Fetch(#[from] FetchError),
    #[error("cannot load the entity model: {0}")]
    Model(#[from] crate::entities::ModelError),
    #[error("{0}")]
    Recognizer(#[from] crate::entities::recognizer::RecognizerError),
}

/// The entity recognizer for a config: the shipped model plus its declared entities.
pub fn new_recognizer(config: &Config) -> Result<Recognizer, PipelineError> {
    let model = Arc::new(Model::from_bytes(SHIPPED_MODEL)?);
    Ok(Recognizer::new(model, &config.entities)?)
}

#[derive(Clone)]
pub struct Pipeline {
    config: Arc<Config>,
    store: Store,
    fetcher: Fetcher,
    topics: Arc<TopicSet>,
    recognizer: Arc<Recognizer>,
    routing: Routing,
    /// Woken whenever deliveries were queued, so the outbox sends without waiting.
    outbox_wake: Arc<Notify>,
}

impl Pipeline {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        routing: Routing,
        outbox_wake: Arc<Notify>,
    ) -> Result<Self, PipelineError> {
        let fetcher = Fetcher::new(&config.daemon)?;
        let recognizer = Arc::new(new_recognizer(&config)?);
        let topics = Arc::new(TopicSet::new(
            config
                .topics
                .iter()
                .map(|t| (t.name.clone(), t.query.clone()))
                .collect(),
        ));
        Ok(Self {
            config,
            store,
            fetcher,
            topics,
            recognizer,
            routing,
            outbox_wake,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Polls `feed` once and records the outcome (success with its validators, or the error)
    /// together with when to poll it next.
    pub async fn poll(&self, feed: &FeedSpec) -> Result<PollReport, PollError> {
        let state = self.store.feed_state(&feed.name).await?;
        let outcome = self
            .poll_inner(feed, &state.validators, state.first_polled)
            .await;
        let now = Utc::now();
        match &outcome {
            Ok((_, validators)) => {
                let next = now + scheduler::next_poll_delay(feed, &self.config.daemon, 0);
                self.store
                    .record_poll_success(&feed.name, validators.as_ref(), now, next)
                    .await?;
            }
            Err(err) => {
                let failures = state.consecutive_failures + 1;
                let next = now + scheduler::next_poll_delay(feed, &self.config.daemon, failures);
                self.store
                    .record_poll_failure(&feed.name, &err.to_string(), now, next)
                    .await?;
            }
        }
        outcome.map(|(report, _)| report)
    }

    async fn poll_inner(
        &self,
        feed: &FeedSpec,
        validators: &Validators,
        first_polled: bool,
    ) -> Result<(PollReport, Option<Validators>), PollError> {
        let fetched = match self.fetcher.get(&feed.url, validators).await? {
            FetchOutcome::NotModified => {
                let report = PollReport {
                    not_modified: true,
                    ..PollReport::default()
                };
                return Ok((report, None));
            }
            FetchOutcome::Fetched(fetched) => fetched,
        };
        let body = fetched.body;
        let base = fetched.final_url.to_string();
        let parsed = tokio::task::spawn_blocking(move || feeds::parse(&body, Some(&base)))
            .await
            .map_err(|e| PollError::Analysis(e.to_string()))??;

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
        if !first_polled && self.config.daemon.first_poll == FirstPoll::MarkSeen {
            self.store.mark_seen(&feed.name, &fresh, Utc::now()).await?;
            report.marked_seen = true;
        } else {
            // Feeds list newest first; alerting oldest first keeps alerts in publication order.
            for item in fresh.into_iter().rev() {
                report.alerts.extend(self.process_item(feed, item).await?);
            }
        }
        Ok((report, Some(fetched.validators)))
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
        let config = self.config.clone();
        let topics = self.topics.clone();
        let recognizer = self.recognizer.clone();
        let feed_spec = feed.clone();
        let owned_item = item.clone();
        let (article, matches) = tokio::task::spawn_blocking(move || {
            let page = page.and_then(|(bytes, url, content_type)| {
                match extract::extract(&bytes, Some(&url), content_type.as_deref()) {
                    Ok(article) => Some(article),
                    Err(err) => {
                        tracing::info!(feed = %feed_spec.name, url = %url, error = %err,
                            "extraction found no article text; using the feed's text");
                        None
                    }
                }
            });
            let mut article = Article::from_item(&feed_spec, &owned_item, page);
            article.recognize(&recognizer);
            let matches = article::matching_topics(&topics, &config.topics, &article);
            (article, matches)
        })
        .await
        .map_err(|e| PollError::Analysis(e.to_string()))?;

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
        match self.fetcher.get(&url, &Validators::default()).await {
            Ok(FetchOutcome::Fetched(page)) => {
                Some((page.body, page.final_url.to_string(), page.content_type))
            }
            Ok(FetchOutcome::NotModified) => None,
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
        if self.routing == Routing::RecordOnly {
            return Vec::new();
        }
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
fn window_end(now: DateTime<Utc>, window: std::time::Duration) -> DateTime<Utc> {
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
        let end = window_end(now, std::time::Duration::from_secs(900));
        assert_eq!(end.to_rfc3339(), "2026-01-01T10:15:00+00:00");
    }
}
