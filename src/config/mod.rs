//! Configuration: finds and reads `feedwatch.toml` and its watchlists, expands `${VAR}` secrets
//! from the environment, compiles every topic query, and checks cross-references (topic → feed,
//! topic → webhook, unique names). The result is one immutable [`Config`] snapshot that the rest
//! of the program is handed; nothing else reads config files or the environment for settings.
//! Every error a user can cause is located (file, line, column) and all of them are collected,
//! so one `feedwatch check` shows every mistake.

mod error;
mod raw;

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;

use base64::Engine;
use secrecy::SecretString;
use url::Url;

pub use error::{ConfigError, ConfigErrors, Location, SourceFile};

use crate::alerts::formats::template::AlertTemplate;
use crate::topics::{self, Query};

/// Where the config is looked for when `-c` is not given.
pub const CONFIG_ENV: &str = "FEEDWATCH_CONFIG";

/// Upper bounds of the durations, sizes and counts a config may set; a value beyond one is a
/// located config error naming it. Each is generous for a demanding deployment and far enough
/// from any overflow that every later use is safe: chrono conversions and `now + duration`,
/// `Instant + Duration`, and retry and backoff multiples (the retry schedule goes to 720 times
/// `retry_initial`). config/feedwatch.toml lists them next to each key.
pub mod bounds {
    use std::time::Duration;

    const HOUR: Duration = Duration::from_secs(3600);

    /// `default_interval`, a feed's `interval`, `max_interval` and `health_threshold`.
    pub const INTERVAL: Duration = Duration::from_secs(30 * 24 * 3600);
    /// `connect_timeout`, `read_timeout`, `fetch_timeout` and a webhook's `timeout`.
    pub const TIMEOUT: Duration = HOUR;
    /// `retry_initial` (the last retries wait 720 times as long: 30 days).
    pub const RETRY_INITIAL: Duration = HOUR;
    /// `per_host_spacing`.
    pub const HOST_SPACING: Duration = HOUR;
    /// A webhook's `digest` window, and the period of its `rate_limit`.
    pub const DIGEST: Duration = Duration::from_secs(7 * 24 * 3600);
    /// A webhook's `max_age`: ten years (of 365 days).
    pub const MAX_AGE: Duration = Duration::from_secs(3650 * 24 * 3600);
    /// The count of a webhook's `rate_limit`.
    pub const RATE_COUNT: u32 = 1_000_000;
    /// `max_concurrent_fetches` and `max_concurrent_article_fetches`.
    pub const CONCURRENT_FETCHES: u64 = 4096;
    /// `per_host_concurrency`.
    pub const PER_HOST_CONCURRENCY: u64 = 256;
    /// A webhook's `concurrency`: more requests in flight to one endpoint than a host gets.
    pub const WEBHOOK_CONCURRENCY: u64 = 256;
    /// `max_body_bytes`: 1 GiB.
    pub const BODY_BYTES: u64 = 1 << 30;
    /// `max_items_per_feed`.
    pub const ITEMS_PER_FEED: u64 = 100_000;
    /// `max_article_chars`.
    pub const ARTICLE_CHARS: u64 = 10_000_000;
    /// `analysis_budget` and `shutdown_timeout`: longer would only hide a wedged process.
    pub const WORK_DEADLINE: Duration = Duration::from_secs(600);
    /// `retention`: ten years (of 365 days).
    pub const RETENTION: Duration = Duration::from_secs(3650 * 24 * 3600);
    /// `article_attempts`: past a handful, a failing page is not coming back soon.
    pub const ARTICLE_ATTEMPTS: u64 = 10;
}

/// A duration as a config would write it, in its largest whole unit: "30d", "1h", "90s".
fn short_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    if duration.subsec_nanos() != 0 || secs == 0 {
        return format!("{}ms", duration.as_millis());
    }
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// A size as people say it: "1 GiB", "16 MiB", or the bare number.
fn human_size(bytes: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    /// The `watchlists` patterns, resolved against the main file's directory: a reload looks
    /// for files added or removed under them.
    pub watchlist_patterns: Vec<String>,
    /// Every file this config was read from: the main file, then each watchlist.
    pub files: Vec<PathBuf>,
    pub daemon: Daemon,
    pub feeds: Vec<FeedSpec>,
    pub topics: Vec<TopicSpec>,
    pub webhooks: Vec<WebhookSpec>,
    pub entities: Vec<EntitySpec>,
    /// Queries that are valid but can never match or match almost everything.
    pub warnings: Vec<ConfigError>,
}

