//! `feedwatch feeds`: each feed's health (`status`: an aligned table on a terminal, one line
//! per feed in a pipe, JSON lines with `--format json`), lifting a quarantine or stop
//! (`resume`), and what the reader makes of one feed (`parse`). Subscribing lives in
//! `feeds_add` and `feeds_opml`.

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

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
    let subscriptions: std::collections::HashMap<String, crate::store::Subscription> = store
        .subscriptions()
        .await?
        .into_iter()
        .map(|sub| (sub.feed.clone(), sub))
        .collect();
    let mut unhealthy = 0;
    // People read a table; scripts read the lines, which stay as they were.
    let mut table =
        (format == Format::Text && std::io::stdout().is_terminal()).then(StatusTable::new);
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
                    // Never the callback id or the secret: they authenticate the hub's pushes.
                    "websub": subscriptions.get(&feed.name).map(|sub| json!({
                        "hub": sub.hub,
                        "topic": sub.topic,
                        "state": sub.state.as_str(),
                        "lease_expires": sub.lease_expires_at.map(timestamp),
                        "last_error": sub.last_error,
                    })),
                })
            )?,
            Format::Text if table.is_some() => {
                let detail = match (reason.or(last_error.as_ref()), &moved_to) {
                    (Some(error), Some(moved)) if status != "ok" => {
                        format!("{error} (moved to {moved})")
                    }
                    (Some(error), None) if status != "ok" => error.clone(),
                    (_, Some(moved)) => format!("moved to {moved}"),
                    _ => String::new(),
                };
                if let Some(table) = &mut table {
                    table.row(&feed.name, status, &state, detail);
                }
            }
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
    if let Some(table) = table {
        // Without a known width, 100 columns fits most terminals.
        let width = console::Term::stdout()
            .size_checked()
            .map_or(100, |(_, columns)| usize::from(columns));
        outln!("{}", table.render(width))?;
    }
    store.close().await;
    Ok(if unhealthy > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// `feeds status` for people: one row per feed, times relative to now, and the error cut to
/// what is left of the terminal's width, so each feed keeps to one line.
struct StatusTable {
    rows: Vec<[String; 6]>,
    now: DateTime<Utc>,
}

const STATUS_HEADER: [&str; 6] = [
    "FEED",
    "STATUS",
    "LAST SUCCESS",
    "FAILURES",
    "NEXT POLL",
    "ERROR",
];

/// Spaces after each column but the last.
const STATUS_GAP: u16 = 2;

/// The error keeps at least this many columns on a terminal too narrow for the rest, where
/// rows overflow anyway, so it still says something.
const MIN_ERROR_WIDTH: usize = 20;

impl StatusTable {
    fn new() -> Self {
        Self {
            rows: Vec::new(),
            now: Utc::now(),
        }
    }

    fn row(&mut self, name: &str, status: &str, state: &crate::store::FeedState, detail: String) {
        let last_success = state.last_success_at.map_or("never".to_string(), |at| {
            format!("{} ago", span(self.now - at))
        });
        let next_poll = match state.next_poll_at {
            None => "-".to_string(),
            Some(at) if at <= self.now => "due".to_string(),
            Some(at) => format!("in {}", span(at - self.now)),
        };
        // One line per feed, and nothing a server put in an error may steer the terminal.
        let detail: String = detail
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        self.rows.push([
            name.to_string(),
            status.to_string(),
            last_success,
            state.consecutive_failures.to_string(),
            next_poll,
            detail,
        ]);
    }

    fn render(self, width: usize) -> String {
        let widest = |column: usize| {
            self.rows
                .iter()
                .map(|row| console::measure_text_width(&row[column]))
                .chain([STATUS_HEADER[column].len()])
                .max()
                .unwrap_or(0)
        };
        let used: usize = (0..5).map(|c| widest(c) + usize::from(STATUS_GAP)).sum();
        let room = width.saturating_sub(used).max(MIN_ERROR_WIDTH);
        let mut table = comfy_table::Table::new();
        table
            .load_style(
                comfy_table::TableStyle::new()
                    .header_separator(comfy_table::LineStyle::none().fill('─').junction('─')),
            )
            .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
            .set_header(STATUS_HEADER);
        for mut row in self.rows {
            row[5] = console::truncate_str(&row[5], room, "…").into_owned();
            table.add_row(row);
        }
        for (n, column) in table.column_iter_mut().enumerate() {
            // comfy-table puts one space between columns when no line is drawn there.
            column.set_padding((0, if n < 5 { STATUS_GAP - 1 } else { 0 }));
            if n == 3 {
                column.set_cell_alignment(comfy_table::CellAlignment::Right);
            }
        }
        // The last column is padded to its widest cell; those spaces would only wrap.
        let mut text: String = table
            .lines()
            .map(|line| line.trim_end().to_string() + "\n")
            .collect();
        text.pop();
        text
    }
}

/// A duration as people say it: "42 s", "3 min", "5 h", "2 days".
fn span(duration: chrono::TimeDelta) -> String {
    let secs = duration.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h", secs / 3600),
        86_400..172_800 => "1 day".to_string(),
        _ => format!("{} days", secs / 86_400),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_like_speech() {
        let secs = chrono::TimeDelta::seconds;
        assert_eq!(span(secs(-5)), "0 s");
        assert_eq!(span(secs(59)), "59 s");
        assert_eq!(span(secs(3 * 60 + 59)), "3 min");
        assert_eq!(span(secs(5 * 3600)), "5 h");
        assert_eq!(span(secs(86_400 + 10)), "1 day");
        assert_eq!(span(secs(3 * 86_400)), "3 days");
    }

    #[test]
    fn the_status_table_fits_the_width_by_cutting_the_error() {
        let table_row = |error: &str| {
            let mut table = StatusTable::new();
            table.row("a", "failing", &Default::default(), error.to_string());
            table.rows.remove(0)
        };
        let mut table = StatusTable::new();
        let state = crate::store::FeedState {
            last_success_at: Some(table.now - chrono::TimeDelta::minutes(3)),
            next_poll_at: Some(table.now + chrono::TimeDelta::seconds(90)),
            consecutive_failures: 12,
            ..Default::default()
        };
        let error = "fetching the feed failed:\n\u{1b}[31mHTTP status 500\u{1b}[0m and a long tail of words";
        table.row("a-feed", "failing", &state, error.to_string());
        table.row(
            "другая-лента",
            "ok",
            &crate::store::FeedState::default(),
            String::new(),
        );
        let text = table.render(80);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[0].starts_with("FEED          STATUS   LAST SUCCESS  FAILURES  NEXT POLL  ERROR"),
            "{text}"
        );
        assert_eq!(
            lines[2],
            "a-feed        failing  3 min ago           12  in 1 min   fetching the feed fai…"
        );
        assert_eq!(console::measure_text_width(lines[2]), 80);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(
            lines[3].starts_with("другая-лента  ok       never                0  -"),
            "{text}"
        );
        let wide = StatusTable {
            rows: vec![table_row(error)],
            now: Utc::now(),
        }
        .render(200);
        assert!(
            wide.ends_with(
                "fetching the feed failed: [31mHTTP status 500 [0m and a long tail of words"
            ),
            "{wide}"
        );
    }
}
