//! The command line (clap): parses arguments, installs logging and signal handling, and calls
//! into the library. No business logic lives here, only argument handling and presentation.
//! Each command has its own module, as mini-redis has `cmd/`; this one holds the argument
//! definitions, `main`, and what the commands share (output, logging, config and store).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, Config};
use crate::store::Store;

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

mod alerts;
mod check;
mod eval;
mod extract;
mod feeds;
mod feeds_add;
mod feeds_opml;
mod once;
mod progress;
mod run;
mod source;
mod store;
mod test;
mod train;
mod watchlist;

use source::{article_from_source, read_source};

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
    /// Log lines for people (text) or for log collectors (json, one object per line)
    #[arg(
        long,
        global = true,
        value_enum,
        env = "FEEDWATCH_LOG_FORMAT",
        default_value_t = LogFormat::Text
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
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
    /// Feed health, subscribing (add, OPML import and export), and what feedwatch makes of one feed
    Feeds {
        #[command(subcommand)]
        command: FeedsCommand,
    },
    /// The store itself: copy its state between SQLite and PostgreSQL
    Store {
        #[command(subcommand)]
        command: StoreCommand,
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
        /// Passes over the data (30: chosen by 4-fold cross-validation on train, see --cv)
        #[arg(long, default_value_t = 30)]
        epochs: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// log2 of the number of hashed feature buckets
        #[arg(long, default_value_t = 20)]
        bits: u32,
        #[arg(long, default_value = "models/gazetteer-places.txt")]
        places: PathBuf,
        #[arg(long, default_value = "models/gazetteer-orgs.txt")]
        orgs: PathBuf,
        /// Given names and surnames (empty path: none)
        #[arg(long, default_value = "models/gazetteer-persons.txt")]
        persons: PathBuf,
        /// English word clusters (empty path: none)
        #[arg(long, default_value = "models/word-clusters.txt")]
        clusters: PathBuf,
        /// Features seen fewer times than this in the training data get no weight
        #[arg(long, default_value_t = 1)]
        min_count: u32,
        /// Probability of hiding a token's word-identity features in a training pass
        #[arg(long, default_value_t = 0.25)]
        lex_dropout: f32,
        /// K-fold cross-validation on the training data (by document, contiguous blocks):
        /// prints the pooled F1 after every epoch and writes no model
        #[arg(long)]
        cv: Option<usize>,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Copy every feed's state, item, alert and delivery from one store to another (stop the
    /// daemons on the source first)
    Migrate(store::MigrateArgs),
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
    /// Add the feeds of an OPML file (from Feedly, Inoreader, Miniflux…) to a watchlist:
    /// folders become tags, feeds already configured are skipped
    Import(feeds_opml::ImportArgs),
    /// Write every configured feed as OPML 2.0, tags as folders
    Export(feeds_opml::ExportArgs),
    /// Subscribe to a feed, or to the feed a web page links to
    Add(feeds_add::AddArgs),
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
        /// The file's language, which picks the model (Russian: slovnet; English: the
        /// perceptron); detected from the file's words when not given
        #[arg(long, value_enum)]
        lang: Option<NerLang>,
        /// Score only half of the file's documents, split by position: `a` the 1st, 3rd, 5th…,
        /// `b` the 2nd, 4th, … (rules are chosen on one half and checked on the other)
        #[arg(long, value_enum)]
        half: Option<Half>,
        /// Russian: the spans to score. `names` (default): what feedwatch itself finds in an
        /// article; `factru`: with factRuEval's descriptors ("правительство США", "партии
        /// «Яблоко»"), as that corpus annotates them; `raw`: slovnet's own tags
        #[arg(long, value_enum, default_value_t = Spans::Names)]
        spans: Spans,
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

/// The languages `eval ner` can score, each through the model the daemon uses for it.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum NerLang {
    Ru,
    En,
    /// Ukrainian: the Russian model, its words mapped as the daemon maps them
    Uk,
}

/// Which Russian spans `eval ner` scores (see `entities::russian::Style`).
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum Spans {
    Names,
    Factru,
    Raw,
}

