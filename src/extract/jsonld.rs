//! Reads schema.org JSON-LD blocks (`<script type="application/ld+json">`)
//! and pulls out the fields of the first Article-like node: headline,
//! authors, dates, body, description, image, publisher and URL. Handles the
//! shapes seen in the wild: a single object, a top-level array, an `@graph`,
//! `@type` as string or array, and `{"@id": …}` references into the graph.
//!
//! This module must stay pure: no I/O, no clock, no globals.

use std::collections::HashMap;

use serde_json::Value;

/// What one Article-like JSON-LD node says about the page. Strings are
/// trimmed and never empty.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JsonLdArticle {
    pub headline: Option<String>,
    pub authors: Vec<String>,
    pub date_published: Option<String>,
    pub date_modified: Option<String>,
    pub article_body: Option<String>,
    pub description: Option<String>,
    pub image: Option<String>,
    pub publisher: Option<String>,
    pub url: Option<String>,
    pub in_language: Option<String>,
}

/// Parses every JSON-LD script text in order and returns the first
/// Article-like node found. Blocks that are not valid JSON are skipped: one
/// broken block (common with CMS templating bugs) must not hide a good one.
pub fn parse_blocks<'a>(blocks: impl IntoIterator<Item = &'a str>) -> Option<JsonLdArticle> {
    for block in blocks {
        let Some(value) = parse_lenient(block) else {
            continue;
        };
        let mut nodes = Vec::new();
        collect_nodes(&value, &mut nodes, 0);
        let by_id: HashMap<&str, &Value> = nodes
            .iter()
            .filter_map(|n| Some((n.get("@id")?.as_str()?, *n)))
            .collect();
        if let Some(node) = nodes.iter().find(|n| is_article(n)) {
            return Some(read_article(node, &by_id));
        }
    }
    None
}

fn parse_lenient(block: &str) -> Option<Value> {
    let trimmed = block.trim();
    // Some CMSes wrap the JSON in CDATA markers or leave a trailing ';'.
    let trimmed = trimmed
        .strip_prefix("//<![CDATA[")
        .or_else(|| trimmed.strip_prefix("<![CDATA["))
        .unwrap_or(trimmed);
    let trimmed = trimmed
        .strip_suffix("//]]>")
        .or_else(|| trimmed.strip_suffix("]]>"))
        .unwrap_or(trimmed)
        .trim()
        .trim_end_matches(';');
    serde_json::from_str(trimmed).ok()
}

/// Depth limit for walking nested arrays/`@graph`s; serde_json already caps
/// nesting at 128, this just keeps the walk from visiting article bodies'
/// nested comment trees and the like.
const MAX_WALK_DEPTH: usize = 8;

fn collect_nodes<'v>(value: &'v Value, out: &mut Vec<&'v Value>, depth: usize) {
    if depth > MAX_WALK_DEPTH {
        return;
    }
    match value {
        Value::Array(items) => {
            for item in items {
                collect_nodes(item, out, depth + 1);
            }
        }
        Value::Object(map) => {
            out.push(value);
            if let Some(graph) = map.get("@graph") {
                collect_nodes(graph, out, depth + 1);
            }
            // WebPage nodes often carry the article as `mainEntity`.
            if let Some(main) = map.get("mainEntity") {
                collect_nodes(main, out, depth + 1);
            }
        }
        _ => {}
    }
}

fn is_article(node: &Value) -> bool {
    let is_article_type = |t: &str| {
        let t = t.rsplit(['/', ':']).next().unwrap_or(t);
        t.ends_with("Article")
            || matches!(
                t,
                "BlogPosting" | "LiveBlogPosting" | "Report" | "SocialMediaPosting"
            )
    };
    match node.get("@type") {
        Some(Value::String(t)) => is_article_type(t),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).any(is_article_type),
        _ => false,
    }
}

