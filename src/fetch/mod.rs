//! HTTP for feeds and article pages: connect, idle (read) and total timeouts; redirects followed
//! by hand so every hop is checked (hop limit, loop detection, the SSRF guard for untrusted
//! links, permanent moves noticed); conditional GET (ETag / Last-Modified); a cap on the body
//! counted after decompression; and the server's caching and back-off hints (Cache-Control,
//! Expires, Retry-After) handed to the scheduler. A hostile or broken server costs one request
//! an error, never the daemon's memory. Webhook delivery has its own client (`alerts::outbox`).

pub mod guard;
pub mod politeness;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{
    CACHE_CONTROL, CONTENT_LOCATION, CONTENT_TYPE, ETAG, EXPIRES, HeaderMap, IF_MODIFIED_SINCE,
    IF_NONE_MATCH, LAST_MODIFIED, LOCATION, RETRY_AFTER,
};
use reqwest::{StatusCode, redirect};
use url::{Host, Url};

use crate::config::Daemon;
pub use guard::{AddressGuard, InvalidCidr};

/// Validators remembered from the last successful fetch of a feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Whom a request's addresses are trusted for. The operator vouches for the hosts of the
/// URLs they configure (feeds) or type (CLI sources); every other host reached — a link found
/// in a feed, a redirect to another host, a feed's stored new location on another host — is
/// untrusted and must pass the SSRF guard on every hop, every time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Requests to this host (as the URL spells it) are not guarded; all others are.
    Host(String),
    Untrusted,
}

impl Trust {
    /// Trust for the host of a URL the operator gave.
    pub fn operator(url: &Url) -> Self {
        url.host_str()
            .map_or(Trust::Untrusted, |host| Trust::Host(host.to_string()))
    }

    fn guards(&self, url: &Url) -> bool {
        match self {
            Trust::Host(host) => url.host_str() != Some(host.as_str()),
            Trust::Untrusted => true,
        }
    }
}

/// What a request is for: it decides the `Accept` header and which bodies are wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Feed,
    /// An article page: a response that is not HTML (a PDF, an image, a video, an archive)
    /// is refused with [`FetchError::NotAnArticle`] before its body is read, or as soon as its
    /// first bytes show it.
    Page,
}

impl Want {
    fn accept(self) -> &'static str {
        match self {
            Want::Feed => {
                "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
            }
            Want::Page => "text/html, application/xhtml+xml;q=0.9, */*;q=0.5",
        }
    }
}

/// A successful response, its body already read within the size cap.
#[derive(Debug)]
pub struct Fetched {
    pub final_url: Url,
    /// What relative references in the body resolve against: the response's
    /// Content-Location, else the final URL.
    pub base_url: Url,
    /// Set when every redirect on the way was permanent (301/308): the resource has moved.
    pub moved_permanently: Option<Url>,
    pub content_type: Option<String>,
    pub validators: Validators,
    /// How long the server says the response stays fresh (Cache-Control max-age, Expires).
    pub fresh_for: Option<Duration>,
    /// WebSub discovery from the `Link` headers: the hubs, and the topic URL (`rel="self"`).
    pub links: HubLinks,
    pub body: Vec<u8>,
}

/// What `Link: <…>; rel="hub"` and `rel="self"` headers say (RFC 8288, as WebSub §4 reads them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubLinks {
    pub hubs: Vec<Url>,
    pub self_url: Option<Url>,
}

impl HubLinks {
    /// Reads every `Link` header; targets resolve against `base`, and only http(s) ones count.
    pub fn from_headers(headers: &HeaderMap, base: &Url) -> Self {
        let mut links = Self::default();
        for value in headers.get_all(reqwest::header::LINK) {
            let Ok(value) = value.to_str() else { continue };
            for (target, rels) in link_values(value) {
                let Some(url) = base
                    .join(target)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                else {
                    continue;
                };
                for rel in rels.split_ascii_whitespace() {
                    if rel.eq_ignore_ascii_case("hub") && links.hubs.len() < crate::feeds::MAX_HUBS
                    {
                        links.hubs.push(url.clone());
                    } else if rel.eq_ignore_ascii_case("self") && links.self_url.is_none() {
                        links.self_url = Some(url.clone());
                    }
                }
            }
        }
        links
    }
}

