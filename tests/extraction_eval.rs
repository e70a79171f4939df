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
