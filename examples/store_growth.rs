//! How large the store grows: a month of a busy deployment written through the real store API
//! into a fresh SQLite file, then measured, then pruned as retention would prune it.
//!
//! ```sh
//! cargo run --release --example store_growth -- --feeds 1000 --days 30 --items-per-day 40 --alert-percent 2
//! ```
//!
//! Each feed gets `--items-per-day` new items a day (the busiest news feeds publish 50–100,
//! most far fewer), every one refreshed as listed on each daily poll while it stays in a
//! 50-item feed; `--alert-percent` of the items alert one topic with a realistic payload and
//! one delivered webhook delivery; each feed's host keeps a full template memory (2,000
//! fingerprints). Prints the file size after the month, per 1,000 feeds, and after a prune with
//! the given `--retention-days`.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use feedwatch::alerts::payload::AlertPayload;
use feedwatch::feeds::{FeedItem, ItemKey};
use feedwatch::store::{ClaimShape, NewAlert, Sink, Store};

struct Args {
    feeds: usize,
    days: usize,
    items_per_day: usize,
    alert_percent: usize,
    retention_days: i64,
}

fn args() -> Args {
    let mut args = Args {
        feeds: 1000,
        days: 30,
        items_per_day: 40,
        alert_percent: 2,
        retention_days: 90,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value: usize = it
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{flag} needs a number"));
        match flag.as_str() {
            "--feeds" => args.feeds = value,
            "--days" => args.days = value,
            "--items-per-day" => args.items_per_day = value,
            "--alert-percent" => args.alert_percent = value,
            "--retention-days" => args.retention_days = value as i64,
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn item(feed: usize, n: usize) -> FeedItem {
    FeedItem {
        key: ItemKey::from_stored(format!("id:https://news{feed}.example/{n}")),
        title: format!(
            "Regional officials announce new measures after weekend protests, story {n}"
        ),
        link: Some(format!("https://news{feed}.example/2026/11/30/story-{n}")),
        summary: None,
        content: None,
        published: None,
        authors: vec![],
    }
}

fn payload(id: &str) -> String {
    let mut payload = AlertPayload::example();
    payload.id = id.to_string();
    payload.snippets = vec![payload.snippets[0].clone(); 3];
    payload.article.summary = Some("An anti-war group of mothers and wives of mobilized soldiers says the president is hiding from them, after months of letters and petitions went unanswered.".into());
    serde_json::to_string(&payload).unwrap()
}

fn file_size(path: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            std::fs::metadata(name).map(|m| m.len()).unwrap_or(0)
        })
        .sum()
}

#[tokio::main]
async fn main() {
    let args = args();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("growth.db");
    let store = Store::open_sqlite(&path).await.unwrap();
    let start: DateTime<Utc> = Utc::now() - chrono::Duration::days(args.days as i64);
    for feed in 0..args.feeds {
        store
            .register_feed(
                &format!("feed-{feed}"),
                &format!("https://news{feed}.example/rss"),
            )
            .await
            .unwrap();
        let memory = vec![0x5a_u8; 16 + 2000 * 20];
        store
            .save_host_memory(&format!("news{feed}.example"), &memory, start)
            .await
            .unwrap();
    }
    let alert_every = (100 / args.alert_percent.max(1)).max(1);
    let (mut items, mut alerts) = (0usize, 0usize);
    for day in 0..args.days {
        let now = start + chrono::Duration::days(day as i64);
        for feed in 0..args.feeds {
            let name = format!("feed-{feed}");
            let first = day * args.items_per_day;
            let new: Vec<FeedItem> = (first..first + args.items_per_day)
                .map(|n| item(feed, n))
                .collect();
            let (mut alerting, mut quiet) = (Vec::new(), Vec::new());
            for (i, it) in new.iter().enumerate() {
                if (first + i).is_multiple_of(alert_every) {
                    alerting.push(it);
                } else {
                    quiet.push(it);
                }
            }
            store
                .mark_seen_on_first_poll(&name, &quiet, now)
                .await
                .unwrap();
            for it in alerting {
                let id = ulid::Ulid::new().to_string();
                let alert = NewAlert {
                    id: id.clone(),
                    topic: "soldiers-mothers".into(),
                    payload: payload(&id),
                    sinks: vec![(Sink::Webhook("archive".into()), now)],
                    dedupe: true,
                };
                store
                    .record_item(&name, it, None, &[alert], now)
                    .await
                    .unwrap();
                alerts += 1;
            }
            items += new.len();
            // The day's poll lists the newest 50 items.
            let newest = first + args.items_per_day;
            let listed: Vec<FeedItem> = (newest.saturating_sub(50)..newest)
                .map(|n| item(feed, n))
                .collect();
            let keys: Vec<&ItemKey> = listed.iter().map(|i| &i.key).collect();
            store
                .refresh_listed(&name, &keys, now, Duration::from_secs(86_400))
                .await
                .unwrap();
            store
                .record_poll_success(&name, None, true, now, now)
                .await
                .unwrap();
        }
        // Every alert of the day is delivered.
        let sink = Sink::Webhook("archive".into());
        loop {
            let claimed = store
                .claim_deliveries(&sink, now, 500, ClaimShape::Single, Duration::from_secs(60))
                .await
                .unwrap();
            if claimed.is_empty() {
                break;
            }
            let rows: Vec<_> = claimed.into_iter().flatten().collect();
            store.mark_delivered(&rows, now).await.unwrap();
        }
        eprint!("\rday {}/{}", day + 1, args.days);
    }
    eprintln!();
    store.close().await;
    let store = Store::open_sqlite(&path).await.unwrap();
    let size = file_size(&path);
    let per_thousand = size as f64 / args.feeds as f64 * 1000.0 / (1024.0 * 1024.0);
    println!(
        "{} feeds × {} days: {items} items, {alerts} alerts (delivered): {:.1} MiB, {per_thousand:.1} MiB per 1,000 feeds",
        args.feeds,
        args.days,
        size as f64 / (1024.0 * 1024.0),
    );
    let pruned = store
        .prune(
            Utc::now() + chrono::Duration::days(args.retention_days),
            Duration::from_secs(args.retention_days as u64 * 86_400),
        )
        .await
        .unwrap();
    println!(
        "after {} more days without polls, pruning with retention {}d: {pruned:?}",
        args.retention_days, args.retention_days
    );
}
