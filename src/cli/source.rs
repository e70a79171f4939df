//! The SOURCE argument of `test`, `extract` and `feeds parse`: a file, `-` for stdin, or a URL
//! fetched like a configured feed; and the article built from it.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::article::Article;
use crate::config;
use crate::extract;
use crate::feeds::FeedItem;
use crate::fetch::{FetchOutcome, Fetcher, Trust, Validators, Want};

/// Reads a SOURCE argument: `-` (stdin), an http(s) URL, or a file.
pub(super) async fn read_source(
    source: &str,
) -> anyhow::Result<(Vec<u8>, Option<String>, Option<String>)> {
    if source == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes)?;
        return Ok((bytes, None, None));
    }
    if source.starts_with("http://") || source.starts_with("https://") {
        let url = url::Url::parse(source).with_context(|| format!("invalid URL {source}"))?;
        let fetcher = Fetcher::new(&config::default_daemon())?;
        // A URL typed by the operator is trusted like a configured feed.
        return match fetcher
            .get(
                &url,
                &Validators::default(),
                &Trust::operator(&url),
                Want::Feed,
            )
            .await?
        {
            FetchOutcome::Fetched(page) => Ok((
                page.body,
                Some(page.final_url.to_string()),
                page.content_type,
            )),
            FetchOutcome::NotModified { .. } => bail!("{source}: unexpected 304 Not Modified"),
        };
    }
    let bytes = std::fs::read(source).with_context(|| format!("cannot read {source}"))?;
    Ok((bytes, None, None))
}

pub(super) fn looks_like_html(bytes: &[u8], content_type: Option<&str>) -> bool {
    if let Some(ct) = content_type {
        return ct.contains("html");
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).to_ascii_lowercase();
    head.contains("<html")
        || head.contains("<!doctype html")
        || head.contains("<body")
        || head.contains("<p>")
}

/// An article from a SOURCE: extracted from HTML, or from plain text whose first non-empty
/// line is the title.
pub(super) fn article_from_source(
    bytes: &[u8],
    url: Option<&str>,
    content_type: Option<&str>,
) -> anyhow::Result<Article> {
    let feed_url = url::Url::parse(url.unwrap_or("http://localhost/")).context("invalid URL")?;
    let feed = config::FeedSpec {
        name: "test".into(),
        shown_url: crate::fetch::redacted(&feed_url),
        url: feed_url,
        url_secrets: Vec::new(),
        interval: std::time::Duration::from_secs(600),
        full_text: true,
        tags: vec![],
        origin: config::Location {
            file: PathBuf::new(),
            line: 0,
            column: 0,
        },
    };
    if looks_like_html(bytes, content_type) {
        let page = extract::extract(bytes, url, content_type)?;
        let item = FeedItem {
            key: crate::feeds::ItemKey::from_stored(String::new()),
            title: page.title.clone(),
            link: url.map(str::to_string),
            summary: page.description.clone(),
            content: None,
            published: page.published,
            authors: page.authors.clone(),
        };
        Ok(Article::from_item(&feed, &item, Some(page)))
    } else {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_start();
        let (title, body) = text.split_once('\n').unwrap_or((text, ""));
        let item = FeedItem {
            key: crate::feeds::ItemKey::from_stored(String::new()),
            title: title.trim().to_string(),
            link: url.map(str::to_string),
            summary: None,
            content: Some(body.trim().to_string()),
            published: None,
            authors: vec![],
        };
        Ok(Article::from_item(&feed, &item, None))
    }
}
