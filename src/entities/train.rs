//! Offline trainer: averaged structured perceptron over CoNLL data.
//!
//! Owns the learning loop (Viterbi decode, perceptron update on the gold vs
//! predicted tag paths, weight averaging) and the final quantisation into a
//! [`Model`]. Results are deterministic for a given seed: sentence order is
//! shuffled with a hand-written SplitMix64, never with a thread or OS RNG.
//! This is the one place that reads a data file by path; it must never write
//! files (the caller decides where the model goes) nor copy training text
//! into the model — only hashed weights and the gazetteers end up there.

use std::path::Path;

use thiserror::Error;

use super::Tag;
use super::conll::{self, ConllError, Document};
use super::features::{self, BASE_FEATURES, DocContext, FEATURES_PER_TOKEN, History};
use super::gazetteer::Gazetteer;
use super::model::{Model, viterbi};

const NT: usize = Tag::COUNT;

/// Feature index the perceptron ignores (a cut-off or dropped feature).
const SKIP: u32 = u32::MAX;

/// Training failures.
#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] ConllError),
    #[error("training file has no sentences")]
    Empty,
    #[error("hash bits must be within 12..=22, got {0}")]
    HashBits(u32),
}

/// Training knobs.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Passes over the training data.
    pub epochs: usize,
    /// Seed for the sentence shuffle.
    pub seed: u64,
    /// log2 of the number of hashed feature buckets.
    pub hash_bits: u32,
    /// Text of `models/gazetteer-places.txt` (may be empty).
    pub places_gazetteer: String,
    /// Text of `models/gazetteer-orgs.txt` (may be empty).
    pub orgs_gazetteer: String,
    /// Text of `models/gazetteer-persons.txt` (may be empty).
    pub persons_gazetteer: String,
    /// Text of `models/word-clusters.txt` (may be empty).
    pub word_clusters: String,
    /// Features (hash buckets) seen fewer times than this in the training
    /// data are never updated, so their weights stay zero.
    pub min_count: u32,
    /// Probability of hiding a token's word-identity features during one
    /// training pass (regularises towards shape, affix and context).
    pub lex_dropout: f32,
}

impl Default for TrainOptions {
    fn default() -> TrainOptions {
        TrainOptions {
            epochs: 25,
            seed: 42,
            hash_bits: 20,
            places_gazetteer: String::new(),
            orgs_gazetteer: String::new(),
            persons_gazetteer: String::new(),
            word_clusters: String::new(),
            min_count: 1,
            lex_dropout: 0.0,
        }
    }
}

/// SplitMix64: tiny, well-mixed and fully specified, so a seed gives the
/// same shuffle on every platform and Rust version.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // Modulo bias is irrelevant for shuffling ~15k sentences.
        (self.next() % n as u64) as usize
    }
}

/// Trains on a CoNLL file.
pub fn train(train_file: &Path, options: &TrainOptions) -> Result<Model, TrainError> {
    train_with_progress(train_file, options, |_, _| {})
}

/// Like [`train`], calling `progress(epoch, averaged_model_so_far)` after
/// each epoch (1-based) so a caller can pick the epoch count on dev data.
pub fn train_with_progress(
    train_file: &Path,
    options: &TrainOptions,
    progress: impl FnMut(usize, &Model),
) -> Result<Model, TrainError> {
    let docs = conll::read_file(train_file)?;
    train_on_documents(&docs, options, progress)
}

struct Example {
    tokens: Vec<String>,
    /// [`BASE_FEATURES`] per token; history features are added per pass.
    base: Vec<u32>,
    gold: Vec<usize>,
}

