//! Feed bytes → items. Brings the bytes to UTF-8 (`charset`), parses RSS 0.9x–2.0, Atom and
//! JSON Feed with feed-rs, and gives each item a stable identity. Also reads the publisher's
//! update hints (RSS `<ttl>`, `sy:updatePeriod`). Pure: no I/O, no clock.

pub mod charset;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// One entry of a feed, reduced to what the rest of the pipeline needs.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    pub key: ItemKey,
    pub title: String,
    pub link: Option<String>,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
}

/// The identity of an item within its feed: the publisher's guid/id when it gives one, else
/// the item's canonical link, else a hash of its content. The prefix records which, so a feed
/// that starts adding guids later cannot collide with keys made from links.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    pub title: Option<String>,
    pub link: Option<String>,
    pub items: Vec<FeedItem>,
    /// How often the publisher says the feed changes at most (`<ttl>`, `sy:updatePeriod`).
    pub update_hint: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
#[error("not a readable RSS, Atom or JSON feed: {0}")]
pub struct FeedError(String);

/// Parses a feed document as fetched: `content_type` is the HTTP header (for its charset),
/// `base_url` resolves relative item links.
pub fn parse_fetched(
    bytes: &[u8],
    content_type: Option<&str>,
    base_url: Option<&str>,
) -> Result<ParsedFeed, FeedError> {
    let utf8 = charset::to_utf8(bytes, content_type);
    let mut feed = parse(&utf8, base_url)?;
    feed.update_hint = feed.update_hint.or_else(|| syndication_period(&utf8));
    Ok(feed)
}

/// The `sy:updatePeriod` / `sy:updateFrequency` pair of the RSS syndication module.
fn syndication_period(utf8: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(&utf8[..utf8.len().min(64 * 1024)]).ok()?;
    let element = |name: &str| {
        let open = format!("<sy:{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find('<')? + start;
        Some(text[start..end].trim().to_ascii_lowercase())
    };
    let period = match element("updatePeriod")?.as_str() {
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 604_800,
        "monthly" => 2_592_000,
        "yearly" => 31_536_000,
        _ => return None,
    };
    let frequency: u64 = element("updateFrequency")
        .and_then(|f| f.parse().ok())
        .filter(|f| *f > 0)
        .unwrap_or(1);
    Some(Duration::from_secs(period / frequency))
}

/// Parses a UTF-8 feed document. `base_url` resolves relative item links.
pub fn parse(bytes: &[u8], base_url: Option<&str>) -> Result<ParsedFeed, FeedError> {
    // An empty generated id tells us the publisher gave none, so identity falls back to the
    // link or content hash below rather than to feed-rs's title-based hash.
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base_url)
        .id_generator(|_, _, _| String::new())
        .build();
    let feed = parser
        .parse(bytes)
        .map_err(|err| FeedError(err.to_string()))?;
    let items = feed
        .entries
        .into_iter()
        .map(|entry| item_from_entry(entry, base_url))
        .collect();
    Ok(ParsedFeed {
        title: feed.title.map(|t| t.content.trim().to_string()),
        link: feed.links.first().map(|l| l.href.clone()),
        items,
        update_hint: feed
            .ttl
            .filter(|m| *m > 0)
            .map(|minutes| Duration::from_secs(u64::from(minutes) * 60)),
    })
}

fn item_from_entry(entry: feed_rs::model::Entry, base_url: Option<&str>) -> FeedItem {
    let link = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|rel| rel == "alternate"))
        .or_else(|| entry.links.first())
        .map(|l| resolve(base_url, &l.href));
    let title = entry
        .title
        .map(|t| t.content.trim().to_string())
        .unwrap_or_default();
    let summary = entry
        .summary
        .map(|t| t.content)
        .filter(|s| !s.trim().is_empty());
    let content = entry
        .content
        .and_then(|c| c.body)
        .filter(|s| !s.trim().is_empty());
    let published = entry.published.or(entry.updated);
    let authors = entry
        .authors
        .into_iter()
        .filter_map(|p| {
            p.name
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
        })
        .collect();
    let id = entry.id.trim();
    let key = if !id.is_empty() {
        ItemKey(format!("id:{id}"))
    } else if let Some(link) = &link {
        ItemKey(format!("link:{}", canonical_link(link)))
    } else {
        let mut hasher = Sha256::new();
        for part in [
            &title,
            summary.as_deref().unwrap_or(""),
            content.as_deref().unwrap_or(""),
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        let hex: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        ItemKey(format!("sha256:{hex}"))
    };
    FeedItem {
        key,
        title,
        link,
        summary,
        content,
        published,
        authors,
    }
}

fn resolve(base: Option<&str>, href: &str) -> String {
    let href = href.trim();
    match base.and_then(|b| url::Url::parse(b).ok()) {
        Some(base) => base
            .join(href)
            .map_or_else(|_| href.to_string(), String::from),
        None => href.to_string(),
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
