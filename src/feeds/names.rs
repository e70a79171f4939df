//! Namespaces as feeds use them: which vocabulary an element name belongs to, with the prefix
//! bindings in scope. Owns the table of namespace URIs we understand and the fallback for
//! well-known prefixes that a sloppy feed uses without declaring. Lookups are O(1) whatever the
//! number of declarations, so a flood of `xmlns:` attributes costs linear time; this module
//! must never keep per-element copies of the bindings.

use std::collections::HashMap;

/// The vocabularies a feed element can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ns {
    /// RSS itself (no namespace, the RSS 0.90 / 1.0 namespaces, Userland's RSS 2 namespace) or
    /// an unknown default namespace: feeds that invent a default namespace still mean RSS or
    /// Atom by their element names.
    Core,
    Atom,
    Atom03,
    Dc,
    Dcterms,
    Content,
    Itunes,
    Media,
    Sy,
    Rdf,
    Xhtml,
    Xml,
    /// Well-Formed Web comments; read only for the identity of items (see `item`).
    Wfw,
    /// Yandex's `yandex:full-text` and Turbo pages' `turbo:content`, which Russian news feeds
    /// use for the article's full text.
    Yandex,
    Turbo,
    /// A prefixed namespace we do not read.
    Other,
}

const KNOWN: &[(&str, Ns)] = &[
    ("http://www.w3.org/2005/atom", Ns::Atom),
    ("http://purl.org/atom/ns#", Ns::Atom03),
    (
        "http://purl.org/atom/ns#draft-ietf-atompub-format-08",
        Ns::Atom,
    ),
    ("http://purl.org/dc/elements/1.1/", Ns::Dc),
    ("http://purl.org/dc/elements/1.0/", Ns::Dc),
    ("http://purl.org/dc/terms/", Ns::Dcterms),
    ("http://purl.org/rss/1.0/modules/content/", Ns::Content),
    ("http://www.itunes.com/dtds/podcast-1.0.dtd", Ns::Itunes),
    ("http://www.itunes.com/dtds/podcast-1.0.dtd/", Ns::Itunes),
    ("http://search.yahoo.com/mrss/", Ns::Media),
    ("http://search.yahoo.com/mrss", Ns::Media),
    ("http://video.search.yahoo.com/mrss", Ns::Media),
    ("http://video.search.yahoo.com/mrss/", Ns::Media),
    ("http://purl.org/rss/1.0/modules/syndication/", Ns::Sy),
    ("http://www.w3.org/1999/02/22-rdf-syntax-ns#", Ns::Rdf),
    ("http://www.w3.org/1999/xhtml", Ns::Xhtml),
    ("http://www.w3.org/xml/1998/namespace", Ns::Xml),
    ("http://wellformedweb.org/CommentAPI/", Ns::Wfw),
    ("http://news.yandex.ru", Ns::Yandex),
    ("http://turbo.yandex.ru", Ns::Turbo),
    ("http://purl.org/rss/1.0/", Ns::Core),
    ("http://my.netscape.com/rdf/simple/0.9/", Ns::Core),
    ("http://backend.userland.com/rss2", Ns::Core),
    ("http://backend.userland.com/rss", Ns::Core),
    ("http://purl.org/net/rss1.1#", Ns::Core),
    ("http://channel.netscape.com/rdf/simple/0.9/", Ns::Core),
];

/// The vocabulary of a namespace URI. Case and a trailing slash vary in the wild (feeds copy
/// `http://www.w3.org/2005/atom` or drop the slash of Dublin Core), so both are forgiven.
pub fn classify(uri: &str) -> Option<Ns> {
    let bare = uri.trim().trim_end_matches('/');
    KNOWN
        .iter()
        .find(|(known, _)| known.trim_end_matches('/').eq_ignore_ascii_case(bare))
        .map(|(_, ns)| *ns)
}

