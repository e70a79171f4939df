//! One pass over a page's HTML, before any parser sees it, that rejects pages beyond the limits
//! html5ever can take in bounded time and memory. html5ever is fast on real pages, but hostile
//! ones reach its super-linear corners: its scope checks walk the stack of open elements on every
//! start tag (200,000 nested `<div>`s: minutes of CPU), it deduplicates attributes pairwise
//! (300,000 on one tag: tens of seconds), and it re-creates every unclosed formatting element
//! after each block (a few hundred unclosed `<b>`s turn a 2 MB page into millions of elements).
//! The DOM limits in the parent module are checked after parsing, which is too late for these.
//!
//! The scan looks at each byte a bounded number of times and keeps an approximate stack of open
//! elements. It models what real sloppy pages rely on — void elements, the implied end tags of
//! `<p>`, `<li>`, `<dd>`, `<option>` and table parts, end tags that the parser ignores because a
//! special element stands in the way, scope boundaries, `</form>`, which takes the form alone off
//! the stack and leaves what it held open — and tracks each open element's depth in the tree, not
//! on the stack, so that its depth stays close to the parser's on real pages (no page of the
//! extraction set comes within a factor of four of a limit) and does not fall below it on the
//! hostile ones. It is an estimate, not a parser: the DOM limits after parsing and the analysis
//! time budget remain behind it.

use std::collections::HashMap;

use super::{MAX_DEPTH, MAX_ELEMENTS};

/// Attributes on one element. html5ever compares each new attribute with those before it on the
/// same tag; real elements carry fewer than 30.
pub const MAX_ATTRIBUTES: usize = 128;

/// Bytes in one attribute value: inline `data:` images reach a few hundred KiB.
pub const MAX_ATTRIBUTE_BYTES: usize = 2 * 1024 * 1024;

/// Bytes of text between two tags, outside `<script>`, `<style>` and other raw-text elements.
/// A long article is about 100 KiB of text, split into paragraphs.
pub const MAX_TEXT_BYTES: usize = 2 * 1024 * 1024;

/// Why a page was refused before parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageLimit {
    #[error("page nested deeper than {MAX_DEPTH} elements")]
    TooDeep,
    #[error("page has more than {MAX_ELEMENTS} elements")]
    TooManyElements,
    #[error("page has an element with more than {MAX_ATTRIBUTES} attributes")]
    TooManyAttributes,
    #[error("page has an attribute value over {} MiB", MAX_ATTRIBUTE_BYTES >> 20)]
    AttributeTooLong,
    #[error("page has a run of text over {} MiB", MAX_TEXT_BYTES >> 20)]
    TextTooLong,
}

/// What the scan measured, for tests and the evaluation of the estimate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Estimate {
    /// Start tags, plus the formatting elements the parser would re-create.
    pub elements: usize,
    /// Deepest the approximate stack of open elements got, counting `<html>` and `<body>`.
    pub max_depth: usize,
}

/// Checks `html` against the limits in one pass.
pub fn check(html: &str) -> Result<Estimate, PageLimit> {
    let mut scan = Scan::default();
    scan.run(html.as_bytes())?;
    Ok(scan.estimate)
}

/// A tag name, ASCII-lowercased and cut to 16 bytes: enough to tell the elements the rules below
/// name apart, and cheap to hash and copy. Longer custom names that share a prefix are treated as
/// one name, which only makes end tags match more often.
type Name = [u8; 16];

const fn name(s: &str) -> Name {
    let b = s.as_bytes();
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < b.len() {
        out[i] = b[i];
        i += 1;
    }
    out
}

fn name_of(raw: &[u8]) -> Name {
    let mut out = [0u8; 16];
    for (o, c) in out.iter_mut().zip(raw) {
        *o = c.to_ascii_lowercase();
    }
    out
}

/// The scopes of the HTML parsing algorithm, as indices into [`Open::boundary`].
#[derive(Clone, Copy)]
enum Scope {
    /// "Has an element in scope".
    Default = 0,
    /// "In button scope": default plus `button`.
    Button,
    /// "In table scope": `html`, `table`, `template`.
    Table,
    /// The special elements, which stop "any other end tag".
    Special,
    /// What stops the search for an open `<li>`, `<dd>` or `<dt>`: special elements other than
    /// `address`, `div` and `p`, plus the list containers.
    ListItem,
}
const SCOPES: usize = 5;

