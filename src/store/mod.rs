//! The durable state: feed polling state, seen items, alerts and the delivery outbox, in SQLite
//! (WAL, one file) or in PostgreSQL, where several instances share it (`backend`). Its one
//! promise is exactly-once alerting: a new item and the alerts it causes are written in one
//! transaction, and the unique key (topic, feed, item) makes a second attempt a no-op, so
//! neither a restart, a crash nor a second instance re-creates or loses an alert. Polls are
//! claimed per feed ([`Store::begin_poll`]) and deliveries with a lease and a token
//! (`deliveries`), so a dead process's work comes due again and a late one cannot overwrite a
//! newer result. Times are stored as unix milliseconds. No other module writes SQL.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::feeds::{FeedItem, ItemKey};
use crate::fetch::Validators;

/// Runs `$body` with `$pool` bound to the store's pool. The body is written once and compiled
/// once per backend, so each query is the same text on both: SQL that SQLite and PostgreSQL
/// both accept (`$N` parameters, `ON CONFLICT`, `RETURNING`, `CAST`, `COUNT(*) FILTER`), with
/// the few constructs they spell differently taken from [`Dialect`].
/// `on_pool!(liveness self, …)` runs on the connection kept for heartbeats instead.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite($pool) => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
    (liveness $store:expr, |$pool:ident| $body:expr) => {
        match &$store.liveness {
            $crate::store::Backend::Sqlite($pool) => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}

mod backend;
mod deliveries;
mod duplicates;
mod notify;
mod retention;
#[doc(hidden)]
pub mod scratch;
mod transfer;
mod websub;

use backend::{Backend, Dialect, LockedBegin, impl_for_connections};
use duplicates::StoryStatements;
use notify::AnnounceDeliveries;

pub use deliveries::{
    ClaimShape, DeliveryFilter, DeliveryRow, DeliveryStatus, DueDelivery, OutboxDepth,
};
pub use duplicates::{AlertCopy, Story};
pub use retention::{PendingItem, Pruned, listing_refresh};
pub use transfer::{TransferError, TransferReport};
pub use websub::{HubMode, Subscription, SubscriptionState};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

/// Where an alert goes: a configured webhook, or standard output plus `alerts.jsonl` when the
/// topic has no webhook.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sink {
    Webhook(String),
    Stdout,
}

const STDOUT_SINK: &str = "@stdout";
/// The topic name feed-health notices are recorded under.
pub const HEALTH_TOPIC: &str = "@feed-health";

impl Sink {
    /// The sink as stored and as users name it: a webhook's name, or `@stdout`.
    pub fn stored(&self) -> &str {
        match self {
            Sink::Webhook(name) => name,
            Sink::Stdout => STDOUT_SINK,
        }
    }

    pub fn from_stored(stored: String) -> Self {
        if stored == STDOUT_SINK {
            Sink::Stdout
        } else {
            Sink::Webhook(stored)
        }
    }
}

impl std::fmt::Display for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sink::Webhook(name) => write!(f, "webhook `{name}`"),
            Sink::Stdout => f.write_str("stdout"),
        }
    }
}

/// What the store remembers about a feed between polls.
#[derive(Debug, Clone, Default)]
pub struct FeedState {
    pub validators: Validators,
    pub first_polled: bool,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    /// The URL the feed permanently moved to (301/308), polled instead of the configured one.
    pub moved_to: Option<String>,
    /// Why polling stopped (410 Gone); cleared when the configured URL changes.
    pub stopped_reason: Option<String>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// When the current run of failures began.
    pub failing_since: Option<DateTime<Utc>>,
    /// Whether the health webhook was told about the current run of failures.
    pub health_alerted: bool,
    /// Polls in a row that never finished because their process died.
    pub interrupted_polls: u32,
    /// Why polling stopped after repeated interrupted polls; cleared by `feeds resume` or a
    /// change of the configured URL.
    pub quarantined_reason: Option<String>,
}

/// When a poll may claim its feed (see [`Store::begin_poll`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollClaim {
    /// Only when the feed is due: the daemon's scheduled polls, which every instance on the
    /// store attempts and one wins.
    IfDue,
    /// Whenever no other poll holds it: `once`, and retries of pending article pages.
    IfFree,
}

