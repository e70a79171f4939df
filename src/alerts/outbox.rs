//! The delivery worker: claims due rows of the outbox, sends each alert to its sink, and
//! records the outcome. Only a 2xx counts as delivered; anything else is retried on a growing
//! schedule with jitter until the alert is `MAX_AGE` old, then kept as a dead letter. The
//! `webhook-id` is the alert id, so a repeat after a crash is recognisable by receivers.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::header::CONTENT_TYPE;
use secrecy::ExposeSecret;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::signing::signature_header;
use crate::config::{Config, WebhookSpec};
use crate::store::{DueDelivery, Sink, Store, StoreError};

/// How long after its creation an alert is still retried before it becomes a dead letter.
pub const MAX_AGE: Duration = Duration::from_secs(3 * 24 * 3600);
/// How long a claimed delivery stays reserved for the worker that claimed it.
const LEASE: Duration = Duration::from_secs(120);
const BATCH: u32 = 32;
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Delay before the attempt that follows `failed_attempts` failures: 5 s, 30 s, 2 min, 10 min,
/// 30 min, then hourly, each moved by up to ±20 % so retries of many alerts spread out.
pub fn retry_delay(failed_attempts: u32) -> Duration {
    const SCHEDULE: [u64; 5] = [5, 30, 120, 600, 1800];
    let base = SCHEDULE
        .get(failed_attempts.saturating_sub(1) as usize)
        .copied()
        .unwrap_or(3600);
    let factor = rand::rng().random_range(0.8..1.2);
    Duration::from_secs_f64(base as f64 * factor)
}

pub struct Outbox {
    store: Store,
    webhooks: HashMap<String, WebhookSpec>,
    client: reqwest::Client,
    jsonl_path: PathBuf,
    /// Whether stdout-sink alerts are also printed (`once` prints alerts itself).
    echo_stdout: bool,
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn new(config: &Config, store: Store, wake: Arc<Notify>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .user_agent(config.daemon.user_agent.clone())
            .connect_timeout(config.daemon.connect_timeout)
            .timeout(SEND_TIMEOUT)
            // A redirect could carry the alert to a host the operator never configured.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            store,
            webhooks: config
                .webhooks
                .iter()
                .map(|w| (w.name.clone(), w.clone()))
                .collect(),
            client,
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

    /// Delivers until `shutdown`, sleeping until the next row is due or until woken by a new
    /// alert.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let delivered = match self.deliver_due().await {
                Ok(count) => count,
                Err(err) => {
                    tracing::error!(error = %err, "outbox: cannot read due deliveries; retrying");
                    0
                }
            };
            if delivered > 0 {
                continue;
            }
            let pause = match self.store.next_delivery_due().await {
                Ok(Some(due)) => (due - Utc::now()).to_std().unwrap_or(Duration::ZERO),
                _ => Duration::from_secs(60),
            }
            .clamp(Duration::from_millis(50), Duration::from_secs(60));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Sends one batch of due deliveries; returns how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let due = self
            .store
            .claim_due_deliveries(Utc::now(), BATCH, LEASE)
            .await?;
        let count = due.len();
        let outcomes = futures_util::future::join_all(due.iter().map(|d| self.send(d))).await;
        for (delivery, outcome) in due.iter().zip(outcomes) {
            self.record(delivery, outcome).await?;
        }
        Ok(count)
    }

    async fn record(
        &self,
        delivery: &DueDelivery,
        outcome: Result<(), String>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        match outcome {
            Ok(()) => {
                tracing::info!(alert = %delivery.alert_id, sink = %delivery.sink, "alert delivered");
                self.store
                    .mark_delivered(&delivery.alert_id, &delivery.sink, now)
                    .await
            }
            Err(error) => {
                let retry_at = next_attempt(delivery.created_at, delivery.attempts + 1, now);
                match retry_at {
                    Some(at) => tracing::warn!(alert = %delivery.alert_id, sink = %delivery.sink,
                        attempt = delivery.attempts + 1, %error, retry_at = %at, "delivery failed; will retry"),
                    None => tracing::error!(alert = %delivery.alert_id, sink = %delivery.sink,
                        attempt = delivery.attempts + 1, %error, "delivery failed for too long; kept as a dead letter"),
                }
                self.store
                    .mark_failed(&delivery.alert_id, &delivery.sink, &error, retry_at)
                    .await
            }
        }
    }

    async fn send(&self, delivery: &DueDelivery) -> Result<(), String> {
        match &delivery.sink {
            Sink::Stdout => self.write_local(&delivery.payload),
            Sink::Webhook(name) => match self.webhooks.get(name) {
                Some(webhook) => self.post(webhook, delivery).await,
                // Kept pending, not dropped: the webhook may come back with the next config.
                None => Err(format!("webhook `{name}` is no longer configured")),
            },
        }
    }

    fn write_local(&self, payload: &str) -> Result<(), String> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.jsonl_path)
            .map_err(|e| format!("cannot open {}: {e}", self.jsonl_path.display()))?;
        writeln!(file, "{payload}")
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("cannot write {}: {e}", self.jsonl_path.display()))?;
        if self.echo_stdout {
            let mut stdout = std::io::stdout().lock();
            // Stdout is a convenience view; alerts.jsonl is the record, so a closed pipe is no
            // failure.
            let _ = writeln!(stdout, "{payload}").and_then(|()| stdout.flush());
        }
        Ok(())
    }

    async fn post(&self, webhook: &WebhookSpec, delivery: &DueDelivery) -> Result<(), String> {
        let timestamp = Utc::now().timestamp();
        let body = delivery.payload.as_bytes();
        let mut request = self
            .client
            .post(webhook.url.expose_secret())
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", &delivery.alert_id)
            .header("webhook-timestamp", timestamp.to_string());
        if let Some(signature) =
            signature_header(&webhook.signing_keys, &delivery.alert_id, timestamp, body)
        {
            request = request.header("webhook-signature", signature);
        }
        for (name, value) in &webhook.headers {
            request = request.header(name, value.expose_secret());
        }
        let response = request
            .body(delivery.payload.clone())
            .send()
            .await
            // Without the URL: chat webhook URLs are credentials and must not reach the logs.
            .map_err(|e| describe_send_error(&e.without_url()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {status}"))
        }
    }
}

fn describe_send_error(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".to_string();
    }
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// When to try again after `failed_attempts`, or `None` once the alert is too old to retry.
fn next_attempt(
    created_at: DateTime<Utc>,
    failed_attempts: u32,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let at = now + retry_delay(failed_attempts);
    let deadline = created_at + MAX_AGE;
    (at <= deadline).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_schedule_grows_then_stays_hourly() {
        let secs = |n| retry_delay(n).as_secs_f64();
        assert!((4.0..=6.0).contains(&secs(1)));
        assert!((24.0..=36.0).contains(&secs(2)));
        assert!((2880.0..=4320.0).contains(&secs(6)));
        assert!((2880.0..=4320.0).contains(&secs(40)));
    }

    #[test]
    fn old_alerts_become_dead_letters() {
        let created = Utc::now() - chrono::Duration::days(4);
        assert_eq!(next_attempt(created, 3, Utc::now()), None);
        let fresh = Utc::now();
        assert!(next_attempt(fresh, 1, fresh).is_some());
    }
}
