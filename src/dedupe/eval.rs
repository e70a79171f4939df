//! Measures the duplicate detector on pairs built from a set of real article pages (the
//! extraction dev set: `DIR/<id>/page.html`, `truth.txt`, `meta.json` with the page's URL).
//!
//! Positive pairs: a page as extracted from its own site, against the same story as a second
//! outlet would run it — its true text, lightly edited (a new headline, an agency credit, a
//! paragraph dropped or added, in turn), put in another site's template and extracted again.
//! Negative pairs: every two different pages, among them every two pages of one site, whose
//! texts share that site's furniture if extraction leaves any. A pair counts as found when the
//! two fingerprints share a band and reach [`DUPLICATE_SIMILARITY`], exactly as the daemon
//! decides.
//!
//! The pages are split into two halves by their id; the threshold was chosen looking at half A
//! only, so half B's figures are the honest ones. Reads files; everything else is pure.

use std::path::Path;

use super::{DUPLICATE_SIMILARITY, Fingerprint};
use crate::extract;

/// Figures for one half of the pages.
#[derive(Debug, Clone, Default)]
pub struct HalfReport {
    pub pages: usize,
    /// Pages too short to fingerprint (left out of the pairs).
    pub unfingerprinted: usize,
    pub positives: usize,
    pub found: usize,
    pub negatives: usize,
    pub false_positives: usize,
    pub same_site_negatives: usize,
    pub same_site_false_positives: usize,
    /// Similarities of the positive pairs, and the highest of any negative pair.
    pub lowest_positive: f64,
    pub highest_negative: f64,
}

impl HalfReport {
    pub fn precision(&self) -> f64 {
        let flagged = self.found + self.false_positives;
        if flagged == 0 {
            1.0
        } else {
            self.found as f64 / flagged as f64
        }
    }

    pub fn recall(&self) -> f64 {
        if self.positives == 0 {
            1.0
        } else {
            self.found as f64 / self.positives as f64
        }
    }
}

/// One page with its two versions.
struct Page {
    id: String,
    site: String,
    original: Option<Fingerprint>,
    copy: Option<Fingerprint>,
}

/// The half a page belongs to: 'A' or 'B', by the first hex digit of its id.
fn half(id: &str) -> char {
    let digit = id.chars().next().and_then(|c| c.to_digit(16)).unwrap_or(0);
    if digit.is_multiple_of(2) { 'A' } else { 'B' }
}

/// The story as a second outlet runs it: edit `index % 4` of four, in another template.
fn second_outlet(truth: &str, title: &str, index: usize) -> String {
    let mut paragraphs: Vec<String> = truth
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let headline = match index % 4 {
        0 => format!("What we know: {title}"),
        _ => title.to_string(),
    };
    match index % 4 {
        1 if !paragraphs.is_empty() => paragraphs[0] = format!("(AP) — {}", paragraphs[0]),
        2 if paragraphs.len() > 2 => {
            paragraphs.remove(paragraphs.len() / 2);
        }
        3 => paragraphs.push(
            "This story has been updated with comment from officials and will be updated again as more becomes known."
                .to_string(),
        ),
        _ => {}
    }
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>\n", escape(p)))
        .collect();
    format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title} — The Daily Courier</title></head>
<body><div id="top"><a href="/">The Daily Courier</a>
<ul class="menu"><li><a href="/local">Local</a></li><li><a href="/nation">Nation</a></li><li><a href="/world">World</a></li><li><a href="/sports">Sports</a></li><li><a href="/opinion">Opinion</a></li></ul></div>
<div class="wrap"><div class="content"><h1>{title}</h1><p class="meta">Staff and wire reports</p>
{body}</div>
<div class="rail"><h3>Trending</h3><ul><li><a href="/a">City council approves budget</a></li><li><a href="/b">High school team wins title</a></li><li><a href="/c">Weather: storm expected tonight</a></li></ul></div></div>
<div class="promo">Get breaking news alerts on your phone. <a href="/app">Download our app</a></div>
<footer>© The Daily Courier. All rights reserved. <a href="/privacy">Privacy</a> <a href="/terms">Terms</a></footer></body></html>"#,
        title = escape(&headline),
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn fingerprint_of_page(html: &[u8], url: Option<&str>) -> Option<Fingerprint> {
    extract::extract(html, url, None)
        .ok()
        .and_then(|article| Fingerprint::of(&article.text))
}

