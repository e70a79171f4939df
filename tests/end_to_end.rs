//! The whole path on real local servers: feeds → pages → extraction → topics → signed webhooks,
//! across a restart and a webhook outage.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use base64::Engine;
use common::{Daemon, NewsSite, Received, Receiver, Story, TestStore};
use hmac::{KeyInit, Mac};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn story(slug: &str, title: &str, paragraphs: &[&str], related: &[&str]) -> Story {
    Story {
        slug: slug.into(),
        title: title.into(),
        summary: "Read the full story on our website.".into(),
        paragraphs: paragraphs.iter().map(|p| p.to_string()).collect(),
        related: related.iter().map(|r| r.to_string()).collect(),
    }
}

/// Four paragraphs of background, different for each story: stories that shared their filler
/// would be one story to the duplicate detection.
fn filler(topic: &str, seed: &str) -> Vec<String> {
    const WORDS: [&str; 24] = [
        "officials",
        "residents",
        "analysts",
        "numbers",
        "statements",
        "weeks",
        "council",
        "region",
        "families",
        "lawyers",
        "reporters",
        "police",
        "documents",
        "letters",
        "meetings",
        "villages",
        "schools",
        "roads",
        "courts",
        "hospitals",
        "markets",
        "winter",
        "budget",
        "elections",
    ];
    let mut state = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut word = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        WORDS[(state >> 33) as usize % WORDS.len()]
    };
    (0..4)
        .map(|i| {
            let words: Vec<&str> = (0..24).map(|_| word()).collect();
            format!(
                "Paragraph {i} of the report on {topic} gives the background: {}.",
                words.join(" ")
            )
        })
        .collect()
}

fn with_filler(lead: &str, topic: &str, last: &str) -> Vec<String> {
    let mut paragraphs = vec![lead.to_string()];
    paragraphs.extend(filler(topic, lead));
    paragraphs.push(last.to_string());
    paragraphs
}

/// Verifies a Standard Webhooks signature independently of feedwatch's signing code.
fn verify_signature(received: &Received) {
    let id = &received.headers["webhook-id"];
    let timestamp = &received.headers["webhook-timestamp"];
    let signature = &received.headers["webhook-signature"];
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{}", received.body).as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert!(
        signature.split(' ').any(|s| s == expected),
        "signature {signature} does not verify"
    );
    let now = chrono::Utc::now().timestamp();
    let sent: i64 = timestamp.parse().unwrap();
    assert!((now - sent).abs() < 60, "timestamp {sent} is not current");
}

