//! The Rust port of slovnet's news NER against slovnet itself.
//!
//! Goldens come from scripts/slovnet_goldens.py (natasha 1.6.0, slovnet
//! 0.6.0, razdel 0.5.0), stored under tests/fixtures/slovnet/:
//! - razdel-cases.tsv: random strings, razdel's tokens and slovnet's shapes;
//!   must match exactly.
//! - sample.golden.json: a Russian text written for this test; tokens and
//!   shapes exact, tags exact against slovnet run with our pruned
//!   vocabulary, and reported against slovnet as shipped.
//! - factru-dev.golden: ../shared/data/ner/factru/dev.txt (read at run time,
//!   not stored here), each document detokenised, razdel-tokenised and tagged
//!   as one sequence. Tokens must match; tags must equal slovnet's (full
//!   250k vocabulary, as natasha ships it) on ≥ 99.5 % of tokens and slovnet
//!   with the pruned vocabulary on ≥ 99.9 %. Skipped with a message when the
//!   shared data is absent, as the other ../shared tests are.
//! - The same file's given tokens, each document tagged as one sequence as
//!   `feedwatch eval ner` does: entity F1 (slovnet itself: 0.7672 with the
//!   full vocabulary, 0.7673 with ours), and our scorer agreeing with
//!   ../shared/tools/score_ner.py digit for digit.

use std::path::Path;
use std::process::Command;

use feedwatch::entities::slovnet::{SlovnetNer, razdel, shape};
use feedwatch::entities::{Tag, conll};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/slovnet");
const DEV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/ner/factru/dev.txt"
);
const SCORER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/tools/score_ner.py");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(name)).expect("fixture readable")
}

/// Our tag in the goldens' one-letter code (`<pad>` is `_`, which we map
/// to `O`, so both compare equal to `O`).
fn letter(tag: Tag) -> char {
    match tag.to_conll().as_str() {
        "B-PER" => 'P',
        "I-PER" => 'p',
        "B-LOC" => 'L',
        "I-LOC" => 'l',
        "B-ORG" => 'G',
        "I-ORG" => 'g',
        _ => 'O',
    }
}

fn normalise_golden(letters: &str) -> Vec<char> {
    letters
        .chars()
        .map(|c| if c == '_' { 'O' } else { c })
        .collect()
}

/// Tokens as (start, stop) character offsets, as Python reports them.
fn char_tokens(text: &str) -> Vec<(usize, usize)> {
    let mut char_at = vec![0usize; text.len() + 1];
    let mut n = 0;
    for (i, c) in text.char_indices() {
        char_at[i..i + c.len_utf8()].fill(n);
        n += 1;
    }
    char_at[text.len()] = n;
    razdel::tokenize(text)
        .into_iter()
        .map(|t| (char_at[t.start], char_at[t.end]))
        .collect()
}

fn agreement(ours: &[char], golden: &[char]) -> (usize, usize) {
    assert_eq!(ours.len(), golden.len(), "tag counts differ");
    let same = ours.iter().zip(golden).filter(|(a, b)| a == b).count();
    (same, ours.len())
}

#[test]
fn razdel_tokens_and_slovnet_shapes_on_random_strings() {
    let cases = fixture("razdel-cases.tsv");
    let mut n = 0;
    for line in cases.lines().filter(|l| !l.starts_with('#')) {
        let (text, toks) = line.split_once('\t').expect("two columns");
        let text: String = serde_json::from_str(text).expect("JSON string");
        let want: Vec<(usize, usize, String)> = serde_json::from_str(toks).expect("JSON list");
        let got = char_tokens(&text);
        let want_spans: Vec<(usize, usize)> = want.iter().map(|(s, e, _)| (*s, *e)).collect();
        assert_eq!(got, want_spans, "tokens of {text:?}");
        let chars: Vec<char> = text.chars().collect();
        for (s, e, want_shape) in &want {
            let word: String = chars[*s..*e].iter().collect();
            assert_eq!(
                &shape::name(shape::shape(&word)),
                want_shape,
                "shape of {word:?}"
            );
        }
        n += 1;
    }
    assert!(n >= 1000, "only {n} cases");
}

#[test]
fn sample_text_matches_slovnet() {
    let ner = SlovnetNer::shipped().expect("model loads");
    let text = fixture("sample.txt");
    let golden: serde_json::Value =
        serde_json::from_str(&fixture("sample.golden.json")).expect("golden JSON");
    let want_tokens: Vec<(usize, usize)> =
        serde_json::from_value(golden["tokens"].clone()).expect("tokens");
    assert_eq!(char_tokens(&text), want_tokens);

    let (tokens, tags) = ner.tag_text(&text);
    let shapes: Vec<String> = serde_json::from_value(golden["shapes"].clone()).expect("shapes");
    for (t, want) in tokens.iter().zip(&shapes) {
        assert_eq!(&shape::name(shape::shape(&text[t.start..t.end])), want);
    }
    let ours: Vec<char> = tags.iter().map(|&t| letter(t)).collect();
    let conll = |key: &str| -> Vec<char> {
        let tags: Vec<String> = serde_json::from_value(golden[key].clone()).expect("tags");
        tags.iter()
            .map(|t| {
                Tag::from_conll(t)
                    .map(letter)
                    .unwrap_or(if t == "<pad>" { 'O' } else { '?' })
            })
            .collect()
    };
    let (same, total) = agreement(&ours, &conll("tags_pruned"));
    assert_eq!(same, total, "the port disagrees with slovnet on the sample");
    let (same, total) = agreement(&ours, &conll("tags"));
    eprintln!(
        "sample: {same}/{total} tags equal to slovnet with navec's full vocabulary ({:.2} %)",
        100.0 * same as f64 / total as f64
    );
}

