//! The two databases the store runs on, and the little that differs between them. SQLite is
//! the embedded default: one process's file, where a write transaction that needs to see every
//! other writer's work takes the database's write lock up front (`BEGIN IMMEDIATE`).
//! PostgreSQL is the shared store of several instances: there the same transactions serialise
//! on an advisory lock named after what they guard, so unrelated work runs in parallel. The
//! queries themselves are shared (see `on_pool!`); [`Dialect`] spells the two constructs that
//! are not.

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::{Postgres, Sqlite, Transaction};

#[derive(Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A table for a FROM clause with one column, `value`: the elements of the JSON array bound
    /// as text at `$param`. (Lists travel as one JSON parameter: a feed may list more items
    /// than SQLite takes parameters.) PostgreSQL yields text, so numbers need a `CAST`.
    pub(super) fn json_values(self, param: u8) -> String {
        match self {
            Dialect::Sqlite => format!("json_each(${param})"),
            Dialect::Postgres => {
                format!("jsonb_array_elements_text(CAST(${param} AS jsonb)) AS elements(value)")
            }
        }
    }

    /// The hidden column that names a row, for deleting in batches
    /// (`DELETE … WHERE rowid IN (SELECT rowid … LIMIT n)`) from tables without one key.
    pub(super) fn row_id(self) -> &'static str {
        match self {
            Dialect::Sqlite => "rowid",
            Dialect::Postgres => "ctid",
        }
    }
}

/// A transaction that serialises with every other transaction begun with the same `guard`,
/// in this process and in any other on the same database.
pub(super) trait LockedBegin {
    type Db: sqlx::Database;

    async fn begin_locked(
        &self,
        guard: &str,
    ) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;
}

impl LockedBegin for SqlitePool {
    type Db = Sqlite;

    /// SQLite has one write lock, taken at once: coarser than `guard`, never weaker.
    async fn begin_locked(
        &self,
        _guard: &str,
    ) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl LockedBegin for PgPool {
    type Db = Postgres;

    /// Held until the transaction ends. Readers are never blocked, and a transaction that
    /// waited sees what the one before it committed (READ COMMITTED takes a fresh snapshot
    /// per statement).
    async fn begin_locked(
        &self,
        guard: &str,
    ) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let mut tx = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(guard)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

/// Implements a trait of statements that run inside a transaction for the connections of both
/// backends: the items are written once and compiled for each.
macro_rules! impl_for_connections {
    ($trait:ident { $($items:tt)* }) => {
        impl $trait for sqlx::SqliteConnection { $($items)* }
        impl $trait for sqlx::PgConnection { $($items)* }
    };
}
pub(super) use impl_for_connections;

/// The dialect of a backend's connection, for statements inside transactions.
pub(super) trait ConnectionDialect {
    const DIALECT: Dialect;
}

impl ConnectionDialect for sqlx::SqliteConnection {
    const DIALECT: Dialect = Dialect::Sqlite;
}

impl ConnectionDialect for sqlx::PgConnection {
    const DIALECT: Dialect = Dialect::Postgres;
}
