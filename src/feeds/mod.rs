//! Feed bytes → items. Brings the bytes to UTF-8 ([`charset`]), reads RSS 0.90–2.0, RSS 1.0,
//! Atom 0.3 and 1.0 ([`xml_feed`] on the streaming reader of [`xml`]) and JSON Feed 1.0/1.1
//! ([`json`]) in one linear pass under hard limits ([`limits`]), turns titles and summaries into
//! plain text ([`text`]), reads dates leniently ([`date`]) and gives each item a stable identity
//! ([`item`]). Also reads the publisher's update hints (RSS `<ttl>`, `sy:updatePeriod`) in the
//! same pass. [`eval`] measures the reader on a corpus of feeds with expectations. Subscribing
//! has its pure parts here too: OPML lists in and out ([`opml`]), feed links on web pages
//! ([`discover`]), and names and URL identity of new feeds ([`subscription`]). Pure: no I/O
//! (except `eval`, which reads its corpus), no clock; nothing here may panic on any input.

mod capture;
pub mod charset;
mod date;
pub mod discover;
pub mod eval;
mod item;
pub mod limits;
mod names;
pub mod opml;
pub mod subscription;
mod text;
mod xml;
mod xml_feed;

mod json;

use std::time::Duration;

use chrono::{DateTime, Utc};

pub use date::parse_date;
pub use limits::FeedError;

/// One entry of a feed, reduced to what the rest of the pipeline needs. Serialisable, so an
/// item whose article page must be fetched again later can wait in the store.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeedItem {
    pub key: ItemKey,
    /// Plain text: entities decoded, tags stripped, whitespace collapsed, at most
    /// [`limits::MAX_TITLE_CHARS`] characters.
    pub title: String,
    pub link: Option<String>,
    /// Plain text, at most [`limits::MAX_SUMMARY_BYTES`]; the start of the content's text when
    /// the item has no summary of its own.
    pub summary: Option<String>,
    /// HTML, at most [`limits::MAX_CONTENT_BYTES`]. Content the feed gives as plain text
    /// (JSON Feed `content_text`, Atom `type="text"`) is escaped into HTML, so every consumer
    /// can treat this field the same way.
    pub content: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
}

/// The identity of an item within its feed: the publisher's guid/id when it gives one, else
/// the item's canonical link, else a hash of its content. The prefix records which, so a feed
/// that starts adding guids later cannot collide with keys made from links.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct ItemKey(String);

impl ItemKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(key: String) -> Self {
        Self(key)
    }

    /// The identity as users know it: the publisher's id or the link, or `sha256:…`.
    pub fn display_id(&self) -> &str {
        self.0
            .strip_prefix("id:")
            .or_else(|| self.0.strip_prefix("link:"))
            .unwrap_or(&self.0)
    }
}

#[derive(Debug, Clone)]
pub struct ParsedFeed {
    /// Plain text.
    pub title: Option<String>,
    pub link: Option<String>,
    pub items: Vec<FeedItem>,
    /// How often the publisher says the feed changes at most (`<ttl>`, `sy:updatePeriod`).
    pub update_hint: Option<Duration>,
    /// The feed's WebSub hubs (`atom:link rel="hub"`, JSON Feed `hubs`), in document order,
    /// at most [`MAX_HUBS`]; the HTTP `Link` header's are the fetcher's (see `websub`).
    pub hubs: Vec<String>,
    /// The feed's own URL as it names it (`atom:link rel="self"`, JSON Feed `feed_url`): the
    /// topic a WebSub hub knows it by.
    pub self_url: Option<String>,
}

/// More hubs than this in one document are ignored: one is used, a few are fallbacks.
pub const MAX_HUBS: usize = 4;

