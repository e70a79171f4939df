//! Delivery under failure: a receiver that fails, times out and throttles in a scripted
//! pattern, and a daemon killed with SIGKILL while alerts are in flight.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use common::{Daemon, NewsSite, Story, TestStore};
use hmac::{KeyInit, Mac};
use rand::Rng;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the receiver does with the n-th request it gets.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Ok,
    Fail500,
    /// Answers only after the client's timeout.
    Hang,
    Throttle429,
    Unavailable503,
}

#[derive(Clone, Debug)]
struct Request {
    id: String,
    body: String,
    answer: Answer,
}

#[derive(Clone)]
struct ScriptedReceiver {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl ScriptedReceiver {
    async fn start(script: Vec<Answer>, delay: Duration) -> Self {
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let app = Router::new().route(
            "/hook",
            post({
                let requests = requests.clone();
                move |headers: HeaderMap, body: String| {
                    let requests = requests.clone();
                    let script = script.clone();
                    async move { answer(&requests, &script, delay, headers, body).await }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Ids that got a 2xx.
    fn delivered(&self) -> BTreeSet<String> {
        self.requests()
            .into_iter()
            .filter(|r| matches!(r.answer, Answer::Ok))
            .map(|r| r.id)
            .collect()
    }
}

async fn answer(
    requests: &Mutex<Vec<Request>>,
    script: &[Answer],
    delay: Duration,
    headers: HeaderMap,
    body: String,
) -> Response {
    verify_signature(&headers, &body);
    let id = headers["webhook-id"].to_str().unwrap().to_string();
    let answer = {
        let mut requests = requests.lock().unwrap();
        let answer = script[requests.len() % script.len()];
        requests.push(Request { id, body, answer });
        answer
    };
    tokio::time::sleep(delay).await;
    match answer {
        Answer::Ok => StatusCode::NO_CONTENT.into_response(),
        Answer::Fail500 => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            StatusCode::OK.into_response()
        }
        Answer::Throttle429 => {
            (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")]).into_response()
        }
        Answer::Unavailable503 => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// An independent Standard Webhooks verifier: HMAC-SHA256 over "id.timestamp.body".
fn verify_signature(headers: &HeaderMap, body: &str) {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (id, timestamp, signature) = (
        get("webhook-id"),
        get("webhook-timestamp"),
        get("webhook-signature"),
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert!(
        signature.split(' ').any(|s| s == expected),
        "bad signature on {id}"
    );
}

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

fn write_config(
    dir: &Path,
    store: &TestStore,
    site: &NewsSite,
    hook: SocketAddr,
    extra: &str,
) -> PathBuf {
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

[[feed]]
name = "daily"
url = "{feed}"
full_text = false

[[webhook]]
name = "hook"
url = "http://{hook}/hook"
secret = "{SECRET}"
timeout = "500ms"
{extra}

[[topic]]
name = "mothers"
query = '"mothers and wives"'
notify = ["hook"]
"#,
        feed = site.url("/rss.xml"),
        store = store.config_value(),
    );
    let path = dir.join("feedwatch.toml");
    std::fs::write(&path, config).unwrap();
    path
}

async fn created_alert_ids(test_store: &TestStore) -> BTreeSet<String> {
    let store = test_store.open().await;
    let ids = store.alert_ids().await.unwrap().into_iter().collect();
    store.close().await;
    ids
}

async fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_alert_arrives_through_failures_timeouts_and_throttling() {
    use Answer::*;
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let site = NewsSite::start().await;
    for story in stories(12) {
        site.add_rss(story);
    }
    // Mostly failures at first, so every alert meets several kinds; then mostly successes, so
    // the retries converge within the test's time.
    let mut script = vec![
        Fail500,
        Hang,
        Throttle429,
        Unavailable503,
        Fail500,
        Hang,
        Throttle429,
        Fail500,
        Unavailable503,
        Ok,
        Fail500,
        Hang,
        Ok,
        Throttle429,
        Ok,
        Fail500,
    ];
    script.extend([
        Ok,
        Ok,
        Fail500,
        Ok,
        Ok,
        Ok,
        Hang,
        Ok,
        Ok,
        Ok,
        Throttle429,
        Ok,
    ]);
    let receiver = ScriptedReceiver::start(script, Duration::ZERO).await;
    let config = write_config(dir.path(), &test_store, &site, receiver.addr, "");
    let daemon = Daemon::start(&config, "daemon.log");

    wait_until(
        Duration::from_secs(60),
        "all 12 alerts are delivered",
        || receiver.delivered().len() == 12,
    )
    .await;
    daemon.stop();

    let created = created_alert_ids(&test_store).await;
    assert_eq!(created.len(), 12);
    assert_eq!(
        receiver.delivered(),
        created,
        "every created alert arrived, and only those"
    );
    // Every retry of an alert carried the same id and the same bytes.
    let mut bodies: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for request in receiver.requests() {
        bodies.entry(request.id).or_default().insert(request.body);
    }
    assert!(bodies.values().all(|b| b.len() == 1));
    let requests = receiver.requests();
    assert!(requests.iter().any(|r| matches!(r.answer, Hang)));
    assert!(requests.iter().any(|r| matches!(r.answer, Throttle429)));
    println!(
        "{} requests for 12 alerts through the scripted failures",
        requests.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_alert_and_invents_none() {
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let site = NewsSite::start().await;
    for story in stories(500) {
        site.add_rss(story);
    }
    // A slow receiver, so kills land while requests are in flight.
    let receiver = ScriptedReceiver::start(vec![Answer::Ok], Duration::from_millis(250)).await;
    let config = write_config(dir.path(), &test_store, &site, receiver.addr, "");
    let mut rng = rand::rng();
    for round in 0..5 {
        let daemon = Daemon::start(&config, &format!("crash-{round}.log"));
        let alive = Duration::from_millis(rng.random_range(300..1500));
        tokio::time::sleep(alive).await;
        daemon.kill9();
        println!(
            "round {round}: killed after {alive:?}; {} requests so far",
            receiver.requests().len()
        );
    }
    let created = created_alert_ids(&test_store).await;
    println!(
        "after 5 kills: {} alerts created, {} delivered so far",
        created.len(),
        receiver.delivered().len()
    );
    let daemon = Daemon::start(&config, "final.log");
    // Done when the store has nothing left to send (rows a killed daemon had in flight come
    // due again when their lease runs out).
    let store = test_store.open().await;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let filter = feedwatch::store::DeliveryFilter {
            limit: 1000,
            ..Default::default()
        };
        let rows = store.deliveries(&filter).await.unwrap();
        let undelivered = rows
            .iter()
            .filter(|r| r.status != feedwatch::store::DeliveryStatus::Delivered)
            .count();
        if rows.len() == 500 && undelivered == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{undelivered} deliveries still undelivered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    store.close().await;
    daemon.stop();

    let created = created_alert_ids(&test_store).await;
    assert_eq!(created.len(), 500, "one alert per item");
    let seen: BTreeSet<String> = receiver.requests().into_iter().map(|r| r.id).collect();
    assert_eq!(seen, created, "every created id arrived, and no other");
    let repeats = receiver.requests().len() - created.len();
    println!("500 alerts, 5 SIGKILLs: {repeats} repeated deliveries (same webhook-id)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_group_a_window_and_rate_limits_space_messages() {
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let site = NewsSite::start().await;
    for story in stories(5) {
        site.add_rss(story);
    }
    let receiver = ScriptedReceiver::start(vec![Answer::Ok], Duration::ZERO).await;
    let config = write_config(
        dir.path(),
        &test_store,
        &site,
        receiver.addr,
        "digest = \"2s\"",
    );
    let daemon = Daemon::start(&config, "digest.log");
    wait_until(Duration::from_secs(20), "the digest arrives", || {
        !receiver.requests().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    daemon.stop();
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "one message for the window");
    let digest: serde_json::Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(digest["type"], "feedwatch.digest");
    assert_eq!(digest["alerts"].as_array().unwrap().len(), 5);
    assert!(requests[0].id.starts_with("digest_"));

    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let receiver = ScriptedReceiver::start(vec![Answer::Ok], Duration::ZERO).await;
    let config = write_config(
        dir.path(),
        &test_store,
        &site,
        receiver.addr,
        "rate_limit = \"2/s\"",
    );
    let daemon = Daemon::start(&config, "rate.log");
    wait_until(Duration::from_secs(20), "all 5 alerts arrive", || {
        receiver.requests().len() == 5
    })
    .await;
    daemon.stop();
    let log = std::fs::read_to_string(dir.path().join("rate.log")).unwrap();
    assert!(
        !log.contains("delivery failed"),
        "throttling is not a failure:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_the_webhook_until_retried() {
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let site = NewsSite::start().await;
    for story in stories(2) {
        site.add_rss(story);
    }
    let receiver = GoneReceiver::start().await;
    let config = write_config(dir.path(), &test_store, &site, receiver.addr, "");
    let daemon = Daemon::start(&config, "gone.log");
    wait_until(Duration::from_secs(20), "the webhook is disabled", || {
        std::fs::read_to_string(dir.path().join("gone.log"))
            .unwrap_or_default()
            .contains("410 Gone")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Disabled: nothing more is sent, nothing is dropped.
    let calls = receiver.calls();
    assert!(calls <= 2, "{calls} calls after 410");
    let feedwatch = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
            .args(args)
            .args(["-c", config.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let listed = feedwatch(&["alerts", "list", "--format", "json"]);
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r["status"] == "failed" || r["status"] == "pending"),
        "{rows:?}"
    );

    receiver.set_gone(false);
    let retried = feedwatch(&["alerts", "retry", "--webhook", "hook"]);
    assert!(retried.status.success());
    assert!(String::from_utf8_lossy(&retried.stderr).contains("enabled again"));
    daemon.stop();
    let daemon = Daemon::start(&config, "gone2.log");
    wait_until(Duration::from_secs(20), "both alerts arrive", || {
        receiver.accepted() == 2
    })
    .await;
    daemon.stop();
}

/// Answers 410 Gone while `gone` is set, 204 otherwise.
#[derive(Clone)]
struct GoneReceiver {
    addr: SocketAddr,
    state: Arc<Mutex<(bool, usize, usize)>>,
}

impl GoneReceiver {
    async fn start() -> Self {
        let state = Arc::new(Mutex::new((true, 0, 0)));
        let app = Router::new().route(
            "/hook",
            post({
                let state = state.clone();
                move || {
                    let state = state.clone();
                    async move {
                        let mut state = state.lock().unwrap();
                        state.1 += 1;
                        if state.0 {
                            StatusCode::GONE
                        } else {
                            state.2 += 1;
                            StatusCode::NO_CONTENT
                        }
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, state }
    }

    fn set_gone(&self, gone: bool) {
        self.state.lock().unwrap().0 = gone;
    }

    fn calls(&self) -> usize {
        self.state.lock().unwrap().1
    }

    fn accepted(&self) -> usize {
        self.state.lock().unwrap().2
    }
}
