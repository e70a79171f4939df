//! HTTP for feeds and article pages: one shared client with connect, read and total timeouts,
//! a redirect limit, conditional GET (ETag / Last-Modified) and a cap on the decompressed body
//! size, so a hostile or broken server costs one request an error, never the daemon's memory.
//! Webhook delivery uses its own client (see `alerts::outbox`): it must not follow redirects.

use std::time::Duration;

use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::{StatusCode, redirect};
use url::Url;

use crate::config::Daemon;

/// Validators remembered from the last successful fetch of a feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A successful response, its body already read within the size cap.
#[derive(Debug)]
pub struct Fetched {
    pub final_url: Url,
    pub content_type: Option<String>,
    pub validators: Validators,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub enum FetchOutcome {
    /// 304: the feed has not changed since the validators were issued.
    NotModified,
    Fetched(Fetched),
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("HTTP status {0}")]
    Status(StatusCode),
    #[error("response body exceeds the {0}-byte limit (max_body_bytes)")]
    TooLarge(u64),
    #[error("timed out")]
    Timeout,
    #[error("too many redirects")]
    TooManyRedirects,
    #[error("{0}")]
    Transport(String),
}

impl From<reqwest::Error> for FetchError {
    fn from(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            FetchError::Timeout
        } else if err.is_redirect() {
            FetchError::TooManyRedirects
        } else {
            // reqwest's Display hides the cause ("error sending request"); the chain says why.
            let mut message = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            FetchError::Transport(message)
        }
    }
}

/// The client used for feeds and article pages.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_body_bytes: u64,
}

const MAX_REDIRECTS: usize = 5;

impl Fetcher {
    pub fn new(daemon: &Daemon) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(daemon.user_agent.clone())
            .connect_timeout(daemon.connect_timeout)
            .read_timeout(daemon.read_timeout)
            .timeout(daemon.fetch_timeout)
            .redirect(redirect::Policy::limited(MAX_REDIRECTS))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()?;
        Ok(Self {
            client,
            max_body_bytes: daemon.max_body_bytes,
        })
    }

    /// GETs `url`, sending the validators so an unchanged feed answers 304.
    pub async fn get(
        &self,
        url: &Url,
        validators: &Validators,
    ) -> Result<FetchOutcome, FetchError> {
        let mut request = self.client.get(url.clone());
        if let Some(etag) = &validators.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(last_modified) = &validators.last_modified {
            request = request.header(IF_MODIFIED_SINCE, last_modified);
        }
        let mut response = request.send().await?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::Status(status));
        }
        let headers = response.headers().clone();
        let final_url = response.url().clone();
        if response
            .content_length()
            .is_some_and(|len| len > self.max_body_bytes)
        {
            return Err(FetchError::TooLarge(self.max_body_bytes));
        }
        // Counted after decompression, so a small gzip bomb is stopped at the cap too.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() as u64 + chunk.len() as u64 > self.max_body_bytes {
                return Err(FetchError::TooLarge(self.max_body_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Fetched(Fetched {
            final_url,
            content_type: header(&headers, CONTENT_TYPE),
            validators: Validators {
                etag: header(&headers, ETAG),
                last_modified: header(&headers, LAST_MODIFIED),
            },
            body,
        }))
    }
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