fn is_boundary(n: &Name, scope: Scope) -> bool {
    let default = matches!(
        trimmed(n),
        b"applet"
            | b"caption"
            | b"html"
            | b"table"
            | b"td"
            | b"th"
            | b"marquee"
            | b"object"
            | b"template"
            | b"mi"
            | b"mo"
            | b"mn"
            | b"ms"
            | b"mtext"
            | b"annotation-xml"
            | b"foreignobject"
            | b"desc"
    );
    match scope {
        Scope::Default => default,
        Scope::Button => default || trimmed(n) == b"button",
        Scope::Table => matches!(trimmed(n), b"html" | b"table" | b"template"),
        Scope::Special => is_special(n),
        Scope::ListItem => {
            (is_special(n) && !matches!(trimmed(n), b"address" | b"div" | b"p"))
                || matches!(trimmed(n), b"ol" | b"ul" | b"dl")
        }
    }
}

fn trimmed(n: &Name) -> &[u8] {
    let len = n.iter().position(|&c| c == 0).unwrap_or(n.len());
    &n[..len]
}

fn is_special(n: &Name) -> bool {
    matches!(
        trimmed(n),
        b"address"
            | b"applet"
            | b"area"
            | b"article"
            | b"aside"
            | b"base"
            | b"basefont"
            | b"bgsound"
            | b"blockquote"
            | b"body"
            | b"br"
            | b"button"
            | b"caption"
            | b"center"
            | b"col"
            | b"colgroup"
            | b"dd"
            | b"details"
            | b"dir"
            | b"div"
            | b"dl"
            | b"dt"
            | b"embed"
            | b"fieldset"
            | b"figcaption"
            | b"figure"
            | b"footer"
            | b"form"
            | b"frame"
            | b"frameset"
            | b"h1"
            | b"h2"
            | b"h3"
            | b"h4"
            | b"h5"
            | b"h6"
            | b"head"
            | b"header"
            | b"hgroup"
            | b"hr"
            | b"html"
            | b"iframe"
            | b"img"
            | b"input"
            | b"keygen"
            | b"li"
            | b"link"
            | b"listing"
            | b"main"
            | b"marquee"
            | b"menu"
            | b"meta"
            | b"nav"
            | b"noembed"
            | b"noframes"
            | b"noscript"
            | b"object"
            | b"ol"
            | b"p"
            | b"param"
            | b"plaintext"
            | b"pre"
            | b"script"
            | b"search"
            | b"section"
            | b"select"
            | b"source"
            | b"style"
            | b"summary"
            | b"table"
            | b"tbody"
            | b"td"
            | b"template"
            | b"textarea"
            | b"tfoot"
            | b"th"
            | b"thead"
            | b"title"
            | b"tr"
            | b"track"
            | b"ul"
            | b"wbr"
            | b"xmp"
            | b"mi"
            | b"mo"
            | b"mn"
            | b"ms"
            | b"mtext"
            | b"annotation-xml"
            | b"foreignobject"
            | b"desc"
    )
}

fn is_void(n: &Name) -> bool {
    matches!(
        trimmed(n),
        b"area"
            | b"base"
            | b"basefont"
            | b"bgsound"
            | b"br"
            | b"col"
            | b"embed"
            | b"frame"
            | b"hr"
            | b"img"
            | b"image"
            | b"input"
            | b"keygen"
            | b"link"
            | b"meta"
            | b"param"
            | b"source"
            | b"track"
            | b"wbr"
    )
}

/// Elements whose content is not markup: the scan skips to their end tag.
fn is_raw_text(n: &Name) -> bool {
    matches!(
        trimmed(n),
        b"script"
            | b"style"
            | b"textarea"
            | b"title"
            | b"xmp"
            | b"iframe"
            | b"noembed"
            | b"noframes"
            | b"noscript"
    )
}

/// The formatting elements the parser remembers and re-opens after blocks.
fn is_formatting(n: &Name) -> bool {
    matches!(
        trimmed(n),
        b"a" | b"b"
            | b"big"
            | b"code"
            | b"em"
            | b"font"
            | b"i"
            | b"nobr"
            | b"s"
            | b"small"
            | b"strike"
            | b"strong"
            | b"tt"
            | b"u"
    )
}

