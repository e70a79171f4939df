//! The feed reader against its corpus (tests/feeds: one feed per file, expectations beside it),
//! through the same evaluation `feedwatch eval feeds` prints, and against hostile documents
//! generated here rather than committed: deep nesting, a flood of nested relative `xml:base`,
//! an attribute flood, a huge title, 60,000 items, a run of comment openers, billion laughs.
//! Each hostile document must end in a clear error or a bounded result, never a panic. How
//! long they take is measured by `cargo bench --bench feeds`, not here.

use feedwatch::feeds::limits::{
    self, FeedError, MAX_ATTRIBUTES, MAX_BASE_BYTES, MAX_DEPTH, MAX_ITEMS, MAX_TITLE_CHARS,
};
use feedwatch::feeds::{eval, parse_fetched};

#[test]
fn the_corpus_reads_as_expected() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/feeds");
    let report = eval::evaluate_dir(&dir).expect("corpus readable");
    let listing: Vec<String> = report
        .mismatches
        .iter()
        .map(|m| {
            format!(
                "{} {}: expected {:?}, got {:?}",
                m.file, m.field, m.expected, m.got
            )
        })
        .collect();
    assert!(listing.is_empty(), "mismatches:\n{}", listing.join("\n"));
    assert!(
        report.files >= 60,
        "only {} files in the corpus",
        report.files
    );
    assert_eq!(report.parsed.right, report.parsed.total);
    assert!(report.rejected.total >= 4);
}

fn rss(items: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>{items}</channel></rss>"
    )
}

#[test]
fn deep_nesting_is_an_error_that_says_so() {
    let doc = format!("<rss><channel>{}", "<a>".repeat(100_000));
    let err = parse_fetched(doc.as_bytes(), None, None).unwrap_err();
    assert_eq!(err, FeedError::TooDeep);
    assert_eq!(
        err.to_string(),
        format!("feed nested deeper than {MAX_DEPTH} elements")
    );
}

#[test]
fn nested_relative_xml_base_does_not_pile_up() {
    // The attack of issue #10: 100,000 nested elements, each with a relative xml:base.
    let nested = format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:base=\"http://example.org/\">{}",
        "<x xml:base=\"a/\">".repeat(100_000)
    );
    assert_eq!(
        parse_fetched(nested.as_bytes(), None, None).unwrap_err(),
        FeedError::TooDeep
    );

    // As deep as the limit allows, then 100,000 entries each adding a relative base of their
    // own: bases stop growing at the cap, and once resolving has added twice the document's
    // size in bytes, links are left as written rather than each made as long as the base.
    let depth = MAX_DEPTH - 10;
    let mut doc = String::from(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:base=\"http://example.org/\"><title>B</title>",
    );
    for _ in 0..depth {
        doc.push_str("<x xml:base=\"aaaaaaaaaaaaaaaa/\">");
    }
    for i in 0..100_000 {
        doc.push_str(&format!(
            "<entry xml:base=\"b{i}/\"><id>{i}</id><link href=\"p.html\"/></entry>"
        ));
    }
    for _ in 0..depth {
        doc.push_str("</x>");
    }
    doc.push_str("</feed>");
    let feed = parse_fetched(doc.as_bytes(), None, None).expect("parses");
    assert_eq!(feed.items.len(), 100_000);
    let first = feed.items[0].link.as_deref().unwrap();
    assert!(first.starts_with("http://example.org/aaaa"), "{first}");
    assert!(first.ends_with("/b0/p.html"), "{first}");
    assert!(first.len() <= MAX_BASE_BYTES + 16, "{} bytes", first.len());
    let link_bytes: usize = feed
        .items
        .iter()
        .filter_map(|i| i.link.as_ref())
        .map(String::len)
        .sum();
    assert!(
        link_bytes <= 3 * doc.len(),
        "{link_bytes} bytes of links from {} bytes",
        doc.len()
    );
    assert_eq!(feed.items[99_999].link.as_deref(), Some("p.html"));
}