/// The `(target, rel)` pairs of one `Link` header value: `<uri>; rel="a b"; x=y, <uri2>; …`.
/// Commas inside `<…>` or quotes do not split links; a link without `rel` has an empty one.
fn link_values(value: &str) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let target = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        // Parameters run to the next comma outside quotes.
        let mut quoted = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    quoted = !quoted;
                }
                c == ',' && !quoted
            })
            .map_or(rest.len(), |(i, _)| i);
        let params = &rest[..end];
        rest = &rest[end..];
        let rel = params
            .split(';')
            .filter_map(|param| param.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("rel"))
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
            .unwrap_or_default();
        out.push((target.trim(), rel));
    }
    out
}

#[derive(Debug)]
pub enum FetchOutcome {
    /// 304: unchanged since the validators were issued.
    NotModified {
        fresh_for: Option<Duration>,
    },
    Fetched(Box<Fetched>),
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("HTTP status {status}")]
    Status {
        status: StatusCode,
        /// The server's Retry-After (429, 503).
        retry_after: Option<Duration>,
    },
    #[error("response body exceeds the {0}-byte limit (max_body_bytes)")]
    TooLarge(u64),
    #[error("timed out")]
    Timeout,
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("redirect loop at {}", redacted(.0))]
    RedirectLoop(Url),
    #[error("not an article page ({0})")]
    NotAnArticle(String),
    #[error("not fetched: {0}")]
    Blocked(String),
    #[error("{0}")]
    Transport(String),
}

impl FetchError {
    /// 410 Gone: the resource was removed on purpose and polling it again is pointless.
    pub fn is_gone(&self) -> bool {
        matches!(self, FetchError::Status { status, .. } if *status == StatusCode::GONE)
    }

    /// A failure that may pass by itself: a timeout, a connection that failed, 429 or a 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Timeout | FetchError::Transport(_) => true,
            FetchError::Status { status, .. } => {
                *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
            }
            _ => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl From<reqwest::Error> for FetchError {
    fn from(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            return FetchError::Timeout;
        }
        FetchError::Transport(describe(err))
    }
}

/// A reqwest error with its causes ("error sending request" alone says nothing) and without
/// its URL: URLs may carry credentials, and these messages are logged and stored.
pub fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// A URL for logs and notices: without user info, query or fragment, which may hold tokens.
pub fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// The clients for feeds (trusted) and article pages (guarded).
#[derive(Clone)]
pub struct Fetcher {
    feeds: reqwest::Client,
    articles: reqwest::Client,
    guard: Arc<AddressGuard>,
    max_body_bytes: u64,
    total_timeout: Duration,
}

