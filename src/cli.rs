//! The command line (clap): parses arguments, installs logging and signal handling, and calls
//! into the library. No business logic lives here, only argument handling and presentation.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::alerts::outbox::Outbox;
use crate::alerts::payload::timestamp;
use crate::article::{self, Article};
use crate::config::{self, Config};
use crate::entities::train::train_with_progress;
use crate::entities::{Model, SHIPPED_MODEL, TrainOptions, conll, shipped_recognizer};
use crate::extract;
use crate::feeds::FeedItem;
use crate::fetch::{FetchOutcome, Fetcher, Trust, Validators, Want};
use crate::pipeline::{Pipeline, PollError};
use crate::scheduler;
use crate::store::{DeliveryFilter, DeliveryStatus, Sink, Store};
use crate::topics::{self, Query};
use futures_util::StreamExt;

// Output. Commands write results to stdout through `out!`/`outln!`, which return the write's
// `io::Result` instead of panicking as `print!` does when the reader has gone
// (`feedwatch feeds parse FILE | head`). A closed pipe comes back as `ErrorKind::BrokenPipe`,
// which `main` turns into a quiet exit with status 141, as for a process ended by SIGPIPE.
// SIGPIPE itself stays ignored (Rust's default), so the daemon never dies of a closed socket;
// on Linux the standard library also sends with MSG_NOSIGNAL. Diagnostics go to stderr through
// `errln!`, which drops what cannot be written rather than panicking.

/// `print!` to stdout, returning the `io::Result`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `println!` to stdout, returning the `io::Result`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `eprintln!` that never panics: a message that cannot be written is dropped.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// The exit status of a command whose output was cut off by its reader: 128 + SIGPIPE, what a
/// shell reports for `yes | head -1`.
const BROKEN_PIPE_STATUS: u8 = 141;

/// Whether `err` is, or was caused by, writing to a pipe whose reader has gone.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[derive(Parser)]
#[command(
    name = "feedwatch",
    version,
    about = "Watches news feeds and alerts webhooks when an article matches your topics"
)]
struct Cli {
    /// Config file [default: $FEEDWATCH_CONFIG, ./feedwatch.toml, config/feedwatch.toml]
    #[arg(short, long, global = true, value_name = "CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: poll feeds, match topics, deliver alerts (stop with Ctrl-C or SIGTERM)
    Run,
    /// Validate the config and every query; exit 1 with located errors
    Check,
    /// One polling round; alerts are printed as JSON lines
    Once {
        /// Also deliver the alerts to their webhooks (or stdout/alerts.jsonl) before exiting
        #[arg(long)]
        deliver: bool,
    },
    /// Run extraction and matching on a URL, a file (HTML or plain text) or - (stdin)
    Test {
        /// A topic of the config
        #[arg(long, conflicts_with = "query", required_unless_present = "query")]
        topic: Option<String>,
        /// An ad-hoc query
        #[arg(long)]
        query: Option<String>,
        /// A URL, a file (HTML, or plain text whose first line is the title), or - for stdin
        source: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Extract article text (and metadata with --format json) from pages
    Extract {
        /// URLs or HTML files
        #[arg(required = true)]
        sources: Vec<String>,
        /// Write DIR/X.txt for each X/page.html or X.html instead of printing
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// The outbox: list, show, retry and replay alert deliveries
    Alerts {
        #[command(subcommand)]
        command: AlertsCommand,
    },
    /// Feed health, and what feedwatch makes of one feed
    Feeds {
        #[command(subcommand)]
        command: FeedsCommand,
    },
    /// Quality and speed on a labelled set
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Train the entity model from CoNLL-2003-style data (reproduces models/ner.bin)
    TrainNer {
        /// Training data: one token per line, the BIO tag in the last column
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value = "models/ner.bin")]
        out: PathBuf,
        /// Prints the F1 on this file after every epoch
        #[arg(long)]
        valid: Option<PathBuf>,
        #[arg(long, default_value_t = 25)]
        epochs: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value = "models/gazetteer-places.txt")]
        places: PathBuf,
        #[arg(long, default_value = "models/gazetteer-orgs.txt")]
        orgs: PathBuf,
    },
}

