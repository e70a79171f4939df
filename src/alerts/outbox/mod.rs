//! The delivery worker: drains the durable outbox, each sink (every webhook, and the stdout
//! sink) on its own lane, so a slow or hung webhook holds up nothing but itself. A lane claims
//! its own due rows, oldest first, only while it has a free request slot (`concurrency`) and
//! its rate limit has room, sends each alert (or each digest) in the sink's format, and records
//! each outcome as its request ends, under the claim's token. Only a 2xx counts as delivered.
//! 429 and 503 wait as long as Retry-After says; 410 Gone disables the webhook (its rows wait,
//! they are not dropped); anything else is retried on a growing schedule with jitter until the
//! alert is older than the webhook's `max_age`, then kept as a dead letter. The `webhook-id` is
//! the alert id, so a repeat after a crash is recognisable by receivers.
//!
//! On shutdown the lanes stop claiming at once; requests in flight may finish for
//! `shutdown_timeout`, and those still running then are cut short and their rows released, so
//! the next start sends them without waiting for their lease.

mod lane;
mod send;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, WebhookSpec};
use crate::store::{Sink, Store, StoreError};
use lane::{Lane, Mode};

pub use send::{retry_delay, url_fingerprint};

/// A claimed delivery stays reserved for its webhook's timeout plus this margin: long enough
/// that a live sender never loses its claim, short enough that the rows of a crashed sender
/// are soon sent again.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// After `shutdown_timeout`, how long releasing the claims of unfinished requests may take;
/// the caller waits this much longer than `shutdown_timeout` for the outbox to finish.
pub const RELEASE_GRACE: Duration = Duration::from_millis(500);

/// A lane that is running, and how to stop it.
struct RunningLane {
    lane: Arc<Lane>,
    stop: CancellationToken,
}

/// What the lanes of one outbox share.
struct Shared {
    store: Store,
    client: reqwest::Client,
    retry_initial: Duration,
    /// Every message in flight, so shutdown can wait for them.
    in_flight: TaskTracker,
    /// Cancelled when in-flight messages must give up and release their rows.
    hard_stop: CancellationToken,
}

