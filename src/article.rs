//! Article: the stage boundary between fetching and analysis. Combines a feed item with what
//! extraction found on its page (or, when the page could not be fetched or yielded nothing,
//! the feed's own content or summary), then matches it against the compiled topics and builds
//! the alert payloads. Pure and synchronous: the daemon runs it on a blocking thread.

use chrono::{DateTime, Utc};

use crate::alerts::payload::{
    ALERT_TYPE, AlertPayload, ArticleSummary, EntityMention, Omitted, timestamp,
};
use crate::config::{EntitySpec, FeedSpec, TopicSpec};
use crate::entities::{Entity, Recognizer};
use crate::extract;
use crate::feeds::FeedItem;
use crate::text::{self, Lang};
use crate::topics::{AnalyzedArticle, ArticleText, EntityRef, TopicMatch, TopicSet};

/// What the topics are matched against.
#[derive(Debug, Clone)]
pub struct Article {
    pub feed: String,
    /// The feed's tags, for `tag:` queries.
    pub tags: Vec<String>,
    pub url: Option<String>,
    pub title: String,
    pub text: String,
    pub summary: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    pub lang: Option<Lang>,
    pub site: Option<String>,
    /// Where `text` came from, for logs and `feedwatch test`.
    pub text_source: TextSource,
    /// People, organisations and places the article names, most mentioned first; filled by
    /// [`Article::recognize`].
    pub entities: Vec<Entity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextSource {
    /// Extracted from the article's page.
    Page,
    /// The feed item's own content or summary.
    Feed,
}

/// Characters of body text read to detect the language.
const LANG_SAMPLE_CHARS: usize = 2000;

impl Article {
    /// Builds the article of `item`. `page` is the extraction of the item's linked page, if it
    /// was fetched and extracted; a page with no usable text falls back to the feed's text.
    pub fn from_item(feed: &FeedSpec, item: &FeedItem, page: Option<extract::Article>) -> Self {
        // Feed titles and summaries arrive as plain text; only the content is HTML.
        let summary = item
            .summary
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let page = page.filter(|p| !p.text.trim().is_empty());
        let (text, text_source) = match &page {
            Some(page) => (page.text.clone(), TextSource::Page),
            None => {
                let feed_text = item
                    .content
                    .as_deref()
                    .map(html_to_text)
                    .filter(|t| !t.is_empty())
                    .or_else(|| summary.clone())
                    .unwrap_or_default();
                (feed_text, TextSource::Feed)
            }
        };
        let title = if item.title.is_empty() {
            page.as_ref().map(|p| p.title.clone()).unwrap_or_default()
        } else {
            item.title.trim().to_string()
        };
        let mut authors = item.authors.clone();
        if authors.is_empty() {
            authors = page.as_ref().map(|p| p.authors.clone()).unwrap_or_default();
        }
        let url = item.link.clone();
        let lang = page
            .as_ref()
            .and_then(|p| p.lang.as_deref())
            .and_then(Lang::from_code)
            .or_else(|| {
                // The opening is plenty to tell a language, and long pages would only cost time.
                let opening: String = text.chars().take(LANG_SAMPLE_CHARS).collect();
                text::detect_lang(&format!("{title}\n{opening}"))
            });
        Article {
            feed: feed.name.clone(),
            tags: feed.tags.clone(),
            site: url.as_deref().and_then(site_of),
            summary: summary.or_else(|| page.as_ref().and_then(|p| p.description.clone())),
            published: item.published.or(page.as_ref().and_then(|p| p.published)),
            url,
            title,
            text,
            authors,
            lang,
            text_source,
            entities: Vec::new(),
        }
    }

    /// Cuts the text to at most `max_chars` characters (at a character boundary), so one huge
    /// page cannot make analysis slow for everyone.
    pub fn truncate_text(&mut self, max_chars: usize) {
        if let Some((cut, _)) = self.text.char_indices().nth(max_chars) {
            self.text.truncate(cut);
        }
    }

    /// Finds the entities of the title and text.
    pub fn recognize(&mut self, recognizer: &Recognizer) {
        self.entities = recognizer.entities_in(&self.title, &self.text, self.lang);
    }

    /// The entities as the payload and `feedwatch test` list them.
    pub fn entity_mentions(&self) -> Vec<EntityMention> {
        self.entities
            .iter()
            .map(|e| EntityMention {
                text: e.text.clone(),
                kind: e.kind.as_str().to_string(),
                count: e.count as u32,
            })
            .collect()
    }

