//! WebSub subscription rows (`websub_subscriptions`): one per feed, written whole. What the
//! states mean and when they change is `crate::websub`'s business; this only keeps them.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, from_millis, millis};

/// Where a subscription stands with its hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionState {
    /// Requested; the hub has not verified it (yet).
    Pending,
    /// The hub verified it and pushes until the lease ends.
    Verified,
    /// The hub refused it (`hub.mode=denied`).
    Denied,
    /// The feed left the config; an unsubscribe request is out.
    Removed,
}

impl SubscriptionState {
    /// As stored, and as `feeds status --format json` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Verified => "verified",
            Self::Denied => "denied",
            Self::Removed => "removed",
        }
    }

    fn from_stored(text: &str) -> Self {
        match text {
            "verified" => Self::Verified,
            "denied" => Self::Denied,
            "removed" => Self::Removed,
            _ => Self::Pending,
        }
    }
}

/// A request sent to the hub and not yet verified by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubMode {
    Subscribe,
    Unsubscribe,
}

impl HubMode {
    /// As `hub.mode` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscribe => "subscribe",
            Self::Unsubscribe => "unsubscribe",
        }
    }

    fn from_stored(text: &str) -> Option<Self> {
        match text {
            "subscribe" => Some(Self::Subscribe),
            "unsubscribe" => Some(Self::Unsubscribe),
            _ => None,
        }
    }
}

/// One feed's subscription.
#[derive(Clone)]
pub struct Subscription {
    pub feed: String,
    pub hub: String,
    /// The feed's URL as the hub knows it (its `rel="self"`).
    pub topic: String,
    /// The last segment of the callback URL: random, so only the hub learns it.
    pub callback_id: String,
    /// The HMAC key of the hub's signatures. Never logged.
    pub secret: String,
    pub state: SubscriptionState,
    pub pending_mode: Option<HubMode>,
    /// When the last request was sent to the hub.
    pub requested_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("feed", &self.feed)
            .field("hub", &self.hub)
            .field("topic", &self.topic)
            .field("state", &self.state)
            .field("pending_mode", &self.pending_mode)
            .field("lease_expires_at", &self.lease_expires_at)
            .finish_non_exhaustive()
    }
}

/// A `SELECT` of every column, followed by `$tail` (kept `'static`, as sqlx wants its SQL).
macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT feed, hub, topic, callback_id, secret, state, pending_mode, requested_at,
                    verified_at, lease_expires_at, last_error
             FROM websub_subscriptions ",
            $tail
        )
    };
}

/// A `websub_subscriptions` row as [`select!`] reads it.
#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    feed: String,
    hub: String,
    topic: String,
    callback_id: String,
    secret: String,
    state: String,
    pending_mode: Option<String>,
    requested_at: i64,
    verified_at: Option<i64>,
    lease_expires_at: Option<i64>,
    last_error: Option<String>,
}

impl From<SubscriptionRow> for Subscription {
    fn from(row: SubscriptionRow) -> Self {
        Subscription {
            feed: row.feed,
            hub: row.hub,
            topic: row.topic,
            callback_id: row.callback_id,
            secret: row.secret,
            state: SubscriptionState::from_stored(&row.state),
            pending_mode: row.pending_mode.as_deref().and_then(HubMode::from_stored),
            requested_at: from_millis(row.requested_at),
            verified_at: row.verified_at.map(from_millis),
            lease_expires_at: row.lease_expires_at.map(from_millis),
            last_error: row.last_error,
        }
    }
}

impl Store {
    pub async fn subscription(&self, feed: &str) -> Result<Option<Subscription>, StoreError> {
        on_pool!(self, |pool| {
            let row: Option<SubscriptionRow> = sqlx::query_as(select!("WHERE feed = $1"))
                .bind(feed)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(Subscription::from))
        })
    }

    pub async fn subscription_by_callback(
        &self,
        callback_id: &str,
    ) -> Result<Option<Subscription>, StoreError> {
        on_pool!(self, |pool| {
            let row: Option<SubscriptionRow> = sqlx::query_as(select!("WHERE callback_id = $1"))
                .bind(callback_id)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(Subscription::from))
        })
    }

    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        on_pool!(self, |pool| {
            let rows: Vec<SubscriptionRow> = sqlx::query_as(select!("ORDER BY feed"))
                .fetch_all(pool)
                .await?;
            Ok(rows.into_iter().map(Subscription::from).collect())
        })
    }

    /// Writes the feed's subscription, replacing the one it had.
    pub async fn put_subscription(&self, sub: &Subscription) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO websub_subscriptions (feed, hub, topic, callback_id, secret,
                     state, pending_mode, requested_at, verified_at, lease_expires_at, last_error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (feed) DO UPDATE SET hub = excluded.hub, topic = excluded.topic,
                     callback_id = excluded.callback_id, secret = excluded.secret,
                     state = excluded.state, pending_mode = excluded.pending_mode,
                     requested_at = excluded.requested_at, verified_at = excluded.verified_at,
                     lease_expires_at = excluded.lease_expires_at,
                     last_error = excluded.last_error",
            )
            .bind(&sub.feed)
            .bind(&sub.hub)
            .bind(&sub.topic)
            .bind(&sub.callback_id)
            .bind(&sub.secret)
            .bind(sub.state.as_str())
            .bind(sub.pending_mode.map(HubMode::as_str))
            .bind(millis(sub.requested_at))
            .bind(sub.verified_at.map(millis))
            .bind(sub.lease_expires_at.map(millis))
            .bind(&sub.last_error)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn delete_subscription(&self, feed: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("DELETE FROM websub_subscriptions WHERE feed = $1")
                .bind(feed)
                .execute(pool)
                .await?;
            Ok(())
        })
    }
}
