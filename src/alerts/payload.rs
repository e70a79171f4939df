//! The alert as receivers see it: the JSON shape of PRODUCT.md, field for field. Built once
//! when the alert is created and stored serialised, so every retry sends the same bytes.
//!
//! The payload is bounded ([`AlertPayload::bound`], limits in [`limits`]): article text comes
//! from strangers, and one page with a 5 MB title or ten thousand names must not become a
//! 5 MB alert in the store and in every receiver. Cut text ends with "…"; list entries left out
//! are counted in `omitted` (absent when nothing was left out), so a receiver can tell.

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
    /// How many entries of each list the bounds left out; absent when none were.
    #[serde(default, skip_serializing_if = "Omitted::is_empty")]
    pub omitted: Omitted,
}

/// Counts of list entries left out of a bounded payload.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Omitted {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub matched: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub snippets: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub entities: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub authors: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duplicates: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Omitted {
    pub fn is_empty(&self) -> bool {
        *self == Omitted::default()
    }
}

/// Bounds of the stored payload, in characters (Unicode scalar values) and entries. Each is
/// several times what a real article needs: titles run to ~100 characters, the matcher makes at
/// most three snippets of at most 60 words, and articles name a few dozen entities.
pub mod limits {
    /// `article.title`.
    pub const TITLE_CHARS: usize = 500;
    /// `article.summary`: a dek or feed description, not the article.
    pub const SUMMARY_CHARS: usize = 2_000;
    /// Each of `snippets`, counting its `<mark>` tags and HTML escapes.
    pub const SNIPPET_CHARS: usize = 1_000;
    /// Entries of `snippets` (the matcher makes at most 3).
    pub const SNIPPETS: usize = 5;
    /// Entries of `matched`, and characters of each.
    pub const MATCHED: usize = 50;
    pub const MATCHED_CHARS: usize = 200;
    /// Entries of `entities` (the most mentioned are kept), and characters of each name.
    pub const ENTITIES: usize = 50;
    pub const ENTITY_CHARS: usize = 200;
    /// Entries of `article.authors`, and characters of each.
    pub const AUTHORS: usize = 20;
    pub const AUTHOR_CHARS: usize = 200;
    /// Entries of `duplicates`.
    pub const DUPLICATES: usize = 20;
    /// A longer URL is left out (`article.url: null`, or not listed in `duplicates`): cutting
    /// would make it point elsewhere. RFC 9110 §4.1 asks for at least 8,000 octets of URL.
    pub const URL_CHARS: usize = 8_192;
    /// `article.site`: a host name (at most 253 characters in DNS).
    pub const SITE_CHARS: usize = 253;
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

/// Cuts `text` to at most `max` characters, the last of them "…", at a character boundary.
pub fn cut_text(text: &mut String, max: usize) {
    if let Some((at, _)) = text.char_indices().nth(max) {
        let keep = text[..at]
            .char_indices()
            .nth(max.saturating_sub(1))
            .map_or(at, |(i, _)| i);
        text.truncate(keep);
        text.push('…');
    }
}

/// Cuts a highlighted snippet (`<mark>` tags and HTML escapes around plain text) to at most
/// `max` characters, ending with "…" when cut: never inside a tag or an escape, and with an
/// open `<mark>` closed, so the result is as well-formed as the input.
pub fn cut_snippet(snippet: &str, max: usize) -> String {
    const OPEN: &str = "<mark>";
    const CLOSE: &str = "</mark>";
    if snippet.chars().count() <= max {
        return snippet.to_string();
    }
    let mut out = String::new();
    let mut len = 0;
    let mut open = false;
    let mut rest = snippet;
    while !rest.is_empty() {
        let token = if rest.starts_with(OPEN) {
            OPEN
        } else if rest.starts_with(CLOSE) {
            CLOSE
        } else if let Some(escape) = html_escape_at(rest) {
            escape
        } else {
            let width = rest.chars().next().map_or(1, char::len_utf8);
            &rest[..width]
        };
        let token_len = token.chars().count();
        let open_after = match token {
            OPEN => true,
            CLOSE => false,
            _ => open,
        };
        // Room for this token, the close tag it may leave owing, and the "…".
        let owed = if open_after { CLOSE.len() } else { 0 };
        if len + token_len + owed + 1 > max {
            break;
        }
        out.push_str(token);
        len += token_len;
        open = open_after;
        rest = &rest[token.len()..];
    }
    if open {
        if out.ends_with(OPEN) {
            out.truncate(out.len() - OPEN.len());
        } else {
            out.push_str(CLOSE);
        }
    }
    out.push('…');
    out
}

/// The HTML character reference at the start of `text` (`&amp;`, `&#39;`, `&#x2014;`), if any.
fn html_escape_at(text: &str) -> Option<&str> {
    let body = text.strip_prefix('&')?;
    let end = body.find(';').filter(|&end| (1..=32).contains(&end))?;
    let name = &body[..end];
    let valid = match name.strip_prefix('#') {
        Some(number) => match number.strip_prefix(['x', 'X']) {
            Some(hex) => !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()),
            None => !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()),
        },
        None => name.chars().all(|c| c.is_ascii_alphanumeric()),
    };
    valid.then(|| &text[..end + 2])
}

