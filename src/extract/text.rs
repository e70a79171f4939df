//! Post-processing of the article HTML that dom_smoothie selected: drops
//! link-dense blocks it keeps ("Related stories" lists nested inside the
//! article container) and normalises the formatted text into paragraphs
//! separated by exactly one blank line.
//!
//! This module must stay pure: no I/O, no clock, no globals.

use dom_query::{Document, NodeRef};

/// Containers that, when mostly links, are navigation rather than prose.
const BLOCK_TAGS: &[&str] = &[
    "div", "section", "aside", "nav", "ul", "ol", "table", "header", "footer", "form", "figure",
];

/// A container is link-dense when more than this share of its text sits
/// inside `<a>`. Readability's own cleaner uses 0.2–0.5 depending on weight;
/// 0.5 is conservative enough to keep prose with many inline citations.
const BLOCK_LINK_DENSITY: f64 = 0.5;

/// A link-dense container is kept anyway when it has this much text outside
/// links: that is prose (with a link list somewhere inside it), not a menu.
const MAX_NON_LINK_CHARS: usize = 200;

/// A paragraph is dropped only when it is essentially one link ("Read more:
/// …"); prose paragraphs with a long inline link must survive.
const PARAGRAPH_LINK_DENSITY: f64 = 0.9;

/// Renders the article HTML (dom_smoothie's `Article::content`) as plain text
/// with link-dense blocks removed.
pub fn article_text(content_html: &str) -> String {
    let doc = Document::from(content_html);
    remove_link_dense_blocks(&doc);
    let text = doc
        .body()
        .map(|body| body.formatted_text().to_string())
        .unwrap_or_default();
    normalize(&text)
}

fn remove_link_dense_blocks(doc: &Document) {
    // Collected first because removing while iterating the live tree would
    // skip nodes. Document order judges a container before its children, so
    // a "Related" block goes together with its heading; the prose guard
    // (`MAX_NON_LINK_CHARS`) keeps a wrapper that holds real paragraphs next
    // to a long link list, and the list is then judged on its own.
    let candidates: Vec<NodeRef> = doc
        .select("div, section, aside, nav, ul, ol, table, header, footer, form, figure, p")
        .nodes()
        .to_vec();
    for node in candidates {
        let is_paragraph = node.has_name("p");
        if !is_paragraph && !BLOCK_TAGS.iter().any(|t| node.has_name(t)) {
            continue;
        }
        // Removed along with an outer block earlier in this loop.
        if is_detached(&node) {
            continue;
        }
        // The outermost wrapper is the article itself; if all of it is
        // links, that is for the caller's "too little text" check to judge.
        if node.parent().is_none_or(|p| p.has_name("body")) {
            continue;
        }
        let total = visible_chars(&node.text());
        if total == 0 {
            continue;
        }
        let linked: usize = node
            .descendants_it()
            // The HTML parser never nests <a>, so no link text is counted twice.
            .filter(|d| d.has_name("a"))
            .map(|a| visible_chars(&a.text()))
            .sum();
        let dense = if is_paragraph {
            linked as f64 > PARAGRAPH_LINK_DENSITY * total as f64
        } else {
            linked as f64 > BLOCK_LINK_DENSITY * total as f64 && total - linked < MAX_NON_LINK_CHARS
        };
        if dense {
            node.remove_from_parent();
        }
    }
}

/// A node whose ancestor chain no longer reaches `<body>` was detached.
fn is_detached(node: &NodeRef) -> bool {
    !node.ancestors_it(None).any(|a| a.has_name("body"))
}

fn visible_chars(s: &str) -> usize {
    s.chars().filter(|c| !c.is_whitespace()).count()
}

/// Trims every line, collapses runs of horizontal whitespace, and separates
/// paragraphs with exactly one blank line. Single line breaks (from `<br>`
/// or list items) are kept: they carry structure inside a paragraph.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_blank = false;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            pending_blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if pending_blank { "\n\n" } else { "\n" });
        }
        pending_blank = false;
        out.push_str(&words.join(" "));
    }
    out
}

/// A leading line this short, without sentence punctuation, can be a byline.
const MAX_BYLINE_CHARS: usize = 100;

/// Drops the headline and byline that Readability often leaves at the top of
/// the text: they are already in `Article::title`/`authors`, and repeating
/// them would skew similarity and keyword matching downstream. Only leading
/// paragraphs are touched, and never all of them.
pub fn strip_leading_title_and_byline(text: &str, title: &str, authors: &[String]) -> String {
    let same = |a: &str, b: &str| {
        let squash = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        squash(a) == squash(b)
    };
    let is_byline = |p: &str| {
        let short = p.chars().count() <= MAX_BYLINE_CHARS && !p.ends_with(['.', '!', '?', ':']);
        let lower = p.to_lowercase();
        short
            && (lower.starts_with("by ")
                || authors.iter().any(|a| same(a, p))
                || (!authors.is_empty()
                    && authors.iter().all(|a| lower.contains(&a.to_lowercase()))))
    };
    let paragraphs: Vec<&str> = text.split("\n\n").collect();
    let skip = paragraphs
        .iter()
        .take(3)
        .take_while(|p| (!title.is_empty() && same(p, title)) || is_byline(p))
        .count();
    if skip == 0 || skip == paragraphs.len() {
        return text.to_owned();
    }
    paragraphs[skip..].join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_title_and_byline_are_stripped() {
        let authors = vec!["Jane Doe".to_owned()];
        let text = "Big  News\n\nBy Jane Doe\n\nBody by Jane Doe.\n\nMore.";
        assert_eq!(
            strip_leading_title_and_byline(text, "big news", &authors),
            "Body by Jane Doe.\n\nMore."
        );
        // Nothing is stripped when it would leave no text.
        assert_eq!(
            strip_leading_title_and_byline("Big News", "Big News", &authors),
            "Big News"
        );
        // A sentence starting with "By" is prose, not a byline.
        let prose = "By Monday the river had risen two metres.\n\nMore.";
        assert_eq!(strip_leading_title_and_byline(prose, "", &[]), prose);
    }

    #[test]
    fn normalize_collapses_blank_runs_and_spaces() {
        let raw = "  \n\n First  para \u{a0}\n second line\n\n\n\n  Second\tpara  \n\n";
        assert_eq!(normalize(raw), "First para\nsecond line\n\nSecond para");
        assert_eq!(normalize(" \n \n"), "");
    }

    #[test]
    fn link_dense_blocks_are_dropped_prose_with_links_kept() {
        let html = r#"<div>
            <p>The ministry said on Monday that <a href="/x">the new rules</a> would apply from May.</p>
            <div class="related"><h3>Related</h3><ul>
              <li><a href="/a">First related headline here</a></li>
              <li><a href="/b">Second related headline here</a></li>
            </ul></div>
            <p><a href="/c">Read more: a linked teaser headline</a></p>
            <p>Last paragraph of the story.</p>
        </div>"#;
        let text = article_text(html);
        assert!(
            text.contains("the new rules would apply from May."),
            "{text:?}"
        );
        assert!(text.contains("Last paragraph of the story."));
        assert!(!text.contains("related headline"));
        assert!(!text.contains("Read more"));
    }
}
