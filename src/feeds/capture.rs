//! Collecting one field of a feed (a title, a description, a content element) while the
//! reader streams through it, and knowing what the collected text is: plain text, HTML, XHTML
//! markup, or base64 of either. Child elements of a field are re-serialised as HTML as they
//! stream past (XHTML content, and the unescaped HTML sloppy RSS puts in descriptions), in one
//! pass with no tree. Every capture has a byte cap and stops growing at it, so a 5 MB title
//! costs a scan, not a copy. This module must never keep an element open that HTML says is
//! void, and never grow a field past its cap.

use base64::Engine;

use super::text::{self, escape_into, is_void, truncate};
use super::xml::{Opened, Tag};

/// How a field's text is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain text (Atom `type="text"`, JSON Feed titles).
    Plain,
    /// Plain text unless it looks like HTML: fields whose format leaves the type open (RSS
    /// titles, Dublin Core, iTunes).
    Sniff,
    /// HTML source, escaped or in CDATA (RSS descriptions, `content:encoded`, Atom `html`).
    Html,
    /// XHTML children (Atom `type="xhtml"`, `xhtml:body`): re-serialised as HTML, without the
    /// wrapping `div` Atom requires.
    Xhtml,
    /// Base64 of HTML or of plain text (Atom 0.3 `mode="base64"`, Atom 1.0 content of another
    /// media type); `html: None` decides by the decoded text, and binary data reads as empty.
    Base64 { html: Option<bool> },
}

/// A finished field: its text as collected and whether that is HTML.
#[derive(Debug, Clone, Default)]
pub struct Value {
    pub raw: String,
    pub html: bool,
    /// The text kept `&name;` references nobody defines; they are decoded when it is shown.
    pub refs: bool,
}

impl Value {
    pub fn plain(raw: String) -> Self {
        Self {
            raw,
            html: false,
            refs: false,
        }
    }

    pub fn sniffed(raw: String) -> Self {
        let html = text::looks_like_html(&raw);
        Self {
            raw,
            html,
            refs: false,
        }
    }

    /// The field as plain text, cut at the caps.
    pub fn to_text(&self, max_bytes: usize, max_chars: usize) -> String {
        if self.html {
            text::html_to_text(&self.raw, max_bytes, max_chars)
        } else {
            text::plain_text(&self.raw, self.refs, max_bytes, max_chars)
        }
    }

    /// The field as HTML, cut at `max_bytes`. Plain text is escaped, so consumers can treat
    /// every content as HTML.
    pub fn into_html(self, max_bytes: usize) -> String {
        let mut html = if self.html {
            // Kept as XML read it; shown as browsers read `&#150;`.
            if self
                .raw
                .contains(|c: char| ('\u{80}'..='\u{9f}').contains(&c))
            {
                self.raw.chars().map(text::windows_1252).collect()
            } else {
                self.raw
            }
        } else {
            let decoded;
            let source = if self.refs {
                decoded = text::decode_references(&self.raw);
                &decoded
            } else {
                &self.raw
            };
            let mut out = String::with_capacity(source.len().min(max_bytes) + 16);
            let mut cut = source.len().min(max_bytes);
            while !source.is_char_boundary(cut) {
                cut -= 1;
            }
            escape_into(&mut out, &source[..cut]);
            out
        };
        truncate(&mut html, max_bytes);
        html
    }
}

/// A field being collected.
pub struct Capture<'a> {
    kind: Kind,
    buf: String,
    /// Child elements were serialised into `buf`, so it holds HTML.
    markup: bool,
    refs: bool,
    cap: usize,
    /// Names of the child elements open inside the field; "" marks Atom's XHTML wrapper div.
    open: Vec<&'a str>,
    seen_element: bool,
}

impl<'a> Capture<'a> {
    pub fn new(kind: Kind, cap: usize) -> Self {
        Self {
            kind,
            buf: String::new(),
            markup: false,
            refs: false,
            cap,
            open: Vec::new(),
            seen_element: false,
        }
    }

    /// Whether an end tag now closes a child element rather than the field itself.
    pub fn in_child(&self) -> bool {
        !self.open.is_empty()
    }

