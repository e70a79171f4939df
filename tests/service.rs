//! The daemon as a service: its HTTP endpoints (/healthz, /readyz, /metrics behind a token),
//! metrics that parse as Prometheus text and move when a poll and a delivery happen, config
//! reloads on a file change and on SIGHUP (a new topic matches the next article, a new feed is
//! polled), a broken reload that keeps the old config running and says where the mistake is,
//! and the readiness, reload, watchdog and stopping messages systemd reads from NOTIFY_SOCKET.

mod common;

use std::collections::HashMap;
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Daemon, NewsSite, Receiver, Story, TestStore};

const TOKEN: &str = "scrape-token-5d1e";

fn story(slug: &str, title: &str, paragraph: &str) -> Story {
    Story {
        slug: slug.into(),
        title: title.into(),
        summary: "x".into(),
        paragraphs: vec![paragraph.into()],
        related: vec![],
    }
}

/// Every metric sample's value, by name and labels, e.g. `feedwatch_alerts_created_total{topic="mothers"}`.
/// Metrics appear once first recorded; `documented` must be there, each with its help text.
async fn scrape(client: &reqwest::Client, base: &str, documented: &[&str]) -> HashMap<String, f64> {
    let response = client
        .get(format!("{base}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("/metrics is Prometheus text");
    for name in documented {
        assert!(parsed.docs.contains_key(*name), "no help text for {name}");
    }
    parsed
        .samples
        .into_iter()
        .map(|sample| {
            let mut labels: Vec<String> = sample
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            labels.sort();
            let value = match sample.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            };
            (format!("{}{{{}}}", sample.metric, labels.join(",")), value)
        })
        .collect()
}

/// Reads what the daemon told systemd so far.
fn notifications(socket: &UnixDatagram) -> Vec<String> {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(len) = socket.recv(&mut buffer) {
        seen.extend(
            String::from_utf8_lossy(&buffer[..len])
                .lines()
                .map(str::to_string),
        );
    }
    seen
}

fn alerts_of(receiver: &Receiver, topic: &str) -> usize {
    receiver
        .received()
        .iter()
        .filter(|r| r.json()["topic"] == topic)
        .count()
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_metrics_reload_and_systemd() {
    let site = NewsSite::start().await;
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_nonblocking(true).unwrap();
    std::fs::create_dir(dir.path().join("watchlists")).unwrap();
    let config = format!(
        r#"
[daemon]
store = {store}
listen = "127.0.0.1:0"
metrics_token = "${{FEEDWATCH_METRICS_TOKEN}}"
default_interval = "300ms"
jitter = 0.0
per_host_spacing = "0s"
first_poll = "alert"
allow_private = ["127.0.0.1/32"]

[[webhook]]
name = "hook"
url = "{hook}"

[[feed]]
name = "rss"
url = "{rss}"
"#,
        hook = receiver.url(),
        rss = site.url("/rss.xml"),
        store = test_store.config_value(),
    );
    let config_path = dir.path().join("feedwatch.toml");
    std::fs::write(&config_path, config).unwrap();
    let watchlist = dir.path().join("watchlists/topics.toml");
    let first_topic =
        "[[topic]]\nname = \"mothers\"\nquery = '\"mothers and wives\"'\nnotify = [\"hook\"]\n";
    std::fs::write(&watchlist, first_topic).unwrap();

    let daemon = Daemon::start_with(
        &config_path,
        "daemon.log",
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "30000000"),
            ("FEEDWATCH_METRICS_TOKEN", TOKEN),
        ],
        &[],
    );
    let base = format!("http://{}", daemon.server_address().await);
    let client = reqwest::Client::new();

    // Health and readiness; everything but /healthz wants the token.
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let denied = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let denied = client
        .get(format!("{base}/readyz"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let mut ready = serde_json::Value::Null;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let response = client
            .get(format!("{base}/readyz"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let status = response.status();
        ready = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["checks"]["store"], "ok");
    assert_eq!(ready["checks"]["scheduler"], "ok");

    // A poll and a delivery move the counters.
    let before = scrape(
        &client,
        &base,
        &["feedwatch_build_info", "feedwatch_outbox_pending"],
    )
    .await;
    site.add_rss(story(
        "one",
        "Mothers and wives gather",
        "The mothers and wives of mobilized soldiers gathered outside the ministry.",
    ));
    receiver.wait_for(1, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = scrape(
        &client,
        &base,
        &[
            "feedwatch_fetches_total",
            "feedwatch_fetch_duration_seconds",
            "feedwatch_items_new_total",
            "feedwatch_alerts_created_total",
            "feedwatch_deliveries_total",
            "feedwatch_articles_total",
            "feedwatch_extraction_duration_seconds",
            "feedwatch_analysis_duration_seconds",
            "feedwatch_outbox_oldest_pending_age_seconds",
            "feedwatch_feeds_failing",
        ],
    )
    .await;
    let value = |m: &HashMap<String, f64>, key: &str| m.get(key).copied().unwrap_or(0.0);
    let fetched_ok = r#"feedwatch_fetches_total{feed="rss",result="ok"}"#;
    assert!(
        value(&after, fetched_ok) > value(&before, fetched_ok),
        "{after:?}"
    );
    let alerts = r#"feedwatch_alerts_created_total{topic="mothers"}"#;
    assert_eq!(
        value(&after, alerts) - value(&before, alerts),
        1.0,
        "{after:?}"
    );
    let delivered = r#"feedwatch_deliveries_total{result="delivered",webhook="hook"}"#;
    assert_eq!(value(&after, delivered) - value(&before, delivered), 1.0);
    assert_eq!(
        value(&after, r#"feedwatch_outbox_pending{webhook="hook"}"#),
        0.0
    );
    assert_eq!(
        value(
            &after,
            &format!(
                r#"feedwatch_build_info{{version="{}"}}"#,
                env!("CARGO_PKG_VERSION")
            )
        ),
        1.0
    );

    // A reload by file change: a new topic matches the next article.
    std::fs::write(
        &watchlist,
        format!("{first_topic}\n[[topic]]\nname = \"protests\"\nquery = 'picket*'\nnotify = [\"hook\"]\n"),
    )
    .unwrap();
    let applied = daemon
        .wait_for_log("config applied", Duration::from_secs(15))
        .await;
    assert!(applied.contains("topics added: protests"), "{applied}");
    site.add_rss(story(
        "two",
        "A quiet weekend",
        "Residents held pickets outside the town hall on Saturday.",
    ));
    let deadline = Instant::now() + Duration::from_secs(15);
    while alerts_of(&receiver, "protests") != 1 {
        assert!(
            Instant::now() < deadline,
            "the new topic did not alert; log: {}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A broken reload: located error, the old config keeps working, still ready.
    std::fs::write(
        &watchlist,
        format!("{first_topic}\n[[topic]]\nname = \"protests\"\nquery = '(picket*'\nnotify = [\"hook\"]\n"),
    )
    .unwrap();
    let failed = daemon
        .wait_for_log("config reload failed", Duration::from_secs(15))
        .await;
    let log = daemon.log_text();
    assert!(
        log.contains("topics.toml:8:"),
        "the error names the file and line: {failed}\n{log}"
    );
    let readyz = client
        .get(format!("{base}/readyz"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(readyz.status(), 200);
    site.add_rss(story(
        "three",
        "Another weekend",
        "Pickets again, and the mothers and wives of soldiers joined them.",
    ));
    wait_until(
        "alerts under the old config",
        Duration::from_secs(15),
        || alerts_of(&receiver, "protests") == 2 && alerts_of(&receiver, "mothers") == 2,
    )
    .await;

    // A reload by SIGHUP adds a feed, which is polled, and moves the webhook to another
    // receiver, which gets the next delivery.
    let moved = Receiver::start().await;
    std::fs::write(&watchlist, first_topic).unwrap();
    let mut main = std::fs::read_to_string(&config_path)
        .unwrap()
        .replace(&receiver.url(), &moved.url());
    main.push_str(&format!(
        "\n[[feed]]\nname = \"atom\"\nurl = \"{}\"\n",
        site.url("/atom.xml")
    ));
    std::fs::write(&config_path, main).unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &daemon.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    site.wait_for_requests("/atom.xml", 1, Duration::from_secs(15))
        .await;
    site.add_atom(story(
        "four",
        "Mothers and wives, again",
        "The mothers and wives of mobilized soldiers wrote to the governor.",
    ));
    let delivered = moved.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(delivered[0].json()["topic"], "mothers");
    assert_eq!(
        alerts_of(&receiver, "mothers"),
        2,
        "the old URL got nothing more"
    );
    let reloads = scrape(&client, &base, &["feedwatch_config_reloads_total"]).await;
    assert!(value(&reloads, r#"feedwatch_config_reloads_total{result="ok"}"#) >= 2.0);
    assert!(
        value(
            &reloads,
            r#"feedwatch_config_reloads_total{result="error"}"#
        ) >= 1.0
    );

    daemon.stop();
    let told = notifications(&socket);
    for expected in ["READY=1", "WATCHDOG=1", "RELOADING=1", "STOPPING=1"] {
        assert!(
            told.iter().any(|line| line == expected),
            "systemd was not told {expected}: {told:?}"
        );
    }
    assert!(told.iter().any(|line| line.starts_with("MONOTONIC_USEC=")));
    assert!(told.iter().any(|line| line.starts_with("STATUS=polling")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_naming_what_they_are_about() {
    let site = NewsSite::start().await;
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let config = format!(
        r#"
[daemon]
store = {store}
listen = "127.0.0.1:0"
default_interval = "300ms"
jitter = 0.0
per_host_spacing = "0s"
first_poll = "alert"
allow_private = ["127.0.0.1/32"]
watchlists = []

[[webhook]]
name = "hook"
url = "{hook}"

[[topic]]
name = "mothers"
query = '"mothers and wives"'
notify = ["hook"]

[[feed]]
name = "rss"
url = "{rss}"
"#,
        hook = receiver.url(),
        rss = site.url("/rss.xml"),
        store = test_store.config_value(),
    );
    let config_path = dir.path().join("feedwatch.toml");
    std::fs::write(&config_path, config).unwrap();
    site.add_rss(story(
        "one",
        "Mothers and wives gather",
        "The mothers and wives of mobilized soldiers gathered outside the ministry.",
    ));
    let daemon = Daemon::start_with(&config_path, "daemon.log", &[], &["--log-format", "json"]);
    receiver.wait_for(1, Duration::from_secs(15)).await;
    daemon
        .wait_for_log("alert delivered", Duration::from_secs(10))
        .await;
    let log = daemon.log_text();
    daemon.stop();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let by_message = |message: &str| {
        lines
            .iter()
            .find(|l| l["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} line in {log}"))
            .clone()
    };
    assert_eq!(by_message("new alerts")["feed"], "rss");
    let delivered = by_message("alert delivered");
    assert!(delivered["alert"].is_string() && delivered["sink"] == "webhook `hook`");
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string())
    );
}
