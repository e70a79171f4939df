//! RSS (0.90, 0.91–0.94, 1.0/RDF, 2.0, with or without `<rss>`, `<channel>` or a version) and
//! Atom (0.3 and 1.0) read from the reader's events into items, with the Dublin Core,
//! `content`, iTunes, Media RSS and syndication modules. A state machine over the open
//! elements: where we are (feed, item, person, a field being collected, a region to skip)
//! decides what an element means, much as feedparser's flags do, so elements out of their
//! proper place are still understood. Knows every source each field can come from and ranks
//! them; the rules that pick among them live in [`super::item`]. Must never look back at the
//! document or hold more than the current item's candidates beyond the finished items.

use std::rc::Rc;
use std::time::Duration;

use url::Url;

use super::capture::{Capture, Kind, Value};
use super::item::{Draft, person_name, push_author};
use super::limits::{FeedError, MAX_CONTENT_BYTES, MAX_ITEMS, MAX_TITLE_CHARS};
use super::names::Ns;
use super::xml::{self, Handler, Opened, Tag};
use super::{FeedItem, ParsedFeed, resolve};

/// Raw bytes kept of a title; the text is cut to [`MAX_TITLE_CHARS`] later, and markup may
/// take several times the room of the words.
const CAP_TITLE: usize = 64 * 1024;
/// Raw bytes kept of a summary or content field.
const CAP_TEXT: usize = MAX_CONTENT_BYTES;
/// Raw bytes kept of an id, a link, a date or a name.
const CAP_SHORT: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Unknown,
    Rss,
    /// RSS 0.90 and 1.0, rooted in `rdf:RDF`.
    Rdf,
    Atom,
    Atom03,
}

impl Format {
    fn is_atom(self) -> bool {
        matches!(self, Format::Atom | Format::Atom03)
    }
}

/// What an open element is to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Nothing in itself; what is inside still counts.
    Pass,
    /// Ignored with everything inside (an RSS `<image>`, an Atom `<source>`).
    Skip,
    /// `rss`, `rdf:RDF`, `channel` or `feed`.
    Container,
    Entry,
    /// An Atom `<entry>` that is the whole document.
    RootEntry,
    Person,
    Field,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    FeedTitle(usize),
    FeedLink,
    Ttl,
    SyPeriod,
    SyFrequency,
    Title(usize),
    Summary(usize),
    Content(usize),
    Id,
    Guid {
        permalink: Option<bool>,
    },
    Link,
    /// `<comments>` or `wfw:commentRss`: only ever part of an item's identity.
    KeyLink,
    Published(usize),
    Updated(usize),
    PersonName,
    PersonEmail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    ItemAuthor,
    ItemContributor,
    FeedAuthor,
    FeedEditor,
}

enum Action {
    Pass,
    Skip,
    Container(Format),
    RootEntry,
    Entry,
    Person(Role),
    Field(Target, Kind, usize),
}

struct Field<'a> {
    target: Target,
    capture: Capture<'a>,
    base: Option<Rc<Url>>,
}

struct Person {
    role: Role,
    name: Option<String>,
    email: Option<String>,
    text: String,
}

#[derive(Default)]
struct FeedDraft {
    titles: [Option<Value>; 2],
    link: Option<String>,
    hubs: Vec<String>,
    self_url: Option<String>,
    ttl: Option<String>,
    sy_period: Option<String>,
    sy_frequency: Option<String>,
    authors: Vec<String>,
    editors: Vec<String>,
}

struct Builder<'a> {
    format: Format,
    /// Open feed containers; elements outside every container mean nothing.
    containers: usize,
    seen_container: bool,
    frames: Vec<Frame>,
    field: Option<Field<'a>>,
    person: Option<Person>,
    entry: Option<Draft>,
    feed: FeedDraft,
    items: Vec<FeedItem>,
    /// The base the caller gave, for links once `link_budget` is spent.
    doc_base: Option<Url>,
    /// Bytes that resolving links against `xml:base` may still add. A long base above many
    /// short relative links would otherwise turn each few-byte link into a base-sized string;
    /// with the budget, the links' total size stays proportional to the document's.
    link_budget: usize,
}

