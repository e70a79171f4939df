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
        dedupe: true,
    }
}

/// Where a test's store lives. Every test below runs once on each (see `on_both_backends!`).
enum Backing {
    Sqlite(tempfile::TempDir),
    Postgres(scratch::ScratchDatabase),
}

impl Backing {
    /// Opens the store, again if it was opened before.
    async fn open(&self) -> Store {
        match self {
            Backing::Sqlite(dir) => Store::open_sqlite(&dir.path().join("sub/state.db")).await,
            Backing::Postgres(database) => Store::open_postgres(database.url()).await,
        }
        .unwrap()
    }
}

/// The store with feed `f` registered.
async fn store(backing: &Backing) -> Store {
    let store = backing.open().await;
    store
        .register_feed("f", "http://127.0.0.1/feed")
        .await
        .unwrap();
    store
}

async fn an_item_and_its_alerts_are_recorded_once(backing: &Backing) {
    let store = store(backing).await;
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

async fn state_survives_reopening(backing: &Backing) {
    {
        let store = backing.open().await;
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
            .record_poll_success("f", Some(&validators), true, now, now)
            .await
            .unwrap();
        store
            .mark_seen_on_first_poll("f", &[&item("a")], now)
            .await
            .unwrap();
        store.close().await;
    }
    let store = backing.open().await;
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

async fn failures_count_up_and_success_resets(backing: &Backing) {
    let store = store(backing).await;
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
        .record_poll_success("f", None, false, now, now)
        .await
        .unwrap();
    assert_eq!(store.feed_state("f").await.unwrap().consecutive_failures, 0);
}
/// Records alert `id` of `topic` (its own item) created at `created`, due for `sink` at `due`.
async fn queue(
    store: &Store,
    id: &str,
    topic: &str,
    sink: &Sink,
    created: DateTime<Utc>,
    due: DateTime<Utc>,
) {
    let mut new = alert(id, topic, vec![]);
    new.sinks = vec![(sink.clone(), due)];
    let created_ids = store
        .record_item("f", &item(&format!("item-{id}")), None, &[new], created)
        .await
        .unwrap();
    assert_eq!(created_ids, vec![id.to_string()]);
}

/// The single message of a claim that must find exactly one.
async fn claim_one(store: &Store, sink: &Sink, now: DateTime<Utc>, lease: Duration) -> DueDelivery {
    let mut messages = store
        .claim_deliveries(sink, now, 10, ClaimShape::Single, lease)
        .await
        .unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let mut rows = messages.remove(0);
    assert_eq!(rows.len(), 1);
    rows.remove(0)
}

async fn status_of(store: &Store, id: &str, sink: &Sink) -> (DeliveryStatus, u32) {
    let filter = DeliveryFilter {
        alert_id: Some(id.into()),
        sink: Some(sink.clone()),
        limit: 10,
        ..DeliveryFilter::default()
    };
    let rows = store.deliveries(&filter).await.unwrap();
    assert_eq!(rows.len(), 1);
    (rows[0].status, rows[0].attempts)
}

async fn claimed_deliveries_are_leased_retried_and_finished(backing: &Backing) {
    let store = store(backing).await;
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
    let first = claim_one(&store, &hook, now, lease).await;
    assert_eq!(first.payload, "{\"id\":\"1\"}");
    let local = claim_one(&store, &Sink::Stdout, now, lease).await;
    // Each sink claims only its own rows, and leased rows are not handed out twice.
    for sink in [&hook, &Sink::Stdout] {
        let again = store
            .claim_deliveries(sink, now, 10, ClaimShape::Single, lease)
            .await
            .unwrap();
        assert!(again.is_empty());
    }
    // …until the lease runs out (a crashed sender): then under a new token.
    let later = now + chrono::Duration::seconds(61);
    let reclaimed = claim_one(&store, &hook, later, lease).await;
    assert_ne!(reclaimed.claim_token, first.claim_token);

    assert_eq!(
        store
            .mark_delivered(std::slice::from_ref(&local), later)
            .await
            .unwrap(),
        1
    );
    let retry_at = later + chrono::Duration::seconds(5);
    assert_eq!(
        store
            .mark_failed(&[(&reclaimed, Some(retry_at))], "HTTP 500", false)
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .claim_deliveries(&hook, later, 10, ClaimShape::Single, lease)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.next_delivery_due(&hook).await.unwrap(),
        Some(from_millis(millis(retry_at)))
    );
    assert_eq!(store.next_delivery_due(&Sink::Stdout).await.unwrap(), None);
    let retried = claim_one(&store, &hook, retry_at, lease).await;
    assert_eq!(retried.attempts, 1);
    assert_eq!(retried.sink, hook);

    store
        .mark_failed(&[(&retried, None)], "gone", false)
        .await
        .unwrap();
    let far = retry_at + chrono::Duration::days(30);
    assert!(
        store
            .claim_deliveries(&hook, far, 10, ClaimShape::Single, lease)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_delivery_due(&hook).await.unwrap(), None);
    assert_eq!(
        status_of(&store, "1", &hook).await,
        (DeliveryStatus::Dead, 2)
    );
}

async fn a_late_sender_changes_nothing_once_its_claim_is_taken_over(backing: &Backing) {
    let store = store(backing).await;
    let now = Utc::now();
    let hook = Sink::Webhook("hook".into());
    queue(&store, "1", "t", &hook, now, now).await;
    let lease = Duration::from_secs(1);
    let late = claim_one(&store, &hook, now, lease).await;
    // Sender A's lease runs out mid-request (a busy store); sender B takes the row over.
    let takeover_at = now + chrono::Duration::seconds(2);
    let current = claim_one(&store, &hook, takeover_at, lease).await;

    // A's results, whatever they are, change nothing now.
    let retry_at = Some(takeover_at + chrono::Duration::seconds(5));
    assert_eq!(
        store
            .mark_failed(&[(&late, retry_at)], "timed out", false)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.release(std::slice::from_ref(&late)).await.unwrap(), 0);
    assert_eq!(
        store
            .mark_delivered(std::slice::from_ref(&late), takeover_at)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        status_of(&store, "1", &hook).await,
        (DeliveryStatus::Pending, 0)
    );

    // B's claim decides.
    assert_eq!(
        store
            .mark_delivered(std::slice::from_ref(&current), takeover_at)
            .await
            .unwrap(),
        1
    );
    // Once delivered, no completion of either claim turns the row back to pending.
    for row in [&late, &current] {
        assert_eq!(
            store
                .mark_failed(&[(row, retry_at)], "HTTP 500", true)
                .await
                .unwrap(),
            0
        );
        assert_eq!(store.release(std::slice::from_ref(row)).await.unwrap(), 0);
        assert_eq!(
            store
                .mark_delivered(std::slice::from_ref(row), takeover_at)
                .await
                .unwrap(),
            0
        );
    }
    assert_eq!(
        status_of(&store, "1", &hook).await,
        (DeliveryStatus::Delivered, 1)
    );
    let far = now + chrono::Duration::days(30);
    assert!(
        store
            .claim_deliveries(&hook, far, 10, ClaimShape::Single, lease)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_delivery_due(&hook).await.unwrap(), None);
}

async fn a_digest_is_recorded_under_its_claim_row_by_row(backing: &Backing) {
    let store = store(backing).await;
    let now = Utc::now();
    let hook = Sink::Webhook("hook".into());
    queue(&store, "1", "t", &hook, now, now).await;
    queue(&store, "2", "t", &hook, now, now).await;
    let lease = Duration::from_secs(1);
    let mut digest = store
        .claim_deliveries(&hook, now, 1, ClaimShape::ByTopic(64), lease)
        .await
        .unwrap();
    assert_eq!(digest.len(), 1);
    let digest = digest.remove(0);
    assert_eq!(digest.len(), 2);
    assert_eq!(digest[0].claim_token, digest[1].claim_token);
    // Another sender releases nothing of it, and a release by its own claim frees both rows.
    let mut foreign = digest[0].clone();
    foreign.claim_token = "someone-else".into();
    assert_eq!(store.release(&[foreign]).await.unwrap(), 0);
    assert_eq!(store.release(&digest).await.unwrap(), 2);
    let again = store
        .claim_deliveries(&hook, now, 1, ClaimShape::ByTopic(64), lease)
        .await
        .unwrap();
    assert_eq!(again[0].len(), 2, "released rows are due at once");
    // Recording the old claim after the new one took the rows changes neither.
    assert_eq!(store.mark_delivered(&digest, now).await.unwrap(), 0);
    assert_eq!(store.mark_delivered(&again[0], now).await.unwrap(), 2);
}

async fn claims_take_only_as_many_messages_as_asked_oldest_alert_first(backing: &Backing) {
    let store = store(backing).await;
    let t0 = Utc::now() - chrono::Duration::seconds(10);
    let hook = Sink::Webhook("hook".into());
    let at = |ms| t0 + chrono::Duration::milliseconds(ms);
    // Recorded out of order, and due in the opposite order of their creation (retries).
    queue(&store, "c", "u", &hook, at(30), at(1)).await;
    queue(&store, "a", "t", &hook, at(10), at(3)).await;
    queue(&store, "b", "u", &hook, at(20), at(2)).await;
    queue(&store, "d", "t", &hook, at(40), at(0)).await;
    let lease = Duration::from_secs(60);
    let now = Utc::now();

    let one = store
        .claim_deliveries(&hook, now, 1, ClaimShape::Single, lease)
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0][0].alert_id, "a");
    // The rest stay as they were: unclaimed, unattempted, due when they were due.
    for id in ["b", "c", "d"] {
        assert_eq!(
            status_of(&store, id, &hook).await,
            (DeliveryStatus::Pending, 0)
        );
    }
    assert_eq!(
        store.next_delivery_due(&hook).await.unwrap(),
        Some(from_millis(millis(at(0))))
    );
    store.release(&one[0]).await.unwrap();

    // A digest takes the oldest alert's topic whole, then the next topic.
    let digests = store
        .claim_deliveries(&hook, now, 1, ClaimShape::ByTopic(64), lease)
        .await
        .unwrap();
    let ids = |m: &Vec<DueDelivery>| m.iter().map(|d| d.alert_id.clone()).collect::<Vec<_>>();
    assert_eq!(
        digests.iter().map(ids).collect::<Vec<_>>(),
        vec![vec!["a", "d"]]
    );
    let next = store
        .claim_deliveries(&hook, now, 5, ClaimShape::ByTopic(64), lease)
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(ids).collect::<Vec<_>>(),
        vec![vec!["b", "c"]]
    );
    store.release(&digests[0]).await.unwrap();
    store.release(&next[0]).await.unwrap();

    // A batch is one message of several rows under one token.
    let batch = store
        .claim_deliveries(&hook, now, 1, ClaimShape::Batch(3), lease)
        .await
        .unwrap();
    assert_eq!(
        batch.iter().map(ids).collect::<Vec<_>>(),
        vec![vec!["a", "b", "c"]]
    );
    assert!(
        batch[0]
            .iter()
            .all(|d| d.claim_token == batch[0][0].claim_token)
    );
}

