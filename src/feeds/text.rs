//! Feed fields as plain text. A small forward-only scanner turns the HTML that RSS descriptions
//! and Atom `html` constructs carry into words: entities decoded, tags dropped, block elements
//! and `<br>` as whitespace, script and style bodies dropped, whitespace collapsed, and the
//! result cut at a cap. Also decodes HTML named entities (the full HTML5 table) for the XML
//! reader. These fields are attacker-controlled, so every search here starts where the last one
//! ended: each byte is looked at a bounded number of times. This module must never build a
//! DOM or hand the text to an HTML parser with super-linear cases.

use html_escape::NAMED_ENTITIES;

/// Appends the character an entity or character reference stands for (`name` is what stands
/// between `&` and `;`). Returns false, appending nothing, when the name means nothing.
pub fn push_reference(out: &mut String, name: &str) -> bool {
    if name.starts_with('#') {
        // As browsers read it: the C1 range means windows-1252 (feeds written on Windows say
        // `&#150;` for an en dash).
        return match xml_char_reference(name) {
            Some(c) => {
                out.push(windows_1252(c));
                true
            }
            None => false,
        };
    }
    match NAMED_ENTITIES.binary_search_by(|(known, _)| (*known).cmp(name.as_bytes())) {
        Ok(at) => {
            out.push_str(NAMED_ENTITIES[at].1);
            true
        }
        Err(_) => false,
    }
}

/// A C1 control character as the windows-1252 character it was meant to be.
pub fn windows_1252(c: char) -> char {
    const C1: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match c {
        '\u{80}'..='\u{9f}' => C1[c as usize - 0x80],
        _ => c,
    }
}

/// The character an XML character reference names (XML reads `&#150;` as U+0096; the
/// windows-1252 reading happens when the text is shown), or None for what is no character.
pub fn xml_char_reference(name: &str) -> Option<char> {
    let number = name.strip_prefix('#')?;
    let value = match number.strip_prefix(['x', 'X']) {
        Some(hex) if !hex.is_empty() && hex.len() <= 8 => u32::from_str_radix(hex, 16).ok()?,
        None if !number.is_empty() && number.len() <= 10 => number.parse::<u32>().ok()?,
        _ => return None,
    };
    match value {
        0 => Some('\u{fffd}'),
        _ => Some(char::from_u32(value).unwrap_or('\u{fffd}')),
    }
}

/// Collects words: whitespace runs become one space, none at either end, and writing stops at
/// the cap so a huge field costs no more than its first few KiB.
pub struct Words {
    out: String,
    pending_space: bool,
    max_bytes: usize,
    max_chars: usize,
    chars: usize,
}

impl Words {
    pub fn new(max_bytes: usize, max_chars: usize) -> Self {
        Self {
            out: String::new(),
            pending_space: false,
            max_bytes,
            max_chars,
            chars: 0,
        }
    }

    pub fn is_full(&self) -> bool {
        self.out.len() >= self.max_bytes || self.chars >= self.max_chars
    }

    pub fn space(&mut self) {
        if !self.out.is_empty() {
            self.pending_space = true;
        }
    }

    pub fn push(&mut self, c: char) {
        if self.is_full() {
            return;
        }
        let c = windows_1252(c);
        if c.is_whitespace() || c == '\u{200b}' || c.is_control() {
            self.space();
            return;
        }
        let extra = usize::from(self.pending_space);
        if self.out.len() + extra + c.len_utf8() > self.max_bytes
            || self.chars + extra >= self.max_chars
        {
            // Never cut inside a character, and never end on the space before a word that
            // does not fit.
            self.max_bytes = 0;
            return;
        }
        if self.pending_space {
            self.out.push(' ');
            self.chars += 1;
            self.pending_space = false;
        }
        self.out.push(c);
        self.chars += 1;
    }

