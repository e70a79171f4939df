//! Copying a whole store to another (`feedwatch store migrate`), either way between SQLite and
//! PostgreSQL. The two schemas have the same tables and columns (see migrations/), so each
//! table is read row by row from the source and written in batches, one transaction per batch,
//! with `ON CONFLICT DO NOTHING`: a copy that was interrupted can be run again with `--force`
//! and completes what is missing. What belongs to running processes is left behind: the
//! `instances` table and the marks of polls in progress, which a stopped daemon's store should
//! not have anyway.

use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Row};

use super::{Store, StoreError};

/// How a column is read and written.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Integer,
    Real,
    Blob,
}

use Kind::{Blob, Integer, Real, Text};

/// Every table with the columns copied, in an order that satisfies the foreign keys.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "feeds",
        &[
            ("name", Text),
            ("url", Text),
            ("etag", Text),
            ("last_modified", Text),
            ("first_polled_at", Integer),
            ("last_success_at", Integer),
            ("last_error", Text),
            ("last_error_at", Integer),
            ("consecutive_failures", Integer),
            ("next_poll_at", Integer),
            ("moved_to", Text),
            ("stopped_reason", Text),
            ("failing_since", Integer),
            ("health_alerted", Integer),
            ("interrupted_polls", Integer),
            ("quarantined_reason", Text),
            ("last_parsed_at", Integer),
        ],
    ),
    (
        "items",
        &[
            ("feed", Text),
            ("item_key", Text),
            ("link", Text),
            ("title", Text),
            ("first_seen_at", Integer),
            ("note", Text),
            ("last_listed_at", Integer),
        ],
    ),
    (
        "alerts",
        &[
            ("id", Text),
            ("topic", Text),
            ("feed", Text),
            ("item_key", Text),
            ("payload", Text),
            ("created_at", Integer),
            ("link", Text),
        ],
    ),
    (
        "deliveries",
        &[
            ("alert_id", Text),
            ("sink", Text),
            ("status", Text),
            ("attempts", Integer),
            ("next_attempt_at", Integer),
            ("lease_until", Integer),
            ("last_error", Text),
            ("delivered_at", Integer),
            ("claim_token", Text),
            ("receiver_hold", Integer),
        ],
    ),
    (
        "webhook_state",
        &[
            ("name", Text),
            ("url_fingerprint", Text),
            ("disabled_at", Integer),
            ("disabled_reason", Text),
            ("enabled_at", Integer),
        ],
    ),
    (
        "host_memory",
        &[("host", Text), ("memory", Blob), ("updated_at", Integer)],
    ),
    (
        "pending_items",
        &[
            ("feed", Text),
            ("item_key", Text),
            ("item", Text),
            ("attempts", Integer),
            ("next_attempt_at", Integer),
            ("last_error", Text),
        ],
    ),
    (
        "fingerprints",
        &[
            ("feed", Text),
            ("item_key", Text),
            ("signature", Blob),
            ("created_at", Integer),
        ],
    ),
    (
        "fingerprint_bands",
        &[
            ("band_key", Integer),
            ("feed", Text),
            ("item_key", Text),
            ("created_at", Integer),
        ],
    ),
    (
        "alert_duplicates",
        &[
            ("alert_id", Text),
            ("feed", Text),
            ("item_key", Text),
            ("url", Text),
            ("title", Text),
            ("similarity", Real),
            ("seen_at", Integer),
        ],
    ),
    (
        "websub_subscriptions",
        &[
            ("feed", Text),
            ("hub", Text),
            ("topic", Text),
            ("callback_id", Text),
            ("secret", Text),
            ("state", Text),
            ("pending_mode", Text),
            ("requested_at", Integer),
            ("verified_at", Integer),
            ("lease_expires_at", Integer),
            ("last_error", Text),
        ],
    ),
    ("host_slots", &[("host", Text), ("next_start_at", Integer)]),
];

/// Rows written per target transaction.
const BATCH: usize = 500;