/// Start tags that close an open `<p>` in button scope.
fn closes_p(n: &Name) -> bool {
    matches!(
        trimmed(n),
        b"address"
            | b"article"
            | b"aside"
            | b"blockquote"
            | b"center"
            | b"details"
            | b"dialog"
            | b"dir"
            | b"div"
            | b"dl"
            | b"fieldset"
            | b"figcaption"
            | b"figure"
            | b"footer"
            | b"header"
            | b"hgroup"
            | b"main"
            | b"menu"
            | b"nav"
            | b"ol"
            | b"p"
            | b"search"
            | b"section"
            | b"summary"
            | b"ul"
            | b"h1"
            | b"h2"
            | b"h3"
            | b"h4"
            | b"h5"
            | b"h6"
            | b"pre"
            | b"listing"
            | b"form"
            | b"hr"
            | b"xmp"
            | b"li"
            | b"dd"
            | b"dt"
    )
}

fn is_heading(n: &Name) -> bool {
    matches!(trimmed(n), b"h1" | b"h2" | b"h3" | b"h4" | b"h5" | b"h6")
}

/// An entry of the approximate stack of open elements.
struct Open {
    name: Name,
    /// For each [`Scope`], one more than the index of the nearest entry at or below this one that
    /// bounds that scope (0: none), so "is X in scope" is one comparison; at [`HTML_ELEMENT`],
    /// the same for the nearest HTML (not SVG or MathML) element.
    boundary: [u32; BOUNDARIES],
    /// An SVG or MathML element.
    foreign: bool,
    /// Depth in the tree, counting `<html>` and `<body>`. Usually [`IMPLIED_DEPTH`] plus the
    /// entry's index, but `</form>` takes a form out of the middle of the stack and leaves what
    /// it held open, one level deeper in the tree than on the stack.
    depth: u32,
}

const HTML_ELEMENT: usize = SCOPES;
const BOUNDARIES: usize = SCOPES + 1;

/// Where SVG and MathML let HTML in again.
fn is_integration_point(n: &Name) -> bool {
    matches!(
        trimmed(n),
        b"foreignobject"
            | b"desc"
            | b"title"
            | b"mi"
            | b"mo"
            | b"mn"
            | b"ms"
            | b"mtext"
            | b"annotation-xml"
    )
}

/// HTML start tags that end the SVG or MathML they appear in.
fn is_breakout(n: &Name) -> bool {
    matches!(
        trimmed(n),
        b"b" | b"big"
            | b"blockquote"
            | b"body"
            | b"br"
            | b"center"
            | b"code"
            | b"dd"
            | b"div"
            | b"dl"
            | b"dt"
            | b"em"
            | b"embed"
            | b"h1"
            | b"h2"
            | b"h3"
            | b"h4"
            | b"h5"
            | b"h6"
            | b"head"
            | b"hr"
            | b"i"
            | b"img"
            | b"li"
            | b"listing"
            | b"menu"
            | b"meta"
            | b"nobr"
            | b"ol"
            | b"p"
            | b"pre"
            | b"ruby"
            | b"s"
            | b"small"
            | b"span"
            | b"strong"
            | b"strike"
            | b"sub"
            | b"sup"
            | b"table"
            | b"tt"
            | b"u"
            | b"ul"
            | b"var"
            | b"font"
    )
}

#[derive(Default)]
struct Scan {
    stack: Vec<Open>,
    /// Where each name stands on the stack, innermost last.
    positions: HashMap<Name, Vec<u32>>,
    /// Formatting start tags not yet ended by their own end tag: the parser's list of active
    /// formatting elements, which it re-opens when they are no longer on the stack.
    unclosed_formatting: usize,
    unclosed_by_name: HashMap<Name, usize>,
    formatting_on_stack: usize,
    /// The parser's form element pointer: set by `<form>`, cleared only by `</form>`. While it
    /// is set, another `<form>` is ignored.
    form_pointer: FormPointer,
    estimate: Estimate,
}

