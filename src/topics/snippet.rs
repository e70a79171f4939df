//! Highlighted snippets around the hits of a matched topic.
//!
//! Owns choosing windows of about [`WINDOW_WORDS`] words around hits,
//! merging overlapping windows, wrapping hits in `<mark>` using the original
//! text's bytes, and HTML-escaping everything else; plus a plain-text
//! variant for chat formats that wraps hits in `*…*` (bold in Slack,
//! Telegram and Markdown; «…» was rejected because Russian text already uses
//! those quotes). It must never do I/O, read the clock or keep global state,
//! and it must never emit unescaped article text in the HTML variant:
//! those snippets go straight into HTML mail and web pages.

use super::matcher::{AnalyzedArticle, Field, Hit};

/// Words per snippet window, hits included.
pub const WINDOW_WORDS: usize = 30;
/// Nearby windows merge, but never beyond this many words: a common word
/// hit every few words must not turn a snippet into the whole article.
pub const MAX_MERGED_WORDS: usize = 2 * WINDOW_WORDS;
/// Snippets per match; more stops being a summary.
pub const MAX_SNIPPETS: usize = 3;

/// A window of words and the range of the (sorted) hits it shows.
struct Window {
    first: usize,
    last: usize,
    hits: std::ops::Range<usize>,
}

/// Builds up to [`MAX_SNIPPETS`] snippets from the body hits, or from the
/// title hits when the body has none. `hits` may be unsorted and contain
/// duplicates.
pub fn snippets(article: &AnalyzedArticle, hits: &[Hit]) -> Vec<String> {
    build(article, hits, &[Style::Html]).swap_remove(0)
}

/// The same snippets as [`snippets`], unescaped, with `*hit*` marks.
pub fn snippets_plain(article: &AnalyzedArticle, hits: &[Hit]) -> Vec<String> {
    build(article, hits, &[Style::Plain]).swap_remove(0)
}

/// Both variants, choosing the windows once: `(html, plain)`.
pub fn snippets_both(article: &AnalyzedArticle, hits: &[Hit]) -> (Vec<String>, Vec<String>) {
    let mut both = build(article, hits, &[Style::Html, Style::Plain]);
    let plain = both.pop().unwrap_or_default();
    let html = both.pop().unwrap_or_default();
    (html, plain)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Html,
    Plain,
}

/// One list of snippets per style, in the order of `styles`.
fn build(article: &AnalyzedArticle, hits: &[Hit], styles: &[Style]) -> Vec<Vec<String>> {
    // Matching hands over sorted, distinct hits; only other callers pay for
    // a sorted copy.
    let owned;
    let hits = if hits.is_sorted() && hits.windows(2).all(|w| w[0] != w[1]) {
        hits
    } else {
        let mut copy = hits.to_vec();
        copy.sort_unstable();
        copy.dedup();
        owned = copy;
        &owned
    };
    // Hits sort by field, title first.
    let body_from = hits.partition_point(|h| h.field == Field::Title);
    let (field, chosen) = if body_from < hits.len() {
        (Field::Body, &hits[body_from..])
    } else {
        (Field::Title, hits)
    };
    let index = article.field(field);
    let count = index.tokens.len();
    if count == 0 || chosen.is_empty() {
        return styles.iter().map(|_| Vec::new()).collect();
    }

    let mut windows: Vec<Window> = Vec::with_capacity(MAX_SNIPPETS);
    for (i, hit) in chosen.iter().enumerate() {
        let (first, last) = (hit.first, hit.last);
        let pad = WINDOW_WORDS.saturating_sub(last - first + 1) / 2;
        let lo = first.saturating_sub(pad);
        let hi = (last + pad).min(count - 1);
        match windows.last_mut() {
            Some(w) if lo <= w.last + 1 && hi < w.first + MAX_MERGED_WORDS => {
                w.last = w.last.max(hi);
                w.hits.end = i + 1;
            }
            // Inside a window that may not grow any more: mark it there.
            Some(w) if last <= w.last => w.hits.end = i + 1,
            _ => {
                if windows.len() == MAX_SNIPPETS {
                    break;
                }
                windows.push(Window {
                    first: lo,
                    last: hi,
                    hits: i..i + 1,
                });
            }
        }
    }

    styles
        .iter()
        .map(|&style| {
            let rendered = index.rendered(style == Style::Html);
            windows
                .iter()
                .map(|w| render(rendered, w, chosen, count, style))
                .collect()
        })
        .collect()
}

