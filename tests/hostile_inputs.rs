//! Hostile documents, as opposed to hostile servers (tests/hostile.rs): feeds and pages built to
//! hit the super-linear corners of XML and HTML parsing. Each class is first measured alone —
//! CPU time and peak memory of one `feedwatch feeds parse` or `feedwatch extract` process,
//! read from the kernel with wait4 — and must stay within one second and 100 MiB in a release
//! build (debug builds are several times slower, so their CPU bound is looser). Then all of them
//! are served on 127.0.0.1 beside a good feed in one `feedwatch once` round: the good alert must
//! come out and the round must stay under 256 MiB of peak RSS.
//!
//! Run with `--nocapture` to see the figures per class.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::{NewsSite, Story, TestStore};

/// CPU allowed per hostile input: the target in release builds; debug builds run the same work
/// unoptimised, measured at four to eight times slower.
const CPU_BUDGET: Duration = if cfg!(debug_assertions) {
    Duration::from_secs(8)
} else {
    Duration::from_secs(1)
};
const INPUT_RSS_MIB: u64 = 100;
const ROUND_RSS_MIB: u64 = 256;

fn rss_channel(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>{body}</channel></rss>"
    )
}

/// The hostile feeds, by name.
fn hostile_feeds(pages: &str) -> Vec<(&'static str, String)> {
    let item = |i: usize| {
        format!(
            "<item><title>Item {i}</title><link>{pages}/item-{i}</link><guid>g{i}</guid><description>Quiet news {i}.</description></item>"
        )
    };
    let attrs: String = (0..300_000).map(|i| format!(" a{i}=\"1\"")).collect();
    vec![
        (
            "nested-xml-base",
            rss_channel(&format!(
                "{}{}",
                "<x xml:base=\"a/\">".repeat(100_000),
                "</x>".repeat(100_000)
            )),
        ),
        ("deep-xml", rss_channel(&"<a>".repeat(200_000))),
        (
            "xml-attribute-flood",
            rss_channel(&format!("<item{attrs}/>")),
        ),
        (
            "sixty-thousand-items",
            rss_channel(&(0..60_000).map(item).collect::<String>()),
        ),
        (
            "five-mb-title",
            rss_channel(&format!(
                "<item><title>{}</title><guid>big</guid></item>",
                "Mothers ".repeat(5 * 1024 * 1024 / 8)
            )),
        ),
        ("xml-comment-openers", rss_channel(&"<!--".repeat(400_000))),
        (
            "html-in-summary",
            rss_channel(&format!(
                "<item><title>Deep</title><guid>deep</guid><description><![CDATA[{}]]></description></item>",
                "<div>".repeat(100_000)
            )),
        ),
    ]
}

/// The hostile article pages, by name.
fn hostile_pages() -> Vec<(&'static str, String)> {
    let attrs: String = (0..300_000).map(|i| format!(" a{i}=1")).collect();
    let bold: String = (0..400).map(|i| format!("<b id={i}>")).collect();
    vec![
        (
            "deep-html",
            format!("<html><body>{}", "<div>".repeat(200_000)),
        ),
        ("unclosed-svg", "<svg>".repeat(1_500_000 / 5)),
        (
            "html-attribute-flood",
            format!("<html><body><p{attrs}>x</p>"),
        ),
        ("html-comment-openers", "<!--".repeat(1_500_000 / 4)),
        (
            "unclosed-spans",
            "<span><div></span>".repeat(1_500_000 / 18),
        ),
        (
            "reopened-formatting",
            format!("<div>{bold}</div>{}", "<div>x</div>".repeat(100_000)),
        ),
        ("unclosed-scripts", "<script><!--".repeat(1_500_000 / 12)),
    ]
}

