//! The extraction pipeline: dom_smoothie's Readability pass, post-filters,
//! and the checks that decide whether to trust it — agreement with the
//! page's own summary metadata, the feed hints and JSON-LD `articleBody` —
//! with a text-density fallback pass over a fresh parse when it looks wrong.
//! Candidates are compared by how well they agree with that evidence.
//!
//! Pure: the only inputs are the HTML, the URL string and the options.

use std::collections::HashSet;

use dom_query::Document;
use dom_smoothie::{Config, Readability, TextMode};
use url::Url;

use super::density;
use super::memory::{fold_case, is_word_char};
use super::metadata::PageMeta;
use super::text::{self, Cleaner};
use super::{
    Article, DomShape, ExtractError, ExtractOptions, MAX_DEPTH, MAX_DEPTH_SUM, MAX_ELEMENTS,
    MIN_TEXT_CHARS, PageBlocks, json_ld_body_text,
};

/// A JSON-LD body this long is a usable reference for the main text;
/// shorter ones are often teasers or the description repeated.
const MIN_LD_BODY_CHARS: usize = 400;

/// If the DOM text recovers less than this share of the `articleBody`
/// tokens, the DOM pass grabbed the wrong block or only part of it.
const MIN_LD_RECALL: f64 = 0.7;

/// Below this share of the summary evidence words found in the text, the
/// text is probably not the article the title/description talk about.
const MIN_EVIDENCE_AGREEMENT: f64 = 0.35;

/// Evidence needs at least this many distinct content words to be trusted
/// as a verdict; a three-word title says too little.
const MIN_EVIDENCE_WORDS: usize = 6;

