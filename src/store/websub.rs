//! WebSub subscription rows (`websub_subscriptions`): one per feed, written whole. What the
//! states mean and when they change is `crate::websub`'s business; this only keeps them.

use chrono::{DateTime, Utc};
use sqlx::Row;

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

fn from_row(row: &sqlx::sqlite::SqliteRow) -> Subscription {
    let state: String = row.get("state");
    let mode: Option<String> = row.get("pending_mode");
    Subscription {
        feed: row.get("feed"),
        hub: row.get("hub"),
        topic: row.get("topic"),
        callback_id: row.get("callback_id"),
        secret: row.get("secret"),
        state: SubscriptionState::from_stored(&state),
        pending_mode: mode.as_deref().and_then(HubMode::from_stored),
        requested_at: from_millis(row.get("requested_at")),
        verified_at: row.get::<Option<i64>, _>("verified_at").map(from_millis),
        lease_expires_at: row
            .get::<Option<i64>, _>("lease_expires_at")
            .map(from_millis),
        last_error: row.get("last_error"),
    }
}

impl Store {
    pub async fn subscription(&self, feed: &str) -> Result<Option<Subscription>, StoreError> {
        let row = sqlx::query(select!("WHERE feed = $1"))
            .bind(feed)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(from_row))
    }

    pub async fn subscription_by_callback(
        &self,
        callback_id: &str,
    ) -> Result<Option<Subscription>, StoreError> {
        let row = sqlx::query(select!("WHERE callback_id = $1"))
            .bind(callback_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(from_row))
    }

    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let rows = sqlx::query(select!("ORDER BY feed"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// Writes the feed's subscription, replacing the one it had.
    pub async fn put_subscription(&self, sub: &Subscription) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT OR REPLACE INTO websub_subscriptions (feed, hub, topic, callback_id, secret,
                 state, pending_mode, requested_at, verified_at, lease_expires_at, last_error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_subscription(&self, feed: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM websub_subscriptions WHERE feed = $1")
            .bind(feed)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
