//! Config reload: notices that the operator changed the config — SIGHUP, or the main file or a
//! watchlist edited, added or removed — loads the new config in full (every file, every query)
//! and hands it on only if it is valid. A bad one is logged with its located errors and the
//! running config stays, so a typo never takes the daemon down.
//!
//! Files are watched by polling their modification stamps rather than with inotify: editors
//! save by writing a new file and renaming it over the old one, which silently ends an inotify
//! watch, and a few `stat` calls every couple of seconds cost nothing. A change is acted on
//! once the stamps have held still for a moment, so a file caught half-written is not loaded.
//! What a new config means for feeds, topics and webhooks is the scheduler's and the outbox's
//! business.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};

/// How often the config's files are looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);
/// How long a change must hold still before it is loaded.
const SETTLE: Duration = Duration::from_millis(300);

/// The files a config is read from, with each one's modification time and length (`None` for
/// a file that is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamps(Vec<(PathBuf, Option<(SystemTime, u64)>)>);

impl Stamps {
    fn of(config: &Config) -> Self {
        let mut files = vec![config.path.clone()];
        files.extend(config::watchlist_files(&config.watchlist_patterns));
        // A watchlist that stopped matching (deleted, renamed) is a change too.
        for file in &config.files {
            if !files.contains(file) {
                files.push(file.clone());
            }
        }
        Stamps(
            files
                .into_iter()
                .map(|file| {
                    let stamp = std::fs::metadata(&file)
                        .ok()
                        .and_then(|meta| Some((meta.modified().ok()?, meta.len())));
                    (file, stamp)
                })
                .collect(),
        )
    }
}

/// What changed between two configs, for the log.
pub fn describe_change(old: &Config, new: &Config) -> String {
    fn names<'a>(items: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
        items.map(String::as_str).collect()
    }
    let mut parts = Vec::new();
    let mut diff = |kind: &str, old: Vec<&str>, new: Vec<&str>| {
        let added: Vec<&str> = new.iter().filter(|n| !old.contains(n)).copied().collect();
        let removed: Vec<&str> = old.iter().filter(|n| !new.contains(n)).copied().collect();
        if !added.is_empty() {
            parts.push(format!("{kind} added: {}", added.join(", ")));
        }
        if !removed.is_empty() {
            parts.push(format!("{kind} removed: {}", removed.join(", ")));
        }
    };
    diff(
        "feeds",
        names(old.feeds.iter().map(|f| &f.name)),
        names(new.feeds.iter().map(|f| &f.name)),
    );
    diff(
        "topics",
        names(old.topics.iter().map(|t| &t.name)),
        names(new.topics.iter().map(|t| &t.name)),
    );
    diff(
        "webhooks",
        names(old.webhooks.iter().map(|w| &w.name)),
        names(new.webhooks.iter().map(|w| &w.name)),
    );
    if parts.is_empty() {
        "no feed, topic or webhook added or removed".to_string()
    } else {
        parts.join("; ")
    }
}

/// The `[daemon]` settings a reload cannot change, because what they size or open was set up
/// at the start; named in a warning so the operator knows to restart.
fn needs_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    let (a, b) = (&old.daemon, &new.daemon);
    let mut keys = Vec::new();
    if a.store != b.store {
        keys.push("store");
    }
    if a.listen != b.listen {
        keys.push("listen");
    }
    if a.max_concurrent_fetches != b.max_concurrent_fetches {
        keys.push("max_concurrent_fetches");
    }
    if a.max_concurrent_article_fetches != b.max_concurrent_article_fetches {
        keys.push("max_concurrent_article_fetches");
    }
    if a.per_host_concurrency != b.per_host_concurrency {
        keys.push("per_host_concurrency");
    }
    if a.per_host_spacing != b.per_host_spacing {
        keys.push("per_host_spacing");
    }
    keys
}

/// Why a reload was tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Signal,
    FileChange,
}