/// Trains on parsed documents (see [`train_with_progress`]).
pub fn train_on_documents(
    docs: &[Document],
    options: &TrainOptions,
    mut progress: impl FnMut(usize, &Model),
) -> Result<Model, TrainError> {
    if !(12..=22).contains(&options.hash_bits) {
        return Err(TrainError::HashBits(options.hash_bits));
    }
    let gaz = Gazetteer::from_texts(&options.places_gazetteer, &options.orgs_gazetteer)
        .with_persons(&options.persons_gazetteer)
        .with_clusters(&options.word_clusters);
    let mask = (1u32 << options.hash_bits) - 1;
    let mut examples: Vec<Vec<Example>> = Vec::new();
    for doc in docs {
        let lists = doc.token_lists();
        let ctx = DocContext::build(&lists);
        let mut doc_examples = Vec::new();
        for (toks, sent) in lists.iter().zip(&doc.sentences) {
            let mut base = Vec::new();
            features::extract(toks, &gaz, &ctx, mask, &mut base);
            debug_assert_eq!(base.len(), toks.len() * BASE_FEATURES);
            doc_examples.push(Example {
                tokens: sent.tokens.clone(),
                base,
                gold: sent.tags.iter().map(|t| t.index()).collect(),
            });
        }
        examples.push(doc_examples);
    }
    if examples.iter().all(Vec::is_empty) {
        return Err(TrainError::Empty);
    }

    let buckets = 1usize << options.hash_bits;
    if options.min_count > 1 {
        let mut counts = vec![0u32; buckets];
        for ex in examples.iter().flatten() {
            for &f in &ex.base {
                counts[f as usize] = counts[f as usize].saturating_add(1);
            }
        }
        for ex in examples.iter_mut().flatten() {
            for f in &mut ex.base {
                if counts[*f as usize] < options.min_count {
                    *f = SKIP;
                }
            }
        }
    }
    let mut p = Perceptron::new(buckets);
    // Documents are shuffled, sentences stay in order inside a document:
    // the prediction-history features need the earlier sentences first,
    // exactly as at inference.
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = SplitMix64(options.seed);
    let mut em = Vec::new();
    let mut feats = Vec::new();
    for epoch in 1..=options.epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for &d in &order {
            let mut hist = History::default();
            for ex in &examples[d] {
                let toks: Vec<&str> = ex.tokens.iter().map(String::as_str).collect();
                features::add_history(&toks, &ex.base, &hist, mask, &mut feats);
                if options.lex_dropout > 0.0 {
                    let cut = (f64::from(options.lex_dropout) * (1u64 << 32) as f64) as u64;
                    for tf in feats.chunks_exact_mut(FEATURES_PER_TOKEN) {
                        if rng.next() >> 32 < cut {
                            for &t in features::LEXICAL {
                                tf[t] = SKIP;
                            }
                        }
                    }
                }
                p.emissions(&feats, &mut em);
                let pred = viterbi(&em, &p.trans, &p.start);
                p.clock += 1;
                let pred_tags: Vec<Tag> = pred.iter().map(|&t| Tag::from_index(t)).collect();
                hist.record(&toks, &pred_tags);
                if pred != ex.gold {
                    p.update(&feats, &ex.gold, &pred);
                }
            }
        }
        progress(epoch, &p.averaged(&gaz, options.hash_bits));
    }
    Ok(p.averaged(&gaz, options.hash_bits))
}

/// Entity strings (lowercased tokens joined by spaces) of the gold spans of
/// `docs`.
fn gold_entities(docs: &[Document]) -> std::collections::HashSet<String> {
    let mut set = std::collections::HashSet::new();
    for s in docs.iter().flat_map(|d| &d.sentences) {
        for sp in super::spans_from_tags(&s.tags) {
            set.insert(features::norm_lower(&s.tokens[sp.start..sp.end].join(" ")));
        }
    }
    set
}

/// Pooled cross-validation counts for one epoch.
#[derive(Debug, Clone, Copy, Default)]
pub struct CvCounts {
    /// All held-out entities.
    pub all: conll::Counts,
    /// Held-out gold entities whose text never occurs as an entity in the
    /// training folds, and how many of them were found (`pred` unused):
    /// the names a model cannot have memorised.
    pub unseen: conll::Counts,
}

