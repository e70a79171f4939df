//! The feed reader never panics: not on arbitrary bytes, not on the corpus feeds cut, spliced
//! and sprinkled with bytes, not on soup made of the markup feeds are built from. Whatever
//! parses keeps its caps. A few seconds in all.

use proptest::prelude::*;

use feedwatch::feeds::limits::{MAX_CONTENT_BYTES, MAX_SUMMARY_BYTES, MAX_TITLE_CHARS};
use feedwatch::feeds::{ParsedFeed, parse_fetched};

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/feeds");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("corpus")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| !p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| std::fs::read(p).expect("readable"))
        .collect()
}

fn check(feed: &ParsedFeed) -> Result<(), TestCaseError> {
    for item in &feed.items {
        prop_assert!(item.title.chars().count() <= MAX_TITLE_CHARS);
        prop_assert!(
            item.summary
                .as_ref()
                .is_none_or(|s| s.len() <= MAX_SUMMARY_BYTES)
        );
        prop_assert!(
            item.content
                .as_ref()
                .is_none_or(|c| c.len() <= MAX_CONTENT_BYTES)
        );
        prop_assert!(!item.key.as_str().is_empty());
    }
    Ok(())
}

/// What feeds are made of, to build documents that get past the first tag.
const SOUP: &[&str] = &[
    "<?xml version=\"1.0\"?>",
    "<rss version=\"2.0\">",
    "</rss>",
    "<channel>",
    "</channel>",
    "<item>",
    "</item>",
    "<feed xmlns=\"http://www.w3.org/2005/Atom\">",
    "<entry>",
    "</entry>",
    "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">",
    "<title>",
    "</title>",
    "<title type=\"xhtml\">",
    "<content type=\"html\">",
    "<content mode=\"base64\">",
    "</content>",
    "<div xmlns=\"http://www.w3.org/1999/xhtml\">",
    "</div>",
    "<description>",
    "</description>",
    "<link>",
    "</link>",
    "<link href=\"../x\" rel=\"alternate\"/>",
    "<guid isPermaLink=\"true\">",
    "</guid>",
    "<author><name>",
    "</name></author>",
    "<dc:creator>",
    "</dc:creator>",
    "<pubDate>",
    "</pubDate>",
    "Sat, 13 Dec 2003 18:30:02 GMT",
    "2003-12-13T18:30Z",
    " xml:base=\"a/\"",
    "<x xml:base=\"http://example.org/b/\">",
    "</x>",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<!DOCTYPE rss [<!ENTITY e \"&e;&e;\">]>",
    "&amp;",
    "&lt;p&gt;",
    "&nbsp;",
    "&e;",
    "&#150;",
    "&#xD800;",
    "&",
    "<",
    ">",
    "<br>",
    "<script>",
    "</script>",
    "text ",
    "é",
    "\u{feff}",
    "{\"version\":\"https://jsonfeed.org/version/1.1\",\"items\":[{\"id\":1,\"title\":\"",
    "\"}]}",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(feed) = parse_fetched(&bytes, None, None) {
            check(&feed)?;
        }
        let _ = parse_fetched(&bytes, Some("text/xml; charset=windows-1251"), Some("http://e.org/f"));
    }

    #[test]
    fn markup_soup_never_panics(
        parts in prop::collection::vec(prop::sample::select(SOUP), 0..80),
        base in prop::option::of(prop::sample::select(&["http://example.org/a/b", "not a url", ""][..])),
    ) {
        let doc: String = parts.concat();
        if let Ok(feed) = parse_fetched(doc.as_bytes(), None, base) {
            check(&feed)?;
        }
    }

    #[test]
    fn mutated_corpus_feeds_never_panic(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), 0u8..4, prop::collection::vec(any::<u8>(), 0..8)),
            1..6,
        ),
    ) {
        thread_local! {
            static CORPUS: Vec<Vec<u8>> = corpus();
        }
        let mut doc = CORPUS.with(|c| which.get(c).clone());
        for (at, kind, bytes) in edits {
            if doc.is_empty() {
                break;
            }
            let at = at.index(doc.len());
            match kind {
                // Cut the rest off, as a dropped connection does.
                0 => doc.truncate(at),
                // Drop a few bytes.
                1 => {
                    let end = (at + bytes.len() + 1).min(doc.len());
                    doc.drain(at..end);
                }
                // Insert bytes.
                2 => {
                    doc.splice(at..at, bytes);
                }
                // Repeat a slice of the document.
                _ => {
                    let end = (at + 64).min(doc.len());
                    let slice = doc[at..end].to_vec();
                    doc.splice(at..at, slice);
                }
            }
        }
        if let Ok(feed) = parse_fetched(&doc, None, Some("https://example.com/feed")) {
            check(&feed)?;
        }
    }
}