    /// Analyses the article for matching; `declared` lends the aliases of watchlist entities,
    /// so `entity:"…"` matches any name a declared entity goes by.
    pub fn analyze(&self, declared: &[EntitySpec]) -> AnalyzedArticle {
        let no_aliases: &[String] = &[];
        let entities: Vec<EntityRef> = self
            .entities
            .iter()
            .map(|e| EntityRef {
                text: &e.text,
                kind: e.kind,
                aliases: declared
                    .iter()
                    .find(|d| d.name == e.text)
                    .map_or(no_aliases, |d| d.aliases.as_slice()),
            })
            .collect();
        AnalyzedArticle::new(&ArticleText {
            title: &self.title,
            text: &self.text,
            lang: self.lang,
            site: self.site.as_deref(),
            feed: Some(&self.feed),
            tags: &self.tags,
            entities: &entities,
        })
    }
}

/// The topics of `specs` (compiled in the same order into `topics`) that `article` satisfies:
/// matched, in scope for its feed, and scoring at least the topic's `min_score`.
pub fn matching_topics(
    topics: &TopicSet,
    specs: &[TopicSpec],
    declared: &[EntitySpec],
    article: &Article,
) -> Vec<TopicMatch> {
    let analyzed = article.analyze(declared);
    topics
        .matches(&analyzed)
        .into_iter()
        .filter(|m| {
            let spec = &specs[m.topic];
            spec.watches(&article.feed) && m.score >= spec.min_score
        })
        .collect()
}

/// The alert payload for one topic match, within the payload's size bounds
/// ([`crate::alerts::payload::limits`]): the article's text is a stranger's, and what is stored
/// here is sent on every retry.
pub fn alert_payload(
    id: String,
    article: &Article,
    found: &TopicMatch,
    detected_at: DateTime<Utc>,
) -> AlertPayload {
    let mut payload = AlertPayload {
        id,
        kind: ALERT_TYPE.to_string(),
        topic: found.name.clone(),
        score: found.score,
        matched: found.matched.clone(),
        snippets: found.snippets.clone(),
        article: ArticleSummary {
            url: article.url.clone(),
            title: article.title.clone(),
            published: article.published.map(timestamp),
            feed: article.feed.clone(),
            lang: article.lang.map(|l| l.code().to_string()),
            site: article.site.clone(),
            authors: article.authors.clone(),
            summary: article.summary.clone(),
        },
        entities: article.entity_mentions(),
        duplicates: Vec::new(),
        detected_at: timestamp(detected_at),
        omitted: Omitted::default(),
    };
    payload.bound();
    payload
}

/// The host of a URL without a leading `www.`, as the payload's `site`.
pub fn site_of(url: &str) -> Option<String> {
    let host = url::Url::parse(url).ok()?.host_str()?.to_ascii_lowercase();
    Some(host.strip_prefix("www.").unwrap_or(&host).to_string())
}

/// A feed item's HTML content as text for matching. Feed content is attacker-controlled, so it
/// goes through the feed reader's linear scanner, never an HTML parser with super-linear cases.
pub fn html_to_text(fragment: &str) -> String {
    crate::feeds::html_to_text(fragment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_fragments_become_text() {
        assert_eq!(
            html_to_text("<p>Hello <b>world</b></p><p>again</p>"),
            "Hello world again"
        );
        assert_eq!(html_to_text("Tom &amp; Jerry"), "Tom & Jerry");
        assert_eq!(html_to_text("  plain  "), "plain");
    }

    #[test]
    fn alert_payloads_are_bounded() {
        use crate::alerts::payload::limits;
        use crate::entities::{Entity, EntityKind, Field};
        let article = Article {
            feed: "f".into(),
            tags: vec![],
            url: Some("https://example.org/a".into()),
            title: "T".repeat(5 << 20),
            text: String::new(),
            summary: Some("s".repeat(1 << 20)),
            published: None,
            authors: vec!["A".into(); 100],
            lang: None,
            site: Some("example.org".into()),
            text_source: TextSource::Feed,
            entities: (0..10_000)
                .map(|i| Entity {
                    text: format!("E{i}"),
                    kind: EntityKind::Person,
                    count: 10_000 - i,
                    first_field: Field::Body,
                    first_offset: 0,
                })
                .collect(),
        };
        let found = TopicMatch {
            topic: 0,
            name: "t".into(),
            score: 1.0,
            matched: vec!["x".into(); 1000],
            snippets: vec![format!("<mark>{}</mark>", "y".repeat(5000)); 1000],
            snippets_plain: vec![],
        };
        let payload = alert_payload("id".into(), &article, &found, Utc::now());
        assert_eq!(payload.article.title.chars().count(), limits::TITLE_CHARS);
        assert!(payload.article.title.ends_with('…'));
        assert!(payload.article.summary.unwrap().ends_with('…'));
        assert_eq!(payload.entities.len(), limits::ENTITIES);
        assert_eq!(payload.entities[0].text, "E0");
        assert_eq!(payload.entities.last().unwrap().text, "E49");
        assert_eq!(payload.snippets.len(), limits::SNIPPETS);
        assert!(payload.snippets[0].ends_with("</mark>…"));
        assert_eq!(payload.matched.len(), limits::MATCHED);
        assert_eq!(payload.article.authors.len(), limits::AUTHORS);
        assert_eq!(payload.omitted.entities, 10_000 - limits::ENTITIES);
    }

    #[test]
    fn site_drops_www() {
        assert_eq!(
            site_of("https://www.newsweek.com/x").as_deref(),
            Some("newsweek.com")
        );
        assert_eq!(site_of("not a url"), None);
    }
}
