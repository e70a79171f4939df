//! Load run: many local feeds, one or more daemons sharing one store, one webhook receiver, all
//! on loopback addresses.
//!
//! ```sh
//! cargo build --release && cargo run --release --example scale -- --feeds 200 --interval 20s --rounds 4
//! # three instances polling the same feeds through one PostgreSQL database (create it first):
//! cargo run --release --example scale -- --feeds 2000 --hosts 20 --interval 30s --rounds 3 \
//!     --instances 3 --store postgres://postgres@127.0.0.1:5432/feedwatch_scale
//! ```
//!
//! Serves `--feeds` RSS feeds spread over `--hosts` loopback addresses (127.0.0.2, 127.0.0.3, …),
//! each with ten items and real-looking article pages; starts `--instances` copies of
//! `target/release/feedwatch run` on them, all with one config and one `--store` (a SQLite file
//! in a temporary directory unless given; more than one instance needs a PostgreSQL URL, and a
//! fresh database gives a clean run); after the first poll round adds a matching item to 1 % of
//! the feeds each round; and reports each daemon's resident memory, the latency from the poll
//! that served a new item to the webhook receiving its alert, and throughput over the rounds
//! after the first: feed requests served per second (with each instance's share, told apart by
//! the User-Agent each is configured with), alert requests and distinct alert ids per second,
//! the daemons' CPU per poll, and how the machine's CPU split between the daemons, PostgreSQL
//! and this process's feed servers. `--host-spacing` overrides the daemons' `per_host_spacing`
//! (1 s by default, which caps polling at one request per host per second in all). Everything
//! stays on 127.0.0.0/8 and stops by itself after `--rounds` rounds.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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
    instances: usize,
    /// `None`: `sqlite://state.db` next to the generated config.
    store: Option<String>,
    host_spacing: Option<Duration>,
}