async fn retry_without_ids_resets_only_failed_and_dead_rows(backing: &Backing) {
    let store = store(backing).await;
    let now = Utc::now();
    let hook = Sink::Webhook("hook".into());
    let other = Sink::Webhook("other".into());
    let lease = Duration::from_secs(60);
    let soon = now - chrono::Duration::seconds(1);
    let later = now + chrono::Duration::hours(1);
    // Waits for its digest window: never attempted.
    queue(
        &store,
        "window",
        "t",
        &hook,
        now,
        now + chrono::Duration::minutes(10),
    )
    .await;
    for id in ["failed", "held", "dead", "delivered", "in-flight"] {
        queue(&store, id, "t", &hook, now, soon).await;
    }
    queue(&store, "failed-elsewhere", "t", &other, now, soon).await;
    let claimed = store
        .claim_deliveries(&hook, now, 10, ClaimShape::Single, lease)
        .await
        .unwrap();
    let row = |id: &str| {
        claimed
            .iter()
            .flatten()
            .find(|d| d.alert_id == id)
            .unwrap()
            .clone()
    };
    store
        .mark_failed(&[(&row("failed"), Some(later))], "HTTP 500", false)
        .await
        .unwrap();
    // A 429 whose Retry-After asked for an hour.
    store
        .mark_failed(&[(&row("held"), Some(later))], "HTTP 429", true)
        .await
        .unwrap();
    store
        .mark_failed(&[(&row("dead"), None)], "HTTP 500", false)
        .await
        .unwrap();
    store
        .mark_delivered(&[row("delivered")], now)
        .await
        .unwrap();
    // Failed once, and now being sent again under a live claim.
    store
        .mark_failed(&[(&row("in-flight"), Some(now))], "HTTP 500", false)
        .await
        .unwrap();
    claim_one(&store, &hook, now, lease).await;
    let elsewhere = claim_one(&store, &other, now, lease).await;
    store
        .mark_failed(&[(&elsewhere, Some(later))], "HTTP 500", false)
        .await
        .unwrap();

    let expect = [
        ("window", DeliveryStatus::Pending),
        ("failed", DeliveryStatus::Failed),
        ("held", DeliveryStatus::Pending),
        ("dead", DeliveryStatus::Dead),
        ("delivered", DeliveryStatus::Delivered),
        ("in-flight", DeliveryStatus::Failed),
    ];
    for (id, status) in expect {
        assert_eq!(status_of(&store, id, &hook).await.0, status, "{id}");
    }
    let listed_failed = store
        .deliveries(&DeliveryFilter {
            status: Some(DeliveryStatus::Failed),
            limit: 100,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    let mut failed_ids: Vec<_> = listed_failed.iter().map(|r| r.alert_id.as_str()).collect();
    failed_ids.sort_unstable();
    assert_eq!(failed_ids, vec!["failed", "failed-elsewhere", "in-flight"]);

    // `alerts retry --webhook hook`: the failed and the dead row, not the one in flight.
    assert_eq!(store.retry_now(&[], Some(&hook), now).await.unwrap(), 2);
    let due: Vec<_> = store
        .claim_deliveries(&hook, now, 10, ClaimShape::Single, lease)
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .map(|d| d.alert_id)
        .collect();
    // Same creation time: the alert id decides.
    assert_eq!(due, vec!["dead", "failed"]);
    assert_eq!(
        status_of(&store, "held", &hook).await,
        (DeliveryStatus::Pending, 1)
    );
    assert_eq!(
        store.next_delivery_due(&other).await.unwrap(),
        Some(from_millis(millis(later)))
    );
    // `alerts retry`: every sink's failed rows.
    assert_eq!(store.retry_now(&[], None, now).await.unwrap(), 1);
    assert_eq!(
        store.next_delivery_due(&other).await.unwrap(),
        Some(from_millis(millis(now)))
    );
    // Naming an alert makes it due whatever it waits for.
    let named = [
        "held".to_string(),
        "window".to_string(),
        "delivered".to_string(),
    ];
    assert_eq!(store.retry_now(&named, None, now).await.unwrap(), 2);
    let due: Vec<_> = store
        .claim_deliveries(&hook, now, 10, ClaimShape::Single, lease)
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .map(|d| d.alert_id)
        .collect();
    assert_eq!(due, vec!["held", "window"]);
    assert_eq!(
        status_of(&store, "delivered", &hook).await.0,
        DeliveryStatus::Delivered
    );
}

async fn a_disabled_webhook_keeps_its_deliveries_until_enabled_or_moved(backing: &Backing) {
    let store = store(backing).await;
    let now = Utc::now();
    let hook = Sink::Webhook("hook".into());
    store.register_webhook("hook", "url-a", now).await.unwrap();
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
        .disable_webhook("hook", "410 Gone", now, now)
        .await
        .unwrap();
    let lease = Duration::from_secs(60);
    let claim = || store.claim_deliveries(&hook, now, 10, ClaimShape::Single, lease);
    assert!(claim().await.unwrap().is_empty());
    assert_eq!(store.next_delivery_due(&hook).await.unwrap(), None);
    assert_eq!(
        store.disabled_webhooks().await.unwrap(),
        vec![("hook".to_string(), "410 Gone".to_string())]
    );
    // Same URL: stays disabled. A new URL: enabled again, and the delivery goes out.
    store.register_webhook("hook", "url-a", now).await.unwrap();
    assert!(claim().await.unwrap().is_empty());
    store.register_webhook("hook", "url-b", now).await.unwrap();
    let claimed = claim_one(&store, &hook, now, lease).await;
    assert_eq!(claimed.topic, "t");

    // A 410 answered to a request sent before the webhook was enabled again changes nothing;
    // one sent after disables it.
    let before = now - chrono::Duration::seconds(1);
    assert!(
        !store
            .disable_webhook("hook", "410 Gone", now, before)
            .await
            .unwrap()
    );
    assert!(store.disabled_webhooks().await.unwrap().is_empty());
    assert!(
        store
            .disable_webhook("hook", "410 Gone", now, now)
            .await
            .unwrap()
    );
    assert!(store.enable_webhook("hook", now).await.unwrap());
    assert!(
        !store
            .disable_webhook("hook", "410 Gone", now, before)
            .await
            .unwrap()
    );
    assert!(
        !store.enable_webhook("hook", now).await.unwrap(),
        "not disabled"
    );

    // Releasing (a shutdown) does not count an attempt, and the row is due again at once.
    assert_eq!(store.release(&[claimed]).await.unwrap(), 1);
    assert_eq!(claim_one(&store, &hook, now, lease).await.attempts, 0);
}

async fn one_article_reached_through_two_feeds_alerts_a_topic_once(backing: &Backing) {
    let store = store(backing).await;
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

async fn a_poll_whose_process_died_is_found_once_its_heartbeat_stops(backing: &Backing) {
    let store = store(backing).await;
    let t0 = Utc::now();
    store.register_instance("dead", t0).await.unwrap();
    store.register_instance("alive", t0).await.unwrap();
    assert!(
        store
            .begin_poll("f", "dead", t0, PollClaim::IfFree)
            .await
            .unwrap()
    );
    // While the owner's mark stands, nobody else polls the feed.
    assert!(
        !store
            .begin_poll("f", "alive", t0, PollClaim::IfFree)
            .await
            .unwrap()
    );
    // The owner may go on (a poll retried after a store error).
    assert!(
        store
            .begin_poll("f", "dead", t0, PollClaim::IfFree)
            .await
            .unwrap()
    );

    let later = t0 + chrono::Duration::seconds(30);
    store.heartbeat("alive", later).await.unwrap();
    let alive_since = later - chrono::Duration::seconds(10);
    let interrupted = store
        .recover_interrupted_polls(alive_since, "alive")
        .await
        .unwrap();
    assert_eq!(interrupted, vec![("f".to_string(), 1)]);
    // Recovered once only, and the feed is free again.
    assert!(
        store
            .recover_interrupted_polls(alive_since, "alive")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.feed_state("f").await.unwrap().interrupted_polls, 1);
    assert!(
        store
            .begin_poll("f", "alive", later, PollClaim::IfFree)
            .await
            .unwrap()
    );

    // A live owner's poll is not interrupted; finishing it resets the count.
    assert!(
        store
            .recover_interrupted_polls(alive_since, "alive")
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
    assert!(
        store
            .begin_poll("f", "dead", later, PollClaim::IfFree)
            .await
            .unwrap()
    );

    // A process whose heartbeat is late (a store too busy to record it) never takes its own
    // poll for a dead one.
    store
        .record_poll_failure("f", "boom", later, later)
        .await
        .unwrap();
    assert!(
        store
            .begin_poll("f", "alive", later, PollClaim::IfFree)
            .await
            .unwrap()
    );
    let much_later = later + chrono::Duration::minutes(5);
    assert!(
        store
            .recover_interrupted_polls(much_later, "alive")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .begin_poll("f", "dead", much_later, PollClaim::IfFree)
            .await
            .unwrap()
    );
}

async fn a_clean_exit_releases_its_polls_without_counting_them(backing: &Backing) {
    let store = store(backing).await;
    let now = Utc::now();
    store.register_instance("me", now).await.unwrap();
    assert!(
        store
            .begin_poll("f", "me", now, PollClaim::IfFree)
            .await
            .unwrap()
    );
    store.retire_instance("me").await.unwrap();
    let future = now + chrono::Duration::hours(1);
    assert!(
        store
            .recover_interrupted_polls(future, "other")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.feed_state("f").await.unwrap().interrupted_polls, 0);
}

async fn quarantine_holds_until_resumed_or_the_url_changes(backing: &Backing) {
    let store = store(backing).await;
    let now = Utc::now();
    store.quarantine_feed("f", "died 3 times").await.unwrap();
    assert!(
        !store
            .begin_poll("f", "me", now, PollClaim::IfFree)
            .await
            .unwrap()
    );
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
    assert!(
        store
            .begin_poll("f", "me", now, PollClaim::IfFree)
            .await
            .unwrap()
    );
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

async fn a_first_poll_is_recorded_with_its_items(backing: &Backing) {
    let store = store(backing).await;
    assert!(!store.feed_state("f").await.unwrap().first_polled);
    store
        .mark_seen_on_first_poll("f", &[&item("a")], Utc::now())
        .await
        .unwrap();
    assert!(store.feed_state("f").await.unwrap().first_polled);
    assert_eq!(
        store.unseen("f", &[&item("a").key]).await.unwrap(),
        vec![false]
    );
}

async fn a_pending_item_waits_as_seen_until_recorded(backing: &Backing) {
    let store = store(backing).await;
    let now = Utc::now();
    let a = item("a");
    let later = now + chrono::Duration::minutes(2);
    store
        .defer_item("f", &a, 1, "HTTP 503", later)
        .await
        .unwrap();
    // The next poll does not take it for new; the retry deals with it when due.
    assert_eq!(store.unseen("f", &[&a.key]).await.unwrap(), vec![false]);
    assert!(store.due_pending_items("f", now).await.unwrap().is_empty());
    assert_eq!(
        store.next_pending_item("f").await.unwrap(),
        Some(from_millis(millis(later)))
    );
    let due = store.due_pending_items("f", later).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].attempts, due[0].item.clone()), (1, a.clone()));
    assert_eq!(due[0].last_error, "HTTP 503");
    // Recording the item takes it out of the pending ones, in the same transaction.
    store
        .record_item("f", &a, Some("note"), &[alert("1", "t", vec![])], later)
        .await
        .unwrap();
    assert!(
        store
            .due_pending_items("f", later)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_pending_item("f").await.unwrap(), None);
}

async fn pruning_keeps_what_is_pending_or_still_listed(backing: &Backing) {
    let store = store(backing).await;
    let day = chrono::Duration::days(1);
    let retention = Duration::from_secs(90 * 24 * 3600);
    let t0 = Utc::now() - day * 400;
    // Three items seen at t0; "listed" stays in the feed, "gone" drops out at once.
    let (listed, gone, alerted) = (item("listed"), item("gone"), item("alerted"));
    store
        .mark_seen_on_first_poll("f", &[&listed, &gone], t0)
        .await
        .unwrap();
    store
        .record_item(
            "f",
            &alerted,
            None,
            &[alert("old", "t", vec![Sink::Stdout])],
            t0,
        )
        .await
        .unwrap();
    store
        .record_item(
            "f",
            &item("fresh"),
            None,
            &[alert("new", "t", vec![Sink::Stdout])],
            t0 + day * 390,
        )
        .await
        .unwrap();
    // Daily polls over 400 days: the feed lists "listed" (and the alerted one for a while).
    let mut now = t0;
    while now < t0 + day * 400 {
        now += day;
        let mut keys = vec![&listed.key];
        if now < t0 + day * 5 {
            keys.push(&alerted.key);
        }
        store
            .refresh_listed("f", &keys, now, listing_refresh(retention))
            .await
            .unwrap();
        store
            .record_poll_success("f", None, true, now, now)
            .await
            .unwrap();
    }
    // The old alert was delivered; the recent one is still pending.
    let claimed: Vec<DueDelivery> = store
        .claim_deliveries(
            &Sink::Stdout,
            now,
            10,
            ClaimShape::Single,
            Duration::from_secs(60),
        )
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    for row in claimed.iter().filter(|r| r.alert_id == "old") {
        store
            .mark_delivered(std::slice::from_ref(row), now)
            .await
            .unwrap();
    }
    for row in claimed.iter().filter(|r| r.alert_id != "old") {
        store.release(std::slice::from_ref(row)).await.unwrap();
    }

    let pruned = store.prune(now, retention).await.unwrap();
    assert_eq!(pruned.deliveries, 1, "{pruned:?}");
    assert_eq!(pruned.alerts, 1, "{pruned:?}");
    // "gone" and the alerted item (its alert pruned first) are forgotten; "listed" is not.
    assert_eq!(pruned.items, 2, "{pruned:?}");
    let keys = [&listed.key, &gone.key, &alerted.key, &item("fresh").key];
    assert_eq!(
        store.unseen("f", &keys).await.unwrap(),
        vec![false, true, true, false]
    );
    assert!(store.alert_payload("new").await.unwrap().is_some());
    assert!(store.alert_payload("old").await.unwrap().is_none());
    // A second pass finds nothing more.
    assert_eq!(
        store.prune(now, retention).await.unwrap(),
        Pruned::default()
    );
}

async fn a_feed_unpolled_for_the_whole_period_starts_over_with_a_first_poll(backing: &Backing) {
    let store = store(backing).await;
    let retention = Duration::from_secs(90 * 24 * 3600);
    let t0 = Utc::now() - chrono::Duration::days(200);
    store
        .mark_seen_on_first_poll("f", &[&item("a")], t0)
        .await
        .unwrap();
    store
        .record_poll_success("f", None, true, t0, t0)
        .await
        .unwrap();
    let pruned = store.prune(Utc::now(), retention).await.unwrap();
    assert_eq!(pruned.items, 1);
    // Its next poll marks what it lists as seen instead of alerting on it.
    assert!(!store.feed_state("f").await.unwrap().first_polled);
}

fn story_alert(id: &str, topic: &str, dedupe: bool) -> NewAlert {
    let payload = serde_json::json!({
        "id": id, "type": "feedwatch.alert", "topic": topic, "score": 1.0,
        "matched": [], "snippets": [],
        "article": {"url": "http://127.0.0.1/a", "title": "t", "published": null, "feed": "f",
                    "lang": null, "site": null, "authors": [], "summary": null},
        "entities": [], "duplicates": [], "detected_at": "2026-01-01T00:00:00Z"
    });
    NewAlert {
        payload: payload.to_string(),
        dedupe,
        ..alert(id, topic, vec![Sink::Webhook("hook".into())])
    }
}

async fn a_copy_of_a_story_is_recorded_against_the_first_alert(backing: &Backing) {
    use crate::dedupe::Fingerprint;
    let store = store(backing).await;
    let now = Utc::now();
    let original: String = (0..120).map(|i| format!("word{i} ")).collect();
    let copy = format!(
        "MOSCOW (Reuters) - {}",
        original.replace("word50 ", "changed ")
    );
    let other: String = (0..120).map(|i| format!("other{i} ")).collect();
    let (a, b, c) = (
        Fingerprint::of(&original).unwrap(),
        Fingerprint::of(&copy).unwrap(),
        Fingerprint::of(&other).unwrap(),
    );
    async fn record(
        store: &Store,
        key: &str,
        alerts: &[NewAlert],
        fingerprint: &Fingerprint,
        window_start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Vec<String> {
        let story = Story {
            fingerprint,
            window_start,
        };
        store
            .record_story("f", &item(key), None, alerts, Some(&story), now)
            .await
            .unwrap()
    }
    let window = now - chrono::Duration::days(3);
    let alerts = [story_alert("A", "t", true)];
    assert_eq!(record(&store, "a", &alerts, &a, window, now).await, ["A"]);
    // The copy is held back for `t`, and alerts `u`, which does not dedupe.
    let alerts = [story_alert("B", "t", true), story_alert("B2", "u", false)];
    assert_eq!(record(&store, "b", &alerts, &b, window, now).await, ["B2"]);
    // Another story alerts.
    let alerts = [story_alert("C", "t", true)];
    assert_eq!(record(&store, "c", &alerts, &c, window, now).await, ["C"]);
    let copies = store.alert_copies("A").await.unwrap();
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0].url.as_deref(), Some("http://127.0.0.1/b"));
    assert!(copies[0].similarity > 0.5, "{copies:?}");
    let payload: serde_json::Value =
        serde_json::from_str(&store.alert_payload("A").await.unwrap().unwrap()).unwrap();
    assert_eq!(
        payload["duplicates"],
        serde_json::json!(["http://127.0.0.1/b"])
    );
    // Outside the window, a copy is a new alert.
    let late = now + chrono::Duration::seconds(1);
    let alerts = [story_alert("D", "t", true)];
    assert_eq!(record(&store, "d", &alerts, &b, late, now).await, ["D"]);

    // An alert still waiting to be sent keeps its copies through pruning.
    store
        .prune(
            now + chrono::Duration::days(400),
            Duration::from_secs(86_400),
        )
        .await
        .unwrap();
    assert_eq!(store.alert_copies("A").await.unwrap().len(), 1);
}

async fn a_scheduled_poll_claims_a_feed_only_while_it_is_due(backing: &Backing) {
    let store = store(backing).await;
    let now = Utc::now();
    // Due: one instance claims it, the other finds it held.
    assert!(
        store
            .begin_poll("f", "a", now, PollClaim::IfDue)
            .await
            .unwrap()
    );
    assert!(
        !store
            .begin_poll("f", "b", now, PollClaim::IfDue)
            .await
            .unwrap()
    );
    // `a` polled it and scheduled the next poll: `b`, a moment late, must not poll it again.
    let next = now + chrono::Duration::seconds(60);
    store
        .record_poll_success("f", None, true, now, next)
        .await
        .unwrap();
    assert!(
        !store
            .begin_poll("f", "b", now, PollClaim::IfDue)
            .await
            .unwrap()
    );
    // Unless asked to poll whenever free (`once`).
    assert!(
        store
            .begin_poll("f", "b", now, PollClaim::IfFree)
            .await
            .unwrap()
    );
    store.end_poll("f", "b").await.unwrap();
    assert!(
        store
            .begin_poll("f", "b", next, PollClaim::IfDue)
            .await
            .unwrap()
    );
}

async fn host_starts_are_reserved_spacing_apart_across_handles(backing: &Backing) {
    // Two handles on one store stand for two instances.
    let (one, two) = (store(backing).await, backing.open().await);
    let now = Utc::now();
    let spacing = Duration::from_millis(500);
    let first = one.reserve_host_start("h", now, spacing).await.unwrap();
    let second = two.reserve_host_start("h", now, spacing).await.unwrap();
    let third = one.reserve_host_start("h", now, spacing).await.unwrap();
    assert_eq!(first, from_millis(millis(now)));
    assert_eq!(second - first, chrono::Duration::milliseconds(500));
    assert_eq!(third - second, chrono::Duration::milliseconds(500));
    // Another host is not held up; a start long after the last is not pushed back.
    assert_eq!(
        two.reserve_host_start("other", now, spacing).await.unwrap(),
        first
    );
    let later = now + chrono::Duration::seconds(60);
    assert_eq!(
        two.reserve_host_start("h", later, spacing).await.unwrap(),
        from_millis(millis(later))
    );
}

/// Runs each named test on SQLite and on a scratch PostgreSQL database (skipped, saying so,
/// where no server answers): `store::tests::sqlite::NAME` and `store::tests::postgres::NAME`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let backing = super::Backing::Sqlite(tempfile::tempdir().unwrap());
                    super::$name(&backing).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(database) = super::scratch::ScratchDatabase::create().await else {
                        return;
                    };
                    super::$name(&super::Backing::Postgres(database)).await;
                }
            )*
        }
    };
}