/// `href` resolved against `base` while `budget` lasts, then against the document's base.
fn resolve_within(
    budget: &mut usize,
    doc_base: Option<&Url>,
    base: Option<&Url>,
    href: &str,
) -> String {
    let base = match base {
        Some(base) if base.as_str().len() <= *budget => Some(base),
        _ => doc_base,
    };
    let resolved = resolve(base, href);
    *budget = budget.saturating_sub(resolved.len().saturating_sub(href.len()));
    resolved
}

/// Reads an RSS or Atom document. `base` is the document's base URL.
pub fn parse(doc: &str, base: Option<&str>) -> Result<ParsedFeed, FeedError> {
    let base = base.and_then(|b| Url::parse(b.trim()).ok());
    let mut builder = Builder {
        doc_base: base.clone(),
        link_budget: 2 * doc.len() + 64 * 1024,
        format: Format::Unknown,
        containers: 0,
        seen_container: false,
        frames: Vec::new(),
        field: None,
        person: None,
        entry: None,
        feed: FeedDraft::default(),
        items: Vec::new(),
    };
    let outcome = xml::read(doc, base, &mut builder)?;
    if !builder.seen_container {
        return Err(FeedError::NotAFeed(match outcome.broken {
            Some(why) => format!("no RSS, Atom or RDF root element ({why})"),
            None => "no RSS, Atom or RDF root element".to_string(),
        }));
    }
    Ok(builder.finish())
}

/// ASCII-lowercases a short name into `buf`; names longer than it are no names we know.
fn lower<'b>(name: &str, buf: &'b mut [u8; 24]) -> &'b str {
    if name.len() > buf.len() {
        return "";
    }
    let out = &mut buf[..name.len()];
    out.copy_from_slice(name.as_bytes());
    out.make_ascii_lowercase();
    std::str::from_utf8(out).unwrap_or("")
}