#[test]
fn attribute_floods_are_errors() {
    let attrs: String = (0..100_000).map(|i| format!(" a{i}=\"x\"")).collect();
    let doc = rss(&format!("<item{attrs}><title>x</title></item>"));
    let err = parse_fetched(doc.as_bytes(), None, None).unwrap_err();
    assert_eq!(err, FeedError::TooManyAttributes);
    assert!(err.to_string().contains(&MAX_ATTRIBUTES.to_string()));

    let long = "x".repeat(limits::MAX_ATTRIBUTE_BYTES + 1);
    let doc = rss(&format!("<item><enclosure url=\"{long}\"/></item>"));
    assert_eq!(
        parse_fetched(doc.as_bytes(), None, None).unwrap_err(),
        FeedError::AttributeTooLong
    );
}

#[test]
fn a_huge_title_is_cut_and_a_huger_text_node_refused() {
    let words = "word ".repeat(1_000_000);
    let doc = rss(&format!(
        "<item><guid>1</guid><title>{words}</title><description>{words}</description></item>"
    ));
    let feed = parse_fetched(doc.as_bytes(), None, None).expect("parses");
    let item = &feed.items[0];
    assert!(item.title.chars().count() <= MAX_TITLE_CHARS);
    assert!(item.title.starts_with("word word"));
    assert!(item.summary.as_deref().unwrap().len() <= limits::MAX_SUMMARY_BYTES);

    let huge = "x".repeat(limits::MAX_TEXT_BYTES + 1);
    let doc = rss(&format!("<item><title>{huge}</title></item>"));
    assert_eq!(
        parse_fetched(doc.as_bytes(), None, None).unwrap_err(),
        FeedError::TextTooLong
    );
}

#[test]
fn sixty_thousand_items_parse_and_a_quarter_million_more_do_not() {
    let items: String = (0..60_000)
        .map(|i| {
            format!(
                "<item><title>Item {i}</title><link>https://example.com/{i}</link><guid>g{i}</guid>\
                 <description>Text of item {i}</description><pubDate>Sat, 13 Dec 2003 18:30:02 GMT</pubDate></item>"
            )
        })
        .collect();
    let feed = parse_fetched(rss(&items).as_bytes(), None, None).expect("parses");
    assert_eq!(feed.items.len(), 60_000);
    assert_eq!(feed.items[59_999].title, "Item 59999");
    assert_eq!(feed.items[59_999].key.as_str(), "id:g59999");

    let flood = rss(&"<item/>".repeat(MAX_ITEMS + 1));
    assert_eq!(
        parse_fetched(flood.as_bytes(), None, None).unwrap_err(),
        FeedError::TooManyItems
    );
}

#[test]
fn a_run_of_comment_openers_ends_the_document() {
    let doc = rss("<item><title>kept</title></item>") + &"<!--".repeat(500_000);
    let feed = parse_fetched(doc.as_bytes(), None, None).expect("parses");
    assert_eq!(feed.items.len(), 1);
    // And inside a field, where the HTML-to-text step meets them.
    let doc = rss(&format!(
        "<item><title>t</title><description>{}</description></item>",
        "&lt;!--".repeat(200_000)
    ));
    let feed = parse_fetched(doc.as_bytes(), None, None).expect("parses");
    assert_eq!(feed.items[0].summary, None);
}

#[test]
fn billion_laughs_are_never_expanded() {
    let mut dtd = String::from("<!ENTITY lol \"lol\">");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        dtd.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&{prev};").repeat(10)
        ));
    }
    let doc = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE rss [{dtd}]><rss version=\"2.0\"><channel><title>&lol9;</title></channel></rss>"
    );
    let feed = parse_fetched(doc.as_bytes(), None, None).expect("parses");
    assert_eq!(feed.title.as_deref(), Some("&lol9;"));
}

#[test]
fn many_elements_are_an_error() {
    let doc = format!(
        "<rss><channel>{}</channel></rss>",
        "<a/>".repeat(limits::MAX_ELEMENTS + 1)
    );
    assert_eq!(
        parse_fetched(doc.as_bytes(), None, None).unwrap_err(),
        FeedError::TooManyElements
    );
}