/// Loads the config at `path` again whenever SIGHUP arrives or its files change, and sends
/// each valid new config on `configs`, until `shutdown`. `current` is the config running now.
pub async fn watch_config(
    current: Arc<Config>,
    configs: watch::Sender<Arc<Config>>,
    shutdown: CancellationToken,
) {
    let path = current.path.clone();
    let mut current = current;
    let mut seen = Stamps::of(&current);
    let mut hangup = hangup_signal();
    loop {
        let trigger = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = next_hangup(&mut hangup) => Trigger::Signal,
            _ = tokio::time::sleep(CHECK_EVERY) => {
                let now = Stamps::of(&current);
                if now == seen {
                    continue;
                }
                tokio::time::sleep(SETTLE).await;
                if Stamps::of(&current) != now {
                    continue;
                }
                Trigger::FileChange
            }
        };
        seen = Stamps::of(&current);
        match config::load(&path) {
            Ok(new) => {
                let new = Arc::new(new);
                for warning in &new.warnings {
                    tracing::warn!("{warning}");
                }
                let restart = needs_restart(&current, &new);
                if !restart.is_empty() {
                    tracing::warn!(keys = %restart.join(", "),
                        "these [daemon] settings take effect only after a restart");
                }
                tracing::info!(?trigger, "config reloaded; applying it");
                metrics::counter!(crate::metrics::CONFIG_RELOADS, "result" => "ok").increment(1);
                seen = Stamps::of(&new);
                current = new.clone();
                if configs.send(new).is_err() {
                    return;
                }
            }
            Err(errors) => {
                metrics::counter!(crate::metrics::CONFIG_RELOADS, "result" => "error").increment(1);
                tracing::error!(
                    ?trigger,
                    "config reload failed; the running config stays in force:\n{errors}"
                );
            }
        }
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = ();

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangup {}

#[cfg(unix)]
async fn next_hangup(hangup: &mut Hangup) {
    match hangup {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangup) {
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(dir: &std::path::Path, main: &str, watchlist: &str) -> Config {
        std::fs::create_dir_all(dir.join("watchlists")).unwrap();
        std::fs::write(dir.join("feedwatch.toml"), main).unwrap();
        std::fs::write(dir.join("watchlists/a.toml"), watchlist).unwrap();
        config::load_with_env(&dir.join("feedwatch.toml"), &|_| None).unwrap()
    }

    #[test]
    fn stamps_change_when_a_watchlist_is_edited_added_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        let config = load(
            dir.path(),
            "[daemon]\nstore = \"sqlite://x.db\"\n",
            "[[topic]]\nname = \"t\"\nquery = \"a\"\n",
        );
        let before = Stamps::of(&config);
        assert_eq!(Stamps::of(&config), before);
        std::fs::write(
            dir.path().join("watchlists/a.toml"),
            "[[topic]]\nname = \"t\"\nquery = \"ab\"\n",
        )
        .unwrap();
        let edited = Stamps::of(&config);
        assert_ne!(edited, before);
        std::fs::write(dir.path().join("watchlists/b.toml"), "").unwrap();
        let added = Stamps::of(&config);
        assert_ne!(added, edited);
        std::fs::remove_file(dir.path().join("watchlists/a.toml")).unwrap();
        assert_ne!(Stamps::of(&config), added);
    }

    #[test]
    fn the_change_is_described_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let old = load(
            dir.path(),
            "[daemon]\nstore = \"sqlite://x.db\"\n",
            "[[topic]]\nname = \"t\"\nquery = \"a\"\n",
        );
        let new = load(
            dir.path(),
            "[daemon]\nstore = \"sqlite://x.db\"\nlisten = \"127.0.0.1:1\"\n",
            "[[topic]]\nname = \"u\"\nquery = \"a\"\n",
        );
        assert_eq!(
            describe_change(&old, &new),
            "topics added: u; topics removed: t"
        );
        assert_eq!(needs_restart(&old, &new), vec!["listen"]);
    }
}
