//! A second main-block finder, independent of Readability's heuristics:
//! paragraphs (text-bearing blocks with little link text) vote for their
//! parent and, with decaying weight, grandparents; the best-voted container
//! is the main block. Used as the fallback when the Readability pass looks
//! wrong; the pipeline then keeps whichever candidate agrees better with
//! the page's summary evidence.
//!
//! Pure: works on a document the caller parsed; no I/O.

use std::collections::HashMap;

use dom_query::{Document, NodeId, NodeRef};

/// Elements that never hold article text. `h1` is the headline: it is
/// metadata, and keeping it would let this candidate win agreement with
/// the title evidence for free.
const JUNK: &str = "script, style, noscript, nav, header, footer, aside, form, iframe, svg, \
                    button, select, template, object, embed, dialog, h1";

/// A block shorter than this is a label, not a paragraph, and gets no vote.
const MIN_PARAGRAPH_CHARS: usize = 40;

/// Blocks with more link text than this share are menus or teasers.
const MAX_LINK_DENSITY: f64 = 0.35;

/// Vote weights for the parent, grandparent and great-grandparent: a
/// paragraph's direct container is the best guess, but articles often wrap
/// paragraph groups in per-section divs, so the vote climbs a little.
const ANCESTOR_WEIGHTS: [f64; 3] = [1.0, 0.6, 0.3];

/// How many top-voted containers are re-ranked by agreement with the
/// evidence (title, description, feed hints).
pub const RERANK: usize = 5;

/// Outer HTML of the best container, or `None` when the page has no
/// paragraph-like text at all. `agreement` rates a candidate's text against
/// the page's summary evidence (0..=1, 1 when there is no evidence); the
/// top [`RERANK`] containers by vote are re-ranked by vote × (0.2 +
/// agreement), so a large but off-topic block ("Most read", comments) loses
/// to the story the title and summary describe.
pub fn main_content_html(doc: &Document, agreement: &dyn Fn(&str) -> f64) -> Option<String> {
    doc.select(JUNK).remove();
    let body = doc.body()?;
    let mut scores: HashMap<NodeId, f64> = HashMap::new();
    for node in body.descendants_it().filter(|n| n.is_element()) {
        let Some(own) = paragraph_score(&node) else {
            continue;
        };
        let mut anc = node.parent();
        for w in ANCESTOR_WEIGHTS {
            let Some(a) = anc else { break };
            if a.has_name("body") || a.has_name("html") {
                break;
            }
            *scores.entry(a.id).or_default() += own * w;
            anc = a.parent();
        }
    }
    let mut ranked: Vec<(NodeId, f64)> = scores.into_iter().collect();
    // Ties broken by document order so results are deterministic.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(RERANK);
    let best = ranked
        .iter()
        .filter_map(|(id, score)| {
            let node = doc.tree.get(id)?;
            let weight = score * (0.2 + agreement(&node.text()));
            Some((node, weight))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(best.0.html().to_string())
}

/// Paragraph-like blocks: `<p>`, `<pre>`, `<blockquote>`, `<li>`, and
/// `<div>`s whose own text nodes carry the prose (br-separated markup).
fn paragraph_score(node: &NodeRef) -> Option<f64> {
    let is_block = ["p", "pre", "blockquote", "li", "h2", "h3"]
        .iter()
        .any(|t| node.has_name(t));
    let text = if is_block {
        node.text()
    } else if node.has_name("div") || node.has_name("td") || node.has_name("section") {
        node.immediate_text()
    } else {
        return None;
    };
    let total = visible_chars(&text);
    if total < MIN_PARAGRAPH_CHARS && !node.has_name("h2") && !node.has_name("h3") {
        return None;
    }
    let linked: usize = if is_block {
        node.descendants_it()
            .filter(|d| d.has_name("a"))
            .map(|a| visible_chars(&a.text()))
            .sum()
    } else {
        0
    };
    let density = linked as f64 / total.max(1) as f64;
    if density > MAX_LINK_DENSITY {
        return None;
    }
    // Sentences end in punctuation; menus and labels do not. Commas are a
    // classic Readability signal of prose.
    let commas = text.matches([',', '，', '、']).count() as f64;
    Some((total as f64).sqrt() * (1.0 - density) + commas.min(10.0) * 0.5)
}

fn visible_chars(s: &str) -> usize {
    s.chars().filter(|c| !c.is_whitespace()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_prose_container_over_menus() {
        let para = "<p>This is a long enough sentence of prose, with commas, to count as a paragraph of the article.</p>";
        let html = format!(
            r#"<html><body><div id="menu"><ul><li><a href="/a">Home page link text that is long</a></li></ul></div>
            <div id="story">{para}{para}{para}</div><div id="side"><p>Short.</p></div></body></html>"#
        );
        let doc = Document::from(html.as_str());
        let out = main_content_html(&doc, &|_| 1.0).unwrap_or_default();
        assert!(out.starts_with(r#"<div id="story">"#), "{out}");
    }

    #[test]
    fn empty_page_gives_none() {
        assert_eq!(
            main_content_html(&Document::from("<html></html>"), &|_| 1.0),
            None
        );
    }
}
