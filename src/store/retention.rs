//! What the store keeps, and for how long: items whose article page must be tried again
//! (`pending_items`), the listing refresh that keeps a still-listed item known, and pruning of
//! everything older than `[daemon] retention`.
//!
//! The one thing pruning must never do is make an old item new again: a feed that still lists
//! an item would alert on it a second time. So an item is kept while its feed lists it — each
//! parse of the feed refreshes `last_listed_at` of the items it lists (at most once per refresh
//! period, so a poll costs no writes most of the time) — and is pruned only once it has been
//! left out of the feed's listing for the whole retention period. A 304 confirms the listing
//! without parsing it, so the items of the last parse are those within one refresh period of the
//! feed's `last_parsed_at`; they stay. A feed not polled successfully for the whole period
//! (removed from the config, stopped) loses its items and starts again with a first poll, which
//! marks what it lists as seen rather than alerting on it. Pending deliveries, and so their
//! alerts, are never pruned: an alert is never dropped silently.

use std::time::Duration;

use chrono::{DateTime, Utc};

use sqlx::AssertSqlSafe;

use super::{Store, StoreError, from_millis, millis};
use crate::feeds::{FeedItem, ItemKey};

/// Rows deleted per statement, so pruning never holds the write lock for long.
const PRUNE_BATCH: i64 = 500;

/// A new item waiting for another try at its article page.
#[derive(Debug, Clone)]
pub struct PendingItem {
    pub item: FeedItem,
    /// Tries made so far.
    pub attempts: u32,
    pub last_error: String,
}

/// What one pruning pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub deliveries: u64,
    pub alerts: u64,
    pub items: u64,
    pub host_memory: u64,
}

/// How often an item's `last_listed_at` is refreshed while its feed lists it: a tenth of the
/// retention period, at most a day.
pub fn listing_refresh(retention: Duration) -> Duration {
    (retention / 10).min(Duration::from_secs(24 * 3600))
}

