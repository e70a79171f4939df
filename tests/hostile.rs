//! Hostile and broken sources, each on a local server: a gzip bomb, a server that drips one
//! byte at a time, a redirect loop, an endless body, a feed that is gone (410), one that moved
//! (301), one that throttles (429 + Retry-After), and article links that point at a private
//! address. Each costs its own feed a clear error; a good feed polled alongside keeps alerting,
//! and the daemon's memory stays bounded.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::{Daemon, NewsSite, Receiver, Story, TestStore};

fn rss(items: &[(&str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(guid, link)| {
            format!("<item><title>Mothers and wives protest {guid}</title><link>{link}</link><guid>{guid}</guid><description>The mothers and wives of soldiers.</description></item>")
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>{items}</channel></rss>"
    )
}

#[derive(Default)]
struct Hits {
    paths: Vec<String>,
}

/// The hostile server on 127.0.0.1, and a "private" page server on 127.0.0.2.
async fn hostile_servers(hits: Arc<Mutex<Hits>>, private: SocketAddr) -> SocketAddr {
    let record =
        |hits: &Arc<Mutex<Hits>>, path: &str| hits.lock().unwrap().paths.push(path.to_string());
    let bomb = {
        // 64 MiB of zeros compress to about 64 KiB.
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..64 {
            encoder.write_all(&zeros).unwrap();
        }
        Arc::new(encoder.finish().unwrap())
    };
    let app = Router::new()
        .route(
            "/bomb.xml",
            get({
                let hits = hits.clone();
                move || {
                    record(&hits, "/bomb.xml");
                    let bomb = bomb.clone();
                    async move {
                        (
                            [
                                (header::CONTENT_ENCODING, "gzip"),
                                (header::CONTENT_TYPE, "application/rss+xml"),
                            ],
                            (*bomb).clone(),
                        )
                            .into_response()
                    }
                }
            }),
        )
        .route(
            "/drip.xml",
            get({
                let hits = hits.clone();
                move || {
                    record(&hits, "/drip.xml");
                    async {
                        let stream = futures_util::stream::unfold(0u32, |n| async move {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            (n < 10_000).then(|| (Ok::<_, std::io::Error>(vec![b' ']), n + 1))
                        });
                        Response::new(Body::from_stream(stream))
                    }
                }
            }),
        )
        .route(
            "/endless.xml",
            get({
                let hits = hits.clone();
                move || {
                    record(&hits, "/endless.xml");
                    async {
                        let stream = futures_util::stream::unfold(0u32, |n| async move {
                            (n < 1_000_000)
                                .then(|| (Ok::<_, std::io::Error>(vec![b'x'; 64 * 1024]), n + 1))
                        });
                        Response::new(Body::from_stream(stream))
                    }
                }
            }),
        )
        .route(
            "/loop-a.xml",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop-b.xml")]) }),
        )
        .route(
            "/loop-b.xml",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop-a.xml")]) }),
        )
        .route(
            "/gone.xml",
            get({
                let hits = hits.clone();
                move || {
                    record(&hits, "/gone.xml");
                    async { StatusCode::GONE }
                }
            }),
        )
        .route(
            "/old.xml",
            get(|| async {
                (
                    StatusCode::MOVED_PERMANENTLY,
                    [(header::LOCATION, "/new.xml")],
                )
            }),
        )
        .route(
            "/new.xml",
            get({
                let hits = hits.clone();
                move || {
                    record(&hits, "/new.xml");
                    async { rss(&[]) }
                }
            }),
        )
        .route(
            "/busy.xml",
            get({
                let hits = hits.clone();
                move || {
                    record(&hits, "/busy.xml");
                    async { (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "30")]) }
                }
            }),
        )
        .route(
            "/ssrf.xml",
            get(move || async move {
                rss(&[
                    ("direct", &format!("http://{private}/secret")),
                    ("redirected", "/to-private"),
                ])
            }),
        )
        .route(
            "/sneaky.xml",
            get(move || async move {
                (
                    StatusCode::MOVED_PERMANENTLY,
                    [(header::LOCATION, format!("http://{private}/feed.xml"))],
                )
            }),
        )
        .route(
            "/to-private",
            get(move || async move {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, format!("http://{private}/secret"))],
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_feeds_cost_only_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    // The "private" server: nothing may ever reach it.
    let private_hits = Arc::new(Mutex::new(0usize));
    let private = {
        let hits = private_hits.clone();
        let app = Router::new().fallback(move || {
            let hits = hits.clone();
            async move {
                *hits.lock().unwrap() += 1;
                "secret"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    };
    let hits = Arc::new(Mutex::new(Hits::default()));
    let hostile = hostile_servers(hits.clone(), private).await;
    let site = NewsSite::start().await;
    let receiver = Receiver::start().await;

    let mut config = format!(
        r#"
[daemon]
store = {store}
listen = "127.0.0.1:0"
default_interval = "500ms"
jitter = 0.0
per_host_spacing = "0s"
per_host_concurrency = 8
fetch_timeout = "2s"
read_timeout = "1s"
max_body_bytes = 1048576
allow_private = ["127.0.0.1/32"]
watchlists = []
first_poll = "alert"
health_webhook = "hook"
health_threshold = "1s"

[[webhook]]
name = "hook"
url = "{hook}"

[[topic]]
name = "mothers"
query = '"mothers and wives"'
notify = ["hook"]
feeds = ["good"]

[[feed]]
name = "good"
url = "{good}"
"#,
        hook = receiver.url(),
        good = site.url("/rss.xml"),
        store = test_store.config_value(),
    );
    for name in [
        "bomb", "drip", "endless", "loop-a", "gone", "old", "busy", "ssrf", "sneaky",
    ] {
        config.push_str(&format!(
            "\n[[feed]]\nname = \"{name}\"\nurl = \"http://{hostile}/{name}.xml\"\n"
        ));
    }
    let config_path = dir.path().join("feedwatch.toml");
    std::fs::write(&config_path, config).unwrap();

    let daemon = Daemon::start(&config_path, "daemon.log");
    site.wait_for_requests("/rss.xml", 2, Duration::from_secs(20))
        .await;
    // The good feed alerts on time while the others misbehave.
    let added = Instant::now();
    site.add_rss(Story {
        slug: "fresh".into(),
        title: "Mothers and wives gather".into(),
        summary: "x".into(),
        paragraphs: vec!["The mothers and wives of mobilized soldiers gathered outside the ministry on Monday to demand answers about their sons and husbands.".into()],
        related: vec![],
    });
    let received = receiver.wait_for(1, Duration::from_secs(20)).await;
    let latency = received[0].at - added;
    assert!(
        latency < Duration::from_secs(5),
        "good feed's alert took {latency:?}"
    );

    // Let the hostile feeds fail a few times (the drip needs its 2 s timeout).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let peak = peak_rss_mib(daemon.pid());
    let status = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args(["feeds", "status", "--format", "json", "-c"])
        .arg(&config_path)
        .output()
        .unwrap();
    daemon.stop();
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&status.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["feed"] == name)
            .unwrap_or_else(|| {
                panic!(
                    "no status for {name}: {}",
                    String::from_utf8_lossy(&status.stdout)
                )
            })
            .clone()
    };
    let error = |name: &str| {
        row(name)["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(row("good")["status"], "ok");
    assert!(error("bomb").contains("limit"), "bomb: {}", error("bomb"));
    assert!(
        error("drip").contains("timed out"),
        "drip: {}",
        error("drip")
    );
    assert!(
        error("endless").contains("limit"),
        "endless: {}",
        error("endless")
    );
    assert!(
        error("loop-a").contains("redirect loop"),
        "loop: {}",
        error("loop-a")
    );
    assert_eq!(row("gone")["status"], "stopped");
    assert!(
        row("gone")["stopped_reason"]
            .as_str()
            .unwrap()
            .contains("410")
    );
    assert_eq!(row("old")["status"], "ok");
    assert!(
        row("old")["moved_to"]
            .as_str()
            .unwrap()
            .ends_with("/new.xml")
    );
    assert!(error("busy").contains("429"), "busy: {}", error("busy"));
    // A configured feed that redirects to another host is guarded like an article link.
    assert!(
        error("sneaky").contains("not a public address"),
        "sneaky: {}",
        error("sneaky")
    );
    assert!(row("sneaky")["moved_to"].is_null());
    assert_eq!(
        status.status.code(),
        Some(2),
        "unhealthy feeds make `feeds status` exit 2"
    );

    let paths = hits.lock().unwrap().paths.clone();
    let count = |p: &str| paths.iter().filter(|x| *x == p).count();
    assert_eq!(count("/gone.xml"), 1, "a 410 feed is not polled again");
    assert!(
        count("/new.xml") >= 2,
        "the moved feed is polled at its new URL"
    );
    assert_eq!(count("/busy.xml"), 1, "Retry-After: 30 is respected");
    assert_eq!(
        *private_hits.lock().unwrap(),
        0,
        "no request reached the private address"
    );
    assert!(peak < 200, "daemon peak memory {peak} MiB");

    // The health webhook heard about the failing feeds.
    let health: Vec<serde_json::Value> = receiver
        .received()
        .iter()
        .map(|r| r.json())
        .filter(|j| j["type"] == "feedwatch.feed_health")
        .collect();
    assert!(
        health
            .iter()
            .any(|h| h["feed"] == "drip" && h["status"] == "failing"),
        "{health:?}"
    );
    println!("good feed alert latency {latency:?}; daemon peak RSS {peak} MiB");
}
