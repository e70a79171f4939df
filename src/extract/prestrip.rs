//! A byte-level pre-pass that empties `<script>` (except JSON-LD) and
//! `<style>` elements and comments, and drops inline `<svg>` elements,
//! before the HTML is parsed. About half the bytes of a
//! typical news page sit in these raw-text bodies, which never hold article
//! text, yet the HTML tokenizer still walks them character by character;
//! dropping them up front makes parsing much cheaper and leaves the tree
//! otherwise identical.
//!
//! Conservative by construction: HTML comments are skipped whole (a
//! commented-out `<script>` is not an opening tag), and a script body that
//! contains `<!--` is kept, because the tokenizer's escaped states may end
//! such a script somewhere other than the first `</script`. Pure.

use std::borrow::Cow;
use std::collections::HashMap;

/// Returns `html` with the bodies of non-JSON-LD `<script>` and all
/// `<style>` elements removed (the tags themselves stay).
pub fn strip_raw_text(html: &str) -> Cow<'_, str> {
    let b = html.as_bytes();
    let mut out = String::new();
    let mut last = 0;
    let mut i = 0;
    let mut closed_svgs: Option<HashMap<usize, usize>> = None;
    while let Some(off) = html.get(i..).and_then(|s| s.find('<')) {
        let p = i + off;
        if b[p..].starts_with(b"<!--") {
            let Some(e) = html[p + 4..].find("-->").map(|e| p + 4 + e) else {
                // An unterminated comment runs to the end of the input: drop its body (a
                // run of comment openers costs the tokenizer a parse error each).
                out.push_str(&html[last..p + 4]);
                last = html.len();
                break;
            };
            // Comment bodies are dropped too (the empty comment stays, so
            // the tree shape is unchanged).
            if e > p + 4 {
                out.push_str(&html[last..p + 4]);
                last = e;
            }
            i = e + 3;
            continue;
        }
        if tag_at(b, p, b"svg") {
            // Inline icons: many path nodes, never article text. Nested
            // <svg> elements are counted so the outer one is removed whole.
            let ends = closed_svgs.get_or_insert_with(|| svg_ends(b));
            if let Some(&end) = ends.get(&p) {
                out.push_str(&html[last..p]);
                last = end;
                i = end;
                continue;
            }
            i = p + 1;
            continue;
        }
        let kind = if tag_at(b, p, b"script") {
            Some(&b"</script"[..])
        } else if tag_at(b, p, b"style") {
            Some(&b"</style"[..])
        } else {
            None
        };
        let Some(close_tag) = kind else {
            i = p + 1;
            continue;
        };
        let Some(gt) = html[p..].find('>').map(|e| p + e) else {
            break;
        };
        let body_start = gt + 1;
        let Some(close) = find_ci(b, body_start, close_tag) else {
            // Never closed: the body runs to the end of the input whatever escapes it holds,
            // and is never article text.
            out.push_str(&html[last..body_start]);
            last = html.len();
            break;
        };
        let is_script = close_tag.len() == 8;
        let open_tag = &html[p..body_start];
        let keep = is_script
            && (contains_ci(open_tag.as_bytes(), b"ld+json")
                || html[body_start..close].contains("<!--"));
        if !keep && close > body_start {
            if out.capacity() == 0 {
                out.reserve(html.len() / 2);
            }
            out.push_str(&html[last..body_start]);
            last = close;
        }
        i = close + 2;
    }
    if last == 0 {
        return Cow::Borrowed(html);
    }
    out.push_str(&html[last..]);
    Cow::Owned(out)
}

/// Ends (exclusive) of the `<svg>` elements that are closed, by start position, matched
/// nesting-aware in one pass: looking for each one's end separately would rescan to the end of
/// the input for every unclosed `<svg>`, quadratic in a page of them.
fn svg_ends(b: &[u8]) -> HashMap<usize, usize> {
    let mut ends = HashMap::new();
    let mut open = Vec::new();
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        let q = i + off;
        if tag_at(b, q, b"svg") {
            let Some(gt) = b[q..].iter().position(|&c| c == b'>').map(|g| q + g) else {
                break;
            };
            if b[gt - 1] == b'/' {
                // Self-closing `<svg/>` (valid for foreign elements).
                ends.insert(q, gt + 1);
            } else {
                open.push(q);
            }
        } else if b.get(q + 1) == Some(&b'/') && tag_at(b, q + 1, b"svg") {
            let Some(gt) = b[q..].iter().position(|&c| c == b'>') else {
                break;
            };
            if let Some(start) = open.pop() {
                ends.insert(start, q + gt + 1);
            }
        }
        i = q + 1;
    }
    ends
}

/// `<name` at `p`, followed by a tag-name delimiter, ASCII-case-insensitive.
fn tag_at(b: &[u8], p: usize, name: &[u8]) -> bool {
    let start = p + 1;
    let end = start + name.len();
    b.get(start..end)
        .is_some_and(|s| s.eq_ignore_ascii_case(name))
        && b.get(end)
            .is_some_and(|&c| c == b'>' || c == b'/' || c.is_ascii_whitespace())
}

/// Position of `needle` (ASCII, starting with `<`) at or after `from`.
fn find_ci(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let mut i = from;
    while i < b.len() {
        let off = b[i..].iter().position(|&c| c == b'<')?;
        let p = i + off;
        if b.get(p..p + needle.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(needle))
        {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_scripts_and_styles_keeps_json_ld() {
        let html = r#"<head><SCRIPT src=x>var a = "<p>no</p>";</SCRIPT ><style>p{}</style>
            <script type="application/ld+json">{"@type":"Article"}</script></head>
            <body><!-- <script> --><p>Text</p><script>if (a<b) {}</script></body>"#;
        let out = strip_raw_text(html);
        assert!(!out.contains("var a"), "{out}");
        assert!(!out.contains("p{}"));
        assert!(!out.contains("a<b"));
        assert!(out.contains(r#"{"@type":"Article"}"#));
        assert!(out.contains("<!----><p>Text</p>"));
        assert!(out.contains("<SCRIPT src=x></SCRIPT >"));
    }

    #[test]
    fn strips_nested_svg_whole() {
        let html = "<p>a</p><svg><svg><text>x</text></svg><path d='M0'/></svg><p>b</p><svg>open";
        assert_eq!(strip_raw_text(html), "<p>a</p><p>b</p><svg>open");
        let html = "<svg class=i/><p>kept</p><svg><svg/></svg>";
        assert_eq!(strip_raw_text(html), "<p>kept</p>");
    }

    #[test]
    fn untouched_without_scripts_and_safe_on_truncation() {
        assert!(matches!(strip_raw_text("<p>a</p>"), Cow::Borrowed(_)));
        // Unterminated raw text and comments run to the end; their bodies go.
        assert_eq!(strip_raw_text("<p>a<script>unterminated"), "<p>a<script>");
        assert_eq!(strip_raw_text("<p>a<!-- <!-- <!--"), "<p>a<!--");
        assert_eq!(
            strip_raw_text("<scripts>x</scripts>"),
            "<scripts>x</scripts>"
        );
        assert_eq!(strip_raw_text("<p>é<style>"), "<p>é<style>");
        // Escaped script content is left to the real tokenizer.
        let esc = "<script><!-- <script></script> --></script><p>x</p>";
        assert_eq!(strip_raw_text(esc), esc);
    }
}