fn alerts(received: &[Received]) -> BTreeSet<(String, String)> {
    received
        .iter()
        .map(|r| {
            let json = r.json();
            (
                json["topic"].as_str().unwrap().to_string(),
                json["article"]["url"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn write_config(
    dir: &std::path::Path,
    store: &TestStore,
    site: &NewsSite,
    receiver: &Receiver,
) -> std::path::PathBuf {
    // On SQLite the store sits in a directory that does not exist yet, which the daemon makes.
    let store = match store {
        TestStore::Sqlite(_) => "\"sqlite://state/feedwatch.db\"".to_string(),
        TestStore::Postgres(_) => store.config_value(),
    };
    let config = format!(
        r#"
[daemon]
store = {store}
listen = "127.0.0.1:0"
default_interval = "300ms"
jitter = 0.0
per_host_spacing = "0s"
# The article pages are served on loopback, which feed links may not reach by default.
allow_private = ["127.0.0.1/32"]

[[feed]]
name = "test-daily"
url = "{rss}"
tags = ["en"]

[[feed]]
name = "test-vesti"
url = "{atom}"
tags = ["ru"]

[[webhook]]
name = "receiver"
url = "${{RECEIVER_URL}}"
secret = "{SECRET}"
"#,
        rss = site.url("/rss.xml"),
        atom = site.url("/atom.xml"),
    );
    let watchlist = r#"
[[topic]]
name = "soldiers-mothers"
query = '"soldiers mothers" OR "mothers and wives"'
notify = ["receiver"]

[[topic]]
name = "mobilization-protests"
query = '(mobiliz* OR mobilis* OR мобилизац*) (protest* OR rally OR протест* OR митинг*)'
notify = ["receiver"]
"#;
    std::fs::create_dir_all(dir.join("watchlists")).unwrap();
    std::fs::write(dir.join("watchlists/topics.toml"), watchlist).unwrap();
    let path = dir.join("feedwatch.toml");
    // SAFETY: set before any daemon child starts; the tests in this file run one at a time.
    unsafe { std::env::set_var("RECEIVER_URL", receiver.url()) };
    std::fs::write(&path, config).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_flow_from_feeds_to_webhooks_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let Some(test_store) = TestStore::new(dir.path()).await else {
        return;
    };
    let site = NewsSite::start().await;
    let mut receiver = Receiver::start().await;
    let config = write_config(dir.path(), &test_store, &site, &receiver);

    // The backlog present at the first poll is only marked seen.
    site.add_rss(story(
        "old-mothers",
        "Old story",
        &["The mothers and wives of soldiers met last year, this old story says."],
        &[],
    ));
    let daemon = Daemon::start(&config, "run1.log");
    site.wait_for_requests("/rss.xml", 2, Duration::from_secs(20))
        .await;
    site.wait_for_requests("/atom.xml", 2, Duration::from_secs(20))
        .await;

    // Three new stories: one per topic, and one that mentions both topics only in its
    // related-stories sidebar, which must not alert.
    let added = Instant::now();
    site.add_rss(Story {
        paragraphs: with_filler(
            "The Council of Mothers and Wives of mobilized soldiers demanded a meeting with the president on Sunday.",
            "the council",
            "The council said it would keep asking until it gets an answer, its last statement read.",
        ),
        ..story("council-demands", "Families demand a meeting", &[], &["Weather: snow expected"])
    });
    site.add_rss(Story {
        paragraphs: with_filler(
            "Snow is expected in Moscow this weekend, with temperatures falling to minus ten degrees.",
            "the weather",
            "Forecasters advised residents to take care on icy roads.",
        ),
        ..story(
            "moscow-weather",
            "Snow expected in Moscow",
            &[],
            &[
                "Soldiers' mothers protest in Moscow",
                "Mothers and wives of mobilized men rally outside the Kremlin",
                "Mobilization protests spread to Dagestan",
            ],
        )
    });
    site.add_atom(Story {
        paragraphs: with_filler(
            "В Дагестане прошли протесты против мобилизации: жители вышли на улицы Махачкалы.",
            "протестах",
            "Полиция задержала несколько десятков человек, сообщили правозащитники.",
        ),
        ..story("dagestan", "Протесты в Дагестане", &[], &[])
    });

    let received = receiver.wait_for(2, Duration::from_secs(20)).await;
    let latency = received.iter().map(|r| r.at - added).max().unwrap();
    // Settle: nothing else may arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = receiver.received();
    assert_eq!(
        alerts(&received),
        BTreeSet::from([
            (
                "soldiers-mothers".to_string(),
                site.story_url("council-demands")
            ),
            (
                "mobilization-protests".to_string(),
                site.story_url("dagestan")
            ),
        ]),
        "daemon log:\n{}",
        daemon.log_text()
    );
    assert_eq!(received.len(), 2);
    for r in &received {
        verify_signature(r);
        let json = r.json();
        assert_eq!(json["id"], r.headers["webhook-id"].as_str());
        assert_eq!(json["type"], "feedwatch.alert");
        assert!(json["score"].as_f64().unwrap() >= 1.0);
        assert!(json["snippets"][0].as_str().unwrap().contains("<mark>"));
    }
    let council = received
        .iter()
        .map(Received::json)
        .find(|j| j["topic"] == "soldiers-mothers")
        .unwrap();
    assert_eq!(council["article"]["feed"], "test-daily");
    assert_eq!(council["article"]["site"], "127.0.0.1");
    assert_eq!(council["article"]["published"], "2022-11-25T10:00:00Z");
    assert_eq!(council["matched"], serde_json::json!(["mothers and wives"]));
    println!("end-to-end latency (item appears → webhook receives it, 300 ms polls): {latency:?}");

    // A restart repeats nothing.
    daemon.stop();
    let daemon = Daemon::start(&config, "run2.log");
    site.wait_for_requests("/rss.xml", 3, Duration::from_secs(20))
        .await;
    site.wait_for_requests("/atom.xml", 3, Duration::from_secs(20))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 2, "log:\n{}", daemon.log_text());

    // A webhook that is down gets the alert once it is back.
    receiver.take_down().await;
    site.add_rss(Story {
        paragraphs: with_filler(
            "Soldiers' mothers from Samara travelled to Moscow to ask about their sons.",
            "the journey",
            "They plan to return next month.",
        ),
        ..story("samara-mothers", "A journey from Samara", &[], &[])
    });
    site.wait_for_requests("/news/samara-mothers", 1, Duration::from_secs(20))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.received().len(), 2);
    receiver.restart().await;
    let received = receiver.wait_for(3, Duration::from_secs(30)).await;
    let late = received[2].json();
    assert_eq!(late["topic"], "soldiers-mothers");
    assert_eq!(late["article"]["url"], site.story_url("samara-mothers"));
    verify_signature(&received[2]);
    let ids: BTreeSet<_> = received
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert_eq!(ids.len(), 3, "no alert arrives twice");
    let log = daemon.log_text();
    assert!(log.contains("delivery failed; will retry"), "log:\n{log}");
    daemon.stop();
}