/// Parses a feed document as fetched: `content_type` is the HTTP header (for its charset),
/// `base_url` is the document's base (from Content-Location or the final URL) and resolves
/// relative links.
pub fn parse_fetched(
    bytes: &[u8],
    content_type: Option<&str>,
    base_url: Option<&str>,
) -> Result<ParsedFeed, FeedError> {
    let utf8 = charset::to_utf8(bytes, content_type);
    let text = String::from_utf8_lossy(&utf8);
    let body = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    match body.as_bytes().first() {
        Some(b'{') => json::parse(body, base_url),
        Some(b'<') => xml_feed::parse(body, base_url),
        // Servers print warnings before the feed; the feed starts at its first tag.
        _ => match body.find('<') {
            Some(at) => xml_feed::parse(&body[at..], base_url),
            None => Err(FeedError::NotAFeed("no markup and no JSON".into())),
        },
    }
}

/// Parses a feed document in any encoding its prolog or a BOM names (UTF-8 otherwise).
/// `base_url` resolves relative links.
pub fn parse(bytes: &[u8], base_url: Option<&str>) -> Result<ParsedFeed, FeedError> {
    parse_fetched(bytes, None, base_url)
}

/// The text of an HTML fragment from a feed (entities decoded, tags and scripts dropped,
/// blocks as whitespace, whitespace collapsed), by the same linear scanner that makes titles
/// and summaries plain text.
pub fn html_to_text(html: &str) -> String {
    text::html_to_text(html, usize::MAX, usize::MAX)
}

/// `href` resolved against `base`; as written (trimmed) when it cannot be.
fn resolve(base: Option<&url::Url>, href: &str) -> String {
    let href = href.trim();
    match url::Url::parse(href) {
        Ok(url) => url.into(),
        Err(url::ParseError::RelativeUrlWithoutBase) => base
            .and_then(|b| b.join(href).ok())
            .map_or_else(|| href.to_string(), String::from),
        Err(_) => href.to_string(),
    }
}

