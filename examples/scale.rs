//! Load run: many local feeds, one daemon, one webhook receiver, all on loopback addresses.
//!
//! ```sh
//! cargo build --release && cargo run --release --example scale -- --feeds 200 --interval 20s --rounds 4
//! ```
//!
//! Serves `--feeds` RSS feeds spread over `--hosts` loopback addresses (127.0.0.2, 127.0.0.3, …),
//! each with ten items and real-looking article pages; starts `target/release/feedwatch run`
//! on them; after the first poll round adds a matching item to 1 % of the feeds each round; and
//! reports the daemon's resident memory, CPU share, and the latency from the poll that served a
//! new item to the webhook receiving its alert. Everything stays on 127.0.0.0/8 and stops by
//! itself after `--rounds` rounds.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

struct Args {
    feeds: usize,
    hosts: usize,
    interval: Duration,
    rounds: usize,
    binary: PathBuf,
}

fn args() -> Args {
    let mut args = Args {
        feeds: 200,
        hosts: 20,
        interval: Duration::from_secs(20),
        rounds: 4,
        binary: PathBuf::from("target/release/feedwatch"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--feeds" => args.feeds = value.parse().expect("--feeds N"),
            "--hosts" => args.hosts = value.parse().expect("--hosts N"),
            "--interval" => {
                args.interval = humantime::parse_duration(&value).expect("--interval 20s")
            }
            "--rounds" => args.rounds = value.parse().expect("--rounds N"),
            "--binary" => args.binary = PathBuf::from(value),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

#[derive(Default)]
struct Site {
    /// feed index → number of extra (matching) items published so far.
    extra: HashMap<usize, usize>,
    /// (feed, extra item number) → when a feed response first carried it.
    first_served: HashMap<(usize, usize), Instant>,
    polls: usize,
}

type Shared = Arc<Mutex<Site>>;

const FILLER: &str = "Officials and residents described the situation in detail, and the figures were checked against earlier statements made over the past several weeks by the authorities and independent observers.";

async fn feed(State(site): State<Shared>, Path(n): Path<usize>, headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let extra = {
        let mut site = site.lock().unwrap();
        site.polls += 1;
        let extra = site.extra.get(&n).copied().unwrap_or(0);
        let now = Instant::now();
        for e in 1..=extra {
            site.first_served.entry((n, e)).or_insert(now);
        }
        extra
    };
    let mut items = String::new();
    for e in (1..=extra).rev() {
        items.push_str(&format!(
            "<item><title>Protest against mobilization number {e}</title><link>http://{host}/page/{n}/x{e}</link><guid>f{n}-x{e}</guid><description>Update</description></item>"
        ));
    }
    for i in 0..10 {
        items.push_str(&format!(
            "<item><title>Routine story {i} from feed {n}</title><link>http://{host}/page/{n}/{i}</link><guid>f{n}-{i}</guid><description>Routine news</description></item>"
        ));
    }
    let body = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed {n}</title>{items}</channel></rss>"
    );
    ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response()
}

async fn page(Path((n, item)): Path<(usize, String)>) -> Response {
    let lead = if item.starts_with('x') {
        "Hundreds joined a protest against the mobilization in the city centre on Saturday."
    } else {
        "The city council met on Saturday to discuss the budget for next year."
    };
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><title>Story {item} of feed {n}</title></head><body>\
         <nav><a href=\"/\">Home</a> <a href=\"/world\">World</a> <a href=\"/politics\">Politics</a></nav>\
         <article><h1>Story {item}</h1><p>{lead}</p><p>{FILLER}</p><p>{FILLER}</p><p>{FILLER}</p></article>\
         <aside><h2>Related</h2><ul><li><a href=\"/a\">Markets</a></li><li><a href=\"/b\">Sport</a></li></ul></aside>\
         <footer>Subscribe to our newsletter</footer></body></html>"
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args = args();
    assert!(
        args.binary.exists(),
        "{} not found: run `cargo build --release` first",
        args.binary.display()
    );
    let site: Shared = Arc::default();
    let app = Router::new()
        .route("/feed/{n}", get(feed))
        .route("/page/{n}/{item}", get(page))
        .with_state(site.clone());
    let mut addrs = Vec::new();
    for h in 0..args.hosts {
        let ip = Ipv4Addr::new(127, 0, 0, 2 + h as u8);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((ip, 0)))
            .await
            .unwrap();
        addrs.push(listener.local_addr().unwrap());
        let app = app.clone();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }

    let received: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let hook = Router::new().route(
        "/hook",
        post({
            let received = received.clone();
            move |body: String| {
                let received = received.clone();
                async move {
                    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    let url = json["article"]["url"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    received.lock().unwrap().push((url, Instant::now()));
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr = hook_listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(hook_listener, hook).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let mut config = format!(
        "[daemon]\nstore = \"sqlite://state.db\"\nlisten = \"127.0.0.1:0\"\ndefault_interval = \"{}\"\nmax_concurrent_fetches = 32\nwatchlists = []\n\
         [[webhook]]\nname = \"hook\"\nurl = \"http://{hook_addr}/hook\"\n\
         [[topic]]\nname = \"mobilization-protests\"\nquery = '(mobiliz* OR мобилизац*) (protest* OR протест*)'\nnotify = [\"hook\"]\n",
        humantime::format_duration(args.interval)
    );
    for n in 0..args.feeds {
        let addr = addrs[n % addrs.len()];
        config.push_str(&format!(
            "[[feed]]\nname = \"feed-{n}\"\nurl = \"http://{addr}/feed/{n}\"\n"
        ));
    }
    let config_path = dir.path().join("feedwatch.toml");
    std::fs::write(&config_path, config).unwrap();
    let log = dir.path().join("daemon.log");
    let mut child = Command::new(&args.binary)
        .args(["run", "-c"])
        .arg(&config_path)
        .env("FEEDWATCH_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("feedwatch starts");
    let pid = child.id();
    let started = Instant::now();
    println!(
        "{} feeds on {} loopback hosts, interval {:?}, {} rounds",
        args.feeds, args.hosts, args.interval, args.rounds
    );

    // Round 0 marks the backlog seen; each later round publishes a matching item on 1 % of feeds.
    let per_round = (args.feeds / 100).max(1);
    let mut published = 0;
    let mut samples = Vec::new();
    let cpu_start = cpu_seconds(pid);
    for round in 0..=args.rounds {
        if round > 0 {
            let mut site = site.lock().unwrap();
            for k in 0..per_round {
                let n = (round * 7919 + k * 104_729) % args.feeds;
                *site.extra.entry(n).or_default() += 1;
                published += 1;
            }
        }
        tokio::time::sleep(args.interval + args.interval / 5).await;
        let (rss, hwm) = rss_kib(pid);
        samples.push(rss);
        println!(
            "round {round}: polls served {}, alerts received {}, RSS {} MiB (peak {} MiB)",
            site.lock().unwrap().polls,
            received.lock().unwrap().len(),
            rss / 1024,
            hwm / 1024
        );
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu_start;
    let (rss, hwm) = rss_kib(pid);
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();

    let site = site.lock().unwrap();
    let received = received.lock().unwrap();
    let mut latencies = Vec::new();
    for (url, at) in received.iter() {
        // …/page/{n}/x{e}
        let mut parts = url.rsplit('/');
        let e: usize = parts
            .next()
            .and_then(|p| p.strip_prefix('x'))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let n: usize = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if let Some(served) = site.first_served.get(&(n, e)) {
            latencies.push(at.saturating_duration_since(*served));
        }
    }
    latencies.sort();
    println!(
        "published {published} matching items, received {} alerts",
        received.len()
    );
    println!(
        "latency from the poll that served the item to the webhook: p50 {:?}, p99 {:?}, max {:?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    println!(
        "daemon: RSS {} MiB at the end, peak {} MiB; CPU {:.1} s over {:.0} s = {:.1} % of one core",
        rss / 1024,
        hwm / 1024,
        cpu,
        elapsed,
        100.0 * cpu / elapsed
    );
    if received.len() != published {
        println!(
            "WARNING: {} alerts missing; daemon log: {}",
            published as isize - received.len() as isize,
            log.display()
        );
        let _ = dir.keep();
    }
}
