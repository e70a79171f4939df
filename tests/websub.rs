//! WebSub end to end, against a hub written here (on 127.0.0.1) and the real daemon: a feed
//! that names the hub is subscribed to and the hub's verification of intent is answered only
//! for the request outstanding; 100 signed pushes alert at the webhook (p50/p99 from push to
//! webhook are printed); pushes with a wrong or missing signature are ignored and logged; a
//! short lease is renewed; while pushed, the feed is hardly polled; when the hub denies or goes
//! away, polling at the normal interval resumes; a feed removed from the config is
//! unsubscribed.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use common::{Daemon, Receiver, Story, TestStore, article_page};
use hmac::{Hmac, KeyInit, Mac};
use tokio::sync::oneshot;

/// One request the hub received, and how the subscriber answered its verification.
#[derive(Clone, Debug)]
struct HubRequest {
    mode: String,
    topic: String,
    callback: String,
    secret: Option<String>,
    /// Whether the callback echoed the challenge with a 200 (`None`: not verified, or denied).
    verified: Option<bool>,
}

/// A WebSub hub: takes (un)subscription requests, answers 202, then verifies them at the
/// callback (or, when `deny` is set, sends a denial instead), granting `lease` seconds.
#[derive(Clone)]
struct Hub {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<HubRequest>>>,
    lease: Arc<AtomicU64>,
    deny: Arc<AtomicBool>,
    stop: Arc<Mutex<Option<oneshot::Sender<()>>>>,
}

