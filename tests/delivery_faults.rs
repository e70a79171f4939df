//! Delivery under the faults a payment-grade sender must hold through: a webhook that takes
//! requests and never answers them, beside a healthy one; SIGTERM while requests hang; two
//! senders racing on one store with leases that run out mid-request; and a rate limit that
//! must keep rows unclaimed, in order, rather than claim and push them back.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, Utc};
use common::{Daemon, NewsSite, Receiver, Story, TestStore};
use feedwatch::alerts::outbox::Outbox;
use feedwatch::store::{DeliveryFilter, DeliveryStatus, Sink, Store};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

fn stories(count: usize) -> Vec<Story> {
    (0..count)
        .map(|i| Story {
            slug: format!("story-{i}"),
            title: format!("Mothers and wives of soldiers, report {i}"),
            summary: "The council of mothers and wives spoke.".into(),
            paragraphs: vec![],
            related: vec![],
        })
        .collect()
}

async fn site_with(count: usize) -> NewsSite {
    let site = NewsSite::start().await;
    for story in stories(count) {
        site.add_rss(story);
    }
    site
}

/// A config whose one topic notifies every webhook of `webhooks` (name, URL, extra keys).
fn write_config(
    dir: &Path,
    store: &TestStore,
    site: &NewsSite,
    daemon_extra: &str,
    webhooks: &[(&str, String, &str)],
) -> PathBuf {
    let tables: String = webhooks
        .iter()
        .map(|(name, url, extra)| {
            format!("[[webhook]]\nname = \"{name}\"\nurl = \"{url}\"\n{extra}\n\n")
        })
        .collect();
    let names: Vec<String> = webhooks
        .iter()
        .map(|(n, _, _)| format!("\"{n}\""))
        .collect();
    let config = format!(
        r#"
[daemon]
store = {store}
listen = "127.0.0.1:0"
default_interval = "1s"
first_poll = "alert"
retry_initial = "200ms"
per_host_spacing = "0s"
max_items_per_feed = 1000
watchlists = []
{daemon_extra}

[[feed]]
name = "daily"
url = "{feed}"
full_text = false

{tables}
[[topic]]
name = "mothers"
query = '"mothers and wives"'
notify = [{names}]
"#,
        feed = site.url("/rss.xml"),
        names = names.join(", "),
        store = store.config_value(),
    );
    let path = dir.join("feedwatch.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// Every delivery row, by alert id, for one webhook.
async fn rows_of(store: &Store, webhook: &str) -> BTreeMap<String, feedwatch::store::DeliveryRow> {
    let filter = DeliveryFilter {
        sink: Some(Sink::Webhook(webhook.into())),
        limit: 10_000,
        ..DeliveryFilter::default()
    };
    store
        .deliveries(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.alert_id.clone(), row))
        .collect()
}

async fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `count` deliveries to `webhook` are recorded. The first requests may be
/// claimed before the last articles are even matched; tests that count pending rows after a
/// stop wait for this so they check the stop, not that race.
async fn wait_for_deliveries(test_store: &TestStore, webhook: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let store = test_store.open().await;
        let recorded = rows_of(&store, webhook).await.len();
        store.close().await;
        if recorded == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {count} deliveries, {recorded} recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `feedwatch once` (without --deliver): the alerts and their deliveries are recorded,
/// none sent, so in-process outboxes can race over them.
fn seed_with_once(config: &Path) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args(["once", "-c"])
        .arg(config)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_webhook_does_not_hold_up_a_healthy_one() {
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let site = site_with(30).await;
    let stuck = Receiver::start_hanging().await;
    let healthy = Receiver::start().await;
    let config = write_config(
        dir.path(),
        &test_store,
        &site,
        "shutdown_timeout = \"1s\"",
        &[
            ("stuck", stuck.url(), "timeout = \"30s\""),
            ("healthy", healthy.url(), "timeout = \"5s\""),
        ],
    );
    let daemon = Daemon::start(&config, "hung.log");
    let received = healthy.wait_for(30, Duration::from_secs(30)).await;
    // Each webhook has its own request slots: the stuck one holds its 4, no more.
    let held = stuck.held();
    let store = test_store.open().await;
    let rows = rows_of(&store, "healthy").await;
    store.close().await;
    daemon.stop();

    assert_eq!(rows.len(), 30, "one delivery per alert");
    let mut latencies = Vec::new();
    for request in &received {
        let id = &request.headers["webhook-id"];
        let created = rows[id].created_at;
        let arrived = DateTime::<Utc>::from(request.wall);
        latencies.push(((arrived - created).to_std().unwrap_or_default(), id.clone()));
    }
    let ids: BTreeSet<_> = latencies.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(ids, rows.keys().cloned().collect(), "every alert, once");
    latencies.sort();
    for (latency, id) in &latencies {
        println!("healthy webhook: alert {id} arrived {latency:?} after its creation");
    }
    let max = latencies.last().unwrap().0;
    println!(
        "healthy webhook beside a hung one: 30 alerts, latency min {:?}, median {:?}, max {max:?}; \
         the hung webhook held {held} requests",
        latencies[0].0, latencies[15].0
    );
    assert!(max <= Duration::from_secs(5), "slowest alert took {max:?}");
    assert!(
        (1..=4).contains(&held),
        "the hung webhook should hold at most its concurrency (4) requests, held {held}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_requests_hang_exits_in_time_and_the_next_start_sends_them() {
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let site = site_with(6).await;
    let hook = Receiver::start_hanging().await;
    let config = write_config(
        dir.path(),
        &test_store,
        &site,
        "shutdown_timeout = \"2s\"",
        &[("hook", hook.url(), "timeout = \"30s\"")],
    );
    let daemon = Daemon::start(&config, "hang.log");
    let log = daemon.log.clone();
    wait_until(Duration::from_secs(20), "4 requests hang", || {
        hook.held() == 4
    })
    .await;
    wait_for_deliveries(&test_store, "hook", 6).await;
    let took = daemon.stop_timed();
    println!("SIGTERM with 4 requests hanging: exited after {took:?} (shutdown_timeout 2s)");
    assert!(
        took <= Duration::from_secs(3),
        "exit took {took:?}, more than shutdown_timeout + 1 s"
    );
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("releasing them for the next start"), "{log}");

    // Cut short, not failed: no attempt counted, nothing lost.
    let store = test_store.open().await;
    let rows = rows_of(&store, "hook").await;
    store.close().await;
    assert_eq!(rows.len(), 6);
    assert!(
        rows.values()
            .all(|r| r.status == DeliveryStatus::Pending && r.attempts == 0),
        "{rows:?}"
    );

    // Released, so due at once: without the release the four would wait for their lease
    // (the 30 s timeout plus 5 s).
    hook.set_hanging(false);
    let restarted = Instant::now();
    let daemon = Daemon::start(&config, "restart.log");
    let received = hook.wait_for(6, Duration::from_secs(10)).await;
    let all_in = restarted.elapsed();
    daemon.stop();
    println!("after the restart all 6 alerts arrived within {all_in:?}");
    let ids: BTreeSet<String> = received
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert_eq!(ids, rows.keys().cloned().collect(), "every alert, same ids");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish_and_claims_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let site = site_with(6).await;
    let hook = Receiver::start().await;
    hook.set_delay(Duration::from_millis(1500));
    let config = write_config(
        dir.path(),
        &test_store,
        &site,
        "shutdown_timeout = \"10s\"",
        &[("hook", hook.url(), "timeout = \"30s\"")],
    );
    let daemon = Daemon::start(&config, "finish.log");
    let log = daemon.log.clone();
    wait_until(Duration::from_secs(20), "4 requests are in flight", || {
        hook.held() == 4
    })
    .await;
    wait_for_deliveries(&test_store, "hook", 6).await;
    let took = daemon.stop_timed();
    println!("SIGTERM with 4 slow requests in flight: exited after {took:?}, once they finished");
    assert!(took <= Duration::from_secs(3), "exit took {took:?}");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(!log.contains("releasing them"), "{log}");

    // The four in flight were answered and recorded; the other two were not claimed.
    assert_eq!(hook.received().len(), 4);
    let store = test_store.open().await;
    let rows = rows_of(&store, "hook").await;
    store.close().await;
    let delivered: BTreeSet<String> = rows
        .values()
        .filter(|r| r.status == DeliveryStatus::Delivered)
        .map(|r| r.alert_id.clone())
        .collect();
    let answered: BTreeSet<String> = hook
        .received()
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert_eq!(delivered, answered);
    assert_eq!(
        rows.values()
            .filter(|r| r.status == DeliveryStatus::Pending && r.attempts == 0)
            .count(),
        2
    );
}

/// Answers the first request for each webhook-id slowly and with a 500 (a sender whose lease
/// runs out meanwhile), and every later one at once with a 204.
#[derive(Clone)]
struct SlowFirstReceiver {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<(String, StatusCode, Instant)>>>,
}

impl SlowFirstReceiver {
    async fn start(first_delay: Duration) -> Self {
        let requests: Arc<Mutex<Vec<(String, StatusCode, Instant)>>> = Arc::default();
        let app = Router::new().route(
            "/hook",
            post({
                let requests = requests.clone();
                move |headers: HeaderMap| {
                    let requests = requests.clone();
                    async move {
                        let id = headers["webhook-id"].to_str().unwrap().to_string();
                        let first = {
                            let mut requests = requests.lock().unwrap();
                            let first = !requests.iter().any(|(seen, _, _)| *seen == id);
                            let status = if first {
                                StatusCode::INTERNAL_SERVER_ERROR
                            } else {
                                StatusCode::NO_CONTENT
                            };
                            requests.push((id, status, Instant::now()));
                            first
                        };
                        if first {
                            tokio::time::sleep(first_delay).await;
                            StatusCode::INTERNAL_SERVER_ERROR
                        } else {
                            StatusCode::NO_CONTENT
                        }
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, requests }
    }

    fn requests(&self) -> Vec<(String, StatusCode, Instant)> {
        self.requests.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_is_retried_on_its_schedule_not_after_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let site = site_with(1).await;
    // The alert's first attempt fails after 300 ms, while the lane, with nothing else to
    // do, sleeps until the next row could be due: for all it knew then, when the claim's
    // lease (the 30 s timeout plus 5 s) runs out. The retry is due 200 ms (retry_initial)
    // after the failure.
    let receiver = SlowFirstReceiver::start(Duration::from_millis(300)).await;
    let config = write_config(
        dir.path(),
        &test_store,
        &site,
        "",
        &[(
            "hook",
            format!("http://{}/hook", receiver.addr),
            "timeout = \"30s\"",
        )],
    );
    let daemon = Daemon::start(&config, "retry.log");
    wait_until(Duration::from_secs(20), "the alert is delivered", || {
        receiver
            .requests()
            .iter()
            .filter(|r| r.1 == StatusCode::NO_CONTENT)
            .count()
            == 1
    })
    .await;
    daemon.stop();
    let mut first_try: HashMap<String, Instant> = HashMap::new();
    for (id, status, at) in receiver.requests() {
        match status {
            StatusCode::INTERNAL_SERVER_ERROR => {
                first_try.insert(id, at);
            }
            _ => {
                let waited = at.duration_since(first_try[&id]);
                println!("alert {id}: retried {waited:?} after its failed attempt began");
                assert!(waited < Duration::from_secs(3), "{id} waited {waited:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_senders_with_expired_leases_never_undo_a_delivery() {
    const ALERTS: usize = 20;
    let lease = Duration::from_millis(400);
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let site = site_with(ALERTS).await;
    // The first request of each alert outlives its lease three times over.
    let receiver = SlowFirstReceiver::start(lease * 3).await;
    let config_path = write_config(
        dir.path(),
        &test_store,
        &site,
        "",
        &[(
            "hook",
            format!("http://{}/hook", receiver.addr),
            "timeout = \"10s\"\nconcurrency = 64",
        )],
    );
    seed_with_once(&config_path);
    let config = feedwatch::config::load(&config_path).unwrap();

    // Two senders, each with its own connections to the one store, as two processes.
    let shutdown = CancellationToken::new();
    let mut senders = Vec::new();
    for _ in 0..2 {
        let store = test_store.open().await;
        let outbox = Outbox::new(&config, store, Arc::new(Notify::new()))
            .unwrap()
            .with_lease(lease);
        senders.push(tokio::spawn(outbox.run(shutdown.clone(), None)));
    }

    // Watches every row: once seen delivered, a row must never be seen otherwise.
    let watcher_store = test_store.open().await;
    let delivered: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let undone: Arc<Mutex<Vec<String>>> = Arc::default();
    let watching = CancellationToken::new();
    let watcher = tokio::spawn({
        let (delivered, undone, watching) = (delivered.clone(), undone.clone(), watching.clone());
        async move {
            while !watching.is_cancelled() {
                for (id, row) in rows_of(&watcher_store, "hook").await {
                    let mut delivered = delivered.lock().unwrap();
                    if row.status == DeliveryStatus::Delivered {
                        delivered.insert(id);
                    } else if delivered.contains(&id) {
                        undone
                            .lock()
                            .unwrap()
                            .push(format!("{id}: {:?}", row.status));
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            watcher_store.close().await;
        }
    });

    wait_until(Duration::from_secs(30), "every alert is delivered", || {
        delivered.lock().unwrap().len() == ALERTS
    })
    .await;
    // Let every slow first request end and its late result come in.
    tokio::time::sleep(lease * 4).await;
    shutdown.cancel();
    for sender in senders {
        tokio::time::timeout(Duration::from_secs(15), sender)
            .await
            .expect("the senders stop")
            .unwrap();
    }
    watching.cancel();
    watcher.await.unwrap();

    let store = test_store.open().await;
    let rows = rows_of(&store, "hook").await;
    store.close().await;
    assert_eq!(rows.len(), ALERTS);
    assert!(
        rows.values().all(|r| r.status == DeliveryStatus::Delivered),
        "{rows:?}"
    );
    assert!(
        undone.lock().unwrap().is_empty(),
        "delivered rows went back: {:?}",
        undone.lock().unwrap()
    );
    let mut sends: HashMap<String, usize> = HashMap::new();
    for (id, _, _) in receiver.requests() {
        *sends.entry(id).or_default() += 1;
    }
    let ids: BTreeSet<String> = sends.keys().cloned().collect();
    assert_eq!(
        ids,
        rows.keys().cloned().collect(),
        "none lost, none invented"
    );
    let twice = sends.values().filter(|n| **n == 2).count();
    let most = sends.values().copied().max().unwrap_or_default();
    println!(
        "two senders, lease {lease:?}: {ALERTS} alerts, {twice} taken over after their lease ran out, \
         at most {most} sends of one alert, no delivered row undone"
    );
    assert!(most <= 2, "an alert was sent {most} times: {sends:?}");
    assert!(twice > 0, "no lease ran out, so the race was not exercised");
}

/// A plain connection to the test store's database, for the columns `Store` keeps to itself
/// (claim tokens): the same SQL on either backend.
enum RawDb {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl RawDb {
    async fn connect(store: &TestStore) -> Self {
        match store {
            TestStore::Sqlite(dir) => Self::Sqlite(
                sqlx::SqlitePool::connect(&format!(
                    "sqlite://{}",
                    dir.join("feedwatch.db").display()
                ))
                .await
                .unwrap(),
            ),
            TestStore::Postgres(db) => {
                Self::Postgres(sqlx::PgPool::connect(db.url()).await.unwrap())
            }
        }
    }

    async fn fetch_all<T>(&self, sql: &'static str) -> Vec<T>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        match self {
            Self::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
            Self::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
        }
    }

    async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_rows_wait_unclaimed_and_in_order() {
    const ALERTS: usize = 6;
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let site = site_with(ALERTS).await;
    let receiver = Receiver::start().await;
    let config_path = write_config(
        dir.path(),
        &test_store,
        &site,
        "",
        &[("hook", receiver.url(), "rate_limit = \"1/400ms\"")],
    );
    seed_with_once(&config_path);
    let config = feedwatch::config::load(&config_path).unwrap();
    let store = test_store.open().await;
    let order = store.alert_ids().await.unwrap();
    let outbox = Outbox::new(&config, store.clone(), Arc::new(Notify::new())).unwrap();
    let shutdown = CancellationToken::new();
    let sender = tokio::spawn(outbox.run(shutdown.clone(), None));

    // Looks at the raw rows while they are sent: a row waiting for the limiter is neither
    // claimed nor moved (deferred) nor counted as an attempt.
    let db = RawDb::connect(&test_store).await;
    let due_at: HashMap<String, i64> = db
        .fetch_all("SELECT alert_id, next_attempt_at FROM deliveries")
        .await
        .into_iter()
        .collect();
    let mut most_claimed = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.received().len() < ALERTS {
        assert!(Instant::now() < deadline, "not all alerts arrived");
        let pending: Vec<(String, i64, i64, Option<String>)> = db
            .fetch_all(
                "SELECT alert_id, next_attempt_at, attempts, claim_token FROM deliveries
                 WHERE status = 'pending'",
            )
            .await;
        let claimed = pending.iter().filter(|row| row.3.is_some()).count();
        most_claimed = most_claimed.max(claimed);
        for (id, next_attempt_at, attempts, _) in &pending {
            assert_eq!(*attempts, 0, "{id} counted an attempt while throttled");
            assert_eq!(
                *next_attempt_at, due_at[id],
                "{id} was claimed and pushed back instead of waiting unclaimed"
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    shutdown.cancel();
    sender.await.unwrap();
    db.close().await;
    store.close().await;

    let received = receiver.received();
    let arrived: Vec<String> = received
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert_eq!(arrived, order, "sent oldest first");
    let gaps: Vec<Duration> = received
        .windows(2)
        .map(|pair| pair[1].at.duration_since(pair[0].at))
        .collect();
    println!("1/400ms: gaps between messages {gaps:?}; at most {most_claimed} row claimed at once");
    // The limiter spaces departures; the receiver sees arrivals, and one request can take
    // longer on the way than the next (the first, which opens the connection, took 100 ms
    // longer under CI load: a gap of 302 ms, then 402 ms). So any k messages in a row span
    // k - 1 periods, less one request's delay.
    let period = Duration::from_millis(400);
    let delay = Duration::from_millis(150);
    for (i, earlier) in received.iter().enumerate() {
        for (k, later) in received[i + 1..].iter().enumerate() {
            let span = later.at.duration_since(earlier.at);
            assert!(
                span + delay >= period * (k as u32 + 1),
                "messages {i} to {} only {span:?} apart: {gaps:?}",
                i + k + 1
            );
        }
    }
    assert!(most_claimed <= 1, "{most_claimed} rows claimed at once");
}
