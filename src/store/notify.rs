//! Telling the other instances on a shared store that deliveries are due: a transaction that
//! queues deliveries also sends a PostgreSQL notification (delivered only if it commits), and
//! every instance listens, so an alert one instance recorded is sent at once by another when
//! the first dies before sending it, and `alerts retry` from the command line reaches the
//! running daemons. SQLite has no such channel; its single process wakes its own outbox, and
//! other processes on the file notice within the outbox's idle check.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Backend, Store, StoreError};

/// The channel of "deliveries are due" notifications.
const CHANNEL: &str = "feedwatch_outbox";
/// How long to wait before listening again after the connection was lost.
const RECONNECT: Duration = Duration::from_secs(2);

/// Announcing queued deliveries, from inside the transaction that queued them.
pub(super) trait AnnounceDeliveries {
    async fn announce_deliveries(&mut self) -> Result<(), StoreError>;
}

impl AnnounceDeliveries for sqlx::SqliteConnection {
    async fn announce_deliveries(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl AnnounceDeliveries for sqlx::PgConnection {
    /// Sent when the transaction commits; several in one transaction arrive as one.
    async fn announce_deliveries(&mut self) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(self)
            .await?;
        Ok(())
    }
}

impl Store {
    /// Rings `wake` whenever any instance on the store has queued deliveries, until
    /// `shutdown`. Returns at once on SQLite.
    pub async fn wake_on_deliveries(&self, wake: Arc<Notify>, shutdown: CancellationToken) {
        let Backend::Postgres(pool) = &self.backend else {
            return;
        };
        loop {
            let listened = async {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen(CHANNEL).await?;
                loop {
                    listener.recv().await?;
                    wake.notify_one();
                }
            };
            let err: sqlx::Error = tokio::select! {
                _ = shutdown.cancelled() => return,
                err = listened => match err {
                    Ok::<(), _>(()) => unreachable!("the listener loops until an error"),
                    Err(err) => err,
                },
            };
            tracing::warn!(error = %err, "lost the store's delivery notifications; listening again");
            // Whatever was notified meanwhile is found by the outbox's own checks.
            wake.notify_one();
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RECONNECT) => {}
            }
        }
    }
}
