//! One poll of one feed, through every stage: fetch the feed (conditionally, within the global
//! and per-host limits), parse it, find the items the store has not seen, fetch and extract
//! each new item's page, match the topics, and record the item with its alerts in one
//! transaction. The poll is marked as started in the store before any work, so a process that
//! dies during it is noticed (see [`Pipeline::recover_interrupted_polls`]). CPU-bound work runs
//! on the [`AnalysisPool`] with a time budget: an article over budget is matched on its feed's
//! text instead, with the reason recorded, and never holds a fetch slot. The poll's outcome is
//! recorded with the next poll time that `scheduler::next_poll_delay` gives; the scheduler
//! decides when polls start.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use ulid::Ulid;

use crate::alerts::payload::{
    AlertPayload, FEED_HEALTH_TYPE, FeedHealth, FeedHealthEvent, timestamp,
};
use crate::analysis_pool::{AnalysisError, AnalysisPool};
use crate::article::{self, Article};
use crate::config::{Config, FeedSpec, FirstPoll};
use crate::dedupe::Fingerprint;
use crate::entities::{Recognizer, shipped_recognizer};
use crate::extract::{self, ExtractOptions, Hints, HostMemory};
use crate::feeds::{self, FeedError, FeedItem};
use crate::fetch::politeness::HostGates;
use crate::fetch::{FetchError, FetchOutcome, Fetcher, Trust, Validators, Want, redacted};
use crate::scheduler;
use crate::store::{NewAlert, PollClaim, Sink, Store, StoreError, Story, listing_refresh};
use crate::topics::{TopicMatch, TopicSet};
use futures_util::StreamExt;

/// A feed whose polls took the process down this many times in a row is quarantined.
pub const QUARANTINE_AFTER: u32 = 3;

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
/// A poll cut short by [`ITEM_BUDGET`] goes on with the items left over this soon.
const RESUME_UNFINISHED: Duration = Duration::from_secs(10);