fn attr_lower(tag: &Tag, name: &str) -> String {
    tag.attr(name)
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// How an Atom text construct (or anything with Atom's `type` and 0.3's `mode` attributes)
/// is to be read. `default` applies without `type`.
fn typed_kind(tag: &Tag, default: Kind) -> Kind {
    let full_type = attr_lower(tag, "type");
    let media_type = full_type.split(';').next().unwrap_or("").trim();
    let kind = match media_type {
        "" => default,
        "text" | "text/plain" | "plain" => Kind::Plain,
        "html" | "text/html" => Kind::Html,
        "xhtml" | "application/xhtml+xml" => Kind::Xhtml,
        t if t.ends_with("+xml") || t.ends_with("/xml") => Kind::Xhtml,
        t if t.starts_with("text/") => Kind::Plain,
        _ if attr_lower(tag, "mode") == "escaped" => Kind::Html,
        // Atom says any other media type comes base64-encoded.
        _ => Kind::Base64 { html: None },
    };
    match attr_lower(tag, "mode").as_str() {
        "base64" if !matches!(kind, Kind::Base64 { .. }) => Kind::Base64 {
            html: Some(kind != Kind::Plain),
        },
        "escaped" if kind == Kind::Xhtml => Kind::Html,
        _ => kind,
    }
}

/// The relation of a link, lowercased, and without the IANA prefix some feeds write it with.
fn relation(tag: &Tag) -> String {
    let rel = attr_lower(tag, "rel");
    rel.strip_prefix("http://www.iana.org/assignments/relation/")
        .unwrap_or(&rel)
        .to_string()
}

impl<'a> Builder<'a> {
    fn classify(&mut self, tag: &Tag<'a, '_>) -> Action {
        let mut buf = [0u8; 24];
        let name = lower(tag.local, &mut buf);
        let ns = tag.ns;
        let core = matches!(ns, Ns::Core | Ns::Atom | Ns::Atom03);
        let atomish =
            matches!(ns, Ns::Atom | Ns::Atom03) || (ns == Ns::Core && self.format.is_atom());
        if self.person.is_some() {
            return match (core || ns == Ns::Itunes, name) {
                (true, "name") => Action::Field(Target::PersonName, Kind::Plain, CAP_SHORT),
                (true, "email") => Action::Field(Target::PersonEmail, Kind::Plain, CAP_SHORT),
                _ => Action::Skip,
            };
        }
        if self.entry.is_some() {
            return self.classify_item(tag, name, ns, core, atomish);
        }
        match name {
            "rss" | "rdf" | "channel" | "feed" if core || ns == Ns::Rdf => {
                let format = if name == "rdf" {
                    Format::Rdf
                } else if name != "feed" {
                    Format::Rss
                } else if ns == Ns::Atom03
                    || tag
                        .attr("version")
                        .is_some_and(|v| v.trim().starts_with("0."))
                {
                    Format::Atom03
                } else {
                    Format::Atom
                };
                return Action::Container(format);
            }
            "entry" if self.frames.is_empty() && core => return Action::RootEntry,
            _ => {}
        }
        if self.containers == 0 {
            return Action::Pass;
        }
        let atom03 = ns == Ns::Atom03 || (ns == Ns::Core && self.format == Format::Atom03);
        let title_kind = if atomish && !atom03 {
            typed_kind(tag, Kind::Plain)
        } else {
            typed_kind(tag, Kind::Sniff)
        };
        match (ns, name) {
            (_, "item" | "entry") if core => Action::Entry,
            (_, "title") if core => Action::Field(Target::FeedTitle(0), title_kind, CAP_TITLE),
            (Ns::Dc | Ns::Dcterms | Ns::Itunes, "title") => {
                Action::Field(Target::FeedTitle(1), Kind::Sniff, CAP_TITLE)
            }
            (_, "link") if core => match tag.attr("href") {
                Some(href) => {
                    let rel = relation(tag);
                    let wanted = match rel.as_str() {
                        "" | "alternate" => self.feed.link.is_none(),
                        "hub" => self.feed.hubs.len() < super::MAX_HUBS,
                        "self" => self.feed.self_url.is_none(),
                        _ => false,
                    };
                    if wanted {
                        let href = resolve_within(
                            &mut self.link_budget,
                            self.doc_base.as_ref(),
                            tag.base.map(|b| &**b),
                            &href,
                        );
                        let href = Some(href).filter(|h| !h.is_empty());
                        match rel.as_str() {
                            "hub" => self.feed.hubs.extend(href),
                            "self" => self.feed.self_url = href,
                            _ => self.feed.link = href,
                        }
                    }
                    Action::Skip
                }
                None => Action::Field(Target::FeedLink, Kind::Plain, CAP_SHORT),
            },
            (Ns::Core, "ttl") => Action::Field(Target::Ttl, Kind::Plain, CAP_SHORT),
            (Ns::Sy, "updateperiod") => Action::Field(Target::SyPeriod, Kind::Plain, CAP_SHORT),
            (Ns::Sy, "updatefrequency") => {
                Action::Field(Target::SyFrequency, Kind::Plain, CAP_SHORT)
            }
            (_, "author") if core => Action::Person(Role::FeedAuthor),
            (Ns::Dc, "creator") | (Ns::Itunes, "author") => Action::Person(Role::FeedAuthor),
            (Ns::Core, "managingeditor") => Action::Person(Role::FeedEditor),
            (
                _,
                "image" | "textinput" | "items" | "source" | "owner" | "category" | "cloud"
                | "skiphours" | "skipdays" | "description" | "subtitle" | "tagline" | "info"
                | "rights" | "copyright" | "generator" | "summary" | "contributor",
            ) => Action::Skip,
            _ => Action::Pass,
        }
    }

    fn classify_item(
        &mut self,
        tag: &Tag<'a, '_>,
        name: &str,
        ns: Ns,
        core: bool,
        atomish: bool,
    ) -> Action {
        // Atom 1.0 text is plain unless typed. Atom 0.3 says the same, but its feeds left the
        // type off HTML often enough that guessing serves readers better.
        let atom03 = ns == Ns::Atom03 || (ns == Ns::Core && self.format == Format::Atom03);
        let text_default = if atomish && !atom03 {
            Kind::Plain
        } else {
            Kind::Sniff
        };
        let Some(draft) = self.entry.as_mut() else {
            return Action::Skip;
        };
        match (ns, name) {
            (_, "title") if core => {
                Action::Field(Target::Title(0), typed_kind(tag, text_default), CAP_TITLE)
            }
            (Ns::Dc, "title") => Action::Field(Target::Title(1), Kind::Sniff, CAP_TITLE),
            (Ns::Dcterms, "title") => Action::Field(Target::Title(2), Kind::Sniff, CAP_TITLE),
            (Ns::Itunes, "title") => Action::Field(Target::Title(3), Kind::Sniff, CAP_TITLE),
            (Ns::Media, "title") => {
                Action::Field(Target::Title(4), typed_kind(tag, Kind::Sniff), CAP_TITLE)
            }
            (_, "link") if core => match tag.attr("href") {
                Some(href) => {
                    let href = resolve_within(
                        &mut self.link_budget,
                        self.doc_base.as_ref(),
                        tag.base.map(|b| &**b),
                        &href,
                    );
                    let rel = relation(tag);
                    if self.format.is_atom() {
                        draft.add_key_link(&href, rel.is_empty() || rel == "alternate");
                    }
                    draft.add_link(href, &rel);
                    Action::Skip
                }
                None => Action::Field(Target::Link, Kind::Plain, CAP_SHORT),
            },
            (Ns::Core, "comments") if self.format == Format::Rss => {
                Action::Field(Target::KeyLink, Kind::Plain, CAP_SHORT)
            }
            (Ns::Wfw, "commentrss") if self.format != Format::Rdf => {
                Action::Field(Target::KeyLink, Kind::Plain, CAP_SHORT)
            }
            (Ns::Core, "guid") => {
                let permalink = tag
                    .attr("ispermalink")
                    .map(|v| !v.trim().eq_ignore_ascii_case("false"));
                Action::Field(Target::Guid { permalink }, Kind::Plain, CAP_SHORT)
            }
            (_, "id") if core => Action::Field(Target::Id, Kind::Plain, CAP_SHORT),
            (_, "description") if core && !atomish => {
                Action::Field(Target::Summary(0), Kind::Html, CAP_TEXT)
            }
            (_, "description" | "summary") if core => {
                Action::Field(Target::Summary(0), typed_kind(tag, text_default), CAP_TEXT)
            }
            (_, "content") if core => {
                if tag.attr("src").is_some() {
                    return Action::Skip;
                }
                if attr_lower(tag, "type").starts_with("multipart/") {
                    return Action::Pass;
                }
                let kind = typed_kind(tag, text_default);
                let slot = if matches!(kind, Kind::Plain | Kind::Base64 { html: Some(false) }) {
                    2
                } else {
                    1
                };
                let cap = if matches!(kind, Kind::Base64 { .. }) {
                    CAP_TEXT / 3 * 4 + 4
                } else {
                    CAP_TEXT
                };
                Action::Field(Target::Content(slot), kind, cap)
            }
            (Ns::Content, "encoded") => Action::Field(Target::Content(0), Kind::Html, CAP_TEXT),
            (Ns::Xhtml | Ns::Core, "body") => {
                Action::Field(Target::Content(3), Kind::Xhtml, CAP_TEXT)
            }
            (Ns::Core, "fullitem") | (Ns::Turbo, "content") => {
                Action::Field(Target::Content(3), Kind::Html, CAP_TEXT)
            }
            (Ns::Yandex, "full-text") => Action::Field(Target::Content(3), Kind::Sniff, CAP_TEXT),
            (Ns::Core, "abstract") => Action::Field(Target::Summary(2), Kind::Sniff, CAP_TEXT),
            (Ns::Dc, "description") => Action::Field(Target::Summary(1), Kind::Sniff, CAP_TEXT),
            (Ns::Dcterms, "description" | "abstract") => {
                Action::Field(Target::Summary(2), Kind::Sniff, CAP_TEXT)
            }
            (Ns::Itunes, "summary") => Action::Field(Target::Summary(3), Kind::Sniff, CAP_TEXT),
            (Ns::Itunes, "subtitle") => Action::Field(Target::Summary(4), Kind::Sniff, CAP_TEXT),
            (Ns::Media, "description") => {
                Action::Field(Target::Summary(5), typed_kind(tag, Kind::Sniff), CAP_TEXT)
            }
            (Ns::Core, "pubdate") => Action::Field(Target::Published(0), Kind::Plain, CAP_SHORT),
            (_, "published" | "issued") if core => {
                Action::Field(Target::Published(0), Kind::Plain, CAP_SHORT)
            }
            (Ns::Dc, "date") => Action::Field(Target::Published(1), Kind::Plain, CAP_SHORT),
            (Ns::Dcterms, "issued" | "date") => {
                Action::Field(Target::Published(2), Kind::Plain, CAP_SHORT)
            }
            (_, "created") if core => Action::Field(Target::Published(3), Kind::Plain, CAP_SHORT),
            (Ns::Dcterms, "created") => Action::Field(Target::Published(4), Kind::Plain, CAP_SHORT),
            (_, "updated" | "modified") if core => {
                Action::Field(Target::Updated(0), Kind::Plain, CAP_SHORT)
            }
            (Ns::Dcterms, "modified") => Action::Field(Target::Updated(1), Kind::Plain, CAP_SHORT),
            (_, "author") if core => Action::Person(Role::ItemAuthor),
            (Ns::Dc, "creator") | (Ns::Itunes, "author") => Action::Person(Role::ItemAuthor),
            (_, "contributor") if core => Action::Person(Role::ItemContributor),
            (Ns::Dc, "contributor") => Action::Person(Role::ItemContributor),
            (Ns::Core, "enclosure") => {
                if let Some(url) = tag.attr("url") {
                    let url = resolve_within(
                        &mut self.link_budget,
                        self.doc_base.as_ref(),
                        tag.base.map(|b| &**b),
                        &url,
                    );
                    if !url.is_empty() {
                        draft.enclosure.get_or_insert(url);
                    }
                }
                Action::Skip
            }
            (Ns::Media, "content") => {
                if let Some(url) = tag.attr("url") {
                    let url = resolve_within(
                        &mut self.link_budget,
                        self.doc_base.as_ref(),
                        tag.base.map(|b| &**b),
                        &url,
                    );
                    if !url.is_empty() {
                        draft.media.get_or_insert(url);
                    }
                }
                Action::Pass
            }
            (Ns::Media, "group") => Action::Pass,
            // Whatever else an item holds (an image, a source feed, extensions) may have
            // titles and links of its own that are not the item's.
            _ => Action::Skip,
        }
    }

    fn deliver(&mut self, field: Field<'a>) {
        let base = field.base.as_deref();
        let value = field.capture.finish();
        let short = || value.raw.trim().to_string();
        match field.target {
            Target::FeedTitle(slot) => {
                if self.feed.titles[slot].is_none() && !value.raw.trim().is_empty() {
                    self.feed.titles[slot] = Some(value);
                }
            }
            Target::FeedLink => {
                if self.feed.link.is_none() && !value.raw.trim().is_empty() {
                    self.feed.link = Some(resolve_within(
                        &mut self.link_budget,
                        self.doc_base.as_ref(),
                        base,
                        &value.raw,
                    ));
                }
            }
            Target::Ttl => self.feed.ttl = Some(short()),
            Target::SyPeriod => self.feed.sy_period = Some(short()),
            Target::SyFrequency => self.feed.sy_frequency = Some(short()),
            Target::PersonName => {
                if let Some(person) = self.person.as_mut() {
                    person.name = Some(value.to_text(usize::MAX, 1024));
                }
            }
            Target::PersonEmail => {
                if let Some(person) = self.person.as_mut() {
                    person.email = Some(value.to_text(usize::MAX, 1024));
                }
            }
            target => {
                let Some(draft) = self.entry.as_mut() else {
                    return;
                };
                let budget = &mut self.link_budget;
                let doc_base = self.doc_base.as_ref();
                match target {
                    Target::Title(slot) => keep(&mut draft.titles[slot], value),
                    Target::Summary(slot) => keep(&mut draft.summaries[slot], value),
                    Target::Content(slot) => keep(&mut draft.contents[slot], value),
                    Target::Id => {
                        let id = short();
                        if !id.is_empty() {
                            draft.id = Some(id);
                        }
                    }
                    Target::Guid { permalink } => {
                        let guid = short();
                        let is_url = guid.starts_with("http://") || guid.starts_with("https://");
                        if permalink == Some(true) || (permalink.is_none() && is_url) {
                            let link = resolve_within(budget, doc_base, base, &guid);
                            draft.guid_link = Some(link).filter(|l| !l.is_empty());
                        }
                        if !guid.is_empty() {
                            draft.id = Some(guid);
                        }
                    }
                    Target::Link => {
                        let link = short();
                        if !link.is_empty() {
                            let link = resolve_within(budget, doc_base, base, &link);
                            if !self.format.is_atom() {
                                draft.add_key_link(&link, true);
                            }
                            draft.add_link(link, "");
                        }
                    }
                    Target::KeyLink => {
                        let link = short();
                        if !link.is_empty() {
                            let link = resolve_within(budget, doc_base, base, &link);
                            draft.add_key_link(&link, true);
                        }
                    }
                    Target::Published(slot) => draft.published[slot] = Some(short()),
                    Target::Updated(slot) => draft.updated[slot] = Some(short()),
                    _ => {}
                }
            }
        }
    }

    fn deliver_person(&mut self, person: Person) {
        let name = person
            .name
            .filter(|n| !n.trim().is_empty())
            .or(person.email.filter(|e| !e.trim().is_empty()))
            .unwrap_or_else(|| person_name(&person.text));
        match person.role {
            Role::ItemAuthor | Role::ItemContributor => {
                if let Some(draft) = self.entry.as_mut() {
                    draft.add_author(name, person.role == Role::ItemContributor);
                }
            }
            Role::FeedAuthor => push_author(&mut self.feed.authors, name),
            Role::FeedEditor => push_author(&mut self.feed.editors, name),
        }
    }

    fn finish_entry(&mut self) {
        if let Some(draft) = self.entry.take() {
            self.items.push(draft.finish(&[]));
        }
    }

    fn finish(mut self) -> ParsedFeed {
        let feed_authors = if self.feed.authors.is_empty() {
            std::mem::take(&mut self.feed.editors)
        } else {
            std::mem::take(&mut self.feed.authors)
        };
        if !feed_authors.is_empty() {
            for item in self.items.iter_mut().filter(|i| i.authors.is_empty()) {
                item.authors.clone_from(&feed_authors);
            }
        }
        let title = self
            .feed
            .titles
            .iter()
            .flatten()
            .map(|v| v.to_text(usize::MAX, MAX_TITLE_CHARS))
            .find(|t| !t.is_empty());
        let update_hint = self
            .feed
            .ttl
            .as_deref()
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|m| *m > 0)
            .map(|minutes| Duration::from_secs(minutes.saturating_mul(60)))
            .or_else(|| {
                syndication_period(
                    self.feed.sy_period.as_deref()?,
                    self.feed.sy_frequency.as_deref(),
                )
            });
        ParsedFeed {
            title,
            link: self.feed.link,
            items: self.items,
            update_hint,
            hubs: self.feed.hubs,
            self_url: self.feed.self_url,
        }
    }
}

