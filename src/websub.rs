//! The WebSub subscriber (W3C Recommendation, 2018): with `[daemon] public_url` set, a feed
//! whose document or `Link` headers name a hub is subscribed to, and the hub pushes new
//! versions of it to `{public_url}/websub/{id}` on the `listen` server. Owns the subscription
//! life: subscribing after a poll discovered a hub (with a random callback id and a random
//! secret per subscription), answering the hub's verification of intent only for the request
//! that is outstanding, checking each content distribution's `X-Hub-Signature` in constant
//! time, renewing at 80 % of the lease, unsubscribing from feeds that left the config, and
//! handing the feed back to normal polling when the hub disappears, denies, or stops
//! answering. A subscribed feed is still polled, slowly ([`FALLBACK_INTERVAL`]), so a hub that
//! silently stops pushing costs an hour at most. What a pushed document does is the
//! pipeline's business (the same path as a poll's); this module must never trust a push it
//! cannot authenticate, nor contact a hub outside the fetcher's SSRF guard.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use tokio::sync::{Notify, Semaphore, watch};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::{Config, FeedSpec};
use crate::fetch::{Fetcher, Trust};
use crate::pipeline::Pipeline;
use crate::store::{HubMode, Store, StoreError, Subscription, SubscriptionState};

/// How often a feed with a verified subscription is still polled (or its own interval, if
/// longer): pushes normally come first; this bounds what a silent hub can cost.
pub const FALLBACK_INTERVAL: Duration = Duration::from_secs(3600);
/// The lease asked for; hubs grant what they like, and the granted one is renewed.
const LEASE_ASKED: Duration = Duration::from_secs(7 * 24 * 3600);
/// Renewal is sent when this fraction of the granted lease has passed.
const RENEW_AT: f64 = 0.8;
/// A request the hub neither verified nor denied is sent again after this long.
const RETRY_UNVERIFIED: Duration = Duration::from_secs(600);
/// A hub that denied a subscription is asked again after this long.
const RETRY_DENIED: Duration = Duration::from_secs(24 * 3600);
/// An unsubscribe request the hub never verified is forgotten after this long.
const FORGET_UNSUBSCRIBE: Duration = Duration::from_secs(24 * 3600);
/// The maintenance loop looks at least this often (renewals due, removed feeds).
const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);
/// Pushed documents processed at once; more wait their turn, up to [`MAX_QUEUED_PUSHES`].
const PUSH_CONCURRENCY: usize = 8;
/// Pushes waiting beyond this are dropped (logged; the fallback poll is brought forward).
const MAX_QUEUED_PUSHES: usize = 256;

/// What a poll found out about the feed's hub: the hub to use (the `Link` header's first,
/// else the document's) and the topic it knows the feed by (`rel="self"`, else the URL
/// polled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub hub: Option<Url>,
    pub topic: Url,
}

impl Discovery {
    /// Combines the response's `Link` headers with the document's links; the headers win, as
    /// WebSub §4 has it.
    pub fn from_fetch(
        links: &crate::fetch::HubLinks,
        parsed: &crate::feeds::ParsedFeed,
        polled: &Url,
    ) -> Self {
        let parse = |text: &str| {
            Url::parse(text)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
        };
        let hub = links
            .hubs
            .first()
            .cloned()
            .or_else(|| parsed.hubs.iter().find_map(|h| parse(h)));
        let topic = links
            .self_url
            .clone()
            .or_else(|| parsed.self_url.as_deref().and_then(parse))
            .unwrap_or_else(|| polled.clone());
        Self { hub, topic }
    }
}

/// The subscriber's shared state: one per daemon, kept across config reloads.
#[derive(Clone)]
pub struct WebSub {
    store: Store,
    /// Whether this process serves the callbacks (the daemon with `listen`): a one-off
    /// `feedwatch once` must not subscribe, since nothing would answer the hub.
    serving: bool,
    /// Woken when a feed's next poll time was brought forward (its subscription ended), so its
    /// task, asleep until the slow fallback poll, looks again.
    rescheduled: Arc<Notify>,
    /// Woken when a lease changed, so the maintenance loop recomputes its next renewal.
    leases_changed: Arc<Notify>,
    pushes: Arc<Semaphore>,
    queued: Arc<AtomicUsize>,
}

