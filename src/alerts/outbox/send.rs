//! One attempt at one message: rendering claimed rows in the sink's format, POSTing them with
//! the Standard Webhooks headers (or appending them to `alerts.jsonl`), and reading the answer
//! as an [`Outcome`]. Only a 2xx counts as delivered; 429 and 503 carry their Retry-After; 410
//! is [`Outcome::Gone`]. Never touches the store: what an outcome means for the rows is the
//! lane's business.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::alerts::formats;
use crate::alerts::payload::{AlertPayload, FeedHealthEvent};
use crate::alerts::signing::signature_header;
use crate::config::{WebhookFormat, WebhookSpec};
use crate::fetch::retry_after;
use crate::store::{DueDelivery, HEALTH_TOPIC};

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

/// A fingerprint of a webhook URL, so the store can tell when it changed without keeping it.
pub fn url_fingerprint(webhook: &WebhookSpec) -> String {
    let hash = Sha256::digest(webhook.url.expose_secret().as_bytes());
    hash.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The webhook id of a message: the alert's id, or for a digest one derived from the ids it
/// carries, so a retry of the same digest repeats the same id.
pub(super) fn message_id(alerts: &[DueDelivery]) -> String {
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
fn render(format: &WebhookFormat, rows: &[DueDelivery]) -> Result<formats::Rendered, String> {
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
pub(super) enum Outcome {
    Delivered,
    /// Try again; `after` is the receiver's Retry-After, when it gave one.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// 410: the endpoint is gone for good; stop sending until the operator acts.
    Gone,
}

impl Outcome {
    fn retry(error: String) -> Self {
        Outcome::Retry { error, after: None }
    }
}

/// POSTs one message to `webhook`.
pub(super) async fn post(
    client: &reqwest::Client,
    webhook: &WebhookSpec,
    rows: &[DueDelivery],
) -> Outcome {
    let rendered = match render(&webhook.format, rows) {
        Ok(rendered) => rendered,
        Err(error) => return Outcome::retry(error),
    };
    let id = message_id(rows);
    let timestamp = Utc::now().timestamp();
    let mut request = client
        .post(webhook.url.expose_secret())
        .timeout(webhook.timeout)
        .header(CONTENT_TYPE, rendered.content_type.as_str())
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string());
    if let Some(signature) = signature_header(
        &webhook.signing_keys,
        &id,
        timestamp,
        rendered.body.as_bytes(),
    ) {
        request = request.header("webhook-signature", signature);
    }
    for (name, value) in &webhook.headers {
        request = request.header(name, value.expose_secret());
    }
    let response = match request.body(rendered.body).send().await {
        Ok(response) => response,
        Err(err) => {
            // Without the URL: chat webhook URLs are credentials and must not be logged.
            return Outcome::retry(if err.is_timeout() {
                "timed out".to_string()
            } else {
                crate::fetch::describe(err)
            });
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
        _ => Outcome::retry(format!("HTTP {status}")),
    }
}

/// `alerts.jsonl` is rotated when it grows past this: it becomes `alerts.jsonl.1` (the older
/// `.1` becomes `.2`, and so on), so the record keeps the last few of these and never grows
/// without bound.
const JSONL_ROTATE_BYTES: u64 = 16 * 1024 * 1024;
/// Rotated generations kept besides the live file.
const JSONL_GENERATIONS: u32 = 3;

/// Shifts `path` to `path.1` (and older generations one further) once it is over `limit`.
fn rotate_if_large(path: &Path, limit: u64) -> std::io::Result<()> {
    if std::fs::metadata(path).map_or(true, |meta| meta.len() < limit) {
        return Ok(());
    }
    let generation = |n: u32| {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        std::path::PathBuf::from(name)
    };
    for n in (1..JSONL_GENERATIONS).rev() {
        let from = generation(n);
        if from.exists() {
            std::fs::rename(&from, generation(n + 1))?;
        }
    }
    std::fs::rename(path, generation(1))
}

/// Appends `payloads` to the local record `path` with one sync, and prints them too when
/// `echo` is set. Blocking: run it off the async threads.
pub(super) fn write_local(path: &Path, payloads: &[String], echo: bool) -> Outcome {
    write_local_rotating(path, payloads, echo, JSONL_ROTATE_BYTES)
}

fn write_local_rotating(path: &Path, payloads: &[String], echo: bool, limit: u64) -> Outcome {
    if let Err(err) = rotate_if_large(path, limit) {
        return Outcome::retry(format!("cannot rotate {}: {err}", path.display()));
    }
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| {
            for payload in payloads {
                writeln!(file, "{payload}")?;
            }
            file.sync_data()
        });
    if let Err(err) = written {
        return Outcome::retry(format!("cannot write {}: {err}", path.display()));
    }
    if echo {
        let mut stdout = std::io::stdout().lock();
        for payload in payloads {
            // Stdout is a convenience view; alerts.jsonl is the record, so a closed pipe
            // is no failure.
            let _ = writeln!(stdout, "{payload}");
        }
        let _ = stdout.flush();
    }
    Outcome::Delivered
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Sink;

    #[test]
    fn the_local_record_rotates_by_size_and_keeps_a_few_generations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        let line = "x".repeat(99);
        for _ in 0..12 {
            let outcome = write_local_rotating(&path, std::slice::from_ref(&line), false, 250);
            assert!(matches!(outcome, Outcome::Delivered));
        }
        // 100 bytes a line, rotated once a file has reached 250 bytes: 3 lines per generation.
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert_eq!(size(&path), 300);
        for n in 1..=JSONL_GENERATIONS {
            assert_eq!(
                size(&dir.path().join(format!("alerts.jsonl.{n}"))),
                300,
                "{n}"
            );
        }
        assert!(!dir.path().join("alerts.jsonl.4").exists());
    }

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
            claim_token: "token".into(),
        }
    }

    #[test]
    fn digest_ids_depend_only_on_the_alerts_carried() {
        let (a, b) = (due("a"), due("b"));
        assert_eq!(message_id(std::slice::from_ref(&a)), "a");
        assert_eq!(
            message_id(&[a.clone(), b.clone()]),
            message_id(&[b.clone(), a.clone()])
        );
        assert!(message_id(&[a, b]).starts_with("digest_"));
    }
}