#[derive(Subcommand)]
enum FeedsCommand {
    /// Each feed's last success, last error and consecutive failures
    Status {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Poll quarantined or stopped (410) feeds again, from their next round
    Resume {
        #[arg(required = true, value_name = "FEED")]
        feeds: Vec<String>,
    },
    /// Parse one feed (a file or a URL) with the daemon's charset handling and show its items
    Parse {
        source: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Mean token F1 (as score_extraction.py) and ms/page on DIR/<id>/{page.html,truth.txt},
    /// with plain dom_smoothie measured in the same run
    Extraction {
        dir: PathBuf,
        /// Write each page's extracted text to OUT/<id>.txt
        #[arg(long, value_name = "OUT")]
        predictions: Option<PathBuf>,
        /// Timed repetitions per page (the minimum is kept)
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Feed the pages of each host through the site-template memory, in id order
        #[arg(long)]
        memory: bool,
        /// Print every page's scores, worst first
        #[arg(long)]
        pages: bool,
    },
    /// The feed reader on a corpus of DIR/NAME.{xml,json,…} + DIR/NAME.expected.json: % parsed,
    /// % expected titles and summaries right, and every mismatch
    Feeds { dir: PathBuf },
    /// Entity precision/recall/F1 per type and tokens/s on a CoNLL file (as score_ner.py)
    Ner {
        file: PathBuf,
        /// Write the tokens with the predicted BIO tag as a last column
        #[arg(long, value_name = "OUT")]
        predictions: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AlertsCommand {
    /// List deliveries from the outbox, newest first
    List {
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// A webhook name, or @stdout
        #[arg(long)]
        webhook: Option<String>,
        #[arg(long)]
        topic: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show one alert's payload and its deliveries
    Show { id: String },
    /// Send failed and dead deliveries again now (those waiting for a digest window or a
    /// Retry-After keep waiting); given alert ids, every undelivered delivery of those alerts;
    /// with --webhook, only that webhook's, and it is re-enabled if 410 Gone disabled it
    Retry {
        ids: Vec<String>,
        #[arg(long)]
        webhook: Option<String>,
    },
    /// Queue the alerts created since a time for a webhook, even if delivered before
    Replay {
        #[arg(long)]
        webhook: String,
        /// A duration back from now ("2h", "3days") or an RFC 3339 time
        #[arg(long)]
        since: String,
        #[arg(long)]
        topic: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum StatusArg {
    Pending,
    Failed,
    Dead,
    Delivered,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    install_logging();
    let result = match cli.command {
        Command::Check => check(&config::locate(cli.config.as_deref())),
        Command::Run => block_on(run(cli.config.as_deref())),
        Command::Once { deliver } => block_on(once(cli.config.as_deref(), deliver)),
        Command::Test {
            topic,
            query,
            source,
            format,
        } => block_on(test(cli.config.as_deref(), topic, query, &source, format)),
        Command::Extract {
            sources,
            out_dir,
            format,
        } => block_on(extract_pages(&sources, out_dir.as_deref(), format)),
        Command::Alerts { command } => block_on(alerts(cli.config.as_deref(), command)),
        Command::Feeds {
            command: FeedsCommand::Status { format },
        } => block_on(feeds_status(cli.config.as_deref(), format)),
        Command::Feeds {
            command: FeedsCommand::Resume { feeds },
        } => block_on(feeds_resume(cli.config.as_deref(), feeds)),
        Command::Feeds {
            command: FeedsCommand::Parse { source, format },
        } => block_on(feeds_parse(&source, format)),
        Command::Eval {
            command: EvalCommand::Ner { file, predictions },
        } => eval_ner(&file, predictions.as_deref()),
        Command::Eval {
            command: EvalCommand::Feeds { dir },
        } => eval_feeds(&dir),
        Command::Eval {
            command:
                EvalCommand::Extraction {
                    dir,
                    predictions,
                    reps,
                    memory,
                    pages,
                },
        } => eval_extraction(&dir, predictions.as_deref(), reps, memory, pages),
        Command::TrainNer {
            data,
            out,
            valid,
            epochs,
            seed,
            places,
            orgs,
        } => train_ner(&data, &out, valid.as_deref(), epochs, seed, &places, &orgs),
    };
    // What is still buffered must reach the reader too. A reader that has gone by now was
    // already met by the command (`once` prints on without it), which then chose its status.
    let result = result.and_then(|code| match std::io::stdout().flush() {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(code),
    });
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::from(BROKEN_PIPE_STATUS),
        Err(err) => {
            errln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command's future on a fresh runtime. Blocking work still running when it is done
/// (a DNS lookup, say) gets a moment, then is left behind: it must not hold the exit up.
fn block_on(
    future: impl std::future::Future<Output = anyhow::Result<ExitCode>>,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(future);
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// Logs go to stderr, so stdout stays clean for alert JSON lines. `FEEDWATCH_LOG` (or
/// `RUST_LOG`) sets the filter, e.g. `FEEDWATCH_LOG=feedwatch=debug`.
fn install_logging() {
    let filter = std::env::var("FEEDWATCH_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        // html5ever reports every malformed page it repairs; that is routine, not news.
        .unwrap_or_else(|_| "info,html5ever=error".to_string());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        // A closed stderr (`… 2>&1 | head`) must not turn each log line into a complaint on
        // that same stderr, which would panic.
        .log_internal_errors(false)
        // Colour only for a terminal; journald and log files get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn load_config(path: Option<&Path>) -> anyhow::Result<Arc<Config>> {
    let path = config::locate(path);
    match config::load(&path) {
        Ok(config) => Ok(Arc::new(config)),
        Err(errors) => bail!(
            "{errors}\n(run `feedwatch check -c {}` after fixing)",
            path.display()
        ),
    }
}

fn check(path: &Path) -> anyhow::Result<ExitCode> {
    match config::load(path) {
        Ok(config) => {
            for warning in &config.warnings {
                errln!("{warning}");
            }
            // Compile the matcher as the daemon would, so its cost shows here too.
            let compiled = topics::TopicSet::new(
                config
                    .topics
                    .iter()
                    .map(|t| (t.name.clone(), t.query.clone()))
                    .collect(),
            );
            drop(compiled);
            outln!(
                "{}: ok ({} feeds, {} topics, {} webhooks, {} entities)",
                path.display(),
                config.feeds.len(),
                config.topics.len(),
                config.webhooks.len(),
                config.entities.len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            errln!("{errors}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let config::StoreLocation::Sqlite(path) = &config.daemon.store;
    Store::open_sqlite(path)
        .await
        .with_context(|| format!("cannot open the store {}", path.display()))
}

async fn run(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    scheduler::run(config, store, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    shutdown.cancel();
}

async fn once(config_path: Option<&Path>, deliver: bool) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    for feed in &config.feeds {
        store.register_feed(&feed.name, feed.url.as_str()).await?;
    }
    let wake = Arc::new(Notify::new());
    let pipeline = Pipeline::new(config.clone(), store.clone(), wake.clone())?;
    store
        .register_instance(pipeline.instance(), chrono::Utc::now())
        .await?;
    let alive = CancellationToken::new();
    // Also recovers the polls of processes that died, before this round polls their feeds.
    let heartbeat = tokio::spawn(scheduler::keep_alive(pipeline.clone(), alive.clone()));
    let polls = config.feeds.iter().map(|feed| {
        let pipeline = pipeline.clone();
        async move {
            // Items whose article page is due for another try come along with the round.
            let mut polled = pipeline.poll(feed).await;
            match pipeline.retry_pending_items(feed).await {
                Ok(alerts) => {
                    if let Ok(report) = &mut polled {
                        report.alerts.extend(alerts);
                    }
                }
                Err(err) => errln!("{}: {}", feed.name, feed.scrub(&err.to_string())),
            }
            (feed, polled)
        }
    });
    let results: Vec<_> = futures_util::stream::iter(polls)
        .buffer_unordered(config.feeds.len().max(1))
        .collect()
        .await;
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

/// Reads a SOURCE argument: `-` (stdin), an http(s) URL, or a file.
async fn read_source(source: &str) -> anyhow::Result<(Vec<u8>, Option<String>, Option<String>)> {
    if source == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes)?;
        return Ok((bytes, None, None));
    }
    if source.starts_with("http://") || source.starts_with("https://") {
        let url = url::Url::parse(source).with_context(|| format!("invalid URL {source}"))?;
        let fetcher = Fetcher::new(&config::default_daemon())?;
        // A URL typed by the operator is trusted like a configured feed.
        return match fetcher
            .get(
                &url,
                &Validators::default(),
                &Trust::operator(&url),
                Want::Feed,
            )
            .await?
        {
            FetchOutcome::Fetched(page) => Ok((
                page.body,
                Some(page.final_url.to_string()),
                page.content_type,
            )),
            FetchOutcome::NotModified { .. } => bail!("{source}: unexpected 304 Not Modified"),
        };
    }
    let bytes = std::fs::read(source).with_context(|| format!("cannot read {source}"))?;
    Ok((bytes, None, None))
}

fn looks_like_html(bytes: &[u8], content_type: Option<&str>) -> bool {
    if let Some(ct) = content_type {
        return ct.contains("html");
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).to_ascii_lowercase();
    head.contains("<html")
        || head.contains("<!doctype html")
        || head.contains("<body")
        || head.contains("<p>")
}

/// An article from a SOURCE: extracted from HTML, or from plain text whose first non-empty
/// line is the title.
fn article_from_source(
    bytes: &[u8],
    url: Option<&str>,
    content_type: Option<&str>,
) -> anyhow::Result<Article> {
    let feed_url = url::Url::parse(url.unwrap_or("http://localhost/")).context("invalid URL")?;
    let feed = config::FeedSpec {
        name: "test".into(),
        shown_url: crate::fetch::redacted(&feed_url),
        url: feed_url,
        url_secrets: Vec::new(),
        interval: std::time::Duration::from_secs(600),
        full_text: true,
        tags: vec![],
        origin: config::Location {
            file: PathBuf::new(),
            line: 0,
            column: 0,
        },
    };
    if looks_like_html(bytes, content_type) {
        let page = extract::extract(bytes, url, content_type)?;
        let item = FeedItem {
            key: crate::feeds::ItemKey::from_stored(String::new()),
            title: page.title.clone(),
            link: url.map(str::to_string),
            summary: page.description.clone(),
            content: None,
            published: page.published,
            authors: page.authors.clone(),
        };
        Ok(Article::from_item(&feed, &item, Some(page)))
    } else {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_start();
        let (title, body) = text.split_once('\n').unwrap_or((text, ""));
        let item = FeedItem {
            key: crate::feeds::ItemKey::from_stored(String::new()),
            title: title.trim().to_string(),
            link: url.map(str::to_string),
            summary: None,
            content: Some(body.trim().to_string()),
            published: None,
            authors: vec![],
        };
        Ok(Article::from_item(&feed, &item, None))
    }
}

async fn test(
    config_path: Option<&Path>,
    topic: Option<String>,
    query: Option<String>,
    source: &str,
    format: Format,
) -> anyhow::Result<ExitCode> {
    // Declared entities come from the config when there is one to read: always with --topic,
    // with --query only when -c names it.
    let config = match (&topic, config_path) {
        (Some(_), _) | (None, Some(_)) => Some(load_config(config_path)?),
        (None, None) => None,
    };
    let declared = config
        .as_ref()
        .map(|c| c.entities.clone())
        .unwrap_or_default();
    let query: Query = match (topic, query) {
        (Some(name), _) => {
            let config = config.as_ref().context("a topic needs a config")?;
            let spec = config
                .topics
                .iter()
                .find(|t| t.name == name)
                .with_context(|| format!("no topic named `{name}` in {}", config.path.display()))?;
            spec.query.clone()
        }
        (None, Some(text)) => match topics::parse(&text) {
            Ok(query) => query,
            Err(err) => {
                let caret = format!(
                    "{}{}",
                    " ".repeat(text[..err.span.start.min(text.len())].chars().count()),
                    "^"
                );
                bail!(
                    "cannot parse the query: {}\n  {text}\n  {caret}",
                    err.message
                );
            }
        },
        (None, None) => bail!("give --topic NAME or --query QUERY"),
    };
    let (bytes, url, content_type) = read_source(source).await?;
    let mut article = article_from_source(&bytes, url.as_deref(), content_type.as_deref())?;
    article.recognize(&shipped_recognizer(&declared)?);
    let analyzed = article.analyze(&declared);
    let found = topics::match_query(&query, &analyzed);
    let report = topics::explain(&query, &analyzed);
    let matched = found.is_some();
    match format {
        Format::Json => {
            let clauses: Vec<_> = report
                .iter()
                .map(|c| json!({"clause": c.clause, "depth": c.depth, "matched": c.matched, "hits": c.hits}))
                .collect();
            let output = json!({
                "matched": matched,
                "score": found.as_ref().map_or(0.0, |m| m.score),
                "hits": found.as_ref().map(|m| m.matched.clone()).unwrap_or_default(),
                "clauses": clauses,
                "snippets": found.as_ref().map(|m| m.snippets.clone()).unwrap_or_default(),
                "entities": article.entity_mentions(),
                "title": article.title,
                "text": article.text,
                "lang": article.lang.map(|l| l.code().to_string()),
            });
            outln!("{}", serde_json::to_string_pretty(&output)?)?;
        }
        Format::Text => {
            outln!("title: {}", article.title)?;
            outln!(
                "text:  {} characters from the {}, language {}",
                article.text.chars().count(),
                match article.text_source {
                    article::TextSource::Page => "page",
                    article::TextSource::Feed => "plain text",
                },
                article.lang.map_or("unknown", |l| l.code())
            )?;
            outln!("query: {query}")?;
            match &found {
                Some(m) => outln!("MATCHED, score {}", m.score)?,
                None => outln!("NOT MATCHED")?,
            }
            for clause in &report {
                let mark = if clause.matched { "✓" } else { "✗" };
                let indent = "  ".repeat(clause.depth + 1);
                outln!("{indent}{mark} {}  ({} hits)", clause.clause, clause.hits)?;
            }
            for snippet in found.iter().flat_map(|m| &m.snippets) {
                outln!("  … {snippet}")?;
            }
            if !article.entities.is_empty() {
                let names: Vec<String> = article
                    .entities
                    .iter()
                    .map(|e| format!("{} ({}, {})", e.text, e.kind.as_str(), e.count))
                    .collect();
                outln!("entities: {}", names.join(", "))?;
            }
        }
    }
    Ok(if matched {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn feeds_status(config_path: Option<&Path>, format: Format) -> anyhow::Result<ExitCode> {
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

async fn feeds_resume(config_path: Option<&Path>, feeds: Vec<String>) -> anyhow::Result<ExitCode> {
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

async fn feeds_parse(source: &str, format: Format) -> anyhow::Result<ExitCode> {
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

fn eval_extraction(
    dir: &Path,
    predictions: Option<&Path>,
    reps: usize,
    memory: bool,
    pages: bool,
) -> anyhow::Result<ExitCode> {
    let config = extract::eval::EvalConfig {
        reps: reps.max(1),
        use_memory: memory,
        ..extract::eval::EvalConfig::default()
    };
    let report = extract::eval::evaluate_dir(dir, config)
        .with_context(|| format!("cannot read the data set {}", dir.display()))?;
    if let Some(out) = predictions {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        for page in &report.pages {
            let path = out.join(format!("{}.txt", page.id));
            std::fs::write(&path, &page.prediction)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    let mut sorted: Vec<_> = report.pages.iter().collect();
    sorted.sort_by(|a, b| a.ours.f1.total_cmp(&b.ours.f1));
    let shown = if pages {
        sorted.len()
    } else {
        sorted.len().min(10)
    };
    outln!("worst pages (id, F1, precision, recall, dom_smoothie F1, ms):")?;
    for page in &sorted[..shown] {
        outln!(
            "  {}  {:.4}  {:.3}  {:.3}  {:.4}  {:.2}",
            page.id,
            page.ours.f1,
            page.ours.precision,
            page.ours.recall,
            page.baseline.f1,
            page.ours_ms
        )?;
    }
    let slowest = report.pages.iter().map(|p| p.ours_ms).fold(0.0, f64::max);
    outln!(
        "feedwatch:    mean_f1={:.4} median_ms={:.3} p90_ms={:.3} max_ms={:.2}",
        report.mean_f1,
        report.median_ms,
        report.p90_ms,
        slowest
    )?;
    outln!(
        "dom_smoothie: mean_f1={:.4} median_ms={:.3} p90_ms={:.3}",
        report.baseline_mean_f1,
        report.baseline_median_ms,
        report.baseline_p90_ms
    )?;
    outln!(
        "time ratio (median feedwatch / dom_smoothie) = {:.3}",
        report.median_ms / report.baseline_median_ms.max(1e-9)
    )?;
    // Last, in the scorer's form.
    outln!("mean_f1={:.4} n={}", report.mean_f1, report.pages.len())?;
    Ok(ExitCode::SUCCESS)
}

fn eval_feeds(dir: &Path) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let report = crate::feeds::eval::evaluate_dir(dir)
        .with_context(|| format!("cannot read the feed corpus {}", dir.display()))?;
    let elapsed = started.elapsed();
    let line = |name: &str, tally: &crate::feeds::eval::Tally| {
        println!(
            "{name:<18} {:>6.1}%  ({}/{})",
            tally.percent(),
            tally.right,
            tally.total
        );
    };
    println!("files              {}", report.files);
    line("parsed", &report.parsed);
    line("garbage rejected", &report.rejected);
    line("titles right", &report.titles);
    line("summaries right", &report.summaries);
    line("other fields right", &report.other);
    println!(
        "time               {:.1} ms",
        elapsed.as_secs_f64() * 1000.0
    );
    if report.mismatches.is_empty() {
        println!("no mismatches");
    } else {
        println!("{} mismatches:", report.mismatches.len());
        for m in &report.mismatches {
            println!(
                "  {}  {}\n    expected: {}\n    got:      {}",
                m.file, m.field, m.expected, m.got
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn eval_ner(file: &Path, predictions: Option<&Path>) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let model = Model::from_bytes(SHIPPED_MODEL)?;
    let load = started.elapsed();
    let docs = conll::read_file(file).with_context(|| format!("cannot read {}", file.display()))?;
    let tokens: usize = docs
        .iter()
        .flat_map(|d| &d.sentences)
        .map(|s| s.tokens.len())
        .sum();
    let started = std::time::Instant::now();
    let (predicted, score) = conll::evaluate(&model, &docs);
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(out) = predictions {
        std::fs::write(out, conll::write(&docs, &predicted))
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    errln!(
        "{tokens} tokens in {elapsed:.2} s: {:.0} tokens/s on one core; model loaded in {} ms",
        tokens as f64 / elapsed,
        load.as_millis()
    );
    // The scorer's table, its last line `f1=… precision=… recall=…`.
    outln!("{score}")?;
    Ok(ExitCode::SUCCESS)
}

fn train_ner(
    data: &Path,
    out: &Path,
    valid: Option<&Path>,
    epochs: usize,
    seed: u64,
    places: &Path,
    orgs: &Path,
) -> anyhow::Result<ExitCode> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let options = TrainOptions {
        epochs,
        seed,
        places_gazetteer: read(places)?,
        orgs_gazetteer: read(orgs)?,
        ..TrainOptions::default()
    };
    let valid_docs = valid.map(conll::read_file).transpose()?;
    let started = std::time::Instant::now();
    let model = train_with_progress(data, &options, |epoch, model| match &valid_docs {
        Some(docs) => {
            let (_, score) = conll::evaluate(model, docs);
            errln!(
                "epoch {epoch}: valid F1 {:.4} ({:.0?})",
                score.f1(),
                started.elapsed()
            );
        }
        None => errln!("epoch {epoch} done ({:.0?})", started.elapsed()),
    })?;
    let bytes = model.to_bytes();
    std::fs::write(out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    errln!("wrote {} ({} bytes)", out.display(), bytes.len());
    Ok(ExitCode::SUCCESS)
}

fn sink_arg(config: &Config, name: &str) -> anyhow::Result<Sink> {
    if name == "@stdout" {
        return Ok(Sink::Stdout);
    }
    if !config.webhooks.iter().any(|w| w.name == name) {
        bail!("no webhook named `{name}` in {}", config.path.display());
    }
    Ok(Sink::Webhook(name.to_string()))
}

/// "2h" back from now, or an RFC 3339 time.
fn parse_since(text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
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

async fn alerts(config_path: Option<&Path>, command: AlertsCommand) -> anyhow::Result<ExitCode> {
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
            let queued = store.replay(&sink, since, topic.as_deref(), now).await?;
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

/// `X/page.html` → `X`, `X.html` → `X`, anything else → its file stem.
fn document_id(source: &str) -> String {
    let path = Path::new(source);
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("page");
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|p| p.to_str());
    if let (true, Some(parent)) = (stem == "page", parent) {
        return parent.to_string();
    }
    stem.to_string()
}

async fn extract_pages(
    sources: &[String],
    out_dir: Option<&Path>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let recognizer = match format {
        Format::Json => Some(shipped_recognizer(&[])?),
        Format::Text => None,
    };
    let mut failures = 0;
    for source in sources {
        let (bytes, url, content_type) = match read_source(source).await {
            Ok(found) => found,
            Err(err) => {
                failures += 1;
                errln!("{source}: {err:#}");
                continue;
            }
        };
        let article = match extract::extract(&bytes, url.as_deref(), content_type.as_deref()) {
            Ok(article) => article,
            Err(err) => {
                failures += 1;
                errln!("{source}: {err}");
                // An empty prediction still counts as one, so scorers see every page.
                extract::Article::default()
            }
        };
        let rendered = match format {
            Format::Text => article.text.clone(),
            Format::Json => serde_json::to_string_pretty(&json!({
                "source": source,
                "title": article.title,
                "text": article.text,
                "authors": article.authors,
                "published": article.published.map(crate::alerts::payload::timestamp),
                "modified": article.modified.map(crate::alerts::payload::timestamp),
                "lang": article.lang,
                "site_name": article.site_name,
                "canonical_url": article.canonical_url,
                "description": article.description,
                "image": article.image,
                "entities": recognizer.as_ref().map(|r| {
                    r.entities(&article.title, &article.text)
                        .into_iter()
                        .map(|e| json!({"text": e.text, "kind": e.kind.as_str(), "count": e.count}))
                        .collect::<Vec<_>>()
                }),
            }))?,
        };
        match out_dir {
            Some(dir) => {
                let extension = if format == Format::Json {
                    "json"
                } else {
                    "txt"
                };
                let path = dir.join(format!("{}.{extension}", document_id(source)));
                std::fs::write(&path, rendered)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            None => outln!("{rendered}")?,
        }
    }
    Ok(if failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_ids_follow_the_dataset_layout() {
        assert_eq!(document_id("data/aeb/abc/page.html"), "abc");
        assert_eq!(document_id("pages/xyz.html"), "xyz");
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