/// The verification of intent as the hub sends it (WebSub §5.3, §5.2 for `denied`).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Verification {
    #[serde(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.topic")]
    pub topic: Option<String>,
    #[serde(rename = "hub.challenge")]
    pub challenge: Option<String>,
    #[serde(rename = "hub.lease_seconds")]
    pub lease_seconds: Option<String>,
    #[serde(rename = "hub.reason")]
    pub reason: Option<String>,
}

/// How the callback answers a verification.
#[derive(Debug, PartialEq, Eq)]
pub enum VerifyAnswer {
    /// 200 with the challenge as the body.
    Confirm(String),
    /// 200, empty: a denial noted.
    Noted,
    /// 404: no such request outstanding.
    Unknown,
}

/// What became of a content distribution; the hub hears 2xx for all but `Unknown`.
#[derive(Debug, PartialEq, Eq)]
pub enum PushOutcome {
    Accepted,
    /// Signature missing or wrong: ignored (WebSub §8 wants a 2xx all the same).
    BadSignature,
    /// Signed, but for a feed no longer polled, or too many waiting: ignored.
    Ignored,
    Unknown,
}

impl WebSub {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            serving: false,
            rescheduled: Arc::new(Notify::new()),
            leases_changed: Arc::new(Notify::new()),
            pushes: Arc::new(Semaphore::new(PUSH_CONCURRENCY)),
            queued: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The same subscriber, for a process that serves the callbacks: it subscribes.
    pub fn serving(self) -> Self {
        Self {
            serving: true,
            ..self
        }
    }

    /// Woken whenever some feed's next poll was brought forward.
    pub fn rescheduled(&self) -> &Notify {
        &self.rescheduled
    }

    /// Whether the feed is pushed to now: its subscription is verified and the lease runs.
    pub async fn is_pushed(&self, feed: &str) -> bool {
        match self.store.subscription(feed).await {
            Ok(Some(sub)) => live(&sub, Utc::now()),
            _ => false,
        }
    }

    /// After a poll that read the feed's document: subscribes when it names a hub the feed is
    /// not (or no longer) subscribed to, and forgets the subscription when it names none.
    /// Returns whether pushes are live, so the next poll can wait for the fallback interval.
    pub async fn after_poll(
        &self,
        config: &Config,
        fetcher: &Fetcher,
        feed: &FeedSpec,
        discovery: &Discovery,
    ) -> Result<bool, StoreError> {
        let Some(public_url) = config.daemon.public_url.as_ref().filter(|_| self.serving) else {
            return Ok(false);
        };
        let now = Utc::now();
        let current = self.store.subscription(&feed.name).await?;
        let Some(hub) = &discovery.hub else {
            if let Some(sub) = current.filter(|s| s.state != SubscriptionState::Removed) {
                tracing::info!(feed = %feed.name, hub = %sub.hub,
                    "the feed names no WebSub hub any more; polling at its normal interval");
                self.store.delete_subscription(&feed.name).await?;
            }
            return Ok(false);
        };
        if let Some(sub) = &current
            && sub.hub == hub.as_str()
            && sub.topic == discovery.topic.as_str()
        {
            let since_request = elapsed(sub.requested_at, now);
            let waiting = match sub.state {
                SubscriptionState::Verified if live(sub, now) => return Ok(true),
                // A renewal out, or the maintenance loop about to send one.
                SubscriptionState::Verified => false,
                SubscriptionState::Pending => since_request < RETRY_UNVERIFIED,
                SubscriptionState::Denied => since_request < RETRY_DENIED,
                SubscriptionState::Removed => false,
            };
            if waiting {
                return Ok(false);
            }
        }
        let sub = Subscription {
            feed: feed.name.clone(),
            hub: hub.to_string(),
            topic: discovery.topic.to_string(),
            callback_id: new_callback_id(),
            secret: random_hex(32),
            state: SubscriptionState::Pending,
            pending_mode: Some(HubMode::Subscribe),
            requested_at: now,
            verified_at: None,
            lease_expires_at: None,
            last_error: None,
        };
        // Stored before the request: a hub may verify before it answers the POST.
        self.store.put_subscription(&sub).await?;
        self.request(fetcher, Some(feed), public_url, sub, HubMode::Subscribe)
            .await?;
        Ok(false)
    }

