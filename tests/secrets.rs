//! Secrets come from the environment (`${VAR}`) and never show: not in logs (text or JSON,
//! at debug level for every crate), `feeds status`, stored errors, feed-health notices,
//! `/metrics`, `/readyz`, `check` or `alerts list`, whatever the feed does. API keys in feed
//! paths and queries are common, so here the feed answers with a redirect loop whose Location
//! repeats its own secret path, and the error message would quote it; the webhook has a
//! secret in its URL, a signing key and a secret header; the metrics endpoint has a token.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use common::{Receiver, TestStore};

const PATH_SECRET: &str = "p4th-s3cret-7f2a91";
const QUERY_SECRET: &str = "qu3ry-s3cret-c0ffee";
const HOOK_SECRET: &str = "h00k-s3cret-b4dc0d3";
const HEADER_SECRET: &str = "he4der-s3cret-f00d";
const METRICS_SECRET: &str = "m3trics-s3cret-be3f";
/// `whsec_` + base64 of a 24-byte key; the base64 text is the secret.
const SIGNING_KEY: &str = "c2lnbmluZy1zM2NyZXQta2V5LTAxMjM0";

fn with_secrets(command: &mut Command) -> &mut Command {
    command
        .env("FEED_PATH_TOKEN", PATH_SECRET)
        .env("FEED_QUERY_TOKEN", QUERY_SECRET)
        .env("HOOK_TOKEN", HOOK_SECRET)
        .env("HOOK_HEADER", HEADER_SECRET)
        .env("METRICS_TOKEN", METRICS_SECRET)
        .env("SIGNING_SECRET", format!("whsec_{SIGNING_KEY}"))
}

fn output(command: &mut Command) -> String {
    let out = with_secrets(command).output().unwrap();
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_show() {
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
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let config = format!(
        r#"
[daemon]
store = {store}
listen = "127.0.0.1:0"
metrics_token = "${{METRICS_TOKEN}}"
default_interval = "500ms"
jitter = 0.0
per_host_spacing = "0s"
watchlists = []
health_webhook = "hook"
health_threshold = "1s"

[[webhook]]
name = "hook"
url = "{hook}?token=${{HOOK_TOKEN}}"
secret = "${{SIGNING_SECRET}}"
headers = {{ Authorization = "Bearer ${{HOOK_HEADER}}" }}

[[feed]]
name = "secret"
url = "http://{addr}/${{FEED_PATH_TOKEN}}/rss?key=${{FEED_QUERY_TOKEN}}"
"#,
        hook = receiver.url(),
        store = test_store.config_value(),
    );
    let config_path = dir.path().join("feedwatch.toml");
    std::fs::write(&config_path, config).unwrap();
    let log_path = dir.path().join("daemon.log");
    let mut daemon = with_secrets(
        Command::new(env!("CARGO_BIN_EXE_feedwatch"))
            .args(["--log-format", "json", "run", "-c"])
            .arg(&config_path)
            .env("FEEDWATCH_LOG", "debug"),
    )
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
    let log = std::fs::read_to_string(&log_path).unwrap();
    let address = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find_map(|line| line["address"].as_str().map(str::to_string))
        .expect("the log names the server's address");
    let client = reqwest::Client::new();
    let mut served = String::new();
    for path in ["/metrics", "/readyz", "/healthz"] {
        let response = client
            .get(format!("http://{address}{path}"))
            .bearer_auth(METRICS_SECRET)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        served.push_str(&response.text().await.unwrap());
    }
    let status_json = output(
        Command::new(env!("CARGO_BIN_EXE_feedwatch"))
            .args(["feeds", "status", "--format", "json", "-c"])
            .arg(&config_path),
    );
    let others: Vec<String> = [
        &["feeds", "status", "-c"][..],
        &["alerts", "list", "-c"],
        &["check", "-c"],
    ]
    .iter()
    .map(|args| {
        output(
            Command::new(env!("CARGO_BIN_EXE_feedwatch"))
                .args(*args)
                .arg(&config_path),
        )
    })
    .collect();
    let others = others.join("\n");
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let _ = daemon.wait();

    let row: serde_json::Value =
        serde_json::from_str(status_json.lines().next().unwrap_or_default()).unwrap();
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
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.lines().count() > 10, "the debug log says something");
    let everything = [
        ("daemon log", log),
        (
            "daemon stdout",
            std::fs::read_to_string(dir.path().join("daemon.out")).unwrap(),
        ),
        ("served endpoints", served),
        ("feeds status --format json", status_json),
        ("status, alerts list, check", others),
        (
            "webhook bodies",
            receiver
                .received()
                .iter()
                .map(|r| r.body.clone())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    ];
    for (what, output) in &everything {
        for secret in [
            PATH_SECRET,
            QUERY_SECRET,
            HOOK_SECRET,
            HEADER_SECRET,
            METRICS_SECRET,
            SIGNING_KEY,
        ] {
            assert!(
                !output.contains(secret),
                "{what} shows the secret {secret}: {output}"
            );
        }
    }
}