    pub fn start(&mut self, tag: &Tag<'a, '_>) -> Opened {
        let first = !self.seen_element;
        self.seen_element = true;
        if first && self.kind == Kind::Xhtml && tag.is("div") && self.buf.trim().is_empty() {
            self.buf.clear();
            self.markup = true;
            self.open.push("");
            return Opened::Kept;
        }
        self.switch_to_markup();
        let void = is_void(tag.local);
        if self.buf.len() < self.cap {
            self.buf.push('<');
            self.buf.push_str(tag.local);
            for (key, value) in tag.attrs {
                if *key == "xmlns" || key.starts_with("xmlns:") || key.starts_with("xml:") {
                    continue;
                }
                self.buf.push(' ');
                self.buf.push_str(super::names::local(key));
                self.buf.push_str("=\"");
                // The raw value is escaped already; only the quote it may contain (when the
                // feed used single quotes) and a stray `<` need escaping for HTML.
                for c in value.chars() {
                    match c {
                        '"' => self.buf.push_str("&quot;"),
                        '<' => self.buf.push_str("&lt;"),
                        _ => self.buf.push(c),
                    }
                }
                self.buf.push('"');
            }
            self.buf.push('>');
            truncate(&mut self.buf, self.cap);
        }
        if void {
            return Opened::Void;
        }
        self.open.push(tag.local);
        Opened::Kept
    }

    /// Closes the innermost open child element.
    pub fn end_child(&mut self) {
        let Some(name) = self.open.pop() else {
            return;
        };
        if !name.is_empty() && self.buf.len() < self.cap {
            self.buf.push_str("</");
            self.buf.push_str(name);
            self.buf.push('>');
            truncate(&mut self.buf, self.cap);
        }
    }

    pub fn text(&mut self, text: &str) {
        let room = self.cap.saturating_sub(self.buf.len());
        if room == 0 {
            return;
        }
        let mut cut = text.len().min(room);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        if self.markup {
            escape_into(&mut self.buf, &text[..cut]);
            truncate(&mut self.buf, self.cap);
        } else {
            self.buf.push_str(&text[..cut]);
        }
    }

    pub fn unknown_reference(&mut self, name: &str) {
        if self.buf.len() + name.len() + 2 <= self.cap {
            self.refs = true;
            self.buf.push('&');
            self.buf.push_str(name);
            self.buf.push(';');
        }
    }

    /// From here on the buffer holds HTML: what was collected as text is escaped once.
    fn switch_to_markup(&mut self) {
        if !self.markup {
            let text = std::mem::take(&mut self.buf);
            escape_unknown_aware(&mut self.buf, &text, self.refs);
            truncate(&mut self.buf, self.cap);
            self.markup = true;
        }
    }

    pub fn finish(self) -> Value {
        let refs = self.refs;
        if self.markup {
            return Value {
                raw: self.buf,
                html: true,
                refs,
            };
        }
        match self.kind {
            Kind::Plain => Value {
                raw: self.buf,
                html: false,
                refs,
            },
            Kind::Html => Value {
                raw: self.buf,
                html: true,
                refs,
            },
            Kind::Sniff | Kind::Xhtml => {
                let html = text::looks_like_html(&self.buf);
                Value {
                    raw: self.buf,
                    html,
                    refs,
                }
            }
            Kind::Base64 { html } => {
                let compact: Vec<u8> = self
                    .buf
                    .bytes()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                match base64::engine::general_purpose::STANDARD.decode(&compact) {
                    Ok(bytes) => {
                        // Images and other binary content have nothing to read.
                        let raw = String::from_utf8(bytes)
                            .ok()
                            .filter(|t| !t.chars().any(|c| c.is_control() && !c.is_whitespace()))
                            .unwrap_or_default();
                        let html = html.unwrap_or_else(|| text::looks_like_html(&raw));
                        Value {
                            raw,
                            html,
                            refs: false,
                        }
                    }
                    // Not base64 after all: a feed that says so but sends text.
                    Err(_) => {
                        let html = text::looks_like_html(&self.buf);
                        Value {
                            raw: self.buf,
                            html,
                            refs,
                        }
                    }
                }
            }
        }
    }
}

/// Escapes collected text into HTML, keeping the `&name;` of unknown references as references.
fn escape_unknown_aware(out: &mut String, text: &str, refs: bool) {
    if !refs {
        escape_into(out, text);
        return;
    }
    // Unknown references were written as `&name;` into text that is otherwise decoded; a
    // literal `&` that happens to look the same is rare enough to read as a reference too.
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        escape_into(out, &rest[..amp]);
        let after = &rest[amp + 1..];
        let name_len = after
            .bytes()
            .take(34)
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            .count();
        if name_len > 0 && after.as_bytes().get(name_len) == Some(&b';') {
            out.push('&');
            out.push_str(&after[..=name_len]);
            rest = &after[name_len + 1..];
        } else {
            out.push_str("&amp;");
            rest = after;
        }
    }
    escape_into(out, rest);
}
