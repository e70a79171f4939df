//! `feedwatch feeds`: each feed's health (`status`), lifting a quarantine or stop (`resume`),
//! and what the reader makes of one feed (`parse`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;

use crate::alerts::payload::timestamp;

use super::*;

pub(super) async fn feeds_status(
    config_path: Option<&Path>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    let states: std::collections::HashMap<String, (String, crate::store::FeedState)> = store
        .feed_states()
        .await?
        .into_iter()
        .map(|(name, url, state)| (name, (url, state)))
        .collect();
    let mut unhealthy = 0;
    for feed in &config.feeds {
        let state = states
            .get(&feed.name)
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        let status = if state.quarantined_reason.is_some() {
            "quarantined"
        } else if state.stopped_reason.is_some() {
            "stopped"
        } else if state.consecutive_failures > 0 {
            "failing"
        } else if state.last_success_at.is_some() {
            "ok"
        } else {
            "never polled"
        };
        if matches!(status, "stopped" | "failing" | "quarantined") {
            unhealthy += 1;
        }
        // A stored new location came from a server: shown without credentials or query, and
        // without the values of the configured URL's `${VAR}`s.
        let moved_to = state
            .moved_to
            .as_deref()
            .and_then(|moved| url::Url::parse(moved).ok())
            .map(|moved| feed.scrub(&crate::fetch::redacted(&moved)));
        let last_error = state.last_error.as_deref().map(|e| feed.scrub(e));
        let reason = state
            .quarantined_reason
            .as_ref()
            .or(state.stopped_reason.as_ref());
        match format {
            Format::Json => outln!(
                "{}",
                json!({
                    "feed": feed.name,
                    "url": feed.shown_url,
                    "moved_to": moved_to,
                    "status": status,
                    "last_success": state.last_success_at.map(timestamp),
                    "last_error": last_error,
                    "last_error_at": state.last_error_at.map(timestamp),
                    "failing_since": state.failing_since.map(timestamp),
                    "consecutive_failures": state.consecutive_failures,
                    "next_poll": state.next_poll_at.map(timestamp),
                    "stopped_reason": state.stopped_reason,
                    "quarantined_reason": state.quarantined_reason,
                    "interrupted_polls": state.interrupted_polls,
                })
            )?,
            Format::Text => {
                let last_success = state.last_success_at.map_or("never".to_string(), timestamp);
                out!(
                    "{:<28} {:<12} last success {:<20} failures {:>3}",
                    feed.name,
                    status,
                    last_success,
                    state.consecutive_failures
                )?;
                if let Some(error) = reason.or(last_error.as_ref())
                    && status != "ok"
                {
                    out!("  {error}")?;
                }
                if let Some(moved) = &moved_to {
                    out!("  (moved to {moved})")?;
                }
                outln!()?;
            }
        }
    }
    store.close().await;
    Ok(if unhealthy > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

pub(super) async fn feeds_resume(
    config_path: Option<&Path>,
    feeds: Vec<String>,
) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    let mut unknown = Vec::new();
    for name in &feeds {
        if config.feeds.iter().any(|f| &f.name == name) && store.resume_feed(name).await? {
            errln!("{name}: resumed; a running daemon polls it within a minute");
        } else {
            unknown.push(name.as_str());
        }
    }
    store.close().await;
    if !unknown.is_empty() {
        bail!(
            "no such feed in the config or the store: {}",
            unknown.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn feeds_parse(source: &str, format: Format) -> anyhow::Result<ExitCode> {
    let (bytes, url, content_type) = read_source(source).await?;
    let feed = crate::feeds::parse_fetched(&bytes, content_type.as_deref(), url.as_deref())
        .with_context(|| source.to_string())?;
    match format {
        Format::Json => {
            let items: Vec<_> = feed
                .items
                .iter()
                .map(|item| {
                    json!({
                        "id": item.key.display_id(),
                        "title": item.title,
                        "link": item.link,
                        "summary": item.summary,
                        "content": item.content,
                        "published": item.published.map(timestamp),
                        "authors": item.authors,
                    })
                })
                .collect();
            let output = json!({"title": feed.title, "link": feed.link, "items": items});
            outln!("{}", serde_json::to_string_pretty(&output)?)?;
        }
        Format::Text => {
            outln!("{}", feed.title.as_deref().unwrap_or("(untitled feed)"))?;
            if let Some(link) = &feed.link {
                outln!("{link}")?;
            }
            outln!("{} items", feed.items.len())?;
            for item in &feed.items {
                outln!(
                    "- {}  {}  [{}]",
                    item.published.map(timestamp).unwrap_or_default(),
                    item.title,
                    item.link.as_deref().unwrap_or("no link")
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