/// An alert ready to be recorded with its item.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub id: String,
    pub topic: String,
    pub payload: String,
    /// Where it goes, and from when (a digest webhook's deliveries wait for the window's end).
    pub sinks: Vec<(Sink, DateTime<Utc>)>,
    /// Held back when the item is a copy of a story this topic alerted on (see
    /// [`Store::record_story`]); copies with the same canonical link are held back always.
    pub dedupe: bool,
}

/// The durable state, on SQLite or PostgreSQL; cheap to clone (the clones share one pool).
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// One connection of its own for the heartbeat, so that a busy pool (thousands of feed
    /// tasks waiting for a connection) cannot delay it past `DEAD_AFTER` and make the other
    /// instances take this one's running polls for dead.
    liveness: Backend,
}

/// Connections per instance to PostgreSQL (plus the heartbeat's): enough for the feed tasks
/// and the outbox lanes of a busy instance, few enough that five instances stay under
/// PostgreSQL's default `max_connections` of 100.
const POSTGRES_CONNECTIONS: u32 = 16;
/// A wait for a pooled connection longer than this is logged; shorter ones are the normal
/// queueing of a busy instance, and logging each would flood the log.
const SLOW_ACQUIRE: Duration = Duration::from_secs(10);

/// What the store's serialised transactions guard (see [`LockedBegin`]): recording items and
/// alerts, which must see every alert already recorded, and recovering dead instances' polls.
const ALERTS_GUARD: &str = "feedwatch:alerts";
const FEEDS_GUARD: &str = "feedwatch:feeds";

fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl Store {
    /// Opens (creating if needed) the SQLite store at `path` and brings its schema up to date.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Database(e.into()))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_slow_threshold(SLOW_ACQUIRE)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        let liveness = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        Ok(Self {
            backend: Backend::Sqlite(pool),
            liveness: Backend::Sqlite(liveness),
        })
    }

    /// Connects to the PostgreSQL database at `url` and brings its schema up to date. Several
    /// instances may start at once: the migrator holds an advisory lock while it runs.
    pub async fn open_postgres(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?.application_name("feedwatch");
        // One connection first, so an unreachable server or a refused login is reported as
        // such at once, not as a pool timing out 30 s later.
        sqlx::ConnectOptions::connect(&options)
            .await
            .map(sqlx::Connection::close)?
            .await?;
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .acquire_slow_threshold(SLOW_ACQUIRE)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let liveness = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        Ok(Self {
            backend: Backend::Postgres(pool),
            liveness: Backend::Postgres(liveness),
        })
    }

    /// Opens the store the config names.
    pub async fn open(location: &crate::config::StoreLocation) -> Result<Self, StoreError> {
        match location {
            crate::config::StoreLocation::Sqlite(path) => Self::open_sqlite(path).await,
            crate::config::StoreLocation::Postgres(postgres) => {
                Self::open_postgres(postgres.url()).await
            }
        }
    }

    /// Which database this store is on.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Makes sure a configured feed has a state row; a feed whose URL changed keeps its
    /// seen items but forgets validators that belonged to the old URL.
    pub async fn register_feed(&self, name: &str, url: &str) -> Result<(), StoreError> {
        self.register_feeds(&[(name, url)]).await
    }

    /// [`Store::register_feed`] for many feeds in one transaction: a config of ten thousand
    /// feeds starts in a moment instead of waiting for ten thousand commits.
    pub async fn register_feeds(&self, feeds: &[(&str, &str)]) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (name, url) in feeds {
                sqlx::query(
                "INSERT INTO feeds (name, url) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET url = excluded.url,
                     etag = CASE WHEN feeds.url = excluded.url THEN feeds.etag END,
                     last_modified = CASE WHEN feeds.url = excluded.url THEN feeds.last_modified END,
                     moved_to = CASE WHEN feeds.url = excluded.url THEN feeds.moved_to END,
                     first_polled_at = CASE WHEN feeds.url = excluded.url THEN feeds.first_polled_at END,
                     stopped_reason = CASE WHEN feeds.url = excluded.url THEN feeds.stopped_reason END,
                     quarantined_reason =
                         CASE WHEN feeds.url = excluded.url THEN feeds.quarantined_reason END,
                     interrupted_polls =
                         CASE WHEN feeds.url = excluded.url THEN feeds.interrupted_polls ELSE 0 END",
            )
                .bind(name)
                .bind(url)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn feed_state(&self, name: &str) -> Result<FeedState, StoreError> {
        on_pool!(self, |pool| {
            let row: Option<FeedRow> = sqlx::query_as(
                "SELECT etag, last_modified, first_polled_at, next_poll_at, consecutive_failures,
                        moved_to, stopped_reason, last_success_at, last_error, last_error_at,
                        failing_since, health_alerted, interrupted_polls, quarantined_reason
                 FROM feeds WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(FeedState::from).unwrap_or_default())
        })
    }

    /// Which of `keys` this feed has not recorded yet, in the order given.
    /// Items waiting for another try at their article page count as seen: the retry, not the
    /// next poll, deals with them.
    pub async fn unseen(&self, feed: &str, keys: &[&ItemKey]) -> Result<Vec<bool>, StoreError> {
        on_pool!(self, |pool| {
            let list = serde_json::Value::from(keys.iter().map(|k| k.as_str()).collect::<Vec<_>>());
            let listed = self.dialect().json_values(2);
            let seen: std::collections::HashSet<String> =
                sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT item_key FROM items
                     WHERE feed = $1 AND item_key IN (SELECT value FROM {listed})
                     UNION ALL
                     SELECT item_key FROM pending_items
                     WHERE feed = $1 AND item_key IN (SELECT value FROM {listed})",
                )))
                .bind(feed)
                .bind(list.to_string())
                .fetch_all(pool)
                .await?
                .into_iter()
                .collect();
            Ok(keys.iter().map(|k| !seen.contains(k.as_str())).collect())
        })
    }

    /// Records a feed's first poll: its items as seen without alerting, and the poll itself,
    /// in one transaction, so a crash between the two cannot make the next poll a first poll
    /// again (which would mark, not alert, the items that arrived meanwhile).
    pub async fn mark_seen_on_first_poll(
        &self,
        feed: &str,
        items: &[&FeedItem],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for item in items {
                tx.insert_item(feed, item, None, now).await?;
            }
            sqlx::query(
                "UPDATE feeds SET first_polled_at = COALESCE(first_polled_at, $2) WHERE name = $1",
            )
            .bind(feed)
            .bind(millis(now))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Records a new item with its alerts and their deliveries, all or nothing. Returns the
    /// ids of the alerts actually created: none if the item was already recorded (by an
    /// earlier run), so a repeat can never alert twice.
    /// `note` says why the item was matched on less than its full article, if it was.
    pub async fn record_item(
        &self,
        feed: &str,
        item: &FeedItem,
        note: Option<&str>,
        alerts: &[NewAlert],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        self.record_story(feed, item, note, alerts, None, now).await
    }

    /// [`Store::record_item`] for an item whose text has a fingerprint: it is kept for later
    /// items to compare with, and each alert whose topic already alerted on an earlier copy of
    /// the story within the window (and whose topic dedupes) is recorded against that alert
    /// instead (see `duplicates`).
    pub async fn record_story(
        &self,
        feed: &str,
        item: &FeedItem,
        note: Option<&str>,
        alerts: &[NewAlert],
        story: Option<&Story<'_>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        on_pool!(self, |pool| {
            // Serialised with every other recording, so that two instances recording copies
            // of one story (or one link through two feeds) see each other's alert.
            let mut tx = pool.begin_locked(ALERTS_GUARD).await?;
            sqlx::query("DELETE FROM pending_items WHERE feed = $1 AND item_key = $2")
                .bind(feed)
                .bind(item.key.as_str())
                .execute(&mut *tx)
                .await?;
            if !tx.insert_item(feed, item, note, now).await? {
                tx.rollback().await?;
                return Ok(Vec::new());
            }
            let link = item.link.as_deref().map(crate::feeds::canonical_link);
            let copies = match story {
                Some(story) => tx.remember_and_find(feed, item, story, now).await?,
                None => Vec::new(),
            };
            let mut created = Vec::new();
            for alert in alerts {
                // The same article reached through another feed has already alerted this topic.
                let mut earlier = None;
                if let Some(link) = &link {
                    let id: Option<String> =
                        sqlx::query_scalar("SELECT id FROM alerts WHERE topic = $1 AND link = $2")
                            .bind(&alert.topic)
                            .bind(link)
                            .fetch_optional(&mut *tx)
                            .await?;
                    earlier = id.map(|id| (id, 1.0));
                }
                if earlier.is_none()
                    && alert.dedupe
                    && let Some(story) = story
                {
                    earlier = tx.first_alert(&alert.topic, &copies, story).await?;
                }
                if let Some((first, similarity)) = earlier {
                    tx.record_copy(&first, feed, item, similarity, now).await?;
                    continue;
                }
                let inserted = sqlx::query(
                    "INSERT INTO alerts (id, topic, feed, item_key, payload, created_at, link)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (topic, feed, item_key) DO NOTHING",
                )
                .bind(&alert.id)
                .bind(&alert.topic)
                .bind(feed)
                .bind(item.key.as_str())
                .bind(&alert.payload)
                .bind(millis(now))
                .bind(link.as_deref())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    continue;
                }
                for (sink, due) in &alert.sinks {
                    sqlx::query(
                        "INSERT INTO deliveries (alert_id, sink, status, next_attempt_at)
                         VALUES ($1, $2, 'pending', $3)",
                    )
                    .bind(&alert.id)
                    .bind(sink.stored())
                    .bind(millis(*due))
                    .execute(&mut *tx)
                    .await?;
                }
                created.push(alert.id.clone());
            }
            if !created.is_empty() {
                tx.announce_deliveries().await?;
            }
            tx.commit().await?;
            Ok(created)
        })
    }

    /// Every feed's state, by name, for `feedwatch feeds status`.
    pub async fn feed_states(&self) -> Result<Vec<(String, String, FeedState)>, StoreError> {
        on_pool!(self, |pool| {
            let rows: Vec<NamedFeedRow> = sqlx::query_as(
                "SELECT name, url, etag, last_modified, first_polled_at, next_poll_at,
                        consecutive_failures, moved_to, stopped_reason, last_success_at, last_error,
                        last_error_at, failing_since, health_alerted, interrupted_polls,
                        quarantined_reason
                 FROM feeds ORDER BY name",
            )
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|row| (row.name, row.url, FeedState::from(row.state)))
                .collect())
        })
    }

    /// How many feeds are failing (their last poll failed) and how many are not polled at all
    /// (quarantined, or stopped by a 410), for `/metrics`.
    pub async fn feed_health_counts(&self) -> Result<(u64, u64), StoreError> {
        on_pool!(self, |pool| {
            let (failing, idle): (i64, i64) = sqlx::query_as(
                "SELECT
                     COUNT(*) FILTER (WHERE consecutive_failures > 0
                                      AND quarantined_reason IS NULL AND stopped_reason IS NULL),
                     COUNT(*) FILTER (WHERE quarantined_reason IS NOT NULL
                                      OR stopped_reason IS NOT NULL)
                 FROM feeds",
            )
            .fetch_one(pool)
            .await?;
            Ok((failing.max(0) as u64, idle.max(0) as u64))
        })
    }

    /// Whether the store answers, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
            Ok(())
        })
    }

    /// Notes that a feed moved permanently; later polls use the new URL.
    pub async fn record_move(&self, feed: &str, moved_to: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE feeds SET moved_to = $2 WHERE name = $1")
                .bind(feed)
                .bind(moved_to)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Stops polling a feed (410 Gone) until its configured URL changes.
    pub async fn stop_feed(&self, feed: &str, reason: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE feeds SET stopped_reason = $2 WHERE name = $1")
                .bind(feed)
                .bind(reason)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Records whether the health webhook has been told about the current failure run.
    pub async fn set_health_alerted(&self, feed: &str, alerted: bool) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE feeds SET health_alerted = $2 WHERE name = $1")
                .bind(feed)
                .bind(i64::from(alerted))
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Records a feed-health notice as an alert of the pseudo-topic `@feed-health`, so it goes
    /// through the same outbox (retries, dead letters, `feedwatch alerts`) as topic alerts.
    pub async fn record_health_event(
        &self,
        event: &crate::alerts::payload::FeedHealthEvent,
        sinks: &[(Sink, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let item = FeedItem {
            key: ItemKey::from_stored(format!("health:{}", event.id)),
            title: event.summary(),
            link: None,
            summary: None,
            content: None,
            published: None,
            authors: Vec::new(),
        };
        let alert = NewAlert {
            id: event.id.clone(),
            topic: HEALTH_TOPIC.to_string(),
            payload: serde_json::to_string(event).unwrap_or_default(),
            sinks: sinks.to_vec(),
            dedupe: false,
        };
        self.record_item(&event.feed, &item, None, &[alert], now)
            .await?;
        Ok(())
    }

    /// Records a successful poll. `parsed` says whether the feed's document was read (not a
    /// 304): the items it listed were refreshed by [`Store::refresh_listed`].
    pub async fn record_poll_success(
        &self,
        feed: &str,
        validators: Option<&Validators>,
        parsed: bool,
        now: DateTime<Utc>,
        next_poll_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE feeds SET
                     etag = CASE WHEN $2 THEN $3 ELSE etag END,
                     last_modified = CASE WHEN $2 THEN $4 ELSE last_modified END,
                     first_polled_at = COALESCE(first_polled_at, $5),
                     last_parsed_at = CASE WHEN $7 THEN $5 ELSE last_parsed_at END,
                     last_success_at = $5, consecutive_failures = 0, next_poll_at = $6,
                     failing_since = NULL,
                     poll_started_at = NULL, poll_owner = NULL, interrupted_polls = 0
                 WHERE name = $1",
            )
            .bind(feed)
            .bind(validators.is_some())
            .bind(validators.and_then(|v| v.etag.clone()))
            .bind(validators.and_then(|v| v.last_modified.clone()))
            .bind(millis(now))
            .bind(millis(next_poll_at))
            .bind(parsed)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Releases this instance's mark on a feed without recording a poll (after retrying its
    /// pending items between polls).
    pub async fn end_poll(&self, feed: &str, instance: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE feeds SET poll_started_at = NULL, poll_owner = NULL, interrupted_polls = 0
                 WHERE name = $1 AND poll_owner = $2",
            )
            .bind(feed)
            .bind(instance)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn record_poll_failure(
        &self,
        feed: &str,
        error: &str,
        now: DateTime<Utc>,
        next_poll_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE feeds SET last_error = $2, last_error_at = $3,
                     consecutive_failures = consecutive_failures + 1, next_poll_at = $4,
                     failing_since = COALESCE(failing_since, $3),
                     poll_started_at = NULL, poll_owner = NULL, interrupted_polls = 0
                 WHERE name = $1",
            )
            .bind(feed)
            .bind(error)
            .bind(millis(now))
            .bind(millis(next_poll_at))
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Announces a running process (daemon or `once`) that will poll feeds as `instance`.
    pub async fn register_instance(
        &self,
        instance: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO instances (id, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $3)",
            )
            .bind(instance)
            .bind(i64::from(std::process::id()))
            .bind(millis(now))
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Records that `instance` is alive.
    pub async fn heartbeat(&self, instance: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        on_pool!(liveness self, |pool| {
            sqlx::query("UPDATE instances SET heartbeat_at = $2 WHERE id = $1")
                .bind(instance)
                .bind(millis(now))
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// A clean exit: the instance's unfinished polls were cancelled, not killed, so they are
    /// released without counting against their feeds.
    pub async fn retire_instance(&self, instance: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE feeds SET poll_started_at = NULL, poll_owner = NULL WHERE poll_owner = $1",
            )
            .bind(instance)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM instances WHERE id = $1")
                .bind(instance)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Marks a poll of `feed` as started by `instance`, before any of its work: the claim that
    /// makes one instance poll a feed while the others wait. Returns false when another
    /// instance's poll of it is still marked (running, or died and not yet recovered by
    /// [`Store::recover_interrupted_polls`]), when the feed is quarantined, or, with
    /// [`PollClaim::IfDue`], when it is not due at `now` (another instance polled it first).
    pub async fn begin_poll(
        &self,
        feed: &str,
        instance: &str,
        now: DateTime<Utc>,
        claim: PollClaim,
    ) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let updated = sqlx::query(
                "UPDATE feeds SET poll_started_at = $3, poll_owner = $2
                 WHERE name = $1 AND quarantined_reason IS NULL
                   AND (poll_owner IS NULL OR poll_owner = $2)
                   AND (NOT $4 OR next_poll_at <= $3)",
            )
            .bind(feed)
            .bind(instance)
            .bind(millis(now))
            .bind(claim == PollClaim::IfDue)
            .execute(pool)
            .await?
            .rows_affected();
            Ok(updated == 1)
        })
    }

    /// Finds the polls whose process died: marked as started by an instance that has not
    /// beaten since `alive_since` (or is gone). Each such feed's count of interrupted polls
    /// goes up by one and its mark is cleared; the dead instances are forgotten. Returns the
    /// feeds with their new counts, for the caller to back off or quarantine. The caller's own
    /// instance, `me`, is alive whatever its heartbeat says: a store too busy to record the
    /// beat must not make a process count its own polls as deaths.
    pub async fn recover_interrupted_polls(
        &self,
        alive_since: DateTime<Utc>,
        me: &str,
    ) -> Result<Vec<(String, u32)>, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_locked(FEEDS_GUARD).await?;
            let interrupted: Vec<(String, i64)> = sqlx::query_as(
                "UPDATE feeds SET interrupted_polls = interrupted_polls + 1,
                     poll_started_at = NULL, poll_owner = NULL
                 WHERE poll_owner IS NOT NULL AND poll_owner <> $2
                   AND poll_owner NOT IN (SELECT id FROM instances WHERE heartbeat_at >= $1)
                 RETURNING name, interrupted_polls",
            )
            .bind(millis(alive_since))
            .bind(me)
            .fetch_all(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM instances WHERE heartbeat_at < $1 AND id <> $2")
                .bind(millis(alive_since))
                .bind(me)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(interrupted
                .into_iter()
                .map(|(name, count)| (name, count.max(0) as u32))
                .collect())
        })
    }

    /// Moves a feed's next poll, e.g. to back it off after an interrupted poll.
    pub async fn set_next_poll(
        &self,
        feed: &str,
        next_poll_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE feeds SET next_poll_at = $2 WHERE name = $1")
                .bind(feed)
                .bind(millis(next_poll_at))
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Stops polling a feed whose polls keep taking the process down with them.
    pub async fn quarantine_feed(&self, feed: &str, reason: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE feeds SET quarantined_reason = $2 WHERE name = $1")
                .bind(feed)
                .bind(reason)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Lifts a quarantine or a 410 stop and makes the feed due now (`feeds resume`). Returns
    /// whether the feed exists.
    pub async fn resume_feed(&self, feed: &str) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let updated = sqlx::query(
                "UPDATE feeds SET quarantined_reason = NULL, stopped_reason = NULL,
                     interrupted_polls = 0, next_poll_at = 0
                 WHERE name = $1",
            )
            .bind(feed)
            .execute(pool)
            .await?
            .rows_affected();
            Ok(updated == 1)
        })
    }

    /// The learned template blocks of a host's pages, serialised by `extract::HostMemory`.
    pub async fn host_memory(&self, host: &str) -> Result<Option<Vec<u8>>, StoreError> {
        on_pool!(self, |pool| {
            Ok(
                sqlx::query_scalar("SELECT memory FROM host_memory WHERE host = $1")
                    .bind(host)
                    .fetch_optional(pool)
                    .await?,
            )
        })
    }

    pub async fn save_host_memory(
        &self,
        host: &str,
        memory: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO host_memory (host, memory, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (host) DO UPDATE SET memory = excluded.memory, updated_at = excluded.updated_at",
            )
            .bind(host)
            .bind(memory)
            .bind(millis(now))
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Reserves a start of a request to `host` for this instance: not before `now`, and
    /// `spacing` after the start reserved before it by any instance on the store. Returns it.
    pub async fn reserve_host_start(
        &self,
        host: &str,
        now: DateTime<Utc>,
        spacing: Duration,
    ) -> Result<DateTime<Utc>, StoreError> {
        let spacing = spacing.as_millis().min(i64::MAX as u128) as i64;
        on_pool!(self, |pool| {
            let start: i64 = sqlx::query_scalar(
                "INSERT INTO host_slots (host, next_start_at) VALUES ($1, $2 + $3)
                 ON CONFLICT (host) DO UPDATE SET next_start_at =
                     CASE WHEN host_slots.next_start_at > $2 THEN host_slots.next_start_at
                          ELSE $2 END + $3
                 RETURNING next_start_at - $3",
            )
            .bind(host)
            .bind(millis(now))
            .bind(spacing)
            .fetch_one(pool)
            .await?;
            Ok(from_millis(start))
        })
    }

    /// Whether other instances may share this store (PostgreSQL), so that what one process
    /// would keep in memory (per-host spacing) has to be agreed on in the store.
    pub fn shared_by_instances(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Alerts that exist, with their payloads (for `alerts show` and audits).
    pub async fn alert_payload(&self, alert_id: &str) -> Result<Option<String>, StoreError> {
        on_pool!(self, |pool| {
            Ok(
                sqlx::query_scalar("SELECT payload FROM alerts WHERE id = $1")
                    .bind(alert_id)
                    .fetch_optional(pool)
                    .await?,
            )
        })
    }

    /// Every alert id, oldest first.
    pub async fn alert_ids(&self) -> Result<Vec<String>, StoreError> {
        on_pool!(self, |pool| {
            Ok(
                sqlx::query_scalar("SELECT id FROM alerts ORDER BY created_at, id")
                    .fetch_all(pool)
                    .await?,
            )
        })
    }

    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await);
        on_pool!(liveness self, |pool| pool.close().await);
    }
}

