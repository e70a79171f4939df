//! Highlighted snippets around the hits of a matched topic.
//!
//! Owns choosing windows of about [`WINDOW_WORDS`] words around hits,
//! merging overlapping windows, wrapping hits in `<mark>` using the original
//! text's bytes, and HTML-escaping everything else. It must never do I/O,
//! read the clock or keep global state, and it must never emit unescaped
//! article text: snippets go straight into HTML mail and web pages.

use super::matcher::{AnalyzedArticle, Field, Hit};

/// Words per snippet window, hits included.
pub const WINDOW_WORDS: usize = 30;
/// Snippets per match; more stops being a summary.
pub const MAX_SNIPPETS: usize = 3;

struct Window {
    first: usize,
    last: usize,
    hits: Vec<(usize, usize)>,
}

/// Builds up to [`MAX_SNIPPETS`] snippets from the body hits, or from the
/// title hits when the body has none. `hits` may be unsorted and contain
/// duplicates.
pub fn snippets(article: &AnalyzedArticle, hits: &[Hit]) -> Vec<String> {
    let pick = |field: Field| {
        let mut chosen: Vec<(usize, usize)> = hits
            .iter()
            .filter(|h| h.field == field)
            .map(|h| (h.first, h.last))
            .collect();
        chosen.sort_unstable();
        chosen.dedup();
        chosen
    };
    let (field, chosen) = match pick(Field::Body) {
        body if !body.is_empty() => (Field::Body, body),
        _ => (Field::Title, pick(Field::Title)),
    };
    let index = article.field(field);
    let count = index.tokens.len();
    if count == 0 {
        return Vec::new();
    }

    let mut windows: Vec<Window> = Vec::new();
    for (first, last) in chosen {
        let pad = WINDOW_WORDS.saturating_sub(last - first + 1) / 2;
        let lo = first.saturating_sub(pad);
        let hi = (last + pad).min(count - 1);
        match windows.last_mut() {
            Some(w) if lo <= w.last + 1 => {
                w.last = w.last.max(hi);
                w.hits.push((first, last));
            }
            _ => {
                if windows.len() == MAX_SNIPPETS {
                    break;
                }
                windows.push(Window {
                    first: lo,
                    last: hi,
                    hits: vec![(first, last)],
                });
            }
        }
    }

    windows
        .iter()
        .map(|w| render(&index.source, &index.tokens, w, count))
        .collect()
}

fn render(source: &str, tokens: &[crate::text::Token], w: &Window, count: usize) -> String {
    let byte = |pos: usize, end: bool| {
        tokens
            .get(pos)
            .map_or(0, |t| if end { t.end } else { t.start })
    };
    // At the edges of the field keep the surrounding punctuation (quotes, the
    // final full stop); in the middle cut at word boundaries and say so.
    let start = if w.first == 0 {
        0
    } else {
        byte(w.first, false)
    };
    let end = if w.last + 1 >= count {
        source.len()
    } else {
        byte(w.last, true)
    };

    // Hits can overlap (a phrase and one of its words); marks must not nest.
    let mut marks: Vec<(usize, usize)> = Vec::new();
    for &(first, last) in &w.hits {
        let (a, b) = (byte(first, false), byte(last, true));
        match marks.last_mut() {
            Some(m) if a <= m.1 => m.1 = m.1.max(b),
            _ => marks.push((a, b)),
        }
    }

    let mut out = String::new();
    if w.first > 0 {
        out.push('…');
    }
    let mut cursor = start;
    for (a, b) in marks {
        escape_into(&mut out, source.get(cursor..a).unwrap_or(""));
        out.push_str("<mark>");
        escape_into(&mut out, source.get(a..b).unwrap_or(""));
        out.push_str("</mark>");
        cursor = b;
    }
    escape_into(&mut out, source.get(cursor..end).unwrap_or(""));
    if w.last + 1 < count {
        out.push('…');
    }
    let trimmed = out.trim();
    if trimmed.len() == out.len() {
        out
    } else {
        trimmed.to_owned()
    }
}

/// Escapes HTML and collapses whitespace runs (articles carry newlines and
/// indentation that mean nothing inside a one-line snippet).
fn escape_into(out: &mut String, text: &str) {
    let mut in_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
            continue;
        }
        in_space = false;
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::topics::{AnalyzedArticle, ArticleText, match_query, parse};

    fn snips(query: &str, title: &str, text: &str) -> Vec<String> {
        let q = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        let article = AnalyzedArticle::new(&ArticleText {
            title,
            text,
            lang: None,
        });
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
    fn falls_back_to_title() {
        let got = snips("putin", "Putin <3", "nothing here");
        assert_eq!(got, ["<mark>Putin</mark> &lt;3"]);
        assert!(snips("-putin", "", "nothing here").is_empty());
    }
}
