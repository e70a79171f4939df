//! Duplicate stories: the fingerprints of recorded items (see `crate::dedupe`), indexed by
//! band so that a new item finds the earlier copies of its story in one lookup, and the copies
//! recorded against the first alert of a topic instead of alerting again. Everything here runs
//! inside the transaction that records the item, so two instances recording copies of one story
//! at once still alert once (the store serialises the two transactions).

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::backend::{ConnectionDialect, impl_for_connections};
use super::{StoreError, millis};
use crate::alerts::payload::{AlertPayload, limits};
use crate::dedupe::Fingerprint;
use crate::feeds::FeedItem;

/// Candidates compared per item at most: each shares a band with it, and a real story has
/// a handful of copies. A flood of near-identical items cannot make one recording slow.
const MAX_CANDIDATES: i64 = 200;

/// What a new item brings to the duplicate check.
pub struct Story<'a> {
    pub fingerprint: &'a Fingerprint,
    /// Earlier copies count only if recorded at or after this.
    pub window_start: DateTime<Utc>,
}

/// A copy of an alerted story, for `feedwatch alerts show`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertCopy {
    pub feed: String,
    pub url: Option<String>,
    pub title: String,
    /// Estimated share of the text in common; 1 for the same canonical link.
    pub similarity: f64,
    pub seen_at: DateTime<Utc>,
}

/// An earlier item whose text is a near-duplicate of the new one.
pub(super) struct Copy {
    feed: String,
    item_key: String,
    similarity: f64,
}