    pub fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            if self.is_full() {
                return;
            }
            self.push(c);
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Plain text with its whitespace collapsed; `decode` also decodes `&name;` references, for
/// text that kept references the XML reader did not know.
pub fn plain_text(text: &str, decode: bool, max_bytes: usize, max_chars: usize) -> String {
    let mut words = Words::new(max_bytes, max_chars);
    if !decode {
        words.push_str(text);
        return words.finish();
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut run = 0;
    let mut scratch = String::new();
    while i < bytes.len() && !words.is_full() {
        if bytes[i] == b'&'
            && let Some(next) = reference(text, i, &mut scratch)
        {
            words.push_str(&text[run..i]);
            words.push_str(&scratch);
            i = next;
            run = i;
            continue;
        }
        i += 1;
    }
    if run < text.len() {
        words.push_str(&text[run..]);
    }
    words.finish()
}

/// `text` with its references decoded and nothing else changed.
pub fn decode_references(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut scratch = String::new();
    let mut run = 0;
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        if bytes[i] == b'&'
            && let Some(next) = reference(text, i, &mut scratch)
        {
            out.push_str(&text[run..i]);
            out.push_str(&scratch);
            i = next;
            run = i;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[run..]);
    out
}

/// Decodes the reference that starts at `at` (an `&`) into `scratch`, returning the index just
/// past it; None when it is no reference, so the `&` is text.
fn reference(text: &str, at: usize, scratch: &mut String) -> Option<usize> {
    let bytes = text.as_bytes();
    let end = bytes[at + 1..]
        .iter()
        .take(34)
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'#'))
        .map_or(bytes.len(), |p| at + 1 + p);
    let name = &text[at + 1..end];
    let with_semicolon = bytes.get(end) == Some(&b';');
    // Old pages write `&amp` and `&nbsp` without the semicolon; browsers accept those few.
    if name.is_empty()
        || !(with_semicolon || matches!(name, "amp" | "lt" | "gt" | "quot" | "nbsp" | "copy"))
    {
        return None;
    }
    scratch.clear();
    push_reference(scratch, name).then_some(end + usize::from(with_semicolon))
}

fn floor_char_boundary(s: &str, mut at: usize) -> usize {
    while at > 0 && !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Elements whose content is not text a reader sees.
const DROPPED: &[&str] = &["script", "style", "template"];

/// Elements that break a line: their tags become whitespace, so "<p>a</p><p>b</p>" reads
/// "a b", not "ab".
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "caption",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
];

/// HTML elements a text field mentions when it really is HTML, as feed readers have long
/// guessed it for fields whose type the format leaves open.
const HTML_ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "address",
    "article",
    "aside",
    "audio",
    "b",
    "big",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "dd",
    "del",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "embed",
    "figcaption",
    "figure",
    "font",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "i",
    "iframe",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "nav",
    "object",
    "ol",
    "p",
    "picture",
    "pre",
    "q",
    "s",
    "samp",
    "script",
    "section",
    "small",
    "source",
    "span",
    "strike",
    "strong",
    "style",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "video",
];

fn is_one_of(name: &str, list: &[&str]) -> bool {
    list.iter().any(|known| known.eq_ignore_ascii_case(name))
}

/// Void elements never have an end tag; inside a field they must not stay open.
pub fn is_void(name: &str) -> bool {
    is_one_of(
        name,
        &[
            "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
            "source", "track", "wbr",
        ],
    )
}

/// Whether text whose type the format leaves open is HTML: it has a tag of a known HTML
/// element or an entity reference.
pub fn looks_like_html(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => {
                let start = i + 1 + usize::from(bytes.get(i + 1) == Some(&b'/'));
                let len = bytes[start.min(bytes.len())..]
                    .iter()
                    .take(12)
                    .take_while(|b| b.is_ascii_alphanumeric())
                    .count();
                let after = bytes.get(start + len).copied();
                if len > 0
                    && matches!(after, Some(b'>' | b'/' | b' ' | b'\t' | b'\n' | b'\r'))
                    && is_one_of(&text[start..start + len], HTML_ELEMENTS)
                {
                    return true;
                }
            }
            b'&' => {
                let rest = &bytes[i + 1..];
                let len = rest
                    .iter()
                    .take(33)
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'#')
                    .count();
                if len > 0 && rest.get(len) == Some(&b';') {
                    return true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// The text of an HTML fragment, cut at `max_bytes` / `max_chars`.
pub fn html_to_text(html: &str, max_bytes: usize, max_chars: usize) -> String {
    let mut words = Words::new(max_bytes, max_chars);
    let bytes = html.as_bytes();
    let len = bytes.len();
    let mut i = 0;
    let mut run = 0;
    let mut scratch = String::new();
    while i < len {
        if words.is_full() {
            return words.finish();
        }
        match bytes[i] {
            b'&' => match reference(html, i, &mut scratch) {
                Some(next) => {
                    words.push_str(&html[run..i]);
                    words.push_str(&scratch);
                    i = next;
                    run = i;
                }
                None => i += 1,
            },
            b'<' => {
                let Some(next) = bytes.get(i + 1).copied() else {
                    break;
                };
                let tag_start = i;
                if next == b'!' || next == b'?' {
                    words.push_str(&html[run..tag_start]);
                    let end = if html[i..].starts_with("<!--") {
                        find(bytes, i + 4, b"-->").map(|e| e + 3)
                    } else {
                        find(bytes, i + 2, b">").map(|e| e + 1)
                    };
                    let Some(end) = end else {
                        // An unclosed comment hides the rest, as it does in a browser.
                        return words.finish();
                    };
                    i = end;
                    run = i;
                    continue;
                }
                let closing = next == b'/';
                let name_start = i + 1 + usize::from(closing);
                let name_len = bytes[name_start.min(len)..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'_'))
                    .count();
                if name_len == 0 || !bytes[name_start].is_ascii_alphabetic() {
                    // "a < b" is text.
                    i += 1;
                    continue;
                }
                words.push_str(&html[run..tag_start]);
                let name = &html[name_start..name_start + name_len];
                let Some(end) = tag_end(bytes, name_start + name_len) else {
                    return words.finish();
                };
                i = end;
                run = i;
                let local = name.rsplit(':').next().unwrap_or(name);
                if is_one_of(local, BLOCKS) {
                    words.space();
                }
                if !closing && is_one_of(local, DROPPED) && bytes[end - 2] != b'/' {
                    match find_end_tag(bytes, end, local.as_bytes()) {
                        Some(after) => {
                            i = after;
                            run = i;
                        }
                        None => return words.finish(),
                    }
                }
            }
            _ => i += 1,
        }
    }
    if run < len {
        words.push_str(&html[run..]);
    }
    words.finish()
}

/// The index just past the `>` that ends a tag whose attributes start at `from`; quotes that
/// open an attribute value hide a `>` inside them.
fn tag_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    let mut after_equals = false;
    while i < bytes.len() {
        match bytes[i] {
            b'>' => return Some(i + 1),
            quote @ (b'"' | b'\'') if after_equals => {
                let close = bytes[i + 1..].iter().position(|b| *b == quote)?;
                i += close + 2;
                after_equals = false;
                continue;
            }
            b'=' => after_equals = true,
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => after_equals = false,
        }
        i += 1;
    }
    None
}