/// An HTML void element outside any field (a stray `<br>` between an item's elements). Sloppy
/// feeds never close it, and kept open it would swallow the rest of its item. `link` and
/// `source` are void in HTML but feed elements here.
fn stray_void(name: &str) -> bool {
    [
        "br", "img", "hr", "wbr", "input", "meta", "col", "area", "param", "track", "embed",
    ]
    .iter()
    .any(|void| void.eq_ignore_ascii_case(name))
}

/// A later source of the same rank replaces an earlier one, as the old reader did, unless it
/// is empty.
fn keep(slot: &mut Option<Value>, value: Value) {
    if slot.is_none() || !value.raw.trim().is_empty() {
        *slot = Some(value);
    }
}

/// The `sy:updatePeriod` / `sy:updateFrequency` pair of the RSS syndication module.
fn syndication_period(period: &str, frequency: Option<&str>) -> Option<Duration> {
    let period = match period.trim().to_ascii_lowercase().as_str() {
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 604_800,
        "monthly" => 2_592_000,
        "yearly" => 31_536_000,
        _ => return None,
    };
    let frequency: u64 = frequency
        .and_then(|f| f.trim().parse().ok())
        .filter(|f| *f > 0)
        .unwrap_or(1);
    Some(Duration::from_secs(period / frequency))
}