impl Config {
    /// Each feed's name and configured URL, as the store registers them.
    pub fn feed_urls(&self) -> Vec<(&str, &str)> {
        self.feeds
            .iter()
            .map(|feed| (feed.name.as_str(), feed.url.as_str()))
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Daemon {
    pub store: StoreLocation,
    /// Where `/healthz`, `/readyz` and `/metrics` are served; `None` when set to "" or "off".
    pub listen: Option<std::net::SocketAddr>,
    /// Where WebSub hubs reach `listen` from outside (a reverse proxy's address, say); the
    /// callbacks are `{public_url}/websub/{id}`. `None`: no subscriptions, every feed is polled.
    pub public_url: Option<Url>,
    /// A bearer token every endpoint but `/healthz` then requires.
    pub metrics_token: Option<SecretString>,
    pub default_interval: Duration,
    /// Fraction of the interval by which each poll is moved at random, so feeds that share a
    /// host do not fire in lockstep.
    pub jitter: f64,
    pub max_concurrent_fetches: usize,
    pub per_host_concurrency: usize,
    pub user_agent: String,
    pub first_poll: FirstPoll,
    pub allow_private: Vec<String>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub fetch_timeout: Duration,
    pub max_body_bytes: u64,
    /// The first delivery retry delay; later ones grow from it (see `alerts::outbox`).
    pub retry_initial: Duration,
    /// Minimum time between two feed requests to one host.
    pub per_host_spacing: Duration,
    /// Cap on intervals a server imposes (Cache-Control, Expires, `<ttl>`, Retry-After).
    pub max_interval: Duration,
    pub max_items_per_feed: usize,
    pub max_article_chars: usize,
    pub max_concurrent_article_fetches: usize,
    /// The webhook told when a feed has failed for `health_threshold`, and when it recovers.
    pub health_webhook: Option<String>,
    pub health_threshold: Duration,
    /// How long one article's analysis (extraction, or entities and matching) may run before
    /// the pipeline stops waiting for it and falls back to the feed's own text.
    pub analysis_budget: Duration,
    /// How long in-flight work may go on after SIGTERM before the process exits anyway.
    pub shutdown_timeout: Duration,
    /// Delivered alerts, their deliveries, unlisted items and host memory older than this are
    /// pruned (see `store::retention`).
    pub retention: Duration,
    /// A story seen again within this long (through another feed, outlet or GUID) alerts
    /// no topic twice: the copy is recorded against the first alert (see `dedupe`).
    pub duplicate_window: Duration,
    /// Tries at a new item's article page when it fails in a way that may pass (timeout,
    /// 5xx, 429) before the item falls back to its feed's text.
    pub article_attempts: u32,
    /// The wait before the second try; each later one waits five times as long.
    pub article_retry: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Sqlite(PathBuf),
    Postgres(PostgresLocation),
}

/// A PostgreSQL store: its connection URL (which may hold a password, so it is shown only
/// through [`PostgresLocation::shown`]) and the directory of the config that named it.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresLocation {
    url: String,
    directory: PathBuf,
}

impl PostgresLocation {
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL with its password masked, for messages and logs.
    pub fn shown(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("***"));
                url.to_string()
            }
            Ok(url) => url.to_string(),
            Err(_) => "postgres://…".to_string(),
        }
    }
}

impl std::fmt::Debug for PostgresLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

impl StoreLocation {
    /// Reads a store URL: `sqlite://PATH` (relative to `base`) or `postgres://…` /
    /// `postgresql://…`. The error says what is accepted.
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        if let Some(path) = text.strip_prefix("sqlite://") {
            return Ok(StoreLocation::Sqlite(base.join(path)));
        }
        let scheme = text.split("://").next().unwrap_or_default();
        if scheme == "postgres" || scheme == "postgresql" {
            return match text.parse::<sqlx::postgres::PgConnectOptions>() {
                Ok(_) => Ok(StoreLocation::Postgres(PostgresLocation {
                    url: text.to_string(),
                    directory: base.to_path_buf(),
                })),
                Err(err) => Err(format!("not a PostgreSQL URL: {err}")),
            };
        }
        Err(format!(
            "unsupported store `{scheme}`; write \"sqlite://PATH\" or \"postgres://USER@HOST/DATABASE\""
        ))
    }

    /// The directory of files kept beside the store (`alerts.jsonl`): the SQLite file's, or
    /// for PostgreSQL the config's.
    pub fn directory(&self) -> PathBuf {
        match self {
            StoreLocation::Sqlite(path) => path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
            StoreLocation::Postgres(postgres) => postgres.directory.clone(),
        }
    }

    /// The store as messages name it (a PostgreSQL password masked).
    pub fn shown(&self) -> String {
        match self {
            StoreLocation::Sqlite(path) => path.display().to_string(),
            StoreLocation::Postgres(postgres) => postgres.shown(),
        }
    }
}

/// What the first successful poll of a feed does with the items already in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstPoll {
    /// Record them as seen: a new feed does not flood the webhooks with its backlog.
    MarkSeen,
    /// Treat them as new and alert on them.
    Alert,
}

#[derive(Debug, Clone)]
pub struct FeedSpec {
    pub name: String,
    /// The URL polled, with every `${VAR}` expanded: never log or show it as it is.
    pub url: Url,
    /// The URL as logs, `feeds status` and notices show it: the config's own text when it
    /// reads `${VAR}`s (so their values stay hidden), else the URL without credentials,
    /// query or fragment.
    pub shown_url: String,
    /// The `(name, value)` of each `${VAR}` in the URL, so messages can be scrubbed of them.
    pub url_secrets: Vec<(String, String)>,
    pub interval: Duration,
    pub full_text: bool,
    pub tags: Vec<String>,
    pub origin: Location,
}

impl FeedSpec {
    /// `text` with the value of every `${VAR}` of the feed's URL replaced by `${VAR}`: for
    /// error messages and logs, which may quote a URL or a part of it.
    pub fn scrub(&self, text: &str) -> String {
        let mut scrubbed = text.to_string();
        for (name, value) in &self.url_secrets {
            if !value.is_empty() {
                scrubbed = scrubbed.replace(value.as_str(), &format!("${{{name}}}"));
            }
        }
        scrubbed
    }
}

#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    pub query: Query,
    pub notify: Vec<String>,
    /// Feed names this topic watches; `None` means every feed.
    pub feeds: Option<BTreeSet<String>>,
    pub min_score: f64,
    /// Whether a copy of an already-alerted story is held back (`dedupe`, default true).
    pub dedupe: bool,
    pub origin: Location,
}

