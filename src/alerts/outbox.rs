//! The delivery worker: claims due rows of the outbox, sends each alert (or each digest) to its
//! sink in the sink's format, and records the outcome. Only a 2xx counts as delivered. 429 and
//! 503 wait as long as Retry-After says; 410 Gone disables the webhook (its rows wait, they are
//! not dropped); anything else is retried on a growing schedule with jitter until the alert is
//! older than the webhook's `max_age`, then kept as a dead letter. The `webhook-id` is the alert
//! id, so a repeat after a crash is recognisable by receivers.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::formats;
use super::payload::{AlertPayload, FeedHealthEvent};
use super::signing::signature_header;
use crate::config::{Config, RateLimit, WebhookFormat, WebhookSpec};
use crate::fetch::retry_after;
use crate::store::{DueDelivery, HEALTH_TOPIC, Sink, Store, StoreError};

/// A claimed delivery stays reserved for the slowest webhook's timeout plus this margin: long
/// enough that a live worker never loses its claim, short enough that the rows of a crashed
/// worker are soon sent again.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
const BATCH: u32 = 64;
/// Retry-After values beyond this are treated as this, so one answer cannot park an alert.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Delay before the attempt that follows `failed_attempts` failures, for a first delay of
/// `initial` (5 s by default: 5 s, 30 s, 2 min, 10 min, 30 min, then hourly), each moved by up
/// to ±20 % so the retries of many alerts spread out.
pub fn retry_delay(failed_attempts: u32, initial: Duration) -> Duration {
    const FACTORS: [u32; 5] = [1, 6, 24, 120, 360];
    let factor = FACTORS
        .get(failed_attempts.saturating_sub(1) as usize)
        .copied()
        .unwrap_or(720);
    let jitter = rand::rng().random_range(0.8..1.2);
    initial.saturating_mul(factor).mul_f64(jitter)
}

/// The webhook id of a message: the alert's id, or for a digest one derived from the ids it
/// carries, so a retry of the same digest repeats the same id.
fn message_id(alerts: &[&DueDelivery]) -> String {
    if let [single] = alerts {
        return single.alert_id.clone();
    }
    let mut ids: Vec<&str> = alerts.iter().map(|d| d.alert_id.as_str()).collect();
    ids.sort_unstable();
    let hash = Sha256::digest(ids.join(",").as_bytes());
    let hex: String = hash.iter().take(13).map(|b| format!("{b:02x}")).collect();
    format!("digest_{hex}")
}

/// The request body for `rows` (one message) in `format`. The json format sends the stored
/// bytes of a single alert as they are, so a retry is byte-identical.
fn render(format: &WebhookFormat, rows: &[&DueDelivery]) -> Result<formats::Rendered, String> {
    if let (WebhookFormat::Json, [row]) = (format, rows) {
        return Ok(formats::Rendered {
            body: row.payload.clone(),
            content_type: "application/json".to_string(),
        });
    }
    if rows.first().is_some_and(|r| r.topic == HEALTH_TOPIC) {
        let events: Result<Vec<FeedHealthEvent>, _> = rows
            .iter()
            .map(|r| serde_json::from_str(&r.payload))
            .collect();
        let events = events.map_err(|e| format!("stored feed-health notice is not valid: {e}"))?;
        return Ok(formats::render_health(format, &events));
    }
    let alerts: Result<Vec<AlertPayload>, _> = rows
        .iter()
        .map(|r| serde_json::from_str(&r.payload))
        .collect();
    let alerts = alerts.map_err(|e| format!("stored alert is not valid JSON: {e}"))?;
    formats::render(format, &alerts).map_err(|e| e.to_string())
}

/// What one attempt came to.
#[derive(Debug)]
enum Outcome {
    Delivered,
    /// Try again; `after` is the receiver's Retry-After, when it gave one.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// 410: the endpoint is gone for good; stop sending until the operator acts.
    Gone,
    /// The rate limit allows the next message only after this long.
    Throttled(Duration),
}

struct Endpoint {
    spec: WebhookSpec,
    limiter: Option<DefaultDirectRateLimiter>,
}

