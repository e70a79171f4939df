//! What a new subscription is called and when two subscriptions are the same feed: the name
//! and tag slugs that `feeds import` and `feeds add` derive from titles and OPML folders, and the
//! key under which feed URLs are compared. Pure and total: strings in, strings out, no I/O; it
//! must never decide which names are taken (the config owns names, the CLI checks them).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use url::Url;

/// Characters kept in a derived name. Titles run long ("The Moscow Times – Independent News
/// from Russia"); a name is typed in `feed:NAME` queries and topic scopes, so it is cut at a
/// word boundary near this.
const MAX_SLUG_CHARS: usize = 40;

/// A name or tag as people type them in queries: lowercase letters and digits of any script
/// joined by single `-`. Latin letters lose their diacritics (`À la une` → `a-la-une`, as the
/// query language folds them), other scripts keep theirs (`й` stays `й`: dropping its breve
/// would make another letter). Empty when `text` has no letter or digit.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in text.chars() {
        match fold(c) {
            Some(kept) => {
                if gap && !out.is_empty() {
                    out.push('-');
                }
                gap = false;
                out.extend(kept.to_lowercase());
            }
            None => gap = true,
        }
    }
    if out.chars().count() <= MAX_SLUG_CHARS {
        return out;
    }
    let cut: String = out.chars().take(MAX_SLUG_CHARS).collect();
    // A cut inside a word reads as a typo; end at the last whole word when there is one.
    match cut.rfind('-') {
        Some(at) if at > 0 => cut[..at].to_string(),
        _ => cut,
    }
}

/// The character a slug keeps for `c`: itself for letters and digits, the base letter for a
/// Latin letter with diacritics, None for everything else.
fn fold(c: char) -> Option<char> {
    if c.is_ascii_alphanumeric() {
        return Some(c);
    }
    if !c.is_alphanumeric() {
        return None;
    }
    let mut parts = std::iter::once(c).nfkd();
    match parts.next() {
        Some(base) if base.is_ascii_alphanumeric() && parts.all(is_combining_mark) => Some(base),
        _ => Some(c),
    }
}

/// A name for a feed from its title, else from its URL's host (`www.` dropped), else "feed".
pub fn feed_name(title: Option<&str>, url: &str) -> String {
    if let Some(name) = title.map(slug).filter(|s| !s.is_empty()) {
        return name;
    }
    Url::parse(url)
        .ok()
        .and_then(|url| url.host_str().map(|h| slug(h.trim_start_matches("www."))))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "feed".to_string())
}

/// `base`, or `base-2`, `base-3`… : the first that `taken` does not hold.
pub fn unique_name(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| base.to_string())
}

/// A feed URL as written in subscription lists, made fetchable: trimmed, `feed://host/…` and
/// `feed:https://…` (the old feed: pseudo-scheme) turned into http(s). None when it is not an
/// absolute http(s) URL. A URL holding `${VAR}` (feedwatch's own export of a secret-bearing URL)
/// is kept as written, for the config loader to expand and check.
pub fn feed_url(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.contains("${") {
        let lower = raw.to_ascii_lowercase();
        return (lower.starts_with("http://") || lower.starts_with("https://"))
            .then(|| raw.to_string());
    }
    let lower = raw.to_ascii_lowercase();
    let fixed = if let Some(rest) = lower.strip_prefix("feed:") {
        let rest_raw = &raw[raw.len() - rest.len()..];
        if rest.starts_with("//") {
            format!("http:{rest_raw}")
        } else {
            rest_raw.to_string()
        }
    } else {
        raw.to_string()
    };
    let url = Url::parse(&fixed).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some()).then(|| url.into())
}

/// What two URLs of the same feed have in common: host, port, path and query, without the
/// scheme (a list exported years ago says http:// where the config now says https://), the
/// fragment, or a trailing `/`. Two subscriptions with one key would poll one feed twice.
pub fn url_key(url: &str) -> String {
    let Ok(parsed) = Url::parse(url.trim()) else {
        return url.trim().to_string();
    };
    let host = parsed.host_str().unwrap_or_default();
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = parsed.path().trim_end_matches('/');
    let query = parsed.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!("{host}{port}{path}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_words_joined_by_dashes() {
        assert_eq!(slug("Ars Technica"), "ars-technica");
        assert_eq!(slug("  The Verge -- All Posts!! "), "the-verge-all-posts");
        assert_eq!(slug("Le Monde – À la une"), "le-monde-a-la-une");
        assert_eq!(slug("Медуза: новости"), "медуза-новости");
        assert_eq!(slug("Новый год"), "новый-год");
        assert_eq!(slug("Straße"), "straße");
        assert_eq!(slug("meduza-en"), "meduza-en");
        assert_eq!(slug("…"), "");
    }

    #[test]
    fn long_slugs_end_at_a_word() {
        let name = slug("The Moscow Times – Independent News from Russia since 1992");
        assert_eq!(name, "the-moscow-times-independent-news-from");
        assert!(name.chars().count() <= MAX_SLUG_CHARS);
        let one_word = slug(&"x".repeat(100));
        assert_eq!(one_word.len(), MAX_SLUG_CHARS);
    }

    #[test]
    fn names_fall_back_to_the_host() {
        assert_eq!(
            feed_name(Some("Tech Crunch"), "https://x.org/"),
            "tech-crunch"
        );
        assert_eq!(
            feed_name(Some(" "), "https://www.example.org/feed"),
            "example-org"
        );
        assert_eq!(feed_name(None, "not a url"), "feed");
    }

    #[test]
    fn unique_names_get_a_number() {
        let taken = ["news", "news-2"];
        assert_eq!(unique_name("news", |n| taken.contains(&n)), "news-3");
        assert_eq!(unique_name("other", |n| taken.contains(&n)), "other");
    }

    #[test]
    fn feed_urls_are_made_fetchable() {
        assert_eq!(
            feed_url(" feed://example.org/rss ").as_deref(),
            Some("http://example.org/rss")
        );
        assert_eq!(
            feed_url("feed:https://example.org/Atom").as_deref(),
            Some("https://example.org/Atom")
        );
        assert_eq!(
            feed_url("HTTPS://Example.org/a b").as_deref(),
            Some("https://example.org/a%20b")
        );
        assert_eq!(
            feed_url("https://x.org/f?key=${KEY}").as_deref(),
            Some("https://x.org/f?key=${KEY}")
        );
        assert_eq!(feed_url("javascript:alert(1)"), None);
        assert_eq!(feed_url("/relative/rss"), None);
        assert_eq!(feed_url("mailto:a@b.org"), None);
    }

    #[test]
    fn url_keys_ignore_scheme_case_fragment_and_trailing_slash() {
        assert_eq!(
            url_key("http://Example.org/feed/#x"),
            url_key("https://example.org/feed")
        );
        assert_ne!(
            url_key("https://example.org/feed?lang=en"),
            url_key("https://example.org/feed?lang=ru")
        );
        assert_ne!(
            url_key("https://example.org:8080/feed"),
            url_key("https://example.org/feed")
        );
    }
}
