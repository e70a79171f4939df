//! Page metadata: title, authors, dates, language, site name, canonical URL,
//! description and image, read from `<meta>`/`<link>`/`<html lang>` tags and
//! JSON-LD of the *unmodified* document (Readability mutates its copy), then
//! merged with what dom_smoothie found.
//!
//! Precedence, first non-empty wins:
//! - title: `og:title` → `twitter:title` → JSON-LD `headline` → dom_smoothie
//!   title (its cleaned-up `<title>`) → raw `<title>`.
//! - authors: JSON-LD `author` (structured, one entry per person) → `<meta
//!   name=author>` / `article:author` (when not a profile URL) / `dc.creator`
//!   → dom_smoothie byline. Free-text forms are split on `,` `;` `and` `&`.
//! - published: `article:published_time` → JSON-LD `datePublished` → other
//!   date metas (`og:published_time`, `dc.date`, `pubdate`, `itemprop`) →
//!   dom_smoothie. Modified: `article:modified_time` → `og:updated_time` →
//!   JSON-LD `dateModified` → dom_smoothie.
//! - lang: `<html lang>` → `content-language` meta → `og:locale` → JSON-LD
//!   `inLanguage` → dom_smoothie; reduced to the primary subtag ("en-US" →
//!   "en") because downstream filters work per language, not per region.
//! - site_name: `og:site_name` → JSON-LD publisher name → dom_smoothie.
//! - canonical_url: `<link rel=canonical>` → `og:url` → JSON-LD `url` /
//!   `mainEntityOfPage`; resolved against the page URL, http(s) only.
//! - description: `<meta name=description>` → `og:description` →
//!   `twitter:description` → JSON-LD `description`. dom_smoothie's excerpt is
//!   not used: without these tags it is just the first paragraph.
//! - image: `og:image` → `twitter:image` → JSON-LD `image`, resolved like
//!   the canonical URL.
//!
//! This module must stay pure: no I/O, no clock, no globals.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use dom_query::Document;
use url::Url;

use super::jsonld::{self, JsonLdArticle};

/// Metadata read straight from the document, before any merging.
#[derive(Debug, Default, Clone)]
pub struct PageMeta {
    /// First value per lowercased `property`/`name`/`itemprop`/`http-equiv`.
    metas: HashMap<String, String>,
    html_title: Option<String>,
    html_lang: Option<String>,
    canonical: Option<String>,
    /// `datetime` of the first `<time itemprop="datePublished">`, a common
    /// microdata form on sites without Open Graph dates.
    time_published: Option<String>,
    pub json_ld: Option<JsonLdArticle>,
}

/// The merged result, ready to be copied into the public `Article`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Merged {
    pub title: String,
    pub authors: Vec<String>,
    pub published: Option<DateTime<Utc>>,
    pub modified: Option<DateTime<Utc>>,
    pub lang: Option<String>,
    pub site_name: Option<String>,
    pub canonical_url: Option<String>,
    pub description: Option<String>,
    pub image: Option<String>,
}

/// Caps the number of authors kept: long lists are almost always a parsing
/// accident (a whole staff list), not real co-authors.
const MAX_AUTHORS: usize = 20;
/// Longer "names" are sentences that ended up in an author field.
const MAX_AUTHOR_CHARS: usize = 80;

impl PageMeta {
    pub fn read(doc: &Document) -> Self {
        // One walk over the tree instead of one `select` per tag: metadata
        // is read on every page and the selects each traverse everything.
        let mut page = PageMeta::default();
        let mut json_ld_texts: Vec<String> = Vec::new();
        let root = doc.root();
        for node in root.descendants_it() {
            let Some(name) = node.qual_name_ref().map(|q| q.local.clone()) else {
                continue;
            };
            match &*name {
                "meta" => {
                    let Some(content) = node.attr("content").and_then(|c| clean(&c)) else {
                        continue;
                    };
                    for key_attr in ["property", "name", "itemprop", "http-equiv"] {
                        if let Some(key) = node.attr(key_attr) {
                            let key = key.trim().to_ascii_lowercase();
                            if !key.is_empty() {
                                page.metas.entry(key).or_insert_with(|| content.clone());
                            }
                        }
                    }
                }
                "link" if page.canonical.is_none() => {
                    let is_canonical = node.attr("rel").is_some_and(|rel| {
                        rel.split_ascii_whitespace()
                            .any(|t| t.eq_ignore_ascii_case("canonical"))
                    });
                    if is_canonical {
                        page.canonical = node.attr("href").and_then(|h| clean(&h));
                    }
                }
                "script" => {
                    let is_ld = node.attr("type").is_some_and(|t| {
                        t.split(';')
                            .next()
                            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/ld+json"))
                    });
                    if is_ld {
                        json_ld_texts.push(node.text().to_string());
                    }
                }
                "title" if page.html_title.is_none() => {
                    page.html_title = clean(&node.text());
                }
                "html" if page.html_lang.is_none() => {
                    page.html_lang = node.attr("lang").and_then(|l| clean(&l));
                }
                "time"
                    if page.time_published.is_none()
                        && node
                            .attr("itemprop")
                            .is_some_and(|v| &*v == "datePublished") =>
                {
                    page.time_published = node.attr("datetime").and_then(|d| clean(&d));
                }
                _ => {}
            }
        }
        page.json_ld = jsonld::parse_blocks(json_ld_texts.iter().map(String::as_str));
        page
    }