fn read_article(node: &Value, by_id: &HashMap<&str, &Value>) -> JsonLdArticle {
    let resolve = |v: &'_ Value| -> Value {
        // A bare `{"@id": …}` points at a node elsewhere in the graph.
        match v.as_object() {
            Some(map) if map.len() == 1 => map
                .get("@id")
                .and_then(Value::as_str)
                .and_then(|id| by_id.get(id))
                .map_or_else(|| v.clone(), |n| (*n).clone()),
            _ => v.clone(),
        }
    };
    let field = |key: &str| node.get(key).map(&resolve);

    let mut authors = Vec::new();
    if let Some(author) = field("author") {
        let list = match author {
            Value::Array(items) => items,
            other => vec![other],
        };
        for item in list {
            let name = match resolve(&item) {
                Value::String(s) => Some(s),
                v => text_of(v.get("name")),
            };
            if let Some(name) = name.and_then(non_empty) {
                authors.push(name);
            }
        }
    }

    JsonLdArticle {
        headline: text_of(node.get("headline")).or_else(|| text_of(node.get("name"))),
        authors,
        date_published: text_of(node.get("datePublished")),
        date_modified: text_of(node.get("dateModified")),
        article_body: text_of(node.get("articleBody")),
        description: text_of(node.get("description")),
        image: field("image").and_then(|v| url_of(&v)),
        publisher: field("publisher").and_then(|p| text_of(p.get("name"))),
        url: text_of(node.get("url"))
            .or_else(|| field("mainEntityOfPage").and_then(|v| url_of(&v))),
        in_language: text_of(node.get("inLanguage")),
    }
}

/// Text of a string value, or the first string of an array of strings.
fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => non_empty(s.clone()),
        Value::Array(items) => items.iter().find_map(|v| text_of(Some(v))),
        _ => None,
    }
}

/// `image`/`mainEntityOfPage` may be a URL string, an object with `url` or
/// `@id`, or an array of either.
fn url_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => non_empty(s.clone()),
        Value::Array(items) => items.iter().find_map(url_of),
        Value::Object(map) => map
            .get("url")
            .or_else(|| map.get("@id"))
            .and_then(Value::as_str)
            .and_then(|s| non_empty(s.to_owned())),
        _ => None,
    }
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_with_id_references() {
        let block = r#"{
          "@context": "https://schema.org",
          "@graph": [
            {"@type": "WebPage", "@id": "https://ex.com/a#page"},
            {"@type": ["NewsArticle"], "headline": " Big news ",
             "author": [{"@id": "https://ex.com/#jane"}, {"@type":"Person","name":"Bob Roe"}],
             "publisher": {"@id": "https://ex.com/#org"},
             "image": [{"@type":"ImageObject","url":"https://ex.com/i.jpg"}],
             "datePublished": "2024-03-01T10:00:00+03:00",
             "mainEntityOfPage": {"@id": "https://ex.com/a"}},
            {"@type": "Person", "@id": "https://ex.com/#jane", "name": "Jane Doe"},
            {"@type": "Organization", "@id": "https://ex.com/#org", "name": "Example News"}
          ]}"#;
        let a = parse_blocks([block]).unwrap_or_default();
        assert_eq!(a.headline.as_deref(), Some("Big news"));
        assert_eq!(a.authors, vec!["Jane Doe", "Bob Roe"]);
        assert_eq!(a.publisher.as_deref(), Some("Example News"));
        assert_eq!(a.image.as_deref(), Some("https://ex.com/i.jpg"));
        assert_eq!(a.url.as_deref(), Some("https://ex.com/a"));
        assert_eq!(
            a.date_published.as_deref(),
            Some("2024-03-01T10:00:00+03:00")
        );
    }

    #[test]
    fn broken_block_does_not_hide_good_one() {
        let good = r#"[{"@type":"BreadcrumbList"},{"@type":"Article","author":"Ann Lee","articleBody":"Body"}];"#;
        let a = parse_blocks(["{not json", good]).unwrap_or_default();
        assert_eq!(a.authors, vec!["Ann Lee"]);
        assert_eq!(a.article_body.as_deref(), Some("Body"));
    }

    #[test]
    fn non_article_is_ignored() {
        assert_eq!(
            parse_blocks([r#"{"@type":"Organization","name":"X"}"#]),
            None
        );
        assert_eq!(parse_blocks(["", "null", "42"]), None);
    }
}
