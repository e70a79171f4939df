//! The outbox half of the store: claiming due deliveries for one sink, recording what became
//! of them, the webhook on/off state, and the queries behind `feedwatch alerts`. Its promise
//! is that a result is recorded only by the claim it belongs to: every claim stores a fresh
//! token on its rows, and every completion (delivered, failed, released) matches
//! `claim_token = token AND status = 'pending'`. A sender whose lease ran out, or a second
//! sender on the same store, therefore changes nothing, and a delivered row never goes back to
//! pending (only an operator's `alerts replay` queues it again). It never decides when or how
//! to send; that is `alerts::outbox`'s business.
//!
//! Statuses, from the stored columns: *delivered* is `status = 'delivered'`; *dead* is
//! `status = 'dead'` (failed for longer than the webhook's `max_age`); *failed* is
//! `status = 'pending' AND attempts > 0 AND receiver_hold = 0`: its last attempt failed and it
//! waits for feedwatch's own retry schedule (or for its disabled webhook); every other pending
//! row is *pending*: never attempted yet (due now, or waiting for its digest window), or
//! waiting as long as the receiver's Retry-After asked.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Row};

use super::LockedBegin;
use super::notify::AnnounceDeliveries;

use super::{Sink, Store, StoreError, from_millis, millis};

/// Where a delivery stands, as `feedwatch alerts list` shows it (defined on the stored columns
/// in this module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not attempted yet, or waiting as long as the receiver's Retry-After asked.
    Pending,
    /// The last attempt failed; retried on feedwatch's schedule.
    Failed,
    /// Failed for longer than the webhook's `max_age`; kept, no longer retried.
    Dead,
    Delivered,
}

impl DeliveryStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Dead => "dead",
            DeliveryStatus::Delivered => "delivered",
        }
    }
}

/// The SQL condition that makes a row *failed*, shared by `alerts list` and `alerts retry`
/// so that what one shows as failed is exactly what the other resets.
/// The due, unleased rows of sink `$1` at time `$2` (of topic `$3` when not NULL), as a FROM
/// clause; a disabled webhook has none.
macro_rules! due {
    () => {
        "FROM deliveries d JOIN alerts a ON a.id = d.alert_id
         WHERE d.sink = $1 AND d.status = 'pending' AND d.next_attempt_at <= $2
           AND (d.lease_until IS NULL OR d.lease_until <= $2)
           AND ($3 IS NULL OR a.topic = $3)
           AND d.sink NOT IN (SELECT name FROM webhook_state WHERE disabled_at IS NOT NULL)"
    };
}

macro_rules! failed {
    () => {
        "(d.status = 'pending' AND d.attempts > 0 AND d.receiver_hold = 0)"
    };
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub sink: Option<Sink>,
    pub topic: Option<String>,
    pub alert_id: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub alert_id: String,
    pub topic: String,
    pub sink: Sink,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub payload: String,
}

/// A delivery claimed for sending. Its result can be recorded only with its `claim_token`,
/// and only while no later claim has taken the row over.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub alert_id: String,
    pub topic: String,
    pub sink: Sink,
    pub attempts: u32,
    pub payload: String,
    pub created_at: DateTime<Utc>,
    pub claim_token: String,
}

/// How the claimed rows of a sink form messages; each message gets its own claim token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimShape {
    /// One row per message: one request per alert.
    Single,
    /// A digest: the due rows of one topic (at most this many), oldest first.
    ByTopic(u32),
    /// At most this many due rows in one message, whatever their topics (the local sink
    /// writes them with one sync).
    Batch(u32),
}

