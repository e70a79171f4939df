//! `feedwatch run`: the daemon, until SIGTERM or Ctrl-C.

use std::path::Path;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::scheduler;

use super::*;

pub(super) async fn run(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    // Listening before anything slow (opening a PostgreSQL store, its migrations), so that a
    // stop during the start is a clean exit, not death by the signal's default action.
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(listen_for_stop(), shutdown.clone()));
    let config = load_config(config_path)?;
    let store = tokio::select! {
        _ = shutdown.cancelled() => return Ok(ExitCode::SUCCESS),
        store = open_store(&config) => store?,
    };
    scheduler::run(config, store, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

/// The SIGTERM stream, registered at once (where the platform has one).
#[cfg(unix)]
fn listen_for_stop() -> Option<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::terminate()).ok()
}

#[cfg(not(unix))]
fn listen_for_stop() -> Option<()> {
    None
}

/// Cancels `shutdown` on SIGTERM (`term`, when it could be registered) or Ctrl-C.
#[cfg(unix)]
async fn cancel_on_signal(term: Option<tokio::signal::unix::Signal>, shutdown: CancellationToken) {
    match term {
        Some(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    shutdown.cancel();
}

#[cfg(not(unix))]
async fn cancel_on_signal(_term: Option<()>, shutdown: CancellationToken) {
    let _ = tokio::signal::ctrl_c().await;
    shutdown.cancel();
}
