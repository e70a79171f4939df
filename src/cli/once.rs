//! `feedwatch once`: one polling round, its alerts printed as JSON lines and queued (or, with
//! `--deliver`, sent) for their webhooks.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::alerts::outbox::Outbox;
use crate::pipeline::{Pipeline, PollError};
use crate::scheduler;
use futures_util::StreamExt;

use super::progress::Progress;
use super::*;

pub(super) async fn once(config_path: Option<&Path>, deliver: bool) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    store.register_feeds(&config.feed_urls()).await?;
    let wake = Arc::new(Notify::new());
    let pipeline = Pipeline::new(config.clone(), store.clone(), wake.clone())?;
    store
        .register_instance(pipeline.instance(), chrono::Utc::now())
        .await?;
    let alive = CancellationToken::new();
    // Also recovers the polls of processes that died, before this round polls their feeds.
    let (_, pipelines) = tokio::sync::watch::channel(pipeline.clone());
    let heartbeat = tokio::spawn(scheduler::keep_alive(pipelines, alive.clone(), None));
    let progress = Progress::bar(config.feeds.len() as u64, "feeds polled");
    let polls = config.feeds.iter().map(|feed| {
        let pipeline = pipeline.clone();
        let progress = &progress;
        async move {
            // Items whose article page is due for another try come along with the round.
            let mut polled = pipeline.poll(feed).await;
            match pipeline.retry_pending_items(feed).await {
                Ok(alerts) => {
                    if let Ok(report) = &mut polled {
                        report.alerts.extend(alerts);
                    }
                }
                Err(err) => progress.note(format_args!(
                    "{}: {}",
                    feed.name,
                    feed.scrub(&err.to_string())
                )),
            }
            progress.step(feed.name.as_str());
            (feed, polled)
        }
    });
    let results: Vec<_> = futures_util::stream::iter(polls)
        .buffer_unordered(config.feeds.len().max(1))
        .collect()
        .await;
    drop(progress);
    alive.cancel();
    let _ = heartbeat.await;
    store.retire_instance(pipeline.instance()).await?;
    let mut failed = 0;
    let mut stdout = std::io::stdout().lock();
    // The alerts are recorded whatever becomes of stdout: a reader that has gone
    // (`feedwatch once | head -1`) only ends the printing, and the round (and --deliver) goes on.
    let mut printing = true;
    for (feed, result) in results {
        match result {
            Ok(report) => {
                for alert in &report.alerts {
                    if !printing {
                        break;
                    }
                    match writeln!(stdout, "{}", serde_json::to_string(alert)?) {
                        Ok(()) => {}
                        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {
                            printing = false;
                        }
                        Err(err) => return Err(err.into()),
                    }
                }
                if report.marked_seen {
                    errln!(
                        "{}: first poll, {} items marked seen (first_poll = \"mark-seen\")",
                        feed.name,
                        report.new_items
                    );
                }
            }
            Err(PollError::InProgress) => errln!(
                "{}: skipped: another process (a running daemon?) is polling it",
                feed.name
            ),
            Err(err) => {
                failed += 1;
                errln!("{}: {}", feed.name, feed.scrub(&err.to_string()));
            }
        }
    }
    drop(stdout);
    if deliver {
        let outbox = Outbox::new(&config, store.clone(), wake)?.without_stdout_echo();
        outbox.register_webhooks().await?;
        outbox.drain().await?;
    }
    store.close().await;
    Ok(if failed > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