    /// The raw value of one `<meta>` key (lowercased name).
    pub fn meta_value(&self, key: &str) -> Option<&str> {
        self.metas.get(key).map(String::as_str)
    }

    fn meta(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| self.metas.get(*k).cloned())
    }

    fn ld<T>(&self, f: impl FnOnce(&JsonLdArticle) -> Option<T>) -> Option<T> {
        self.json_ld.as_ref().and_then(f)
    }

    /// Applies the precedence documented at the top of this module.
    /// `smoothie` is dom_smoothie's view of the same page, when it parsed.
    pub fn merge(&self, smoothie: Option<&dom_smoothie::Article>, base: Option<&Url>) -> Merged {
        let title = self
            .meta(&["og:title", "twitter:title"])
            .or_else(|| self.ld(|l| l.headline.clone()))
            .or_else(|| smoothie.and_then(|s| clean(&s.title)))
            .or_else(|| self.html_title.clone())
            .unwrap_or_default();

        let mut authors = self
            .ld(|l| (!l.authors.is_empty()).then(|| l.authors.clone()))
            .map(|names| clean_authors(names.iter().map(String::as_str)))
            .unwrap_or_default();
        if authors.is_empty() {
            let article_author = self
                .meta(&["article:author"])
                .filter(|a| !a.starts_with("http://") && !a.starts_with("https://"));
            if let Some(free_text) = self
                .meta(&["author", "dc.creator", "dcterms.creator", "parsely-author"])
                .or(article_author)
                .or_else(|| smoothie.and_then(|s| s.byline.clone()))
            {
                authors = split_authors(&free_text);
            }
        }

        let published = self
            .meta(&["article:published_time"])
            .or_else(|| self.ld(|l| l.date_published.clone()))
            .or_else(|| {
                self.meta(&[
                    "og:published_time",
                    "datepublished",
                    "dc.date",
                    "dcterms.date",
                    "dc.date.issued",
                    "pubdate",
                    "publishdate",
                ])
            })
            .or_else(|| self.time_published.clone())
            .or_else(|| smoothie.and_then(|s| s.published_time.clone()))
            .and_then(|d| parse_date(&d));

        let modified = self
            .meta(&["article:modified_time", "og:updated_time"])
            .or_else(|| self.ld(|l| l.date_modified.clone()))
            .or_else(|| self.meta(&["datemodified", "dcterms.modified"]))
            .or_else(|| smoothie.and_then(|s| s.modified_time.clone()))
            .and_then(|d| parse_date(&d));

        let lang = self
            .html_lang
            .clone()
            .or_else(|| self.meta(&["content-language", "language", "dc.language", "og:locale"]))
            .or_else(|| self.ld(|l| l.in_language.clone()))
            .and_then(|l| primary_language(&l))
            .or_else(|| smoothie.and_then(|s| s.lang.as_deref().and_then(primary_language)));

        let site_name = self
            .meta(&["og:site_name"])
            .or_else(|| self.ld(|l| l.publisher.clone()))
            .or_else(|| smoothie.and_then(|s| s.site_name.as_deref().and_then(clean)));

        let canonical_url = self
            .canonical
            .iter()
            .chain(self.meta(&["og:url"]).iter())
            .chain(self.ld(|l| l.url.clone()).iter())
            .find_map(|u| resolve_url(u, base));

        let description = self
            .meta(&["description", "og:description", "twitter:description"])
            .or_else(|| self.ld(|l| l.description.clone()));

        let image = self
            .meta(&[
                "og:image",
                "og:image:url",
                "twitter:image",
                "twitter:image:src",
            ])
            .iter()
            .chain(self.ld(|l| l.image.clone()).iter())
            .find_map(|u| resolve_url(u, base));

        Merged {
            title,
            authors,
            published,
            modified,
            lang,
            site_name,
            canonical_url,
            description,
            image,
        }
    }
}

