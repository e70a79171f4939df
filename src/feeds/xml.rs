//! The streaming XML reader under the feed parser: quick-xml's events in one pass, turned into
//! start / text / end calls on a [`Handler`] with names resolved to vocabularies, `xml:base`
//! resolved, references decoded and the hard limits of [`super::limits`] enforced as it goes.
//! It forgives what real feeds get wrong: end tags that close nothing are dropped, an end tag
//! that closes an outer element closes the ones left open inside it, undeclared entities reach
//! the handler by name (HTML's named entities are decoded here), and a document cut short ends
//! as if its open elements were closed. It never expands entities declared in a DTD (that is how
//! billion-laughs attacks work), never builds a tree, never recurses on the input's structure,
//! and never keeps more per open element than its name, its base and its namespace mark.

use std::collections::HashMap;
use std::rc::Rc;

use quick_xml::events::Event;
use quick_xml::reader::Reader;
use url::Url;

use super::limits::{
    FeedError, MAX_ATTRIBUTE_BYTES, MAX_ATTRIBUTES, MAX_BASE_BYTES, MAX_DEPTH, MAX_ELEMENTS,
    MAX_TEXT_BYTES,
};
use super::names::{self, Ns, Scopes};
use super::text::{push_reference, xml_char_reference};

/// A start tag as the handler sees it.
pub struct Tag<'a, 'r> {
    pub ns: Ns,
    /// The name without its prefix.
    pub local: &'a str,
    /// Attributes as written: qualified name and the raw (still escaped) value.
    pub attrs: &'r [(&'a str, &'a str)],
    /// The base URL in force for this element (its own `xml:base` included).
    pub base: Option<&'r Rc<Url>>,
}

impl Tag<'_, '_> {
    /// The value of the attribute whose local name is `name` (any case), unescaped.
    pub fn attr(&self, name: &str) -> Option<String> {
        self.attrs
            .iter()
            .find(|(qname, _)| names::local(qname).eq_ignore_ascii_case(name))
            .map(|(_, value)| unescape(value))
    }

    /// Whether the element's local name is `name`, ignoring ASCII case as feed readers do.
    pub fn is(&self, name: &str) -> bool {
        self.local.eq_ignore_ascii_case(name)
    }
}

/// What the handler wants done with an element it was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// Keep it open until its end tag; `end` will be called.
    Kept,
    /// It is closed already (an HTML void element such as `<br>` that sloppy feeds never
    /// close); `end` will not be called for it.
    Void,
}

/// Receives the document. Every `Kept` start gets exactly one `end`, innermost first.
pub trait Handler<'a> {
    fn start(&mut self, tag: &Tag<'a, '_>) -> Result<Opened, FeedError>;
    fn end(&mut self);
    fn text(&mut self, text: &str);
    /// A reference to an entity neither XML nor HTML defines, such as one declared in a DTD.
    fn unknown_reference(&mut self, name: &str);
}

struct Open<'a> {
    qname: &'a str,
    base: Option<Rc<Url>>,
    scope_mark: usize,
}

/// How a read ended.
pub struct Outcome {
    /// Why the document stopped before its end, when it was cut short or broken.
    pub broken: Option<String>,
}