/// A fresh claim token: 128 random bits, so two claims never share one.
fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl Store {
    /// Claims up to `messages` messages of `sink`'s due deliveries, oldest alert first, for
    /// `lease`: until it runs out no other sender takes them, and if this one dies they come
    /// due again by themselves. Each message's rows carry a fresh claim token. Rows of a
    /// disabled webhook are never claimed.
    pub async fn claim_deliveries(
        &self,
        sink: &Sink,
        now: DateTime<Utc>,
        messages: usize,
        shape: ClaimShape,
        lease: Duration,
    ) -> Result<Vec<Vec<DueDelivery>>, StoreError> {
        on_pool!(self, |pool| {
            let now_ms = millis(now);
            let lease_until = now_ms.saturating_add(lease.as_millis().min(i64::MAX as u128) as i64);
            // Claims of one sink are serialised, so two claimers never pick the same rows.
            let guard = format!("feedwatch:claims:{}", sink.stored());
            let mut tx = pool.begin_locked(&guard).await?;
            let mut claimed = Vec::new();
            while claimed.len() < messages {
                let (topic, limit) = match shape {
                    ClaimShape::Single => (None, 1),
                    ClaimShape::Batch(rows) => (None, rows.max(1)),
                    ClaimShape::ByTopic(rows) => {
                        // The topic of the oldest due row; rows claimed earlier in this
                        // transaction are leased already and so not seen again.
                        let oldest: Option<String> = sqlx::query_scalar(concat!(
                            "SELECT a.topic ",
                            due!(),
                            " ORDER BY a.created_at, d.alert_id LIMIT 1"
                        ))
                        .bind(sink.stored())
                        .bind(now_ms)
                        .bind(None::<String>)
                        .fetch_optional(&mut *tx)
                        .await?;
                        match oldest {
                            Some(topic) => (Some(topic), rows.max(1)),
                            None => break,
                        }
                    }
                };
                let rows = sqlx::query(concat!(
                    "SELECT d.alert_id, a.topic, d.attempts, a.payload, a.created_at ",
                    due!(),
                    " ORDER BY a.created_at, d.alert_id LIMIT $4"
                ))
                .bind(sink.stored())
                .bind(now_ms)
                .bind(topic.as_deref())
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                if rows.is_empty() {
                    break;
                }
                let token = new_token();
                let mut message = Vec::with_capacity(rows.len());
                for row in rows {
                    let delivery = DueDelivery {
                        alert_id: row.try_get("alert_id")?,
                        topic: row.try_get("topic")?,
                        sink: sink.clone(),
                        attempts: row.try_get::<i64, _>("attempts")?.max(0) as u32,
                        payload: row.try_get("payload")?,
                        created_at: from_millis(row.try_get("created_at")?),
                        claim_token: token.clone(),
                    };
                    sqlx::query(
                        "UPDATE deliveries SET lease_until = $3, claim_token = $4
                         WHERE alert_id = $1 AND sink = $2",
                    )
                    .bind(&delivery.alert_id)
                    .bind(sink.stored())
                    .bind(lease_until)
                    .bind(&token)
                    .execute(&mut *tx)
                    .await?;
                    message.push(delivery);
                }
                claimed.push(message);
            }
            tx.commit().await?;
            Ok(claimed)
        })
    }

    /// Records a message's rows as delivered, all or none. Only rows still held by their claim
    /// change; returns how many did (fewer than given means a later claim took some over).
    pub async fn mark_delivered(
        &self,
        rows: &[DueDelivery],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut changed = 0;
            for row in rows {
                changed += sqlx::query(
                    "UPDATE deliveries SET status = 'delivered', delivered_at = $4,
                         attempts = attempts + 1, lease_until = NULL, claim_token = NULL,
                         last_error = NULL, receiver_hold = 0
                     WHERE alert_id = $1 AND sink = $2 AND claim_token = $3 AND status = 'pending'",
                )
                .bind(&row.alert_id)
                .bind(row.sink.stored())
                .bind(&row.claim_token)
                .bind(millis(now))
                .execute(&mut *tx)
                .await?
                .rows_affected() as usize;
            }
            tx.commit().await?;
            Ok(changed)
        })
    }

    /// Records a failed attempt of a message's rows, all or none: each row is retried at its
    /// time, or becomes a dead letter where that is `None`. `receiver_hold` says the time is
    /// the receiver's Retry-After rather than feedwatch's schedule. Only rows still held by
    /// their claim change; returns how many did.
    pub async fn mark_failed(
        &self,
        failures: &[(&DueDelivery, Option<DateTime<Utc>>)],
        error: &str,
        receiver_hold: bool,
    ) -> Result<usize, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut changed = 0;
            for (row, retry_at) in failures {
                changed += sqlx::query(
                    "UPDATE deliveries SET attempts = attempts + 1, lease_until = NULL,
                         claim_token = NULL, last_error = $4, receiver_hold = $6,
                         status = CASE WHEN $5 IS NULL THEN 'dead' ELSE 'pending' END,
                         next_attempt_at = COALESCE($5, next_attempt_at)
                     WHERE alert_id = $1 AND sink = $2 AND claim_token = $3 AND status = 'pending'",
                )
                .bind(&row.alert_id)
                .bind(row.sink.stored())
                .bind(&row.claim_token)
                .bind(error)
                .bind(retry_at.map(millis))
                .bind(i64::from(receiver_hold && retry_at.is_some()))
                .execute(&mut *tx)
                .await?
                .rows_affected() as usize;
            }
            tx.commit().await?;
            Ok(changed)
        })
    }

    /// Gives claimed rows back unsent, without counting an attempt (a shutdown cut their
    /// request short): they are due again at once for the next sender. Only rows still held
    /// by their claim change; returns how many did.
    pub async fn release(&self, rows: &[DueDelivery]) -> Result<usize, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut changed = 0;
            for row in rows {
                changed += sqlx::query(
                    "UPDATE deliveries SET lease_until = NULL, claim_token = NULL
                     WHERE alert_id = $1 AND sink = $2 AND claim_token = $3 AND status = 'pending'",
                )
                .bind(&row.alert_id)
                .bind(row.sink.stored())
                .bind(&row.claim_token)
                .execute(&mut *tx)
                .await?
                .rows_affected() as usize;
            }
            tx.commit().await?;
            Ok(changed)
        })
    }

    /// When `sink`'s next pending delivery can be claimed (due and not leased), so its sender
    /// can sleep until then; `None` when it has none, or its webhook is disabled.
    pub async fn next_delivery_due(
        &self,
        sink: &Sink,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        on_pool!(self, |pool| {
            let next: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(CASE WHEN lease_until > next_attempt_at THEN lease_until
                                 ELSE next_attempt_at END)
                 FROM deliveries WHERE sink = $1 AND status = 'pending'
                   AND $1 NOT IN (SELECT name FROM webhook_state WHERE disabled_at IS NOT NULL)",
            )
            .bind(sink.stored())
            .fetch_one(pool)
            .await?;
            Ok(next.map(from_millis))
        })
    }

    /// Sinks with undelivered (pending or failed) rows, with their counts, so the sender can
    /// name those no configured webhook will ever drain.
    pub async fn sinks_with_pending(&self) -> Result<Vec<(Sink, u64)>, StoreError> {
        on_pool!(self, |pool| {
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT sink, COUNT(*) FROM deliveries WHERE status = 'pending'
                 GROUP BY sink ORDER BY sink",
            )
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(sink, count)| (Sink::from_stored(sink), count.max(0) as u64))
                .collect())
        })
    }

    /// Records the configured URL of a webhook; a webhook disabled under another URL is
    /// enabled again, since the operator has pointed it somewhere new.
    pub async fn register_webhook(
        &self,
        name: &str,
        url_fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO webhook_state (name, url_fingerprint) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET url_fingerprint = excluded.url_fingerprint,
                     disabled_at = CASE WHEN webhook_state.url_fingerprint = excluded.url_fingerprint
                                        THEN webhook_state.disabled_at END,
                     disabled_reason = CASE WHEN webhook_state.url_fingerprint = excluded.url_fingerprint
                                            THEN webhook_state.disabled_reason END,
                     enabled_at = CASE WHEN webhook_state.url_fingerprint = excluded.url_fingerprint
                                       THEN webhook_state.enabled_at ELSE $3 END",
            )
            .bind(name)
            .bind(url_fingerprint)
            .bind(millis(now))
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Stops deliveries to a webhook (its pending rows wait) until it is enabled again,
    /// unless it was enabled after `sent_at`, when the request that answered 410 left: that
    /// answer predates the operator's decision. Returns whether the webhook is now disabled
    /// by this call.
    pub async fn disable_webhook(
        &self,
        name: &str,
        reason: &str,
        now: DateTime<Utc>,
        sent_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let changed = sqlx::query(
                "UPDATE webhook_state SET disabled_at = $2, disabled_reason = $3
                 WHERE name = $1 AND (enabled_at IS NULL OR enabled_at <= $4)",
            )
            .bind(name)
            .bind(millis(now))
            .bind(reason)
            .bind(millis(sent_at))
            .execute(pool)
            .await?
            .rows_affected();
            Ok(changed > 0)
        })
    }

    /// Enables a disabled webhook; returns whether it was disabled.
    pub async fn enable_webhook(&self, name: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let changed = sqlx::query(
                "UPDATE webhook_state SET disabled_at = NULL, disabled_reason = NULL, enabled_at = $2
                 WHERE name = $1 AND disabled_at IS NOT NULL",
            )
            .bind(name)
            .bind(millis(now))
            .execute(pool)
            .await?
            .rows_affected();
            if changed > 0 {
                pool.acquire().await?.announce_deliveries().await?;
            }
            Ok(changed > 0)
        })
    }

    /// Disabled webhooks with the reason.
    pub async fn disabled_webhooks(&self) -> Result<Vec<(String, String)>, StoreError> {
        on_pool!(self, |pool| {
            let rows = sqlx::query(
                "SELECT name, COALESCE(disabled_reason, '') AS reason FROM webhook_state
                 WHERE disabled_at IS NOT NULL ORDER BY name",
            )
            .fetch_all(pool)
            .await?;
            rows.into_iter()
                .map(|row| Ok((row.try_get("name")?, row.try_get("reason")?)))
                .collect()
        })
    }

    /// Deliveries matching `filter`, newest alert first.
    pub async fn deliveries(
        &self,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        on_pool!(self, |pool| {
            let (status, failed) = match filter.status {
                None => (None, None),
                Some(DeliveryStatus::Pending) => (Some("pending"), Some(false)),
                Some(DeliveryStatus::Failed) => (Some("pending"), Some(true)),
                Some(DeliveryStatus::Dead) => (Some("dead"), None),
                Some(DeliveryStatus::Delivered) => (Some("delivered"), None),
            };
            let rows = sqlx::query(concat!(
                "SELECT d.alert_id, a.topic, d.sink, d.status, d.attempts, d.next_attempt_at,
                        d.last_error, d.delivered_at, a.created_at, a.payload, ",
                failed!(),
                " AS failed
                 FROM deliveries d JOIN alerts a ON a.id = d.alert_id
                 WHERE ($1 IS NULL OR d.status = $1)
                   AND ($2 IS NULL OR ",
                failed!(),
                " = $2)
                   AND ($3 IS NULL OR d.sink = $3)
                   AND ($4 IS NULL OR a.topic = $4)
                   AND ($5 IS NULL OR d.alert_id = $5)
                 ORDER BY a.created_at DESC, d.alert_id, d.sink LIMIT $6"
            ))
            .bind(status)
            .bind(failed)
            .bind(filter.sink.as_ref().map(Sink::stored))
            .bind(filter.topic.as_deref())
            .bind(filter.alert_id.as_deref())
            .bind(i64::from(filter.limit))
            .fetch_all(pool)
            .await?;
            rows.into_iter()
                .map(|row| {
                    let status = match row.try_get::<String, _>("status")?.as_str() {
                        "delivered" => DeliveryStatus::Delivered,
                        "dead" => DeliveryStatus::Dead,
                        _ if row.try_get::<bool, _>("failed")? => DeliveryStatus::Failed,
                        _ => DeliveryStatus::Pending,
                    };
                    Ok(DeliveryRow {
                        alert_id: row.try_get("alert_id")?,
                        topic: row.try_get("topic")?,
                        sink: Sink::from_stored(row.try_get("sink")?),
                        status,
                        attempts: row.try_get::<i64, _>("attempts")?.max(0) as u32,
                        next_attempt_at: from_millis(row.try_get("next_attempt_at")?),
                        last_error: row.try_get("last_error")?,
                        delivered_at: row
                            .try_get::<Option<i64>, _>("delivered_at")?
                            .map(from_millis),
                        created_at: from_millis(row.try_get("created_at")?),
                        payload: row.try_get("payload")?,
                    })
                })
                .collect()
        })
    }

    /// Makes deliveries due now; only `sink`'s when given. Without `alert_ids`, only failed
    /// and dead rows (see the module documentation): a row waiting for its digest window or
    /// for the receiver's Retry-After keeps waiting. With `alert_ids`, every undelivered row of
    /// those alerts, since the operator named them. A row whose claim is live is being sent
    /// and records its own result, so it is left alone. Returns how many rows changed.
    pub async fn retry_now(
        &self,
        alert_ids: &[String],
        sink: Option<&Sink>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        on_pool!(self, |pool| {
            let ids = serde_json::Value::from(alert_ids.to_vec()).to_string();
            let ids_list = self.dialect().json_values(3);
            let sql = format!(
                concat!(
                    "UPDATE deliveries AS d SET status = 'pending', next_attempt_at = $1,
                     receiver_hold = 0
                 WHERE (d.lease_until IS NULL OR d.lease_until <= $1)
                   AND CASE WHEN $2 = 0 THEN d.status = 'dead' OR ",
                    failed!(),
                    " ELSE d.status IN ('pending', 'dead')
                          AND d.alert_id IN (SELECT value FROM {ids_list}) END
                   AND ($4 IS NULL OR d.sink = $4)"
                ),
                ids_list = ids_list
            );
            let changed = sqlx::query(AssertSqlSafe(sql))
                .bind(millis(now))
                .bind(alert_ids.len() as i64)
                .bind(ids)
                .bind(sink.map(Sink::stored))
                .execute(pool)
                .await?
                .rows_affected();
            if changed > 0 {
                pool.acquire().await?.announce_deliveries().await?;
            }
            Ok(changed)
        })
    }

    /// Queues every alert created since `since` (of `topic`, when given) for `sink`, again
    /// if it was delivered there before: to fill a new endpoint or replay a lost day.
    pub async fn replay(
        &self,
        sink: &Sink,
        since: DateTime<Utc>,
        topic: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        on_pool!(self, |pool| {
            let changed = sqlx::query(
                "INSERT INTO deliveries (alert_id, sink, status, next_attempt_at)
                 SELECT id, $1, 'pending', $2 FROM alerts
                 WHERE created_at >= $3
                   AND (($4 IS NULL AND topic <> '@feed-health') OR topic = $4)
                 ON CONFLICT (alert_id, sink) DO UPDATE SET status = 'pending', attempts = 0,
                     next_attempt_at = excluded.next_attempt_at, lease_until = NULL,
                     claim_token = NULL, receiver_hold = 0, last_error = NULL, delivered_at = NULL",
            )
            .bind(sink.stored())
            .bind(millis(now))
            .bind(millis(since))
            .bind(topic)
            .execute(pool)
            .await?
            .rows_affected();
            if changed > 0 {
                pool.acquire().await?.announce_deliveries().await?;
            }
            Ok(changed)
        })
    }
}

/// How much waits in the outbox for one sink.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxDepth {
    /// The webhook's name, or `@stdout`.
    pub sink: String,
    pub pending: u64,
    /// How long the oldest of them has waited since its alert was created.
    pub oldest_age_seconds: f64,
}

impl Store {
    /// Undelivered (pending) deliveries per sink, with the age of the oldest, for `/metrics`.
    pub async fn outbox_depth(&self, now: DateTime<Utc>) -> Result<Vec<OutboxDepth>, StoreError> {
        on_pool!(self, |pool| {
            let rows: Vec<(String, i64, i64)> = sqlx::query_as(
                "SELECT d.sink, COUNT(*), MIN(a.created_at)
                 FROM deliveries d JOIN alerts a ON a.id = d.alert_id
                 WHERE d.status = 'pending' GROUP BY d.sink",
            )
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(sink, pending, oldest)| OutboxDepth {
                    sink,
                    pending: pending.max(0) as u64,
                    oldest_age_seconds: ((millis(now) - oldest).max(0) as f64) / 1000.0,
                })
                .collect())
        })
    }
}
