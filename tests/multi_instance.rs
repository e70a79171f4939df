//! Several instances on one PostgreSQL store: three daemons share 100 feeds of 3 items each
//! (on ten loopback hosts), one of them is killed with SIGKILL mid-run, and still every item
//! alerts exactly once per matching topic, every alert is delivered, no feed waits longer than
//! its interval plus the lease in which a dead instance's polls are taken over, and no host
//! sees two feed requests closer than `per_host_spacing`, whichever instances sent them. Skipped (saying so) where no
//! PostgreSQL server answers; CI sets FEEDWATCH_REQUIRE_POSTGRES=1 so it cannot be skipped.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use common::{Daemon, Receiver, Story, article_page};
use feedwatch::store::Store;
use feedwatch::store::scratch::ScratchDatabase;

const FEEDS: usize = 100;
const HOSTS: usize = 10;
const SPACING: Duration = Duration::from_millis(100);
const FEED_LATENCY: Duration = Duration::from_millis(300);
const ITEMS: usize = 3;
const INTERVAL: Duration = Duration::from_secs(2);
/// How long a dead instance's polls stay marked before a live one takes them over: the
/// daemon's `DEAD_AFTER` (10 s) plus one heartbeat (2 s), when the recovery runs.
const LEASE: Duration = Duration::from_secs(12);
/// Scheduling slack on a loaded 2-core machine running a debug build.
const SLACK: Duration = Duration::from_secs(4);

/// 100 feeds served from ten loopback hosts (127.0.0.2 to 127.0.0.11), feed `n` on host
/// `n % HOSTS`; each lists the first `published` of its items, and every request for a feed is
/// timed.
#[derive(Clone)]
struct Feeds {
    hosts: Vec<SocketAddr>,
    published: Arc<AtomicUsize>,
    polls: Arc<Mutex<HashMap<usize, Vec<Instant>>>>,
}

impl Feeds {
    async fn start() -> Self {
        let mut listeners = Vec::new();
        for h in 0..HOSTS {
            let ip = std::net::Ipv4Addr::new(127, 0, 0, 2 + h as u8);
            listeners.push(tokio::net::TcpListener::bind((ip, 0)).await.unwrap());
        }
        let feeds = Feeds {
            hosts: listeners.iter().map(|l| l.local_addr().unwrap()).collect(),
            published: Arc::new(AtomicUsize::new(1)),
            polls: Arc::default(),
        };
        let app = Router::new()
            .route("/feed/{n}", get(feed))
            .route("/article/{n}/{i}", get(article))
            .with_state(feeds.clone());
        for listener in listeners {
            let app = app.clone();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        }
        feeds
    }

    fn host(&self, n: usize) -> SocketAddr {
        self.hosts[n % HOSTS]
    }

    fn story(n: usize, i: usize) -> Story {
        // Every item is about the protests; the second of each feed also names the mothers.
        let mut paragraphs = vec![
            format!(
                "Residents of district {n} gathered on day {i} for a mobilization protest \
                 outside the town hall, the {i}th such gathering this season."
            ),
            format!("Organisers in district {n} said turnout on day {i} exceeded their plans."),
        ];
        if i == 2 {
            paragraphs.push(format!(
                "Among them were soldiers mothers from district {n}, asking where their sons serve."
            ));
        }
        Story {
            slug: format!("{n}-{i}"),
            title: format!("District {n} report {i}"),
            summary: format!("District {n}, day {i}."),
            paragraphs,
            related: vec!["Weather for the weekend".into()],
        }
    }

    /// When each feed was requested, in order.
    fn polls(&self) -> HashMap<usize, Vec<Instant>> {
        self.polls.lock().unwrap().clone()
    }
}

async fn feed(State(feeds): State<Feeds>, UrlPath(n): UrlPath<usize>) -> impl IntoResponse {
    feeds
        .polls
        .lock()
        .unwrap()
        .entry(n)
        .or_default()
        .push(Instant::now());
    // A slow server, so that every instance always has polls in flight to die in.
    tokio::time::sleep(FEED_LATENCY).await;
    let items: String = (1..=feeds.published.load(Ordering::SeqCst))
        .map(|i| {
            let story = Feeds::story(n, i);
            format!(
                "<item><title>{}</title><link>http://{}/article/{n}/{i}</link>\
                 <guid>district-{n}-{i}</guid><description>{}</description></item>",
                story.title,
                feeds.host(n),
                story.summary
            )
        })
        .collect();
    (
        [(header::CONTENT_TYPE, "application/rss+xml")],
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>District {n}</title>\
             <link>http://{}/</link>{items}</channel></rss>",
            feeds.host(n)
        ),
    )
}

