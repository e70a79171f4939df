//! An article page that fails in a way that may pass (503, a timeout) is tried again later
//! rather than given up at once: one that answers 503 twice and then 200 still yields an alert
//! that matches its full text, and one that keeps failing falls back to the feed's text after
//! `article_attempts` tries, with nothing lost either way.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::{Daemon, Receiver, Story, TestStore, article_page};

#[derive(Default)]
struct Site {
    /// Requests per page slug.
    requests: HashMap<String, usize>,
}

/// "recovers" answers 503 twice, then its page; "down" always answers 503.
async fn flaky_site(site: Arc<Mutex<Site>>) -> std::net::SocketAddr {
    async fn feed(headers: axum::http::HeaderMap) -> Response {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let item = |slug: &str, title: &str| {
            format!(
                "<item><title>{title}</title><link>http://{host}/news/{slug}</link><guid>{slug}</guid><description>Nothing to see.</description></item>"
            )
        };
        let body = format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Flaky</title>{}{}</channel></rss>",
            item("recovers", "A quiet Monday"),
            item("down", "Mothers and wives, in the headline only"),
        );
        ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response()
    }
    async fn page(
        State(site): State<Arc<Mutex<Site>>>,
        UrlPath(slug): UrlPath<String>,
    ) -> Response {
        let seen = {
            let mut site = site.lock().unwrap();
            let count = site.requests.entry(slug.clone()).or_default();
            *count += 1;
            *count
        };
        if slug == "down" || seen <= 2 {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        let story = Story {
            slug,
            title: "A quiet Monday".into(),
            summary: "Nothing to see.".into(),
            paragraphs: vec!["The mothers and wives of mobilized soldiers gathered outside the ministry on Monday to demand answers about their sons and husbands.".into()],
            related: vec![],
        };
        (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            article_page(&story),
        )
            .into_response()
    }
    let app = Router::new()
        .route("/rss.xml", get(feed))
        .route("/news/{slug}", get(page))
        .with_state(site);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_fails_twice_then_answers_still_alerts_on_its_full_text() {
    let site = Arc::new(Mutex::new(Site::default()));
    let addr = flaky_site(site.clone()).await;
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
default_interval = "1h"
first_poll = "alert"
allow_private = ["127.0.0.1/32"]
watchlists = []
article_attempts = 3
article_retry = "300ms"

[[webhook]]
name = "hook"
url = "{hook}"

[[topic]]
name = "mothers"
query = '"mothers and wives"'
notify = ["hook"]

[[feed]]
name = "flaky"
url = "http://{addr}/rss.xml"
"#,
        hook = receiver.url(),
        store = test_store.config_value(),
    );
    let config_path = dir.path().join("feedwatch.toml");
    std::fs::write(&config_path, config).unwrap();
    let started = Instant::now();
    let daemon = Daemon::start(&config_path, "daemon.log");

    // The page is tried at the poll, 300 ms later and 1.5 s after that: the third try gets it.
    let received = receiver.wait_for(2, Duration::from_secs(20)).await;
    let took = started.elapsed();
    let alerts: Vec<serde_json::Value> = received.iter().map(|r| r.json()).collect();
    let by_link = |slug: &str| {
        alerts
            .iter()
            .find(|a| {
                a["article"]["url"]
                    .as_str()
                    .is_some_and(|u| u.ends_with(&format!("/news/{slug}")))
            })
            .unwrap_or_else(|| panic!("no alert for {slug}: {alerts:?}"))
            .clone()
    };
    // Only the page says "mothers and wives": this alert proves the full text was matched.
    let recovered = by_link("recovers");
    assert!(
        recovered["snippets"][0]
            .as_str()
            .unwrap()
            .contains("gathered outside the ministry"),
        "{recovered}"
    );
    // The page that stayed down was tried three times, then its item matched on its title.
    let fell_back = by_link("down");
    assert_eq!(
        fell_back["article"]["title"],
        "Mothers and wives, in the headline only"
    );
    let requests = site.lock().unwrap().requests.clone();
    assert_eq!(requests.get("recovers"), Some(&3), "{requests:?}");
    assert_eq!(requests.get("down"), Some(&3), "{requests:?}");
    println!("both alerts within {took:?} of the start");
    let log = daemon.log_text();
    assert!(
        log.contains("it is tried again later"),
        "the retries are logged: {log}"
    );

    // Nothing is tried again or alerted twice afterwards.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(site.lock().unwrap().requests.get("down"), Some(&3));
    daemon.stop();
}