impl Scan {
    fn run(&mut self, b: &[u8]) -> Result<(), PageLimit> {
        let mut i = 0;
        let mut text_start = 0;
        while i < b.len() {
            let Some(off) = memchr(b'<', &b[i..]) else {
                break;
            };
            let lt = i + off;
            let next = b.get(lt + 1).copied();
            let is_start = next.is_some_and(|c| c.is_ascii_alphabetic());
            let is_end =
                next == Some(b'/') && b.get(lt + 2).is_some_and(|c| c.is_ascii_alphabetic());
            let is_markup = next.is_some_and(|c| c == b'!' || c == b'?' || c == b'/');
            if !(is_start || is_end || is_markup) {
                i = lt + 1;
                continue;
            }
            self.text(&b[text_start..lt])?;
            if is_start {
                let Some(end) = self.start_tag(b, lt)? else {
                    return Ok(());
                };
                i = end;
            } else if is_end {
                let (tag, end) = tag_name(b, lt + 2);
                self.end_tag(&name_of(tag));
                let Some(gt) = memchr(b'>', &b[end..]) else {
                    return Ok(());
                };
                i = end + gt + 1;
            } else if b[lt..].starts_with(b"<!--") {
                match find(&b[lt + 4..], b"-->") {
                    Some(e) => i = lt + 4 + e + 3,
                    None => return Ok(()),
                }
            } else {
                // Doctype, CDATA, processing instruction, `</ x>`: bogus comments up to `>`.
                match memchr(b'>', &b[lt + 1..]) {
                    Some(e) => i = lt + 1 + e + 1,
                    None => return Ok(()),
                }
            }
            text_start = i;
        }
        self.text(&b[text_start.min(b.len())..])
    }

    fn text(&mut self, run: &[u8]) -> Result<(), PageLimit> {
        if run.len() > MAX_TEXT_BYTES {
            return Err(PageLimit::TextTooLong);
        }
        if run.iter().any(|c| !c.is_ascii_whitespace()) {
            self.reopen_formatting()?;
        }
        Ok(())
    }

