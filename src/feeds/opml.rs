//! OPML subscription lists, read and written: the feeds of an OPML 1.0 or 2.0 file (each
//! `outline` with an `xmlUrl`) with the folders they sit in, and an OPML 2.0 document for a list
//! of feeds. Reading forgives what exports from Feedly, Inoreader, Miniflux, NetNewsWire and
//! older readers get wrong (no `version`, no `<head>`, HTML entities and double escaping in
//! titles, `feed://` URLs, one feed in several folders, any charset its prolog names) by running
//! on the feed parser's streaming reader with its limits. Pure: bytes in, values out; it must
//! never fetch, touch files, or decide names (see [`super::subscription`] and the CLI).

use std::collections::HashMap;

use super::limits::FeedError;
use super::subscription::{feed_url, url_key};
use super::xml::{self, Handler, Opened, Tag};

/// A feed listed in an OPML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    /// An absolute http(s) URL (see [`super::subscription::feed_url`]).
    pub url: String,
    /// The outline's `text`, else its `title`: plain text, entities decoded.
    pub title: Option<String>,
    pub html_url: Option<String>,
    /// The labels of the folders around it, outermost first, then those of its `category`
    /// attribute, each once (a feed listed in several folders gathers all of them).
    pub categories: Vec<String>,
}

