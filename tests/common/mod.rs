//! Real local servers for integration tests, all on 127.0.0.1: a news site (RSS and Atom feeds
//! plus article pages wrapped in realistic boilerplate) and a webhook receiver that can be
//! taken down and brought back on the same port, or made to hang (accept a request and never
//! answer it). Also runs the feedwatch binary as a daemon, and gives each test a store on the
//! backend `FEEDWATCH_TEST_STORE` names (see [`TestStore`]).

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use feedwatch::store::Store;
use feedwatch::store::scratch::ScratchDatabase;
use tokio::sync::oneshot;

/// One story on the fake news site.
#[derive(Clone)]
pub struct Story {
    pub slug: String,
    pub title: String,
    /// What the feed says about it: deliberately never the words topics look for, so an
    /// alert proves the page itself was fetched and extracted.
    pub summary: String,
    pub paragraphs: Vec<String>,
    /// Headlines of the "related stories" sidebar around the article.
    pub related: Vec<String>,
}

#[derive(Default)]
struct SiteState {
    rss: Vec<Story>,
    atom: Vec<Story>,
    requests: HashMap<String, usize>,
}

#[derive(Clone)]
pub struct NewsSite {
    pub addr: SocketAddr,
    state: Arc<Mutex<SiteState>>,
}