impl<'a> Handler<'a> for Builder<'a> {
    fn start(&mut self, tag: &Tag<'a, '_>) -> Result<Opened, FeedError> {
        if let Some(field) = self.field.as_mut() {
            return Ok(field.capture.start(tag));
        }
        if self.frames.last() == Some(&Frame::Skip) {
            if stray_void(tag.local) {
                return Ok(Opened::Void);
            }
            self.frames.push(Frame::Skip);
            return Ok(Opened::Kept);
        }
        let frame = match self.classify(tag) {
            Action::Pass | Action::Skip if stray_void(tag.local) => return Ok(Opened::Void),
            Action::Pass => Frame::Pass,
            Action::Skip => Frame::Skip,
            Action::Container(format) => {
                if self.format == Format::Unknown {
                    self.format = format;
                }
                self.containers += 1;
                self.seen_container = true;
                Frame::Container
            }
            Action::RootEntry => {
                self.format = Format::Atom;
                self.containers += 1;
                self.seen_container = true;
                self.entry = Some(Draft::default());
                Frame::RootEntry
            }
            Action::Entry => {
                if self.items.len() >= MAX_ITEMS {
                    return Err(FeedError::TooManyItems);
                }
                self.entry = Some(Draft {
                    untrimmed_encoded: self.format == Format::Rss,
                    ..Draft::default()
                });
                Frame::Entry
            }
            Action::Person(role) => {
                self.person = Some(Person {
                    role,
                    name: None,
                    email: None,
                    text: String::new(),
                });
                Frame::Person
            }
            Action::Field(target, kind, cap) => {
                self.field = Some(Field {
                    target,
                    capture: Capture::new(kind, cap),
                    base: tag.base.cloned(),
                });
                Frame::Field
            }
        };
        self.frames.push(frame);
        Ok(Opened::Kept)
    }

    fn end(&mut self) {
        if let Some(field) = self.field.as_mut()
            && field.capture.in_child()
        {
            field.capture.end_child();
            return;
        }
        match self.frames.pop() {
            Some(Frame::Field) => {
                if let Some(field) = self.field.take() {
                    self.deliver(field);
                }
            }
            Some(Frame::Entry) => self.finish_entry(),
            Some(Frame::RootEntry) => {
                self.finish_entry();
                self.containers = self.containers.saturating_sub(1);
            }
            Some(Frame::Person) => {
                if let Some(person) = self.person.take() {
                    self.deliver_person(person);
                }
            }
            Some(Frame::Container) => self.containers = self.containers.saturating_sub(1),
            Some(Frame::Pass | Frame::Skip) | None => {}
        }
    }

    fn text(&mut self, text: &str) {
        if let Some(field) = self.field.as_mut() {
            field.capture.text(text);
        } else if self.frames.last() == Some(&Frame::Person)
            && let Some(person) = self.person.as_mut()
            && person.text.len() < CAP_SHORT
        {
            let mut cut = text.len().min(CAP_SHORT - person.text.len());
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            person.text.push_str(&text[..cut]);
        }
    }

    fn unknown_reference(&mut self, name: &str) {
        if let Some(field) = self.field.as_mut() {
            field.capture.unknown_reference(name);
        } else if self.frames.last() == Some(&Frame::Person)
            && let Some(person) = self.person.as_mut()
            && person.text.len() < CAP_SHORT
            && !super::text::push_reference(&mut person.text, name)
        {
            person.text.push('&');
            person.text.push_str(name);
            person.text.push(';');
        }
    }
}