async fn article(UrlPath((n, i)): UrlPath<(usize, usize)>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        article_page(&Feeds::story(n, i)),
    )
}

fn config(store: &str, feeds: &Feeds, receiver: &Receiver) -> String {
    let mut config = format!(
        r#"
[daemon]
store = "{store}"
listen = "127.0.0.1:0"
default_interval = "{interval}s"
jitter = 0.0
per_host_spacing = "{spacing}ms"
first_poll = "alert"
watchlists = []
allow_private = ["127.0.0.0/8"]

[[webhook]]
name = "hook"
url = "{hook}"

# Story de-duplication off: the items of different feeds tell alike stories on purpose, and
# this test is about each item alerting once, not about near-duplicates.
[[topic]]
name = "protests"
query = '"mobilization protest"'
notify = ["hook"]
dedupe = false

[[topic]]
name = "mothers"
query = '"soldiers mothers"'
notify = ["hook"]
dedupe = false
"#,
        interval = INTERVAL.as_secs(),
        spacing = SPACING.as_millis(),
        hook = receiver.url(),
    );
    for n in 0..FEEDS {
        config.push_str(&format!(
            "\n[[feed]]\nname = \"district-{n}\"\nurl = \"http://{}/feed/{n}\"\n",
            feeds.host(n)
        ));
    }
    config
}

/// Distinct alert ids received, by (topic, article URL).
fn received_alerts(receiver: &Receiver) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut alerts: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for received in receiver.received() {
        let json = received.json();
        if json["type"] != "feedwatch.alert" {
            continue;
        }
        let key = (
            json["topic"].as_str().unwrap().to_string(),
            json["article"]["url"].as_str().unwrap().to_string(),
        );
        alerts
            .entry(key)
            .or_default()
            .insert(json["id"].as_str().unwrap().to_string());
    }
    alerts
}

