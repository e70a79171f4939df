//! Retention with a short period standing in for a clock moved forward: delivered alerts and
//! their deliveries are pruned once older than `retention`, and so is an item its feed stopped
//! listing (it alerts again if the feed brings it back much later), but an item the feed still
//! lists is kept however old, so it never alerts twice.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Daemon, NewsSite, Receiver, Story, TestStore};

fn story(slug: &str) -> Story {
    Story {
        slug: slug.into(),
        title: format!("Mothers and wives ({slug})"),
        summary: "x".into(),
        paragraphs: vec![
            "The mothers and wives of mobilized soldiers gathered outside the ministry on Monday."
                .into(),
        ],
        related: vec![],
    }
}

fn alerts_for(receiver: &Receiver, slug: &str) -> usize {
    receiver
        .received()
        .iter()
        .filter(|r| {
            r.json()["article"]["url"]
                .as_str()
                .is_some_and(|u| u.ends_with(&format!("/news/{slug}")))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_rows_are_pruned_but_a_still_listed_item_never_alerts_twice() {
    let site = NewsSite::start().await;
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
default_interval = "300ms"
jitter = 0.0
per_host_spacing = "0s"
first_poll = "alert"
allow_private = ["127.0.0.1/32"]
watchlists = []
retention = "3s"

[[webhook]]
name = "hook"
url = "{hook}"

[[topic]]
name = "mothers"
query = '"mothers and wives"'
notify = ["hook"]

[[feed]]
name = "news"
url = "{feed}"
"#,
        hook = receiver.url(),
        feed = site.url("/rss.xml"),
        store = test_store.config_value(),
    );
    let config_path = dir.path().join("feedwatch.toml");
    std::fs::write(&config_path, config).unwrap();
    site.add_rss(story("kept"));
    site.add_rss(story("dropped"));
    let daemon = Daemon::start(&config_path, "daemon.log");
    receiver.wait_for(2, Duration::from_secs(20)).await;
    site.remove_rss("dropped");

    // Four retention periods later: the delivered alerts are gone from the outbox…
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
            .args([
                "alerts",
                "list",
                "--status",
                "delivered",
                "--format",
                "json",
                "-c",
            ])
            .arg(&config_path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&listed.stdout).to_string();
        if stdout.trim().is_empty() || stdout.trim() == "[]" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "delivered alerts were not pruned: {stdout}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    // …the item still listed never alerted again, though its alert row is long gone…
    assert_eq!(alerts_for(&receiver, "kept"), 1);
    // …and the dropped item was forgotten: brought back, it is new again.
    site.add_rss(story("dropped"));
    let deadline = Instant::now() + Duration::from_secs(15);
    while alerts_for(&receiver, "dropped") < 2 {
        assert!(
            Instant::now() < deadline,
            "the dropped item was not pruned; log: {}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(alerts_for(&receiver, "kept"), 1);
    assert!(
        daemon
            .log_text()
            .contains("pruned what is older than retention")
    );
    daemon.stop();
}