/// K-fold cross-validation on training documents only: the documents are
/// cut into `k` contiguous blocks (CoNLL files are in date order, so a
/// held-out block is later or earlier news, as a real test split is); each
/// block is tagged by a model trained on the others. Returns, per epoch, the
/// entity counts pooled over all folds (micro F1 over the whole file).
/// `progress(fold, epoch, fold_score)` is called as folds are scored.
pub fn cross_validate(
    docs: &[Document],
    k: usize,
    options: &TrainOptions,
    mut progress: impl FnMut(usize, usize, &conll::Score),
) -> Result<Vec<CvCounts>, TrainError> {
    let k = k.clamp(2, docs.len().max(2));
    let mut pooled = vec![CvCounts::default(); options.epochs];
    for fold in 0..k {
        let (lo, hi) = (fold * docs.len() / k, (fold + 1) * docs.len() / k);
        let held = &docs[lo..hi];
        let rest: Vec<Document> = docs[..lo].iter().chain(&docs[hi..]).cloned().collect();
        let known = gold_entities(&rest);
        train_on_documents(&rest, options, |epoch, model| {
            let (pred, score) = conll::evaluate(model, held);
            let c = &mut pooled[epoch - 1];
            c.all.gold += score.total.gold;
            c.all.pred += score.total.pred;
            c.all.correct += score.total.correct;
            for (doc, dpred) in held.iter().zip(&pred) {
                for (s, p) in doc.sentences.iter().zip(dpred) {
                    let found = super::spans_from_tags(p);
                    for sp in super::spans_from_tags(&s.tags) {
                        let text = features::norm_lower(&s.tokens[sp.start..sp.end].join(" "));
                        if !known.contains(&text) {
                            c.unseen.gold += 1;
                            c.unseen.correct += usize::from(found.contains(&sp));
                        }
                    }
                }
            }
            progress(fold, epoch, &score);
        })?;
    }
    Ok(pooled)
}

/// Weights plus the running sums needed for averaging ("lazy" trick: keep
/// `acc = Σ clock·Δ`, then average = w − acc/clock).
struct Perceptron {
    w: Vec<f32>,
    acc: Vec<f32>,
    trans: Vec<f32>,
    trans_acc: Vec<f32>,
    start: Vec<f32>,
    start_acc: Vec<f32>,
    clock: u64,
}

impl Perceptron {
    fn new(buckets: usize) -> Perceptron {
        Perceptron {
            w: vec![0.0; buckets * NT],
            acc: vec![0.0; buckets * NT],
            trans: vec![0.0; NT * NT],
            trans_acc: vec![0.0; NT * NT],
            start: vec![0.0; NT],
            start_acc: vec![0.0; NT],
            clock: 0,
        }
    }

    fn emissions(&self, feats: &[u32], em: &mut Vec<f32>) {
        let n = feats.len() / FEATURES_PER_TOKEN;
        em.clear();
        em.resize(n * NT, 0.0);
        for (i, tf) in feats.chunks_exact(FEATURES_PER_TOKEN).enumerate() {
            let e = &mut em[i * NT..(i + 1) * NT];
            for &f in tf {
                if f == SKIP {
                    continue;
                }
                let row = &self.w[f as usize * NT..(f as usize + 1) * NT];
                for (a, &w) in e.iter_mut().zip(row) {
                    *a += w;
                }
            }
        }
    }

    fn update(&mut self, feats: &[u32], gold: &[usize], pred: &[usize]) {
        // f32 holds the clock exactly up to 2^24 updates, far above
        // epochs × sentences here.
        let c = self.clock as f32;
        for (i, tf) in feats.chunks_exact(FEATURES_PER_TOKEN).enumerate() {
            let (g, p) = (gold[i], pred[i]);
            if g != p {
                for &f in tf {
                    if f == SKIP {
                        continue;
                    }
                    let base = f as usize * NT;
                    self.w[base + g] += 1.0;
                    self.acc[base + g] += c;
                    self.w[base + p] -= 1.0;
                    self.acc[base + p] -= c;
                }
            }
            let (gp, pp) = if i == 0 {
                (None, None)
            } else {
                (Some(gold[i - 1]), Some(pred[i - 1]))
            };
            if (gp, g) != (pp, p) {
                match (gp, pp) {
                    (Some(gp), Some(pp)) => {
                        self.trans[gp * NT + g] += 1.0;
                        self.trans_acc[gp * NT + g] += c;
                        self.trans[pp * NT + p] -= 1.0;
                        self.trans_acc[pp * NT + p] -= c;
                    }
                    _ => {
                        self.start[g] += 1.0;
                        self.start_acc[g] += c;
                        self.start[p] -= 1.0;
                        self.start_acc[p] -= c;
                    }
                }
            }
        }
    }

