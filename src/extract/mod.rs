//! Article extraction for fetched news pages: bytes in, a clean [`Article`]
//! (title, main text, authors, dates, language, site, canonical URL,
//! description, image) out. This module owns charset detection
//! ([`charset`]), metadata precedence ([`metadata`], [`jsonld`]) and text
//! clean-up ([`text`]); the main-content heuristics are dom_smoothie's
//! (a port of Mozilla Readability).
//!
//! Everything here must stay pure: no I/O, no clock, no globals. Callers
//! fetch, time-stamp and store; this module only transforms the bytes and
//! strings it is given, so it can be tested and fuzzed in isolation.

pub mod charset;
pub mod jsonld;
pub mod metadata;
pub mod text;

use chrono::{DateTime, Utc};
use dom_query::Document;
use dom_smoothie::{Config, Readability, TextMode};
use url::Url;

pub use charset::decode_html;

/// Input beyond this is cut off before decoding and parsing. Real article
/// pages are well under 2 MiB even with inline scripts; anything larger is
/// a data dump or an attack, and parsing time and the DOM's memory grow
/// with input size (the DOM takes several times the bytes). The article
/// text is near the top of such pages anyway, so truncating keeps the useful
/// part while bounding the worst case.
pub const MAX_INPUT_BYTES: usize = 8 * 1024 * 1024;

/// Limits on the parsed DOM before Readability runs. Its scoring walks the
/// ancestors of every node, so its cost is roughly the sum of all element
/// depths (measured: ~200 ns per unit in release builds); 5000 nested
/// `<div>`s alone take seconds. Heavy real pages have 10–30k elements at an
/// average depth of 15–25, i.e. a depth sum under 1M, so these limits leave
/// headroom while capping the worst case near one second of CPU.
pub const MAX_ELEMENTS: usize = 150_000;
/// See [`MAX_ELEMENTS`]; real pages stay below ~100 levels.
pub const MAX_DEPTH: usize = 512;
/// See [`MAX_ELEMENTS`].
pub const MAX_DEPTH_SUM: usize = 4_000_000;

/// Below this many characters the Readability result is probably a teaser
/// or a failed grab, so the JSON-LD `articleBody` (if longer) is preferred.
const MIN_TEXT_CHARS: usize = 200;

/// An extracted article. Empty strings never appear in the `Option`s.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Article {
    pub title: String,
    /// Main text; paragraphs separated by "\n\n", no boilerplate.
    pub text: String,
    /// From JSON-LD author, then `<meta name=author>`, then the byline.
    pub authors: Vec<String>,
    pub published: Option<DateTime<Utc>>,
    pub modified: Option<DateTime<Utc>>,
    /// Primary language subtag, e.g. "en", "ru".
    pub lang: Option<String>,
    pub site_name: Option<String>,
    pub canonical_url: Option<String>,
    pub description: Option<String>,
    pub image: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("no article content found")]
    NoContent,
    /// The DOM exceeds [`MAX_ELEMENTS`], [`MAX_DEPTH`] or [`MAX_DEPTH_SUM`]
    /// and the page had no JSON-LD `articleBody` to fall back on.
    #[error(
        "document too complex to analyse: {elements} elements, depth {max_depth}, depth sum {depth_sum}"
    )]
    TooComplex {
        elements: usize,
        max_depth: usize,
        depth_sum: usize,
    },
}

/// Decodes raw response bytes (see [`decode_html`]) and extracts the
/// article. `content_type` is the HTTP `Content-Type` header, if any.
pub fn extract(
    bytes: &[u8],
    url: Option<&str>,
    content_type: Option<&str>,
) -> Result<Article, ExtractError> {
    let bytes = &bytes[..bytes.len().min(MAX_INPUT_BYTES)];
    let (html, _encoding) = charset::decode_html_with_hint(bytes, content_type, url);
    extract_str(&html, url)
}

/// Extracts the article from already-decoded HTML. `url` is the page URL,
/// used to resolve relative links; a missing or non-http(s) URL is ignored
/// rather than treated as an error.
pub fn extract_str(html: &str, url: Option<&str>) -> Result<Article, ExtractError> {
    let html = truncate_at_char_boundary(html, MAX_INPUT_BYTES);
    let base = url
        .and_then(|u| Url::parse(u.trim()).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"));

    let doc = Document::from(html);
    // Read metadata before Readability mutates the document.
    let page = metadata::PageMeta::read(&doc);

    let config = Config {
        text_mode: TextMode::Formatted,
        ..Config::default()
    };
    let shape = DomShape::measure(&doc);
    let parsed = if shape.elements > MAX_ELEMENTS
        || shape.max_depth > MAX_DEPTH
        || shape.depth_sum > MAX_DEPTH_SUM
    {
        Err(ExtractError::TooComplex {
            elements: shape.elements,
            max_depth: shape.max_depth,
            depth_sum: shape.depth_sum,
        })
    } else {
        Readability::with_document(doc, base.as_ref().map(Url::as_str), Some(config))
            .and_then(|mut reader| reader.parse())
            // Bad URLs were filtered above, so any failure means Readability
            // found nothing it considers an article.
            .map_err(|_| ExtractError::NoContent)
    };

    let mut failure = None;
    let (smoothie, mut body) = match parsed {
        Ok(article) => {
            let body = text::article_text(&article.content);
            (Some(article), body)
        }
        Err(e) => {
            failure = Some(e);
            (None, String::new())
        }
    };

    if body.chars().count() < MIN_TEXT_CHARS {
        let ld_body = page
            .json_ld
            .as_ref()
            .and_then(|ld| ld.article_body.as_deref())
            .map(json_ld_body_text)
            .unwrap_or_default();
        if ld_body.chars().count() > body.chars().count() {
            body = ld_body;
        }
    }
    if body.is_empty() {
        return Err(failure.unwrap_or(ExtractError::NoContent));
    }

    let meta = page.merge(smoothie.as_ref(), base.as_ref());
    let body = text::strip_leading_title_and_byline(&body, &meta.title, &meta.authors);
    Ok(Article {
        title: meta.title,
        text: body,
        authors: meta.authors,
        published: meta.published,
        modified: meta.modified,
        lang: meta.lang,
        site_name: meta.site_name,
        canonical_url: meta.canonical_url,
        description: meta.description,
        image: meta.image,
    })
}

/// `articleBody` is meant to be plain text, but some CMSes put HTML in it.
fn json_ld_body_text(body: &str) -> String {
    if body.contains('<') && body.contains('>') {
        let doc = Document::from(body);
        let formatted = doc
            .body()
            .map(|b| b.formatted_text().to_string())
            .unwrap_or_default();
        text::normalize(&formatted)
    } else {
        // Plain-text bodies mark paragraphs with a single newline.
        text::normalize(&body.replace('\n', "\n\n"))
    }
}

#[derive(Debug, Default)]
struct DomShape {
    elements: usize,
    max_depth: usize,
    depth_sum: usize,
}

impl DomShape {
    /// One iterative pass (an explicit stack, so hostile nesting cannot
    /// overflow ours).
    fn measure(doc: &Document) -> Self {
        let mut shape = DomShape::default();
        let mut stack = vec![(doc.root(), 0usize)];
        while let Some((node, depth)) = stack.pop() {
            for child in node.children_it(false).filter(|c| c.is_element()) {
                shape.elements += 1;
                shape.max_depth = shape.max_depth.max(depth + 1);
                shape.depth_sum += depth + 1;
                stack.push((child, depth + 1));
            }
        }
        shape
    }
}

fn truncate_at_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests;
