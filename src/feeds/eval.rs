//! The feed reader measured on a corpus: a directory with one feed per file and its
//! expectations beside it (`NAME.xml` + `NAME.expected.json`). Shared by `feedwatch eval feeds`
//! and the corpus integration test, so the figures users see and the test that guards them
//! come from one function. The only part of `feeds` that reads files; it must never change what
//! the reader does.
//!
//! An expectation file holds any of: `parses` (default true), `base` and `content_type` (what
//! the fetcher would pass), `error_contains`, `title`, `link`, `update_hint_secs`,
//! `item_count`, and `items`: a list whose entries may give `title`, `summary`, `link`,
//! `published` (RFC 3339, or null), `authors`, `key`, `content` and `content_contains`. Only
//! what is given is checked.

use std::path::Path;

use serde_json::Value;

use super::{FeedItem, ParsedFeed, parse_fetched};

/// One disagreement between the reader and an expectation.
#[derive(Debug, Clone)]
pub struct Mismatch {
    pub file: String,
    pub field: String,
    pub expected: String,
    pub got: String,
}

/// Right and total for one kind of expectation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    pub right: usize,
    pub total: usize,
}

impl Tally {
    fn add(&mut self, right: bool) {
        self.total += 1;
        self.right += usize::from(right);
    }

    /// Percentage right; 100 when there was nothing to check.
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            100.0 * self.right as f64 / self.total as f64
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub files: usize,
    /// Files expected to parse that did.
    pub parsed: Tally,
    /// Files expected to be rejected that were.
    pub rejected: Tally,
    /// Feed and item titles.
    pub titles: Tally,
    pub summaries: Tally,
    /// Every other expectation (links, dates, authors, keys, counts, content).
    pub other: Tally,
    pub mismatches: Vec<Mismatch>,
}

/// Runs the reader over every feed of `dir` that has an expectation beside it.
pub fn evaluate_dir(dir: &Path) -> std::io::Result<Report> {
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.ends_with(".expected.json") && !n.starts_with('.'))
        })
        .collect();
    names.sort();
    let mut report = Report::default();
    for path in names {
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let expected_path = dir.join(format!("{stem}.expected.json"));
        let expected = match std::fs::read(&expected_path) {
            Ok(bytes) => serde_json::from_slice::<Value>(&bytes).map_err(|err| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {err}", expected_path.display()),
                )
            })?,
            Err(_) => {
                report.mismatches.push(Mismatch {
                    file,
                    field: "expectation".into(),
                    expected: format!("{stem}.expected.json"),
                    got: "missing".into(),
                });
                continue;
            }
        };
        let bytes = std::fs::read(&path)?;
        evaluate_case(&file, &bytes, &expected, &mut report);
    }
    Ok(report)
}

/// Checks one feed against its expectation, adding to `report`.
pub fn evaluate_case(file: &str, bytes: &[u8], expected: &Value, report: &mut Report) {
    report.files += 1;
    let get = |key: &str| expected.get(key);
    let should_parse = get("parses").and_then(Value::as_bool).unwrap_or(true);
    let result = parse_fetched(
        bytes,
        get("content_type").and_then(Value::as_str),
        get("base").and_then(Value::as_str),
    );
    let mut check = Checker { file, report };
    let feed = match (should_parse, result) {
        (true, Ok(feed)) => {
            check.report.parsed.add(true);
            feed
        }
        (true, Err(err)) => {
            check.report.parsed.add(false);
            check.mismatch("parses", "a feed", &err.to_string());
            return;
        }
        (false, Ok(feed)) => {
            check.report.rejected.add(false);
            check.mismatch("parses", "an error", &format!("{} items", feed.items.len()));
            return;
        }
        (false, Err(err)) => {
            check.report.rejected.add(true);
            if let Some(want) = get("error_contains").and_then(Value::as_str) {
                let got = err.to_string();
                check.other("error", &Value::from(want), got.contains(want), &got);
            }
            return;
        }
    };
    check.feed(expected, &feed);
}

struct Checker<'r> {
    file: &'r str,
    report: &'r mut Report,
}