on_both_backends!(
    an_item_and_its_alerts_are_recorded_once,
    state_survives_reopening,
    failures_count_up_and_success_resets,
    claimed_deliveries_are_leased_retried_and_finished,
    a_late_sender_changes_nothing_once_its_claim_is_taken_over,
    a_digest_is_recorded_under_its_claim_row_by_row,
    claims_take_only_as_many_messages_as_asked_oldest_alert_first,
    retry_without_ids_resets_only_failed_and_dead_rows,
    a_disabled_webhook_keeps_its_deliveries_until_enabled_or_moved,
    one_article_reached_through_two_feeds_alerts_a_topic_once,
    a_poll_whose_process_died_is_found_once_its_heartbeat_stops,
    a_clean_exit_releases_its_polls_without_counting_them,
    quarantine_holds_until_resumed_or_the_url_changes,
    a_first_poll_is_recorded_with_its_items,
    a_pending_item_waits_as_seen_until_recorded,
    pruning_keeps_what_is_pending_or_still_listed,
    a_feed_unpolled_for_the_whole_period_starts_over_with_a_first_poll,
    a_copy_of_a_story_is_recorded_against_the_first_alert,
    host_starts_are_reserved_spacing_apart_across_handles,
    a_scheduled_poll_claims_a_feed_only_while_it_is_due,
);