pub(super) fn run(
    html: &str,
    url: Option<&str>,
    opts: &ExtractOptions<'_>,
) -> Result<(Article, PageBlocks), ExtractError> {
    let base = url
        .and_then(|u| Url::parse(u.trim()).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"));

    let stripped = super::prestrip::strip_raw_text(html);
    let html: &str = &stripped;
    super::prescan::check(html)?;
    let doc = Document::from(html);
    // Read metadata before Readability mutates the document.
    let page = PageMeta::read(&doc);

    let shape = DomShape::measure(&doc);
    let too_complex = shape.elements > MAX_ELEMENTS
        || shape.max_depth > MAX_DEPTH
        || shape.depth_sum > MAX_DEPTH_SUM;
    let parsed = if too_complex {
        Err(ExtractError::TooComplex {
            elements: shape.elements,
            max_depth: shape.max_depth,
            depth_sum: shape.depth_sum,
        })
    } else {
        let config = Config {
            // Only `content` (HTML) is used; Raw skips dom_smoothie's costly
            // formatted-text rendering, which we redo after filtering.
            text_mode: TextMode::Raw,
            // JSON-LD is read once, by `PageMeta`, before this pass.
            disable_json_ld: true,
            // Class hints ("caption", "share", "newsletter") drive the
            // post-filters; they are dropped from the output anyway.
            keep_classes: opts.stages.post_filters,
            ..Config::default()
        };
        Readability::with_document(doc, base.as_ref().map(Url::as_str), Some(config))
            .and_then(|mut reader| reader.parse())
            // Bad URLs were filtered above, so any failure means Readability
            // found nothing it considers an article.
            .map_err(|_| ExtractError::NoContent)
    };
    let (smoothie, failure) = match parsed {
        Ok(a) => (Some(a), None),
        Err(e) => (None, Some(e)),
    };
    let meta = page.merge(smoothie.as_ref(), base.as_ref());

    let hints = opts.hints.unwrap_or_default();
    // Texts that describe the article: they are never template, and the
    // main block must agree with them.
    let descriptions: Vec<&str> = [
        hints.title,
        hints.summary,
        Some(meta.title.as_str()),
        meta.description.as_deref(),
        page.meta_value("og:description"),
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.trim().is_empty())
    .collect();
    let evidence = Evidence::new(&descriptions);

    let cleaner = Cleaner {
        title: &meta.title,
        authors: &meta.authors,
        protected: &descriptions,
        memory: opts.memory,
        filters: opts.stages.post_filters,
    };

    let mut blocks = PageBlocks::default();
    let mut primary = smoothie
        .as_ref()
        .map(|a| cleaner.clean(&a.content, &mut blocks))
        .unwrap_or_default();

    let ld_body = page
        .json_ld
        .as_ref()
        .and_then(|ld| ld.article_body.as_deref())
        .map(json_ld_body_text)
        .unwrap_or_default();
    let ld_ref = (opts.stages.json_ld_body && ld_body.chars().count() >= MIN_LD_BODY_CHARS)
        .then(|| token_set(&ld_body));

    // Cheapest checks first: most pages pass on length and evidence, and
    // only pages with a JSON-LD body pay for a token set of the text.
    let suspicious = primary.chars().count() < MIN_TEXT_CHARS
        || evidence.agreement_in(&primary) < MIN_EVIDENCE_AGREEMENT
        || ld_ref
            .as_ref()
            .is_some_and(|r| recall(r, &token_set(&primary)) < MIN_LD_RECALL);

    if suspicious && opts.stages.fallback && !too_complex {
        let fresh = Document::from(html);
        let rate = |t: &str| evidence.agreement_in(t);
        if let Some(content) = density::main_content_html(&fresh, &rate) {
            let mut alt_blocks = PageBlocks::default();
            let alt = cleaner.clean(&content, &mut alt_blocks);
            if better(
                &alt,
                &primary,
                &token_set(&primary),
                &evidence,
                ld_ref.as_ref(),
            ) {
                primary = alt;
                blocks = alt_blocks;
            }
        }
    }

    if opts.stages.json_ld_body {
        let ld_wins = match &ld_ref {
            Some(r) => recall(r, &token_set(&primary)) < MIN_LD_RECALL,
            None => primary.chars().count() < MIN_TEXT_CHARS,
        };
        if ld_wins && ld_body.chars().count() > primary.chars().count() {
            primary = ld_body;
        }
    } else if primary.chars().count() < MIN_TEXT_CHARS
        && ld_body.chars().count() > primary.chars().count()
    {
        primary = ld_body;
    }
    if primary.is_empty() {
        return Err(failure.unwrap_or(ExtractError::NoContent));
    }

    let body = text::strip_leading_title_and_byline(&primary, &meta.title, &meta.authors);
    let article = Article {
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
    };
    Ok((article, blocks))
}

/// Whether `alt` should replace `cur`: closer to the JSON-LD body when
/// there is one, else more agreement with the summary evidence, with
/// length as the tie-break (a failed grab is usually short).
fn better(
    alt: &str,
    cur: &str,
    cur_tokens: &HashSet<u64>,
    ev: &Evidence,
    ld: Option<&HashSet<u64>>,
) -> bool {
    let alt_tokens = token_set(alt);
    if let Some(r) = ld {
        return f1_against(r, &alt_tokens) > f1_against(r, cur_tokens) + 0.02;
    }
    let (a, c) = (ev.agreement(&alt_tokens), ev.agreement(cur_tokens));
    if cur.chars().count() < MIN_TEXT_CHARS {
        return alt.chars().count() > cur.chars().count() && a + 0.05 >= c;
    }
    a > c + 0.1 && alt.chars().count() >= MIN_TEXT_CHARS
}

/// Hashes of the lowercased word tokens of at least three characters;
/// short words are mostly function words and add noise to agreement
/// measures. Hashes, not strings, because this runs over whole article
/// texts on every page; a 64-bit collision only blurs a ratio slightly.
pub(crate) fn token_set(s: &str) -> HashSet<u64> {
    s.split(|c: char| !is_word_char(c))
        .filter(|w| w.chars().nth(2).is_some())
        .map(word_hash)
        .collect()
}

/// FNV-1a of the lowercased word.
fn word_hash(w: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for c in w.chars() {
        h ^= u64::from(fold_case(c));
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Share of `reference` tokens found in `t`.
fn recall(reference: &HashSet<u64>, t: &HashSet<u64>) -> f64 {
    if reference.is_empty() {
        return 1.0;
    }
    reference.iter().filter(|w| t.contains(*w)).count() as f64 / reference.len() as f64
}

fn f1_against(reference: &HashSet<u64>, t: &HashSet<u64>) -> f64 {
    if t.is_empty() || reference.is_empty() {
        return 0.0;
    }
    let common = reference.iter().filter(|w| t.contains(*w)).count() as f64;
    if common == 0.0 {
        return 0.0;
    }
    let (p, r) = (common / t.len() as f64, common / reference.len() as f64);
    2.0 * p * r / (p + r)
}

/// Content words of the title/description/hints.
struct Evidence {
    words: HashSet<u64>,
}

impl Evidence {
    fn new(texts: &[&str]) -> Self {
        let mut words = HashSet::new();
        for t in texts {
            words.extend(token_set(t));
        }
        Evidence { words }
    }

    /// Share of evidence words present in `text`; 1.0 (no verdict) when the
    /// evidence is too thin to judge.
    /// [`Self::agreement`] straight from the text: one scan with lookups
    /// into the small evidence set, no token set of the whole text.
    fn agreement_in(&self, text: &str) -> f64 {
        if self.words.len() < MIN_EVIDENCE_WORDS {
            return 1.0;
        }
        let mut found = HashSet::new();
        for w in text.split(|c: char| !is_word_char(c)) {
            if w.chars().nth(2).is_some() {
                let h = word_hash(w);
                if self.words.contains(&h) {
                    found.insert(h);
                }
            }
        }
        found.len() as f64 / self.words.len() as f64
    }

    fn agreement(&self, text_tokens: &HashSet<u64>) -> f64 {
        if self.words.len() < MIN_EVIDENCE_WORDS {
            return 1.0;
        }
        recall(&self.words, text_tokens)
    }
}