    /// Sends `mode` for `sub` to its hub and records a failure on the row; `feed` is the
    /// feed's config, `None` once it left it. The hub's 2xx only says it will verify; the
    /// subscription counts once it has.
    async fn request(
        &self,
        fetcher: &Fetcher,
        feed: Option<&FeedSpec>,
        public_url: &Url,
        mut sub: Subscription,
        mode: HubMode,
    ) -> Result<bool, StoreError> {
        let Ok(hub) = Url::parse(&sub.hub) else {
            return Ok(false);
        };
        let callback = callback_url(public_url, &sub.callback_id);
        let lease = LEASE_ASKED.as_secs().to_string();
        let mut form = vec![
            ("hub.mode", mode.as_str()),
            ("hub.topic", sub.topic.as_str()),
            ("hub.callback", callback.as_str()),
        ];
        if mode == HubMode::Subscribe {
            form.push(("hub.secret", sub.secret.as_str()));
            form.push(("hub.lease_seconds", lease.as_str()));
        }
        // The hub is named by the feed, so it is as trusted as the feed's host and no more;
        // once the feed left the config, not at all.
        let trust = feed.map_or(Trust::Untrusted, |f| Trust::operator(&f.url));
        let failure = match fetcher.post_form(&hub, &form, &trust).await {
            Ok((status, _)) if status.is_success() => None,
            Ok((status, body)) => Some(format!(
                "the hub answered {status}: {}",
                body.trim().chars().take(200).collect::<String>()
            )),
            Err(err) => Some(err.to_string()),
        };
        let Some(error) = failure else {
            tracing::info!(feed = %sub.feed, hub = %sub.hub, mode = mode.as_str(),
                "WebSub request sent; waiting for the hub to verify it");
            return Ok(true);
        };
        let error = feed.map_or(error.clone(), |f| f.scrub(&error));
        tracing::warn!(feed = %sub.feed, hub = %sub.hub, mode = mode.as_str(), %error,
            "WebSub request failed; the feed is polled as usual");
        if mode == HubMode::Subscribe {
            sub.state = SubscriptionState::Pending;
            sub.pending_mode = None;
            sub.last_error = Some(error);
            self.store.put_subscription(&sub).await?;
        }
        Ok(false)
    }