/// Half of a CoNLL file's documents for `eval ner --half` (see [`eval::half`]).
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum Half {
    A,
    B,
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
    install_logging(cli.log_format);
    let result = match cli.command {
        Command::Check => check::check(&config::locate(cli.config.as_deref())),
        Command::Run => block_on(run::run(cli.config.as_deref())),
        Command::Once { deliver } => block_on(once::once(cli.config.as_deref(), deliver)),
        Command::Test {
            topic,
            query,
            source,
            format,
        } => block_on(test::test(
            cli.config.as_deref(),
            topic,
            query,
            &source,
            format,
        )),
        Command::Extract {
            sources,
            out_dir,
            format,
        } => block_on(extract::extract_pages(&sources, out_dir.as_deref(), format)),
        Command::Alerts { command } => block_on(alerts::alerts(cli.config.as_deref(), command)),
        Command::Store {
            command: StoreCommand::Migrate(args),
        } => block_on(store::migrate(args)),
        Command::Feeds {
            command: FeedsCommand::Status { format },
        } => block_on(feeds::feeds_status(cli.config.as_deref(), format)),
        Command::Feeds {
            command: FeedsCommand::Resume { feeds },
        } => block_on(feeds::feeds_resume(cli.config.as_deref(), feeds)),
        Command::Feeds {
            command: FeedsCommand::Parse { source, format },
        } => block_on(feeds::feeds_parse(&source, format)),
        Command::Feeds {
            command: FeedsCommand::Import(args),
        } => block_on(feeds_opml::import(cli.config.as_deref(), args)),
        Command::Feeds {
            command: FeedsCommand::Export(args),
        } => feeds_opml::export(cli.config.as_deref(), args),
        Command::Feeds {
            command: FeedsCommand::Add(args),
        } => block_on(feeds_add::add(cli.config.as_deref(), args)),
        Command::Eval {
            command:
                EvalCommand::Ner {
                    file,
                    predictions,
                    lang,
                    half,
                    spans,
                },
        } => eval::eval_ner(&file, predictions.as_deref(), lang, half, spans),
        Command::Eval {
            command: EvalCommand::Feeds { dir },
        } => eval::eval_feeds(&dir),
        Command::Eval {
            command:
                EvalCommand::Extraction {
                    dir,
                    predictions,
                    reps,
                    memory,
                    pages,
                },
        } => eval::eval_extraction(&dir, predictions.as_deref(), reps, memory, pages),
        Command::TrainNer {
            data,
            out,
            valid,
            epochs,
            seed,
            bits,
            places,
            orgs,
            persons,
            clusters,
            min_count,
            lex_dropout,
            cv,
        } => train::train_ner(
            &data,
            &out,
            valid.as_deref(),
            cv,
            train::Knobs {
                epochs,
                seed,
                bits,
                min_count,
                lex_dropout,
            },
            [&places, &orgs, &persons, &clusters],
        ),
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
            errln!("error: {}", error_chain(&err));
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
fn install_logging(format: LogFormat) {
    let filter = std::env::var("FEEDWATCH_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        // html5ever reports every malformed page it repairs; that is routine, not news.
        .unwrap_or_else(|_| "info,html5ever=error".to_string());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        // A closed stderr (`… 2>&1 | head`) must not turn each log line into a complaint on
        // that same stderr, which would panic.
        .log_internal_errors(false);
    match format {
        // Colour only for a terminal; journald and log files get plain text.
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // One JSON object per line, its fields at the top level, for log collectors.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
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

pub(super) async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.daemon.store)
        .await
        .with_context(|| format!("cannot open the store {}", config.daemon.store.shown()))
}

/// The error and its causes, joined as anyhow's `{:#}` joins them, less each cause whose text is
/// already shown: errors that print their source in their own message (ours wrap sqlx's as
/// `database error: {0}`, and sqlx wraps the I/O error so) would otherwise repeat the same words
/// two or three times on one line.
pub(super) fn error_chain(err: &anyhow::Error) -> String {
    let mut shown = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if shown.contains(&text) {
            continue;
        }
        if !shown.is_empty() {
            shown.push_str(": ");
        }
        shown.push_str(&text);
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_in_the_message_is_shown_once() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err = anyhow::Error::from(crate::store::StoreError::from(sqlx::Error::Io(refused)))
            .context("cannot open the store postgres://db");
        assert_eq!(
            error_chain(&err),
            "cannot open the store postgres://db: database error: \
             error communicating with database: connection refused"
        );
        // A cause its message does not name is still shown.
        let err = anyhow::anyhow!("timed out").context("feed example");
        assert_eq!(error_chain(&err), "feed example: timed out");
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
