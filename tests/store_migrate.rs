//! `feedwatch store migrate`: a SQLite store with feeds, items, alerts, deliveries in every
//! state, a pending item, host memory, webhook state and a WebSub subscription is copied to
//! PostgreSQL and back, and reads the same through the store's API on each; a non-empty target
//! is refused unless `--force`, which then adds nothing twice. Skipped (saying so) where no
//! PostgreSQL server answers.

use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use feedwatch::feeds::{FeedItem, ItemKey};
use feedwatch::store::scratch::ScratchDatabase;
use feedwatch::store::{
    ClaimShape, DeliveryFilter, HubMode, NewAlert, Sink, Store, Subscription, SubscriptionState,
};

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_764_000_000 + seconds, 0).unwrap()
}

fn item(key: &str) -> FeedItem {
    FeedItem {
        key: ItemKey::from_stored(key.to_string()),
        title: format!("Title «{key}»"),
        link: Some(format!("http://127.0.0.1/{key}")),
        summary: None,
        content: None,
        published: None,
        authors: vec![],
    }
}

fn alert(id: &str, sinks: &[Sink]) -> NewAlert {
    NewAlert {
        id: id.into(),
        topic: "protests".into(),
        payload: format!("{{\"id\":\"{id}\",\"text\":\"мобилизация\"}}"),
        sinks: sinks.iter().map(|s| (s.clone(), at(0))).collect(),
        dedupe: true,
    }
}

/// A store with something in every table the copy carries.
async fn populate(store: &Store) {
    let hook = Sink::Webhook("hook".into());
    store
        .register_feed("news", "http://127.0.0.1/news.xml")
        .await
        .unwrap();
    store
        .register_feed("wire", "http://127.0.0.1/wire.xml")
        .await
        .unwrap();
    store
        .mark_seen_on_first_poll("news", &[&item("old")], at(0))
        .await
        .unwrap();
    store
        .record_poll_failure("wire", "timed out", at(5), at(65))
        .await
        .unwrap();
    store
        .register_webhook("hook", "fingerprint", at(0))
        .await
        .unwrap();
    for (i, key) in ["a", "b", "c"].iter().enumerate() {
        store
            .record_item(
                "news",
                &item(key),
                None,
                &[alert(
                    &format!("alert-{key}"),
                    &[hook.clone(), Sink::Stdout],
                )],
                at(10 + i as i64),
            )
            .await
            .unwrap();
    }
    // One delivered, one failed, one still pending.
    let claimed = store
        .claim_deliveries(
            &hook,
            at(100),
            2,
            ClaimShape::Single,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    store.mark_delivered(&claimed[0], at(101)).await.unwrap();
    let failed: Vec<_> = claimed[1].iter().map(|row| (row, Some(at(400)))).collect();
    store.mark_failed(&failed, "HTTP 503", false).await.unwrap();
    store
        .defer_item("wire", &item("later"), 1, "HTTP 502", at(200))
        .await
        .unwrap();
    store
        .save_host_memory("127.0.0.1", &[1, 2, 3, 255], at(7))
        .await
        .unwrap();
    store
        .put_subscription(&Subscription {
            feed: "news".into(),
            hub: "http://127.0.0.1/hub".into(),
            topic: "http://127.0.0.1/news.xml".into(),
            callback_id: "cb1".into(),
            secret: "s3cret".into(),
            state: SubscriptionState::Verified,
            pending_mode: Some(HubMode::Subscribe),
            requested_at: at(3),
            verified_at: Some(at(4)),
            lease_expires_at: None,
            last_error: None,
        })
        .await
        .unwrap();
}

/// What the store's API reads back, as text, so two stores can be compared whole.
async fn snapshot(store: &Store) -> String {
    let mut out = String::new();
    for (name, url, state) in store.feed_states().await.unwrap() {
        out += &format!("{name} {url} {state:?}\n");
    }
    let everything = DeliveryFilter {
        limit: 1000,
        ..DeliveryFilter::default()
    };
    for row in store.deliveries(&everything).await.unwrap() {
        out += &format!("{row:?}\n");
    }
    for id in store.alert_ids().await.unwrap() {
        out += &format!("{id} {:?}\n", store.alert_payload(&id).await.unwrap());
    }
    let keys = [
        ItemKey::from_stored("old".into()),
        ItemKey::from_stored("new".into()),
    ];
    out += &format!(
        "unseen {:?}\n",
        store
            .unseen("news", &keys.iter().collect::<Vec<_>>())
            .await
            .unwrap()
    );
    out += &format!(
        "pending {:?}\n",
        store.next_pending_item("wire").await.unwrap()
    );
    out += &format!(
        "memory {:?}\n",
        store.host_memory("127.0.0.1").await.unwrap()
    );
    out += &format!("disabled {:?}\n", store.disabled_webhooks().await.unwrap());
    for sub in store.subscriptions().await.unwrap() {
        out += &format!("{sub:?} {} {:?}\n", sub.secret, sub.verified_at);
    }
    out
}

fn migrate(from: &str, to: &str, force: bool) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_feedwatch"));
    command.args(["store", "migrate", "--from", from, "--to", to]);
    if force {
        command.arg("--force");
    }
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_store_moves_to_postgres_and_back() {
    let Some(database) = ScratchDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("feedwatch.db");
    let source = Store::open_sqlite(&sqlite).await.unwrap();
    populate(&source).await;
    let expected = snapshot(&source).await;
    source.close().await;
    let from = format!("sqlite://{}", sqlite.display());

    let copied = migrate(&from, database.url(), false);
    let stdout = String::from_utf8_lossy(&copied.stdout);
    assert!(copied.status.success(), "{copied:?}");
    // 2 feeds, 4 items, 3 alerts, 6 deliveries, webhook, memory, pending item, subscription,
    // fingerprints of none, and the one host slot none: 19 rows.
    assert!(stdout.contains("copied 19 of 19 rows"), "{stdout}");
    let postgres = Store::open_postgres(database.url()).await.unwrap();
    assert_eq!(snapshot(&postgres).await, expected);

    // A second copy into the now non-empty target is refused, and says how to insist.
    let refused = migrate(&from, database.url(), false);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("not empty") && stderr.contains("--force"),
        "{stderr}"
    );
    // Insisting adds nothing that is there already.
    let again = migrate(&from, database.url(), true);
    assert!(again.status.success(), "{again:?}");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("copied 0 of 19 rows"),
        "{again:?}"
    );
    assert_eq!(snapshot(&postgres).await, expected);
    postgres.close().await;

    // And back into a new SQLite file.
    let back = dir.path().join("back/feedwatch.db");
    let returned = migrate(
        database.url(),
        &format!("sqlite://{}", back.display()),
        false,
    );
    assert!(returned.status.success(), "{returned:?}");
    let back = Store::open_sqlite(&back).await.unwrap();
    assert_eq!(snapshot(&back).await, expected);
}

#[test]
fn a_missing_source_or_a_bad_url_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}", dir.path().join("nope.db").display());
    let out = migrate(&missing, "postgres://postgres@127.0.0.1/test", false);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not exist"),
        "{out:?}"
    );
    let out = migrate("mysql://x", "postgres://postgres@127.0.0.1/test", false);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unsupported store `mysql`"),
        "{out:?}"
    );
}
