//! CoNLL-2003 files: reading, writing predictions, and entity-level scoring.
//!
//! Owns the file format (one token per line, whitespace-separated columns,
//! tag in the last column, blank lines between sentences, `-DOCSTART-`
//! between documents) and a scorer that must give exactly the numbers of
//! `../shared/tools/score_ner.py` (conlleval chunking: exact span and
//! type). The chunking helpers below are a line-by-line port of that script
//! on purpose; do not "simplify" them. Only [`read_file`] touches the file
//! system, for the offline trainer and evaluator.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use thiserror::Error;

use super::Tag;

/// Errors reading or scoring CoNLL data.
#[derive(Debug, Error)]
pub enum ConllError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("line {line}: need at least 2 columns (token … tag)")]
    TooFewColumns { line: usize },
    #[error("line {line}: unknown NER tag {tag:?}")]
    UnknownTag { line: usize, tag: String },
    #[error("{gold} gold tokens vs {pred} predicted")]
    TokenCount { gold: usize, pred: usize },
    #[error("token #{index} differs: gold {gold:?} vs pred {pred:?}")]
    TokenMismatch {
        index: usize,
        gold: String,
        pred: String,
    },
}

/// One sentence: the original lines (all columns) and the parsed gold tags.
#[derive(Debug, Clone, Default)]
pub struct Sentence {
    pub tokens: Vec<String>,
    pub tags: Vec<Tag>,
    pub lines: Vec<String>,
}

/// One `-DOCSTART-`-delimited document.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub sentences: Vec<Sentence>,
}

impl Document {
    /// Token strings per sentence, the shape [`super::tag_document`] takes.
    pub fn token_lists(&self) -> Vec<Vec<&str>> {
        self.sentences
            .iter()
            .map(|s| s.tokens.iter().map(String::as_str).collect())
            .collect()
    }
}

/// Parses CoNLL text into documents. Sentences before the first
/// `-DOCSTART-` form a document of their own.
pub fn read(text: &str) -> Result<Vec<Document>, ConllError> {
    let mut docs = Vec::new();
    let mut doc = Document::default();
    let mut sent = Sentence::default();
    for (idx, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let is_docstart = cols.first() == Some(&"-DOCSTART-");
        if cols.is_empty() || is_docstart {
            if !sent.tokens.is_empty() {
                doc.sentences.push(std::mem::take(&mut sent));
            }
            if is_docstart && !doc.sentences.is_empty() {
                docs.push(std::mem::take(&mut doc));
            }
            continue;
        }
        let (Some(tok), Some(tag)) = (cols.first(), cols.last()) else {
            continue;
        };
        if cols.len() < 2 {
            return Err(ConllError::TooFewColumns { line: idx + 1 });
        }
        let parsed = Tag::from_conll(tag).ok_or_else(|| ConllError::UnknownTag {
            line: idx + 1,
            tag: (*tag).to_owned(),
        })?;
        sent.tokens.push((*tok).to_owned());
        sent.tags.push(parsed);
        sent.lines.push(line.trim_end().to_owned());
    }
    if !sent.tokens.is_empty() {
        doc.sentences.push(sent);
    }
    if !doc.sentences.is_empty() {
        docs.push(doc);
    }
    Ok(docs)
}

/// Reads and parses a CoNLL file.
pub fn read_file(path: &Path) -> Result<Vec<Document>, ConllError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConllError::Io {
        path: path.display().to_string(),
        source,
    })?;
    read(&text)
}

/// Writes documents back with the predicted tag appended as the last
/// column, so the output is a valid input for `score_ner.py GOLD PRED`.
/// `predicted[d][s]` are the tags of sentence `s` of document `d`; missing
/// predictions are written as `O`.
pub fn write(docs: &[Document], predicted: &[Vec<Vec<Tag>>]) -> String {
    let mut out = String::new();
    for (d, doc) in docs.iter().enumerate() {
        out.push_str("-DOCSTART- -X- -X- O O\n\n");
        for (s, sent) in doc.sentences.iter().enumerate() {
            for (t, line) in sent.lines.iter().enumerate() {
                let tag = predicted
                    .get(d)
                    .and_then(|p| p.get(s))
                    .and_then(|p| p.get(t))
                    .copied()
                    .unwrap_or(Tag::O);
                out.push_str(line);
                out.push(' ');
                out.push_str(&tag.to_conll());
                out.push('\n');
            }
            out.push('\n');
        }
    }
    out
}

/// Counts for one entity type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub gold: usize,
    pub pred: usize,
    pub correct: usize,
}