/// Keeps the first `max` entries of `list`; returns how many were dropped.
fn keep_first<T>(list: &mut Vec<T>, max: usize) -> usize {
    let dropped = list.len().saturating_sub(max);
    list.truncate(max);
    dropped
}

impl AlertPayload {
    /// Applies the [`limits`]: cuts long text with "…", keeps the first snippets, matches,
    /// authors and duplicates and the most mentioned entities, and counts what it left out in
    /// `omitted`. Bounding a bounded payload changes nothing.
    pub fn bound(&mut self) {
        use limits::*;
        let article = &mut self.article;
        cut_text(&mut article.title, TITLE_CHARS);
        if let Some(summary) = &mut article.summary {
            cut_text(summary, SUMMARY_CHARS);
        }
        if article
            .url
            .as_ref()
            .is_some_and(|u| u.chars().count() > URL_CHARS)
        {
            article.url = None;
        }
        if let Some(site) = &mut article.site {
            cut_text(site, SITE_CHARS);
        }
        self.omitted.authors += keep_first(&mut article.authors, AUTHORS);
        for author in &mut article.authors {
            cut_text(author, AUTHOR_CHARS);
        }

        self.omitted.snippets += keep_first(&mut self.snippets, SNIPPETS);
        for snippet in &mut self.snippets {
            if snippet.chars().count() > SNIPPET_CHARS {
                *snippet = cut_snippet(snippet, SNIPPET_CHARS);
            }
        }
        self.omitted.matched += keep_first(&mut self.matched, MATCHED);
        for matched in &mut self.matched {
            cut_text(matched, MATCHED_CHARS);
        }

        if self.entities.len() > ENTITIES {
            // The most mentioned, in their original order (ties go to the earlier one).
            let mut order: Vec<usize> = (0..self.entities.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(self.entities[i].count));
            let mut keep = vec![false; self.entities.len()];
            for &i in &order[..ENTITIES] {
                keep[i] = true;
            }
            let mut index = 0;
            self.entities.retain(|_| {
                index += 1;
                keep[index - 1]
            });
            self.omitted.entities += order.len() - ENTITIES;
        }
        for entity in &mut self.entities {
            cut_text(&mut entity.text, ENTITY_CHARS);
        }

        let before = self.duplicates.len();
        self.duplicates.retain(|u| u.chars().count() <= URL_CHARS);
        self.omitted.duplicates += before - self.duplicates.len();
        self.omitted.duplicates += keep_first(&mut self.duplicates, DUPLICATES);
    }