/// A field rendered once per article and style: the text before the first
/// word, then each word and the gap after it, escaped and with whitespace
/// collapsed, so that a snippet is a concatenation of slices. Built on the
/// first snippet, because with many matching topics per article rendering
/// the same windows over and over would dominate matching.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rendered {
    buf: String,
    /// Byte ranges in `buf`: `[lead, word 0, gap 0, word 1, gap 1, …]`.
    pieces: Vec<(usize, usize)>,
}

impl Rendered {
    pub(crate) fn new(source: &str, tokens: &[crate::text::Token], html: bool) -> Self {
        let style = if html { Style::Html } else { Style::Plain };
        let mut r = Rendered {
            buf: String::with_capacity(source.len() + source.len() / 8),
            pieces: Vec::with_capacity(2 * tokens.len() + 1),
        };
        let push = |r: &mut Rendered, text: &str| {
            let at = r.buf.len();
            escape_into(&mut r.buf, text, style);
            r.pieces.push((at, r.buf.len()));
        };
        push(
            &mut r,
            source
                .get(..tokens.first().map_or(0, |t| t.start))
                .unwrap_or(""),
        );
        for (i, t) in tokens.iter().enumerate() {
            // UAX#29 words hold no whitespace and none of `&<>`: copy as is.
            let at = r.buf.len();
            r.buf.push_str(source.get(t.start..t.end).unwrap_or(""));
            r.pieces.push((at, r.buf.len()));
            let next = tokens.get(i + 1).map_or(source.len(), |n| n.start);
            push(&mut r, source.get(t.end..next).unwrap_or(""));
        }
        r
    }

    /// Where piece `k` starts in `buf` (the end of `buf` past the last).
    fn start(&self, k: usize) -> usize {
        self.pieces.get(k).map_or(self.buf.len(), |p| p.0)
    }

    /// Pieces `from..to` as one slice: they are laid out back to back.
    fn span(&self, from: usize, to: usize) -> &str {
        self.buf.get(self.start(from)..self.start(to)).unwrap_or("")
    }
}

/// Piece index of word `pos` (the gap after it is the next piece).
fn word_piece(pos: usize) -> usize {
    1 + 2 * pos
}

fn render(r: &Rendered, w: &Window, hits: &[Hit], count: usize, style: Style) -> String {
    let (open, close) = match style {
        Style::Html => ("<mark>", "</mark>"),
        Style::Plain => ("*", "*"),
    };
    let at_end = w.last + 1 >= count;
    // At the edges of the field keep the surrounding punctuation (quotes, the
    // final full stop); in the middle cut at word boundaries and say so.
    let mut cursor = if w.first == 0 { 0 } else { word_piece(w.first) };
    let stop = if at_end {
        word_piece(w.last) + 2
    } else {
        word_piece(w.last) + 1
    };
    let mut out = String::with_capacity(r.start(stop).saturating_sub(r.start(cursor)) + 64);
    if w.first > 0 {
        out.push('…');
    }
    // Hits can overlap (a phrase and one of its words); marks must not nest,
    // so a mark runs until the next hit starts after it.
    let mut mark: Option<(usize, usize)> = None;
    let emit = |out: &mut String, cursor: &mut usize, (first, last): (usize, usize)| {
        out.push_str(r.span(*cursor, word_piece(first)));
        out.push_str(open);
        out.push_str(r.span(word_piece(first), word_piece(last) + 1));
        out.push_str(close);
        *cursor = word_piece(last) + 1;
    };
    for hit in hits.get(w.hits.clone()).unwrap_or(&[]) {
        match &mut mark {
            Some(m) if hit.first <= m.1 => m.1 = m.1.max(hit.last),
            _ => {
                if let Some(done) = mark.replace((hit.first, hit.last)) {
                    emit(&mut out, &mut cursor, done);
                }
            }
        }
    }
    if let Some(done) = mark {
        emit(&mut out, &mut cursor, done);
    }
    out.push_str(r.span(cursor, stop));
    if !at_end {
        out.push('…');
    }
    let trimmed = out.trim();
    if trimmed.len() == out.len() {
        out
    } else {
        trimmed.to_owned()
    }
}