/// Keep in sync with `detokenise` in scripts/slovnet_goldens.py.
fn detokenise(sentences: &[Vec<&str>]) -> String {
    const NO_SPACE_BEFORE: &[&str] = &[",", ".", ":", ";", "!", "?", ")", "]", "»", "…", "%"];
    const NO_SPACE_AFTER: &[&str] = &["(", "[", "«"];
    let lines: Vec<String> = sentences
        .iter()
        .map(|tokens| {
            let mut out = String::new();
            for (i, tok) in tokens.iter().enumerate() {
                if i > 0
                    && !NO_SPACE_BEFORE.contains(tok)
                    && !NO_SPACE_AFTER.contains(&tokens[i - 1])
                {
                    out.push(' ');
                }
                out.push_str(tok);
            }
            out
        })
        .collect();
    lines.join("\n")
}

#[test]
fn factru_dev_tags_match_slovnet() {
    if !Path::new(DEV).exists() {
        eprintln!("skipping: {DEV} not available");
        return;
    }
    let ner = SlovnetNer::shipped().expect("model loads");
    let docs = conll::read_file(Path::new(DEV)).expect("dev.txt parses");
    let golden = fixture("factru-dev.golden");
    let mut lines = golden.lines().filter(|l| !l.starts_with('#'));
    let (mut full, mut pruned, mut total) = (0usize, 0usize, 0usize);
    for (d, doc) in docs.iter().enumerate() {
        let (Some(t), Some(f), Some(p)) = (lines.next(), lines.next(), lines.next()) else {
            panic!("golden has fewer documents than dev.txt ({d})");
        };
        let text = detokenise(&doc.token_lists());
        let mut want = Vec::new();
        let mut prev = 0;
        for pair in t.strip_prefix("T ").expect("T line").split_whitespace() {
            let (gap, len) = pair.split_once(',').expect("gap,len");
            let start = prev + gap.parse::<usize>().expect("gap");
            prev = start + len.parse::<usize>().expect("len");
            want.push((start, prev));
        }
        assert_eq!(char_tokens(&text), want, "razdel tokens of document {d}");

        let (_, tags) = ner.tag_text(&text);
        let ours: Vec<char> = tags.iter().map(|&t| letter(t)).collect();
        let f = normalise_golden(f.strip_prefix("F ").expect("F line"));
        let p = normalise_golden(p.strip_prefix("P ").expect("P line"));
        full += agreement(&ours, &f).0;
        pruned += agreement(&ours, &p).0;
        total += ours.len();
    }
    assert!(
        lines.next().is_none(),
        "golden has more documents than dev.txt"
    );
    let pct = |n: usize| 100.0 * n as f64 / total as f64;
    eprintln!(
        "factRuEval dev, {} documents, {total} tokens: tags equal to slovnet {:.3} % \
         ({full}; navec's full vocabulary), to slovnet with our pruned vocabulary {:.3} % ({pruned})",
        docs.len(),
        pct(full),
        pct(pruned)
    );
    assert!(
        pct(full) >= 99.5,
        "parity with slovnet {:.3} % < 99.5 %",
        pct(full)
    );
    assert!(
        pct(pruned) >= 99.9,
        "port differs from slovnet on the same vocabulary: {:.3} %",
        pct(pruned)
    );
}

#[test]
fn factru_dev_f1_and_scorer_agreement() {
    if !Path::new(DEV).exists() {
        eprintln!("skipping: {DEV} not available");
        return;
    }
    let ner = SlovnetNer::shipped().expect("model loads");
    let docs = conll::read_file(Path::new(DEV)).expect("dev.txt parses");
    let pred: Vec<Vec<Vec<Tag>>> = docs
        .iter()
        .map(|doc| {
            let words: Vec<&str> = doc
                .sentences
                .iter()
                .flat_map(|s| s.tokens.iter().map(String::as_str))
                .collect();
            let tags = ner.tag_words(&words);
            let mut rest = tags.as_slice();
            doc.sentences
                .iter()
                .map(|s| {
                    let (head, tail) = rest.split_at(s.tokens.len());
                    rest = tail;
                    head.to_vec()
                })
                .collect()
        })
        .collect();
    let score = conll::score(&docs, &pred);
    eprintln!("factRuEval dev, given tokens:\n{score}");
    assert!(
        (0.767..0.768).contains(&score.f1()),
        "dev F1 {:.4}, slovnet with the same vocabulary has 0.7673",
        score.f1()
    );

    let pred_path =
        std::env::temp_dir().join(format!("slovnet-dev-pred-{}.txt", std::process::id()));
    std::fs::write(&pred_path, conll::write(&docs, &pred)).expect("temp file writable");
    let out = Command::new("python3")
        .arg(SCORER)
        .arg(DEV)
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