/// A successful poll, with what the scheduler and the store need to know.
struct Polled {
    report: PollReport,
    validators: Option<Validators>,
    fresh_for: Option<Duration>,
    moved_to: Option<url::Url>,
    /// Whether the feed's document was read (not a 304).
    parsed: bool,
    /// Whether the item budget ran out before every new item was processed.
    unfinished: bool,
    /// The feed's WebSub hub and topic, when its document was read.
    discovery: Option<crate::websub::Discovery>,
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("polling stopped: {0}")]
    Stopped(String),
    #[error("{0}")]
    Quarantined(String),
    /// Another instance holds this feed's poll (running, or died and not yet recovered), or
    /// polled it since it came due; this one waits.
    #[error("another poll of this feed is in progress")]
    InProgress,
    #[error("fetching the feed failed: {0}")]
    Fetch(#[from] FetchError),
    #[error("{0}")]
    Feed(#[from] FeedError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("parsing the feed: {0}")]
    Analysis(#[from] AnalysisError),
    /// An item's page job ended without an outcome (a panic): the poll ends unfinished and
    /// the item is tried again with the feed's next poll.
    #[error("an article job failed: {0}")]
    Job(String),
}

/// Why a pipeline could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Fetch(#[from] crate::fetch::FetcherError),
    #[error(transparent)]
    Entities(#[from] crate::entities::LoadError),
}

/// An item's article page as fetched, ready for extraction.
struct Page {
    bytes: Vec<u8>,
    url: String,
    content_type: Option<String>,
}

/// A feed fetched and parsed, or unchanged since the validators were issued.
enum FeedFetch {
    NotModified { fresh_for: Option<Duration> },
    Fetched(Box<crate::fetch::Fetched>, feeds::ParsedFeed),
}

/// A feed's URL as logs and notices show it: the configured one as the config spells it, any
/// other (a stored new location) without credentials, query or fragment and scrubbed of the
/// feed's `${VAR}` values.
fn shown_url(feed: &FeedSpec, url: &url::Url) -> String {
    if *url == feed.url {
        feed.shown_url.clone()
    } else {
        feed.scrub(&redacted(url))
    }
}

/// Why an item's article page could not be had.
struct PageFailure {
    /// A timeout, a connection failure, 429 or 5xx: worth another try later.
    transient: bool,
    message: String,
}

impl PageFailure {
    fn lasting(message: impl Into<String>) -> Self {
        Self {
            transient: false,
            message: message.into(),
        }
    }
}

/// What became of one new item before it is recorded.
enum Prepared {
    /// Analysed on its page or — `note` says why — on its feed's text; `None` when even that
    /// failed, and it is recorded without alerts.
    Done {
        analysed: Option<Box<Analysed>>,
        note: Option<String>,
    },
    /// Its page failed in a way that may pass, on try `attempts`: it waits for another.
    Retry { attempts: u32, error: String },
}

/// The analysed article of an item, with the topics it matched.
struct Analysed {
    article: Article,
    matches: Vec<TopicMatch>,
    /// Of the article's text, for finding copies of the story (`None`: too short to tell).
    fingerprint: Option<Fingerprint>,
}

#[derive(Clone)]
pub struct Pipeline {
    config: Arc<Config>,
    store: Store,
    fetcher: Fetcher,
    topics: Arc<TopicSet>,
    recognizer: Arc<Recognizer>,
    pool: AnalysisPool,
    /// Bounds concurrent feed fetches (and the feed bodies held in memory) across all feeds.
    feed_fetches: Arc<tokio::sync::Semaphore>,
    /// Politeness per feed host actually contacted.
    hosts: HostGates,
    /// How many article pages one host serves us at once.
    article_hosts: HostGates,
    /// Bounds concurrent article page fetches across all feeds.
    article_fetches: Arc<tokio::sync::Semaphore>,
    /// Woken whenever deliveries were queued, so the outbox sends without waiting.
    outbox_wake: Arc<Notify>,
    /// This process, as the owner of the polls it marks as started.
    instance: Arc<str>,
    /// WebSub subscriptions and pushes (shared across reloads).
    websub: crate::websub::WebSub,
}

impl Pipeline {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        outbox_wake: Arc<Notify>,
    ) -> Result<Self, PipelineError> {
        let daemon = &config.daemon;
        let (fetcher, topics, recognizer) = Self::compile(&config)?;
        Ok(Self {
            store: store.clone(),
            fetcher,
            topics,
            recognizer,
            pool: AnalysisPool::per_core(),
            feed_fetches: Arc::new(tokio::sync::Semaphore::new(daemon.max_concurrent_fetches)),
            hosts: HostGates::new(daemon.per_host_concurrency, daemon.per_host_spacing)
                .shared_through(store.shared_by_instances().then(|| store.clone())),
            article_hosts: HostGates::new(daemon.per_host_concurrency, Duration::ZERO),
            article_fetches: Arc::new(tokio::sync::Semaphore::new(
                daemon.max_concurrent_article_fetches,
            )),
            outbox_wake,
            instance: Ulid::new().to_string().into(),
            websub: crate::websub::WebSub::new(store.clone()),
            config,
        })
    }

    /// The same pipeline under a reloaded config: topics, entities, fetch settings and feed
    /// settings come from `config`, while the store, the analysis pool, the fetch limits and
    /// the per-host politeness are shared with `self`, so polls under the old config and the
    /// new one never exceed them together. Limits sized by the config at start
    /// (`max_concurrent_fetches`, `per_host_concurrency`, …) keep their size until a restart.
    pub fn reconfigured(&self, config: Arc<Config>) -> Result<Self, PipelineError> {
        let (fetcher, topics, recognizer) = Self::compile(&config)?;
        Ok(Self {
            config,
            fetcher,
            topics,
            recognizer,
            ..self.clone()
        })
    }

    /// What a config compiles to: its HTTP clients, its topics' matcher, its entity recognizer.
    fn compile(
        config: &Config,
    ) -> Result<(Fetcher, Arc<TopicSet>, Arc<Recognizer>), PipelineError> {
        let fetcher = Fetcher::new(&config.daemon)?;
        let recognizer = Arc::new(shipped_recognizer(&config.entities)?);
        let topics = Arc::new(TopicSet::new(
            config
                .topics
                .iter()
                .map(|t| (t.name.clone(), t.query.clone()))
                .collect(),
        ));
        Ok((fetcher, topics, recognizer))
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This pipeline in the daemon that serves the WebSub callbacks: feeds that name a hub
    /// are subscribed to.
    pub fn serving_websub(self) -> Self {
        Self {
            websub: self.websub.serving(),
            ..self
        }
    }

    /// The HTTP clients of the current config.
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    pub fn websub(&self) -> &crate::websub::WebSub {
        &self.websub
    }

    /// The id under which this process marks its polls (see `Store::begin_poll`).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Polls `feed` once and records the outcome (success with its validators, or the error)
    /// together with when to poll it next. A 410 stops the feed; a permanent redirect moves it;
    /// a run of failures longer than the health threshold is reported to the health webhook.
    pub async fn poll(&self, feed: &FeedSpec) -> Result<PollReport, PollError> {
        self.poll_claimed(feed, PollClaim::IfFree).await
    }

    /// [`Self::poll`] if the feed is still due when this instance claims it: the daemon's
    /// scheduled poll, which every instance on the store attempts and one wins
    /// ([`PollError::InProgress`] for the others).
    pub async fn poll_due(&self, feed: &FeedSpec) -> Result<PollReport, PollError> {
        self.poll_claimed(feed, PollClaim::IfDue).await
    }

    /// The feed's state, unless it is stopped (410) or quarantined: then why.
    async fn pollable_state(&self, feed: &FeedSpec) -> Result<crate::store::FeedState, PollError> {
        let state = self.store.feed_state(&feed.name).await?;
        if let Some(reason) = &state.stopped_reason {
            return Err(PollError::Stopped(reason.clone()));
        }
        if let Some(reason) = &state.quarantined_reason {
            return Err(PollError::Quarantined(reason.clone()));
        }
        Ok(state)
    }

    async fn poll_claimed(
        &self,
        feed: &FeedSpec,
        claim: PollClaim,
    ) -> Result<PollReport, PollError> {
        let state = self.pollable_state(feed).await?;
        // Marked before any work: should this poll take the process down, the next start
        // knows, and backs the feed off instead of polling it again at once.
        if !self
            .store
            .begin_poll(&feed.name, &self.instance, Utc::now(), claim)
            .await?
        {
            return Err(PollError::InProgress);
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
                // While a hub pushes, polling is only the fallback for a hub gone silent.
                // WebSub trouble never fails the poll: the feed is then polled as usual.
                let pushed = match &polled.discovery {
                    Some(discovery) => self
                        .websub
                        .after_poll(&self.config, &self.fetcher, feed, discovery)
                        .await
                        .unwrap_or_else(|err| {
                            tracing::error!(feed = %feed.name, error = %err,
                                "cannot record the feed's WebSub subscription");
                            false
                        }),
                    None => self.websub.is_pushed(&feed.name).await,
                };
                let next = if polled.unfinished {
                    now + RESUME_UNFINISHED.min(feed.interval)
                } else if pushed {
                    let fallback = crate::websub::FALLBACK_INTERVAL.max(feed.interval);
                    now + scheduler::next_poll_delay(feed, daemon, 0, polled.fresh_for)
                        .max(fallback)
                } else {
                    now + scheduler::next_poll_delay(feed, daemon, 0, polled.fresh_for)
                };
                self.store
                    .record_poll_success(
                        &feed.name,
                        polled.validators.as_ref(),
                        polled.parsed,
                        now,
                        next,
                    )
                    .await?;
                if let Some(moved) = &polled.moved_to {
                    tracing::warn!(feed = %feed.name, from = %shown_url(feed, &url),
                        to = %shown_url(feed, moved),
                        "feed moved permanently; polling the new URL (update the config to match)");
                    self.store.record_move(&feed.name, moved.as_str()).await?;
                }
                if state.health_alerted {
                    self.report_health(feed, &url, &state, FeedHealth::Recovered, None, now)
                        .await?;
                }
            }
            Err(PollError::Store(err)) => {
                // The store's trouble, not the feed's: nothing is charged to the feed, and the
                // scheduler tries the poll again shortly.
                tracing::error!(feed = %feed.name, error = %err,
                    "store trouble during the poll; it is retried and not counted against the feed");
            }
            Err(PollError::Fetch(err)) if err.is_gone() => {
                let reason = format!(
                    "HTTP 410 Gone on {}: the feed was removed; polling stopped until its url changes or `feedwatch feeds resume {}`",
                    now.format("%Y-%m-%d %H:%M UTC"),
                    feed.name
                );
                tracing::error!(feed = %feed.name, url = %shown_url(feed, &url), "{reason}");
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
                    .record_poll_failure(&feed.name, &feed.scrub(&err.to_string()), now, next)
                    .await?;
                let failing_since = state.failing_since.unwrap_or(now);
                let threshold =
                    chrono::Duration::from_std(daemon.health_threshold).unwrap_or_default();
                if !state.health_alerted && now - failing_since >= threshold {
                    let state = self.store.feed_state(&feed.name).await?;
                    self.report_health(feed, &url, &state, FeedHealth::Failing, None, now)
                        .await?;
                }
            }
        }
        outcome.map(|polled| polled.report)
    }

    /// Finds the polls that died with their process (any instance's, once its heartbeat is
    /// older than `dead_after`): after one death the feed is polled again at once, after two
    /// in a row it is backed off as after failures, and after [`QUARANTINE_AFTER`] it is
    /// quarantined and the health webhook told.
    pub async fn recover_interrupted_polls(&self, dead_after: Duration) -> Result<(), PollError> {
        let now = Utc::now();
        let alive_since = now - chrono::Duration::from_std(dead_after).unwrap_or_default();
        let recovered = self
            .store
            .recover_interrupted_polls(alive_since, &self.instance)
            .await?;
        let any_recovered = !recovered.is_empty();
        for (name, deaths) in recovered {
            let Some(feed) = self.config.feeds.iter().find(|f| f.name == name) else {
                continue;
            };
            if deaths >= QUARANTINE_AFTER {
                let reason = format!(
                    "quarantined on {}: the process died during {deaths} polls of this feed in a row; polling stopped until `feedwatch feeds resume {name}` or its url changes",
                    now.format("%Y-%m-%d %H:%M UTC"),
                );
                tracing::error!(feed = %name, url = %feed.shown_url, "{reason}");
                self.store.quarantine_feed(&name, &reason).await?;
                let state = self.store.feed_state(&name).await?;
                self.report_health(
                    feed,
                    &feed.url,
                    &state,
                    FeedHealth::Quarantined,
                    Some(reason),
                    now,
                )
                .await?;
            } else if deaths == 1 {
                // One death is as likely the process's own end (a deploy, an operator's kill,
                // the OOM killer) as the feed's doing: the feed stays due, so a surviving
                // instance takes it over within one lease. Only a second death in a row backs
                // it off.
                tracing::warn!(feed = %name,
                    "the process polling this feed died; the feed is polled again now");
            } else {
                let next =
                    now + scheduler::next_poll_delay(feed, &self.config.daemon, deaths, None);
                tracing::warn!(feed = %name, deaths, next_poll = %timestamp(next),
                    "the process died during this feed's last poll; backing the feed off");
                self.store.set_next_poll(&name, next).await?;
            }
        }
        if any_recovered {
            // This instance's tasks of those feeds wait for whoever held them; now that the
            // feeds are free (and backed off where they must be), they look again.
            self.websub.rescheduled().notify_waiters();
        }
        Ok(())
    }

    /// Queues a feed-health notice for the health webhook, if one is configured, and records
    /// that it was sent so each failure run is reported once, and its recovery once.
    async fn report_health(
        &self,
        feed: &FeedSpec,
        url: &url::Url,
        state: &crate::store::FeedState,
        health: FeedHealth,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), PollError> {
        let Some(webhook) = &self.config.daemon.health_webhook else {
            return Ok(());
        };
        let event = FeedHealthEvent {
            id: Ulid::new().to_string(),
            kind: FEED_HEALTH_TYPE.to_string(),
            feed: feed.name.clone(),
            url: shown_url(feed, url),
            status: health,
            failing_since: state.failing_since.map(timestamp),
            consecutive_failures: state.consecutive_failures,
            last_error: reason.or_else(|| state.last_error.clone()),
            detected_at: timestamp(now),
        };
        let sinks = vec![(Sink::Webhook(webhook.clone()), now)];
        self.store.record_health_event(&event, &sinks, now).await?;
        self.store
            .set_health_alerted(&feed.name, health != FeedHealth::Recovered)
            .await?;
        tracing::warn!(feed = %feed.name, status = ?health, "feed health reported");
        self.outbox_wake.notify_one();
        Ok(())
    }

    /// Fetches the feed within the global and per-host limits, and parses it on the pool; the
    /// fetch slot is held until the body is parsed, so the bodies in memory stay bounded.
    async fn fetch_feed(
        &self,
        feed: &FeedSpec,
        url: &url::Url,
        validators: &Validators,
    ) -> Result<FeedFetch, PollError> {
        let host = self.hosts.enter(url.host_str().unwrap_or_default()).await;
        let Ok(_slot) = self.feed_fetches.acquire().await else {
            return Err(PollError::Stopped("shutting down".into()));
        };
        host.wait_turn().await;
        let started = std::time::Instant::now();
        let outcome = self.fetch_and_parse(feed, url, validators).await;
        let result = match &outcome {
            Ok(FeedFetch::NotModified { .. }) => "not_modified",
            Ok(FeedFetch::Fetched(..)) => "ok",
            Err(PollError::Fetch(FetchError::Status { .. })) => "http_error",
            Err(PollError::Fetch(FetchError::Timeout)) => "timeout",
            Err(PollError::Fetch(_)) => "fetch_error",
            Err(PollError::Feed(_)) => "parse_error",
            Err(_) => "error",
        };
        metrics::counter!(crate::metrics::FETCHES, "feed" => feed.name.clone(), "result" => result)
            .increment(1);
        metrics::histogram!(crate::metrics::FETCH_SECONDS, "feed" => feed.name.clone())
            .record(started.elapsed().as_secs_f64());
        outcome
    }

    async fn fetch_and_parse(
        &self,
        feed: &FeedSpec,
        url: &url::Url,
        validators: &Validators,
    ) -> Result<FeedFetch, PollError> {
        let mut fetched = match self
            .fetcher
            .get(url, validators, &Trust::operator(&feed.url), Want::Feed)
            .await?
        {
            FetchOutcome::NotModified { fresh_for } => {
                return Ok(FeedFetch::NotModified { fresh_for });
            }
            FetchOutcome::Fetched(fetched) => fetched,
        };
        let body = std::mem::take(&mut fetched.body);
        let base = fetched.base_url.to_string();
        let content_type = fetched.content_type.clone();
        let parsed = self
            .pool
            .run(self.config.daemon.analysis_budget, move || {
                feeds::parse_fetched(&body, content_type.as_deref(), Some(&base))
            })
            .await??;
        Ok(FeedFetch::Fetched(fetched, parsed))
    }

    async fn poll_inner(
        &self,
        feed: &FeedSpec,
        url: &url::Url,
        state: &crate::store::FeedState,
    ) -> Result<Polled, PollError> {
        let (fetched, parsed) = match self.fetch_feed(feed, url, &state.validators).await? {
            FeedFetch::NotModified { fresh_for } => {
                let report = PollReport {
                    not_modified: true,
                    ..PollReport::default()
                };
                return Ok(Polled {
                    report,
                    validators: None,
                    fresh_for,
                    moved_to: None,
                    parsed: false,
                    unfinished: false,
                    discovery: None,
                });
            }
            FeedFetch::Fetched(fetched, parsed) => (fetched, parsed),
        };
        let discovery = crate::websub::Discovery::from_fetch(&fetched.links, &parsed, url);
        let update_hint = parsed.update_hint;
        let (report, unfinished) = self
            .process_parsed(feed, parsed, state.first_polled)
            .await?;
        if unfinished {
            // Keep the old validators: were this response's ETag stored, the next poll would
            // get a 304 and never see the items left over.
            return Ok(Polled {
                report,
                validators: None,
                fresh_for: None,
                moved_to: fetched.moved_permanently,
                parsed: true,
                unfinished: true,
                discovery: Some(discovery),
            });
        }
        // The server's freshness and the publisher's own update hint both bound the interval.
        let fresh_for = match (fetched.fresh_for, update_hint) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Ok(Polled {
            report,
            validators: Some(fetched.validators),
            fresh_for,
            moved_to: fetched.moved_permanently,
            parsed: true,
            unfinished: false,
            discovery: Some(discovery),
        })
    }

    /// A feed document pushed by its WebSub hub, through the same path as a polled one: parsed
    /// on the pool, its new items fetched, analysed and recorded with their alerts. The feed's
    /// poll state (validators, next poll) is the poll's and stays as it is.
    pub async fn process_pushed(
        &self,
        feed: &FeedSpec,
        body: Vec<u8>,
        content_type: Option<String>,
    ) -> Result<PollReport, PollError> {
        // A stopped or quarantined feed (one whose polls took the process down) stays so.
        let state = self.pollable_state(feed).await?;
        let base = feed.url.to_string();
        let parsed = self
            .pool
            .run(self.config.daemon.analysis_budget, move || {
                feeds::parse_fetched(&body, content_type.as_deref(), Some(&base))
            })
            .await??;
        let (report, unfinished) = self
            .process_parsed(feed, parsed, state.first_polled)
            .await?;
        if unfinished {
            // The items left over are still listed by the feed: the next poll takes them.
            self.store
                .set_next_poll(&feed.name, Utc::now() + RESUME_UNFINISHED)
                .await?;
            self.websub.rescheduled().notify_waiters();
        }
        Ok(report)
    }

    /// The items of a parsed feed document that the store has not seen, processed: on the
    /// feed's first read (`first_polled` false) with `first_poll = "mark-seen"` only marked
    /// seen, else fetched, analysed and recorded with their alerts. Returns the report and
    /// whether the item budget ran out first.
    async fn process_parsed(
        &self,
        feed: &FeedSpec,
        mut parsed: feeds::ParsedFeed,
        first_polled: bool,
    ) -> Result<(PollReport, bool), PollError> {
        // Every listed item stays known while listed, however long (see store::retention).
        let listed: Vec<_> = parsed.items.iter().map(|i| &i.key).collect();
        self.store
            .refresh_listed(
                &feed.name,
                &listed,
                Utc::now(),
                listing_refresh(self.config.daemon.retention),
            )
            .await?;
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
        metrics::counter!(crate::metrics::ITEMS_SEEN, "feed" => feed.name.clone())
            .increment(report.items as u64);
        metrics::counter!(crate::metrics::ITEMS_NEW, "feed" => feed.name.clone())
            .increment(report.new_items as u64);
        let mut unfinished = false;
        if !first_polled && self.config.daemon.first_poll == FirstPoll::MarkSeen {
            self.store
                .mark_seen_on_first_poll(&feed.name, &fresh, Utc::now())
                .await?;
            report.marked_seen = true;
        } else {
            // Pages are fetched and analysed several at once (bounded per article host and
            // overall), and recorded in feed order, oldest first, so alerts keep publication
            // order. A feed full of slow links must not hold the poll for hours: items not
            // started within the budget wait for the poll that resumes soon after.
            //
            // Each job is its own task: a future in a `buffered` stream runs only while the
            // stream is polled, so jobs that had taken a store connection would sit on it while
            // this loop awaited the store for recording — with as many jobs as connections,
            // a deadlock until the pool's timeout. Dropping the stream aborts the jobs.
            let started = std::time::Instant::now();
            let fresh: Vec<FeedItem> = fresh.into_iter().rev().cloned().collect();
            let jobs = fresh.into_iter().map(|item| {
                let pipeline = self.clone();
                let feed = feed.clone();
                tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
                    let outcome = pipeline.prepare_within(&feed, &item, started).await;
                    (item, outcome)
                }))
            });
            let mut prepared = futures_util::stream::iter(jobs)
                .buffered(self.config.daemon.max_concurrent_article_fetches);
            while let Some(joined) = prepared.next().await {
                // A job only ends early by panicking; the item is tried on the next poll.
                let (item, outcome) = joined.map_err(|e| PollError::Job(e.to_string()))?;
                let item = &item;
                match outcome {
                    Some(outcome) => {
                        report
                            .alerts
                            .extend(self.record_prepared(feed, item, outcome?).await?);
                    }
                    None => unfinished = true,
                }
            }
            if unfinished {
                tracing::warn!(feed = %feed.name,
                    "time budget for this poll's articles spent; the rest follows shortly");
            }
        }
        Ok((report, unfinished))
    }

    /// Tries again the article pages of the feed's items that are due for it (see
    /// [`Prepared::Retry`]), recording each item once its page came or its tries ran out.
    pub async fn retry_pending_items(
        &self,
        feed: &FeedSpec,
    ) -> Result<Vec<AlertPayload>, PollError> {
        if self
            .store
            .due_pending_items(&feed.name, Utc::now())
            .await?
            .is_empty()
        {
            return Ok(Vec::new());
        }
        // Marked like a poll: a page that takes the process down counts against the feed.
        if !self
            .store
            .begin_poll(&feed.name, &self.instance, Utc::now(), PollClaim::IfFree)
            .await?
        {
            return Err(PollError::InProgress);
        }
        // Read again under the mark: another instance may have retried them meanwhile.
        let due = match self.store.due_pending_items(&feed.name, Utc::now()).await {
            Ok(due) => due,
            Err(err) => {
                self.store.end_poll(&feed.name, &self.instance).await?;
                return Err(err.into());
            }
        };
        let mut alerts = Vec::new();
        let mut outcome = Ok(());
        for pending in &due {
            tracing::debug!(feed = %feed.name, item = %pending.item.title, attempts = pending.attempts,
                last_error = %pending.last_error, "trying the article page again");
            let recorded = match self
                .prepare_item(feed, &pending.item, pending.attempts)
                .await
            {
                Ok(prepared) => self.record_prepared(feed, &pending.item, prepared).await,
                Err(err) => Err(err),
            };
            match recorded {
                Ok(created) => alerts.extend(created),
                Err(err) => {
                    outcome = Err(err);
                    break;
                }
            }
        }
        self.store.end_poll(&feed.name, &self.instance).await?;
        outcome.map(|()| alerts)
    }

    /// [`Self::prepare_item`] on a first try, unless the poll's item budget (counted from
    /// `started`) is spent: then `None`, and the item waits for the poll that resumes.
    async fn prepare_within(
        &self,
        feed: &FeedSpec,
        item: &FeedItem,
        started: std::time::Instant,
    ) -> Option<Result<Prepared, PollError>> {
        if started.elapsed() > ITEM_BUDGET {
            return None;
        }
        Some(self.prepare_item(feed, item, 0).await)
    }

    /// Fetches, extracts and analyses one new item, `attempts_before` tries at its page having
    /// failed already. Whatever goes wrong with the page or its analysis, the item is matched on
    /// what is left (the feed's own text), with a note saying why — unless its page failed in a
    /// way that may pass and tries are left, when it is to be tried again. Only store errors
    /// fail it.
    async fn prepare_item(
        &self,
        feed: &FeedSpec,
        item: &FeedItem,
        attempts_before: u32,
    ) -> Result<Prepared, PollError> {
        let attempt = attempts_before + 1;
        let mut note: Option<String> = None;
        let page = match (&item.link, feed.full_text) {
            (Some(link), true) => match self.fetch_page(link).await {
                Ok(page) => Some(page),
                Err(failure)
                    if failure.transient && attempt < self.config.daemon.article_attempts =>
                {
                    return Ok(Prepared::Retry {
                        attempts: attempt,
                        error: feed.scrub(&failure.message),
                    });
                }
                Err(failure) => {
                    let why = if failure.transient {
                        format!("{} (try {attempt} of {attempt})", failure.message)
                    } else {
                        failure.message
                    };
                    tracing::info!(feed = %feed.name, link = %feed.scrub(link), why = %feed.scrub(&why),
                        "using the feed's text instead of the article page");
                    note = Some(why);
                    None
                }
            },
            _ => None,
        };
        let extracted = match page {
            Some(page) => match self.extract_page(feed, item, page).await {
                Ok(article) => Some(article),
                Err(why) => {
                    tracing::info!(feed = %feed.name, link = item.link.as_deref().map(|l| feed.scrub(l)),
                        %why, "using the feed's text instead of the article page");
                    note = Some(why);
                    None
                }
            },
            None => None,
        };
        let analysed = match self.analyse(feed, item, extracted.clone()).await {
            Ok(analysed) => Some(analysed),
            Err(err) if extracted.is_some() => {
                let why = format!("analysing the article page: {err}; matched on the feed's text");
                tracing::warn!(feed = %feed.name, item = %item.title, %why);
                note = Some(why);
                match self.analyse(feed, item, None).await {
                    Ok(analysed) => Some(analysed),
                    Err(err) => {
                        note = Some(format!("analysing the feed's text: {err}; not matched"));
                        None
                    }
                }
            }
            Err(err) => {
                note = Some(format!("analysing the feed's text: {err}; not matched"));
                None
            }
        };
        let text = match (&analysed, &extracted) {
            (None, _) => "none",
            (Some(_), Some(_)) if note.is_none() => "page",
            (Some(_), _) => "feed",
        };
        metrics::counter!(crate::metrics::ARTICLES, "text" => text).increment(1);
        Ok(Prepared::Done {
            analysed: analysed.map(Box::new),
            note: note.map(|n| feed.scrub(&n)),
        })
    }

    /// Records what became of one new item: with its alerts, or without (its analysis failed),
    /// or as pending another try at its page. Returns the alerts created.
    async fn record_prepared(
        &self,
        feed: &FeedSpec,
        item: &FeedItem,
        prepared: Prepared,
    ) -> Result<Vec<AlertPayload>, PollError> {
        let now = Utc::now();
        let (analysed, note) = match prepared {
            Prepared::Retry { attempts, error } => {
                let wait = self
                    .config
                    .daemon
                    .article_retry
                    .saturating_mul(5u32.saturating_pow(attempts.saturating_sub(1)));
                let next = now + chrono::Duration::from_std(wait).unwrap_or_default();
                tracing::info!(feed = %feed.name, item = %item.title, attempts, %error,
                    next_try = %timestamp(next), "the article page failed; it is tried again later");
                self.store
                    .defer_item(&feed.name, item, attempts, &error, next)
                    .await?;
                return Ok(Vec::new());
            }
            Prepared::Done { analysed, note } => (analysed, note),
        };
        let Some(Analysed {
            article,
            matches,
            fingerprint,
        }) = analysed.map(|boxed| *boxed)
        else {
            tracing::error!(feed = %feed.name, item = %item.title, note = note.as_deref(),
                "recorded without alerts");
            self.store
                .record_item(&feed.name, item, note.as_deref(), &[], now)
                .await?;
            return Ok(Vec::new());
        };
        let mut payloads = Vec::new();
        let mut alerts = Vec::new();
        for found in &matches {
            let payload = article::alert_payload(Ulid::new().to_string(), &article, found, now);
            alerts.push(NewAlert {
                id: payload.id.clone(),
                topic: payload.topic.clone(),
                payload: serde_json::to_string(&payload).unwrap_or_default(),
                sinks: self.sinks_for(&found.name, now),
                dedupe: self
                    .config
                    .topics
                    .iter()
                    .find(|t| t.name == found.name)
                    .is_none_or(|t| t.dedupe),
            });
            payloads.push(payload);
        }
        let window =
            chrono::Duration::from_std(self.config.daemon.duplicate_window).unwrap_or_default();
        let story = fingerprint.as_ref().map(|fingerprint| Story {
            fingerprint,
            window_start: now - window,
        });
        let created = self
            .store
            .record_story(
                &feed.name,
                item,
                note.as_deref(),
                &alerts,
                story.as_ref(),
                now,
            )
            .await?;
        for payload in payloads.iter().filter(|p| created.contains(&p.id)) {
            metrics::counter!(crate::metrics::ALERTS, "topic" => payload.topic.clone())
                .increment(1);
        }
        if !created.is_empty() {
            tracing::info!(feed = %feed.name, item = %item.title, alerts = created.len(), "new alerts");
            self.outbox_wake.notify_one();
        }
        payloads.retain(|p| created.contains(&p.id));
        Ok(payloads)
    }

    /// Extracts the article from its page on the pool, within the budget, using and updating
    /// what earlier pages of the same host taught about its template. The error says why the
    /// page could not be used.
    async fn extract_page(
        &self,
        feed: &FeedSpec,
        item: &FeedItem,
        page: Page,
    ) -> Result<extract::Article, String> {
        let host = article::site_of(&page.url);
        let memory = match &host {
            Some(host) => self
                .store
                .host_memory(host)
                .await
                .map_err(|e| e.to_string())?
                .and_then(|bytes| HostMemory::from_bytes(&bytes)),
            None => None,
        };
        let hint_title = item.title.clone();
        let hint_summary = item.summary.clone();
        let extracted = self
            .pool
            .run(self.config.daemon.analysis_budget, move || {
                let started = std::time::Instant::now();
                let options = ExtractOptions {
                    hints: Some(Hints {
                        title: Some(&hint_title),
                        summary: hint_summary.as_deref(),
                    }),
                    memory: memory.as_ref(),
                    ..ExtractOptions::default()
                };
                extract::extract_with(
                    &page.bytes,
                    Some(&page.url),
                    page.content_type.as_deref(),
                    &options,
                )
                .map(|(article, blocks)| {
                    let mut memory = memory.clone().unwrap_or_default();
                    memory.learn(&blocks);
                    (article, memory.to_bytes(), started.elapsed())
                })
            })
            .await;
        let (article, learned) = match extracted {
            Ok(Ok((article, learned, took))) => {
                metrics::histogram!(crate::metrics::EXTRACTION_SECONDS).record(took.as_secs_f64());
                (article, learned)
            }
            Ok(Err(err)) => return Err(format!("extracting the article page: {err}")),
            Err(err) => return Err(format!("extracting the article page: {err}")),
        };
        if let Some(host) = &host
            && let Err(err) = self
                .store
                .save_host_memory(host, &learned, Utc::now())
                .await
        {
            tracing::warn!(feed = %feed.name, host, error = %err, "cannot save host memory");
        }
        Ok(article)
    }

    /// Entities and topic matches of the item's article (from `page`, or from the feed's own
    /// text), on the pool within the budget.
    async fn analyse(
        &self,
        feed: &FeedSpec,
        item: &FeedItem,
        page: Option<extract::Article>,
    ) -> Result<Analysed, AnalysisError> {
        let config = self.config.clone();
        let topics = self.topics.clone();
        let recognizer = self.recognizer.clone();
        let feed = feed.clone();
        let item = item.clone();
        let (analysed, took) = self
            .pool
            .run(self.config.daemon.analysis_budget, move || {
                let started = std::time::Instant::now();
                let mut article = Article::from_item(&feed, &item, page);
                article.truncate_text(config.daemon.max_article_chars);
                article.recognize(&recognizer);
                let matches =
                    article::matching_topics(&topics, &config.topics, &config.entities, &article);
                let fingerprint = if matches.is_empty() {
                    None
                } else {
                    Fingerprint::of(&article.text)
                };
                let analysed = Analysed {
                    article,
                    matches,
                    fingerprint,
                };
                (analysed, started.elapsed())
            })
            .await?;
        metrics::histogram!(crate::metrics::ANALYSIS_SECONDS).record(took.as_secs_f64());
        Ok(analysed)
    }

    /// The page behind an item's link, or why it cannot be had: the item is then tried again
    /// or matched on the feed's own text rather than lost.
    async fn fetch_page(&self, link: &str) -> Result<Page, PageFailure> {
        let url = match url::Url::parse(link) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            _ => return Err(PageFailure::lasting("the item link is not an http(s) URL")),
        };
        // Politeness first, so no global slot is held while waiting for a busy host.
        let host = self
            .article_hosts
            .enter(url.host_str().unwrap_or_default())
            .await;
        let Ok(_permit) = self.article_fetches.acquire().await else {
            return Err(PageFailure::lasting("shutting down"));
        };
        host.wait_turn().await;
        match self
            .fetcher
            .get(&url, &Validators::default(), &Trust::Untrusted, Want::Page)
            .await
        {
            Ok(FetchOutcome::Fetched(page)) => Ok(Page {
                bytes: page.body,
                url: page.final_url.to_string(),
                content_type: page.content_type,
            }),
            Ok(FetchOutcome::NotModified { .. }) => {
                Err(PageFailure::lasting("the page answered 304"))
            }
            Err(err @ FetchError::NotAnArticle(_)) => Err(PageFailure::lasting(err.to_string())),
            Err(err) => Err(PageFailure {
                transient: err.is_transient(),
                message: format!("cannot fetch the article page: {err}"),
            }),
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