/// Waits until alerts for `count` distinct (topic, item) pairs have arrived.
async fn wait_for_alerts(
    receiver: &Receiver,
    daemons: &[Option<Daemon>],
    count: usize,
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    loop {
        let got = received_alerts(receiver).len();
        if got >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{got} of {count} alerts arrived; the logs end:\n{}",
            daemons
                .iter()
                .flatten()
                .map(|d| {
                    let log = d.log_text();
                    let lines: Vec<&str> = log.lines().collect();
                    lines[lines.len().saturating_sub(20)..].join("\n")
                })
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The daemon with the most polls marked as running in the store right now (waiting until one
/// has any), so that the kill interrupts real work.
async fn busiest_instance(url: &str, daemons: &[Option<Daemon>]) -> usize {
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let busiest: Option<(i64, i64)> = sqlx::query_as(
            "SELECT i.pid, COUNT(*) AS polls FROM feeds f JOIN instances i ON i.id = f.poll_owner
             GROUP BY i.pid ORDER BY polls DESC LIMIT 1",
        )
        .fetch_optional(&mut db)
        .await
        .unwrap();
        if let Some((pid, _)) = busiest
            && let Some(k) = daemons
                .iter()
                .position(|d| d.as_ref().is_some_and(|d| i64::from(d.pid()) == pid))
        {
            return k;
        }
        assert!(Instant::now() < deadline, "no instance is polling");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_the_work_and_survive_losing_one() {
    let Some(database) = ScratchDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let feeds = Feeds::start().await;
    let receiver = Receiver::start().await;
    let config_path = dir.path().join("feedwatch.toml");
    std::fs::write(&config_path, config(database.url(), &feeds, &receiver)).unwrap();
    // Every item matches "protests"; the second of each feed also matches "mothers".
    let expected = FEEDS * ITEMS + FEEDS;

    let started = Instant::now();
    let mut daemons: Vec<Option<Daemon>> = (0..3)
        .map(|k| Some(Daemon::start(&config_path, &format!("instance-{k}.log"))))
        .collect();
    // The first items, polled by whichever instance claims each feed first.
    wait_for_alerts(&receiver, &daemons, FEEDS / 2, Duration::from_secs(60)).await;
    // The second items go out, and one instance dies in the middle of them.
    feeds.published.store(2, Ordering::SeqCst);
    tokio::time::sleep(INTERVAL / 2).await;
    let victim = busiest_instance(database.url(), &daemons).await;
    let killed_at = Instant::now();
    daemons[victim].take().unwrap().kill9();
    wait_for_alerts(
        &receiver,
        &daemons,
        FEEDS * 2 + FEEDS / 2,
        Duration::from_secs(90),
    )
    .await;
    feeds.published.store(3, Ordering::SeqCst);
    wait_for_alerts(&receiver, &daemons, expected, Duration::from_secs(90)).await;
    // Long enough after the kill for the dead instance's polls to have been taken over.
    let settled = killed_at + LEASE + INTERVAL * 2 + SLACK;
    tokio::time::sleep_until(settled.into()).await;

    // Exactly once: one alert per (topic, item), however many instances polled the feed.
    let alerts = received_alerts(&receiver);
    assert_eq!(alerts.len(), expected);
    let doubled: Vec<_> = alerts.iter().filter(|(_, ids)| ids.len() != 1).collect();
    assert!(
        doubled.is_empty(),
        "items alerted more than once: {doubled:?}"
    );
    let received_ids: BTreeSet<String> = alerts.values().flatten().cloned().collect();

    // Every alert the store holds was delivered, and the store holds no other.
    let store = Store::open_postgres(database.url()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pending: u64 = store
            .sinks_with_pending()
            .await
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum();
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} deliveries still pending"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stored: BTreeSet<String> = store.alert_ids().await.unwrap().into_iter().collect();
    assert_eq!(stored, received_ids);

    // No feed waited longer than its interval plus the lease, before or after the kill.
    let ended = Instant::now();
    let polls = feeds.polls();
    assert_eq!(polls.len(), FEEDS, "every feed was polled");
    let bound = INTERVAL + LEASE + SLACK;
    let mut longest = Duration::ZERO;
    for (n, times) in &polls {
        let gaps = times
            .windows(2)
            .map(|w| w[1] - w[0])
            .chain([ended - *times.last().unwrap()]);
        for gap in gaps {
            longest = longest.max(gap);
            assert!(
                gap <= bound,
                "feed {n} went unpolled for {gap:?} (bound {bound:?})"
            );
        }
    }
    // Politeness held across instances: any ten feed requests in a row to one host, from
    // whichever instances, spread over at least nine spacings. (Checked on runs of ten, not
    // on pairs, because the server sees each request a variable time after it started; three
    // instances spacing only their own requests would fit ten into a third of that.)
    let run = 10;
    let mut tightest = Duration::MAX;
    for h in 0..HOSTS {
        let mut times: Vec<Instant> = polls
            .iter()
            .filter(|(n, _)| *n % HOSTS == h)
            .flat_map(|(_, times)| times.iter().copied())
            .collect();
        times.sort();
        for window in times.windows(run) {
            tightest = tightest.min(window[run - 1] - window[0]);
        }
    }
    let least = SPACING * (run as u32 - 1);
    assert!(
        tightest + Duration::from_millis(150) >= least,
        "{run} feed requests to one host came within {tightest:?} (spacing {SPACING:?})"
    );
    // The kill hit polls in flight, and a survivor took them over.
    let takeovers: usize = daemons
        .iter()
        .flatten()
        .map(|d| {
            d.log_text()
                .lines()
                .filter(|line| line.contains("the process polling this feed died"))
                .count()
        })
        .sum();
    assert!(
        takeovers > 0,
        "no poll of the killed instance was taken over"
    );
    // The work was shared: each surviving instance polled feeds (its log says so).
    let polls_total: usize = polls.values().map(Vec::len).sum();
    let receipts = receiver.received().len();
    println!(
        "{} polls of {FEEDS} feeds in {:?}; killed one instance {:?} in; longest gap {longest:?}; \
         tightest {run} requests to one host {tightest:?}; {expected} alerts, {receipts} webhook \
         requests ({} repeats of a delivery); {takeovers} polls taken over",
        polls_total,
        ended - started,
        killed_at - started,
        receipts - expected,
    );
    for (k, daemon) in daemons.iter().enumerate() {
        if let Some(daemon) = daemon {
            let polled = daemon
                .log_text()
                .lines()
                .filter(|line| line.contains("polled"))
                .count();
            assert!(polled > 0, "instance {k} polled nothing");
            println!("instance {k}: {polled} polls logged");
        }
    }
    for daemon in daemons.into_iter().flatten() {
        daemon.stop();
    }
    store.close().await;
}