/// Reads `doc` into `handler`. `base` is the document's own base URL.
pub fn read<'a>(
    doc: &'a str,
    base: Option<Url>,
    handler: &mut impl Handler<'a>,
) -> Result<Outcome, FeedError> {
    let mut reader = Reader::from_str(doc);
    let config = reader.config_mut();
    config.allow_dangling_amp = true;
    config.allow_unmatched_ends = true;
    config.check_end_names = false;
    config.check_comments = false;
    config.expand_empty_elements = false;

    let root_base = base.map(Rc::new);
    let mut stack: Vec<Open<'a>> = Vec::new();
    // How many elements of each name are open, so an end tag that closes nothing is known in
    // O(1) instead of by searching the stack.
    let mut open_names: HashMap<&'a str, u32> = HashMap::new();
    let mut scopes = Scopes::default();
    let mut attrs: Vec<(&'a str, &'a str)> = Vec::new();
    let mut elements = 0usize;
    let mut text_run = 0usize;
    let mut scratch = String::new();
    // Bytes of resolved bases the document may still make. Each base is capped, but a flood of
    // elements each with a relative base would still make a capped base per element.
    let mut base_budget = 2 * doc.len() + 64 * 1024;

    let broken = loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            // A syntax error (an unclosed comment, tag or CDATA section) means the rest
            // cannot be read; what came before stands. Retrying would rescan the rest for
            // every such opener, which is how a run of `<!--` would cost quadratic time.
            Err(err) => break Some(err.to_string()),
        };
        match event {
            Event::Start(ref tag) | Event::Empty(ref tag) => {
                let empty = matches!(event, Event::Empty(_));
                text_run = 0;
                let Some(raw) = within(doc, tag) else {
                    break Some("unreadable start tag".into());
                };
                let name_len = tag.name().as_ref().len();
                let qname = &raw[..name_len.min(raw.len())];
                if !qname
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':')
                {
                    // "a < b" in text is text, not a tag.
                    scratch.clear();
                    scratch.push('<');
                    scratch.push_str(raw);
                    scratch.push_str(if empty { "/>" } else { ">" });
                    handler.text(&scratch);
                    continue;
                }
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(FeedError::TooManyElements);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(FeedError::TooDeep);
                }
                attributes(&raw[qname.len()..], &mut attrs)?;
                let scope_mark = scopes.mark();
                let parent_base = stack.last().map_or(root_base.as_ref(), |o| o.base.as_ref());
                let mut own_base = None;
                for (key, value) in &attrs {
                    if *key == "xmlns" {
                        scopes.declare("", &unescape(value));
                    } else if let Some(prefix) = key.strip_prefix("xmlns:") {
                        scopes.declare(prefix, &unescape(value));
                    } else if *key == "xml:base"
                        && parent_base.map_or(0, |b| b.as_str().len()) + value.len() <= base_budget
                    {
                        own_base = resolve_base(parent_base, &unescape(value))
                            .filter(|base| base.as_str().len() <= base_budget)
                            .map(|base| {
                                base_budget -= base.as_str().len();
                                Rc::new(base)
                            });
                    }
                }
                let element_base = own_base.or_else(|| parent_base.cloned());
                let opened = handler.start(&Tag {
                    ns: scopes.element(qname),
                    local: names::local(qname),
                    attrs: &attrs,
                    base: element_base.as_ref(),
                })?;
                match (opened, empty) {
                    (Opened::Void, _) => scopes.close(scope_mark),
                    (Opened::Kept, true) => {
                        handler.end();
                        scopes.close(scope_mark);
                    }
                    (Opened::Kept, false) => {
                        *open_names.entry(qname).or_default() += 1;
                        stack.push(Open {
                            qname,
                            base: element_base,
                            scope_mark,
                        });
                    }
                }
            }
            Event::End(ref tag) => {
                text_run = 0;
                let name: &str = tag;
                if open_names.get(name).copied().unwrap_or(0) == 0 {
                    continue;
                }
                while let Some(open) = stack.pop() {
                    close(&mut open_names, &mut scopes, handler, &open);
                    if open.qname == name {
                        break;
                    }
                }
            }
            Event::Text(ref text) => {
                text_run += text.len();
                if text_run > MAX_TEXT_BYTES {
                    return Err(FeedError::TextTooLong);
                }
                handler.text(text);
            }
            Event::CData(ref text) => {
                text_run += text.len();
                if text_run > MAX_TEXT_BYTES {
                    return Err(FeedError::TextTooLong);
                }
                handler.text(text);
            }
            Event::GeneralRef(ref reference) => {
                let name: &str = reference;
                text_run += name.len() + 2;
                if text_run > MAX_TEXT_BYTES {
                    return Err(FeedError::TextTooLong);
                }
                scratch.clear();
                // Character references and XML's five entities are text. Any other name,
                // HTML's entities included, reaches the handler as a name: fields keep it as
                // written (the old reader did, and item hashes depend on it) and decode it
                // when they are shown.
                if let Some(c) = xml_char_reference(name) {
                    scratch.push(c);
                    handler.text(&scratch);
                } else if let Some(text) = predefined(name) {
                    handler.text(text);
                } else if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
                {
                    handler.unknown_reference(name);
                } else {
                    // "AT&T rocks;" is text with a stray ampersand, not a reference.
                    scratch.push('&');
                    scratch.push_str(name);
                    scratch.push(';');
                    handler.text(&scratch);
                }
            }
            Event::Eof => break None,
            // Declarations, processing instructions, comments and the DTD carry nothing a
            // feed reader needs; entities the DTD declares are deliberately not expanded.
            _ => {}
        }
    };
    while let Some(open) = stack.pop() {
        close(&mut open_names, &mut scopes, handler, &open);
    }
    Ok(Outcome { broken })
}

fn close<'a>(
    open_names: &mut HashMap<&'a str, u32>,
    scopes: &mut Scopes<'a>,
    handler: &mut impl Handler<'a>,
    open: &Open<'a>,
) {
    if let Some(count) = open_names.get_mut(open.qname) {
        *count = count.saturating_sub(1);
    }
    scopes.close(open.scope_mark);
    handler.end();
}

/// The part of `doc` that `part` borrows, with `doc`'s lifetime. quick-xml reading from a
/// string slice hands out borrowed slices of it; this recovers their place.
fn within<'a>(doc: &'a str, part: &str) -> Option<&'a str> {
    let start = (part.as_ptr() as usize).checked_sub(doc.as_ptr() as usize)?;
    doc.get(start..start + part.len())
}