/// The index just past `</name ...>` at or after `from`, names compared without case.
fn find_end_tag(bytes: &[u8], from: usize, name: &[u8]) -> Option<usize> {
    let mut i = from;
    while let Some(at) = find(bytes, i, b"</") {
        let start = at + 2;
        let end = start + name.len();
        if end <= bytes.len()
            && bytes[start..end].eq_ignore_ascii_case(name)
            && !bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric())
        {
            return find(bytes, end, b">").map(|e| e + 1);
        }
        i = start;
    }
    None
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from >= haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Appends `text` escaped for HTML text or a double-quoted attribute.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
}

/// Cuts `s` to at most `max_bytes`, at a character boundary.
pub fn truncate(s: &mut String, max_bytes: usize) {
    if s.len() > max_bytes {
        let cut = floor_char_boundary(s, max_bytes);
        s.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(html: &str) -> String {
        html_to_text(html, usize::MAX, usize::MAX)
    }

    #[test]
    fn tags_go_blocks_separate_entities_decode() {
        assert_eq!(
            text("<p>Hello <b>world</b></p><p>again</p>"),
            "Hello world again"
        );
        assert_eq!(
            text("Tom &amp; Jerry&nbsp;&eacute;t&eacute;"),
            "Tom & Jerry été"
        );
        assert_eq!(text("a<br>b<br/>c"), "a b c");
        assert_eq!(text("  lots \n\t of   space "), "lots of space");
        assert_eq!(text("x &#150; y &#x2014; z"), "x – y — z");
        assert_eq!(text("AT&T &bogus; &amp"), "AT&T &bogus; &");
    }

    #[test]
    fn script_style_and_comments_are_dropped() {
        assert_eq!(
            text("a<script type=\"x\">var s = '</p>';</script>b<style>p{}</STYLE>c<!-- no -->d"),
            "abcd"
        );
        assert_eq!(text("kept<!-- never closed"), "kept");
        assert_eq!(text("kept<script>never closed"), "kept");
    }

    #[test]
    fn text_that_only_looks_like_markup_stays() {
        assert_eq!(text("1 < 2 and 3 > 2"), "1 < 2 and 3 > 2");
        assert_eq!(text("<a href='x>y'>link</a>"), "link");
    }

    #[test]
    fn caps_cut_at_a_character_boundary() {
        assert_eq!(html_to_text("ééééé", 5, usize::MAX), "éé");
        assert_eq!(html_to_text("one two three", usize::MAX, 7), "one two");
        assert_eq!(plain_text("  a   b  ", false, 100, 100), "a b");
        assert_eq!(
            plain_text("caf&eacute; &amp; &x;", true, 100, 100),
            "café & &x;"
        );
    }

    #[test]
    fn html_is_told_from_text() {
        assert!(looks_like_html("<p>x</p>"));
        assert!(looks_like_html("Tom &amp; Jerry"));
        assert!(!looks_like_html("a < b > c"));
        assert!(!looks_like_html("AT&T"));
        assert!(!looks_like_html("<notatag>"));
    }
}