    /// Answers the hub's verification of intent at callback `id`: the challenge only for the
    /// request outstanding there with the same mode and topic.
    pub async fn verify(&self, id: &str, query: &Verification) -> Result<VerifyAnswer, StoreError> {
        let Some(mut sub) = self.store.subscription_by_callback(id).await? else {
            return Ok(VerifyAnswer::Unknown);
        };
        if query.topic.as_deref() != Some(sub.topic.as_str()) {
            return Ok(VerifyAnswer::Unknown);
        }
        let now = Utc::now();
        match query.mode.as_deref() {
            // A hub may refuse a request, or end a subscription it had verified (§5.2).
            Some("denied")
                if matches!(
                    sub.state,
                    SubscriptionState::Pending | SubscriptionState::Verified
                ) =>
            {
                tracing::warn!(feed = %sub.feed, hub = %sub.hub, reason = query.reason.as_deref(),
                    "the WebSub hub denied the subscription; polling at the normal interval");
                sub.state = SubscriptionState::Denied;
                sub.pending_mode = None;
                sub.lease_expires_at = None;
                sub.last_error = Some(format!(
                    "denied by the hub: {}",
                    query.reason.as_deref().unwrap_or("no reason given")
                ));
                self.store.put_subscription(&sub).await?;
                self.poll_soon(&sub.feed).await?;
                Ok(VerifyAnswer::Noted)
            }
            Some(mode) if Some(mode) == sub.pending_mode.map(HubMode::as_str) => {
                let Some(challenge) = query.challenge.clone() else {
                    return Ok(VerifyAnswer::Unknown);
                };
                if sub.pending_mode == Some(HubMode::Unsubscribe) {
                    tracing::info!(feed = %sub.feed, hub = %sub.hub, "WebSub unsubscription verified");
                    self.store.delete_subscription(&sub.feed).await?;
                    return Ok(VerifyAnswer::Confirm(challenge));
                }
                let lease = query
                    .lease_seconds
                    .as_deref()
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .filter(|&s| s > 0)
                    .map_or(LEASE_ASKED, Duration::from_secs);
                let renewed = sub.state == SubscriptionState::Verified;
                sub.state = SubscriptionState::Verified;
                sub.pending_mode = None;
                sub.verified_at = Some(now);
                sub.lease_expires_at = Some(now + chrono_duration(lease));
                sub.last_error = None;
                self.store.put_subscription(&sub).await?;
                tracing::info!(feed = %sub.feed, hub = %sub.hub, lease_seconds = lease.as_secs(),
                    renewed, "WebSub subscription verified; the feed is pushed to and polled only as a fallback");
                self.leases_changed.notify_one();
                Ok(VerifyAnswer::Confirm(challenge))
            }
            _ => Ok(VerifyAnswer::Unknown),
        }
    }

