//! The TOML schema exactly as users write it (serde, unknown keys rejected). Values that need
//! checking after parsing keep their spans so the checks can point at them; turning these raw
//! tables into a validated [`super::Config`] is `super`'s job, never this module's.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

type S<T> = Spanned<T>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MainFile {
    pub daemon: Option<DaemonTable>,
    #[serde(default)]
    pub feed: Vec<FeedTable>,
    #[serde(default)]
    pub topic: Vec<TopicTable>,
    #[serde(default)]
    pub webhook: Vec<WebhookTable>,
    #[serde(default)]
    pub entity: Vec<EntityTable>,
}

/// A watchlist may hold feeds, topics and entities; `[daemon]` and `[[webhook]]` belong in the
/// main file only, which `deny_unknown_fields` enforces with a located error.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WatchlistFile {
    #[serde(default)]
    pub feed: Vec<FeedTable>,
    #[serde(default)]
    pub topic: Vec<TopicTable>,
    #[serde(default)]
    pub entity: Vec<EntityTable>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DaemonTable {
    pub store: Option<S<String>>,
    pub listen: Option<S<String>>,
    pub public_url: Option<S<String>>,
    pub metrics_token: Option<S<String>>,
    pub default_interval: Option<S<String>>,
    pub max_concurrent_fetches: Option<S<i64>>,
    pub per_host_concurrency: Option<S<i64>>,
    pub user_agent: Option<String>,
    pub watchlists: Option<Vec<S<String>>>,
    pub first_poll: Option<S<String>>,
    pub allow_private: Option<Vec<S<String>>>,
    pub connect_timeout: Option<S<String>>,
    pub read_timeout: Option<S<String>>,
    pub fetch_timeout: Option<S<String>>,
    pub max_body_bytes: Option<S<i64>>,
    pub jitter: Option<S<f64>>,
    pub retry_initial: Option<S<String>>,
    pub per_host_spacing: Option<S<String>>,
    pub max_interval: Option<S<String>>,
    pub max_items_per_feed: Option<S<i64>>,
    pub max_article_chars: Option<S<i64>>,
    pub max_concurrent_article_fetches: Option<S<i64>>,
    pub health_webhook: Option<S<String>>,
    pub health_threshold: Option<S<String>>,
    pub analysis_budget: Option<S<String>>,
    pub shutdown_timeout: Option<S<String>>,
    pub retention: Option<S<String>>,
    pub duplicate_window: Option<S<String>>,
    pub article_attempts: Option<S<i64>>,
    pub article_retry: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedTable {
    pub name: S<String>,
    pub url: S<String>,
    pub interval: Option<S<String>>,
    pub full_text: Option<bool>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicTable {
    pub name: S<String>,
    pub query: S<String>,
    #[serde(default)]
    pub notify: Vec<S<String>>,
    pub feeds: Option<Vec<S<String>>>,
    pub min_score: Option<f64>,
    pub dedupe: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookTable {
    pub name: S<String>,
    pub format: Option<S<String>>,
    pub url: S<String>,
    /// `"whsec_…"`, or while rotating a list of them; checked by the loader.
    pub secret: Option<S<toml::Value>>,
    #[serde(default)]
    pub headers: BTreeMap<String, S<String>>,
    pub template: Option<S<String>>,
    pub content_type: Option<String>,
    pub rate_limit: Option<S<String>>,
    pub digest: Option<S<String>>,
    pub max_age: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub concurrency: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityTable {
    pub name: S<String>,
    pub kind: S<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
}