    /// Scans the start tag at `lt` and applies it; returns where scanning goes on, or `None` when
    /// the rest of the input is the tag or a raw-text body that never ends.
    fn start_tag(&mut self, b: &[u8], lt: usize) -> Result<Option<usize>, PageLimit> {
        let (raw, mut i) = tag_name(b, lt + 1);
        let n = name_of(raw);
        let mut attributes = 0;
        let mut self_closing = false;
        // `<font>` ends SVG or MathML only with one of these; otherwise it nests there.
        let mut font_presentation = false;
        loop {
            while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
                i += 1;
            }
            match b.get(i) {
                None => return Ok(None),
                Some(b'>') => {
                    i += 1;
                    break;
                }
                Some(b'/') => {
                    self_closing = b.get(i + 1) == Some(&b'>');
                    i += 1;
                    continue;
                }
                Some(_) => {}
            }
            attributes += 1;
            if attributes > MAX_ATTRIBUTES {
                return Err(PageLimit::TooManyAttributes);
            }
            // The name: up to whitespace, `/`, `>` or `=` (a leading `=` belongs to it).
            let name_start = i;
            i += 1;
            while b
                .get(i)
                .is_some_and(|&c| !(c.is_ascii_whitespace() || matches!(c, b'/' | b'>' | b'=')))
            {
                i += 1;
            }
            let name = &b[name_start..i];
            font_presentation |= [&b"color"[..], b"face", b"size"]
                .iter()
                .any(|a| name.eq_ignore_ascii_case(a));
            while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
                i += 1;
            }
            if b.get(i) != Some(&b'=') {
                continue;
            }
            i += 1;
            while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
                i += 1;
            }
            let value_len = match b.get(i) {
                Some(&q @ (b'"' | b'\'')) => {
                    let Some(len) = memchr(q, &b[i + 1..]) else {
                        return Ok(None);
                    };
                    i += len + 2;
                    len
                }
                _ => {
                    let start = i;
                    while b
                        .get(i)
                        .is_some_and(|&c| !(c.is_ascii_whitespace() || c == b'>'))
                    {
                        i += 1;
                    }
                    i - start
                }
            };
            if value_len > MAX_ATTRIBUTE_BYTES {
                return Err(PageLimit::AttributeTooLong);
            }
        }
        let breakout = is_breakout(&n) && (trimmed(&n) != b"font" || font_presentation);
        let html = self.open(n, self_closing, breakout)?;
        if trimmed(&n) == b"plaintext" && html {
            return Ok(None);
        }
        if is_raw_text(&n) && html {
            // The body is one text node; skip to the end tag, which pops the element again.
            let mut close = Vec::with_capacity(2 + raw.len());
            close.extend_from_slice(b"</");
            close.extend_from_slice(trimmed(&n));
            let Some(end) = find_ci(&b[i..], &close) else {
                return Ok(None);
            };
            return Ok(Some(i + end));
        }
        Ok(Some(i))
    }

    /// Applies a start tag; returns whether it was taken as an HTML element (whose content may
    /// be raw text), not an SVG or MathML one. `breakout`: the tag ends SVG and MathML (see
    /// [`is_breakout`]; `<font>` only with a presentational attribute).
    fn open(&mut self, n: Name, self_closing: bool, breakout: bool) -> Result<bool, PageLimit> {
        self.estimate.elements += 1;
        if self.estimate.elements > MAX_ELEMENTS {
            return Err(PageLimit::TooManyElements);
        }
        if self.in_foreign_content() {
            if !breakout {
                // Inside SVG and MathML every tag nests, and `<x/>` closes itself.
                if !self_closing {
                    self.push(n)?;
                }
                return Ok(false);
            }
            // An HTML tag ends the SVG or MathML around it.
            while self.in_foreign_content() {
                self.pop();
            }
        }
        let tag = trimmed(&n);
        if matches!(tag, b"html" | b"head" | b"body") {
            // The parser merges these into the one it made itself.
            return Ok(true);
        }
        if !is_special(&n) || is_void(&n) {
            // Phrasing content goes inside the formatting the parser re-opens; blocks do not.
            self.reopen_formatting()?;
        }
        self.implied_end_tags(&n);
        self.implied_table_parts(&n)?;
        let foreign_root = matches!(tag, b"svg" | b"math");
        if is_void(&n) || (self_closing && foreign_root) || self.ignored_table_part(&n) {
            return Ok(!foreign_root);
        }
        let sets_form_pointer = tag == b"form" && !self.template_open();
        if sets_form_pointer && self.form_pointer != FormPointer::Null {
            return Ok(true);
        }
        if is_formatting(&n) {
            self.unclosed_formatting += 1;
            *self.unclosed_by_name.entry(n).or_default() += 1;
        }
        self.push(n)?;
        if sets_form_pointer {
            self.form_pointer = FormPointer::Open(self.stack.len() as u32 - 1);
        }
        Ok(!foreign_root)
    }

    /// Whether the current node is an SVG or MathML element whose content follows the
    /// foreign-content rules (not an integration point such as `<foreignObject>`).
    fn in_foreign_content(&self) -> bool {
        self.stack
            .last()
            .is_some_and(|t| t.foreign && !is_integration_point(&t.name))
    }

    /// The end tags the parser implies before opening `n`.
    fn implied_end_tags(&mut self, n: &Name) {
        let tag = trimmed(n);
        match tag {
            b"li" => self.close_in_scope(&[name("li")], Scope::ListItem),
            b"dd" | b"dt" => self.close_in_scope(&[name("dd"), name("dt")], Scope::ListItem),
            b"td" | b"th" => self.close_in_scope(&[name("td"), name("th")], Scope::Table),
            b"tr" => self.close_in_scope(&[name("tr")], Scope::Table),
            b"tbody" | b"thead" | b"tfoot" => {
                self.close_in_scope(&[name("tbody"), name("thead"), name("tfoot")], Scope::Table)
            }
            b"option" | b"optgroup" => {
                if self.top_is(|t| t == b"option") {
                    self.pop();
                }
                if tag == b"optgroup" && self.top_is(|t| t == b"optgroup") {
                    self.pop();
                }
            }
            // A second `<a>`, `<nobr>` or `<button>` ends the open one.
            b"a" | b"nobr" => self.end_tag(n),
            b"button" => self.close_in_scope(&[*n], Scope::Default),
            _ => {}
        }
        if closes_p(n) {
            self.close_in_scope(&[name("p")], Scope::Button);
        }
        if is_heading(n) && self.top_is(|t| is_heading(&name_of(t))) {
            self.pop();
        }
    }

    /// Table parts outside any table are dropped by the parser.
    fn ignored_table_part(&self, n: &Name) -> bool {
        matches!(
            trimmed(n),
            b"tr"
                | b"td"
                | b"th"
                | b"tbody"
                | b"thead"
                | b"tfoot"
                | b"caption"
                | b"col"
                | b"colgroup"
        ) && self
            .positions
            .get(&name("table"))
            .is_none_or(|p| p.is_empty())
    }

    /// The parser wraps a row in a body and a cell in a row when the page leaves them out.
    fn implied_table_parts(&mut self, n: &Name) -> Result<(), PageLimit> {
        let is_cell = matches!(trimmed(n), b"td" | b"th");
        if !(is_cell || trimmed(n) == b"tr") {
            return Ok(());
        }
        if self.top_is(|t| t == b"table") {
            self.push(name("tbody"))?;
        }
        if is_cell && self.top_is(|t| matches!(t, b"tbody" | b"thead" | b"tfoot")) {
            self.push(name("tr"))?;
        }
        Ok(())
    }

    /// An end tag: pops to the element it names if the parser would, else nothing.
    fn end_tag(&mut self, n: &Name) {
        // In SVG and MathML an end tag closes the element it names if only foreign elements
        // stand above it; otherwise the HTML rules decide.
        if self.in_foreign_content()
            && let Some(&at) = self.positions.get(n).and_then(|p| p.last())
            && at + 1 > self.stack.last().map_or(0, |t| t.boundary[HTML_ELEMENT])
        {
            self.pop_to(at as usize);
            return;
        }
        if trimmed(n) == b"form" && !self.template_open() {
            self.end_form();
            return;
        }
        if matches!(trimmed(n), b"html" | b"head" | b"body" | b"br" | b"p") {
            if trimmed(n) == b"p" {
                self.close_in_scope(&[*n], Scope::Button);
            }
            return;
        }
        if is_formatting(n)
            && let Some(count) = self.unclosed_by_name.get_mut(n)
            && *count > 0
        {
            *count -= 1;
            self.unclosed_formatting -= 1;
        }
        // Special elements end when in scope; any other element only if no special element is
        // open inside it.
        let scope = if is_special(n) {
            Scope::Default
        } else {
            Scope::Special
        };
        let Some(&at) = self.positions.get(n).and_then(|p| p.last()) else {
            return;
        };
        let top = self.stack.last().expect("a position implies an entry");
        // For a special element: is a scope boundary inside it? For any other: is a special
        // element inside it? Either way the parser ignores the end tag.
        let blocked = at + 1 < top.boundary[scope as usize];
        if !blocked {
            self.pop_to(at as usize);
        }
    }

    /// `</form>` outside templates: the parser clears the form element pointer and, if the form
    /// is in scope, removes it from the stack alone. Elements opened inside it stay open, so
    /// `</form><form><span>` repeated nests twice as deep in the tree as on the stack.
    fn end_form(&mut self) {
        let FormPointer::Open(at) = std::mem::take(&mut self.form_pointer) else {
            return;
        };
        let top = self.stack.last().expect("an open form is on the stack");
        if at + 1 < top.boundary[Scope::Default as usize] {
            return;
        }
        while self.top_is(|t| {
            matches!(
                t,
                b"dd"
                    | b"dt"
                    | b"li"
                    | b"optgroup"
                    | b"option"
                    | b"p"
                    | b"rb"
                    | b"rp"
                    | b"rt"
                    | b"rtc"
            )
        }) {
            self.pop();
        }
        let above: Vec<Open> = self.stack.drain(at as usize + 1..).collect();
        for open in &above {
            self.forget(open);
        }
        self.pop();
        for open in above {
            self.push_at_depth(open.name, open.depth);
        }
    }

    fn template_open(&self) -> bool {
        self.positions
            .get(&name("template"))
            .is_some_and(|p| !p.is_empty())
    }

    /// Pops to the innermost of `names` if it is open within `scope`.
    fn close_in_scope(&mut self, names: &[Name], scope: Scope) {
        let Some(top) = self.stack.last() else {
            return;
        };
        let limit = top.boundary[scope as usize];
        let innermost = names
            .iter()
            .filter_map(|n| self.positions.get(n).and_then(|p| p.last()).copied())
            .max();
        if let Some(at) = innermost
            && at + 1 >= limit
        {
            self.pop_to(at as usize);
        }
    }

    /// The parser re-opens formatting elements that are active but no longer open before it
    /// inserts text or an element; they count as elements and add depth.
    fn reopen_formatting(&mut self) -> Result<(), PageLimit> {
        let missing = self
            .unclosed_formatting
            .saturating_sub(self.formatting_on_stack);
        if missing == 0 {
            return Ok(());
        }
        self.estimate.elements += missing;
        if self.estimate.elements > MAX_ELEMENTS {
            return Err(PageLimit::TooManyElements);
        }
        for _ in 0..missing {
            // Which ones they are does not matter for the estimate; an empty name never
            // matches an end tag, so only a block's end pops them again.
            self.push(REOPENED)?;
        }
        Ok(())
    }

    fn push(&mut self, n: Name) -> Result<(), PageLimit> {
        let depth = self.stack.last().map_or(IMPLIED_DEPTH as u32, |t| t.depth) + 1;
        if depth as usize > MAX_DEPTH {
            return Err(PageLimit::TooDeep);
        }
        self.push_at_depth(n, depth);
        self.estimate.max_depth = self.estimate.max_depth.max(depth as usize);
        Ok(())
    }

    /// Pushes `n` as an element `depth` deep in the tree.
    fn push_at_depth(&mut self, n: Name, depth: u32) {
        let index = self.stack.len() as u32;
        let parent = self.stack.last();
        let foreign = matches!(trimmed(&n), b"svg" | b"math")
            || parent.is_some_and(|t| t.foreign && !is_integration_point(&t.name));
        let mut boundary = parent.map_or([0; BOUNDARIES], |t| t.boundary);
        if !foreign {
            boundary[HTML_ELEMENT] = index + 1;
        }
        for scope in [
            Scope::Default,
            Scope::Button,
            Scope::Table,
            Scope::Special,
            Scope::ListItem,
        ] {
            if is_boundary(&n, scope) {
                boundary[scope as usize] = index + 1;
            }
        }
        if n == REOPENED || is_formatting(&n) {
            self.formatting_on_stack += 1;
        }
        self.positions.entry(n).or_default().push(index);
        self.stack.push(Open {
            name: n,
            boundary,
            foreign,
            depth,
        });
    }

    fn pop(&mut self) {
        if let Some(open) = self.stack.pop() {
            self.forget(&open);
        }
        if let FormPointer::Open(at) = self.form_pointer
            && at as usize >= self.stack.len()
        {
            self.form_pointer = FormPointer::Closed;
        }
    }

    /// Undoes what [`Scan::push_at_depth`] recorded about an entry taken off the stack.
    fn forget(&mut self, open: &Open) {
        if let Some(p) = self.positions.get_mut(&open.name) {
            p.pop();
        }
        if open.name == REOPENED || is_formatting(&open.name) {
            self.formatting_on_stack -= 1;
        }
    }

    /// Pops the entry at `index` and everything above it.
    fn pop_to(&mut self, index: usize) {
        while self.stack.len() > index {
            self.pop();
        }
    }

    fn top_is(&self, test: impl Fn(&[u8]) -> bool) -> bool {
        self.stack.last().is_some_and(|t| test(trimmed(&t.name)))
    }
}

