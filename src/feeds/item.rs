//! One item as the readers collect it (every candidate source of each field, ranked) and the
//! rules that turn it into a [`FeedItem`]: which source wins, the caps, the plain-text
//! conversion, and the item's identity. Identity must stay exactly as the feed-rs based reader
//! made it for feeds that reader understood, because users' stores hold those keys: the
//! publisher's id, else the item's own link (not a fallback such as the enclosure), else a hash
//! of the primary title, summary and content as collected. This module must never change
//! those formats.

use sha2::{Digest, Sha256};

use super::capture::Value;
use super::date::parse_date;
use super::limits::{
    MAX_AUTHOR_CHARS, MAX_AUTHORS, MAX_CONTENT_BYTES, MAX_SUMMARY_BYTES, MAX_TITLE_CHARS,
};
use super::text::plain_text;
use super::{FeedItem, ItemKey, canonical_link};

/// Sources of the title, best first: the format's own title, `dc:title`, `dcterms:title`,
/// `itunes:title`, `media:title`.
pub const TITLE_SLOTS: usize = 5;
/// Sources of the summary, best first: `description` / `summary`, `dc:description`,
/// `dcterms:abstract` / `dcterms:description`, `itunes:summary`, `itunes:subtitle`,
/// `media:description`.
pub const SUMMARY_SLOTS: usize = 6;
/// Sources of the content, best first: `content:encoded`, Atom `content` (HTML), Atom
/// `content` (text), `xhtml:body` / `body` / `fullitem` / `turbo:content` / `yandex:full-text`.
pub const CONTENT_SLOTS: usize = 4;
/// Dates of publication, best first: `pubDate` / `published` / `issued`, `dc:date`,
/// `dcterms:issued`, `created`, `dcterms:created`; then of update: `updated` / `modified`,
/// `dcterms:modified`.
pub const PUBLISHED_SLOTS: usize = 5;
pub const UPDATED_SLOTS: usize = 2;

#[derive(Default)]
pub struct Draft {
    pub id: Option<String>,
    pub titles: [Option<Value>; TITLE_SLOTS],
    pub summaries: [Option<Value>; SUMMARY_SLOTS],
    pub contents: [Option<Value>; CONTENT_SLOTS],
    pub published: [Option<String>; PUBLISHED_SLOTS],
    pub updated: [Option<String>; UPDATED_SLOTS],
    /// The first alternate link (`rel="alternate"`, no rel, or RSS `<link>`).
    pub alternate: Option<String>,
    /// The links the old reader would have keyed the item by: the first of the kinds it took
    /// for the item's own link (RSS `<link>`, `<comments>` and `wfw:commentRss`; Atom links
    /// without a relation or `alternate`), in document order, else the first Atom link of any
    /// relation. Kept apart from the shown link so stored keys stay the same.
    pub key_links: [Option<String>; 2],
    /// The first link of another relation that can stand for the item (`related`, `via`, …).
    pub other_link: Option<String>,
    /// The guid, when it is a permalink.
    pub guid_link: Option<String>,
    pub enclosure: Option<String>,
    pub media: Option<String>,
    pub authors: Vec<String>,
    pub contributors: Vec<String>,
    /// The old reader kept RSS 2.0's `content:encoded` untrimmed and trimmed every other
    /// content; the hash identity depends on it.
    pub untrimmed_encoded: bool,
}

impl Draft {
    pub fn add_author(&mut self, name: String, contributor: bool) {
        let list = if contributor {
            &mut self.contributors
        } else {
            &mut self.authors
        };
        push_author(list, name);
    }

    /// Records a link of relation `rel` ("" or "alternate" for the item's own page).
    pub fn add_link(&mut self, href: String, rel: &str) {
        if href.is_empty() {
            return;
        }
        match rel {
            "" | "alternate" => {
                self.alternate.get_or_insert(href);
            }
            "enclosure" => {
                self.enclosure.get_or_insert(href);
            }
            "self" | "edit" | "replies" | "license" | "edit-media" | "payment" | "hub" => {}
            _ => {
                self.other_link.get_or_insert(href);
            }
        }
    }

    /// Records a link the old reader keyed items by (see `key_links`).
    pub fn add_key_link(&mut self, href: &str, primary: bool) {
        let slot = &mut self.key_links[usize::from(!primary)];
        if slot.is_none() && !href.is_empty() {
            *slot = Some(href.to_string());
        }
    }