/// One column's value of one row.
enum Value {
    Text(Option<String>),
    Integer(Option<i64>),
    Real(Option<f64>),
    Blob(Option<Vec<u8>>),
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(
        "the target store is not empty ({feeds} feeds, {items} items, {alerts} alerts); \
         pass --force to copy into it anyway (rows it already has are kept)"
    )]
    TargetNotEmpty { feeds: u64, items: u64, alerts: u64 },
    #[error("{table}: {source}")]
    Table {
        table: &'static str,
        source: StoreError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a copy did, per table: (table, rows read, rows written). Fewer written than read means
/// the target had those rows already.
pub type TransferReport = Vec<(&'static str, u64, u64)>;

impl Store {
    /// How many rows the tables [`Store::copy_into`] copies hold, for a progress bar.
    pub async fn transferable_rows(&self) -> Result<u64, StoreError> {
        let mut total = 0;
        for (table, _) in TABLES {
            total += self.count_rows(table).await?;
        }
        Ok(total)
    }

    async fn count_rows(&self, table: &str) -> Result<u64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        on_pool!(self, |pool| {
            let count: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_one(pool)
                .await?;
            Ok(count.max(0) as u64)
        })
    }

    /// Copies every table of this store into `target`, calling `progress` with the number of
    /// rows done after each batch. Refuses a target that has feeds, items or alerts unless
    /// `force`.
    pub async fn copy_into(
        &self,
        target: &Store,
        force: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<TransferReport, TransferError> {
        let (feeds, items, alerts) = (
            target.count_rows("feeds").await?,
            target.count_rows("items").await?,
            target.count_rows("alerts").await?,
        );
        if !force && feeds + items + alerts > 0 {
            return Err(TransferError::TargetNotEmpty {
                feeds,
                items,
                alerts,
            });
        }
        let mut report = Vec::new();
        for (table, columns) in TABLES {
            let (read, written) = self
                .copy_table(target, table, columns, progress)
                .await
                .map_err(|source| TransferError::Table { table, source })?;
            report.push((*table, read, written));
        }
        Ok(report)
    }

    async fn copy_table(
        &self,
        target: &Store,
        table: &str,
        columns: &[(&str, Kind)],
        progress: &mut dyn FnMut(u64),
    ) -> Result<(u64, u64), StoreError> {
        let names = columns
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ");
        let select = format!("SELECT {names} FROM {table}");
        let placeholders = (1..=columns.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let insert =
            format!("INSERT INTO {table} ({names}) VALUES ({placeholders}) ON CONFLICT DO NOTHING");
        let (mut read, mut written) = (0, 0);
        let mut batch: Vec<Vec<Value>> = Vec::with_capacity(BATCH);
        on_pool!(self, |pool| {
            let mut rows = sqlx::query(AssertSqlSafe(select.as_str())).fetch(pool);
            while let Some(row) = rows.try_next().await? {
                let mut values = Vec::with_capacity(columns.len());
                for (i, (_, kind)) in columns.iter().enumerate() {
                    values.push(match kind {
                        Kind::Text => Value::Text(row.try_get(i)?),
                        Kind::Integer => Value::Integer(row.try_get(i)?),
                        Kind::Real => Value::Real(row.try_get(i)?),
                        Kind::Blob => Value::Blob(row.try_get(i)?),
                    });
                }
                batch.push(values);
                if batch.len() == BATCH {
                    read += batch.len() as u64;
                    written += target.write_batch(&insert, &mut batch).await?;
                    progress(batch_done(&mut batch));
                }
            }
            Ok::<(), StoreError>(())
        })?;
        read += batch.len() as u64;
        written += target.write_batch(&insert, &mut batch).await?;
        progress(batch_done(&mut batch));
        Ok((read, written))
    }

    /// Inserts the rows of `batch` in one transaction; returns how many were new.
    async fn write_batch(&self, insert: &str, batch: &mut [Vec<Value>]) -> Result<u64, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut written = 0;
            for values in batch.iter_mut() {
                let mut query = sqlx::query(AssertSqlSafe(insert));
                for value in values.iter_mut() {
                    query = match value {
                        Value::Text(v) => query.bind(v.take()),
                        Value::Integer(v) => query.bind(v.take()),
                        Value::Real(v) => query.bind(v.take()),
                        Value::Blob(v) => query.bind(v.take()),
                    };
                }
                written += query.execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            Ok(written)
        })
    }
}

/// Empties a written batch and returns how many rows it had.
fn batch_done(batch: &mut Vec<Vec<Value>>) -> u64 {
    let done = batch.len() as u64;
    batch.clear();
    done
}
