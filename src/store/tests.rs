use super::*;

fn item(key: &str) -> FeedItem {
    FeedItem {
        key: ItemKey::from_stored(key.to_string()),
        title: format!("title {key}"),
        link: Some(format!("http://127.0.0.1/{key}")),
        summary: None,
        content: None,
        published: None,
        authors: vec![],
    }
}

fn alert(id: &str, topic: &str, sinks: Vec<Sink>) -> NewAlert {
    NewAlert {
        id: id.into(),
        topic: topic.into(),
        payload: format!("{{\"id\":\"{id}\"}}"),
        // Due a moment ago, so a claim at any `now` taken in the test finds it.
        sinks: sinks
            .into_iter()
            .map(|s| (s, Utc::now() - chrono::Duration::seconds(1)))
            .collect(),
    }
}

async fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("sub/state.db"))
        .await
        .unwrap();
    store
        .register_feed("f", "http://127.0.0.1/feed")
        .await
        .unwrap();
    (store, dir)
}

#[tokio::test]
async fn an_item_and_its_alerts_are_recorded_once() {
    let (store, _dir) = store().await;
    let now = Utc::now();
    let a = item("a");
    let created = store
        .record_item("f", &a, None, &[alert("1", "t", vec![Sink::Stdout])], now)
        .await
        .unwrap();
    assert_eq!(created, vec!["1"]);
    // A second run that sees the same item again creates nothing, even with a new alert id.
    let again = store
        .record_item("f", &a, None, &[alert("2", "t", vec![Sink::Stdout])], now)
        .await
        .unwrap();
    assert!(again.is_empty());
    let keys = [&a.key, &item("b").key];
    assert_eq!(store.unseen("f", &keys).await.unwrap(), vec![false, true]);
}

#[tokio::test]
async fn state_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let store = Store::open_sqlite(&path).await.unwrap();
        store
            .register_feed("f", "http://127.0.0.1/feed")
            .await
            .unwrap();
        let validators = Validators {
            etag: Some("\"v1\"".into()),
            last_modified: None,
        };
        let now = Utc::now();
        store
            .record_poll_success("f", Some(&validators), now, now)
            .await
            .unwrap();
        store.mark_seen("f", &[&item("a")], now).await.unwrap();
        store.close().await;
    }
    let store = Store::open_sqlite(&path).await.unwrap();
    let state = store.feed_state("f").await.unwrap();
    assert!(state.first_polled);
    assert_eq!(state.validators.etag.as_deref(), Some("\"v1\""));
    assert_eq!(
        store.unseen("f", &[&item("a").key]).await.unwrap(),
        vec![false]
    );

    // A changed URL drops the old URL's validators.
    store
        .register_feed("f", "http://127.0.0.1/moved")
        .await
        .unwrap();
    assert_eq!(
        store.feed_state("f").await.unwrap().validators,
        Validators::default()
    );
}

#[tokio::test]
async fn failures_count_up_and_success_resets() {
    let (store, _dir) = store().await;
    let now = Utc::now();
    store
        .record_poll_failure("f", "HTTP 500", now, now)
        .await
        .unwrap();
    store
        .record_poll_failure("f", "HTTP 500", now, now)
        .await
        .unwrap();
    assert_eq!(store.feed_state("f").await.unwrap().consecutive_failures, 2);
    store
        .record_poll_success("f", None, now, now)
        .await
        .unwrap();
    assert_eq!(store.feed_state("f").await.unwrap().consecutive_failures, 0);
}

