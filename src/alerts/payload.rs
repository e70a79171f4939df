//! The alert as receivers see it: the JSON shape of PRODUCT.md, field for field. Built once
//! when the alert is created and stored serialised, so every retry sends the same bytes.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AlertPayload {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub topic: String,
    pub score: f64,
    pub matched: Vec<String>,
    pub snippets: Vec<String>,
    pub article: ArticleSummary,
    pub entities: Vec<EntityMention>,
    pub duplicates: Vec<String>,
    pub detected_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ArticleSummary {
    pub url: Option<String>,
    pub title: String,
    pub published: Option<String>,
    pub feed: String,
    pub lang: Option<String>,
    pub site: Option<String>,
    pub authors: Vec<String>,
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EntityMention {
    pub text: String,
    pub kind: String,
    pub count: u32,
}

pub const ALERT_TYPE: &str = "feedwatch.alert";
pub const FEED_HEALTH_TYPE: &str = "feedwatch.feed_health";

/// A notice to the health webhook: a feed has failed for longer than the threshold, or it has
/// recovered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FeedHealthEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub feed: String,
    pub url: String,
    pub status: FeedHealth,
    pub failing_since: Option<String>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub detected_at: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FeedHealth {
    Failing,
    Recovered,
    /// Polling stopped because the process died during the feed's polls again and again.
    Quarantined,
}

impl FeedHealthEvent {
    /// One line for chat formats.
    pub fn summary(&self) -> String {
        match self.status {
            FeedHealth::Failing => format!(
                "feedwatch: feed `{}` has been failing since {} ({} attempts): {}",
                self.feed,
                self.failing_since.as_deref().unwrap_or("?"),
                self.consecutive_failures,
                self.last_error.as_deref().unwrap_or("unknown error")
            ),
            FeedHealth::Recovered => format!("feedwatch: feed `{}` has recovered", self.feed),
            FeedHealth::Quarantined => format!(
                "feedwatch: feed `{}` is quarantined: {}",
                self.feed,
                self.last_error
                    .as_deref()
                    .unwrap_or("its polls keep failing")
            ),
        }
    }
}

/// RFC 3339 in UTC with second precision and a `Z`, the form the payload promises.
pub fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl AlertPayload {
    /// A complete, realistic alert: for checking templates at load time and in tests.
    pub fn example() -> Self {
        AlertPayload {
            id: "01JF2XAMPLE0000000000000000".into(),
            kind: ALERT_TYPE.into(),
            topic: "soldiers-mothers".into(),
            score: 3.0,
            matched: vec!["mothers and wives".into()],
            snippets: vec![
                "…the Council of <mark>Mothers and Wives</mark> of mobilized soldiers…".into(),
            ],
            article: ArticleSummary {
                url: Some("https://www.newsweek.com/putin-hiding-mothers-wives".into()),
                title: "Putin 'Hiding' from Mothers and Wives of Russian Soldiers".into(),
                published: Some("2022-11-25T10:00:00Z".into()),
                feed: "newsweek".into(),
                lang: Some("en".into()),
                site: Some("newsweek.com".into()),
                authors: vec!["Isabel van Brugen".into()],
                summary: Some("An anti-war group says the president is hiding from them.".into()),
            },
            entities: vec![EntityMention {
                text: "Vladimir Putin".into(),
                kind: "person".into(),
                count: 6,
            }],
            duplicates: vec![],
            detected_at: "2022-11-25T10:03:12Z".into(),
        }
    }
}