    /// Takes a content distribution at callback `id`: checks its signature and hands the
    /// document to the pipeline on a task of its own, so the hub hears back at once.
    pub async fn distribute(
        &self,
        pipeline: Pipeline,
        id: &str,
        signature: Option<&str>,
        content_type: Option<String>,
        body: axum::body::Bytes,
    ) -> Result<PushOutcome, StoreError> {
        let received = std::time::Instant::now();
        let Some(sub) = self.store.subscription_by_callback(id).await? else {
            return Ok(PushOutcome::Unknown);
        };
        if !signature.is_some_and(|s| signature_matches(s, sub.secret.as_bytes(), &body)) {
            tracing::warn!(feed = %sub.feed, hub = %sub.hub,
                signature = if signature.is_some() { "wrong" } else { "missing" },
                "WebSub content distribution ignored: its X-Hub-Signature does not match");
            metrics::counter!(crate::metrics::WEBSUB_PUSHES, "feed" => sub.feed.clone(), "result" => "bad_signature")
                .increment(1);
            return Ok(PushOutcome::BadSignature);
        }
        let Some(feed) = pipeline
            .config()
            .feeds
            .iter()
            .find(|f| f.name == sub.feed)
            .cloned()
        else {
            return Ok(PushOutcome::Ignored);
        };
        if sub.state == SubscriptionState::Removed {
            return Ok(PushOutcome::Ignored);
        }
        let counted = |result: &'static str| {
            metrics::counter!(crate::metrics::WEBSUB_PUSHES, "feed" => feed.name.clone(), "result" => result)
                .increment(1);
        };
        if self.queued.fetch_add(1, Ordering::SeqCst) >= MAX_QUEUED_PUSHES {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!(feed = %feed.name, "too many WebSub pushes waiting; this one is dropped and the feed polled soon");
            counted("ignored");
            self.poll_soon(&feed.name).await?;
            return Ok(PushOutcome::Ignored);
        }
        counted("accepted");
        let websub = self.clone();
        tokio::spawn(async move {
            let permit = websub.pushes.clone().acquire_owned().await;
            websub.queued.fetch_sub(1, Ordering::SeqCst);
            let Ok(_permit) = permit else { return };
            match pipeline
                .process_pushed(&feed, body.to_vec(), content_type)
                .await
            {
                Ok(report) => tracing::debug!(feed = %feed.name, items = report.items,
                    new = report.new_items, alerts = report.alerts.len(),
                    seconds = received.elapsed().as_secs_f64(), "WebSub push processed"),
                Err(err) => tracing::warn!(feed = %feed.name,
                    error = %feed.scrub(&err.to_string()), "a WebSub push could not be processed; the fallback poll will catch up"),
            }
        });
        Ok(PushOutcome::Accepted)
    }

    /// Brings the feed's next poll forward to now and wakes its task.
    async fn poll_soon(&self, feed: &str) -> Result<(), StoreError> {
        self.store.set_next_poll(feed, Utc::now()).await?;
        self.rescheduled.notify_waiters();
        Ok(())
    }

    /// One pass of upkeep: renews leases at [`RENEW_AT`], hands feeds whose lease ran out
    /// back to polling, and unsubscribes feeds that left the config. Once `public_url` is
    /// unset, every subscription is forgotten instead: the callback it was made with is no
    /// longer known, so there is nothing to tell the hub, whose lease then simply runs out.
    /// Returns when the next renewal or expiry falls due.
    async fn maintain(
        &self,
        config: &Config,
        fetcher: &Fetcher,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let now = Utc::now();
        let mut next: Option<DateTime<Utc>> = None;
        for mut sub in self.store.subscriptions().await? {
            let feed = config.feeds.iter().find(|f| f.name == sub.feed);
            let (Some(feed), Some(public_url)) = (feed, &config.daemon.public_url) else {
                self.leave(config, fetcher, sub, now).await?;
                continue;
            };
            if sub.state != SubscriptionState::Verified {
                continue;
            }
            let (Some(verified), Some(expires)) = (sub.verified_at, sub.lease_expires_at) else {
                continue;
            };
            if expires <= now {
                tracing::warn!(feed = %sub.feed, hub = %sub.hub,
                    "the WebSub lease ran out without a renewal verified; polling at the normal interval");
                sub.state = SubscriptionState::Pending;
                sub.last_error = Some("the lease ran out without a renewal verified".into());
                self.store.put_subscription(&sub).await?;
                self.poll_soon(&sub.feed).await?;
                continue;
            }
            let renew_at = verified + (expires - verified) * (RENEW_AT * 1000.0) as i32 / 1000;
            if now >= renew_at && sub.pending_mode.is_none() {
                sub.pending_mode = Some(HubMode::Subscribe);
                sub.requested_at = now;
                self.store.put_subscription(&sub).await?;
                let sent = self
                    .request(
                        fetcher,
                        Some(feed),
                        public_url,
                        sub.clone(),
                        HubMode::Subscribe,
                    )
                    .await?;
                if !sent {
                    // The hub will not push for long: poll as usual until it is back.
                    self.poll_soon(&sub.feed).await?;
                }
            }
            let due = if now >= renew_at { expires } else { renew_at };
            next = Some(next.map_or(due, |n| n.min(due)));
        }
        Ok(next)
    }

    /// Unsubscribes the subscription of a feed that is no longer polled (or forgets it, when
    /// there is nothing to tell the hub or it never answered).
    async fn leave(
        &self,
        config: &Config,
        fetcher: &Fetcher,
        mut sub: Subscription,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if sub.state == SubscriptionState::Removed {
            if elapsed(sub.requested_at, now) >= FORGET_UNSUBSCRIBE {
                self.store.delete_subscription(&sub.feed).await?;
            }
            return Ok(());
        }
        let (Some(public_url), true) = (
            &config.daemon.public_url,
            matches!(
                sub.state,
                SubscriptionState::Verified | SubscriptionState::Pending
            ),
        ) else {
            self.store.delete_subscription(&sub.feed).await?;
            return Ok(());
        };
        tracing::info!(feed = %sub.feed, hub = %sub.hub, "feed no longer polled; unsubscribing from its WebSub hub");
        sub.state = SubscriptionState::Removed;
        sub.pending_mode = Some(HubMode::Unsubscribe);
        sub.requested_at = now;
        self.store.put_subscription(&sub).await?;
        if !self
            .request(fetcher, None, public_url, sub.clone(), HubMode::Unsubscribe)
            .await?
        {
            self.store.delete_subscription(&sub.feed).await?;
        }
        Ok(())
    }
}