#[tokio::test]
async fn claimed_deliveries_are_leased_retried_and_finished() {
    let (store, _dir) = store().await;
    let now = Utc::now();
    let hook = Sink::Webhook("hook".into());
    store
        .record_item(
            "f",
            &item("a"),
            None,
            &[alert("1", "t", vec![hook.clone(), Sink::Stdout])],
            now,
        )
        .await
        .unwrap();
    let lease = Duration::from_secs(60);
    let claimed = store.claim_due_deliveries(now, 10, lease).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].payload, "{\"id\":\"1\"}");
    // Leased rows are not handed out twice.
    assert!(
        store
            .claim_due_deliveries(now, 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
    // …until the lease runs out (a crashed sender).
    let later = now + chrono::Duration::seconds(61);
    assert_eq!(
        store
            .claim_due_deliveries(later, 10, lease)
            .await
            .unwrap()
            .len(),
        2
    );

    store
        .mark_delivered("1", &Sink::Stdout, later)
        .await
        .unwrap();
    let retry_at = later + chrono::Duration::seconds(5);
    store
        .mark_failed("1", &hook, "HTTP 500", Some(retry_at))
        .await
        .unwrap();
    assert!(
        store
            .claim_due_deliveries(later, 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.next_delivery_due().await.unwrap(),
        Some(from_millis(millis(retry_at)))
    );
    let retried = store
        .claim_due_deliveries(retry_at, 10, lease)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 1);
    assert_eq!(retried[0].sink, hook);

    store.mark_failed("1", &hook, "gone", None).await.unwrap();
    let far = retry_at + chrono::Duration::days(30);
    assert!(
        store
            .claim_due_deliveries(far, 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_delivery_due().await.unwrap(), None);
}

#[tokio::test]
async fn a_disabled_webhook_keeps_its_deliveries_until_enabled_or_moved() {
    let (store, _dir) = store().await;
    let now = Utc::now();
    let hook = Sink::Webhook("hook".into());
    store.register_webhook("hook", "url-a").await.unwrap();
    store
        .record_item(
            "f",
            &item("a"),
            None,
            &[alert("1", "t", vec![hook.clone()])],
            now,
        )
        .await
        .unwrap();
    store
        .disable_webhook("hook", "410 Gone", now)
        .await
        .unwrap();
    let lease = Duration::from_secs(60);
    assert!(
        store
            .claim_due_deliveries(now, 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_delivery_due().await.unwrap(), None);
    assert_eq!(
        store.disabled_webhooks().await.unwrap(),
        vec![("hook".to_string(), "410 Gone".to_string())]
    );
    // Same URL: stays disabled. A new URL: enabled again, and the delivery goes out.
    store.register_webhook("hook", "url-a").await.unwrap();
    assert!(
        store
            .claim_due_deliveries(now, 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
    store.register_webhook("hook", "url-b").await.unwrap();
    let claimed = store.claim_due_deliveries(now, 10, lease).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].topic, "t");

    // Deferring does not count an attempt.
    store
        .defer("1", &hook, now + chrono::Duration::seconds(2))
        .await
        .unwrap();
    let later = now + chrono::Duration::seconds(3);
    assert_eq!(
        store.claim_due_deliveries(later, 10, lease).await.unwrap()[0].attempts,
        0
    );
}

#[tokio::test]
async fn one_article_reached_through_two_feeds_alerts_a_topic_once() {
    let (store, _dir) = store().await;
    store
        .register_feed("g", "http://127.0.0.1/other")
        .await
        .unwrap();
    let now = Utc::now();
    let mut a = item("a");
    a.link = Some("https://news.example/story?utm_source=rss".into());
    let mut b = item("b");
    b.link = Some("https://news.example/story#top".into());
    let first = store
        .record_item("f", &a, None, &[alert("1", "t", vec![])], now)
        .await
        .unwrap();
    let second = store
        .record_item(
            "g",
            &b,
            None,
            &[alert("2", "t", vec![]), alert("3", "u", vec![])],
            now,
        )
        .await
        .unwrap();
    assert_eq!(first, vec!["1"]);
    assert_eq!(
        second,
        vec!["3"],
        "topic t already alerted on this story; topic u had not"
    );
}

#[tokio::test]
async fn a_poll_whose_process_died_is_found_once_its_heartbeat_stops() {
    let (store, _dir) = store().await;
    let t0 = Utc::now();
    store.register_instance("dead", t0).await.unwrap();
    store.register_instance("alive", t0).await.unwrap();
    assert!(store.begin_poll("f", "dead", t0).await.unwrap());
    // While the owner's mark stands, nobody else polls the feed.
    assert!(!store.begin_poll("f", "alive", t0).await.unwrap());
    // The owner may go on (a poll retried after a store error).
    assert!(store.begin_poll("f", "dead", t0).await.unwrap());

    let later = t0 + chrono::Duration::seconds(30);
    store.heartbeat("alive", later).await.unwrap();
    let alive_since = later - chrono::Duration::seconds(10);
    let interrupted = store.recover_interrupted_polls(alive_since).await.unwrap();
    assert_eq!(interrupted, vec![("f".to_string(), 1)]);
    // Recovered once only, and the feed is free again.
    assert!(
        store
            .recover_interrupted_polls(alive_since)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.feed_state("f").await.unwrap().interrupted_polls, 1);
    assert!(store.begin_poll("f", "alive", later).await.unwrap());

    // A live owner's poll is not interrupted; finishing it resets the count.
    assert!(
        store
            .recover_interrupted_polls(alive_since)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .record_poll_failure("f", "boom", later, later)
        .await
        .unwrap();
    let state = store.feed_state("f").await.unwrap();
    assert_eq!(state.interrupted_polls, 0);
    assert!(store.begin_poll("f", "dead", later).await.unwrap());
}

#[tokio::test]
async fn a_clean_exit_releases_its_polls_without_counting_them() {
    let (store, _dir) = store().await;
    let now = Utc::now();
    store.register_instance("me", now).await.unwrap();
    assert!(store.begin_poll("f", "me", now).await.unwrap());
    store.retire_instance("me").await.unwrap();
    let future = now + chrono::Duration::hours(1);
    assert!(
        store
            .recover_interrupted_polls(future)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.feed_state("f").await.unwrap().interrupted_polls, 0);
}

#[tokio::test]
async fn quarantine_holds_until_resumed_or_the_url_changes() {
    let (store, _dir) = store().await;
    let now = Utc::now();
    store.quarantine_feed("f", "died 3 times").await.unwrap();
    assert!(!store.begin_poll("f", "me", now).await.unwrap());
    assert_eq!(
        store
            .feed_state("f")
            .await
            .unwrap()
            .quarantined_reason
            .as_deref(),
        Some("died 3 times")
    );
    assert!(store.resume_feed("f").await.unwrap());
    assert!(store.begin_poll("f", "me", now).await.unwrap());
    assert!(!store.resume_feed("nonexistent").await.unwrap());

    store.quarantine_feed("f", "again").await.unwrap();
    store
        .register_feed("f", "http://127.0.0.1/other-feed")
        .await
        .unwrap();
    assert_eq!(
        store.feed_state("f").await.unwrap().quarantined_reason,
        None
    );
}