impl Checker<'_> {
    fn mismatch(&mut self, field: &str, expected: &str, got: &str) {
        self.report.mismatches.push(Mismatch {
            file: self.file.to_string(),
            field: field.to_string(),
            expected: expected.to_string(),
            got: got.to_string(),
        });
    }

    fn tally(&mut self, kind: Kind, field: &str, expected: &Value, got: Option<&str>) {
        let right = match (expected, got) {
            (Value::Null, None) => true,
            (Value::String(want), Some(got)) => want == got,
            _ => false,
        };
        match kind {
            Kind::Title => self.report.titles.add(right),
            Kind::Summary => self.report.summaries.add(right),
            Kind::Other => self.report.other.add(right),
        }
        if !right {
            self.mismatch(field, &show(expected), got.unwrap_or("null"));
        }
    }

    fn other(&mut self, field: &str, expected: &Value, right: bool, got: &str) {
        self.report.other.add(right);
        if !right {
            self.mismatch(field, &show(expected), got);
        }
    }

    fn feed(&mut self, expected: &Value, feed: &ParsedFeed) {
        if let Some(want) = expected.get("title") {
            self.tally(Kind::Title, "title", want, feed.title.as_deref());
        }
        if let Some(want) = expected.get("link") {
            self.tally(Kind::Other, "link", want, feed.link.as_deref());
        }
        if let Some(want) = expected.get("update_hint_secs") {
            let got = feed.update_hint.map(|d| d.as_secs());
            let right = want.as_u64() == got || (want.is_null() && got.is_none());
            self.other("update_hint_secs", want, right, &format!("{got:?}"));
        }
        if let Some(want) = expected.get("item_count") {
            let right = want.as_u64() == Some(feed.items.len() as u64);
            self.other("item_count", want, right, &feed.items.len().to_string());
        }
        let Some(items) = expected.get("items").and_then(Value::as_array) else {
            return;
        };
        for (at, want) in items.iter().enumerate() {
            match feed.items.get(at) {
                Some(item) => self.item(at, want, item),
                None => {
                    // Each expected field of a missing item is wrong.
                    for (key, value) in want.as_object().into_iter().flatten() {
                        let field = format!("items[{at}].{key}");
                        match key.as_str() {
                            "title" => self.report.titles.add(false),
                            "summary" => self.report.summaries.add(false),
                            _ => self.report.other.add(false),
                        }
                        self.mismatch(&field, &show(value), "no such item");
                    }
                }
            }
        }
    }

    fn item(&mut self, at: usize, want: &Value, item: &FeedItem) {
        let field = |key: &str| format!("items[{at}].{key}");
        if let Some(w) = want.get("title") {
            self.tally(Kind::Title, &field("title"), w, Some(item.title.as_str()));
        }
        if let Some(w) = want.get("summary") {
            self.tally(Kind::Summary, &field("summary"), w, item.summary.as_deref());
        }
        if let Some(w) = want.get("link") {
            self.tally(Kind::Other, &field("link"), w, item.link.as_deref());
        }
        if let Some(w) = want.get("key") {
            self.tally(Kind::Other, &field("key"), w, Some(item.key.as_str()));
        }
        if let Some(w) = want.get("content") {
            self.tally(Kind::Other, &field("content"), w, item.content.as_deref());
        }
        if let Some(w) = want.get("published") {
            let got = item
                .published
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
            let right = match (w.as_str(), item.published) {
                (Some(w), Some(published)) => {
                    chrono::DateTime::parse_from_rfc3339(w).is_ok_and(|w| w.to_utc() == published)
                }
                (None, None) => w.is_null(),
                _ => false,
            };
            self.other(
                &field("published"),
                w,
                right,
                got.as_deref().unwrap_or("null"),
            );
        }
        if let Some(w) = want.get("authors") {
            let got = Value::from(item.authors.clone());
            self.other(&field("authors"), w, *w == got, &got.to_string());
        }
        if let Some(w) = want.get("content_contains").and_then(Value::as_str) {
            let got = item.content.as_deref().unwrap_or("");
            let right = got.contains(w);
            let shown: String = got.chars().take(200).collect();
            self.other(&field("content_contains"), &Value::from(w), right, &shown);
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Title,
    Summary,
    Other,
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