impl Hub {
    async fn start(lease: u64) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hub = Self {
            addr: listener.local_addr().unwrap(),
            requests: Arc::default(),
            lease: Arc::new(AtomicU64::new(lease)),
            deny: Arc::default(),
            stop: Arc::default(),
        };
        let app = Router::new()
            .route("/", post(hub_request))
            .with_state(hub.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        *hub.stop.lock().unwrap() = Some(stop);
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        hub
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn requests(&self) -> Vec<HubRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// Stops listening: requests to it are refused from now on.
    fn take_down(&self) {
        if let Some(stop) = self.stop.lock().unwrap().take() {
            let _ = stop.send(());
        }
    }

    async fn wait_for(&self, what: &str, timeout: Duration, done: impl Fn(&[HubRequest]) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(&self.requests()) {
            assert!(
                Instant::now() < deadline,
                "hub: timed out waiting for {what}; got {:?}",
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn hub_request(State(hub): State<Hub>, body: Bytes) -> StatusCode {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (Some(mode), Some(topic), Some(callback)) =
        (field("hub.mode"), field("hub.topic"), field("hub.callback"))
    else {
        return StatusCode::BAD_REQUEST;
    };
    let index = {
        let mut requests = hub.requests.lock().unwrap();
        requests.push(HubRequest {
            mode: mode.clone(),
            topic: topic.clone(),
            callback: callback.clone(),
            secret: field("hub.secret"),
            verified: None,
        });
        requests.len() - 1
    };
    // Verified after the 202, as hubs do (WebSub §5.3: asynchronously).
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        if hub.deny.load(Ordering::SeqCst) {
            let _ = client
                .get(with_query(
                    &callback,
                    &[
                        ("hub.mode", "denied"),
                        ("hub.topic", &topic),
                        ("hub.reason", "not today"),
                    ],
                ))
                .send()
                .await;
            return;
        }
        let challenge = format!("challenge-{index}-{}", rand_token());
        let lease = hub.lease.load(Ordering::SeqCst).to_string();
        let answer = client
            .get(with_query(
                &callback,
                &[
                    ("hub.mode", mode.as_str()),
                    ("hub.topic", topic.as_str()),
                    ("hub.challenge", challenge.as_str()),
                    ("hub.lease_seconds", lease.as_str()),
                ],
            ))
            .send()
            .await;
        let verified = match answer {
            Ok(response) if response.status() == StatusCode::OK => {
                response.text().await.unwrap_or_default() == challenge
            }
            _ => false,
        };
        hub.requests.lock().unwrap()[index].verified = Some(verified);
    });
    StatusCode::ACCEPTED
}

/// `base` with `pairs` as its query (reqwest is built without its `query` feature).
fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(base).unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

fn rand_token() -> String {
    format!("{:x}", rand::random::<u64>())
}

/// A news site whose Atom feed names a hub (and itself, as `rel="self"`).
#[derive(Clone)]
struct Site {
    addr: SocketAddr,
    stories: Arc<Mutex<Vec<Story>>>,
    /// When each feed path was fetched.
    fetches: Arc<Mutex<Vec<(String, Instant)>>>,
    /// Article pages served, by slug.
    pages: Arc<Mutex<Vec<String>>>,
    /// Feed path → the hub it names.
    hubs: Arc<Mutex<Vec<(String, String)>>>,
}

impl Site {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let site = Self {
            addr: listener.local_addr().unwrap(),
            stories: Arc::default(),
            fetches: Arc::default(),
            pages: Arc::default(),
            hubs: Arc::default(),
        };
        let app = Router::new()
            .route("/feeds/{name}", get(site_feed))
            .route("/news/{slug}", get(site_page))
            .with_state(site.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        site
    }

    fn feed_url(&self, name: &str) -> String {
        format!("http://{}/feeds/{name}", self.addr)
    }

    fn set_hub(&self, feed: &str, hub: &Hub) {
        self.hubs
            .lock()
            .unwrap()
            .push((feed.to_string(), hub.url()));
    }

    fn fetches(&self, feed: &str) -> usize {
        self.fetches
            .lock()
            .unwrap()
            .iter()
            .filter(|(f, _)| f == feed)
            .count()
    }

    /// The feed document listing `stories`, as the site serves it and the hub pushes it.
    fn atom(&self, feed: &str, stories: &[Story]) -> String {
        let hub = self
            .hubs
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(f, _)| f == feed)
            .map(|(_, h)| h.clone());
        let hub_link = hub
            .map(|h| format!("<link rel=\"hub\" href=\"{h}\"/>"))
            .unwrap_or_default();
        let entries: String = stories
            .iter()
            .map(|s| {
                format!(
                    "<entry><id>urn:ws:{slug}</id><title>{title}</title><link href=\"http://{addr}/news/{slug}\"/><summary>{summary}</summary><updated>2026-11-30T10:00:00Z</updated></entry>",
                    slug = s.slug,
                    title = s.title,
                    summary = s.summary,
                    addr = self.addr
                )
            })
            .collect();
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>WebSub Daily</title><id>urn:ws</id><updated>2026-11-30T10:00:00Z</updated><link rel=\"self\" href=\"{}\"/>{hub_link}{entries}</feed>",
            self.feed_url(feed)
        )
    }
}

async fn site_feed(State(site): State<Site>, UrlPath(name): UrlPath<String>) -> Response {
    site.fetches
        .lock()
        .unwrap()
        .push((name.clone(), Instant::now()));
    let stories = site.stories.lock().unwrap().clone();
    (
        [(header::CONTENT_TYPE, "application/atom+xml")],
        site.atom(&name, &stories),
    )
        .into_response()
}

async fn site_page(State(site): State<Site>, UrlPath(slug): UrlPath<String>) -> Response {
    site.pages.lock().unwrap().push(slug.clone());
    let story = site
        .stories
        .lock()
        .unwrap()
        .iter()
        .find(|s| s.slug == slug)
        .cloned();
    match story {
        Some(story) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            article_page(&story),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A story the `kingfishers` topic matches on its page only (the feed's summary never says
/// it). Every paragraph differs from story to story: a paragraph a site repeats on every page
/// is furniture to the extractor, and would be dropped.
fn story(slug: &str) -> Story {
    let n: usize = slug
        .bytes()
        .fold(7, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
    Story {
        slug: slug.to_string(),
        title: format!("Harbour report {slug}"),
        summary: "Morning briefing from the harbour.".into(),
        paragraphs: vec![
            format!(
                "The lighthouse keepers of pier {} met on Monday to review report {slug}.",
                n % 97
            ),
            format!(
                "They agreed that the kingfisher survey will continue through the winter, \
                 with {} volunteers counting birds along the estuary every weekend ({slug}).",
                n % 53 + 3
            ),
            format!(
                "Funding of {} thousand comes from the regional council and local fishing \
                 cooperatives, who say report {slug} helps them plan their seasons.",
                n % 89 + 10
            ),
        ],
        related: vec!["Tides and times".into()],
    }
}

/// A free port on 127.0.0.1: `public_url` must name the port before the daemon binds it.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sha256_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_alert_fast_signatures_are_checked_and_leases_renew() {
    // Two-second leases at first, so the renewal is seen; an hour once it was.
    let hub = Hub::start(2).await;
    let site = Site::start().await;
    site.set_hub("news", &hub);
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let port = free_port();
    let config = format!(
        r#"
[daemon]
store = {store}
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}/"
default_interval = "1s"
jitter = 0.0
per_host_spacing = "0s"
first_poll = "alert"
allow_private = ["127.0.0.1/32"]

[[webhook]]
name = "hook"
url = "{hook}"

[[feed]]
name = "news"
url = "{feed}"

[[topic]]
name = "kingfishers"
query = '"kingfisher survey"'
notify = ["hook"]
# The stories differ in a word only: as copies of one story they would alert once.
dedupe = false
"#,
        hook = receiver.url(),
        feed = site.feed_url("news"),
        store = test_store.config_value(),
    );
    let config_path = dir.path().join("feedwatch.toml");
    std::fs::write(&config_path, config).unwrap();
    let daemon = Daemon::start(&config_path, "daemon.log");
    daemon.server_address().await;

    // Subscribed after the first poll, and the challenge echoed.
    hub.wait_for("a verified subscription", Duration::from_secs(20), |r| {
        r.first().is_some_and(|r| r.verified == Some(true))
    })
    .await;
    let first = hub.requests()[0].clone();
    assert_eq!(first.mode, "subscribe");
    assert_eq!(first.topic, site.feed_url("news"));
    let prefix = format!("http://127.0.0.1:{port}/websub/");
    assert!(first.callback.starts_with(&prefix), "{}", first.callback);
    let id = &first.callback[prefix.len()..];
    assert!(
        id.len() >= 40,
        "callback id {id:?} is too short to be unguessable"
    );
    let secret = first.secret.clone().expect("a secret is sent");
    assert!(secret.len() >= 32, "{secret:?}");

    // A verification is echoed only for the request outstanding, with its topic.
    let client = reqwest::Client::new();
    let probe = |callback: String, mode: &'static str, topic: String| {
        let client = client.clone();
        async move {
            client
                .get(with_query(
                    &callback,
                    &[
                        ("hub.mode", mode),
                        ("hub.topic", topic.as_str()),
                        ("hub.challenge", "guess"),
                        ("hub.lease_seconds", "99999"),
                    ],
                ))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let topic = site.feed_url("news");
    assert_eq!(
        probe(first.callback.clone(), "unsubscribe", topic.clone()).await,
        StatusCode::NOT_FOUND,
        "no unsubscribe is outstanding"
    );
    assert_eq!(
        probe(
            first.callback.clone(),
            "subscribe",
            format!("{topic}?other")
        )
        .await,
        StatusCode::NOT_FOUND,
        "another topic"
    );
    assert_eq!(
        probe(format!("{prefix}0{id}"), "subscribe", topic.clone()).await,
        StatusCode::NOT_FOUND,
        "another callback id"
    );

    // The lease of two seconds is renewed (same callback and secret) before it ends.
    hub.wait_for("a verified renewal", Duration::from_secs(10), |r| {
        r.len() >= 2 && r[1].verified == Some(true)
    })
    .await;
    let renewal = hub.requests()[1].clone();
    assert_eq!(renewal.mode, "subscribe");
    assert_eq!(renewal.callback, first.callback);
    assert_eq!(renewal.secret.as_deref(), Some(secret.as_str()));
    hub.lease.store(3600, Ordering::SeqCst);
    daemon
        .wait_for_log("renewed=true", Duration::from_secs(5))
        .await;
    // The renewal after next gets the hour; from then on polls are the slow fallback.
    hub.wait_for("a renewal granted an hour", Duration::from_secs(10), |r| {
        r.iter().filter(|r| r.verified == Some(true)).count() >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fetches_before_pushes = site.fetches("news");

    // 100 pushes, one new story each, signed with the subscription's secret.
    let mut sent = Vec::new();
    for n in 0..100 {
        let slug = format!("push-{n:03}");
        let new = story(&slug);
        site.stories.lock().unwrap().insert(0, new.clone());
        let body = site.atom("news", &[new]);
        let signature = sha256_signature(&secret, body.as_bytes());
        let pushed_at = Instant::now();
        let status = client
            .post(&first.callback)
            .header(header::CONTENT_TYPE, "application/atom+xml")
            .header("X-Hub-Signature", signature)
            .body(body)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "push {n}: {status}");
        sent.push((slug, pushed_at));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.received().len() < 100 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received = receiver.received();
    assert_eq!(
        received.len(),
        100,
        "alerts for 100 pushes; warnings: {}",
        daemon
            .log_text()
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let mut latencies = Vec::new();
    for (slug, pushed_at) in &sent {
        let alert = received
            .iter()
            .find(|r| {
                r.json()["article"]["url"]
                    .as_str()
                    .is_some_and(|u| u.ends_with(&format!("/news/{slug}")))
            })
            .unwrap_or_else(|| panic!("no alert for {slug}"));
        assert_eq!(alert.json()["topic"], "kingfishers");
        latencies.push(alert.at.duration_since(*pushed_at));
    }
    latencies.sort();
    let (p50, p99) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));
    eprintln!(
        "websub push to webhook over {} pushes: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        latencies.len(),
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0,
        latencies.last().unwrap().as_secs_f64() * 1000.0
    );
    assert!(p99 <= Duration::from_secs(1), "p99 {p99:?} (goal: 1 s)");
    // The alerts came from the pushes: the feed was not polled at its one-second interval.
    let polls_during_pushes = site.fetches("news") - fetches_before_pushes;
    assert!(
        polls_during_pushes <= 1,
        "polled {polls_during_pushes} times while pushed"
    );

    // Pushes with a wrong or no signature are answered 2xx, ignored and logged.
    for (slug, signature) in [
        ("forged", Some(sha256_signature("not the secret", b"x"))),
        ("unsigned", None),
    ] {
        let new = story(slug);
        site.stories.lock().unwrap().insert(0, new.clone());
        let body = site.atom("news", &[new]);
        let signature = match signature {
            // Signed with another key over the very body sent.
            Some(_) => sha256_signature("not the secret", body.as_bytes()),
            None => String::new(),
        };
        let mut request = client
            .post(&first.callback)
            .header(header::CONTENT_TYPE, "application/atom+xml")
            .body(body);
        if !signature.is_empty() {
            request = request.header("X-Hub-Signature", signature);
        }
        let status = request.send().await.unwrap().status();
        assert!(status.is_success(), "{slug}: {status}");
    }
    let line = daemon
        .wait_for_log("X-Hub-Signature does not match", Duration::from_secs(5))
        .await;
    assert!(line.contains("news"), "the warning names the feed: {line}");
    assert!(
        daemon
            .log_text()
            .lines()
            .any(|l| l.contains("X-Hub-Signature does not match") && l.contains("missing")),
        "the unsigned push is logged too"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pages = site.pages.lock().unwrap().clone();
    assert!(
        !pages.iter().any(|p| p == "forged" || p == "unsigned"),
        "an unauthenticated push was processed: {pages:?}"
    );
    assert_eq!(
        receiver.received().len(),
        100,
        "no alert for the bad pushes"
    );
    // An unknown callback is a 404, pushed to or not.
    let status = client
        .post(format!("{prefix}nosuchsubscription"))
        .body("<feed/>")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The pushes are counted by result.
    let metrics = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let pushes = |result: &str| -> f64 {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("feedwatch_websub_pushes_total{")
                    && l.contains(&format!("result=\"{result}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {result} pushes in {metrics}"))
    };
    assert_eq!(pushes("accepted"), 100.0);
    assert_eq!(pushes("bad_signature"), 2.0);
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_resumes_when_the_hub_denies_or_goes_away_and_removed_feeds_unsubscribe() {
    let site = Site::start().await;
    let (denying, vanishing, leaving) = (
        Hub::start(3600).await,
        Hub::start(2).await,
        Hub::start(3600).await,
    );
    site.set_hub("denied", &denying);
    site.set_hub("vanished", &vanishing);
    site.set_hub("removed", &leaving);
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let port = free_port();
    let feeds = |names: &[&str]| -> String {
        names
            .iter()
            .map(|name| {
                format!(
                    "[[feed]]\nname = \"{name}\"\nurl = \"{}\"\n",
                    site.feed_url(name)
                )
            })
            .collect()
    };
    let config = |feeds: String| {
        format!(
            r#"
[daemon]
store = {store}
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
default_interval = "500ms"
jitter = 0.0
per_host_spacing = "0s"
allow_private = ["127.0.0.1/32"]

{feeds}"#,
            store = test_store.config_value(),
        )
    };
    let config_path = dir.path().join("feedwatch.toml");
    std::fs::write(
        &config_path,
        config(feeds(&["denied", "vanished", "removed"])),
    )
    .unwrap();
    let daemon = Daemon::start(&config_path, "daemon.log");
    daemon.server_address().await;
    for hub in [&denying, &vanishing, &leaving] {
        hub.wait_for("a verified subscription", Duration::from_secs(20), |r| {
            r.first().is_some_and(|r| r.verified == Some(true))
        })
        .await;
    }
    // Verified: the feeds at 500 ms wait for the fallback poll instead.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = site.fetches("denied");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(site.fetches("denied") <= before + 1, "polled while pushed");

    // The hub denies (WebSub §5.2): normal polling resumes at once.
    let request = denying.requests()[0].clone();
    let status = reqwest::Client::new()
        .get(with_query(
            &request.callback,
            &[
                ("hub.mode", "denied"),
                ("hub.topic", request.topic.as_str()),
                ("hub.reason", "over quota"),
            ],
        ))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    let denied_at = site.fetches("denied");
    wait_until(
        "polling of the denied feed at its interval",
        Duration::from_secs(5),
        || site.fetches("denied") >= denied_at + 4,
    )
    .await;
    daemon
        .wait_for_log("denied the subscription", Duration::from_secs(1))
        .await;
    // `feeds status` shows each feed's subscription, never its callback id or secret.
    let status = {
        let config_path = config_path.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
                .args(["feeds", "status", "--format", "json", "-c"])
                .arg(&config_path)
                .env("FEEDWATCH_LOG", "warn")
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    let stdout = String::from_utf8_lossy(&status.stdout).into_owned();
    let states: Vec<(String, String)> = stdout
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                value["feed"].as_str().unwrap().to_string(),
                value["websub"]["state"]
                    .as_str()
                    .unwrap_or("none")
                    .to_string(),
            )
        })
        .collect();
    assert!(
        states.contains(&("denied".into(), "denied".into())),
        "{stdout}"
    );
    assert!(
        states.contains(&("removed".into(), "verified".into())),
        "{stdout}"
    );
    let first = leaving.requests()[0].clone();
    let id = first.callback.rsplit('/').next().unwrap().to_string();
    assert!(!stdout.contains(&id), "the callback id is shown: {stdout}");
    assert!(
        !stdout.contains(first.secret.as_deref().unwrap()),
        "the secret is shown: {stdout}"
    );

    // The hub of a two-second lease disappears: its renewal fails and polling resumes.
    vanishing.take_down();
    let gone_at = site.fetches("vanished");
    wait_until(
        "polling of the feed whose hub vanished",
        Duration::from_secs(10),
        || site.fetches("vanished") >= gone_at + 4,
    )
    .await;

    // A feed removed from the config is unsubscribed, and the hub's verification answered.
    std::fs::write(&config_path, config(feeds(&["denied", "vanished"]))).unwrap();
    leaving
        .wait_for("a verified unsubscription", Duration::from_secs(20), |r| {
            r.iter()
                .any(|r| r.mode == "unsubscribe" && r.verified == Some(true))
        })
        .await;
    let unsubscribe = leaving
        .requests()
        .into_iter()
        .find(|r| r.mode == "unsubscribe")
        .unwrap();
    assert_eq!(unsubscribe.callback, leaving.requests()[0].callback);
    assert_eq!(unsubscribe.secret, None);
    daemon.stop();
}