impl Store {
    /// Notes that the feed's current document lists `keys`, refreshing those not refreshed
    /// within `refresh`.
    pub async fn refresh_listed(
        &self,
        feed: &str,
        keys: &[&ItemKey],
        now: DateTime<Utc>,
        refresh: Duration,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let list = serde_json::Value::from(keys.iter().map(|k| k.as_str()).collect::<Vec<_>>());
            let stale_before = now - chrono::Duration::from_std(refresh).unwrap_or_default();
            let keys = self.dialect().json_values(2);
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE items SET last_listed_at = $3
                 WHERE feed = $1 AND item_key IN (SELECT value FROM {keys})
                   AND last_listed_at < $4",
            )))
            .bind(feed)
            .bind(list.to_string())
            .bind(millis(now))
            .bind(millis(stale_before))
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Keeps a new item for another try at its article page at `next_attempt_at`.
    pub async fn defer_item(
        &self,
        feed: &str,
        item: &FeedItem,
        attempts: u32,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            // A FeedItem is strings, dates and lists: serialising it cannot fail.
            let stored = serde_json::to_string(item).unwrap_or_default();
            sqlx::query(
                "INSERT INTO pending_items (feed, item_key, item, attempts, next_attempt_at, last_error)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (feed, item_key) DO UPDATE SET item = excluded.item,
                     attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at,
                     last_error = excluded.last_error",
            )
            .bind(feed)
            .bind(item.key.as_str())
            .bind(stored)
            .bind(i64::from(attempts))
            .bind(millis(next_attempt_at))
            .bind(error)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The feed's items due for another try at their article page, oldest first.
    pub async fn due_pending_items(
        &self,
        feed: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<PendingItem>, StoreError> {
        on_pool!(self, |pool| {
            let rows: Vec<(String, i64, String)> = sqlx::query_as(
                "SELECT item, attempts, last_error FROM pending_items
                 WHERE feed = $1 AND next_attempt_at <= $2 ORDER BY next_attempt_at",
            )
            .bind(feed)
            .bind(millis(now))
            .fetch_all(pool)
            .await?;
            let mut pending = Vec::with_capacity(rows.len());
            for (stored, attempts, last_error) in rows {
                match serde_json::from_str(&stored) {
                    Ok(item) => pending.push(PendingItem {
                        item,
                        attempts: attempts.max(0) as u32,
                        last_error,
                    }),
                    // Written by this program, so only a downgrade could get here; the item is
                    // then lost to matching, which the log says.
                    Err(err) => tracing::error!(feed, error = %err, "unreadable pending item"),
                }
            }
            Ok(pending)
        })
    }

    /// When the feed's next pending item is due, if it has any.
    pub async fn next_pending_item(&self, feed: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        on_pool!(self, |pool| {
            let next: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(next_attempt_at) FROM pending_items WHERE feed = $1",
            )
            .bind(feed)
            .fetch_one(pool)
            .await?;
            Ok(next.map(from_millis))
        })
    }

    /// Deletes what is older than `retention` at `now`, in small batches (see the module
    /// documentation for what is kept and why).
    pub async fn prune(
        &self,
        now: DateTime<Utc>,
        retention: Duration,
    ) -> Result<Pruned, StoreError> {
        on_pool!(self, |pool| {
            let cutoff = millis(now - chrono::Duration::from_std(retention).unwrap_or_default());
            // Items listed in a feed's latest parse were refreshed within one refresh period of
            // it; twice that is the margin that keeps them.
            let margin = 2 * listing_refresh(retention).as_millis() as i64;
            let deliveries = self
                .delete_in_batches(
                    "DELETE FROM deliveries WHERE rowid IN (
                         SELECT d.rowid FROM deliveries d JOIN alerts a ON a.id = d.alert_id
                         WHERE d.status IN ('delivered', 'dead') AND a.created_at < $1 LIMIT $2)",
                    cutoff,
                    None,
                )
                .await?;
            self.delete_in_batches(
                "DELETE FROM alert_duplicates WHERE rowid IN (
                     SELECT c.rowid FROM alert_duplicates c JOIN alerts a ON a.id = c.alert_id
                     WHERE a.created_at < $1
                       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = a.id)
                     LIMIT $2)",
                cutoff,
                None,
            )
            .await?;
            let alerts = self
                .delete_in_batches(
                    "DELETE FROM alerts WHERE id IN (
                         SELECT id FROM alerts a WHERE a.created_at < $1
                           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = a.id)
                         LIMIT $2)",
                    cutoff,
                    None,
                )
                .await?;
            // Feeds not polled successfully for the whole period start over with a first poll.
            sqlx::query(
                "UPDATE feeds SET first_polled_at = NULL
                 WHERE first_polled_at IS NOT NULL AND COALESCE(last_success_at, 0) < $1",
            )
            .bind(cutoff)
            .execute(pool)
            .await?;
            let mut items = self
                .delete_in_batches(
                    "DELETE FROM items WHERE rowid IN (
                         SELECT i.rowid FROM items i JOIN feeds f ON f.name = i.feed
                         WHERE i.last_listed_at < $1
                           AND (f.first_polled_at IS NULL
                                OR i.last_listed_at < COALESCE(f.last_parsed_at, 0) - $3)
                           AND NOT EXISTS (SELECT 1 FROM alerts a
                                           WHERE a.feed = i.feed AND a.item_key = i.item_key)
                         LIMIT $2)",
                    cutoff,
                    Some(margin),
                )
                .await?;
            // Items of feeds that are gone from the store altogether.
            items += self
                .delete_in_batches(
                    "DELETE FROM items WHERE rowid IN (
                         SELECT i.rowid FROM items i WHERE i.last_listed_at < $1
                           AND NOT EXISTS (SELECT 1 FROM feeds f WHERE f.name = i.feed)
                           AND NOT EXISTS (SELECT 1 FROM alerts a
                                           WHERE a.feed = i.feed AND a.item_key = i.item_key)
                         LIMIT $2)",
                    cutoff,
                    None,
                )
                .await?;
            // Fingerprints matter only within the duplicate window, which is shorter.
            for fingerprints in [
                "DELETE FROM fingerprint_bands WHERE rowid IN (
                     SELECT rowid FROM fingerprint_bands WHERE created_at < $1 LIMIT $2)",
                "DELETE FROM fingerprints WHERE rowid IN (
                     SELECT rowid FROM fingerprints WHERE created_at < $1 LIMIT $2)",
            ] {
                self.delete_in_batches(fingerprints, cutoff, None).await?;
            }
            let host_memory = self
                .delete_in_batches(
                    "DELETE FROM host_memory WHERE host IN (
                         SELECT host FROM host_memory WHERE updated_at < $1 LIMIT $2)",
                    cutoff,
                    None,
                )
                .await?;
            // A host's shared start time is history once it has passed.
            self.delete_in_batches(
                "DELETE FROM host_slots WHERE host IN (
                     SELECT host FROM host_slots WHERE next_start_at < $1 LIMIT $2)",
                cutoff,
                None,
            )
            .await?;
            Ok(Pruned {
                deliveries,
                alerts,
                items,
                host_memory,
            })
        })
    }

    /// Runs a `DELETE … LIMIT $2` statement with cutoff `$1` (and `$3`, if given) until it
    /// deletes nothing more, yielding between batches so other writers get the lock. The
    /// statement names the row id `rowid`, SQLite's word; PostgreSQL's is put in its place.
    async fn delete_in_batches(
        &self,
        sql: &'static str,
        cutoff: i64,
        third: Option<i64>,
    ) -> Result<u64, StoreError> {
        let sql = sql.replace("rowid", self.dialect().row_id());
        on_pool!(self, |pool| {
            let mut total = 0;
            loop {
                let mut query = sqlx::query(AssertSqlSafe(sql.as_str()))
                    .bind(cutoff)
                    .bind(PRUNE_BATCH);
                if let Some(third) = third {
                    query = query.bind(third);
                }
                let deleted = query.execute(pool).await?.rows_affected();
                total += deleted;
                if deleted < PRUNE_BATCH as u64 {
                    return Ok(total);
                }
                tokio::task::yield_now().await;
            }
        })
    }
}