/// Redirect hops followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum FetcherError {
    #[error(transparent)]
    Guard(#[from] InvalidCidr),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl Fetcher {
    pub fn new(daemon: &Daemon) -> Result<Self, FetcherError> {
        let guard = Arc::new(AddressGuard::new(&daemon.allow_private)?);
        let builder = || {
            reqwest::Client::builder()
                .user_agent(daemon.user_agent.clone())
                .connect_timeout(daemon.connect_timeout)
                .read_timeout(daemon.read_timeout)
                .timeout(daemon.fetch_timeout)
                // Followed by hand, so each hop can be checked.
                .redirect(redirect::Policy::none())
                // A proxy would resolve and connect for us, past the SSRF guard.
                .no_proxy()
                .pool_idle_timeout(Duration::from_secs(90))
        };
        Ok(Self {
            feeds: builder().build()?,
            articles: builder()
                .dns_resolver(Arc::new(guard::GuardedResolver {
                    guard: guard.clone(),
                }))
                .build()?,
            guard,
            max_body_bytes: daemon.max_body_bytes,
            total_timeout: daemon.fetch_timeout,
        })
    }

    /// GETs `url`, following redirects and sending the validators so an unchanged resource
    /// answers 304. The whole exchange, redirects and body included, is bounded by the fetch
    /// timeout.
    pub async fn get(
        &self,
        url: &Url,
        validators: &Validators,
        trust: &Trust,
        want: Want,
    ) -> Result<FetchOutcome, FetchError> {
        tokio::time::timeout(
            self.total_timeout,
            self.get_inner(url, validators, trust, want),
        )
        .await
        .unwrap_or(Err(FetchError::Timeout))
    }

    async fn get_inner(
        &self,
        url: &Url,
        validators: &Validators,
        trust: &Trust,
        want: Want,
    ) -> Result<FetchOutcome, FetchError> {
        let mut current = url.clone();
        let mut visited = HashSet::from([current.clone()]);
        let mut all_permanent = true;
        let mut hops = 0;
        loop {
            let client = if trust.guards(&current) {
                self.check_literal_host(&current)?;
                &self.articles
            } else {
                &self.feeds
            };
            let mut request = client
                .get(current.clone())
                .header(reqwest::header::ACCEPT, want.accept());
            if let Some(etag) = &validators.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(last_modified) = &validators.last_modified {
                request = request.header(IF_MODIFIED_SINCE, last_modified);
            }
            let response = request.send().await?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let next = redirect_target(&current, response.headers())?;
                hops += 1;
                if hops > MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects(MAX_REDIRECTS));
                }
                if !visited.insert(next.clone()) {
                    return Err(FetchError::RedirectLoop(next));
                }
                all_permanent &= matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                );
                current = next;
                continue;
            }
            let now = Utc::now();
            if status == StatusCode::NOT_MODIFIED {
                return Ok(FetchOutcome::NotModified {
                    fresh_for: fresh_for(response.headers(), now),
                });
            }
            if !status.is_success() {
                return Err(FetchError::Status {
                    status,
                    retry_after: retry_after(response.headers(), now),
                });
            }
            let headers = response.headers().clone();
            let content_type = header(&headers, CONTENT_TYPE);
            if want == Want::Page
                && let Some(kind) = content_type.as_deref().and_then(not_a_page_type)
            {
                return Err(FetchError::NotAnArticle(kind.to_string()));
            }
            let body = self.read_body(response).await?;
            if want == Want::Page
                && let Some(kind) = sniff_binary(&body)
            {
                return Err(FetchError::NotAnArticle(kind.to_string()));
            }
            let base_url = header(&headers, CONTENT_LOCATION)
                .and_then(|location| current.join(location.trim()).ok())
                .filter(|base| matches!(base.scheme(), "http" | "https"))
                .unwrap_or_else(|| current.clone());
            let links = HubLinks::from_headers(&headers, &current);
            return Ok(FetchOutcome::Fetched(Box::new(Fetched {
                moved_permanently: (hops > 0 && all_permanent).then(|| current.clone()),
                base_url,
                final_url: current,
                content_type,
                validators: Validators {
                    etag: header(&headers, ETAG),
                    last_modified: header(&headers, LAST_MODIFIED),
                },
                fresh_for: fresh_for(&headers, now),
                links,
                body,
            })));
        }
    }

    /// POSTs a form to `url` (a WebSub hub: found in a feed, so untrusted unless on a host
    /// `trust` vouches for) without following redirects, within the fetch timeout. Returns
    /// the status and at most the first 1 KiB of the body, for the log when it is an error.
    pub async fn post_form(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        trust: &Trust,
    ) -> Result<(StatusCode, String), FetchError> {
        let client = if trust.guards(url) {
            self.check_literal_host(url)?;
            &self.articles
        } else {
            &self.feeds
        };
        let exchange = async {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            let mut response = client
                .post(url.clone())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await?;
            let status = response.status();
            let mut body = Vec::new();
            while body.len() < 1024
                && let Some(chunk) = response.chunk().await?
            {
                body.extend_from_slice(&chunk);
            }
            body.truncate(1024);
            Ok((status, String::from_utf8_lossy(&body).into_owned()))
        };
        tokio::time::timeout(self.total_timeout, exchange)
            .await
            .unwrap_or(Err(FetchError::Timeout))
    }

    /// Literal-IP hosts never reach the guarded resolver, so they are checked here.
    fn check_literal_host(&self, url: &Url) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Blocked(format!(
                "scheme `{}` is not fetched",
                url.scheme()
            )));
        }
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        if self.guard.permits(ip) {
            Ok(())
        } else {
            Err(FetchError::Blocked(format!(
                "{ip} is not a public address (see allow_private)"
            )))
        }
    }

    /// Reads the body, stopping at the cap. Counted after decompression, so a small gzip bomb
    /// is stopped at the cap too.
    async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
        if response
            .content_length()
            .is_some_and(|len| len > self.max_body_bytes)
        {
            return Err(FetchError::TooLarge(self.max_body_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() as u64 + chunk.len() as u64 > self.max_body_bytes {
                return Err(FetchError::TooLarge(self.max_body_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The media type of a `Content-Type` that can never be an article page, if it is one.
/// Unknown and generic types (`application/octet-stream`, `text/plain`) pass: servers use them
/// for HTML too, and the body's first bytes decide ([`sniff_binary`]).
fn not_a_page_type(content_type: &str) -> Option<&str> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let lower = media.to_ascii_lowercase();
    let (kind, subtype) = lower.split_once('/').unwrap_or((lower.as_str(), ""));
    let binary_application = [
        "pdf",
        "zip",
        "gzip",
        "x-gzip",
        "x-tar",
        "x-7z-compressed",
        "x-rar-compressed",
        "vnd.rar",
        "msword",
        "epub+zip",
        "x-shockwave-flash",
        "wasm",
        "java-archive",
        "x-msdownload",
        "vnd.android.package-archive",
        "ogg",
        "x-mpegurl",
        "vnd.apple.mpegurl",
        "dash+xml",
    ];
    let not_page = matches!(kind, "image" | "video" | "audio" | "font" | "model")
        || (kind == "application"
            && (binary_application.contains(&subtype)
                || subtype.starts_with("vnd.openxmlformats")
                || subtype.starts_with("vnd.ms-")
                || subtype.starts_with("vnd.oasis.opendocument")));
    not_page.then_some(media)
}

/// What the body's first bytes say it is, when that is a binary format rather than a page:
/// the magic numbers of the formats article links most often lead to instead of HTML.
fn sniff_binary(body: &[u8]) -> Option<&'static str> {
    let signatures: [(&[u8], &str); 14] = [
        (b"%PDF-", "a PDF document"),
        (b"\x89PNG\r\n\x1a\n", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF87a", "a GIF image"),
        (b"GIF89a", "a GIF image"),
        (b"PK\x03\x04", "a ZIP archive or office document"),
        (b"\x1f\x8b", "gzip data"),
        (b"\x1a\x45\xdf\xa3", "a Matroska/WebM video"),
        (b"OggS", "an Ogg media file"),
        (b"ID3", "an MP3 audio file"),
        (b"fLaC", "a FLAC audio file"),
        (b"Rar!", "a RAR archive"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
        (b"\xd0\xcf\x11\xe0", "an old office document"),
    ];
    if let Some((_, kind)) = signatures.iter().find(|(magic, _)| body.starts_with(magic)) {
        return Some(kind);
    }
    // RIFF containers (WebP, AVI, WAV) and ISO media (MP4, MOV, AVIF, HEIC) carry their type
    // a few bytes in.
    if body.starts_with(b"RIFF") && body.len() >= 12 {
        return Some("a RIFF media file (WebP, AVI or WAV)");
    }
    if body.get(4..8) == Some(b"ftyp") {
        return Some("an MP4/QuickTime media file");
    }
    None
}

fn redirect_target(from: &Url, headers: &HeaderMap) -> Result<Url, FetchError> {
    let location = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| FetchError::Transport("redirect without a usable Location header".into()))?;
    let next = from
        .join(location)
        .map_err(|e| FetchError::Transport(format!("bad redirect Location `{location}`: {e}")))?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(FetchError::Blocked(format!(
            "redirect to scheme `{}`",
            next.scheme()
        )));
    }
    Ok(next)
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Freshness from Cache-Control max-age (preferred) or Expires; `no-cache`/`no-store` give none.
pub fn fresh_for(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    if let Some(cache_control) = headers.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()) {
        let directives: Vec<&str> = cache_control.split(',').map(str::trim).collect();
        if directives
            .iter()
            .any(|d| d.eq_ignore_ascii_case("no-cache") || d.eq_ignore_ascii_case("no-store"))
        {
            return None;
        }
        if let Some(age) = directives.iter().find_map(|d| {
            let (name, value) = d.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| value.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        }) {
            return Some(Duration::from_secs(age));
        }
    }
    let expires = headers.get(EXPIRES)?.to_str().ok()?;
    let at = DateTime::parse_from_rfc2822(expires)
        .ok()?
        .with_timezone(&Utc);
    (at - now).to_std().ok()
}

/// Retry-After as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(reqwest::header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), value.parse().unwrap());
        }
        map
    }

    #[test]
    fn redaction_drops_credentials_and_queries() {
        let url = Url::parse("https://user:pw@feeds.example/rss?token=abc#x").unwrap();
        assert_eq!(redacted(&url), "https://feeds.example/rss");
    }

    #[test]
    fn freshness_prefers_max_age_and_respects_no_cache() {
        let now = Utc::now();
        assert_eq!(
            fresh_for(&headers(&[(CACHE_CONTROL, "public, max-age=600")]), now),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            fresh_for(&headers(&[(CACHE_CONTROL, "no-cache, max-age=600")]), now),
            None
        );
        let expires = (now + chrono::Duration::seconds(120)).to_rfc2822();
        let fresh = fresh_for(&headers(&[(EXPIRES, &expires)]), now)
            .unwrap()
            .as_secs();
        assert!((119..=120).contains(&fresh));
        assert_eq!(fresh_for(&headers(&[(EXPIRES, "0")]), now), None);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = Utc::now();
        assert_eq!(
            retry_after(&headers(&[(RETRY_AFTER, "7")]), now),
            Some(Duration::from_secs(7))
        );
        let later = (now + chrono::Duration::seconds(90)).to_rfc2822();
        let wait = retry_after(&headers(&[(RETRY_AFTER, &later)]), now)
            .unwrap()
            .as_secs();
        assert!((89..=90).contains(&wait));
        assert_eq!(retry_after(&headers(&[(RETRY_AFTER, "soon")]), now), None);
    }

    #[test]
    fn only_the_operators_host_is_trusted() {
        let feed = Url::parse("https://feeds.example/rss").unwrap();
        let trust = Trust::operator(&feed);
        assert!(!trust.guards(&Url::parse("https://feeds.example/moved").unwrap()));
        assert!(trust.guards(&Url::parse("https://elsewhere.example/rss").unwrap()));
        assert!(Trust::Untrusted.guards(&feed));
    }

    #[test]
    fn binary_types_and_bodies_are_not_article_pages() {
        for content_type in [
            "application/pdf",
            "image/png",
            "video/mp4; codecs=avc1",
            "audio/mpeg",
            "application/zip",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ] {
            assert!(not_a_page_type(content_type).is_some(), "{content_type}");
        }
        for content_type in [
            "text/html; charset=utf-8",
            "application/xhtml+xml",
            "application/octet-stream",
            "text/plain",
            "",
        ] {
            assert!(not_a_page_type(content_type).is_none(), "{content_type}");
        }
        assert_eq!(sniff_binary(b"%PDF-1.7\n..."), Some("a PDF document"));
        assert_eq!(
            sniff_binary(b"\0\0\0\x18ftypmp42"),
            Some("an MP4/QuickTime media file")
        );
        assert_eq!(sniff_binary(b"<!doctype html><p>x"), None);
        assert_eq!(sniff_binary(b""), None);
    }

    #[test]
    fn hub_and_self_links_are_read_from_link_headers() {
        let base = Url::parse("https://news.example/feed").unwrap();
        let mut map = HeaderMap::new();
        for value in [
            r#"<https://hub.example/>; rel="hub", </feed?a,b>; rel="self alternate"; title="x, y""#,
            "<https://hub2.example/>; REL=hub",
            "<javascript:alert(1)>; rel=hub",
            "<https://other.example/>; rel=next",
        ] {
            map.append(reqwest::header::LINK, value.parse().unwrap());
        }
        let links = HubLinks::from_headers(&map, &base);
        let hubs: Vec<&str> = links.hubs.iter().map(Url::as_str).collect();
        assert_eq!(hubs, ["https://hub.example/", "https://hub2.example/"]);
        assert_eq!(
            links.self_url.as_ref().map(Url::as_str),
            Some("https://news.example/feed?a,b")
        );
        assert_eq!(
            HubLinks::from_headers(&HeaderMap::new(), &base),
            HubLinks::default()
        );
    }
}