impl TopicSpec {
    pub fn watches(&self, feed: &str) -> bool {
        self.feeds.as_ref().is_none_or(|feeds| feeds.contains(feed))
    }
}

#[derive(Debug, Clone)]
pub enum WebhookFormat {
    Json,
    Slack,
    Discord,
    Teams,
    Template(Arc<AlertTemplate>),
}

#[derive(Debug, Clone)]
pub struct WebhookSpec {
    pub name: String,
    pub format: WebhookFormat,
    /// Kept secret: chat webhook URLs are credentials.
    pub url: SecretString,
    /// Decoded Standard Webhooks signing keys (`whsec_…`); several while rotating.
    pub signing_keys: Vec<SigningKey>,
    pub headers: Vec<(String, SecretString)>,
    pub rate_limit: Option<RateLimit>,
    /// Collect a topic's alerts for this long and send them as one message.
    pub digest: Option<Duration>,
    /// How long an alert is retried before it becomes a dead letter.
    pub max_age: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Requests in flight to this webhook at most; each webhook drains on its own.
    pub concurrency: usize,
    /// A digest of every setting above (secrets and template text included), so a reload can
    /// tell a changed webhook from an unchanged one without comparing secrets in the clear.
    pub fingerprint: String,
}

impl WebhookSpec {
    fn settings_fingerprint(&self, template: Option<(&str, &str)>) -> String {
        use secrecy::ExposeSecret;
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        let mut part = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        };
        part(self.name.as_bytes());
        let format = match &self.format {
            WebhookFormat::Json => "json",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Discord => "discord",
            WebhookFormat::Teams => "teams",
            WebhookFormat::Template(_) => "template",
        };
        part(format.as_bytes());
        if let Some((source, content_type)) = template {
            part(source.as_bytes());
            part(content_type.as_bytes());
        }
        part(self.url.expose_secret().as_bytes());
        for key in &self.signing_keys {
            part(&key.0);
        }
        for (name, value) in &self.headers {
            part(name.as_bytes());
            part(value.expose_secret().as_bytes());
        }
        let settings = format!(
            "{:?}|{:?}|{:?}|{:?}|{}",
            self.rate_limit, self.digest, self.max_age, self.timeout, self.concurrency
        );
        part(settings.as_bytes());
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// At most `count` messages per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub per: Duration,
}

impl std::str::FromStr for RateLimit {
    type Err = String;

    /// Parses "30/min", "1/s", "500/h" or "10/5m".
    fn from_str(text: &str) -> Result<Self, String> {
        let (count, per) = text
            .split_once('/')
            .ok_or_else(|| "write a rate as COUNT/PERIOD, e.g. \"30/min\"".to_string())?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|c| *c > 0)
            .ok_or_else(|| format!("`{count}` is not a positive count"))?;
        if count > bounds::RATE_COUNT {
            return Err(format!(
                "the count `{count}` is too large: at most {} is allowed",
                bounds::RATE_COUNT
            ));
        }
        let per = match per.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => humantime::parse_duration(other)
                .map_err(|e| format!("bad period `{other}`: {e}"))?,
        };
        if per.is_zero() {
            return Err("the period must be longer than zero".into());
        }
        if per > bounds::DIGEST {
            return Err(format!(
                "the period is too long: at most {} is allowed",
                short_duration(bounds::DIGEST)
            ));
        }
        Ok(RateLimit { count, per })
    }
}

/// A Standard Webhooks signing key, decoded from its `whsec_<base64>` form.
#[derive(Clone)]
pub struct SigningKey(pub Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// A watchlist `[[entity]]`: matched exactly (any alias, any script) and winning over the model.
pub use crate::entities::{DeclaredEntity as EntitySpec, EntityKind};

/// Picks the config file: `-c PATH`, else `$FEEDWATCH_CONFIG`, else `./feedwatch.toml`, else
/// `config/feedwatch.toml`.
pub fn locate(explicit: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_path_buf();
    }
    if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let local = PathBuf::from("feedwatch.toml");
    if local.exists() {
        return local;
    }
    PathBuf::from("config/feedwatch.toml")
}

/// Loads and validates the config at `path`, reading `${VAR}`s from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    load_with_env(path, &|name| std::env::var(name).ok())
}

/// Loads the config with an explicit environment, so tests need not mutate the process's.
pub fn load_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let mut loader = Loader {
        env,
        errors: Vec::new(),
        warnings: Vec::new(),
        names: HashMap::new(),
    };
    let config = loader.load(path);
    match config {
        Some(mut config) if loader.errors.is_empty() => {
            config.warnings = loader.warnings;
            Ok(config)
        }
        _ => Err(ConfigErrors(loader.errors)),
    }
}

/// The files `patterns` (resolved watchlist patterns) match now, sorted and without repeats.
pub fn watchlist_files(patterns: &[String]) -> Vec<PathBuf> {
    let mut paths = BTreeSet::new();
    for pattern in patterns {
        if let Ok(entries) = glob::glob(pattern) {
            paths.extend(entries.flatten());
        }
    }
    paths.into_iter().collect()
}

/// The `[daemon]` settings of a config that sets none of them (used where no config file is
/// needed, e.g. `feedwatch test --query` on a URL).
pub fn default_daemon() -> Daemon {
    let mut loader = Loader {
        env: &|_| None,
        errors: Vec::new(),
        warnings: Vec::new(),
        names: HashMap::new(),
    };
    let empty = SourceFile::new(Path::new(""), String::new());
    loader.daemon(&empty, Path::new("."), &raw::DaemonTable::default())
}