/// Trims and collapses inner whitespace; `None` when nothing is left.
fn clean(s: &str) -> Option<String> {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// Resolves `href` against the page URL and keeps only http(s) results, so
/// `javascript:` or data URLs never reach consumers.
fn resolve_url(href: &str, base: Option<&Url>) -> Option<String> {
    let parsed = match base {
        Some(base) => base.join(href.trim()).ok()?,
        None => Url::parse(href.trim()).ok()?,
    };
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.to_string())
}

/// "en-US", "en_GB", "EN" → "en". Rejects values that are not a plausible
/// ISO 639 code (2–3 letters), e.g. "English" or "*".
pub fn primary_language(tag: &str) -> Option<String> {
    let primary = tag.trim().split(['-', '_']).next()?;
    let ok = (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic());
    ok.then(|| primary.to_ascii_lowercase())
}

/// Parses the date formats news sites actually emit. Values without a zone
/// are taken as UTC: guessing the site's zone would need data we don't have,
/// and a few hours' error is better than dropping the date.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f %z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d.and_utc());
        }
    }
    // Date-only values, possibly followed by junk such as a stray "T".
    let date_part = s.get(..10)?;
    NaiveDate::parse_from_str(date_part, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// Splits a free-text byline ("By Jane Doe and Bob Roe, Reuters") into
/// names.
pub fn split_authors(byline: &str) -> Vec<String> {
    let trimmed = byline.trim();
    let without_by = trimmed
        .get(..3)
        .filter(|p| p.eq_ignore_ascii_case("by "))
        .map_or(trimmed, |_| &trimmed[3..]);
    let parts: Vec<&str> = without_by
        .split([',', ';', '|', '\n'])
        .flat_map(|p| p.split(" and "))
        .flat_map(|p| p.split(" & "))
        .collect();
    clean_authors(parts)
}

fn clean_authors<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let Some(name) = clean(name) else { continue };
        let looks_like_url = name.starts_with("http://") || name.starts_with("https://");
        let duplicate = out.iter().any(|o| o.eq_ignore_ascii_case(&name));
        if !looks_like_url && !duplicate && name.chars().count() <= MAX_AUTHOR_CHARS {
            out.push(name);
        }
        if out.len() >= MAX_AUTHORS {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Option<DateTime<Utc>> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single()
    }

    #[test]
    fn date_formats() {
        assert_eq!(
            parse_date("2024-03-01T10:00:00+03:00"),
            utc(2024, 3, 1, 7, 0)
        );
        assert_eq!(parse_date("2024-03-01T10:00:00Z"), utc(2024, 3, 1, 10, 0));
        assert_eq!(
            parse_date("2024-03-01T10:00:00.123+0000"),
            parse_date("2024-03-01T10:00:00.123Z")
        );
        assert_eq!(
            parse_date("2024-03-01T10:00:00+0100"),
            utc(2024, 3, 1, 9, 0)
        );
        assert_eq!(parse_date("2024-03-01 10:00:00"), utc(2024, 3, 1, 10, 0));
        assert_eq!(
            parse_date("Fri, 01 Mar 2024 10:00:00 GMT"),
            utc(2024, 3, 1, 10, 0)
        );
        assert_eq!(parse_date("2024-03-01"), utc(2024, 3, 1, 0, 0));
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date(""), None);
        assert_eq!(parse_date("2024-13-45"), None);
    }

    #[test]
    fn byline_splitting() {
        assert_eq!(
            split_authors("By Jane Doe and Bob Roe, jane doe; https://x.com/u"),
            vec!["Jane Doe", "Bob Roe"]
        );
        assert!(split_authors("  ").is_empty());
        assert_eq!(split_authors("Иван Петров"), vec!["Иван Петров"]);
    }

    #[test]
    fn language_tags() {
        assert_eq!(primary_language("en-US").as_deref(), Some("en"));
        assert_eq!(primary_language("ru_RU").as_deref(), Some("ru"));
        assert_eq!(primary_language("English"), None);
        assert_eq!(primary_language(""), None);
    }
}