pub struct Outbox {
    store: Store,
    client: reqwest::Client,
    webhooks: Vec<WebhookSpec>,
    retry_initial: Duration,
    shutdown_timeout: Duration,
    /// Overrides every lane's lease (timeout plus margin) when set.
    lease: Option<Duration>,
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
            // A redirect could carry the alert to a host the operator never configured.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()?;
        Ok(Self {
            store,
            client,
            webhooks: config.webhooks.clone(),
            retry_initial: config.daemon.retry_initial,
            shutdown_timeout: config.daemon.shutdown_timeout,
            lease: None,
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

    /// Claims hold for `lease` instead of each webhook's timeout plus a margin. Shorter than a
    /// request takes, a claim runs out mid-request and another sender may take the rows over:
    /// this is how tests provoke that race.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Records each configured webhook's URL, enabling again one disabled under an old URL,
    /// and names the sinks whose rows no lane of this config will send.
    pub async fn register_webhooks(&self) -> Result<(), StoreError> {
        for webhook in &self.webhooks {
            self.store
                .register_webhook(&webhook.name, &url_fingerprint(webhook), chrono::Utc::now())
                .await?;
        }
        for (name, reason) in self.store.disabled_webhooks().await? {
            tracing::warn!(webhook = %name, %reason,
                "webhook is disabled; its alerts wait. Change its URL or run `feedwatch alerts retry --webhook {name}`");
        }
        for (sink, count) in self.store.sinks_with_pending().await? {
            if let Sink::Webhook(name) = &sink
                && !self.webhooks.iter().any(|w| &w.name == name)
            {
                tracing::warn!(webhook = %name, deliveries = count,
                    "deliveries wait for a webhook that is no longer configured; they are kept, and sent when it is configured again");
            }
        }
        Ok(())
    }

    fn shared(&self) -> Arc<Shared> {
        Arc::new(Shared {
            store: self.store.clone(),
            client: self.client.clone(),
            retry_initial: self.retry_initial,
            in_flight: TaskTracker::new(),
            hard_stop: CancellationToken::new(),
        })
    }

    fn local_lane(&self, shared: &Arc<Shared>) -> Arc<Lane> {
        Arc::new(Lane::local(
            self.jsonl_path.clone(),
            self.echo_stdout,
            self.lease.unwrap_or(LEASE_MARGIN),
            shared.clone(),
        ))
    }

    fn webhook_lane(&self, webhook: &WebhookSpec, shared: &Arc<Shared>) -> Arc<Lane> {
        let lease = self.lease.unwrap_or(webhook.timeout + LEASE_MARGIN);
        Arc::new(Lane::webhook(webhook, lease, shared.clone()))
    }

    fn lanes(&self) -> (Arc<Shared>, Vec<Arc<Lane>>) {
        let shared = self.shared();
        let mut lanes = vec![self.local_lane(&shared)];
        for webhook in &self.webhooks {
            lanes.push(self.webhook_lane(webhook, &shared));
        }
        (shared, lanes)
    }

    /// Delivers until `shutdown`, each lane sleeping until its next row is due or until woken
    /// by a new alert. A reloaded config (`configs`) takes effect from the next delivery: a new
    /// webhook gets a lane, a removed one's lane stops claiming, a changed one's lane is
    /// replaced; messages already in flight finish under the claims they hold. On shutdown,
    /// requests in flight may finish for `shutdown_timeout`; the rows of those that did not are
    /// released, and this returns within `shutdown_timeout` + [`RELEASE_GRACE`].
    pub async fn run(
        mut self,
        shutdown: CancellationToken,
        mut configs: Option<watch::Receiver<Arc<Config>>>,
    ) {
        if let Err(err) = self.register_webhooks().await {
            tracing::error!(error = %err, "outbox: cannot record webhook state");
        }
        let shared = self.shared();
        let drivers = TaskTracker::new();
        let start = |lane: Arc<Lane>| {
            let stop = shutdown.child_token();
            drivers.spawn(lane.clone().drive(stop.clone(), Mode::Run));
            RunningLane { lane, stop }
        };
        let local = start(self.local_lane(&shared));
        let mut webhooks: HashMap<String, (String, RunningLane)> = HashMap::new();
        for webhook in &self.webhooks {
            let lane = start(self.webhook_lane(webhook, &shared));
            webhooks.insert(webhook.name.clone(), (webhook.fingerprint.clone(), lane));
        }
        loop {
            let reloaded = async {
                match configs.as_mut() {
                    Some(receiver) => receiver.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                // The pipeline rings one bell for all sinks; each lane checks its own rows.
                _ = self.wake.notified() => {
                    local.lane.wake();
                    webhooks.values().for_each(|(_, running)| running.lane.wake());
                }
                still_open = reloaded => {
                    let Some(receiver) = configs.as_mut().filter(|_| still_open) else {
                        configs = None;
                        continue;
                    };
                    let config = receiver.borrow_and_update().clone();
                    webhooks.retain(|name, (fingerprint, running)| {
                        let kept = config
                            .webhooks
                            .iter()
                            .any(|w| &w.name == name && &w.fingerprint == fingerprint);
                        if !kept {
                            running.stop.cancel();
                        }
                        kept
                    });
                    for webhook in &config.webhooks {
                        if !webhooks.contains_key(&webhook.name) {
                            tracing::info!(webhook = %webhook.name, "outbox: webhook (re)configured");
                            let lane = start(self.webhook_lane(webhook, &shared));
                            webhooks.insert(webhook.name.clone(), (webhook.fingerprint.clone(), lane));
                        }
                    }
                    self.webhooks = config.webhooks.clone();
                    if let Err(err) = self.register_webhooks().await {
                        tracing::error!(error = %err, "outbox: cannot record webhook state");
                    }
                }
            }
        }
        // Run-mode lanes handle store errors themselves and end only when stopped.
        drivers.close();
        drivers.wait().await;
        finish_in_flight(&shared, self.shutdown_timeout).await;
    }

    /// Sends everything due now, waiting for rate limits, and returns once nothing is due and
    /// nothing is in flight (`once --deliver`). Failed rows keep their retry time for later.
    pub async fn drain(&self) -> Result<(), StoreError> {
        let (shared, lanes) = self.lanes();
        let stop = CancellationToken::new();
        let results = join_all(
            lanes
                .iter()
                .map(|lane| lane.clone().drive(stop.clone(), Mode::Drain)),
        )
        .await;
        shared.in_flight.close();
        shared.in_flight.wait().await;
        results.into_iter().collect()
    }
}

/// Lets in-flight messages finish for `timeout`, then cuts the rest short: they release their
/// rows (within [`RELEASE_GRACE`]) rather than keep them leased.
async fn finish_in_flight(shared: &Shared, timeout: Duration) {
    shared.in_flight.close();
    let running = shared.in_flight.len();
    if running == 0 {
        return;
    }
    tracing::info!(
        messages = running,
        "shutdown: letting deliveries in flight finish (shutdown_timeout {})",
        humantime::format_duration(timeout)
    );
    if tokio::time::timeout(timeout, shared.in_flight.wait())
        .await
        .is_ok()
    {
        return;
    }
    tracing::warn!(
        messages = shared.in_flight.len(),
        "shutdown: deliveries still in flight after shutdown_timeout; releasing them for the next start"
    );
    shared.hard_stop.cancel();
    let _ = tokio::time::timeout(RELEASE_GRACE, shared.in_flight.wait()).await;
}