impl Counts {
    /// (precision, recall, f1), 0 where undefined — as score_ner.py.
    pub fn prf(&self) -> (f64, f64, f64) {
        let p = if self.pred > 0 {
            self.correct as f64 / self.pred as f64
        } else {
            0.0
        };
        let r = if self.gold > 0 {
            self.correct as f64 / self.gold as f64
        } else {
            0.0
        };
        let f = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        (p, r, f)
    }
}

/// Entity-level scores, per type and overall.
#[derive(Debug, Clone, Default)]
pub struct Score {
    pub tokens: usize,
    pub tokens_correct: usize,
    pub per_type: BTreeMap<String, Counts>,
    pub total: Counts,
}

impl Score {
    /// Overall micro F1.
    pub fn f1(&self) -> f64 {
        self.total.prf().2
    }
}

impl fmt::Display for Score {
    /// Same layout as score_ner.py, last line `f1=… precision=… recall=…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tokens={} token_accuracy={:.4} gold_entities={} pred_entities={} correct={}",
            self.tokens,
            self.tokens_correct as f64 / self.tokens.max(1) as f64,
            self.total.gold,
            self.total.pred,
            self.total.correct
        )?;
        writeln!(
            f,
            "{:<12}{:>8}{:>8}{:>8}{:>8}{:>8}",
            "type", "prec", "rec", "f1", "gold", "pred"
        )?;
        for (t, c) in &self.per_type {
            let (p, r, f1) = c.prf();
            writeln!(f, "{t:<12}{p:8.4}{r:8.4}{f1:8.4}{:8}{:8}", c.gold, c.pred)?;
        }
        let (p, r, f1) = self.total.prf();
        write!(f, "f1={f1:.4} precision={p:.4} recall={r:.4}")
    }
}

fn split_tag(tag: &str) -> (char, &str) {
    if matches!(tag, "O" | "-" | "") {
        return ('O', "");
    }
    let mut chars = tag.chars();
    if let (Some(p), Some(sep)) = (chars.next(), chars.next())
        && tag.len() > 2
        && p.is_ascii()
        && matches!(sep, '-' | '_')
    {
        let p = p.to_ascii_uppercase();
        if "BIESLU".contains(p) {
            let p = match p {
                'L' => 'E',
                'U' => 'S',
                other => other,
            };
            return (p, &tag[2..]);
        }
    }
    ('I', tag)
}

fn chunk_start(prev_p: char, prev_t: &str, p: char, t: &str) -> bool {
    match p {
        'B' | 'S' => true,
        'I' | 'E' => matches!(prev_p, 'O' | 'E' | 'S') || prev_t != t,
        _ => false,
    }
}

fn chunk_end(prev_p: char, prev_t: &str, p: char, t: &str) -> bool {
    match prev_p {
        'E' | 'S' => true,
        'B' | 'I' => matches!(p, 'O' | 'B' | 'S') || t != prev_t,
        _ => false,
    }
}

/// (type, start, end inclusive) chunks of a flat tag list; `None` = break.
fn chunks(tags: &[Option<&str>]) -> BTreeSet<(String, usize, usize)> {
    let mut out = BTreeSet::new();
    let mut start: Option<usize> = None;
    let mut cur_t = String::new();
    let (mut prev_p, mut prev_t) = ('O', "");
    for i in 0..=tags.len() {
        let tag = tags.get(i).copied().flatten();
        let (p, t) = tag.map_or(('O', ""), split_tag);
        if let Some(s) = start
            && (tag.is_none() || chunk_end(prev_p, prev_t, p, t))
        {
            out.insert((cur_t.clone(), s, i - 1));
            start = None;
        }
        if tag.is_some() && chunk_start(prev_p, prev_t, p, t) {
            start = Some(i);
            cur_t = t.to_owned();
        }
        prev_p = p;
        prev_t = t;
    }
    out
}

/// Rows of a CoNLL text as score_ner.py sees them: `None` for breaks,
/// else (first column, last column).
fn rows(text: &str) -> Result<Vec<Option<(&str, &str)>>, ConllError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        match (cols.first(), cols.last()) {
            (None, _) => out.push(None),
            (Some(&"-DOCSTART-"), _) => out.push(None),
            (Some(first), Some(last)) if cols.len() >= 2 => out.push(Some((*first, *last))),
            _ => return Err(ConllError::TooFewColumns { line: i + 1 }),
        }
    }
    Ok(out)
}

