//! The daemon's metrics: their names and help texts in one place, the Prometheus recorder that
//! collects them, and the gauges read from the store when `/metrics` is scraped (outbox depth,
//! failing and quarantined feeds), which no event updates. Stages record with the `metrics`
//! macros and these names; the exposition format itself is the exporter crate's, never ours.
//!
//! The `metrics` facade keeps one recorder per process, as logging does: installing it is the
//! daemon's first step, and a process that never installs it (the CLI commands, the tests of
//! the cores) records into nothing at no cost.

use std::sync::OnceLock;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::store::Store;

pub const FETCHES: &str = "feedwatch_fetches_total";
pub const FETCH_SECONDS: &str = "feedwatch_fetch_duration_seconds";
pub const ITEMS_SEEN: &str = "feedwatch_items_seen_total";
pub const ITEMS_NEW: &str = "feedwatch_items_new_total";
pub const ARTICLES: &str = "feedwatch_articles_total";
pub const EXTRACTION_SECONDS: &str = "feedwatch_extraction_duration_seconds";
pub const ANALYSIS_SECONDS: &str = "feedwatch_analysis_duration_seconds";
pub const ALERTS: &str = "feedwatch_alerts_created_total";
pub const DELIVERIES: &str = "feedwatch_deliveries_total";
pub const OUTBOX_DEPTH: &str = "feedwatch_outbox_pending";
pub const OUTBOX_OLDEST: &str = "feedwatch_outbox_oldest_pending_age_seconds";
pub const FEEDS_FAILING: &str = "feedwatch_feeds_failing";
pub const FEEDS_QUARANTINED: &str = "feedwatch_feeds_quarantined";
pub const CONFIG_RELOADS: &str = "feedwatch_config_reloads_total";
pub const WEBSUB_PUSHES: &str = "feedwatch_websub_pushes_total";
pub const BUILD_INFO: &str = "feedwatch_build_info";

/// Seconds buckets for fetch, extraction and analysis times: 1 ms to 60 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same handle) and describes
/// every metric.
pub fn install() -> Result<PrometheusHandle, String> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets(SECONDS_BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    describe();
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(HANDLE.get_or_init(|| handle).clone())
}

fn describe() {
    describe_counter!(
        FETCHES,
        "Feed fetches by feed and result (ok, not_modified, error kinds)"
    );
    describe_histogram!(
        FETCH_SECONDS,
        Unit::Seconds,
        "Time to fetch and parse a feed"
    );
    describe_counter!(ITEMS_SEEN, "Items listed by feeds when parsed, by feed");
    describe_counter!(ITEMS_NEW, "Items seen for the first time, by feed");
    describe_counter!(
        ARTICLES,
        "New items by where their text came from (page, feed) and why"
    );
    describe_histogram!(
        EXTRACTION_SECONDS,
        Unit::Seconds,
        "Time to extract an article from its page"
    );
    describe_histogram!(
        ANALYSIS_SECONDS,
        Unit::Seconds,
        "Time to find an article's entities and match its topics"
    );
    describe_counter!(ALERTS, "Alerts created, by topic");
    describe_counter!(
        DELIVERIES,
        "Delivery attempts by webhook and result (delivered, failed, gone, dead)"
    );
    describe_gauge!(OUTBOX_DEPTH, "Deliveries not yet delivered, by webhook");
    describe_gauge!(
        OUTBOX_OLDEST,
        Unit::Seconds,
        "Age of the oldest undelivered alert, by webhook"
    );
    describe_gauge!(FEEDS_FAILING, "Feeds whose last poll failed");
    describe_gauge!(
        FEEDS_QUARANTINED,
        "Feeds not polled: quarantined after repeated deaths, or stopped by 410"
    );
    describe_counter!(CONFIG_RELOADS, "Config reloads by result (ok, error)");
    describe_counter!(
        WEBSUB_PUSHES,
        "WebSub content distributions by feed and result (accepted, bad_signature, ignored)"
    );
    describe_gauge!(BUILD_INFO, "Always 1; the version is a label");
}

/// The exposition text, with the store-derived gauges read just before. `sinks` are the
/// configured webhooks' names (and `@stdout`): each gets its gauges, 0 when nothing waits.
pub async fn render(handle: &PrometheusHandle, store: &Store, sinks: &[String]) -> String {
    match store.outbox_depth(chrono::Utc::now()).await {
        Ok(depths) => {
            let mut names: Vec<&str> = sinks.iter().map(String::as_str).collect();
            names.extend(depths.iter().map(|d| d.sink.as_str()));
            names.sort_unstable();
            names.dedup();
            for name in names {
                let depth = depths.iter().find(|d| d.sink == name);
                let (pending, age) =
                    depth.map_or((0.0, 0.0), |d| (d.pending as f64, d.oldest_age_seconds));
                metrics::gauge!(OUTBOX_DEPTH, "webhook" => name.to_string()).set(pending);
                metrics::gauge!(OUTBOX_OLDEST, "webhook" => name.to_string()).set(age);
            }
        }
        Err(err) => tracing::warn!(error = %err, "metrics: cannot read the outbox depth"),
    }
    match store.feed_health_counts().await {
        Ok((failing, quarantined)) => {
            metrics::gauge!(FEEDS_FAILING).set(failing as f64);
            metrics::gauge!(FEEDS_QUARANTINED).set(quarantined as f64);
        }
        Err(err) => tracing::warn!(error = %err, "metrics: cannot read feed health"),
    }
    handle.render()
}
