//! Article extraction for fetched news pages: bytes in, a clean [`Article`]
//! (title, main text, authors, dates, language, site, canonical URL,
//! description, image) out. This module owns charset detection
//! ([`charset`]), metadata precedence ([`metadata`], [`jsonld`]), a cheap
//! pre-parse strip of script/style/svg bodies ([`prestrip`]), the pipeline
//! ([`pipeline`]): dom_smoothie's Readability pass, post-filters and
//! site-template removal ([`text`], [`memory`]), checked against the page's
//! own summary, the feed hints and JSON-LD `articleBody`, with a
//! text-density fallback ([`density`]) when it looks wrong. [`eval`] is the
//! measuring harness (the only part that reads files and the clock).
//!
//! Everything else must stay pure: no I/O, no clock, no globals. Callers
//! fetch, time-stamp and store (including the [`HostMemory`] bytes); this
//! module only transforms the bytes and strings it is given, so it can be
//! tested and fuzzed in isolation.

pub mod charset;
pub mod density;
pub mod eval;
pub mod jsonld;
pub mod memory;
pub mod metadata;
pub mod pipeline;
pub mod prescan;
pub mod prestrip;
pub mod text;

use chrono::{DateTime, Utc};
use dom_query::Document;
use url::Url;

pub use charset::decode_html;
pub use memory::{HostMemory, PageBlocks};

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
    /// Refused before parsing: see [`prescan`].
    #[error(transparent)]
    Limit(#[from] prescan::PageLimit),
}

/// Evidence about the page from outside it, typically the feed item that
/// linked to it. Used to pick and verify the main block and to decide when
/// the primary extraction failed; never copied into the text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hints<'a> {
    pub title: Option<&'a str>,
    pub summary: Option<&'a str>,
}

/// Which optional stages run. All on by default; switched off one by one
/// only by the evaluation harness to measure what each contributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stages {
    /// Post-filters on the selected content: link-dense blocks, widgets,
    /// teasers, captions, duplicated bylines.
    pub post_filters: bool,
    /// Use JSON-LD `articleBody` to verify the main block / fill in.
    pub json_ld_body: bool,
    /// Second, density-based pass when the first looks wrong.
    pub fallback: bool,
}

impl Default for Stages {
    fn default() -> Self {
        Stages {
            post_filters: true,
            json_ld_body: true,
            fallback: true,
        }
    }
}

/// Options of [`extract_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractOptions<'a> {
    pub hints: Option<Hints<'a>>,
    /// Template blocks learned from earlier pages of the same host.
    pub memory: Option<&'a HostMemory>,
    pub stages: Stages,
}

/// Decodes raw response bytes (see [`decode_html`]) and extracts the
/// article. `content_type` is the HTTP `Content-Type` header, if any.
pub fn extract(
    bytes: &[u8],
    url: Option<&str>,
    content_type: Option<&str>,
) -> Result<Article, ExtractError> {
    extract_with(bytes, url, content_type, &ExtractOptions::default()).map(|(a, _)| a)
}

/// Extracts the article from already-decoded HTML. `url` is the page URL,
/// used to resolve relative links; a missing or non-http(s) URL is ignored
/// rather than treated as an error.
pub fn extract_str(html: &str, url: Option<&str>) -> Result<Article, ExtractError> {
    extract_str_with(html, url, &ExtractOptions::default()).map(|(a, _)| a)
}

/// [`extract`] with hints and host memory. Also returns the fingerprints of
/// the page's text blocks, for [`HostMemory::learn`].
pub fn extract_with(
    bytes: &[u8],
    url: Option<&str>,
    content_type: Option<&str>,
    opts: &ExtractOptions<'_>,
) -> Result<(Article, PageBlocks), ExtractError> {
    let bytes = &bytes[..bytes.len().min(MAX_INPUT_BYTES)];
    let (html, _encoding) = charset::decode_html_with_hint(bytes, content_type, url);
    extract_str_with(&html, url, opts)
}

/// [`extract_str`] with hints and host memory; see [`extract_with`].
pub fn extract_str_with(
    html: &str,
    url: Option<&str>,
    opts: &ExtractOptions<'_>,
) -> Result<(Article, PageBlocks), ExtractError> {
    pipeline::run(truncate_at_char_boundary(html, MAX_INPUT_BYTES), url, opts)
}

/// The host of the page's canonical URL (`<link rel=canonical>`, `og:url`,
/// JSON-LD `url`), for callers that must pick a [`HostMemory`] but have no
/// fetch URL, such as the evaluation harness.
pub fn page_host(html: &str) -> Option<String> {
    let html = truncate_at_char_boundary(html, MAX_INPUT_BYTES);
    prescan::check(html).ok()?;
    let doc = Document::from(html);
    let meta = metadata::PageMeta::read(&doc).merge(None, None);
    meta.canonical_url
        .and_then(|u| Url::parse(&u).ok())
        .and_then(|u| {
            u.host_str()
                .map(|h| h.trim_start_matches("www.").to_owned())
        })
}

/// `articleBody` is meant to be plain text, but some CMSes put HTML in it.
fn json_ld_body_text(body: &str) -> String {
    if body.contains('<') && body.contains('>') && prescan::check(body).is_err() {
        // Markup no parser should be given: the feed reader's linear converter copes.
        text::normalize(&crate::feeds::html_to_text(body))
    } else if body.contains('<') && body.contains('>') {
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