/// Escapes HTML (for [`Style::Html`]) and collapses whitespace runs
/// (articles carry newlines and indentation that mean nothing inside a
/// one-line snippet).
fn escape_into(out: &mut String, text: &str, style: Style) {
    // Copy runs of ordinary characters as slices; only whitespace and, for
    // HTML, `&<>` need per-character work.
    let mut run = 0;
    // Byte just past the previous whitespace: a run of spaces emits one.
    let mut space_end = None;
    for (i, c) in text.char_indices() {
        let special = c.is_whitespace() || (style == Style::Html && matches!(c, '&' | '<' | '>'));
        if !special {
            continue;
        }
        out.push_str(text.get(run..i).unwrap_or(""));
        run = i + c.len_utf8();
        if c.is_whitespace() {
            if space_end != Some(i) {
                out.push(' ');
            }
            space_end = Some(run);
            continue;
        }
        out.push_str(match c {
            '&' => "&amp;",
            '<' => "&lt;",
            _ => "&gt;",
        });
    }
    out.push_str(text.get(run..).unwrap_or(""));
}

#[cfg(test)]
mod tests {
    use crate::topics::{AnalyzedArticle, ArticleText, match_query, parse};

    fn snips(query: &str, title: &str, text: &str) -> Vec<String> {
        let q = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        let article = AnalyzedArticle::new(&ArticleText::new(title, text));
        match_query(&q, &article)
            .map(|m| m.snippets)
            .unwrap_or_default()
    }

    #[test]
    fn marks_original_bytes_and_escapes() {
        let got = snips(
            "\"soldiers mothers\" OR putin",
            "",
            "Putin & the <b>Soldiers’ Mothers</b>\n\n said \"no\".",
        );
        assert_eq!(
            got,
            [
                "<mark>Putin</mark> &amp; the &lt;b&gt;<mark>Soldiers’ Mothers</mark>&lt;/b&gt; said \"no\"."
            ]
        );
    }

    #[test]
    fn overlapping_hits_do_not_nest() {
        let got = snips(
            "\"mothers and wives\" OR wives",
            "",
            "the mothers and wives of",
        );
        assert_eq!(got, ["the <mark>mothers and wives</mark> of"]);
    }

    #[test]
    fn windows_are_cut_merged_and_capped() {
        let filler = |n: usize, tag: &str| {
            (0..n)
                .map(|i| format!("{tag}{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let text = format!(
            "{} putin {} kremlin putin {} putin {} putin {}",
            filler(40, "a"),
            filler(40, "b"),
            filler(40, "c"),
            filler(40, "d"),
            filler(40, "e")
        );
        let got = snips("putin OR kremlin", "", &text);
        assert_eq!(got.len(), 3);
        for s in &got {
            assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
            let words = s.split_whitespace().count();
            assert!((29..=33).contains(&words), "{words}: {s}");
        }
        assert!(got[1].contains("<mark>kremlin</mark> <mark>putin</mark>"));
    }

    #[test]
    fn plain_variant_is_unescaped_with_stars() {
        let q = parse("putin").unwrap_or_else(|e| panic!("{e}"));
        let article = AnalyzedArticle::new(&ArticleText::new("", "Putin & <co>\n said"));
        let m = match_query(&q, &article);
        assert_eq!(
            m.map(|m| m.snippets_plain),
            Some(vec!["*Putin* & <co> said".to_owned()])
        );
    }

    #[test]
    fn falls_back_to_title() {
        let got = snips("putin", "Putin <3", "nothing here");
        assert_eq!(got, ["<mark>Putin</mark> &lt;3"]);
        assert!(snips("-putin", "", "nothing here").is_empty());
    }
}