fn args() -> Args {
    let mut args = Args {
        feeds: 200,
        hosts: 20,
        interval: Duration::from_secs(20),
        rounds: 4,
        binary: PathBuf::from("target/release/feedwatch"),
        instances: 1,
        store: None,
        host_spacing: None,
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
            "--instances" => args.instances = value.parse().expect("--instances N"),
            "--store" => args.store = Some(value),
            "--host-spacing" => {
                args.host_spacing =
                    Some(humantime::parse_duration(&value).expect("--host-spacing 1s"))
            }
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(args.feeds > 0, "--feeds must be at least 1");
    assert!(
        (1..=250).contains(&args.hosts),
        "--hosts must be 1 to 250 (127.0.0.2 to 127.0.0.251)"
    );
    assert!(args.instances > 0, "--instances must be at least 1");
    let postgres = args
        .store
        .as_deref()
        .is_some_and(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"));
    if args.instances > 1 && !postgres {
        eprintln!(
            "--instances {} needs a shared PostgreSQL store: add --store postgres://USER@HOST/DB \
             (instances cannot share a SQLite file)",
            args.instances
        );
        std::process::exit(2);
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
    feeds: usize,
    /// User-Agent → feed requests, which tells the instances apart.
    polls_by_agent: HashMap<String, usize>,
    /// Feeds polled at least once, and when the last of them first was.
    swept: HashSet<usize>,
    sweep_done: Option<Instant>,
}

type Shared = Arc<Mutex<Site>>;

/// One webhook request: the article it is about, its `webhook-id`, and when it came.
struct Received {
    url: String,
    id: String,
    at: Instant,
}

const FILLER: &str = "Officials and residents described the situation in detail, and the figures were checked against earlier statements made over the past several weeks by the authorities and independent observers.";

async fn feed(State(site): State<Shared>, Path(n): Path<usize>, headers: HeaderMap) -> Response {
    let header = |name| {
        headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let host = header(header::HOST);
    let agent = header(header::USER_AGENT);
    let extra = {
        let mut site = site.lock().unwrap();
        site.polls += 1;
        *site.polls_by_agent.entry(agent).or_default() += 1;
        if site.sweep_done.is_none() && site.swept.insert(n) && site.swept.len() == site.feeds {
            site.sweep_done = Some(Instant::now());
        }
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

/// A process's name and its CPU seconds from /proc/PID/stat: its own user+system time, and that
/// of its children it has waited for (PostgreSQL's postmaster reaps exited backends).
fn proc_cpu(pid: &str) -> Option<(String, f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, after) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_string();
    let fields: Vec<f64> = after
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    let [utime, stime, cutime, cstime] = fields[..] else {
        return None;
    };
    Some((name, (utime + stime) / 100.0, (cutime + cstime) / 100.0))
}

fn cpu_seconds(pid: u32) -> f64 {
    proc_cpu(&pid.to_string()).map_or(0.0, |(_, own, _)| own)
}

/// Where the machine's CPU time went, in seconds, at one moment.
#[derive(Clone, Default)]
struct CpuSnapshot {
    instances: Vec<f64>,
    postgres: f64,
    /// This process: the feed servers and the webhook receiver.
    generator: f64,
    /// All CPUs together, from /proc/stat: busy (not idle or iowait) and total.
    busy: f64,
    total: f64,
}

impl CpuSnapshot {
    fn take(pids: &[u32]) -> Self {
        let postgres = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| proc_cpu(entry.file_name().to_str()?))
            .filter(|(name, _, _)| name.starts_with("postgres"))
            .map(|(_, own, children)| own + children)
            .sum();
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let ticks: Vec<f64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .map(|v| v.parse().unwrap_or(0.0))
            .collect();
        let total: f64 = ticks.iter().take(8).sum();
        let idle = ticks.get(3).unwrap_or(&0.0) + ticks.get(4).unwrap_or(&0.0);
        Self {
            instances: pids.iter().map(|&pid| cpu_seconds(pid)).collect(),
            postgres,
            generator: proc_cpu("self").map_or(0.0, |(_, own, _)| own),
            busy: (total - idle) / 100.0,
            total: total / 100.0,
        }
    }

    fn since(&self, start: &Self) -> Self {
        Self {
            instances: self
                .instances
                .iter()
                .zip(&start.instances)
                .map(|(end, start)| end - start)
                .collect(),
            postgres: self.postgres - start.postgres,
            generator: self.generator - start.generator,
            busy: self.busy - start.busy,
            total: self.total - start.total,
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn agent(instance: usize) -> String {
    format!("feedwatch-scale/instance-{instance}")
}

#[tokio::main]
async fn main() {
    let args = args();
    assert!(
        args.binary.exists(),
        "{} not found: run `cargo build --release` first",
        args.binary.display()
    );
    let site: Shared = Arc::new(Mutex::new(Site {
        feeds: args.feeds,
        ..Site::default()
    }));
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

    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let hook = Router::new().route(
        "/hook",
        post({
            let received = received.clone();
            move |headers: HeaderMap, body: String| {
                let received = received.clone();
                async move {
                    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    let url = json["article"]["url"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    let id = headers
                        .get("webhook-id")
                        .and_then(|h| h.to_str().ok())
                        .or(json["id"].as_str())
                        .unwrap_or_default()
                        .to_string();
                    let at = Instant::now();
                    received.lock().unwrap().push(Received { url, id, at });
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr = hook_listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(hook_listener, hook).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let store = args.store.as_deref().unwrap_or("sqlite://state.db");
    let mut common = format!(
        "store = {}\nlisten = \"127.0.0.1:0\"\ndefault_interval = \"{}\"\nmax_concurrent_fetches = 32\nwatchlists = []\n",
        toml::Value::String(store.to_string()),
        humantime::format_duration(args.interval)
    );
    if let Some(spacing) = args.host_spacing {
        common.push_str(&format!(
            "per_host_spacing = \"{}\"\n",
            humantime::format_duration(spacing)
        ));
    }
    let mut rest = format!(
        "[[webhook]]\nname = \"hook\"\nurl = \"http://{hook_addr}/hook\"\n\
         [[topic]]\nname = \"mobilization-protests\"\nquery = '(mobiliz* OR мобилизац*) (protest* OR протест*)'\nnotify = [\"hook\"]\n"
    );
    for n in 0..args.feeds {
        let addr = addrs[n % addrs.len()];
        rest.push_str(&format!(
            "[[feed]]\nname = \"feed-{n}\"\nurl = \"http://{addr}/feed/{n}\"\n"
        ));
    }
    // One config per instance, the same but for the User-Agent that tells their polls apart.
    let mut children: Vec<(Child, PathBuf)> = Vec::new();
    for i in 1..=args.instances {
        let config = format!("[daemon]\n{common}user_agent = \"{}\"\n{rest}", agent(i));
        let config_path = dir.path().join(format!("feedwatch-{i}.toml"));
        std::fs::write(&config_path, config).unwrap();
        let log = dir.path().join(format!("daemon-{i}.log"));
        let child = Command::new(&args.binary)
            .args(["run", "-c"])
            .arg(&config_path)
            .env("FEEDWATCH_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("feedwatch starts");
        children.push((child, log));
    }
    let pids: Vec<u32> = children.iter().map(|(child, _)| child.id()).collect();
    let started = Instant::now();
    let shown_store = match &args.store {
        Some(url) => url.split_once('@').map_or(url.as_str(), |(_, host)| host),
        None => "a SQLite file",
    };
    println!(
        "{} feeds on {} loopback hosts, interval {:?}, {} rounds, {} instance(s) on {shown_store}",
        args.feeds, args.hosts, args.interval, args.rounds, args.instances
    );

    // Round 0 marks the backlog seen; each later round publishes a matching item on 1 % of feeds.
    // Throughput is measured over rounds 1.., once the first sweep's burst is over.
    let per_round = (args.feeds / 100).max(1);
    let mut published = 0;
    let cpu_start = CpuSnapshot::take(&pids);
    let mut window_start = (Instant::now(), 0, 0, cpu_start.clone());
    for round in 0..=args.rounds {
        if round == 1 {
            window_start = (
                Instant::now(),
                site.lock().unwrap().polls,
                received.lock().unwrap().len(),
                CpuSnapshot::take(&pids),
            );
        }
        if round > 0 {
            let mut site = site.lock().unwrap();
            for k in 0..per_round {
                let n = (round * 7919 + k * 104_729) % args.feeds;
                *site.extra.entry(n).or_default() += 1;
                published += 1;
            }
        }
        tokio::time::sleep(args.interval + args.interval / 5).await;
        let memory: Vec<String> = pids
            .iter()
            .map(|&pid| {
                let (rss, hwm) = rss_kib(pid);
                format!("{} MiB (peak {} MiB)", rss / 1024, hwm / 1024)
            })
            .collect();
        println!(
            "round {round}: polls served {}, alerts received {}, RSS {}",
            site.lock().unwrap().polls,
            received.lock().unwrap().len(),
            memory.join(", ")
        );
    }
    let window_end = (
        Instant::now(),
        site.lock().unwrap().polls,
        received.lock().unwrap().len(),
        CpuSnapshot::take(&pids),
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_end = CpuSnapshot::take(&pids);
    let memory: Vec<(u64, u64)> = pids.iter().map(|&pid| rss_kib(pid)).collect();
    for &pid in &pids {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    for (child, _) in &mut children {
        let _ = child.wait();
    }

    let site = site.lock().unwrap();
    let received = received.lock().unwrap();
    let mut latencies = Vec::new();
    for alert in received.iter() {
        // …/page/{n}/x{e}
        let mut parts = alert.url.rsplit('/');
        let e: usize = parts
            .next()
            .and_then(|p| p.strip_prefix('x'))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let n: usize = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if let Some(served) = site.first_served.get(&(n, e)) {
            latencies.push(alert.at.saturating_duration_since(*served));
        }
    }
    latencies.sort();
    let ids: HashSet<&str> = received.iter().map(|r| r.id.as_str()).collect();
    let urls: HashSet<&str> = received.iter().map(|r| r.url.as_str()).collect();
    println!(
        "published {published} matching items, received {} alerts ({} distinct ids, {} distinct articles)",
        received.len(),
        ids.len(),
        urls.len()
    );
    println!(
        "latency from the poll that served the item to the webhook: p50 {:?}, p99 {:?}, max {:?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    match site.sweep_done {
        Some(done) => println!(
            "first sweep: every feed polled once {:.1} s after the start ({:.1} feeds/s)",
            done.duration_since(started).as_secs_f64(),
            args.feeds as f64 / done.duration_since(started).as_secs_f64()
        ),
        None => println!(
            "first sweep: only {} of {} feeds were ever polled",
            site.swept.len(),
            args.feeds
        ),
    }
    let whole = cpu_end.since(&cpu_start);
    for (i, ((rss, hwm), cpu)) in memory.iter().zip(&whole.instances).enumerate() {
        let polls = site.polls_by_agent.get(&agent(i + 1)).copied().unwrap_or(0);
        println!(
            "daemon {}: RSS {} MiB at the end, peak {} MiB; CPU {:.1} s over {:.0} s = {:.1} % of one core; {polls} polls ({:.0} %)",
            i + 1,
            rss / 1024,
            hwm / 1024,
            cpu,
            elapsed,
            100.0 * cpu / elapsed,
            100.0 * polls as f64 / site.polls.max(1) as f64
        );
    }

    let (start, polls_start, alerts_start, cpu_window_start) = &window_start;
    let (end, polls_end, alerts_end, cpu_window_end) = &window_end;
    let window = end.duration_since(*start).as_secs_f64();
    let polls = polls_end - polls_start;
    let alerts = &received[*alerts_start..*alerts_end];
    let window_ids: HashSet<&str> = alerts.iter().map(|r| r.id.as_str()).collect();
    let cpu = cpu_window_end.since(cpu_window_start);
    let daemons: f64 = cpu.instances.iter().sum();
    let share = |seconds: f64| 100.0 * seconds / cpu.total.max(f64::EPSILON);
    println!(
        "throughput over rounds 1..={} ({window:.0} s; the feeds ask for {:.1} polls/s): \
         {:.1} polls/s, {:.2} alert requests/s, {:.2} distinct alert ids/s; \
         daemons' CPU {:.2} ms per poll",
        args.rounds,
        args.feeds as f64 / args.interval.as_secs_f64(),
        polls as f64 / window,
        alerts.len() as f64 / window,
        window_ids.len() as f64 / window,
        1000.0 * daemons / polls.max(1) as f64
    );
    println!(
        "machine CPU over that window (all cores = 100 %): daemons {:.0} %, PostgreSQL {:.0} %, \
         feed servers and webhook {:.0} %, anything else {:.0} %, idle {:.0} %",
        share(daemons),
        share(cpu.postgres),
        share(cpu.generator),
        share(cpu.busy - daemons - cpu.postgres - cpu.generator),
        share(cpu.total - cpu.busy)
    );

    let mut keep = false;
    if received.len() != published || ids.len() != received.len() {
        println!(
            "WARNING: {} alerts missing, {} requests repeated an alert id",
            published as isize - urls.len() as isize,
            received.len() - ids.len()
        );
        keep = true;
    }
    for (_, log) in &children {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if !text.trim().is_empty() {
            println!(
                "{} has {} lines; the first: {}",
                log.display(),
                text.lines().count(),
                text.lines().next().unwrap_or_default()
            );
            keep = true;
        }
    }
    if keep {
        println!("kept {}", dir.path().display());
        let _ = dir.keep();
    }
}