/// A link without the parts that differ between otherwise identical references: the fragment
/// and common tracking parameters.
pub fn canonical_link(link: &str) -> String {
    let Ok(mut url) = url::Url::parse(link) else {
        return link.to_string();
    };
    url.set_fragment(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| {
            !(k.starts_with("utm_")
                || matches!(
                    k.as_ref(),
                    "fbclid" | "gclid" | "yclid" | "mc_cid" | "mc_eid"
                ))
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websub_hub_and_self_links_are_found_in_atom_and_rss() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
<link href="https://news.example/"/>
<link rel="hub" href="https://hub.example/"/>
<link rel="self" href="/feed.atom"/>
<link rel="HUB" href="https://hub2.example/"/>
<entry><id>a</id><title>A</title><link rel="hub" href="https://not-a-feed-hub/"/></entry>
</feed>"#;
        let feed = parse(atom.as_bytes(), Some("https://news.example/x")).unwrap();
        assert_eq!(feed.hubs, ["https://hub.example/", "https://hub2.example/"]);
        assert_eq!(
            feed.self_url.as_deref(),
            Some("https://news.example/feed.atom")
        );
        assert_eq!(feed.link.as_deref(), Some("https://news.example/"));

        let rss = r#"<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title>T</title><link>https://news.example/</link>
<atom:link rel="self" href="https://news.example/rss" type="application/rss+xml"/>
<atom:link rel="hub" href="https://pubsubhubbub.example/"/>
<item><title>A</title><link>https://news.example/a</link></item></channel></rss>"#;
        let feed = parse(rss.as_bytes(), None).unwrap();
        assert_eq!(feed.hubs, ["https://pubsubhubbub.example/"]);
        assert_eq!(feed.self_url.as_deref(), Some("https://news.example/rss"));
        assert_eq!(feed.link.as_deref(), Some("https://news.example/"));

        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"T",
"feed_url":"https://news.example/feed.json",
"hubs":[{"type":"rssCloud","url":"https://cloud.example/"},{"type":"WebSub","url":"https://hub.example/"}],
"items":[{"id":"1","url":"https://news.example/1"}]}"#;
        let feed = parse(json.as_bytes(), None).unwrap();
        assert_eq!(feed.hubs, ["https://hub.example/"]);
        assert_eq!(
            feed.self_url.as_deref(),
            Some("https://news.example/feed.json")
        );
    }

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Example News</title><link>https://news.example/</link>
<item><title>With guid</title><link>https://news.example/a?utm_source=rss</link><guid>tag:a</guid>
<description>Summary A</description><pubDate>Fri, 25 Nov 2022 10:00:00 GMT</pubDate></item>
<item><title>Link only</title><link>/b?utm_medium=x#top</link></item>
<item><title>Nothing</title><description>Only text</description></item>
</channel></rss>"#;

    #[test]
    fn rss_items_get_identity_by_guid_then_link_then_hash() {
        let feed = parse(RSS.as_bytes(), Some("https://news.example/feed.xml")).unwrap();
        assert_eq!(feed.title.as_deref(), Some("Example News"));
        let keys: Vec<&str> = feed.items.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys[0], "id:tag:a");
        assert_eq!(keys[1], "link:https://news.example/b");
        assert!(keys[2].starts_with("sha256:"), "{}", keys[2]);
        assert_eq!(feed.items[0].summary.as_deref(), Some("Summary A"));
        assert_eq!(
            feed.items[0].published.map(|d| d.to_rfc3339()).as_deref(),
            Some("2022-11-25T10:00:00+00:00")
        );
        assert_eq!(
            feed.items[1].link.as_deref(),
            Some("https://news.example/b?utm_medium=x#top")
        );
    }

    #[test]
    fn hash_identity_is_stable_across_parses() {
        let a = parse(RSS.as_bytes(), None).unwrap();
        let b = parse(RSS.as_bytes(), None).unwrap();
        assert_eq!(a.items[2].key, b.items[2].key);
    }

    #[test]
    fn atom_and_json_feeds_parse() {
        let atom = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
<entry><id>urn:1</id><title>Atom entry</title><link href="https://a.example/1"/>
<author><name>Isabel van Brugen</name></author><summary>S</summary><updated>2022-11-25T10:00:00Z</updated></entry></feed>"#;
        let feed = parse(atom.as_bytes(), None).unwrap();
        assert_eq!(feed.items[0].key.as_str(), "id:urn:1");
        assert_eq!(feed.items[0].authors, vec!["Isabel van Brugen"]);
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[{"id":"7","url":"https://j.example/7","title":"Json item","content_text":"Body"}]}"#;
        let feed = parse(json.as_bytes(), None).unwrap();
        assert_eq!(feed.items[0].key.as_str(), "id:7");
        assert_eq!(feed.items[0].link.as_deref(), Some("https://j.example/7"));
    }

    #[test]
    fn windows_1251_feed_decodes_from_its_prolog() {
        let xml = "<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss version=\"2.0\"><channel><title>Новости</title><item><guid>1</guid><title>Мобилизация</title></item></channel></rss>";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(xml);
        let feed = parse(&bytes, None).unwrap();
        assert_eq!(feed.title.as_deref(), Some("Новости"));
        assert_eq!(feed.items[0].title, "Мобилизация");
    }

    #[test]
    fn update_hints_come_from_ttl_and_the_syndication_module() {
        let ttl = "<rss version=\"2.0\"><channel><title>T</title><ttl>30</ttl></channel></rss>";
        let feed = parse_fetched(ttl.as_bytes(), None, None).unwrap();
        assert_eq!(feed.update_hint, Some(Duration::from_secs(1800)));
        let sy = "<rss version=\"2.0\" xmlns:sy=\"http://purl.org/rss/1.0/modules/syndication/\"><channel><title>T</title><sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency></channel></rss>";
        let feed = parse_fetched(sy.as_bytes(), None, None).unwrap();
        assert_eq!(feed.update_hint, Some(Duration::from_secs(1800)));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse(b"", None).is_err());
        assert!(parse(b"<html><body>not a feed</body></html>", None).is_err());
        assert!(parse(&[0xff, 0xfe, 0x00, 0x3c], None).is_err());
    }
}
