//! `feedwatch alerts`: list, show, retry and replay the outbox's deliveries.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;

use crate::alerts::payload::timestamp;
use crate::config::Config;
use crate::store::{DeliveryFilter, DeliveryStatus, Sink};

use super::progress::Progress;
use super::*;

pub(super) fn sink_arg(config: &Config, name: &str) -> anyhow::Result<Sink> {
    if name == "@stdout" {
        return Ok(Sink::Stdout);
    }
    if !config.webhooks.iter().any(|w| w.name == name) {
        bail!("no webhook named `{name}` in {}", config.path.display());
    }
    Ok(Sink::Webhook(name.to_string()))
}

/// "2h" back from now, or an RFC 3339 time.
pub(super) fn parse_since(text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    let back = humantime::parse_duration(text).with_context(|| {
        format!("`{text}` is neither a duration like \"2h\" nor an RFC 3339 time")
    })?;
    chrono::Duration::from_std(back)
        .ok()
        .and_then(|back| chrono::Utc::now().checked_sub_signed(back))
        .with_context(|| format!("`{text}` reaches back further than any calendar date"))
}

pub(super) async fn alerts(
    config_path: Option<&Path>,
    command: AlertsCommand,
) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    let now = chrono::Utc::now();
    match command {
        AlertsCommand::List {
            status,
            webhook,
            topic,
            limit,
            format,
        } => {
            let filter = DeliveryFilter {
                status: status.map(|s| match s {
                    StatusArg::Pending => DeliveryStatus::Pending,
                    StatusArg::Failed => DeliveryStatus::Failed,
                    StatusArg::Dead => DeliveryStatus::Dead,
                    StatusArg::Delivered => DeliveryStatus::Delivered,
                }),
                sink: webhook
                    .as_deref()
                    .map(|w| sink_arg(&config, w))
                    .transpose()?,
                topic,
                alert_id: None,
                limit,
            };
            let rows = store.deliveries(&filter).await?;
            let mut out = std::io::stdout().lock();
            for row in &rows {
                let title = serde_json::from_str::<serde_json::Value>(&row.payload)
                    .ok()
                    .and_then(|p| p["article"]["title"].as_str().map(str::to_string))
                    .unwrap_or_default();
                match format {
                    Format::Json => writeln!(
                        out,
                        "{}",
                        json!({
                            "id": row.alert_id, "topic": row.topic, "webhook": row.sink.stored(),
                            "status": row.status.as_str(), "attempts": row.attempts,
                            "created_at": timestamp(row.created_at),
                            "next_attempt_at": (row.status != DeliveryStatus::Delivered && row.status != DeliveryStatus::Dead)
                                .then(|| timestamp(row.next_attempt_at)),
                            "delivered_at": row.delivered_at.map(timestamp),
                            "last_error": row.last_error, "title": title,
                        })
                    )?,
                    Format::Text => writeln!(
                        out,
                        "{}  {:<9} {:<20} {:<24} {:>2}  {}{}",
                        row.alert_id,
                        row.status.as_str(),
                        row.sink.stored(),
                        row.topic,
                        row.attempts,
                        title,
                        row.last_error
                            .as_deref()
                            .map(|e| format!("  [{e}]"))
                            .unwrap_or_default()
                    )?,
                }
            }
            if format == Format::Text && rows.is_empty() {
                errln!("no deliveries match");
            }
        }
        AlertsCommand::Show { id } => {
            let Some(payload) = store.alert_payload(&id).await? else {
                bail!("no alert with id {id}");
            };
            let payload: serde_json::Value = serde_json::from_str(&payload)?;
            outln!("{}", serde_json::to_string_pretty(&payload)?)?;
            // Later copies of the story, held back from alerting again (see `dedupe`).
            for copy in store.alert_copies(&id).await? {
                errln!(
                    "copy of this story from feed {}: {} ({:.0}% similar, {})",
                    copy.feed,
                    copy.url.as_deref().unwrap_or(&copy.title),
                    copy.similarity * 100.0,
                    copy.seen_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
            }
            let filter = DeliveryFilter {
                alert_id: Some(id),
                limit: 1000,
                ..DeliveryFilter::default()
            };
            for row in store.deliveries(&filter).await? {
                errln!(
                    "{}: {} after {} attempt(s){}",
                    row.sink.stored(),
                    row.status.as_str(),
                    row.attempts,
                    row.last_error
                        .map(|e| format!(", last error: {e}"))
                        .unwrap_or_default()
                );
            }
        }
        AlertsCommand::Retry { ids, webhook } => {
            let sink = webhook
                .as_deref()
                .map(|w| sink_arg(&config, w))
                .transpose()?;
            if let Some(Sink::Webhook(name)) = &sink
                && store.enable_webhook(name, now).await?
            {
                errln!("webhook `{name}` enabled again");
            }
            let changed = store.retry_now(&ids, sink.as_ref(), now).await?;
            errln!("{changed} deliveries due now (a running daemon sends them within a minute)");
        }
        AlertsCommand::Replay {
            webhook,
            since,
            topic,
        } => {
            let sink = sink_arg(&config, &webhook)?;
            let since = parse_since(&since)?;
            let queued = {
                // One statement in the store, so there is nothing to count: a spinner shows it
                // is working on a long history.
                let _progress = Progress::spinner(format!(
                    "queueing the alerts since {} for {}",
                    timestamp(since),
                    sink.stored()
                ));
                store.replay(&sink, since, topic.as_deref(), now).await?
            };
            errln!(
                "{queued} alerts since {} queued for {} (a running daemon sends them within a minute)",
                timestamp(since),
                sink.stored()
            );
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
