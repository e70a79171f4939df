//! Feed discovery on a web page: the feeds a page announces with
//! `<link rel="alternate" type="application/rss+xml|atom+xml|feed+json" href=…>` (resolved
//! against the page's `<base>` and URL), and the places where sites without such links commonly
//! keep their feed. Pure: bytes in, candidate URLs out. It must never fetch or judge a candidate:
//! whether one is a feed is for the caller to find out by fetching and parsing it.

use dom_query::Document;
use url::Url;

/// A feed a page links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedLink {
    pub url: Url,
    /// The link's `title`, e.g. "Comments Feed".
    pub title: Option<String>,
    /// The media type as written on the link, lowercased.
    pub media_type: String,
}

/// The media types of feed links. `application/rdf+xml` is RSS 1.0; plain `application/json`
/// is left out because WordPress announces its REST API with it.
const FEED_TYPES: &[&str] = &[
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/rdf+xml",
];

/// Where sites keep a feed they do not link to, most common first: WordPress and Ghost (`/feed`,
/// `/rss`), static site generators (`/rss.xml`, `/atom.xml`, `/feed.xml`, Hugo's `/index.xml`),
/// Blogger (`/feeds/posts/default`), JSON Feed (`/feed.json`). Squarespace's `?format=rss` is
/// tried on the page itself.
pub const COMMON_PATHS: &[&str] = &[
    "/feed",
    "/rss",
    "/rss.xml",
    "/atom.xml",
    "/feed.xml",
    "/index.xml",
    "/feeds/posts/default",
    "/feed.json",
];

/// The feeds a page links to, in the page's order, each URL once, with comment feeds last (a
/// site's own feed is what people mean; WordPress lists "Comments Feed" right after it).
pub fn feed_links(bytes: &[u8], content_type: Option<&str>, page_url: &Url) -> Vec<FeedLink> {
    let bytes = &bytes[..bytes.len().min(crate::extract::MAX_INPUT_BYTES)];
    let (html, _) = crate::extract::decode_html(bytes, content_type);
    let html = crate::extract::prestrip::strip_raw_text(&html);
    let doc = Document::from(html.as_ref());
    let mut base = page_url.clone();
    let mut links = Vec::new();
    let mut seen_base = false;
    for node in doc.root().descendants_it() {
        let Some(name) = node.qual_name_ref().map(|q| q.local.clone()) else {
            continue;
        };
        match &*name {
            // Only the first `<base href>` counts, as in browsers.
            "base" if !seen_base => {
                if let Some(href) = node.attr("href") {
                    seen_base = true;
                    if let Ok(url) = page_url.join(href.trim()) {
                        base = url;
                    }
                }
            }
            "link" => {
                let alternate = node.attr("rel").is_some_and(|rel| {
                    rel.split_ascii_whitespace()
                        .any(|t| t.eq_ignore_ascii_case("alternate"))
                });
                let Some(media_type) = node.attr("type").map(|t| media_type(&t)) else {
                    continue;
                };
                if !alternate || !FEED_TYPES.contains(&media_type.as_str()) {
                    continue;
                }
                let Some(url) = node
                    .attr("href")
                    .and_then(|href| base.join(href.trim()).ok())
                    .filter(|url| matches!(url.scheme(), "http" | "https"))
                else {
                    continue;
                };
                if links.iter().any(|l: &FeedLink| l.url == url) {
                    continue;
                }
                let title = node.attr("title").and_then(|t| {
                    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
                    (!t.is_empty()).then_some(t)
                });
                links.push(FeedLink {
                    url,
                    title,
                    media_type,
                });
            }
            _ => {}
        }
    }
    links.sort_by_key(is_comments_feed);
    links
}

/// `type="Application/RSS+XML; charset=utf-8"` → `application/rss+xml`.
fn media_type(raw: &str) -> String {
    raw.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn is_comments_feed(link: &FeedLink) -> bool {
    link.title
        .as_deref()
        .is_some_and(|t| t.to_lowercase().contains("comment"))
        || link.url.path().contains("/comments/")
}

/// The places [`COMMON_PATHS`] name on the page's site, then the page with `?format=rss`.
pub fn common_locations(page_url: &Url) -> Vec<Url> {
    let mut urls: Vec<Url> = COMMON_PATHS
        .iter()
        .filter_map(|path| page_url.join(path).ok())
        .collect();
    if page_url.query().is_none() {
        let mut squarespace = page_url.clone();
        squarespace.set_fragment(None);
        squarespace.set_query(Some("format=rss"));
        urls.push(squarespace);
    }
    urls.retain(|url| url != page_url);
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://blog.example/posts/hello?x=1").unwrap()
    }

    fn urls(links: &[FeedLink]) -> Vec<&str> {
        links.iter().map(|l| l.url.as_str()).collect()
    }

    #[test]
    fn alternate_links_of_feed_types_are_found_and_resolved() {
        let html = r#"<!doctype html><html><head><title>Blog</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="Comments Feed" href="/comments/feed/">
<link rel="alternate" type="application/rss+xml" title=" Blog  RSS " href="/feed/">
<link rel="Alternate" type="Application/Atom+XML; charset=utf-8" href="atom.xml">
<link rel="alternate" type="application/feed+json" href="https://cdn.example/feed.json">
<link rel="alternate" type="application/json" href="/wp-json/wp/v2/posts/1">
<link rel="alternate" hreflang="de" href="/de/">
<link rel="alternate" type="application/rss+xml" href="/feed/">
<link rel="alternate" type="application/rss+xml" href="javascript:void(0)">
</head><body></body></html>"#;
        let links = feed_links(html.as_bytes(), None, &page());
        assert_eq!(
            urls(&links),
            vec![
                "https://blog.example/feed/",
                "https://blog.example/posts/atom.xml",
                "https://cdn.example/feed.json",
                "https://blog.example/comments/feed/",
            ]
        );
        assert_eq!(links[0].title.as_deref(), Some("Blog RSS"));
        assert_eq!(links[1].media_type, "application/atom+xml");
    }

    #[test]
    fn base_href_resolves_relative_links() {
        let html = r#"<html><head><base href="https://other.example/site/"><base href="/ignored/">
<link rel="alternate" type="application/atom+xml" href="feed.atom"></head></html>"#;
        let links = feed_links(html.as_bytes(), Some("text/html"), &page());
        assert_eq!(urls(&links), vec!["https://other.example/site/feed.atom"]);
    }

    #[test]
    fn links_in_scripts_and_comments_do_not_count() {
        let html = r#"<html><head><!-- <link rel="alternate" type="application/rss+xml" href="/old.xml"> -->
<script>document.write('<link rel="alternate" type="application/rss+xml" href="/js.xml">')</script>
</head><body><p>no feed here</p></body></html>"#;
        assert!(feed_links(html.as_bytes(), None, &page()).is_empty());
    }

    #[test]
    fn common_locations_are_on_the_site_root_then_the_page() {
        let got: Vec<String> = common_locations(&Url::parse("https://blog.example/about").unwrap())
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(got[0], "https://blog.example/feed");
        assert_eq!(got[6], "https://blog.example/feeds/posts/default");
        assert_eq!(got.last().unwrap(), "https://blog.example/about?format=rss");
        assert_eq!(got.len(), COMMON_PATHS.len() + 1);
        // A page that is itself a common location is not tried again.
        let on_feed = common_locations(&Url::parse("https://blog.example/feed").unwrap());
        assert!(
            !on_feed
                .iter()
                .any(|u| u.as_str() == "https://blog.example/feed")
        );
    }
}
