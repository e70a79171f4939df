//! Throwaway PostgreSQL databases for tests: each test that runs against PostgreSQL gets a
//! database of its own, created on the server that `FEEDWATCH_TEST_POSTGRES` names (by default
//! the local one at `postgres://postgres@127.0.0.1:5432/test`) and dropped when the test ends,
//! pass or fail. Where no server answers, the PostgreSQL variant of a test is skipped and says
//! so, unless `FEEDWATCH_REQUIRE_POSTGRES=1` (CI) makes that a failure.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database that exists until this value is dropped.
pub struct ScratchDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates a fresh, empty database, or returns `None` (having printed why) when no
    /// PostgreSQL server is reachable and none is required.
    pub async fn create() -> Option<Self> {
        let server_url =
            std::env::var("FEEDWATCH_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_SERVER.into());
        let required = std::env::var("FEEDWATCH_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let skip = |why: String| {
            assert!(
                !required,
                "FEEDWATCH_REQUIRE_POSTGRES=1 but PostgreSQL is unusable: {why}"
            );
            announce_skip(&why);
            None
        };
        let server = match PgConnectOptions::from_str(&server_url) {
            Ok(options) => options,
            Err(err) => return skip(format!("FEEDWATCH_TEST_POSTGRES: {err}")),
        };
        let mut admin = match server.connect().await {
            Ok(connection) => connection,
            Err(err) => return skip(format!("cannot reach {server_url}: {err}")),
        };
        let name = format!(
            "feedwatch_test_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        if let Err(err) = sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
        {
            return skip(format!("cannot create a database: {err}"));
        }
        let _ = admin.close().await;
        let url = match url::Url::parse(&server_url) {
            Ok(mut url) => {
                url.set_path(&name);
                url.to_string()
            }
            Err(err) => return skip(format!("FEEDWATCH_TEST_POSTGRES: {err}")),
        };
        Some(Self {
            server_url,
            name,
            url,
        })
    }

    /// The database's URL, for `store = "…"` or [`super::Store::open_postgres`].
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Says once per test binary that its PostgreSQL tests were skipped and why. Written to the
/// process's stderr directly, past the test harness's capture, so `cargo test` shows it.
fn announce_skip(why: &str) {
    static ANNOUNCED: std::sync::Once = std::sync::Once::new();
    ANNOUNCED.call_once(|| {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr().lock(),
            "note: PostgreSQL tests skipped ({why}); they run where FEEDWATCH_TEST_POSTGRES \
             (default {DEFAULT_SERVER}) reaches a server"
        );
    });
}

impl Drop for ScratchDatabase {
    /// Drops the database on a thread of its own, since a destructor cannot await and may run
    /// inside a runtime; `WITH (FORCE)` ends connections a failed test left open.
    fn drop(&mut self) {
        let server = PgConnectOptions::from_str(&self.server_url);
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin: PgConnection = server.ok()?.connect().await.ok()?;
                sqlx::query(AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}