fn limiter(limit: &RateLimit) -> Option<DefaultDirectRateLimiter> {
    let count = NonZeroU32::new(limit.count)?;
    let quota = Quota::with_period(limit.per / limit.count)?.allow_burst(count);
    Some(RateLimiter::direct(quota))
}

pub struct Outbox {
    store: Store,
    endpoints: HashMap<String, Endpoint>,
    client: reqwest::Client,
    retry_initial: Duration,
    lease: Duration,
    jsonl_path: PathBuf,
    /// Whether stdout-sink alerts are also printed (`once` prints alerts itself).
    echo_stdout: bool,
    wake: Arc<Notify>,
}

/// A fingerprint of a webhook URL, so the store can tell when it changed without keeping it.
pub fn url_fingerprint(webhook: &WebhookSpec) -> String {
    let hash = Sha256::digest(webhook.url.expose_secret().as_bytes());
    hash.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

impl Outbox {
    pub fn new(config: &Config, store: Store, wake: Arc<Notify>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .user_agent(config.daemon.user_agent.clone())
            .connect_timeout(config.daemon.connect_timeout)
            // A redirect could carry the alert to a host the operator never configured.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()?;
        let slowest = config
            .webhooks
            .iter()
            .map(|w| w.timeout)
            .max()
            .unwrap_or_default();
        let endpoints = config
            .webhooks
            .iter()
            .map(|w| {
                let limiter = w.rate_limit.as_ref().and_then(limiter);
                (
                    w.name.clone(),
                    Endpoint {
                        spec: w.clone(),
                        limiter,
                    },
                )
            })
            .collect();
        Ok(Self {
            store,
            endpoints,
            client,
            retry_initial: config.daemon.retry_initial,
            lease: slowest + LEASE_MARGIN,
            jsonl_path: config.daemon.store.directory().join("alerts.jsonl"),
            echo_stdout: true,
            wake,
        })
    }

    /// Stops stdout-sink alerts from also being printed, for callers that print them already.
    pub fn without_stdout_echo(mut self) -> Self {
        self.echo_stdout = false;
        self
    }

    /// Records each configured webhook's URL, enabling again one disabled under an old URL.
    pub async fn register_webhooks(&self) -> Result<(), StoreError> {
        for endpoint in self.endpoints.values() {
            self.store
                .register_webhook(&endpoint.spec.name, &url_fingerprint(&endpoint.spec))
                .await?;
        }
        for (name, reason) in self.store.disabled_webhooks().await? {
            tracing::warn!(webhook = %name, %reason,
                "webhook is disabled; its alerts wait. Change its URL or run `feedwatch alerts retry --webhook {name}`");
        }
        Ok(())
    }

    /// Delivers until `shutdown`, sleeping until the next row is due or until woken by a new
    /// alert.
    pub async fn run(self, shutdown: CancellationToken) {
        if let Err(err) = self.register_webhooks().await {
            tracing::error!(error = %err, "outbox: cannot record webhook state");
        }
        loop {
            let attempted = tokio::select! {
                _ = shutdown.cancelled() => return,
                result = self.deliver_due() => match result {
                    Ok(count) => count,
                    Err(err) => {
                        tracing::error!(error = %err, "outbox: cannot read or update deliveries; retrying");
                        0
                    }
                },
            };
            if attempted > 0 {
                continue;
            }
            let pause = match self.store.next_delivery_due().await {
                Ok(Some(due)) => (due - Utc::now()).to_std().unwrap_or(Duration::ZERO),
                _ => Duration::from_secs(60),
            }
            .clamp(Duration::from_millis(20), Duration::from_secs(60));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Sends one batch of due deliveries; returns how many rows were attempted.
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let due = self
            .store
            .claim_due_deliveries(Utc::now(), BATCH, self.lease)
            .await?;
        let count = due.len();
        let messages = self.group(&due);
        let outcomes =
            futures_util::future::join_all(messages.iter().map(|rows| self.send(rows))).await;
        for (rows, outcome) in messages.iter().zip(outcomes) {
            self.record(rows, outcome).await?;
        }
        Ok(count)
    }

    /// One message per row, except that a digest webhook's rows of one topic form one message.
    fn group<'d>(&self, due: &'d [DueDelivery]) -> Vec<Vec<&'d DueDelivery>> {
        let mut single = Vec::new();
        let mut digests: BTreeMap<(&str, &str), Vec<&DueDelivery>> = BTreeMap::new();
        for delivery in due {
            let digest = match &delivery.sink {
                Sink::Webhook(name) => self
                    .endpoints
                    .get(name)
                    .is_some_and(|e| e.spec.digest.is_some()),
                Sink::Stdout => false,
            };
            if digest {
                let key = (delivery.sink_name(), delivery.topic.as_str());
                digests.entry(key).or_default().push(delivery);
            } else {
                single.push(vec![delivery]);
            }
        }
        single.extend(digests.into_values());
        single
    }

    async fn send(&self, rows: &[&DueDelivery]) -> Outcome {
        let Some(first) = rows.first() else {
            return Outcome::Delivered;
        };
        match &first.sink {
            Sink::Stdout => self.write_local(rows),
            Sink::Webhook(name) => match self.endpoints.get(name) {
                Some(endpoint) => self.post(endpoint, rows).await,
                // Kept pending, not dropped: the webhook may come back with the next config.
                None => Outcome::Retry {
                    error: format!("webhook `{name}` is no longer configured"),
                    after: None,
                },
            },
        }
    }

    fn write_local(&self, rows: &[&DueDelivery]) -> Outcome {
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.jsonl_path)
            .and_then(|mut file| {
                for row in rows {
                    writeln!(file, "{}", row.payload)?;
                }
                file.sync_data()
            });
        if let Err(err) = written {
            return Outcome::Retry {
                error: format!("cannot write {}: {err}", self.jsonl_path.display()),
                after: None,
            };
        }
        if self.echo_stdout {
            let mut stdout = std::io::stdout().lock();
            for row in rows {
                // Stdout is a convenience view; alerts.jsonl is the record, so a closed pipe
                // is no failure.
                let _ = writeln!(stdout, "{}", row.payload);
            }
            let _ = stdout.flush();
        }
        Outcome::Delivered
    }

    async fn post(&self, endpoint: &Endpoint, rows: &[&DueDelivery]) -> Outcome {
        if let Some(limiter) = &endpoint.limiter
            && let Err(not_until) = limiter.check()
        {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            return Outcome::Throttled(wait.max(Duration::from_millis(10)));
        }
        let rendered = match render(&endpoint.spec.format, rows) {
            Ok(rendered) => rendered,
            Err(error) => {
                return Outcome::Retry { error, after: None };
            }
        };
        let id = message_id(rows);
        let timestamp = Utc::now().timestamp();
        let mut request = self
            .client
            .post(endpoint.spec.url.expose_secret())
            .timeout(endpoint.spec.timeout)
            .header(CONTENT_TYPE, rendered.content_type.as_str())
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string());
        if let Some(signature) = signature_header(
            &endpoint.spec.signing_keys,
            &id,
            timestamp,
            rendered.body.as_bytes(),
        ) {
            request = request.header("webhook-signature", signature);
        }
        for (name, value) in &endpoint.spec.headers {
            request = request.header(name, value.expose_secret());
        }
        let response = match request.body(rendered.body).send().await {
            Ok(response) => response,
            Err(err) => {
                return Outcome::Retry {
                    // Without the URL: chat webhook URLs are credentials and must not be logged.
                    error: if err.is_timeout() {
                        "timed out".to_string()
                    } else {
                        crate::fetch::describe(err)
                    },
                    after: None,
                };
            }
        };
        let status = response.status();
        match status {
            s if s.is_success() => Outcome::Delivered,
            StatusCode::GONE => Outcome::Gone,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => Outcome::Retry {
                error: format!("HTTP {status}"),
                after: retry_after(response.headers(), Utc::now()),
            },
            _ => Outcome::Retry {
                error: format!("HTTP {status}"),
                after: None,
            },
        }
    }

    async fn record(&self, rows: &[&DueDelivery], outcome: Outcome) -> Result<(), StoreError> {
        let now = Utc::now();
        let Some(first) = rows.first() else {
            return Ok(());
        };
        let max_age = match &first.sink {
            Sink::Webhook(name) => self.endpoints.get(name).map(|e| e.spec.max_age),
            Sink::Stdout => None,
        }
        .unwrap_or(Duration::from_secs(3 * 24 * 3600));
        // One retry time for the whole message, so a digest's rows stay together.
        let delay = retry_delay(first.attempts + 1, self.retry_initial);
        for row in rows {
            match &outcome {
                Outcome::Delivered => {
                    tracing::info!(alert = %row.alert_id, sink = %row.sink, "alert delivered");
                    self.store
                        .mark_delivered(&row.alert_id, &row.sink, now)
                        .await?;
                }
                Outcome::Throttled(wait) => {
                    let until = now + chrono::Duration::from_std(*wait).unwrap_or_default();
                    self.store.defer(&row.alert_id, &row.sink, until).await?;
                }
                Outcome::Gone => {
                    self.store
                        .mark_failed(
                            &row.alert_id,
                            &row.sink,
                            "HTTP 410 Gone: webhook disabled",
                            Some(now),
                        )
                        .await?;
                }
                Outcome::Retry { error, after } => {
                    // Never sooner than the first retry delay: "Retry-After: 0" must not
                    // turn into a tight loop.
                    let wait =
                        after.map_or(delay, |a| a.clamp(self.retry_initial, MAX_RETRY_AFTER));
                    let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    let deadline =
                        row.created_at + chrono::Duration::from_std(max_age).unwrap_or_default();
                    let retry_at = (at <= deadline).then_some(at);
                    match retry_at {
                        Some(at) => tracing::warn!(alert = %row.alert_id, sink = %row.sink,
                            attempt = row.attempts + 1, %error, retry_at = %at, "delivery failed; will retry"),
                        None => tracing::error!(alert = %row.alert_id, sink = %row.sink,
                            attempt = row.attempts + 1, %error,
                            "delivery failed for longer than max_age; kept as a dead letter (`feedwatch alerts retry` resends)"),
                    }
                    self.store
                        .mark_failed(&row.alert_id, &row.sink, error, retry_at)
                        .await?;
                }
            }
        }
        if matches!(outcome, Outcome::Gone)
            && let Sink::Webhook(name) = &first.sink
        {
            tracing::error!(webhook = %name,
                "the webhook answered 410 Gone: disabled; its alerts wait until its URL changes or `feedwatch alerts retry --webhook {name}`");
            self.store
                .disable_webhook(name, "HTTP 410 Gone", now)
                .await?;
        }
        Ok(())
    }
}

impl DueDelivery {
    fn sink_name(&self) -> &str {
        match &self.sink {
            Sink::Webhook(name) => name,
            Sink::Stdout => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_schedule_grows_then_stays_hourly() {
        let initial = Duration::from_secs(5);
        let secs = |n| retry_delay(n, initial).as_secs_f64();
        assert!((4.0..=6.0).contains(&secs(1)));
        assert!((24.0..=36.0).contains(&secs(2)));
        assert!((96.0..=144.0).contains(&secs(3)));
        assert!((2880.0..=4320.0).contains(&secs(6)));
        assert!((2880.0..=4320.0).contains(&secs(40)));
    }

    fn due(id: &str) -> DueDelivery {
        DueDelivery {
            alert_id: id.into(),
            topic: "t".into(),
            sink: Sink::Webhook("w".into()),
            attempts: 0,
            payload: String::new(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn digest_ids_depend_only_on_the_alerts_carried() {
        let (a, b) = (due("a"), due("b"));
        assert_eq!(message_id(&[&a]), "a");
        assert_eq!(message_id(&[&a, &b]), message_id(&[&b, &a]));
        assert!(message_id(&[&a, &b]).starts_with("digest_"));
    }
}