/// The statements of duplicate stories inside the transaction that records an item, for either
/// backend's connection.
pub(super) trait StoryStatements {
    /// Keeps the item's fingerprint and returns the earlier items within the window whose text is
    /// a near-duplicate of it, most similar first.
    async fn remember_and_find(
        &mut self,
        feed: &str,
        item: &FeedItem,
        story: &Story<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Copy>, StoreError>;

    /// The first alert of `topic` on any of `copies` within the window, with that copy's
    /// similarity.
    async fn first_alert(
        &mut self,
        topic: &str,
        copies: &[Copy],
        story: &Story<'_>,
    ) -> Result<Option<(String, f64)>, StoreError>;

    /// Records `item` as a copy of the story of alert `first`. While no delivery of that alert has
    /// been tried, its payload lists the copy's URL in `duplicates`; once one has, the payload
    /// stays as sent, so every retry sends the same bytes.
    async fn record_copy(
        &mut self,
        first: &str,
        feed: &str,
        item: &FeedItem,
        similarity: f64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

impl_for_connections!(StoryStatements {
    async fn remember_and_find(
        &mut self,
        feed: &str,
        item: &FeedItem,
        story: &Story<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Copy>, StoreError> {
        let keys = story.fingerprint.band_keys();
        let key_list = serde_json::Value::from(keys.to_vec()).to_string();
        let bands = Self::DIALECT.json_values(1);
        let candidates: Vec<(String, String, Vec<u8>)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT f.feed, f.item_key, f.signature FROM fingerprints f
             WHERE (f.feed, f.item_key) IN (
                 SELECT DISTINCT b.feed, b.item_key FROM fingerprint_bands b
                 WHERE b.band_key IN (SELECT CAST(value AS BIGINT) FROM {bands})
                   AND b.created_at >= $2
                 LIMIT $3)",
        )))
        .bind(&key_list)
        .bind(millis(story.window_start))
        .bind(MAX_CANDIDATES)
        .fetch_all(&mut *self)
        .await?;
        let mut copies: Vec<Copy> = candidates
            .into_iter()
            .filter(|(f, k, _)| !(f == feed && k == item.key.as_str()))
            .filter_map(|(feed, item_key, signature)| {
                let earlier = Fingerprint::from_bytes(&signature)?;
                story.fingerprint.is_duplicate_of(&earlier).then(|| Copy {
                    similarity: story.fingerprint.similarity(&earlier),
                    feed,
                    item_key,
                })
            })
            .collect();
        copies.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));

        sqlx::query(
            "INSERT INTO fingerprints (feed, item_key, signature, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (feed, item_key) DO NOTHING",
        )
        .bind(feed)
        .bind(item.key.as_str())
        .bind(story.fingerprint.to_bytes())
        .bind(millis(now))
        .execute(&mut *self)
        .await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO fingerprint_bands (band_key, feed, item_key, created_at)
             SELECT CAST(value AS BIGINT), $2, $3, $4 FROM {bands}",
        )))
        .bind(&key_list)
        .bind(feed)
        .bind(item.key.as_str())
        .bind(millis(now))
        .execute(&mut *self)
        .await?;
        Ok(copies)
    }

    async fn first_alert(
        &mut self,
        topic: &str,
        copies: &[Copy],
        story: &Story<'_>,
    ) -> Result<Option<(String, f64)>, StoreError> {
        let mut first: Option<(i64, String, f64)> = None;
        for copy in copies {
            let alert: Option<(String, i64)> = sqlx::query_as(
                "SELECT id, created_at FROM alerts
                 WHERE topic = $1 AND feed = $2 AND item_key = $3 AND created_at >= $4",
            )
            .bind(topic)
            .bind(&copy.feed)
            .bind(&copy.item_key)
            .bind(millis(story.window_start))
            .fetch_optional(&mut *self)
            .await?;
            if let Some((id, created_at)) = alert
                && first.as_ref().is_none_or(|(at, _, _)| created_at < *at)
            {
                first = Some((created_at, id, copy.similarity));
            }
        }
        Ok(first.map(|(_, id, similarity)| (id, similarity)))
    }

    async fn record_copy(
        &mut self,
        first: &str,
        feed: &str,
        item: &FeedItem,
        similarity: f64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO alert_duplicates (alert_id, feed, item_key, url, title, similarity, seen_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (alert_id, feed, item_key) DO NOTHING",
        )
        .bind(first)
        .bind(feed)
        .bind(item.key.as_str())
        .bind(item.link.as_deref())
        .bind(&item.title)
        .bind(similarity)
        .bind(millis(now))
        .execute(&mut *self)
        .await?;
        let Some(url) = &item.link else {
            return Ok(());
        };
        let unsent: Option<String> = sqlx::query_scalar(
            "SELECT payload FROM alerts a WHERE id = $1
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = a.id
                               AND (d.attempts > 0 OR d.lease_until IS NOT NULL
                                    OR d.status <> 'pending'))",
        )
        .bind(first)
        .fetch_optional(&mut *self)
        .await?;
        let Some(mut payload) = unsent.and_then(|p| serde_json::from_str::<AlertPayload>(&p).ok())
        else {
            return Ok(());
        };
        if payload.article.url.as_ref() == Some(url) || payload.duplicates.contains(url) {
            return Ok(());
        }
        if payload.duplicates.len() < limits::DUPLICATES && url.chars().count() <= limits::URL_CHARS {
            payload.duplicates.push(url.clone());
        } else {
            payload.omitted.duplicates += 1;
        }
        sqlx::query("UPDATE alerts SET payload = $2 WHERE id = $1")
            .bind(first)
            .bind(serde_json::to_string(&payload).unwrap_or_default())
            .execute(&mut *self)
            .await?;
        Ok(())
    }
});

impl super::Store {
    /// The copies recorded against an alert, oldest first.
    pub async fn alert_copies(&self, alert_id: &str) -> Result<Vec<AlertCopy>, StoreError> {
        on_pool!(self, |pool| {
            let rows: Vec<(String, Option<String>, String, f64, i64)> = sqlx::query_as(
                "SELECT feed, url, title, similarity, seen_at FROM alert_duplicates
                 WHERE alert_id = $1 ORDER BY seen_at, feed",
            )
            .bind(alert_id)
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(feed, url, title, similarity, seen_at)| AlertCopy {
                    feed,
                    url,
                    title,
                    similarity,
                    seen_at: super::from_millis(seen_at),
                })
                .collect())
        })
    }
}