impl NewsSite {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(SiteState::default()));
        let app = Router::new()
            .route("/rss.xml", get(rss))
            .route("/atom.xml", get(atom))
            .route("/news/{slug}", get(page))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn story_url(&self, slug: &str) -> String {
        self.url(&format!("/news/{slug}"))
    }

    pub fn add_rss(&self, story: Story) {
        self.state.lock().unwrap().rss.insert(0, story);
    }

    /// Takes a story out of the RSS feed (its page stays).
    pub fn remove_rss(&self, slug: &str) {
        self.state.lock().unwrap().rss.retain(|s| s.slug != slug);
    }

    pub fn add_atom(&self, story: Story) {
        self.state.lock().unwrap().atom.insert(0, story);
    }

    pub fn requests(&self, path: &str) -> usize {
        *self.state.lock().unwrap().requests.get(path).unwrap_or(&0)
    }

    /// Waits until `path` has been requested `count` more times than now.
    pub async fn wait_for_requests(&self, path: &str, more: usize, timeout: Duration) {
        let target = self.requests(path) + more;
        let deadline = Instant::now() + timeout;
        while self.requests(path) < target {
            assert!(
                Instant::now() < deadline,
                "{path} was not requested {more} more times"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn count(state: &Mutex<SiteState>, path: &str) {
    *state
        .lock()
        .unwrap()
        .requests
        .entry(path.to_string())
        .or_default() += 1;
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

async fn rss(State(state): State<Arc<Mutex<SiteState>>>, headers: HeaderMap) -> Response {
    count(&state, "/rss.xml");
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let stories = state.lock().unwrap().rss.clone();
    let items: String = stories
        .iter()
        .map(|s| {
            format!(
                "<item><title>{}</title><link>http://{host}/news/{}</link><guid isPermaLink=\"false\">rss-{}</guid><description>{}</description><pubDate>Fri, 25 Nov 2022 10:00:00 GMT</pubDate></item>",
                escape(&s.title), s.slug, s.slug, escape(&s.summary)
            )
        })
        .collect();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Test Daily</title><link>http://{host}/</link>{items}</channel></rss>"
    );
    ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response()
}

async fn atom(State(state): State<Arc<Mutex<SiteState>>>, headers: HeaderMap) -> Response {
    count(&state, "/atom.xml");
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let stories = state.lock().unwrap().atom.clone();
    let entries: String = stories
        .iter()
        .map(|s| {
            format!(
                "<entry><id>urn:test:{}</id><title>{}</title><link href=\"http://{host}/news/{}\"/><summary>{}</summary><updated>2022-11-25T10:00:00Z</updated></entry>",
                s.slug, escape(&s.title), s.slug, escape(&s.summary)
            )
        })
        .collect();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Test Вести</title><id>urn:test</id><updated>2022-11-25T10:00:00Z</updated>{entries}</feed>"
    );
    ([(header::CONTENT_TYPE, "application/atom+xml")], body).into_response()
}

async fn page(
    State(state): State<Arc<Mutex<SiteState>>>,
    UrlPath(slug): UrlPath<String>,
) -> Response {
    count(&state, &format!("/news/{slug}"));
    let story = {
        let state = state.lock().unwrap();
        state
            .rss
            .iter()
            .chain(state.atom.iter())
            .find(|s| s.slug == slug)
            .cloned()
    };
    match story {
        Some(story) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            article_page(&story),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A news page the way real sites build them: navigation, the article, a related-stories
/// sidebar, a newsletter box, a cookie notice and a footer full of links.
pub fn article_page(story: &Story) -> String {
    let nav: String = [
        "World", "Politics", "Business", "Opinion", "Culture", "Sport", "Video", "Podcasts",
    ]
    .iter()
    .map(|s| format!("<li><a href=\"/section/{}\">{s}</a></li>", s.to_lowercase()))
    .collect();
    let paragraphs: String = story
        .paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>\n", escape(p)))
        .collect();
    let related: String = story
        .related
        .iter()
        .enumerate()
        .map(|(i, r)| format!("<li><a href=\"/news/related-{i}\">{}</a></li>", escape(r)))
        .collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Test Daily</title>
<meta property="og:title" content="{title}"><meta property="og:site_name" content="Test Daily">
<meta name="description" content="{summary}"></head>
<body>
<header class="site-header"><a class="logo" href="/">Test Daily</a><nav class="main-nav"><ul>{nav}</ul></nav>
<form class="search"><input name="q" placeholder="Search"></form></header>
<div class="layout">
<main>
<article class="story">
<h1>{title}</h1>
<div class="byline">By <a href="/authors/jane">Jane Reporter</a> · 25 November 2022</div>
<div class="story-body">
{paragraphs}</div>
<div class="share"><a href="https://twitter.example/share">Share on X</a> <a href="https://facebook.example/share">Facebook</a> <a href="mailto:?">Email</a></div>
</article>
</main>
<aside class="sidebar">
<section class="related"><h2>Related stories</h2><ul>{related}</ul></section>
<section class="most-read"><h2>Most read</h2><ol><li><a href="/news/m1">Markets close higher</a></li><li><a href="/news/m2">Football results</a></li></ol></section>
</aside>
</div>
<section class="newsletter"><h2>Subscribe to our newsletter</h2><p>Get the day's top stories in your inbox every morning.</p><form><input type="email" placeholder="Email"><button>Sign up</button></form></section>
<div class="cookie-notice">We use cookies to improve your experience. <a href="/privacy">Learn more</a> <button>Accept</button></div>
<footer><ul><li><a href="/about">About us</a></li><li><a href="/contact">Contact</a></li><li><a href="/terms">Terms</a></li><li><a href="/privacy">Privacy</a></li></ul><p>© 2022 Test Daily</p></footer>
</body></html>"#,
        title = escape(&story.title),
        summary = escape(&story.summary),
    )
}

/// What a webhook receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
    pub at: Instant,
    /// The wall-clock arrival, to compare with times the store recorded.
    pub wall: SystemTime,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("webhook body is JSON")
    }
}

/// A webhook endpoint that records every POST and can be stopped and restarted on its port.
/// While hanging, it reads each request and never answers it (nor records it); with a delay,
/// it answers (and records) each request that much later.
pub struct Receiver {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    hanging: Arc<AtomicBool>,
    delay: Arc<Mutex<Duration>>,
    /// Requests held unanswered right now.
    held: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Counts a held request for as long as its handler lives (until the client gives up).
struct Held(Arc<AtomicUsize>);

impl Held {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count.clone())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut receiver = Self {
            addr: listener.local_addr().unwrap(),
            received: Arc::default(),
            hanging: Arc::default(),
            delay: Arc::default(),
            held: Arc::default(),
            stop: None,
            task: None,
        };
        receiver.serve(listener);
        receiver
    }

    /// A receiver that accepts requests and never answers them, until `set_hanging(false)`.
    pub async fn start_hanging() -> Self {
        let receiver = Self::start().await;
        receiver.set_hanging(true);
        receiver
    }

    pub fn set_hanging(&self, hanging: bool) {
        self.hanging.store(hanging, Ordering::SeqCst);
    }

    /// Answers every later request only after `delay`.
    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    /// How many requests are being held unanswered right now (hanging, or delayed).
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let received = self.received.clone();
        let (hanging, held, delay) = (self.hanging.clone(), self.held.clone(), self.delay.clone());
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let received = received.clone();
                let (hanging, held, delay) = (hanging.clone(), held.clone(), delay.clone());
                async move {
                    let _held = Held::new(&held);
                    if hanging.load(Ordering::SeqCst) {
                        std::future::pending::<()>().await;
                    }
                    let delay = *delay.lock().unwrap();
                    tokio::time::sleep(delay).await;
                    let headers = headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                        .collect();
                    received.lock().unwrap().push(Received {
                        headers,
                        body,
                        at: Instant::now(),
                        wall: SystemTime::now(),
                    });
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        self.stop = Some(stop);
        self.task = Some(tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        }));
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Stops listening: connections are refused until `restart`.
    pub async fn take_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    pub async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    /// Waits until at least `count` requests have arrived.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} webhook calls, got {}: {:?}",
                received.len(),
                received.iter().map(|r| r.body.clone()).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// The feedwatch daemon as a child process, its log in the test's directory.