/// Whether the daemon would take the two for one story.
fn found(a: &Fingerprint, b: &Fingerprint) -> bool {
    let (ka, kb) = (a.band_keys(), b.band_keys());
    ka.iter().zip(kb.iter()).any(|(x, y)| x == y) && a.similarity(b) >= DUPLICATE_SIMILARITY
}

/// Reads the pages under `dir` and measures both halves.
pub fn evaluate_dir(dir: &Path) -> std::io::Result<[HalfReport; 2]> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.path().join("page.html").is_file())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    let mut pages = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let path = entry.path();
        let id = entry.file_name().to_string_lossy().to_string();
        let html = std::fs::read(path.join("page.html"))?;
        let truth = std::fs::read_to_string(path.join("truth.txt")).unwrap_or_default();
        let meta: serde_json::Value = std::fs::read_to_string(path.join("meta.json"))
            .ok()
            .and_then(|m| serde_json::from_str(&m).ok())
            .unwrap_or_default();
        let url = meta["url"].as_str().map(str::to_string);
        let site = url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let title = meta["title_tag"]
            .as_str()
            .unwrap_or("A news story")
            .to_string();
        let copy_html = second_outlet(&truth, &title, index);
        pages.push(Page {
            original: fingerprint_of_page(&html, url.as_deref()),
            copy: fingerprint_of_page(copy_html.as_bytes(), Some("https://courier.example/story")),
            id,
            site,
        });
    }
    let mut reports = [HalfReport::default(), HalfReport::default()];
    for (slot, name) in reports.iter_mut().zip(['A', 'B']) {
        let members: Vec<&Page> = pages.iter().filter(|p| half(&p.id) == name).collect();
        slot.pages = members.len();
        slot.lowest_positive = 1.0;
        let usable: Vec<&Page> = members
            .iter()
            .copied()
            .filter(|p| p.original.is_some() && p.copy.is_some())
            .collect();
        slot.unfingerprinted = members.len() - usable.len();
        for page in &usable {
            let (Some(a), Some(b)) = (&page.original, &page.copy) else {
                continue;
            };
            slot.positives += 1;
            slot.lowest_positive = slot.lowest_positive.min(a.similarity(b));
            if found(a, b) {
                slot.found += 1;
            }
        }
        for (i, first) in usable.iter().enumerate() {
            for second in &usable[i + 1..] {
                let (Some(a), Some(b)) = (&first.original, &second.original) else {
                    continue;
                };
                let same_site = !first.site.is_empty() && first.site == second.site;
                slot.negatives += 1;
                slot.same_site_negatives += usize::from(same_site);
                slot.highest_negative = slot.highest_negative.max(a.similarity(b));
                if found(a, b) {
                    slot.false_positives += 1;
                    slot.same_site_false_positives += usize::from(same_site);
                }
            }
        }
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_edit_keeps_the_story_and_changes_the_page() {
        let truth = "First paragraph of the story.\n\nSecond paragraph.\n\nThird paragraph.";
        let pages: Vec<String> = (0..4).map(|i| second_outlet(truth, "Title", i)).collect();
        assert!(pages[0].contains("What we know: Title"));
        assert!(pages[1].contains("(AP) — First paragraph"));
        assert!(!pages[2].contains("Second paragraph"));
        assert!(pages[3].contains("This story has been updated"));
        assert!(pages.iter().all(|p| p.contains("The Daily Courier")));
    }

    #[test]
    fn halves_split_by_the_id() {
        assert_eq!(half("0abc"), 'A');
        assert_eq!(half("1abc"), 'B');
        assert_eq!(half("fabc"), 'B');
    }
}