/// Scores a predictions file against a gold file, both as text, exactly
/// like `score_ner.py GOLD PRED` (tag = last column, breaks from gold).
pub fn score_texts(gold: &str, pred: &str) -> Result<Score, ConllError> {
    let gold_rows = rows(gold)?;
    let pred_rows = rows(pred)?;
    let g_tok: Vec<(&str, &str)> = gold_rows.iter().flatten().copied().collect();
    let p_tok: Vec<(&str, &str)> = pred_rows.iter().flatten().copied().collect();
    if g_tok.len() != p_tok.len() {
        return Err(ConllError::TokenCount {
            gold: g_tok.len(),
            pred: p_tok.len(),
        });
    }
    for (k, (g, p)) in g_tok.iter().zip(&p_tok).enumerate() {
        if g.0 != p.0 {
            return Err(ConllError::TokenMismatch {
                index: k + 1,
                gold: g.0.to_owned(),
                pred: p.0.to_owned(),
            });
        }
    }
    let g_tags: Vec<Option<&str>> = gold_rows.iter().map(|r| r.map(|x| x.1)).collect();
    let mut it = p_tok.iter();
    let p_tags: Vec<Option<&str>> = gold_rows
        .iter()
        .map(|r| r.and_then(|_| it.next().map(|x| x.1)))
        .collect();
    let gs = chunks(&g_tags);
    let ps = chunks(&p_tags);
    let mut score = Score {
        tokens: g_tok.len(),
        tokens_correct: g_tok.iter().zip(&p_tok).filter(|(g, p)| g.1 == p.1).count(),
        ..Score::default()
    };
    for c in &gs {
        score.per_type.entry(c.0.clone()).or_default().gold += 1;
    }
    for c in &ps {
        let e = score.per_type.entry(c.0.clone()).or_default();
        e.pred += 1;
        if gs.contains(c) {
            e.correct += 1;
        }
    }
    score.total = Counts {
        gold: gs.len(),
        pred: ps.len(),
        correct: gs.intersection(&ps).count(),
    };
    Ok(score)
}

/// Scores predicted tags for parsed documents (same numbers as writing them
/// with [`write()`] and running [`score_texts`]).
pub fn score(docs: &[Document], predicted: &[Vec<Vec<Tag>>]) -> Score {
    let pred_text = write(docs, predicted);
    let gold_text = write(
        docs,
        &docs
            .iter()
            .map(|d| d.sentences.iter().map(|s| s.tags.clone()).collect())
            .collect::<Vec<_>>(),
    );
    // Both texts come from the same documents, so token checks cannot fail.
    score_texts(&gold_text, &pred_text).unwrap_or_default()
}

/// Tags every document with [`super::tag_document`] and scores it: the
/// evaluation behind `examples/eval_ner.rs`. Returns the predictions (to
/// [`write()`] for `score_ner.py`) and the score.
pub fn evaluate(model: &super::Model, docs: &[Document]) -> (Vec<Vec<Vec<Tag>>>, Score) {
    let pred: Vec<Vec<Vec<Tag>>> = docs
        .iter()
        .map(|d| super::tag_document(model, &d.token_lists()))
        .collect();
    let score = score(docs, &pred);
    (pred, score)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLD: &str = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n";

    #[test]
    fn reads_documents_and_sentences() {
        let docs = read(GOLD).expect("valid");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].sentences.len(), 2);
        assert_eq!(docs[0].sentences[1].tokens, vec!["Peter", "Blackburn"]);
    }

    #[test]
    fn scores_like_conlleval() {
        let pred = "EU x B-ORG\nrejects x O\nGerman x I-MISC\n\nPeter x B-PER\nBlackburn x B-PER\n";
        let s = score_texts(GOLD, pred).expect("aligned");
        assert_eq!(
            s.total,
            Counts {
                gold: 3,
                pred: 4,
                correct: 2
            }
        );
        assert_eq!(
            s.per_type["PER"],
            Counts {
                gold: 1,
                pred: 2,
                correct: 0
            }
        );
        let last = s.to_string();
        assert!(
            last.ends_with("f1=0.5714 precision=0.5000 recall=0.6667"),
            "{last}"
        );
    }

    #[test]
    fn write_then_score_is_perfect_on_gold() {
        let docs = read(GOLD).expect("valid");
        let gold: Vec<Vec<Vec<Tag>>> = docs
            .iter()
            .map(|d| d.sentences.iter().map(|s| s.tags.clone()).collect())
            .collect();
        assert!((score(&docs, &gold).f1() - 1.0).abs() < 1e-12);
        let out = write(&docs, &gold);
        assert!(out.contains("Blackburn NNP I-NP I-PER I-PER"));
    }
}
