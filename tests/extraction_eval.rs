//! Extraction quality on the AEB data set beside the repository: the mean token F1 target, and
//! `feedwatch eval extraction` agreeing with score_extraction.py on the same predictions.
//! Skipped with a message when the shared data is absent.

use std::path::Path;
use std::process::Command;

const AEB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/extraction/aeb");
const SCORER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/tools/score_extraction.py"
);

#[test]
fn aeb_mean_f1_and_scorer_agreement() {
    if !Path::new(AEB).exists() {
        eprintln!("SKIPPED: {AEB} is not present");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args(["eval", "extraction", AEB, "--reps", "1", "--predictions"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap().to_string();
    let ours: f64 = last
        .strip_prefix("mean_f1=")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("unexpected last line: {last}"));
    assert!(ours >= 0.97, "mean F1 {ours} below 0.97\n{stdout}");

    let scored = Command::new("python3")
        .arg(SCORER)
        .arg(out.path())
        .arg(AEB)
        .arg("--quiet")
        .output();
    match scored {
        Ok(scored) if scored.status.success() => {
            let theirs = String::from_utf8_lossy(&scored.stdout);
            let theirs = theirs.lines().last().unwrap();
            assert_eq!(theirs, last, "the two scorers disagree");
        }
        _ => eprintln!("python3 not available: the scorer comparison was skipped"),
    }
}

/// The pre-parse scan must leave real pages alone with room to spare: no page of the set may
/// come within a factor of four of a limit (its estimate errs high on sloppy markup).
#[test]
fn real_pages_stay_far_from_the_prescan_limits() {
    if !Path::new(AEB).exists() {
        eprintln!("SKIPPED: {AEB} is not present");
        return;
    }
    use feedwatch::extract::{MAX_DEPTH, MAX_ELEMENTS, decode_html, prescan, prestrip};
    let (mut deepest, mut largest) = (0, 0);
    for entry in std::fs::read_dir(AEB).unwrap() {
        let page = entry.unwrap().path().join("page.html");
        let Ok(html) = std::fs::read(&page) else {
            continue;
        };
        let (html, _) = decode_html(&html, None);
        let estimate = prescan::check(&prestrip::strip_raw_text(&html)).unwrap();
        deepest = deepest.max(estimate.max_depth);
        largest = largest.max(estimate.elements);
    }
    eprintln!("deepest estimate {deepest}, most elements {largest}");
    assert!(deepest * 4 <= MAX_DEPTH, "depth estimate {deepest}");
    assert!(largest * 4 <= MAX_ELEMENTS, "element estimate {largest}");
}