/// Splits the attributes of a start tag (everything after its name), checking the limits as it
/// goes. Lenient like a browser: unquoted and valueless attributes are accepted.
fn attributes<'a>(raw: &'a str, out: &mut Vec<(&'a str, &'a str)>) -> Result<(), FeedError> {
    out.clear();
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() || bytes[i] == b'/' {
            i += 1;
            continue;
        }
        let key_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !matches!(bytes[i], b'=' | b'/')
        {
            i += 1;
        }
        let key = &raw[key_start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = "";
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < bytes.len() && matches!(bytes[i], b'"' | b'\'') {
                let quote = bytes[i];
                let start = i + 1;
                let end = bytes[start..]
                    .iter()
                    .position(|b| *b == quote)
                    .map_or(bytes.len(), |p| start + p);
                value = &raw[start..end];
                i = end + 1;
            } else {
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = &raw[start..i];
            }
        }
        if key.is_empty() || key.starts_with(['"', '\'']) {
            continue;
        }
        if value.len() > MAX_ATTRIBUTE_BYTES {
            return Err(FeedError::AttributeTooLong);
        }
        if out.len() >= MAX_ATTRIBUTES {
            return Err(FeedError::TooManyAttributes);
        }
        out.push((key, value));
    }
    Ok(())
}

/// The text of one of XML's five predefined entities.
fn predefined(name: &str) -> Option<&'static str> {
    Some(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "quot" => "\"",
        "apos" => "'",
        _ => return None,
    })
}

/// An attribute value with its references decoded; unknown ones stay as written.
pub fn unescape(raw: &str) -> String {
    if !raw.contains('&') {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after
            .bytes()
            .take(34)
            .position(|b| b == b';')
            .filter(|end| *end > 0);
        match end {
            Some(end) if push_reference(&mut out, &after[..end]) => rest = &after[end + 1..],
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The base an `xml:base` value sets under `parent`, or None to keep the parent's: relative
/// values with nothing to resolve against and results longer than [`MAX_BASE_BYTES`] are
/// ignored.
fn resolve_base(parent: Option<&Rc<Url>>, value: &str) -> Option<Url> {
    let value = value.trim();
    if value.is_empty() || value.len() > MAX_BASE_BYTES {
        return None;
    }
    let url = match Url::parse(value) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => parent?.join(value).ok()?,
        Err(_) => return None,
    };
    (url.as_str().len() <= MAX_BASE_BYTES).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the calls as a compact trace.
    #[derive(Default)]
    struct Trace(String);

    impl<'a> Handler<'a> for Trace {
        fn start(&mut self, tag: &Tag<'a, '_>) -> Result<Opened, FeedError> {
            self.0.push_str(&format!("<{:?}:{}", tag.ns, tag.local));
            if let Some(base) = tag.base {
                self.0.push_str(&format!(" @{base}"));
            }
            self.0.push('>');
            Ok(if tag.is("br") {
                Opened::Void
            } else {
                Opened::Kept
            })
        }
        fn end(&mut self) {
            self.0.push_str("</>");
        }
        fn text(&mut self, text: &str) {
            self.0.push_str(text);
        }
        fn unknown_reference(&mut self, name: &str) {
            self.0.push_str(&format!("[{name}]"));
        }
    }

    fn trace(doc: &str) -> String {
        let mut t = Trace::default();
        read(doc, None, &mut t).unwrap();
        t.0
    }

    #[test]
    fn sloppy_markup_is_forgiven() {
        assert_eq!(
            trace("<a><b>x<br>y</a></c>"),
            "<Core:a><Core:b>x<Core:br>y</></>"
        );
        assert_eq!(
            trace("<a>AT&T rocks; &eacute; &lol; &#233;</a>"),
            "<Core:a>AT&T rocks; [eacute] [lol] é</>"
        );
        assert_eq!(trace("<a>1 < 2</a>"), "<Core:a>1 < 2</a></>");
        assert_eq!(trace("<a><b>cut"), "<Core:a><Core:b>cut</></>");
    }

    #[test]
    fn namespaces_and_bases_resolve() {
        let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://e.org/a/"><x xml:base="b/" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:y/></x><media:z/></feed>"#;
        assert_eq!(
            trace(doc),
            "<Atom:feed @http://e.org/a/><Atom:x @http://e.org/a/b/><Dc:y @http://e.org/a/b/></></><Media:z @http://e.org/a/></></>"
        );
    }

    #[test]
    fn limits_are_errors() {
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert_eq!(
            read(&deep, None, &mut Trace::default()).err(),
            Some(FeedError::TooDeep)
        );
        let flood = format!(
            "<a {}/>",
            (0..=MAX_ATTRIBUTES)
                .map(|i| format!("a{i}=\"\""))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert_eq!(
            read(&flood, None, &mut Trace::default()).err(),
            Some(FeedError::TooManyAttributes)
        );
    }

    #[test]
    fn attribute_values_unescape() {
        assert_eq!(unescape("a&amp;b&nbsp;&bogus;&"), "a&b\u{a0}&bogus;&");
    }
}
