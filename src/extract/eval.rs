//! Evaluation harness for the extractor: a pure token-F1 scorer that
//! reproduces `score_extraction.py` (NFKC, Python-`\w+` tokens,
//! case-sensitive, bag of tokens), plus a dataset runner that reads
//! `<id>/page.html` + `<id>/truth.txt` folders and times our extractor
//! against plain dom_smoothie in the same run.
//!
//! The scorer is pure. The runner is the one place in this module tree that
//! touches the file system and the clock: it is a measuring tool for the
//! CLI and examples, never called by the extraction core.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use super::{ExtractOptions, HostMemory, Stages, extract_with};

/// Python's `re` `\w` for `str` patterns is `ch.isalnum() or ch == '_'`,
/// and `isalnum` means general category L* or a numeric character (N*).
/// Marks (Mn/Mc) are *not* word characters there, unlike in Rust's `regex`,
/// so `char::is_alphanumeric` or `regex`'s `\w` would split scripts such as
/// Devanagari differently from the reference scorer.
fn is_word_char(c: char) -> bool {
    c == '_'
        || matches!(
            c.general_category_group(),
            GeneralCategoryGroup::Letter | GeneralCategoryGroup::Number
        )
}

/// Tokens exactly as the reference scorer sees them.
pub fn tokenize(text: &str) -> Vec<String> {
    let normalized: String = text.nfkc().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in normalized.chars() {
        if is_word_char(c) {
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Precision, recall and F1 of one prediction against its truth.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PairScore {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Bag-of-tokens F1 with the reference scorer's edge cases: both empty → 1,
/// either empty or no overlap → 0.
pub fn score_pair(truth: &str, pred: &str) -> PairScore {
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    let t = tokenize(truth);
    let p = tokenize(pred);
    let (n_true, n_pred) = (t.len(), p.len());
    for tok in t {
        counts.entry(tok).or_default().0 += 1;
    }
    for tok in p {
        counts.entry(tok).or_default().1 += 1;
    }
    let tp: usize = counts.values().map(|&(a, b)| a.min(b)).sum();
    if n_true == 0 && n_pred == 0 {
        return PairScore {
            precision: 1.0,
            recall: 1.0,
            f1: 1.0,
        };
    }
    if n_true == 0 || n_pred == 0 || tp == 0 {
        return PairScore::default();
    }
    let precision = tp as f64 / n_pred as f64;
    let recall = tp as f64 / n_true as f64;
    PairScore {
        precision,
        recall,
        f1: 2.0 * precision * recall / (precision + recall),
    }
}

/// One page of a dataset run.
#[derive(Debug, Clone)]
pub struct PageResult {
    pub id: String,
    /// Host taken from the extracted canonical URL (AEB has no page URLs).
    pub host: Option<String>,
    pub ours: PairScore,
    pub baseline: PairScore,
    pub ours_ms: f64,
    pub baseline_ms: f64,
    /// Our prediction, kept so callers can write it out for the script.
    pub prediction: String,
}

/// Aggregates of a dataset run.
#[derive(Debug, Clone, Default)]
pub struct EvalReport {
    pub pages: Vec<PageResult>,
    pub mean_f1: f64,
    pub baseline_mean_f1: f64,
    pub median_ms: f64,
    pub p90_ms: f64,
    pub baseline_median_ms: f64,
    pub baseline_p90_ms: f64,
}

/// Options of [`evaluate_dir`].
#[derive(Debug, Clone, Copy)]
pub struct EvalConfig {
    /// Timed repetitions per page, ours and the baseline interleaved; the
    /// per-page time is their minimum, the usual estimate of the
    /// uncontended cost on a machine shared with other jobs.
    pub reps: usize,
    /// Feed pages of the same host through a [`HostMemory`] in id order.
    pub use_memory: bool,
    /// Stage switches passed to the extractor, for ablations.
    pub stages: Stages,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            reps: 3,
            use_memory: false,
            stages: Stages::default(),
        }
    }
}

/// Plain dom_smoothie 0.19 with `TextMode::Formatted`: the baseline the
/// issue quotes.
pub fn baseline_extract(html: &str) -> String {
    let cfg = dom_smoothie::Config {
        text_mode: dom_smoothie::TextMode::Formatted,
        ..Default::default()
    };
    dom_smoothie::Readability::new(html, None, Some(cfg))
        .and_then(|mut r| r.parse())
        .map(|a| a.text_content.to_string())
        .unwrap_or_default()
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn min_of(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// Lists `<id>` folders that have both `page.html` and `truth.txt`, sorted.
pub fn dataset_ids(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut ids: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.path().join("truth.txt").is_file() && e.path().join("page.html").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    ids.sort();
    Ok(ids)
}

fn read_lossy(path: PathBuf) -> std::io::Result<String> {
    Ok(String::from_utf8_lossy(&std::fs::read(path)?).into_owned())
}

/// Runs our extractor and the baseline over every page of `dir`. Pages are
/// fed as raw bytes through [`extract_with`] (charset detection included)
/// with the URL from `meta.json` when present and no hints, as a standalone extractor would see them. With
/// `use_memory`, pages are processed in id order and each host's memory
/// learns from the pages before it.
pub fn evaluate_dir(dir: &Path, cfg: EvalConfig) -> std::io::Result<EvalReport> {
    let ids = dataset_ids(dir)?;
    let mut memories: HashMap<String, HostMemory> = HashMap::new();
    let mut pages = Vec::with_capacity(ids.len());
    for id in ids {
        let bytes = std::fs::read(dir.join(&id).join("page.html"))?;
        let truth = read_lossy(dir.join(&id).join("truth.txt"))?;
        let html = String::from_utf8_lossy(&bytes).into_owned();

        // The page URL, as the daemon would know it from the feed, when
        // the dataset records it (AEB's meta.json does).
        let url = std::fs::read(dir.join(&id).join("meta.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("url").and_then(|u| u.as_str()).map(str::to_owned));
        let host = url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| {
                u.host_str()
                    .map(|h| h.trim_start_matches("www.").to_owned())
            })
            .or_else(|| super::page_host(&html));
        let memory = if cfg.use_memory {
            memory_for(&memories, &host)
        } else {
            None
        };
        let opts = ExtractOptions {
            hints: None,
            memory,
            stages: cfg.stages,
        };

        let mut ours_times = Vec::new();
        let mut base_times = Vec::new();
        let mut prediction = String::new();
        let mut blocks = None;
        let mut base_pred = String::new();
        for _ in 0..cfg.reps.max(1) {
            let t0 = Instant::now();
            let res = extract_with(&bytes, url.as_deref(), None, &opts);
            ours_times.push(t0.elapsed().as_secs_f64() * 1e3);
            (prediction, blocks) = match res {
                Ok((a, b)) => (a.text, Some(b)),
                Err(_) => (String::new(), None),
            };
            let t0 = Instant::now();
            base_pred = baseline_extract(&html);
            base_times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        if let (true, Some(h), Some(b)) = (cfg.use_memory, &host, &blocks) {
            memories.entry(h.clone()).or_default().learn(b);
        }
        pages.push(PageResult {
            host,
            ours: score_pair(&truth, &prediction),
            baseline: score_pair(&truth, &base_pred),
            ours_ms: min_of(&ours_times),
            baseline_ms: min_of(&base_times),
            prediction,
            id,
        });
    }
    Ok(summarize(pages))
}

fn memory_for<'m>(
    memories: &'m HashMap<String, HostMemory>,
    host: &Option<String>,
) -> Option<&'m HostMemory> {
    host.as_ref().and_then(|h| memories.get(h))
}

/// Fills the aggregates from per-page results.
pub fn summarize(pages: Vec<PageResult>) -> EvalReport {
    let n = pages.len().max(1) as f64;
    let mut ours: Vec<f64> = pages.iter().map(|p| p.ours_ms).collect();
    let mut base: Vec<f64> = pages.iter().map(|p| p.baseline_ms).collect();
    ours.sort_by(f64::total_cmp);
    base.sort_by(f64::total_cmp);
    EvalReport {
        mean_f1: pages.iter().map(|p| p.ours.f1).sum::<f64>() / n,
        baseline_mean_f1: pages.iter().map(|p| p.baseline.f1).sum::<f64>() / n,
        median_ms: quantile(&ours, 0.5),
        p90_ms: quantile(&ours, 0.9),
        baseline_median_ms: quantile(&base, 0.5),
        baseline_p90_ms: quantile(&base, 0.9),
        pages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Expected values were computed with
    /// `score_extraction.py` on the same strings (see the module docs).
    #[test]
    fn matches_reference_scorer() {
        // Python: score_pair("The cat sat.", "the cat sat on") → P=0.5 R=0.6667 F1=0.5714
        let s = score_pair("The cat sat.", "the cat sat on");
        assert!(close(s.precision, 0.5) && close(s.f1, 4.0 / 7.0), "{s:?}");
        // Both empty → 1; one side empty → 0.
        assert!(close(score_pair("", " ... ").f1, 1.0));
        assert!(close(score_pair("word", "").f1, 0.0));
        assert!(close(score_pair("", "word").f1, 0.0));
        // NFKC: the "ﬁ" ligature and full-width digits normalise; "_" is a
        // word char; apostrophes split tokens.
        assert_eq!(
            tokenize("ﬁne １２ snake_case don't"),
            ["fine", "12", "snake_case", "don", "t"]
        );
        // Devanagari vowel signs (Mn/Mc) split tokens in Python's `\w`.
        assert_eq!(tokenize("हिंदी"), ["ह", "द"]);
        // Bag semantics: repeated tokens count up to the min of the two.
        let s = score_pair("a a a b", "a b b");
        assert!(
            close(s.precision, 2.0 / 3.0) && close(s.recall, 0.5),
            "{s:?}"
        );
    }

    #[test]
    fn agrees_with_python_script_when_available() {
        // Cross-checks a few pairs against the real script when python3 and
        // the script are on this machine; silently skipped elsewhere.
        let script = Path::new("/work/shared/tools/score_extraction.py");
        if !script.is_file() {
            return;
        }
        let pairs = [
            (
                "Café déjà vu – 3½ times, naïve co-op.",
                "Cafe déjà vu 3½ times naïve",
            ),
            (
                "Москва, 1 мая. Ёлки-палки!",
                "Москва 1 мая ёлки палки палки",
            ),
            ("東京で会議が開かれた。", "東京で会議"),
            ("हिंदी समाचार", "हिंदी"),
            ("x² and ①", "x2 and 1"),
        ];
        let tmp = std::env::temp_dir().join(format!("extract-eval-{}", std::process::id()));
        let (pred, data) = (tmp.join("pred"), tmp.join("data"));
        for (i, (t, p)) in pairs.iter().enumerate() {
            let d = data.join(format!("{i}"));
            if std::fs::create_dir_all(&d).is_err() || std::fs::create_dir_all(&pred).is_err() {
                return;
            }
            let _ = std::fs::write(d.join("truth.txt"), t);
            let _ = std::fs::write(pred.join(format!("{i}.txt")), p);
        }
        let out = std::process::Command::new("python3")
            .arg(script)
            .arg(&pred)
            .arg(&data)
            .output();
        let _ = std::fs::remove_dir_all(&tmp);
        let Ok(out) = out else { return };
        let stdout = String::from_utf8_lossy(&out.stdout);
        for (i, (t, p)) in pairs.iter().enumerate() {
            let line = stdout
                .lines()
                .find(|l| l.starts_with(&format!("{i}\t")))
                .unwrap_or_default();
            let f1: f64 = line
                .rsplit("F1=")
                .next()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(-1.0);
            let ours = score_pair(t, p).f1;
            assert!(
                (ours - f1).abs() < 6e-5,
                "pair {i}: ours {ours}, python {line}"
            );
        }
    }
}