struct Loader<'e> {
    env: &'e dyn Fn(&str) -> Option<String>,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigError>,
    /// (kind, name) → where it was first defined, for duplicate detection across files.
    names: HashMap<(&'static str, String), Location>,
}

/// Topics are resolved after every file is read, because a topic may scope itself to feeds
/// defined in another watchlist.
struct PendingTopic {
    table: raw::TopicTable,
    file: std::rc::Rc<SourceFile>,
}

impl Loader<'_> {
    fn load(&mut self, path: &Path) -> Option<Config> {
        let main = self.read(path)?;
        let parsed: raw::MainFile = self.parse(&main)?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let daemon_table = parsed.daemon.unwrap_or_default();
        let daemon = self.daemon(&main, &base, &daemon_table);

        let main = std::rc::Rc::new(main);
        let mut feeds = Vec::new();
        let mut topics = Vec::new();
        let mut entities = Vec::new();
        for table in parsed.feed {
            feeds.extend(self.feed(&main, table, &daemon));
        }
        topics.extend(parsed.topic.into_iter().map(|table| PendingTopic {
            table,
            file: main.clone(),
        }));
        for table in parsed.entity {
            entities.extend(self.entity(&main, table));
        }
        let mut webhooks = Vec::new();
        for table in parsed.webhook {
            webhooks.extend(self.webhook(&main, table));
        }
        if let Some(name) = &daemon_table.health_webhook
            && !webhooks.iter().any(|w| &w.name == name.get_ref())
        {
            let message = format!("health_webhook names no [[webhook]]: `{}`", name.get_ref());
            self.error(&main, name.span(), message);
        }

        let (watchlist_patterns, watchlists) = self.watchlist_paths(&main, &base, &daemon_table);
        let mut files = vec![path.to_path_buf()];
        files.extend(watchlists.iter().cloned());
        for watchlist in watchlists {
            let Some(file) = self.read(&watchlist) else {
                continue;
            };
            let Some(parsed): Option<raw::WatchlistFile> = self.parse(&file) else {
                continue;
            };
            let file = std::rc::Rc::new(file);
            for table in parsed.feed {
                feeds.extend(self.feed(&file, table, &daemon));
            }
            topics.extend(parsed.topic.into_iter().map(|table| PendingTopic {
                table,
                file: file.clone(),
            }));
            for table in parsed.entity {
                entities.extend(self.entity(&file, table));
            }
        }

        let topics = topics
            .into_iter()
            .filter_map(|pending| self.topic(pending, &feeds, &webhooks))
            .collect();
        Some(Config {
            path: path.to_path_buf(),
            watchlist_patterns,
            files,
            daemon,
            feeds,
            topics,
            webhooks,
            entities,
            warnings: Vec::new(),
        })
    }

    fn read(&mut self, path: &Path) -> Option<SourceFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => Some(SourceFile::new(path, text)),
            Err(err) => {
                self.errors
                    .push(ConfigError::file(path, format!("cannot read: {err}")));
                None
            }
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(&mut self, file: &SourceFile) -> Option<T> {
        match toml::from_str(&file.text) {
            Ok(value) => Some(value),
            Err(err) => {
                let span = err.span().unwrap_or(0..0);
                let message = err.message().trim().to_string();
                self.errors.push(file.error_at(span, message));
                None
            }
        }
    }

    fn error(&mut self, file: &SourceFile, span: Range<usize>, message: impl Into<String>) {
        self.errors.push(file.error_at(span, message));
    }

    /// Records a name, reporting a duplicate with both places.
    fn claim_name(&mut self, kind: &'static str, file: &SourceFile, name: &toml::Spanned<String>) {
        if name.get_ref().starts_with('@') || name.get_ref().trim().is_empty() {
            // Names starting with @ are feedwatch's own (the @stdout sink, @feed-health).
            let message = format!("{kind} names must not be empty or start with `@`");
            self.error(file, name.span(), message);
            return;
        }
        let here = file.location(name.span().start);
        let key = (kind, name.get_ref().clone());
        if let Some(first) = self.names.get(&key) {
            let message = format!(
                "duplicate {kind} name `{}`: first defined at {first}",
                name.get_ref()
            );
            self.error(file, name.span(), message);
        } else {
            self.names.insert(key, here);
        }
    }

    /// Replaces each `${VAR}` with the variable's value; a missing variable is an error.
    fn expand(&mut self, file: &SourceFile, value: &toml::Spanned<String>) -> Option<String> {
        self.expand_secrets(file, value)
            .map(|(expanded, _)| expanded)
    }

    /// [`Self::expand`], also returning the `(name, value)` of each variable read.
    fn expand_secrets(
        &mut self,
        file: &SourceFile,
        value: &toml::Spanned<String>,
    ) -> Option<(String, Vec<(String, String)>)> {
        let text = value.get_ref();
        let mut secrets = Vec::new();
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                self.error(
                    file,
                    value.span(),
                    "unterminated `${`: write `${NAME}` to read an environment variable",
                );
                return None;
            };
            let name = &after[..end];
            match (self.env)(name) {
                Some(found) => {
                    out.push_str(&found);
                    secrets.push((name.to_string(), found));
                }
                None => {
                    self.error(
                        file,
                        value.span(),
                        format!(
                            "environment variable `{name}` is not set (referenced as `${{{name}}}`)"
                        ),
                    );
                    return None;
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some((out, secrets))
    }

    /// `public_url`: an absolute http(s) URL with a host and nothing a hub could not append
    /// `/websub/{id}` to (no query, fragment or credentials); "" means unset.
    fn public_url(&mut self, file: &SourceFile, value: &toml::Spanned<String>) -> Option<Url> {
        let text = value.get_ref().trim();
        if text.is_empty() {
            return None;
        }
        let problem = match Url::parse(text) {
            Err(err) => format!("{err}"),
            Ok(url) if !matches!(url.scheme(), "http" | "https") => {
                "it must start with http:// or https://".to_string()
            }
            Ok(url) if url.host_str().is_none_or(str::is_empty) => "it has no host".to_string(),
            Ok(url) if url.query().is_some() || url.fragment().is_some() => {
                "it may not have a query or fragment".to_string()
            }
            Ok(url) if !url.username().is_empty() || url.password().is_some() => {
                "it may not carry credentials".to_string()
            }
            Ok(url) => return Some(url),
        };
        self.error(
            file,
            value.span(),
            format!(
                "public_url is not usable ({problem}); write the address WebSub hubs reach `listen` at, e.g. \"https://watch.example.org\""
            ),
        );
        None
    }

    /// The duration `key` is set to, or `default`; at least 100 ms and at most `max`.
    fn duration(
        &mut self,
        file: &SourceFile,
        key: &str,
        value: Option<&toml::Spanned<String>>,
        default: Duration,
        max: Duration,
    ) -> Duration {
        let Some(value) = value else {
            return default;
        };
        match humantime::parse_duration(value.get_ref()) {
            Ok(duration) if duration > max => {
                let message = format!(
                    "`{key}` is too long: at most {} is allowed (\"{}\" given)",
                    short_duration(max),
                    value.get_ref()
                );
                self.error(file, value.span(), message);
                default
            }
            Ok(duration) if duration >= Duration::from_millis(100) => duration,
            Ok(_) => {
                self.error(file, value.span(), "duration must be at least 100ms");
                default
            }
            Err(err) => {
                self.error(
                    file,
                    value.span(),
                    format!("invalid duration ({err}); write e.g. \"90s\", \"10m\" or \"1h\""),
                );
                default
            }
        }
    }

    /// The positive integer `key` is set to, or `default`; at most `max`.
    fn positive(
        &mut self,
        file: &SourceFile,
        key: &str,
        value: Option<&toml::Spanned<i64>>,
        default: u64,
        max: u64,
    ) -> u64 {
        match value {
            None => default,
            Some(value) if *value.get_ref() > 0 && *value.get_ref() as u64 > max => {
                let limit = match human_size(max) {
                    human if human != max.to_string() => format!("{max} ({human})"),
                    _ => max.to_string(),
                };
                let message = format!("`{key}` is too large: at most {limit} is allowed");
                self.error(file, value.span(), message);
                default
            }
            Some(value) if *value.get_ref() > 0 => *value.get_ref() as u64,
            Some(value) => {
                self.error(file, value.span(), "must be a positive integer");
                default
            }
        }
    }

    fn daemon(&mut self, file: &SourceFile, base: &Path, table: &raw::DaemonTable) -> Daemon {
        let store = match &table.store {
            None => StoreLocation::Sqlite(base.join("feedwatch.db")),
            Some(value) => {
                let expanded = self.expand(file, value).unwrap_or_default();
                match StoreLocation::parse(&expanded, base) {
                    Ok(location) => location,
                    Err(message) => {
                        self.error(file, value.span(), message);
                        StoreLocation::Sqlite(base.join("feedwatch.db"))
                    }
                }
            }
        };
        let first_poll = match table.first_poll.as_ref().map(|v| (v.get_ref().as_str(), v)) {
            None | Some(("mark-seen", _)) => FirstPoll::MarkSeen,
            Some(("alert", _)) => FirstPoll::Alert,
            Some((other, value)) => {
                self.error(
                    file,
                    value.span(),
                    format!("unknown first_poll `{other}`: expected \"mark-seen\" or \"alert\""),
                );
                FirstPoll::MarkSeen
            }
        };
        let jitter = match &table.jitter {
            None => 0.1,
            Some(value) if (0.0..=0.5).contains(value.get_ref()) => *value.get_ref(),
            Some(value) => {
                self.error(file, value.span(), "jitter must be between 0.0 and 0.5");
                0.1
            }
        };
        Daemon {
            store,
            listen: match &table.listen {
                None => Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9184))),
                Some(value) if matches!(value.get_ref().trim(), "" | "off") => None,
                Some(value) => match value.get_ref().trim().parse() {
                    Ok(addr) => Some(addr),
                    Err(_) => {
                        self.error(
                            file,
                            value.span(),
                            "listen must be an address and port such as \"127.0.0.1:9184\" (or \"off\")",
                        );
                        None
                    }
                },
            },
            public_url: table.public_url.as_ref().and_then(|value| {
                let url = self.public_url(file, value)?;
                // Hubs reach `listen` through `public_url`: without a server, nothing answers.
                if table.listen.as_ref().is_some_and(|l| matches!(l.get_ref().trim(), "" | "off")) {
                    self.error(
                        file,
                        value.span(),
                        "public_url needs the HTTP server: set `listen` (WebSub callbacks are served there) or remove public_url",
                    );
                    return None;
                }
                Some(url)
            }),
            metrics_token: table
                .metrics_token
                .as_ref()
                .and_then(|token| self.expand(file, token))
                .filter(|token| !token.is_empty())
                .map(SecretString::from),
            default_interval: self.duration(
                file,
                "default_interval",
                table.default_interval.as_ref(),
                Duration::from_secs(600),
                bounds::INTERVAL,
            ),
            jitter,
            max_concurrent_fetches: self.positive(
                file,
                "max_concurrent_fetches",
                table.max_concurrent_fetches.as_ref(),
                32,
                bounds::CONCURRENT_FETCHES,
            ) as usize,
            per_host_concurrency: self.positive(
                file,
                "per_host_concurrency",
                table.per_host_concurrency.as_ref(),
                2,
                bounds::PER_HOST_CONCURRENCY,
            ) as usize,
            user_agent: table.user_agent.clone().unwrap_or_else(|| {
                format!(
                    "feedwatch/{} (+https://github.com/feedwatch/feedwatch)",
                    env!("CARGO_PKG_VERSION")
                )
            }),
            first_poll,
            allow_private: table
                .allow_private
                .iter()
                .flatten()
                .filter_map(|cidr| {
                    match crate::fetch::AddressGuard::new(std::slice::from_ref(cidr.get_ref())) {
                        Ok(_) => Some(cidr.get_ref().clone()),
                        Err(err) => {
                            self.error(file, cidr.span(), err.to_string());
                            None
                        }
                    }
                })
                .collect(),
            connect_timeout: self.duration(
                file,
                "connect_timeout",
                table.connect_timeout.as_ref(),
                Duration::from_secs(10),
                bounds::TIMEOUT,
            ),
            read_timeout: self.duration(
                file,
                "read_timeout",
                table.read_timeout.as_ref(),
                Duration::from_secs(30),
                bounds::TIMEOUT,
            ),
            fetch_timeout: self.duration(
                file,
                "fetch_timeout",
                table.fetch_timeout.as_ref(),
                Duration::from_secs(60),
                bounds::TIMEOUT,
            ),
            max_body_bytes: self.positive(
                file,
                "max_body_bytes",
                table.max_body_bytes.as_ref(),
                16 * 1024 * 1024,
                bounds::BODY_BYTES,
            ),
            retry_initial: self.duration(
                file,
                "retry_initial",
                table.retry_initial.as_ref(),
                Duration::from_secs(5),
                bounds::RETRY_INITIAL,
            ),
            per_host_spacing: match &table.per_host_spacing {
                Some(value) if matches!(value.get_ref().trim(), "0" | "0s") => Duration::ZERO,
                value => self.duration(
                    file,
                    "per_host_spacing",
                    value.as_ref(),
                    Duration::from_secs(1),
                    bounds::HOST_SPACING,
                ),
            },
            max_interval: self.duration(
                file,
                "max_interval",
                table.max_interval.as_ref(),
                Duration::from_secs(2 * 3600),
                bounds::INTERVAL,
            ),
            max_items_per_feed: self.positive(
                file,
                "max_items_per_feed",
                table.max_items_per_feed.as_ref(),
                200,
                bounds::ITEMS_PER_FEED,
            ) as usize,
            max_article_chars: self.positive(
                file,
                "max_article_chars",
                table.max_article_chars.as_ref(),
                200_000,
                bounds::ARTICLE_CHARS,
            ) as usize,
            max_concurrent_article_fetches: self.positive(
                file,
                "max_concurrent_article_fetches",
                table.max_concurrent_article_fetches.as_ref(),
                8,
                bounds::CONCURRENT_FETCHES,
            ) as usize,
            health_webhook: table.health_webhook.as_ref().map(|w| w.get_ref().clone()),
            health_threshold: self.duration(
                file,
                "health_threshold",
                table.health_threshold.as_ref(),
                Duration::from_secs(3600),
                bounds::INTERVAL,
            ),
            analysis_budget: self.duration(
                file,
                "analysis_budget",
                table.analysis_budget.as_ref(),
                Duration::from_secs(5),
                bounds::WORK_DEADLINE,
            ),
            shutdown_timeout: self.duration(
                file,
                "shutdown_timeout",
                table.shutdown_timeout.as_ref(),
                Duration::from_secs(10),
                bounds::WORK_DEADLINE,
            ),
            retention: self.duration(
                file,
                "retention",
                table.retention.as_ref(),
                Duration::from_secs(90 * 24 * 3600),
                bounds::RETENTION,
            ),
            duplicate_window: self.duration(
                file,
                "duplicate_window",
                table.duplicate_window.as_ref(),
                Duration::from_secs(3 * 24 * 3600),
                bounds::RETENTION,
            ),
            article_attempts: self.positive(
                file,
                "article_attempts",
                table.article_attempts.as_ref(),
                3,
                bounds::ARTICLE_ATTEMPTS,
            ) as u32,
            article_retry: self.duration(
                file,
                "article_retry",
                table.article_retry.as_ref(),
                Duration::from_secs(120),
                bounds::TIMEOUT,
            ),
        }
    }

    /// The watchlist patterns resolved against `base`, and the files they match.
    fn watchlist_paths(
        &mut self,
        file: &SourceFile,
        base: &Path,
        table: &raw::DaemonTable,
    ) -> (Vec<String>, Vec<PathBuf>) {
        let default = [toml::Spanned::new(0..0, "watchlists/*.toml".to_string())];
        let patterns = table.watchlists.as_deref().unwrap_or(&default);
        let mut resolved = Vec::new();
        for pattern in patterns {
            let full = base.join(pattern.get_ref());
            let Some(full) = full.to_str() else {
                self.error(file, pattern.span(), "watchlist path is not valid UTF-8");
                continue;
            };
            if let Err(err) = glob::Pattern::new(full) {
                self.error(file, pattern.span(), format!("invalid pattern: {err}"));
                continue;
            }
            resolved.push(full.to_string());
        }
        let paths = watchlist_files(&resolved);
        (resolved, paths)
    }

    fn feed(
        &mut self,
        file: &SourceFile,
        table: raw::FeedTable,
        daemon: &Daemon,
    ) -> Option<FeedSpec> {
        self.claim_name("feed", file, &table.name);
        let (expanded, url_secrets) = self.expand_secrets(file, &table.url)?;
        let url = match Url::parse(&expanded) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            Ok(url) => {
                let message = format!(
                    "feed URL scheme `{}` is not supported: use http or https",
                    url.scheme()
                );
                self.error(file, table.url.span(), message);
                return None;
            }
            Err(err) => {
                self.error(file, table.url.span(), format!("invalid feed URL: {err}"));
                return None;
            }
        };
        let shown_url = if url_secrets.is_empty() {
            crate::fetch::redacted(&url)
        } else {
            table.url.get_ref().clone()
        };
        Some(FeedSpec {
            name: table.name.get_ref().clone(),
            url,
            shown_url,
            url_secrets,
            interval: self.duration(
                file,
                "interval",
                table.interval.as_ref(),
                daemon.default_interval,
                bounds::INTERVAL,
            ),
            full_text: table.full_text.unwrap_or(true),
            tags: table.tags,
            origin: file.location(table.name.span().start),
        })
    }

    fn entity(&mut self, file: &SourceFile, table: raw::EntityTable) -> Option<EntitySpec> {
        self.claim_name("entity", file, &table.name);
        let kind = match table.kind.get_ref().as_str() {
            "person" => EntityKind::Person,
            "org" | "organisation" | "organization" => EntityKind::Org,
            "place" | "loc" | "location" => EntityKind::Place,
            "misc" => EntityKind::Misc,
            other => {
                let message =
                    format!("unknown entity kind `{other}`: expected person, org, place or misc");
                self.error(file, table.kind.span(), message);
                return None;
            }
        };
        Some(EntitySpec {
            name: table.name.into_inner(),
            kind,
            aliases: table.aliases,
        })
    }

    fn webhook(&mut self, file: &SourceFile, table: raw::WebhookTable) -> Option<WebhookSpec> {
        self.claim_name("webhook", file, &table.name);
        let format_name = table
            .format
            .as_ref()
            .map_or("json", |f| f.get_ref().as_str());
        let format_span = table
            .format
            .as_ref()
            .map_or(table.name.span(), |f| f.span());
        let format = match (format_name, &table.template) {
            ("json", None) => WebhookFormat::Json,
            ("slack", None) => WebhookFormat::Slack,
            ("discord", None) => WebhookFormat::Discord,
            ("teams", None) => WebhookFormat::Teams,
            ("template", Some(source)) => {
                let content_type = table.content_type.as_deref().unwrap_or("application/json");
                let template = AlertTemplate::new(source.get_ref(), content_type).and_then(|t| {
                    t.render(&[crate::alerts::payload::AlertPayload::example()])
                        .map_err(|e| {
                            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.0)
                        })
                        .map(|_| t)
                });
                match template {
                    Ok(template) => WebhookFormat::Template(Arc::new(template)),
                    Err(err) => {
                        let offset = string_content_offset(&file.text, source.span().start);
                        let span = match err.range() {
                            Some(range) => offset + range.start..offset + range.end,
                            None => source.span(),
                        };
                        self.error(file, span, format!("template error: {err:#}"));
                        return None;
                    }
                }
            }
            ("template", None) => {
                self.error(
                    file,
                    format_span,
                    "format \"template\" needs a `template = '…'` key",
                );
                return None;
            }
            (_, Some(source)) if matches!(format_name, "json" | "slack" | "discord" | "teams") => {
                self.error(
                    file,
                    source.span(),
                    "`template` is only used with format = \"template\"",
                );
                return None;
            }
            (other, _) => {
                let message = format!(
                    "unknown webhook format `{other}`: expected json, slack, discord, teams or template"
                );
                self.error(file, format_span, message);
                return None;
            }
        };
        let url = self.expand(file, &table.url)?;
        if let Err(err) = Url::parse(&url) {
            // The URL itself may be a secret, so the message never repeats it.
            self.error(
                file,
                table.url.span(),
                format!("invalid webhook URL: {err}"),
            );
            return None;
        }
        let mut signing_keys = Vec::new();
        let secrets = match &table.secret {
            None => Vec::new(),
            Some(value) => {
                let span = value.span();
                let texts = match value.get_ref() {
                    toml::Value::String(one) => Some(vec![one.clone()]),
                    toml::Value::Array(many) => many
                        .iter()
                        .map(|v| v.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>(),
                    _ => None,
                };
                let Some(texts) = texts else {
                    self.error(file, span, "secret must be a string or a list of strings");
                    return None;
                };
                texts
                    .into_iter()
                    .map(|t| toml::Spanned::new(span.clone(), t))
                    .collect()
            }
        };
        for secret in &secrets {
            let expanded = self.expand(file, secret)?;
            let encoded = expanded.strip_prefix("whsec_").unwrap_or(&expanded);
            match base64::engine::general_purpose::STANDARD.decode(encoded) {
                Ok(key) if !key.is_empty() => signing_keys.push(SigningKey(key)),
                _ => {
                    self.error(
                        file,
                        secret.span(),
                        "signing secret must be `whsec_` followed by base64 (Standard Webhooks)",
                    );
                    return None;
                }
            }
        }
        let mut headers = Vec::new();
        for (name, value) in &table.headers {
            let expanded = self.expand(file, value)?;
            // Checked now, not at send time, where a bad header would fail every delivery.
            // The message never repeats the value: it may be a credential.
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                self.error(
                    file,
                    value.span(),
                    format!("`{name}` is not a valid HTTP header name"),
                );
                return None;
            }
            if reqwest::header::HeaderValue::from_str(&expanded).is_err() {
                let message = format!(
                    "the value of header `{name}` is not a valid HTTP header value (control characters or a newline?)"
                );
                self.error(file, value.span(), message);
                return None;
            }
            headers.push((name.clone(), SecretString::from(expanded)));
        }
        let rate_limit = match &table.rate_limit {
            None => None,
            Some(value) => match value.get_ref().parse::<RateLimit>() {
                Ok(limit) => Some(limit),
                Err(message) => {
                    self.error(file, value.span(), message);
                    return None;
                }
            },
        };
        let digest = table.digest.as_ref().map(|d| {
            let default = Duration::from_secs(900);
            self.duration(file, "digest", Some(d), default, bounds::DIGEST)
        });
        let template_source = table.template.as_ref().map(|source| {
            (
                source.get_ref().clone(),
                table
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/json".into()),
            )
        });
        let mut spec = WebhookSpec {
            name: table.name.into_inner(),
            format,
            url: SecretString::from(url),
            signing_keys,
            headers,
            rate_limit,
            digest,
            max_age: self.duration(
                file,
                "max_age",
                table.max_age.as_ref(),
                Duration::from_secs(3 * 24 * 3600),
                bounds::MAX_AGE,
            ),
            timeout: self.duration(
                file,
                "timeout",
                table.timeout.as_ref(),
                Duration::from_secs(30),
                bounds::TIMEOUT,
            ),
            concurrency: self.positive(
                file,
                "concurrency",
                table.concurrency.as_ref(),
                4,
                bounds::WEBHOOK_CONCURRENCY,
            ) as usize,
            fingerprint: String::new(),
        };
        spec.fingerprint = spec.settings_fingerprint(
            template_source
                .as_ref()
                .map(|(source, content_type)| (source.as_str(), content_type.as_str())),
        );
        Some(spec)
    }

    fn topic(
        &mut self,
        pending: PendingTopic,
        feeds: &[FeedSpec],
        webhooks: &[WebhookSpec],
    ) -> Option<TopicSpec> {
        let PendingTopic { table, file } = pending;
        self.claim_name("topic", &file, &table.name);
        let query_offset = string_content_offset(&file.text, table.query.span().start);
        let query = match topics::parse(table.query.get_ref()) {
            Ok(query) => {
                for warning in topics::lint(&query) {
                    let span = query_offset + warning.span.start
                        ..query_offset + warning.span.end.max(warning.span.start + 1);
                    let message = format!(
                        "in the query of topic `{}`: {}",
                        table.name.get_ref(),
                        warning.message
                    );
                    let mut located = file.error_at(span, message);
                    located.warning = true;
                    self.warnings.push(located);
                }
                Some(query)
            }
            Err(err) => {
                let span = query_offset + err.span.start
                    ..query_offset + err.span.end.max(err.span.start + 1);
                let message = format!(
                    "in the query of topic `{}`: {}",
                    table.name.get_ref(),
                    err.message
                );
                self.error(&file, span, message);
                None
            }
        };
        for target in &table.notify {
            if !webhooks.iter().any(|w| &w.name == target.get_ref()) {
                let message = format!(
                    "topic `{}` notifies unknown webhook `{}`",
                    table.name.get_ref(),
                    target.get_ref()
                );
                self.error(&file, target.span(), message);
            }
        }
        let scope = table.feeds.as_ref().map(|selectors| {
            let mut names = BTreeSet::new();
            for selector in selectors {
                let selected: Vec<&FeedSpec> = match selector.get_ref().strip_prefix("tag:") {
                    Some(tag) => feeds.iter().filter(|f| f.tags.iter().any(|t| t == tag)).collect(),
                    None => feeds.iter().filter(|f| &f.name == selector.get_ref()).collect(),
                };
                if selected.is_empty() {
                    let message = format!(
                        "`{}` selects no feed: name a [[feed]] or write tag:TAG for a tag some feed has",
                        selector.get_ref()
                    );
                    self.error(&file, selector.span(), message);
                }
                names.extend(selected.into_iter().map(|f| f.name.clone()));
            }
            names
        });
        Some(TopicSpec {
            name: table.name.get_ref().clone(),
            query: query?,
            notify: table.notify.iter().map(|n| n.get_ref().clone()).collect(),
            feeds: scope,
            min_score: table.min_score.unwrap_or(0.0),
            dedupe: table.dedupe.unwrap_or(true),
            origin: file.location(table.name.span().start),
        })
    }
}

/// The byte offset where a TOML string's content begins, given the offset of its opening
/// quote, so a query error can point into the query itself. (Escapes inside basic strings
/// shift later columns; queries are usually written as literal strings, where this is exact.)
fn string_content_offset(text: &str, literal_start: usize) -> usize {
    let rest = &text[literal_start.min(text.len())..];
    let quote_len = if rest.starts_with("'''") || rest.starts_with("\"\"\"") {
        let after = &rest[3..];
        // A newline right after a multi-line opening quote is not part of the string.
        3 + if after.starts_with("\r\n") {
            2
        } else if after.starts_with('\n') {
            1
        } else {
            0
        }
    } else {
        1
    };
    literal_start + quote_len
}

#[cfg(test)]
mod tests;
