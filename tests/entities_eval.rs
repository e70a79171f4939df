//! The shipped model on CoNLL-2003 valid: F1 target, and the Rust scorer
//! agreeing with ../shared/tools/score_ner.py on the same predictions
//! file. Skipped with a message when the shared data is absent.

use std::path::Path;
use std::process::Command;

use feedwatch::entities::{Model, conll};

const VALID: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/ner/conll2003/valid.txt"
);
const SCORER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/tools/score_ner.py");

#[test]
fn valid_f1_and_scorer_agreement() {
    if !Path::new(VALID).exists() {
        eprintln!("skipping: {VALID} not available");
        return;
    }
    let model_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/ner.bin");
    let model =
        Model::from_bytes(&std::fs::read(model_path).expect("model shipped")).expect("model loads");
    let docs = conll::read_file(Path::new(VALID)).expect("valid.txt parses");
    let (pred, score) = conll::evaluate(&model, &docs);
    assert!(
        score.f1() >= 0.92,
        "valid F1 {:.4} below target\n{score}",
        score.f1()
    );

    // Round trip through the file format and our text scorer.
    let pred_text = conll::write(&docs, &pred);
    let gold_text = std::fs::read_to_string(VALID).expect("readable");
    let from_text = conll::score_texts(&gold_text, &pred_text).expect("aligned");
    assert_eq!(from_text.to_string(), score.to_string());

    // Same file through the reference scorer, when python3 is there.
    let pred_path = std::env::temp_dir().join(format!("ner-valid-pred-{}.txt", std::process::id()));
    std::fs::write(&pred_path, &pred_text).expect("temp file writable");
    let out = Command::new("python3")
        .arg(SCORER)
        .arg(VALID)
        .arg(&pred_path)
        .output();
    let _ = std::fs::remove_file(&pred_path);
    match out {
        Ok(out) if out.status.success() => {
            let py = String::from_utf8_lossy(&out.stdout);
            assert_eq!(py.trim_end(), score.to_string(), "scorers disagree");
        }
        _ => eprintln!("skipping scorer comparison: python3 or {SCORER} unavailable"),
    }
}