pub struct Daemon {
    child: Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn start(config: &Path, log_name: &str) -> Self {
        Self::start_with(config, log_name, &[], &[])
    }

    /// `feedwatch [ARGS] run -c CONFIG` with extra environment variables.
    pub fn start_with(config: &Path, log_name: &str, env: &[(&str, &str)], args: &[&str]) -> Self {
        let log = config.parent().unwrap().join(log_name);
        let child = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
            .args(args)
            .args(["run", "-c"])
            .arg(config)
            .env("FEEDWATCH_LOG", "feedwatch=debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the feedwatch binary starts");
        Self { child, log }
    }

    /// Waits until the log has a line containing `text`; returns that line.
    pub async fn wait_for_log(&self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.log_text().lines().find(|l| l.contains(text)) {
                return line.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {text:?}; log: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The address the daemon's HTTP server listens on, from its log.
    pub async fn server_address(&self) -> String {
        let line = self
            .wait_for_log("serving /healthz", Duration::from_secs(20))
            .await;
        let start = line.find("address=").expect("the log names the address") + "address=".len();
        line[start..]
            .split(|c: char| c.is_whitespace() || c == '"' || c == ',')
            .find(|part| !part.is_empty())
            .unwrap()
            .to_string()
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(self) {
        self.stop_timed();
    }

    /// SIGTERM, then waits for a clean exit; returns how long the exit took.
    pub fn stop_timed(mut self) -> Duration {
        // A stop is a stop of a running daemon: one sent while the process is still starting
        // would test the start, and race with it.
        let up = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none()
            && !self.log_text().contains("feedwatch running")
            && Instant::now() < up
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let pid = self.child.id().to_string();
        let sent = Instant::now();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let deadline = sent + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let took = sent.elapsed();
                assert!(
                    status.success(),
                    "daemon exited with {status}; log: {}",
                    self.log_text()
                );
                return took;
            }
            assert!(Instant::now() < deadline, "daemon did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to clean up, as in a crash.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The store a test's daemon uses, on the backend `FEEDWATCH_TEST_STORE` names: `sqlite` (the
/// default) or `postgres`. It owns what the store lives in: for SQLite, nothing (the file sits
/// in the test's directory, which the test owns); for PostgreSQL, a throwaway database that is
/// dropped with this value, so keep it alive as long as any daemon uses it.
pub enum TestStore {
    /// `sqlite://feedwatch.db` beside the config in this directory.
    Sqlite(PathBuf),
    Postgres(ScratchDatabase),
}

impl TestStore {
    /// A fresh store for a config written in `dir`; `None` when the PostgreSQL run has no server
    /// (`ScratchDatabase` has then said the test is skipped), so tests write
    /// `let Some(store) = TestStore::new(dir).await else { return };`.
    pub async fn new(dir: &Path) -> Option<Self> {
        match std::env::var("FEEDWATCH_TEST_STORE").as_deref() {
            Ok("sqlite") | Ok("") | Err(_) => Some(Self::Sqlite(dir.to_path_buf())),
            Ok("postgres") => ScratchDatabase::create().await.map(Self::Postgres),
            Ok(other) => panic!("FEEDWATCH_TEST_STORE={other}: expected sqlite or postgres"),
        }
    }

    /// What follows `store = ` in the `[daemon]` table, quoted: SQLite stays relative to the
    /// config, as users write it.
    pub fn config_value(&self) -> String {
        match self {
            Self::Sqlite(_) => "\"sqlite://feedwatch.db\"".to_string(),
            Self::Postgres(db) => format!("\"{}\"", db.url()),
        }
    }

    /// Opens the store, as the daemon would, for a test to look inside.
    pub async fn open(&self) -> Store {
        match self {
            Self::Sqlite(dir) => Store::open_sqlite(&dir.join("feedwatch.db")).await,
            Self::Postgres(db) => Store::open_postgres(db.url()).await,
        }
        .expect("the test store opens")
    }
}