/// A `feeds` row, as [`Store::feed_state`] selects it.
#[derive(sqlx::FromRow)]
struct FeedRow {
    etag: Option<String>,
    last_modified: Option<String>,
    first_polled_at: Option<i64>,
    next_poll_at: i64,
    consecutive_failures: i64,
    moved_to: Option<String>,
    stopped_reason: Option<String>,
    last_success_at: Option<i64>,
    last_error: Option<String>,
    last_error_at: Option<i64>,
    failing_since: Option<i64>,
    health_alerted: i64,
    interrupted_polls: i64,
    quarantined_reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct NamedFeedRow {
    name: String,
    url: String,
    #[sqlx(flatten)]
    state: FeedRow,
}

impl From<FeedRow> for FeedState {
    fn from(row: FeedRow) -> Self {
        let time = |ms: Option<i64>| ms.filter(|ms| *ms > 0).map(from_millis);
        FeedState {
            validators: Validators {
                etag: row.etag,
                last_modified: row.last_modified,
            },
            first_polled: row.first_polled_at.is_some(),
            next_poll_at: time(Some(row.next_poll_at)),
            consecutive_failures: row.consecutive_failures.max(0) as u32,
            moved_to: row.moved_to,
            stopped_reason: row.stopped_reason,
            last_success_at: time(row.last_success_at),
            last_error: row.last_error,
            last_error_at: time(row.last_error_at),
            failing_since: time(row.failing_since),
            health_alerted: row.health_alerted != 0,
            interrupted_polls: row.interrupted_polls.max(0) as u32,
            quarantined_reason: row.quarantined_reason,
        }
    }
}

/// Statements of the item transactions, for either backend's connection.
trait ItemStatements {
    /// Inserts an item unless the feed already has it; returns whether it was new.
    async fn insert_item(
        &mut self,
        feed: &str,
        item: &FeedItem,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

impl_for_connections!(ItemStatements {
    async fn insert_item(
        &mut self,
        feed: &str,
        item: &FeedItem,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO items (feed, item_key, link, title, first_seen_at, note, last_listed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $5)
             ON CONFLICT (feed, item_key) DO NOTHING",
        )
        .bind(feed)
        .bind(item.key.as_str())
        .bind(item.link.as_deref())
        .bind(&item.title)
        .bind(millis(now))
        .bind(note)
        .execute(&mut *self)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }
});

#[cfg(test)]
mod tests;
