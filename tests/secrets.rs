//! `${VAR}` values in a feed URL are secrets (API keys in paths and queries are common): they
//! must not show in logs, `feeds status`, stored errors or feed-health notices, whatever the
//! feed does. Here the feed answers with a redirect loop whose Location repeats its own secret
//! path, so the error message would quote it.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use common::Receiver;

const PATH_SECRET: &str = "p4th-s3cret-7f2a91";
const QUERY_SECRET: &str = "qu3ry-s3cret-c0ffee";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_url_secrets_never_show() {
    let app = Router::new().route(
        "/{token}/rss",
        get(|| async move {
            (
                StatusCode::FOUND,
                [(
                    header::LOCATION,
                    format!("/{PATH_SECRET}/rss?key={QUERY_SECRET}"),
                )],
            )
                .into_response()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let receiver = Receiver::start().await;

    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"
[daemon]
store = "sqlite://feedwatch.db"
default_interval = "500ms"
jitter = 0.0
per_host_spacing = "0s"
watchlists = []
health_webhook = "hook"
health_threshold = "1s"

[[webhook]]
name = "hook"
url = "{hook}"

[[feed]]
name = "secret"
url = "http://{addr}/${{FEED_PATH_TOKEN}}/rss?key=${{FEED_QUERY_TOKEN}}"
"#,
        hook = receiver.url(),
    );
    let config_path = dir.path().join("feedwatch.toml");
    std::fs::write(&config_path, config).unwrap();
    let log_path = dir.path().join("daemon.log");
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args(["run", "-c"])
        .arg(&config_path)
        .env("FEEDWATCH_LOG", "debug")
        .env("FEED_PATH_TOKEN", PATH_SECRET)
        .env("FEED_QUERY_TOKEN", QUERY_SECRET)
        .stdout(std::fs::File::create(dir.path().join("daemon.out")).unwrap())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();

    // Wait for the failing-feed notice, which quotes the URL and the last error.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !receiver
        .received()
        .iter()
        .any(|r| r.json()["type"] == "feedwatch.feed_health")
    {
        assert!(Instant::now() < deadline, "no feed-health notice");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args(["feeds", "status", "--format", "json", "-c"])
        .arg(&config_path)
        .env("FEED_PATH_TOKEN", PATH_SECRET)
        .env("FEED_QUERY_TOKEN", QUERY_SECRET)
        .output()
        .unwrap();
    let text_status = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args(["feeds", "status", "-c"])
        .arg(&config_path)
        .env("FEED_PATH_TOKEN", PATH_SECRET)
        .env("FEED_QUERY_TOKEN", QUERY_SECRET)
        .output()
        .unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let _ = daemon.wait();

    let status_json = String::from_utf8_lossy(&status.stdout).to_string();
    let row: serde_json::Value = serde_json::from_str(status_json.trim()).unwrap();
    assert!(
        row["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("redirect loop"),
        "{row}"
    );
    assert!(
        row["url"]
            .as_str()
            .unwrap_or_default()
            .contains("${FEED_PATH_TOKEN}"),
        "the URL is shown as the config writes it: {row}"
    );
    let everything = [
        std::fs::read_to_string(&log_path).unwrap(),
        status_json,
        String::from_utf8_lossy(&status.stderr).to_string(),
        String::from_utf8_lossy(&text_status.stdout).to_string(),
        String::from_utf8_lossy(&text_status.stderr).to_string(),
        receiver
            .received()
            .iter()
            .map(|r| r.body.clone())
            .collect::<Vec<_>>()
            .join("\n"),
    ];
    for (i, output) in everything.iter().enumerate() {
        for secret in [PATH_SECRET, QUERY_SECRET] {
            assert!(
                !output.contains(secret),
                "output #{i} shows the secret {secret}: {output}"
            );
        }
    }
}