    /// The finished item; `feed_authors` stand in when the item names nobody.
    pub fn finish(self, feed_authors: &[String]) -> FeedItem {
        let key = self.key();
        let title = self
            .titles
            .iter()
            .flatten()
            .map(|v| v.to_text(usize::MAX, MAX_TITLE_CHARS))
            .find(|t| !t.is_empty())
            .unwrap_or_default();
        let summary = self
            .summaries
            .iter()
            .flatten()
            .map(|v| v.to_text(MAX_SUMMARY_BYTES, usize::MAX))
            .find(|s| !s.is_empty())
            .or_else(|| {
                // With no summary of its own, an item is summed up by the start of its content.
                self.contents
                    .iter()
                    .flatten()
                    .map(|v| v.to_text(MAX_SUMMARY_BYTES, usize::MAX))
                    .find(|s| !s.is_empty())
            });
        let published = self
            .published
            .iter()
            .chain(self.updated.iter())
            .flatten()
            .find_map(|raw| parse_date(raw));
        let link = self
            .alternate
            .or(self.guid_link)
            .or(self.enclosure)
            .or(self.media)
            .or(self.other_link);
        let mut authors = if !self.authors.is_empty() {
            self.authors
        } else if !self.contributors.is_empty() {
            self.contributors
        } else {
            feed_authors.to_vec()
        };
        authors.truncate(MAX_AUTHORS);
        let content = self
            .contents
            .into_iter()
            .flatten()
            .filter(|v| !v.raw.trim().is_empty())
            .map(|v| v.into_html(MAX_CONTENT_BYTES))
            .find(|html| !html.trim().is_empty());
        FeedItem {
            key,
            title,
            link,
            summary,
            content,
            published,
            authors,
        }
    }

    fn key(&self) -> ItemKey {
        let id = self.id.as_deref().map(str::trim).unwrap_or("");
        if !id.is_empty() {
            return ItemKey(format!("id:{id}"));
        }
        if let Some(link) = self.key_links.iter().flatten().next() {
            return ItemKey(format!("link:{}", canonical_link(link)));
        }
        // The primary title, summary and content exactly as collected, as the old reader
        // hashed them.
        let title = self.titles[0].as_ref().map_or("", |v| v.raw.trim());
        let summary = self.summaries[0].as_ref().map_or("", |v| v.raw.trim());
        let content = self.contents[..3]
            .iter()
            .enumerate()
            .find_map(|(slot, v)| Some((slot, v.as_ref()?)))
            .map(|(slot, v)| {
                if slot == 0 && self.untrimmed_encoded && !v.raw.trim().is_empty() {
                    v.raw.as_str()
                } else {
                    v.raw.trim()
                }
            })
            .unwrap_or("");
        ItemKey(content_hash(title, summary, content))
    }
}

/// `sha256:` and the hex digest of the three parts, each followed by a NUL.
pub fn content_hash(title: &str, summary: &str, content: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [title, summary, content] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Adds a cleaned author name unless it is empty, already there, or one too many.
pub fn push_author(list: &mut Vec<String>, name: String) {
    let name = plain_text(&name, false, usize::MAX, MAX_AUTHOR_CHARS);
    if !name.is_empty() && list.len() < MAX_AUTHORS && !list.contains(&name) {
        list.push(name);
    }
}

/// The name in an RSS-style person string: "jdoe@example.com (Jane Doe)", "Jane Doe
/// <jdoe@example.com>", "Jane Doe", or the address alone when that is all there is.
pub fn person_name(raw: &str) -> String {
    let raw = raw.trim();
    if let (Some(open), true) = (raw.find('('), raw.ends_with(')')) {
        let inner = raw[open + 1..raw.len() - 1].trim();
        if !inner.is_empty() && raw[..open].contains('@') {
            return inner.to_string();
        }
    }
    if let (Some(open), true) = (raw.find('<'), raw.ends_with('>')) {
        let before = raw[..open].trim().trim_matches('"').trim();
        if !before.is_empty() && raw[open..].contains('@') {
            return before.to_string();
        }
    }
    raw.strip_prefix("mailto:").unwrap_or(raw).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_strings_give_names() {
        assert_eq!(person_name("jdoe@example.com (Jane Doe)"), "Jane Doe");
        assert_eq!(person_name("Jane Doe <jdoe@example.com>"), "Jane Doe");
        assert_eq!(person_name(" Jane Doe "), "Jane Doe");
        assert_eq!(person_name("jdoe@example.com"), "jdoe@example.com");
        assert_eq!(person_name("Jane (the editor)"), "Jane (the editor)");
    }

    #[test]
    fn hash_keys_keep_their_format() {
        assert_eq!(
            content_hash("t", "", ""),
            "sha256:8b72557f3c9722e86e9dba3e4bd7184aabe282c7171a3b5da44a5a943a1423d5"
        );
    }
}
