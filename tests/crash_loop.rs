//! A feed whose polls keep dying with the process (here: kill -9 while its server is still
//! answering) must not turn restarts into a crash loop. After each death the restarted daemon
//! backs that feed off instead of polling it at once; after three deaths in a row it is
//! quarantined, the health webhook hears of it and `feeds status` says why; the other feeds
//! keep alerting throughout; and `feeds resume` lifts the quarantine.

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use common::{Daemon, NewsSite, Receiver, Story, TestStore};

/// A feed server that answers slowly enough for every poll of it to still be running when
/// the test kills the daemon. Records when each request arrived.
async fn stuck_feed(hits: Arc<Mutex<Vec<Instant>>>) -> std::net::SocketAddr {
    let app = Router::new().route(
        "/stuck.xml",
        get(move || {
            hits.lock().unwrap().push(Instant::now());
            async move {
                let drip = futures_util::stream::unfold(0u32, |n| async move {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    Some((Ok::<_, std::io::Error>(vec![b' ']), n + 1))
                });
                (
                    [(header::CONTENT_TYPE, "application/rss+xml")],
                    Body::from_stream(drip),
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn story(slug: &str) -> Story {
    Story {
        slug: slug.into(),
        title: format!("Mothers and wives gather ({slug})"),
        summary: "x".into(),
        paragraphs: vec!["The mothers and wives of mobilized soldiers gathered outside the ministry on Monday to demand answers.".into()],
        related: vec![],
    }
}

async fn wait_for_hit(hits: &Arc<Mutex<Vec<Instant>>>, count: usize, timeout: Duration) -> Instant {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(at) = hits.lock().unwrap().get(count - 1) {
            return *at;
        }
        assert!(
            Instant::now() < deadline,
            "the stuck feed was not polled a {count}. time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn feed_status(config: &std::path::Path, feed: &str) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args(["feeds", "status", "--format", "json", "-c"])
        .arg(config)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|row| row["feed"] == feed)
        .unwrap_or_else(|| panic!("no status for {feed}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_keeps_killing_the_daemon_is_backed_off_then_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let hits = Arc::new(Mutex::new(Vec::new()));
    let stuck = stuck_feed(hits.clone()).await;
    let site = NewsSite::start().await;
    let receiver = Receiver::start().await;
    let config = format!(
        r#"
[daemon]
store = {store}
listen = "127.0.0.1:0"
default_interval = "1s"
jitter = 0.0
per_host_spacing = "0s"
fetch_timeout = "60s"
read_timeout = "60s"
first_poll = "alert"
watchlists = []
health_webhook = "hook"

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

[[feed]]
name = "stuck"
url = "http://{stuck}/stuck.xml"
"#,
        hook = receiver.url(),
        good = site.url("/rss.xml"),
        store = test_store.config_value(),
    );
    let config_path = dir.path().join("feedwatch.toml");
    std::fs::write(&config_path, config).unwrap();
    let topic_alerts = |receiver: &Receiver| {
        receiver
            .received()
            .iter()
            .filter(|r| r.json()["type"] == "feedwatch.alert")
            .count()
    };

    for death in 1..=3 {
        let started = Instant::now();
        let daemon = Daemon::start(&config_path, &format!("daemon-{death}.log"));
        // The good feed keeps alerting whatever happens to the other one.
        let before = topic_alerts(&receiver);
        site.add_rss(story(&format!("story-{death}")));
        let deadline = Instant::now() + Duration::from_secs(15);
        while topic_alerts(&receiver) <= before {
            assert!(
                Instant::now() < deadline,
                "the good feed stopped alerting; log: {}",
                daemon.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let polled_at = wait_for_hit(&hits, death, Duration::from_secs(40)).await;
        if death > 1 {
            // Not at once: only after the dead process's poll was recovered and backed off.
            let after = polled_at - started;
            assert!(
                after >= Duration::from_secs(5),
                "after death {} the stuck feed was polled again {after:?} after the restart",
                death - 1
            );
            println!(
                "after death {}: polled again {after:?} after the restart",
                death - 1
            );
        }
        // Mid-poll: the server is still dripping the body.
        tokio::time::sleep(Duration::from_millis(300)).await;
        daemon.kill9();
    }

    let daemon = Daemon::start(&config_path, "daemon-final.log");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = feed_status(&config_path, "stuck");
        if status["status"] == "quarantined" {
            let reason = status["quarantined_reason"].as_str().unwrap().to_string();
            assert!(reason.contains("died during 3 polls"), "{reason}");
            assert!(reason.contains("feeds resume stuck"), "{reason}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stuck feed was not quarantined: {status}; log: {}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !receiver.received().iter().any(|r| {
        let notice = r.json();
        notice["type"] == "feedwatch.feed_health" && notice["status"] == "quarantined"
    }) {
        assert!(
            Instant::now() < deadline,
            "no quarantine notice reached the health webhook"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Quarantined: not polled any more, while the good feed still alerts.
    let hits_then = hits.lock().unwrap().len();
    let before = topic_alerts(&receiver);
    site.add_rss(story("after-quarantine"));
    let deadline = Instant::now() + Duration::from_secs(15);
    while topic_alerts(&receiver) <= before {
        assert!(Instant::now() < deadline, "the good feed stopped alerting");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        hits.lock().unwrap().len(),
        hits_then,
        "a quarantined feed was polled"
    );
    daemon.stop();

    let resumed = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args(["feeds", "resume", "stuck", "-c"])
        .arg(&config_path)
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{resumed:?}");
    let status = feed_status(&config_path, "stuck");
    assert_ne!(status["status"], "quarantined", "{status}");
    assert_eq!(status["interrupted_polls"], 0);
}