/// Renews leases and unsubscribes removed feeds (see [`WebSub::maintain`]) until shutdown,
/// under the current config: shortly before each renewal is due, when a lease changes, after
/// a reload, and at least every [`MAINTENANCE_EVERY`].
pub async fn maintain_forever(
    mut pipelines: watch::Receiver<Pipeline>,
    shutdown: CancellationToken,
) {
    loop {
        let pipeline = pipelines.borrow_and_update().clone();
        let websub = pipeline.websub().clone();
        let changed = websub.leases_changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let wait = match websub.maintain(pipeline.config(), pipeline.fetcher()).await {
            Ok(Some(due)) => (due - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .clamp(Duration::from_millis(50), MAINTENANCE_EVERY),
            Ok(None) => MAINTENANCE_EVERY,
            Err(err) => {
                tracing::error!(error = %err, "WebSub upkeep failed; will try again");
                MAINTENANCE_EVERY
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
            _ = &mut changed => {}
            _ = pipelines.changed() => {}
        }
    }
}

/// Whether pushes are live: verified, with the lease still running.
fn live(sub: &Subscription, now: DateTime<Utc>) -> bool {
    sub.state == SubscriptionState::Verified && sub.lease_expires_at.is_some_and(|end| end > now)
}

fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - since).to_std().unwrap_or(Duration::ZERO)
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// `{public_url}/websub/{id}`, whether or not `public_url` ends in a slash.
pub fn callback_url(public_url: &Url, id: &str) -> String {
    format!("{}/websub/{id}", public_url.as_str().trim_end_matches('/'))
}

/// A callback id nobody can guess: a ULID (sortable, for the operator reading logs) and 128
/// random bits.
fn new_callback_id() -> String {
    format!("{}{}", ulid::Ulid::new(), random_hex(16)).to_ascii_lowercase()
}

fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether `X-Hub-Signature: method=hex` is the HMAC of `body` under `secret` (WebSub §8:
/// sha1, sha256, sha384 or sha512). `verify_slice` compares in constant time.
pub fn signature_matches(header: &str, secret: &[u8], body: &[u8]) -> bool {
    let Some((method, hex)) = header.trim().split_once('=') else {
        return false;
    };
    let Some(expected) = decode_hex(hex.trim()) else {
        return false;
    };
    macro_rules! check {
        ($digest:ty) => {{
            let Ok(mut mac) = <Hmac<$digest> as KeyInit>::new_from_slice(secret) else {
                return false;
            };
            mac.update(body);
            mac.verify_slice(&expected).is_ok()
        }};
    }
    match method.trim().to_ascii_lowercase().as_str() {
        "sha1" => check!(sha1::Sha1),
        "sha256" => check!(sha2::Sha256),
        "sha384" => check!(sha2::Sha384),
        "sha512" => check!(sha2::Sha512),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `HMAC-D(secret, body)` as lowercase hex.
    macro_rules! sign {
        ($digest:ty, $secret:expr, $body:expr) => {{
            let mut mac = <Hmac<$digest> as KeyInit>::new_from_slice($secret).unwrap();
            mac.update($body);
            mac.finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        }};
    }

    #[test]
    fn signatures_of_every_method_are_checked() {
        let secret = b"s3cret";
        let body = b"<feed/>";
        let good = [
            format!("sha1={}", sign!(sha1::Sha1, secret, body)),
            format!("sha256={}", sign!(sha2::Sha256, secret, body)),
            format!("SHA384={}", sign!(sha2::Sha384, secret, body)),
            format!("sha512={}", sign!(sha2::Sha512, secret, body)),
        ];
        for header in &good {
            assert!(signature_matches(header, secret, body), "{header}");
            assert!(!signature_matches(header, b"other", body), "{header}");
            assert!(!signature_matches(header, secret, b"<feed />"), "{header}");
        }
        let sha256 = sign!(sha2::Sha256, secret, body);
        for bad in [
            String::new(),
            sha256.clone(),
            format!("md5={sha256}"),
            format!("sha256={}", &sha256[..sha256.len() - 2]),
            format!("sha256={}", &sha256[..sha256.len() - 1]),
            format!("sha1={sha256}"),
            "sha256=zz".to_string(),
        ] {
            assert!(!signature_matches(&bad, secret, body), "{bad}");
        }
    }

    #[test]
    fn callback_ids_are_long_random_and_urls_join_cleanly() {
        let a = new_callback_id();
        let b = new_callback_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 26 + 32);
        let base = Url::parse("https://watch.example.org/fw/").unwrap();
        assert_eq!(
            callback_url(&base, "x1"),
            "https://watch.example.org/fw/websub/x1"
        );
        let base = Url::parse("https://watch.example.org").unwrap();
        assert_eq!(
            callback_url(&base, "x1"),
            "https://watch.example.org/websub/x1"
        );
    }

    #[test]
    fn link_headers_win_over_the_document_and_self_defaults_to_the_polled_url() {
        let polled = Url::parse("https://news.example/feed").unwrap();
        let mut parsed = crate::feeds::parse(
            br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
<link rel="hub" href="https://doc-hub.example/"/></feed>"#,
            None,
        )
        .unwrap();
        let none = crate::fetch::HubLinks::default();
        let found = Discovery::from_fetch(&none, &parsed, &polled);
        assert_eq!(found.hub.unwrap().as_str(), "https://doc-hub.example/");
        assert_eq!(found.topic, polled);
        let headers = crate::fetch::HubLinks {
            hubs: vec![Url::parse("https://header-hub.example/").unwrap()],
            self_url: Some(Url::parse("https://news.example/canonical").unwrap()),
        };
        let found = Discovery::from_fetch(&headers, &parsed, &polled);
        assert_eq!(found.hub.unwrap().as_str(), "https://header-hub.example/");
        assert_eq!(found.topic.as_str(), "https://news.example/canonical");
        parsed.hubs = vec!["ftp://hub.example/".into()];
        assert_eq!(Discovery::from_fetch(&none, &parsed, &polled).hub, None);
    }

    /// A daemon config with one feed and `public_url`, and a store, in `dir`.
    async fn daemon_with_feed(dir: &std::path::Path) -> (Config, Store, Fetcher, WebSub) {
        let path = dir.join("feedwatch.toml");
        std::fs::write(
            &path,
            "[daemon]\nstore = \"sqlite://state.db\"\npublic_url = \"http://127.0.0.1:9\"\n\
             allow_private = [\"127.0.0.1/32\"]\n\
             [[feed]]\nname = \"news\"\nurl = \"http://127.0.0.1:9/feed\"\n",
        )
        .unwrap();
        let config = crate::config::load_with_env(&path, &|_| None).unwrap();
        let store = Store::open_sqlite(&dir.join("state.db")).await.unwrap();
        let fetcher = Fetcher::new(&config.daemon).unwrap();
        let websub = WebSub::new(store.clone()).serving();
        (config, store, fetcher, websub)
    }

    fn row(state: SubscriptionState, lease_left: chrono::Duration) -> Subscription {
        let now = Utc::now();
        Subscription {
            feed: "news".into(),
            hub: "http://127.0.0.1:9/hub".into(),
            topic: "http://127.0.0.1:9/feed".into(),
            callback_id: new_callback_id(),
            secret: random_hex(32),
            state,
            pending_mode: None,
            requested_at: now,
            verified_at: Some(now - chrono::Duration::seconds(1)),
            lease_expires_at: Some(now + lease_left),
            last_error: None,
        }
    }

    #[tokio::test]
    async fn a_poll_keeps_a_live_subscription_and_forgets_one_whose_hub_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let (config, store, fetcher, websub) = daemon_with_feed(dir.path()).await;
        let feed = &config.feeds[0];
        let with_hub = Discovery {
            hub: Some(Url::parse("http://127.0.0.1:9/hub").unwrap()),
            topic: Url::parse("http://127.0.0.1:9/feed").unwrap(),
        };
        let live = row(SubscriptionState::Verified, chrono::Duration::hours(1));
        store.put_subscription(&live).await.unwrap();
        // Live and for the same hub: pushed, nothing sent (port 9 would refuse it anyway).
        assert!(
            websub
                .after_poll(&config, &fetcher, feed, &with_hub)
                .await
                .unwrap()
        );
        assert!(websub.is_pushed("news").await);
        let kept = store.subscription("news").await.unwrap().unwrap();
        assert_eq!(kept.callback_id, live.callback_id);

        // A denial is respected for a day: no new request, not pushed.
        let denied = row(SubscriptionState::Denied, chrono::Duration::zero());
        store.put_subscription(&denied).await.unwrap();
        assert!(
            !websub
                .after_poll(&config, &fetcher, feed, &with_hub)
                .await
                .unwrap()
        );
        let kept = store.subscription("news").await.unwrap().unwrap();
        assert_eq!(kept.callback_id, denied.callback_id);

        // The document stops naming a hub: the subscription is forgotten, polling is normal.
        store.put_subscription(&live).await.unwrap();
        let without_hub = Discovery {
            hub: None,
            ..with_hub.clone()
        };
        assert!(
            !websub
                .after_poll(&config, &fetcher, feed, &without_hub)
                .await
                .unwrap()
        );
        assert!(store.subscription("news").await.unwrap().is_none());

        // Another hub: a new subscription with a new callback and secret; the hub cannot be
        // reached, so it stays pending with the error, and the feed is polled as usual.
        store.put_subscription(&live).await.unwrap();
        let moved = Discovery {
            hub: Some(Url::parse("http://127.0.0.1:9/other-hub").unwrap()),
            ..with_hub
        };
        assert!(
            !websub
                .after_poll(&config, &fetcher, feed, &moved)
                .await
                .unwrap()
        );
        let new = store.subscription("news").await.unwrap().unwrap();
        assert_eq!(new.hub, "http://127.0.0.1:9/other-hub");
        assert_ne!(new.callback_id, live.callback_id);
        assert_ne!(new.secret, live.secret);
        assert_eq!(new.state, SubscriptionState::Pending);
        assert_eq!(
            new.pending_mode, None,
            "a failed request is not outstanding"
        );
        assert!(new.last_error.is_some());
        assert!(!websub.is_pushed("news").await);
    }

    #[tokio::test]
    async fn verification_is_answered_only_for_the_outstanding_request() {
        let dir = tempfile::tempdir().unwrap();
        let (_config, store, _fetcher, websub) = daemon_with_feed(dir.path()).await;
        let mut pending = row(SubscriptionState::Pending, chrono::Duration::zero());
        pending.pending_mode = Some(HubMode::Subscribe);
        pending.lease_expires_at = None;
        store.put_subscription(&pending).await.unwrap();
        let ask = |mode: &str, topic: &str| Verification {
            mode: Some(mode.into()),
            topic: Some(topic.into()),
            challenge: Some("c-123".into()),
            lease_seconds: Some("120".into()),
            reason: None,
        };
        let id = pending.callback_id.as_str();
        for (id, mode, topic) in [
            ("other", "subscribe", pending.topic.as_str()),
            (id, "unsubscribe", pending.topic.as_str()),
            (id, "subscribe", "http://127.0.0.1:9/other"),
        ] {
            assert_eq!(
                websub.verify(id, &ask(mode, topic)).await.unwrap(),
                VerifyAnswer::Unknown,
                "{mode} {topic}"
            );
        }
        let answer = websub
            .verify(id, &ask("subscribe", &pending.topic))
            .await
            .unwrap();
        assert_eq!(answer, VerifyAnswer::Confirm("c-123".into()));
        let verified = store.subscription("news").await.unwrap().unwrap();
        assert_eq!(verified.state, SubscriptionState::Verified);
        let lease = verified.lease_expires_at.unwrap() - verified.verified_at.unwrap();
        assert_eq!(lease.num_seconds(), 120);
        // Replayed, it finds no request outstanding.
        assert_eq!(
            websub
                .verify(id, &ask("subscribe", &pending.topic))
                .await
                .unwrap(),
            VerifyAnswer::Unknown
        );
    }
}
