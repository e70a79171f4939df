//! JSON Feed 1.0 and 1.1 read into items: `id`, `url` / `external_url`, `title`,
//! `content_html` / `content_text`, `summary`, `date_published` / `date_modified`, `author`
//! (1.0) / `authors` (1.1), with the feed's own author(s) for items that name nobody. Lenient
//! about types (a numeric id is an id; a field of the wrong type is absent) and about the
//! version string. serde_json's recursion limit bounds nesting; this module must never walk
//! the document recursively itself.

use serde_json::Value as Json;

use super::capture::Value;
use super::item::{Draft, push_author};
use super::limits::{FeedError, MAX_ITEMS, MAX_TITLE_CHARS};
use super::{ParsedFeed, resolve};

/// Reads a JSON Feed. `base` resolves relative item URLs.
pub fn parse(doc: &str, base: Option<&str>) -> Result<ParsedFeed, FeedError> {
    let json: Json = serde_json::from_str(doc)
        .map_err(|err| FeedError::NotAFeed(format!("invalid JSON: {err}")))?;
    let Some(feed) = json.as_object() else {
        return Err(FeedError::NotAFeed("JSON that is not an object".into()));
    };
    let version = feed.get("version").and_then(Json::as_str).unwrap_or("");
    let items = feed.get("items").and_then(Json::as_array);
    if !version.contains("jsonfeed.org") && items.is_none() {
        return Err(FeedError::NotAFeed(
            "JSON without a JSON Feed version or items".into(),
        ));
    }
    let items = items.map(Vec::as_slice).unwrap_or_default();
    if items.len() > MAX_ITEMS {
        return Err(FeedError::TooManyItems);
    }
    let base = base.and_then(|b| url::Url::parse(b.trim()).ok());
    let feed_authors = authors(feed);
    let items = items
        .iter()
        .filter_map(Json::as_object)
        .map(|item| {
            let mut draft = draft(item, base.as_ref());
            if draft.authors.is_empty() {
                draft.authors.clone_from(&feed_authors);
            }
            draft.finish(&[])
        })
        .collect();
    let title = string(feed, "title")
        .map(|t| Value::sniffed(t.to_string()).to_text(usize::MAX, MAX_TITLE_CHARS))
        .filter(|t| !t.is_empty());
    Ok(ParsedFeed {
        title,
        link: string(feed, "home_page_url").map(|l| resolve(base.as_ref(), l)),
        items,
        update_hint: None,
        hubs: feed
            .get("hubs")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_object)
            .filter(|hub| string(hub, "type").is_some_and(|t| t.eq_ignore_ascii_case("websub")))
            .filter_map(|hub| string(hub, "url"))
            .map(|url| resolve(base.as_ref(), url))
            .filter(|url| !url.is_empty())
            .take(super::MAX_HUBS)
            .collect(),
        self_url: string(feed, "feed_url")
            .map(|l| resolve(base.as_ref(), l))
            .filter(|url| !url.is_empty()),
    })
}

type Object = serde_json::Map<String, Json>;

fn string<'j>(object: &'j Object, key: &str) -> Option<&'j str> {
    object.get(key).and_then(Json::as_str)
}

/// The names of `author` (1.0) and `authors` (1.1).
fn authors(object: &Object) -> Vec<String> {
    let mut names = Vec::new();
    let one = object.get("author").into_iter();
    let many = object
        .get("authors")
        .and_then(Json::as_array)
        .into_iter()
        .flatten();
    for author in one.chain(many) {
        let name = match author {
            Json::String(name) => Some(name.as_str()),
            Json::Object(author) => string(author, "name").or_else(|| string(author, "url")),
            _ => None,
        };
        if let Some(name) = name {
            push_author(&mut names, name.to_string());
        }
    }
    names
}

fn draft(item: &Object, base: Option<&url::Url>) -> Draft {
    let mut draft = Draft {
        id: match item.get("id") {
            Some(Json::String(id)) => Some(id.clone()),
            Some(Json::Number(id)) => Some(id.to_string()),
            _ => None,
        },
        authors: authors(item),
        ..Draft::default()
    };
    for key in ["url", "external_url"] {
        if let Some(link) = string(item, key) {
            let link = resolve(base, link);
            draft.add_key_link(&link, true);
            draft.add_link(link, "");
        }
    }
    // JSON Feed titles and summaries are plain text by the spec, but feeds put entities and
    // tags in them as they do in RSS.
    if let Some(title) = string(item, "title") {
        draft.titles[0] = Some(Value::sniffed(title.to_string()));
    }
    let html = string(item, "content_html").map(str::trim);
    let text = string(item, "content_text").map(str::trim);
    if let Some(html) = html {
        draft.contents[0] = Some(Value {
            raw: html.to_string(),
            html: true,
            refs: false,
        });
    }
    if let Some(text) = text {
        draft.contents[1] = Some(Value::plain(text.to_string()));
    }
    // The old reader summed up an item with both kinds of content by its text; the hash
    // identity of id-less items depends on it.
    let summary = string(item, "summary").or(html.and(text));
    if let Some(summary) = summary {
        draft.summaries[0] = Some(Value::sniffed(summary.to_string()));
    }
    if let Some(date) = string(item, "date_published") {
        draft.published[0] = Some(date.to_string());
    }
    if let Some(date) = string(item, "date_modified") {
        draft.updated[0] = Some(date.to_string());
    }
    draft
}