/// Runs `cmd` to the end and returns (user+system CPU, peak RSS in MiB, exit status).
///
/// Linux starts a child's peak RSS at its parent's (fork and exec carry the old address space's
/// high-water mark), and this test process grows while it builds the hostile documents. So the
/// command is started by a fresh, small copy of this test binary (the ignored `measure_child` test
/// below), which waits for it and prints what the kernel says about it.
fn measure(cmd: &mut Command) -> (Duration, u64, std::process::ExitStatus) {
    let mut middle = Command::new(std::env::current_exe().unwrap());
    middle
        .args([
            "--ignored",
            "--exact",
            "measure_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            "MEASURE_ARGS",
            serde_json::to_string(
                &std::iter::once(cmd.get_program())
                    .chain(cmd.get_args())
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect::<Vec<_>>(),
            )
            .unwrap(),
        )
        .current_dir(cmd.get_current_dir().unwrap_or(Path::new(".")))
        .env_remove("FEEDWATCH_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(out) = cmd_stdout_path(cmd) {
        middle.env("MEASURE_STDOUT", out);
    }
    let output = middle.output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find_map(|l| l.split_once("MEASURED ").map(|(_, m)| m))
        .unwrap_or_else(|| {
            panic!(
                "no measurement: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let mut fields = line.split_whitespace().map(|f| f.parse::<u64>().unwrap());
    let (micros, kib, raw) = (
        fields.next().unwrap(),
        fields.next().unwrap(),
        fields.next().unwrap(),
    );
    (
        Duration::from_micros(micros),
        kib / 1024,
        std::process::ExitStatus::from_raw(raw as i32),
    )
}

/// Where the measured command's stdout goes, passed by the caller through `MEASURE_OUT` in the
/// command's environment.
fn cmd_stdout_path(cmd: &Command) -> Option<String> {
    cmd.get_envs()
        .find(|(k, _)| *k == "MEASURE_OUT")
        .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
}

/// The middleman of [`measure`]: runs `MEASURE_ARGS` with the test's stdio nulled (or stdout
/// to `MEASURE_STDOUT`), stderr to `MEASURE_STDOUT.log`, and prints
/// `MEASURED <cpu µs> <peak RSS KiB> <raw wait status>`.
#[test]
#[ignore = "a helper that the other tests start as a subprocess"]
fn measure_child() {
    let Ok(args) = std::env::var("MEASURE_ARGS") else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).unwrap();
    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..]).stdin(Stdio::null());
    match std::env::var("MEASURE_STDOUT") {
        Ok(path) => cmd
            .stdout(std::fs::File::create(&path).unwrap())
            .stderr(std::fs::File::create(format!("{path}.log")).unwrap()),
        Err(_) => cmd.stdout(Stdio::null()).stderr(Stdio::null()),
    };
    let mut child = cmd.spawn().unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid, and the pid is our own unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    // Reaped by wait4 already; this only lets `Child` know (it answers from the reaped state).
    let _ = child.try_wait();
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    // ru_maxrss is in KiB on Linux.
    println!(
        "MEASURED {} {} {}",
        micros(usage.ru_utime) + micros(usage.ru_stime),
        usage.ru_maxrss,
        status
    );
}

fn feedwatch(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_feedwatch"));
    cmd.current_dir(dir)
        .env_remove("FEEDWATCH_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

#[test]
fn each_hostile_document_costs_a_bounded_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut over = Vec::new();
    let mut check = |class: &str, cmd: &mut Command| {
        let (cpu, rss, status) = measure(cmd);
        eprintln!(
            "{class:24} cpu {:>6.3} s  peak rss {rss:>4} MiB  {status}",
            cpu.as_secs_f64()
        );
        assert!(
            status.code().is_some(),
            "{class}: killed by a signal ({status})"
        );
        if cpu > CPU_BUDGET || rss > INPUT_RSS_MIB {
            over.push(format!("{class}: {cpu:?} CPU, {rss} MiB"));
        }
    };
    for (class, body) in hostile_feeds("http://127.0.0.1:9/pages") {
        let file = dir.path().join(format!("{class}.xml"));
        std::fs::write(&file, body).unwrap();
        check(
            class,
            feedwatch(dir.path()).args(["feeds", "parse"]).arg(&file),
        );
    }
    for (class, body) in hostile_pages() {
        let file = dir.path().join(format!("{class}.html"));
        std::fs::write(&file, body).unwrap();
        check(class, feedwatch(dir.path()).arg("extract").arg(&file));
    }
    assert!(over.is_empty(), "over budget: {over:#?}");
}

#[derive(Clone)]
struct Hostile {
    feeds: Arc<Vec<(&'static str, String)>>,
    pages: Arc<Vec<(&'static str, String)>>,
}

async fn hostile_feed(State(h): State<Hostile>, UrlPath(name): UrlPath<String>) -> Response {
    match h.feeds.iter().find(|(n, _)| format!("{n}.xml") == name) {
        Some((_, body)) => (
            [(header::CONTENT_TYPE, "application/rss+xml")],
            body.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn hostile_page(State(h): State<Hostile>, UrlPath(name): UrlPath<String>) -> Response {
    match h.pages.iter().find(|(n, _)| *n == name) {
        Some((_, body)) => ([(header::CONTENT_TYPE, "text/html")], body.clone()).into_response(),
        // The sixty-thousand-item feed links here: small, harmless pages.
        None => ([(header::CONTENT_TYPE, "text/html")], "<p>quiet</p>").into_response(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_among_hostile_documents_still_alerts_within_its_memory_bound() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let pages_base = format!("http://{addr}/pages");
    let pages = hostile_pages();
    // One more feed links to every hostile page, with a summary that would match the topic,
    // so each page is fetched and extracted.
    let links: String = pages
        .iter()
        .map(|(name, _)| {
            format!("<item><title>Page {name}</title><link>{pages_base}/{name}</link><guid>{name}</guid><description>Hostile page.</description></item>")
        })
        .collect();
    let mut feeds = hostile_feeds(&pages_base);
    feeds.push(("links-to-hostile-pages", rss_channel(&links)));
    let state = Hostile {
        feeds: Arc::new(feeds),
        pages: Arc::new(pages),
    };
    let app = Router::new()
        .route("/feeds/{name}", get(hostile_feed))
        .route("/pages/{name}", get(hostile_page))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let site = NewsSite::start().await;
    site.add_rss(Story {
        slug: "vigil".into(),
        title: "Vigil outside the ministry".into(),
        summary: "A report.".into(),
        paragraphs: vec!["The mothers and wives of mobilized soldiers gathered outside the ministry on Monday to demand answers about their sons and husbands.".into(); 3],
        related: vec![],
    });

    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let mut config = format!(
        r#"
[daemon]
store = {store}
per_host_spacing = "0s"
per_host_concurrency = 8
fetch_timeout = "20s"
allow_private = ["127.0.0.1/32"]
watchlists = []
first_poll = "alert"

[[topic]]
name = "mothers"
query = '"mothers and wives"'

[[feed]]
name = "good"
url = "{good}"
"#,
        good = site.url("/rss.xml"),
        store = test_store.config_value(),
    );
    for (name, _) in state.feeds.iter() {
        config.push_str(&format!(
            "\n[[feed]]\nname = \"{name}\"\nurl = \"http://{addr}/feeds/{name}.xml\"\n"
        ));
    }
    let config_path = dir.path().join("feedwatch.toml");
    std::fs::write(&config_path, config).unwrap();

    let out = dir.path().join("alerts.jsonl");
    let round = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        let out = out.clone();
        move || {
            measure(
                feedwatch(&dir)
                    .args(["once", "-c"])
                    .arg(dir.join("feedwatch.toml"))
                    .env("MEASURE_OUT", &out),
            )
        }
    });
    let (cpu, rss, status) = tokio::time::timeout(Duration::from_secs(600), round)
        .await
        .expect("the round finishes")
        .unwrap();
    eprintln!(
        "round: cpu {:.3} s, peak rss {rss} MiB, {status}",
        cpu.as_secs_f64()
    );
    let alerts = std::fs::read_to_string(&out).unwrap();
    if std::env::var_os("HOSTILE_LOG").is_some() {
        eprintln!(
            "{}",
            std::fs::read_to_string(dir.path().join("alerts.jsonl.log")).unwrap()
        );
    }
    assert!(
        alerts
            .lines()
            .any(|l| l.contains("Vigil outside the ministry")),
        "the good feed's alert is missing: {alerts}\n{}",
        std::fs::read_to_string(dir.path().join("alerts.jsonl.log")).unwrap_or_default()
    );
    assert!(rss <= ROUND_RSS_MIB, "round peak RSS {rss} MiB");

    // Each hostile feed cost itself a recorded error, not the round.
    let status = feedwatch(dir.path())
        .args(["feeds", "status", "--format", "json", "-c"])
        .arg(&config_path)
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let rows = String::from_utf8_lossy(&status.stdout);
    for (name, expected) in [
        ("nested-xml-base", "nested deeper than"),
        ("deep-xml", "nested deeper than"),
        ("xml-attribute-flood", "attributes"),
    ] {
        let row = rows
            .lines()
            .find(|l| l.contains(&format!("\"feed\":\"{name}\"")))
            .unwrap_or_else(|| panic!("no status row for {name}: {rows}"));
        assert!(row.contains(expected), "{name}: {row}");
    }
    // The big but legitimate ones are read, and cost nothing in errors.
    for name in [
        "good",
        "sixty-thousand-items",
        "five-mb-title",
        "links-to-hostile-pages",
    ] {
        let row = rows
            .lines()
            .find(|l| l.contains(&format!("\"feed\":\"{name}\"")))
            .unwrap_or_else(|| panic!("no status row for {name}: {rows}"));
        assert!(row.contains("\"last_error\":null"), "{name}: {row}");
    }
}