/// An outline that names a feed feedwatch cannot subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    pub title: Option<String>,
    pub url: String,
    pub reason: &'static str,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opml {
    /// The `<head><title>`.
    pub title: Option<String>,
    /// In document order, each URL once.
    pub feeds: Vec<OpmlFeed>,
    pub unusable: Vec<Unusable>,
    /// Outlines that repeated a feed listed earlier (same URL, see
    /// [`super::subscription::url_key`]); their folders were merged into the first.
    pub repeated: usize,
    /// Why reading stopped before the end of a broken or truncated file; the feeds before that
    /// point are in `feeds`.
    pub broken: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpmlError {
    #[error("not an OPML file: {0}")]
    NotOpml(&'static str),
    #[error(transparent)]
    Limits(#[from] FeedError),
}

/// Reads an OPML document.
pub fn parse(bytes: &[u8]) -> Result<Opml, OpmlError> {
    let utf8 = super::charset::to_utf8(bytes, None);
    let text = String::from_utf8_lossy(&utf8);
    let doc = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let mut reader = OpmlReader::default();
    let outcome = xml::read(doc, None, &mut reader)?;
    let OpmlReader {
        root,
        title,
        mut opml,
        ..
    } = reader;
    match root {
        Some(Root::Opml) => {}
        _ if !opml.feeds.is_empty() => {}
        Some(Root::Feed) => {
            return Err(OpmlError::NotOpml(
                "it is a feed (add it with `feedwatch feeds add`)",
            ));
        }
        Some(Root::Html) => return Err(OpmlError::NotOpml("it is an HTML page")),
        _ => return Err(OpmlError::NotOpml("no <opml> element and no feed outlines")),
    }
    opml.title = clean(&title);
    opml.broken = outcome.broken;
    Ok(opml)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Opml,
    Feed,
    Html,
    Other,
}

/// What an open element means for the outlines inside it.
enum Frame {
    /// A folder: its label is a category of every feed inside.
    Folder(Option<String>),
    Head,
    HeadTitle,
    Other,
}

#[derive(Default)]
struct OpmlReader {
    root: Option<Root>,
    /// One per open element; the reader's depth limit bounds it.
    frames: Vec<Frame>,
    title: String,
    opml: Opml,
    /// `url_key` → index in `opml.feeds`.
    seen: HashMap<String, usize>,
}

impl OpmlReader {
    fn outline(&mut self, tag: &Tag<'_, '_>) -> Frame {
        let label = ["text", "title"]
            .into_iter()
            .find_map(|name| tag.attr(name).and_then(|v| clean(&v)));
        let kind = tag.attr("type").unwrap_or_default().to_ascii_lowercase();
        let is_feed_type = matches!(kind.trim(), "rss" | "atom" | "feed" | "json");
        // `xmlUrl` is the feed; old lists with type="rss" put it in `url`.
        let raw_url = tag
            .attr("xmlUrl")
            .or_else(|| is_feed_type.then(|| tag.attr("url")).flatten())
            .filter(|u| !u.trim().is_empty());
        let Some(raw_url) = raw_url else {
            // An outline without a feed groups the outlines inside it, except a feed-typed
            // one: that is its exporter's mistake, not a folder.
            if is_feed_type {
                self.opml.unusable.push(Unusable {
                    title: label,
                    url: String::new(),
                    reason: "no xmlUrl",
                });
                return Frame::Other;
            }
            return Frame::Folder(label);
        };
        // `attr` decoded the references once; a URL escaped twice (`&amp;amp;`) is fixed by a
        // second pass, which leaves a URL without references as it is.
        let Some(url) = feed_url(&xml::unescape(&raw_url)) else {
            self.opml.unusable.push(Unusable {
                title: label,
                url: raw_url.trim().to_string(),
                reason: "not an absolute http(s) URL",
            });
            return Frame::Other;
        };
        let mut categories: Vec<String> = self
            .frames
            .iter()
            .filter_map(|frame| match frame {
                Frame::Folder(label) => label.clone(),
                _ => None,
            })
            .collect();
        // OPML 2.0: comma-separated, slash-delimited paths ("/News/World,/Daily").
        if let Some(paths) = tag.attr("category") {
            categories.extend(
                paths
                    .split(',')
                    .flat_map(|path| path.split('/'))
                    .filter_map(clean),
            );
        }
        let key = url_key(&url);
        if let Some(&at) = self.seen.get(&key) {
            self.opml.repeated += 1;
            let first = &mut self.opml.feeds[at];
            for category in categories {
                push_once(&mut first.categories, category);
            }
            return Frame::Other;
        }
        let mut unique = Vec::new();
        for category in categories {
            push_once(&mut unique, category);
        }
        self.seen.insert(key, self.opml.feeds.len());
        self.opml.feeds.push(OpmlFeed {
            url,
            title: label,
            html_url: tag.attr("htmlUrl").and_then(|u| feed_url(&u)),
            categories: unique,
        });
        // Outlines inside a feed (some readers nest a feed's items) are not in a folder of it.
        Frame::Other
    }
}

impl<'a> Handler<'a> for OpmlReader {
    fn start(&mut self, tag: &Tag<'a, '_>) -> Result<Opened, FeedError> {
        if self.root.is_none() {
            self.root = Some(if tag.is("opml") {
                Root::Opml
            } else if tag.is("rss") || tag.is("feed") || tag.is("rdf") {
                Root::Feed
            } else if tag.is("html") {
                Root::Html
            } else {
                Root::Other
            });
        }
        let in_head = || self.frames.iter().any(|f| matches!(f, Frame::Head));
        let frame = if tag.is("outline") {
            self.outline(tag)
        } else if tag.is("head") {
            Frame::Head
        } else if tag.is("title") && in_head() {
            Frame::HeadTitle
        } else {
            Frame::Other
        };
        self.frames.push(frame);
        Ok(Opened::Kept)
    }

    fn end(&mut self) {
        self.frames.pop();
    }

    fn text(&mut self, text: &str) {
        if let Some(Frame::HeadTitle) = self.frames.last()
            && self.title.len() < MAX_TITLE_BYTES
        {
            self.title.push_str(text);
        }
    }

    fn unknown_reference(&mut self, name: &str) {
        self.text(&format!("&{name};"));
    }
}

/// A title longer than this is not a title; the rest is dropped.
const MAX_TITLE_BYTES: usize = 4096;

/// Plain text from an attribute or title: references decoded once more (exporters escape
/// `&amp;` twice), tags dropped, whitespace collapsed. None when nothing is left.
fn clean(raw: &str) -> Option<String> {
    let text = super::html_to_text(&xml::unescape(raw));
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

fn push_once(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

/// A feed to write into an OPML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFeed {
    /// Written as the outline's `text` and `title`.
    pub title: String,
    pub url: String,
    /// The first is the folder the feed is written in; all of them, when there are several,
    /// also go into its `category` attribute, so readers that know no folders keep them.
    pub tags: Vec<String>,
}

/// An OPML 2.0 document listing `feeds`: those without tags at the top, the others in a folder
/// named after their first tag, folders in the order their first feed comes. `created` is the
/// `dateCreated` (RFC 822), given by the caller because this module reads no clock.
pub fn write(title: &str, created: Option<&str>, feeds: &[ExportFeed]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head>\n",
    );
    out.push_str(&format!("    <title>{}</title>\n", escape(title)));
    if let Some(created) = created {
        out.push_str(&format!(
            "    <dateCreated>{}</dateCreated>\n",
            escape(created)
        ));
    }
    out.push_str("  </head>\n  <body>\n");
    let mut folders: Vec<(&str, Vec<&ExportFeed>)> = Vec::new();
    for feed in feeds {
        match feed.tags.first() {
            None => outline(&mut out, feed, "    "),
            Some(tag) => match folders.iter_mut().find(|(name, _)| name == tag) {
                Some((_, list)) => list.push(feed),
                None => folders.push((tag, vec![feed])),
            },
        }
    }
    for (name, list) in folders {
        let name = escape(name);
        out.push_str(&format!("    <outline text=\"{name}\" title=\"{name}\">\n"));
        for feed in list {
            outline(&mut out, feed, "      ");
        }
        out.push_str("    </outline>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

fn outline(out: &mut String, feed: &ExportFeed, indent: &str) {
    let title = escape(&feed.title);
    out.push_str(&format!(
        "{indent}<outline type=\"rss\" text=\"{title}\" title=\"{title}\" xmlUrl=\"{}\"",
        escape(&feed.url)
    ));
    if feed.tags.len() > 1 {
        let paths: Vec<String> = feed.tags.iter().map(|t| format!("/{t}")).collect();
        out.push_str(&format!(" category=\"{}\"", escape(&paths.join(","))));
    }
    out.push_str("/>\n");
}

/// Text for an XML attribute or element: the markup characters escaped, line breaks and tabs
/// as references (an attribute's would otherwise be read back as spaces), other control
/// characters (not allowed in XML 1.0) dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feeds(doc: &str) -> Vec<OpmlFeed> {
        parse(doc.as_bytes()).unwrap().feeds
    }

    #[test]
    fn nested_folders_become_categories_outermost_first() {
        let doc = r#"<?xml version="1.0"?><opml version="2.0"><head><title>My &amp; feeds</title></head><body>
<outline text="News"><outline text="World"><outline type="rss" text="A" xmlUrl="https://a.example/rss"/></outline>
<outline type="rss" title="B" xmlUrl="https://b.example/rss" htmlUrl="https://b.example/"/></outline>
<outline type="rss" text="C" xmlUrl="https://c.example/rss"/></body></opml>"#;
        let opml = parse(doc.as_bytes()).unwrap();
        assert_eq!(opml.title.as_deref(), Some("My & feeds"));
        let got: Vec<(&str, Option<&str>, Vec<&str>)> = opml
            .feeds
            .iter()
            .map(|f| {
                (
                    f.url.as_str(),
                    f.title.as_deref(),
                    f.categories.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("https://a.example/rss", Some("A"), vec!["News", "World"]),
                ("https://b.example/rss", Some("B"), vec!["News"]),
                ("https://c.example/rss", Some("C"), vec![]),
            ]
        );
        assert_eq!(
            opml.feeds[1].html_url.as_deref(),
            Some("https://b.example/")
        );
    }

    #[test]
    fn sloppy_exports_are_read() {
        // No version, no head, undeclared HTML entities, double escaping, a stray `&` in a
        // URL, feed:// URLs, lowercase attribute names, a folder with only a title.
        let doc = "<opml><body><outline title=\"Caf&eacute; &amp;amp; Cr&egrave;me\">\
<outline text=\"Le Caf&eacute; &amp;amp; co\" xmlurl=\"https://x.example/rss?a=1&b=2\"/>\
<outline text=\"Old\" xmlUrl=\" feed://old.example/rss \"/></outline></body></opml>";
        let got = feeds(doc);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].title.as_deref(), Some("Le Café & co"));
        assert_eq!(got[0].url, "https://x.example/rss?a=1&b=2");
        assert_eq!(got[0].categories, vec!["Café & Crème"]);
        assert_eq!(got[1].url, "http://old.example/rss");
    }

    #[test]
    fn a_feed_in_several_folders_is_listed_once_with_all_of_them() {
        let doc = r#"<opml version="1.0"><body>
<outline text="Tech"><outline text="HN" xmlUrl="https://hn.example/rss"/></outline>
<outline text="Daily"><outline text="HN again" xmlUrl="http://hn.example/rss/"/></outline>
</body></opml>"#;
        let opml = parse(doc.as_bytes()).unwrap();
        assert_eq!(opml.feeds.len(), 1);
        assert_eq!(opml.repeated, 1);
        assert_eq!(opml.feeds[0].title.as_deref(), Some("HN"));
        assert_eq!(opml.feeds[0].categories, vec!["Tech", "Daily"]);
    }

    #[test]
    fn category_attribute_paths_add_categories() {
        let doc = r#"<opml version="2.0"><body><outline text="F" xmlUrl="https://f.example/" category="/News/World, /Daily"/></body></opml>"#;
        assert_eq!(feeds(doc)[0].categories, vec!["News", "World", "Daily"]);
    }

    #[test]
    fn unusable_outlines_are_reported_not_imported() {
        let doc = r#"<opml version="2.0"><body>
<outline type="rss" text="No URL"/>
<outline type="rss" text="Relative" xmlUrl="/rss.xml"/>
<outline type="link" text="A link" url="https://example.org/page"/>
<outline text="Ok" xmlUrl="https://ok.example/feed"/></body></opml>"#;
        let opml = parse(doc.as_bytes()).unwrap();
        assert_eq!(opml.feeds.len(), 1);
        let reasons: Vec<_> = opml.unusable.iter().map(|u| u.reason).collect();
        assert_eq!(reasons, vec!["no xmlUrl", "not an absolute http(s) URL"]);
    }

    #[test]
    fn a_cut_off_file_keeps_the_feeds_before_the_cut() {
        let doc = r#"<opml version="2.0"><body><outline text="A" xmlUrl="https://a.example/"/><outline text="B" xmlUrl="https://b.exa"#;
        let opml = parse(doc.as_bytes()).unwrap();
        assert_eq!(opml.feeds.len(), 1);
        assert!(opml.broken.is_some());
    }

    #[test]
    fn charsets_from_the_prolog_are_honoured() {
        let doc = "<?xml version=\"1.0\" encoding=\"windows-1251\"?><opml><body><outline text=\"Новости\"><outline text=\"Медуза\" xmlUrl=\"https://meduza.io/rss/all\"/></outline></body></opml>";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(doc);
        let got = parse(&bytes).unwrap().feeds;
        assert_eq!(got[0].title.as_deref(), Some("Медуза"));
        assert_eq!(got[0].categories, vec!["Новости"]);
    }

    #[test]
    fn other_documents_are_not_opml() {
        let rss = parse(b"<rss version=\"2.0\"><channel><title>T</title></channel></rss>");
        assert!(
            matches!(rss, Err(OpmlError::NotOpml(why)) if why.contains("feeds add")),
            "{rss:?}"
        );
        assert!(parse(b"<html><body><p>hi</p></body></html>").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"just text").is_err());
        // An OPML file without feeds is a valid, empty list.
        assert_eq!(
            parse(b"<opml version=\"2.0\"><body/></opml>")
                .unwrap()
                .feeds,
            vec![]
        );
    }

    #[test]
    fn written_documents_read_back_the_same() {
        let list = vec![
            ExportFeed {
                title: "plain".into(),
                url: "https://p.example/rss?a=1&b=%222%22".into(),
                tags: vec![],
            },
            ExportFeed {
                title: "Tom & Jerry <3".into(),
                url: "https://t.example/atom".into(),
                tags: vec!["cartoons".into(), "classics".into(), "en".into()],
            },
            ExportFeed {
                title: "second".into(),
                url: "https://s.example/feed.json".into(),
                tags: vec!["cartoons".into()],
            },
        ];
        let doc = write("feedwatch", Some("Sat, 01 Jan 2028 00:00:00 GMT"), &list);
        assert!(
            doc.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">")
        );
        let opml = parse(doc.as_bytes()).unwrap();
        assert_eq!(opml.title.as_deref(), Some("feedwatch"));
        let back: Vec<ExportFeed> = opml
            .feeds
            .into_iter()
            .map(|f| ExportFeed {
                title: f.title.unwrap_or_default(),
                url: f.url,
                tags: f.categories,
            })
            .collect();
        // Untagged feeds come first, then each folder's feeds.
        assert_eq!(
            back,
            vec![list[0].clone(), list[1].clone(), list[2].clone()]
        );
        assert_eq!(doc.matches("<outline text=\"cartoons\"").count(), 1);
    }
}