    fn averaged(&self, gaz: &Gazetteer, bits: u32) -> Model {
        let c = self.clock.max(1) as f32;
        let avg = |w: &[f32], a: &[f32]| -> Vec<f32> {
            w.iter().zip(a).map(|(&w, &a)| w - a / c).collect()
        };
        let w = avg(&self.w, &self.acc);
        let max = w.iter().fold(0f32, |m, &x| m.max(x.abs()));
        let scale = if max > 0.0 {
            max / f32::from(i16::MAX)
        } else {
            1.0
        };
        let weights = w
            .iter()
            // In range by construction of `scale`; `as` saturates anyway.
            .map(|&x| (x / scale).round() as i16)
            .collect();
        Model {
            bits,
            scale,
            weights,
            trans: avg(&self.trans, &self.trans_acc),
            start: avg(&self.start, &self.start_acc),
            gaz: gaz.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::{EntityKind, tag_document};

    const DATA: &str = "-DOCSTART- -X- -X- O\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\nvisited x x O\nParis x x B-LOC\n.\tx x O\n\nAnna x x B-PER\nSmith x x I-PER\nleft x x O\nBerlin x x B-LOC\n. x x O\n";

    #[test]
    fn learns_toy_data_deterministically() {
        let docs = conll::read(DATA).expect("valid");
        let opts = TrainOptions {
            epochs: 5,
            hash_bits: 14,
            ..TrainOptions::default()
        };
        let a = train_on_documents(&docs, &opts, |_, _| {}).expect("trains");
        let b = train_on_documents(&docs, &opts, |_, _| {}).expect("trains");
        assert_eq!(a.to_bytes(), b.to_bytes());
        let tags = tag_document(&a, &[vec!["Anna", "Smith", "left", "Berlin", "."]]);
        assert_eq!(tags[0][0], Tag::B(EntityKind::Person));
        assert_eq!(tags[0][3], Tag::B(EntityKind::Place));
    }

    #[test]
    fn cross_validation_pools_every_fold_and_regularisers_are_deterministic() {
        let text = format!("{DATA}\n{DATA}\n{DATA}\n{DATA}");
        let docs = conll::read(&text).expect("valid");
        assert_eq!(docs.len(), 4);
        let opts = TrainOptions {
            epochs: 3,
            hash_bits: 14,
            min_count: 2,
            lex_dropout: 0.25,
            ..TrainOptions::default()
        };
        let mut folds = Vec::new();
        let pooled = cross_validate(&docs, 2, &opts, |fold, epoch, _| folds.push((fold, epoch)))
            .expect("trains");
        assert_eq!(pooled.len(), 3);
        assert_eq!(folds.len(), 6);
        // Every held-out entity is counted once per epoch (4 per document).
        assert!(pooled.iter().all(|c| c.all.gold == 16));
        // Identical documents: nothing held out is unseen.
        assert!(pooled.iter().all(|c| c.unseen.gold == 0));
        let a = train_on_documents(&docs, &opts, |_, _| {}).expect("trains");
        let b = train_on_documents(&docs, &opts, |_, _| {}).expect("trains");
        assert_eq!(a.to_bytes(), b.to_bytes());
    }

    #[test]
    fn shuffle_is_seeded() {
        let mut a = SplitMix64(7);
        let mut b = SplitMix64(7);
        assert_eq!(a.next(), b.next());
        assert_ne!(SplitMix64(8).next(), SplitMix64(7).next());
    }
}