    /// A bounded copy.
    pub fn bounded(&self) -> Self {
        let mut copy = self.clone();
        copy.bound();
        copy
    }

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
            omitted: Omitted::default(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::limits::*;
    use super::*;

    /// The payload of a hostile page: a 5 MB title, a 1 MB summary, 10,000 entities and 1,000
    /// snippets, each snippet far too long and highlighted throughout.
    pub fn huge_alert() -> AlertPayload {
        let mut alert = AlertPayload::example();
        alert.article.title = "T".repeat(5 << 20);
        alert.article.summary = Some("s".repeat(1 << 20));
        alert.article.authors = (0..1000)
            .map(|i| format!("Author {i} {}", "a".repeat(300)))
            .collect();
        alert.article.url = Some(format!("https://example.org/{}", "u".repeat(10_000)));
        alert.matched = (0..1000).map(|i| format!("term{i}")).collect();
        alert.snippets = (0..1000)
            .map(|i| {
                format!(
                    "…{i} <mark>hit &amp; run</mark> tail &lt;x&gt; {}…",
                    "w ".repeat(2000)
                )
            })
            .collect();
        alert.entities = (0..10_000)
            .map(|i| EntityMention {
                text: format!("Entity {i}"),
                kind: "person".into(),
                count: (i % 97) as u32,
            })
            .collect();
        alert.duplicates = (0..100)
            .map(|i| format!("https://other.example/{i}"))
            .collect();
        alert
    }

    #[test]
    fn a_huge_payload_is_bounded_and_shows_the_cuts() {
        let bounded = huge_alert().bounded();
        let title = &bounded.article.title;
        assert_eq!(title.chars().count(), TITLE_CHARS);
        assert!(title.ends_with('…'));
        let summary = bounded.article.summary.as_deref().unwrap();
        assert_eq!(summary.chars().count(), SUMMARY_CHARS);
        assert!(summary.ends_with('…'));
        assert_eq!(bounded.article.url, None);
        assert_eq!(bounded.article.authors.len(), AUTHORS);
        assert!(
            bounded
                .article
                .authors
                .iter()
                .all(|a| a.chars().count() <= AUTHOR_CHARS)
        );
        assert_eq!(bounded.snippets.len(), SNIPPETS);
        for snippet in &bounded.snippets {
            assert!(
                snippet.chars().count() <= SNIPPET_CHARS,
                "{}",
                snippet.len()
            );
            assert!(snippet.ends_with('…'));
            assert_eq!(
                snippet.matches("<mark>").count(),
                snippet.matches("</mark>").count()
            );
        }
        assert_eq!(bounded.matched.len(), MATCHED);
        assert_eq!(bounded.entities.len(), ENTITIES);
        // The most mentioned are kept: counts run to 96, and 10,000 / 97 ≈ 103 entities each.
        assert!(bounded.entities.iter().all(|e| e.count == 96));
        assert_eq!(bounded.duplicates.len(), DUPLICATES);
        assert_eq!(
            bounded.omitted,
            Omitted {
                matched: 950,
                snippets: 995,
                entities: 9_950,
                authors: 980,
                duplicates: 80,
            }
        );
        let json = serde_json::to_value(&bounded).unwrap();
        assert_eq!(json["omitted"]["entities"], 9_950);
        assert!(serde_json::to_string(&bounded).unwrap().len() < 64 * 1024);
        // Bounding twice changes nothing.
        assert_eq!(bounded.bounded(), bounded);
    }

    #[test]
    fn a_payload_just_within_every_bound_is_unchanged() {
        let mut alert = AlertPayload::example();
        alert.article.title = "T".repeat(TITLE_CHARS);
        alert.article.summary = Some("s".repeat(SUMMARY_CHARS));
        alert.article.url = Some(format!("https://e.org/{}", "u".repeat(URL_CHARS - 14)));
        alert.article.authors = vec!["a".repeat(AUTHOR_CHARS); AUTHORS];
        alert.matched = vec!["m".repeat(MATCHED_CHARS); MATCHED];
        let snippet = format!("<mark>{}</mark>", "x".repeat(SNIPPET_CHARS - 13));
        alert.snippets = vec![snippet; SNIPPETS];
        alert.entities = (0..ENTITIES)
            .map(|i| EntityMention {
                text: "e".repeat(ENTITY_CHARS),
                kind: "org".into(),
                count: i as u32,
            })
            .collect();
        alert.duplicates = vec!["https://d.example/".into(); DUPLICATES];
        assert_eq!(alert.bounded(), alert);
        let json = serde_json::to_value(&alert).unwrap();
        assert!(json.get("omitted").is_none(), "{json}");
    }

    #[test]
    fn old_payloads_without_omitted_still_read() {
        let mut json = serde_json::to_value(AlertPayload::example()).unwrap();
        json.as_object_mut().unwrap().remove("omitted");
        let alert: AlertPayload = serde_json::from_value(json).unwrap();
        assert!(alert.omitted.is_empty());
    }

    #[test]
    fn text_is_cut_at_character_boundaries() {
        let mut text = "жжжжж".to_string();
        cut_text(&mut text, 3);
        assert_eq!(text, "жж…");
        let mut short = "жж".to_string();
        cut_text(&mut short, 2);
        assert_eq!(short, "жж");
    }

    #[test]
    fn snippets_are_never_cut_inside_a_tag_or_an_escape() {
        let snippet = "ab <mark>cd &amp; ef</mark> gh &#x2014; ij";
        let all = snippet.chars().count();
        assert_eq!(cut_snippet(snippet, all), snippet);
        for max in 1..all {
            let cut = cut_snippet(snippet, max);
            assert!(cut.chars().count() <= max, "{max}: {cut}");
            assert!(cut.ends_with('…'), "{max}: {cut}");
            assert_eq!(
                cut.matches("<mark>").count(),
                cut.matches("</mark>").count(),
                "{max}: {cut}"
            );
            // Every `&` starts a whole escape, and no tag is left half-written.
            let body = cut.trim_end_matches('…');
            for (at, _) in body.match_indices('&') {
                assert!(html_escape_at(&body[at..]).is_some(), "{max}: {cut}");
            }
            let stripped = body.replace("<mark>", "").replace("</mark>", "");
            assert!(
                !stripped.contains('<') && !stripped.contains('>'),
                "{max}: {cut}"
            );
        }
        assert_eq!(cut_snippet(snippet, 12), "ab …");
        assert_eq!(cut_snippet(snippet, 20), "ab <mark>cd </mark>…");
    }
}