/// Where the form the parser's form element pointer names stands.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum FormPointer {
    #[default]
    Null,
    /// On the stack at this index.
    Open(u32),
    /// Ended by another element's end tag; `</form>` then only clears the pointer.
    Closed,
}

/// `<html>` and `<body>`, which the parser always creates and the scan never pushes.
const IMPLIED_DEPTH: usize = 2;

/// The name of a re-opened formatting element (see [`Scan::reopen_formatting`]).
const REOPENED: Name = [0xff; 16];

/// The tag name starting at `i`, and where it ends.
fn tag_name(b: &[u8], i: usize) -> (&[u8], usize) {
    let end = b[i..]
        .iter()
        .position(|&c| c.is_ascii_whitespace() || c == b'/' || c == b'>')
        .map_or(b.len(), |e| i + e);
    (&b[i..end], end)
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&c| c == needle)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Position of `needle` (ASCII, lowercase, starting with `<`) in `hay`, ignoring case.
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(off) = memchr(b'<', &hay[i..]) {
        let p = i + off;
        if hay
            .get(p..p + needle.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(needle))
        {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Depth below `<body>`.
    fn depth(html: &str) -> usize {
        check(html).unwrap().max_depth.saturating_sub(IMPLIED_DEPTH)
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused_and_within_it_measured() {
        assert_eq!(check(&"<div>".repeat(200_000)), Err(PageLimit::TooDeep));
        assert_eq!(depth(&"<div>".repeat(300)), 300);
        assert_eq!(depth(&"<div></div>".repeat(10_000)), 1);
        // `<div/>` does not close itself in HTML, so it nests.
        assert_eq!(check(&"<div/>".repeat(1000)), Err(PageLimit::TooDeep));
        // Inside SVG it does.
        assert_eq!(depth(&format!("<svg>{}</svg>", "<path/>".repeat(5000))), 1);
    }

    #[test]
    fn sloppy_markup_is_measured_as_the_parser_builds_it() {
        assert_eq!(depth(&"<p>text".repeat(5000)), 1);
        assert_eq!(depth(&format!("<ul>{}</ul>", "<li>item".repeat(5000))), 2);
        assert_eq!(depth(&format!("<dl>{}</dl>", "<dt>a<dd>b".repeat(5000))), 2);
        assert_eq!(
            depth(&format!("<table>{}</table>", "<tr><td>a<td>b".repeat(5000))),
            4
        );
        assert_eq!(
            depth(&format!("<select>{}</select>", "<option>a".repeat(5000))),
            2
        );
        assert_eq!(depth(&"<h2>a<h3>b".repeat(5000)), 1);
        assert_eq!(depth(&"<a href=x>link".repeat(5000)), 1);
        for void in ["<br>", "<img src=x>", "<hr>", "<input>"] {
            assert_eq!(depth(&void.repeat(5000)), 0, "{void}");
        }
        assert_eq!(depth(&"<p>a<div>b</div>".repeat(5000)), 1);
        // What scripts and comments hold is not markup.
        assert_eq!(
            depth(&"<script>if (a<b) { '<div>' }</script><!-- <div> -->".repeat(5000)),
            1
        );
    }

    #[test]
    fn end_tags_the_parser_ignores_do_not_hide_depth() {
        // `</span>` cannot close a span with a `<div>` open inside it.
        assert_eq!(
            check(&"<span><div></span>".repeat(1000)),
            Err(PageLimit::TooDeep)
        );
        // `</div>` cannot close a div outside the table it is in.
        assert_eq!(
            check(&"<div><table><td></div>".repeat(1000)),
            Err(PageLimit::TooDeep)
        );
    }

    #[test]
    fn a_form_ended_around_open_elements_leaves_them_deeper_in_the_tree() {
        // html5ever: `</form>` takes the form off the stack and leaves the span open inside it,
        // so each repetition adds two levels to the tree and one to the stack.
        assert_eq!(depth(&"</form><form><span>".repeat(200)), 400);
        assert_eq!(
            check(&"</form><form><span>".repeat(300)),
            Err(PageLimit::TooDeep)
        );
        // While a form is open (even if closed by another end tag), `<form>` is ignored.
        assert_eq!(depth(&"<form><div>".repeat(100)), 101);
        assert_eq!(depth(&"<form>a</form>".repeat(1000)), 1);
    }

    #[test]
    fn reopened_formatting_elements_count() {
        // Hundreds of distinct unclosed `<b>`s are re-created after every block.
        let bold: String = (0..400).map(|i| format!("<b id={i}>")).collect();
        let page = format!("<div>{bold}</div>{}", "<div>x</div>".repeat(1000));
        assert_eq!(check(&page), Err(PageLimit::TooManyElements));
        // A few are normal.
        let page = format!("<div><b><i></div>{}", "<div>x</div>".repeat(1000));
        assert!(check(&page).is_ok());
    }

    #[test]
    fn attribute_and_text_floods_are_refused() {
        let attrs: String = (0..300_000).map(|i| format!(" a{i}=1")).collect();
        assert_eq!(
            check(&format!("<div{attrs}>x</div>")),
            Err(PageLimit::TooManyAttributes)
        );
        let long = "x".repeat(MAX_ATTRIBUTE_BYTES + 1);
        assert_eq!(
            check(&format!("<img src=\"{long}\">")),
            Err(PageLimit::AttributeTooLong)
        );
        assert_eq!(
            check(&format!("<p>{}</p>", "y".repeat(MAX_TEXT_BYTES + 1))),
            Err(PageLimit::TextTooLong)
        );
        assert_eq!(
            check(&"<p>a</p>".repeat(MAX_ELEMENTS + 1)),
            Err(PageLimit::TooManyElements)
        );
    }

    #[test]
    fn unterminated_constructs_end_the_scan_quietly() {
        for html in [
            "<div",
            "<div a=\"",
            "<!--",
            "<!-- <!-- <!--",
            "<script>",
            "<plaintext><div><div>",
            "</",
            "</div",
            "<!doctype",
            "<",
            "a < b",
        ] {
            assert!(check(html).is_ok(), "{html}");
        }
        assert_eq!(check(&"<!--".repeat(500_000)), Ok(Estimate::default()));
    }
}