/// Several instances starting at once on an empty database: one migrates while the others wait
/// on the migrator's advisory lock, and all of them come up.
#[tokio::test]
async fn instances_starting_at_once_on_postgres_all_migrate() {
    let Some(database) = scratch::ScratchDatabase::create().await else {
        return;
    };
    let url = database.url();
    let (a, b, c) = tokio::join!(
        Store::open_postgres(url),
        Store::open_postgres(url),
        Store::open_postgres(url)
    );
    for store in [a, b, c] {
        let store = store.unwrap();
        store
            .register_feed("f", "http://127.0.0.1/feed")
            .await
            .unwrap();
        store.close().await;
    }
}

/// An alert recorded by one instance wakes the outbox of another at once (PostgreSQL's
/// notifications), and so does `alerts retry` from the command line.
#[tokio::test]
async fn deliveries_queued_by_one_instance_wake_the_others_on_postgres() {
    let Some(database) = scratch::ScratchDatabase::create().await else {
        return;
    };
    let one = Store::open_postgres(database.url()).await.unwrap();
    let two = Store::open_postgres(database.url()).await.unwrap();
    one.register_feed("f", "http://127.0.0.1/feed")
        .await
        .unwrap();
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let listening = tokio::spawn({
        let (two, wake, shutdown) = (two.clone(), wake.clone(), shutdown.clone());
        async move { two.wake_on_deliveries(wake, shutdown).await }
    });
    let quiet = std::time::Duration::from_millis(500);
    assert!(
        tokio::time::timeout(quiet, wake.notified()).await.is_err(),
        "woken with nothing queued"
    );
    let now = Utc::now();
    one.record_item(
        "f",
        &item("a"),
        None,
        &[alert("1", "t", vec![Sink::Stdout])],
        now,
    )
    .await
    .unwrap();
    let soon = std::time::Duration::from_secs(5);
    tokio::time::timeout(soon, wake.notified())
        .await
        .expect("the other instance was woken");
    // An item already recorded queues nothing, and wakes nobody.
    one.record_item(
        "f",
        &item("a"),
        None,
        &[alert("2", "t", vec![Sink::Stdout])],
        now,
    )
    .await
    .unwrap();
    assert!(tokio::time::timeout(quiet, wake.notified()).await.is_err());
    shutdown.cancel();
    listening.await.unwrap();
}