/// The vocabulary a well-known prefix means when the feed never declared it.
fn by_prefix(prefix: &str) -> Ns {
    match prefix.to_ascii_lowercase().as_str() {
        "dc" => Ns::Dc,
        "dcterms" => Ns::Dcterms,
        "content" => Ns::Content,
        "atom" | "atom10" => Ns::Atom,
        "itunes" => Ns::Itunes,
        "media" => Ns::Media,
        "sy" => Ns::Sy,
        "rdf" => Ns::Rdf,
        "xhtml" => Ns::Xhtml,
        "xml" => Ns::Xml,
        "wfw" => Ns::Wfw,
        "yandex" => Ns::Yandex,
        "turbo" => Ns::Turbo,
        _ => Ns::Other,
    }
}

/// The bindings in scope. Each prefix maps to a stack of the namespaces declared for it, so
/// entering and leaving an element costs only its own declarations.
#[derive(Default)]
pub struct Scopes<'a> {
    bindings: HashMap<&'a str, Vec<Ns>>,
    /// Prefixes declared by open elements, innermost last, to undo on close.
    declared: Vec<&'a str>,
}

impl<'a> Scopes<'a> {
    /// Declares `prefix` ("" for the default namespace) for the element being opened.
    pub fn declare(&mut self, prefix: &'a str, uri: &str) {
        let ns = match classify(uri) {
            Some(ns) => ns,
            // An unknown default namespace still names RSS or Atom elements by their names;
            // an unknown prefixed one is some extension we do not read.
            None if prefix.is_empty() => Ns::Core,
            None => Ns::Other,
        };
        self.bindings.entry(prefix).or_default().push(ns);
        self.declared.push(prefix);
    }

    /// How many declarations are in force, to pass back to [`Scopes::close`].
    pub fn mark(&self) -> usize {
        self.declared.len()
    }

    /// Undoes the declarations made since `mark`.
    pub fn close(&mut self, mark: usize) {
        while self.declared.len() > mark {
            if let Some(prefix) = self.declared.pop()
                && let Some(stack) = self.bindings.get_mut(prefix)
            {
                stack.pop();
            }
        }
    }

    /// The vocabulary of an element named `qname`.
    pub fn element(&self, qname: &str) -> Ns {
        match qname.split_once(':') {
            Some((prefix, _)) => self.prefix(prefix),
            None => self
                .bindings
                .get("")
                .and_then(|s| s.last().copied())
                .unwrap_or(Ns::Core),
        }
    }

    fn prefix(&self, prefix: &str) -> Ns {
        if prefix == "xml" {
            return Ns::Xml;
        }
        match self.bindings.get(prefix).and_then(|s| s.last()) {
            Some(ns) => *ns,
            None => by_prefix(prefix),
        }
    }
}

/// The part of a qualified name after its prefix.
pub fn local(qname: &str) -> &str {
    qname.rsplit_once(':').map_or(qname, |(_, local)| local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_prefixes_win_over_the_well_known_ones_and_scope_ends_with_the_element() {
        let mut scopes = Scopes::default();
        assert_eq!(scopes.element("dc:title"), Ns::Dc);
        let mark = scopes.mark();
        scopes.declare("dc", "http://example.org/not-dc");
        assert_eq!(scopes.element("dc:title"), Ns::Other);
        scopes.declare("", "http://www.w3.org/2005/Atom");
        assert_eq!(scopes.element("title"), Ns::Atom);
        scopes.close(mark);
        assert_eq!(scopes.element("dc:title"), Ns::Dc);
        assert_eq!(scopes.element("title"), Ns::Core);
    }

    #[test]
    fn namespace_spelling_is_forgiven() {
        assert_eq!(classify("http://www.w3.org/2005/atom"), Some(Ns::Atom));
        assert_eq!(classify("http://purl.org/dc/elements/1.1"), Some(Ns::Dc));
        assert_eq!(classify("http://example.org/"), None);
    }
}
