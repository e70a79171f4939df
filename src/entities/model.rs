//! The trained tagger: hashed weight table, tag transitions, Viterbi
//! decoding and the versioned binary model format.
//!
//! Owns everything needed to go from tokens to BIO tags once a model exists:
//! [`Model::from_bytes`]/[`Model::to_bytes`], emission scoring over hashed
//! features, constrained first-order Viterbi, and document-level tagging
//! ([`tag_document`]) that shares evidence across sentences. It must never do
//! I/O or panic on malformed model bytes: a corrupt file is a [`ModelError`].
//!
//! Weights are quantised to `i16` with one global scale: it halves memory
//! against `f32` and the loss is far below the perceptron's own noise.

use std::collections::HashMap;

use thiserror::Error;

use super::features::{self, DocContext, FEATURES_PER_TOKEN, History};
use super::gazetteer::Gazetteer;
use super::{Tag, spans_from_tags};

const MAGIC: &[u8; 8] = b"FWNERMDL";
/// Version 3 added the word clusters. Older files cannot be used: their features differ too.
const FORMAT_VERSION: u32 = 3;
const NT: usize = Tag::COUNT;

/// Why model bytes could not be loaded.
#[derive(Debug, Error)]
pub enum ModelError {
    #[error("not a feedwatch NER model (bad magic)")]
    BadMagic,
    #[error("unsupported model format version {0} (expected {FORMAT_VERSION})")]
    UnsupportedVersion(u32),
    #[error(
        "model was trained with feature version {found}, this build extracts version {expected}; retrain"
    )]
    FeatureVersion { found: u32, expected: u32 },
    #[error("model file truncated at byte {0}")]
    Truncated(usize),
    #[error("invalid model field: {0}")]
    Invalid(&'static str),
}

/// A trained NER model. Cheap to share behind an `Arc`; tagging takes `&self`.
#[derive(Debug, Clone)]
pub struct Model {
    pub(crate) bits: u32,
    pub(crate) scale: f32,
    /// `buckets × Tag::COUNT` quantised emission weights, bucket-major.
    pub(crate) weights: Vec<i16>,
    /// `trans[prev * NT + cur]`.
    pub(crate) trans: Vec<f32>,
    pub(crate) start: Vec<f32>,
    pub(crate) gaz: Gazetteer,
}

/// Whether `cur` may follow `prev` in BIO: I-X only after B-X or I-X.
/// Enforcing this in decoding removes impossible outputs for free.
pub(crate) fn allowed(prev: Option<usize>, cur: usize) -> bool {
    match Tag::from_index(cur) {
        Tag::I(k) => match prev.map(Tag::from_index) {
            Some(Tag::B(p)) | Some(Tag::I(p)) => p == k,
            _ => false,
        },
        _ => true,
    }
}

/// Constrained Viterbi over `n × NT` emission scores.
pub(crate) fn viterbi(emissions: &[f32], trans: &[f32], start: &[f32]) -> Vec<usize> {
    let n = emissions.len() / NT;
    if n == 0 {
        return Vec::new();
    }
    let mut score = vec![f32::NEG_INFINITY; n * NT];
    let mut back = vec![0u8; n * NT];
    for t in 0..NT {
        if allowed(None, t) {
            score[t] = start[t] + emissions[t];
        }
    }
    for i in 1..n {
        for cur in 0..NT {
            let mut best = f32::NEG_INFINITY;
            let mut arg = 0u8;
            for prev in 0..NT {
                if !allowed(Some(prev), cur) {
                    continue;
                }
                let s = score[(i - 1) * NT + prev] + trans[prev * NT + cur];
                if s > best {
                    best = s;
                    // prev < NT = 9, always fits.
                    arg = prev as u8;
                }
            }
            score[i * NT + cur] = best + emissions[i * NT + cur];
            back[i * NT + cur] = arg;
        }
    }
    let mut last = 0;
    let mut best = f32::NEG_INFINITY;
    for t in 0..NT {
        if score[(n - 1) * NT + t] > best {
            best = score[(n - 1) * NT + t];
            last = t;
        }
    }
    let mut path = vec![0usize; n];
    path[n - 1] = last;
    for i in (1..n).rev() {
        path[i - 1] = usize::from(back[i * NT + path[i]]);
    }
    path
}

impl Model {
    fn mask(&self) -> u32 {
        (1u32 << self.bits) - 1
    }

    /// The gazetteers embedded in this model.
    pub fn gazetteer(&self) -> &Gazetteer {
        &self.gaz
    }

    /// Tags one sentence given document context and prediction history.
    pub fn tag_with_context(&self, tokens: &[&str], doc: &DocContext, hist: &History) -> Vec<Tag> {
        if tokens.is_empty() {
            return Vec::new();
        }
        let mut base = Vec::new();
        features::extract(tokens, &self.gaz, doc, self.mask(), &mut base);
        let mut feats = Vec::new();
        features::add_history(tokens, &base, hist, self.mask(), &mut feats);
        let mut em = vec![0f32; tokens.len() * NT];
        let mut acc = [0i32; NT];
        for (i, tok_feats) in feats.chunks_exact(FEATURES_PER_TOKEN).enumerate() {
            acc.fill(0);
            for &f in tok_feats {
                let base = f as usize * NT;
                let row = &self.weights[base..base + NT];
                for (a, &w) in acc.iter_mut().zip(row) {
                    *a += i32::from(w);
                }
            }
            for (e, &a) in em[i * NT..(i + 1) * NT].iter_mut().zip(&acc) {
                // i32 sums of at most 36 i16 values are exact in f32.
                *e = a as f32 * self.scale;
            }
        }
        viterbi(&em, &self.trans, &self.start)
            .into_iter()
            .map(Tag::from_index)
            .collect()
    }

    /// Serialises to the versioned little-endian model format.
    ///
    /// Layout: magic `FWNERMDL`, u32 format version, u32 feature version,
    /// u32 hash bits, u32 tag count, f32 scale, f32×NT start scores,
    /// f32×NT² transitions, four length-prefixed (u32) UTF-8 texts (the place, organisation
    /// and person lists and the word clusters), then the weight table stored sparsely: a bitmap with
    /// one bit per bucket and the NT i16 weights of each non-zero bucket.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        for v in [
            FORMAT_VERSION,
            features::FEATURE_VERSION,
            self.bits,
            NT as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.scale.to_le_bytes());
        for &v in self.start.iter().chain(&self.trans) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for text in [
            &self.gaz.places_text,
            &self.gaz.orgs_text,
            &self.gaz.persons_text,
            &self.gaz.clusters_text,
        ] {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        let buckets = 1usize << self.bits;
        let mut bitmap = vec![0u8; buckets.div_ceil(8)];
        let mut rows = Vec::new();
        for b in 0..buckets {
            let row = &self.weights[b * NT..(b + 1) * NT];
            if row.iter().any(|&w| w != 0) {
                bitmap[b / 8] |= 1 << (b % 8);
                for &w in row {
                    rows.extend_from_slice(&w.to_le_bytes());
                }
            }
        }
        out.extend_from_slice(&bitmap);
        out.extend_from_slice(&rows);
        out
    }

    /// Loads a model written by [`Model::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(ModelError::BadMagic);
        }
        let version = r.u32()?;
        if version != FORMAT_VERSION {
            return Err(ModelError::UnsupportedVersion(version));
        }
        let fv = r.u32()?;
        if fv != features::FEATURE_VERSION {
            return Err(ModelError::FeatureVersion {
                found: fv,
                expected: features::FEATURE_VERSION,
            });
        }
        let bits = r.u32()?;
        if !(8..=22).contains(&bits) {
            return Err(ModelError::Invalid("hash bits out of range"));
        }
        if r.u32()? as usize != NT {
            return Err(ModelError::Invalid("tag count"));
        }
        let scale = r.f32()?;
        if !scale.is_finite() {
            return Err(ModelError::Invalid("scale"));
        }
        let mut start = Vec::with_capacity(NT);
        for _ in 0..NT {
            start.push(r.f32()?);
        }
        let mut trans = Vec::with_capacity(NT * NT);
        for _ in 0..NT * NT {
            trans.push(r.f32()?);
        }
        let places = r.string()?;
        let orgs = r.string()?;
        let persons = r.string()?;
        let clusters = r.string()?;
        let buckets = 1usize << bits;
        let bitmap = r.take(buckets.div_ceil(8))?;
        let mut weights = vec![0i16; buckets * NT];
        for b in 0..buckets {
            if bitmap[b / 8] & (1 << (b % 8)) != 0 {
                let raw = r.take(NT * 2)?;
                for (w, pair) in weights[b * NT..(b + 1) * NT]
                    .iter_mut()
                    .zip(raw.chunks_exact(2))
                {
                    *w = i16::from_le_bytes([pair[0], pair[1]]);
                }
            }
        }
        if r.pos != bytes.len() {
            return Err(ModelError::Invalid("trailing bytes"));
        }
        Ok(Model {
            bits,
            scale,
            weights,
            trans,
            start,
            gaz: Gazetteer::from_texts(&places, &orgs)
                .with_persons(&persons)
                .with_clusters(&clusters),
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(ModelError::Truncated(self.pos))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, ModelError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f32(&mut self) -> Result<f32, ModelError> {
        Ok(f32::from_bits(self.u32()?))
    }

    fn string(&mut self) -> Result<String, ModelError> {
        let len = self.u32()? as usize;
        let b = self.take(len)?;
        String::from_utf8(b.to_vec()).map_err(|_| ModelError::Invalid("gazetteer is not UTF-8"))
    }
}

/// Tags one sentence on its own (no document context), e.g. for quick
/// checks. Prefer [`tag_document`] when whole documents are available.
pub fn tag_sentence(model: &Model, tokens: &[&str]) -> Vec<Tag> {
    model.tag_with_context(tokens, &DocContext::default(), &History::default())
}

/// Tags all sentences of one document, in order: builds document-level
/// features from every sentence first, feeds each sentence's predictions to
/// the later ones (prediction history), then makes entity types consistent
/// across the document (see [`harmonise_types`]).
pub fn tag_document<S: AsRef<str>>(model: &Model, sentences: &[Vec<S>]) -> Vec<Vec<Tag>> {
    let doc = DocContext::build(sentences);
    let mut hist = History::default();
    let mut tags: Vec<Vec<Tag>> = sentences
        .iter()
        .map(|s| {
            let toks: Vec<&str> = s.iter().map(AsRef::as_ref).collect();
            let t = model.tag_with_context(&toks, &doc, &hist);
            hist.record(&toks, &t);
            t
        })
        .collect();
    harmonise_types(sentences, &mut tags);
    tags
}

/// Makes the same entity string carry the same type everywhere in a
/// document (majority vote), and gives a single-word entity that is the
/// last word of a multi-word person name (the "Putin" of "Vladimir Putin")
/// the person type. News repeats names, and the model is more reliable on
/// the full form than on a bare surname in a headline.
pub fn harmonise_types<S: AsRef<str>>(sentences: &[Vec<S>], tags: &mut [Vec<Tag>]) {
    use super::EntityKind;
    let mut votes: HashMap<String, [u32; 4]> = HashMap::new();
    let mut surnames: HashMap<String, ()> = HashMap::new();
    let text_of = |s: &[S], sp: &super::Span| -> String {
        s[sp.start..sp.end]
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(" ")
    };
    for (s, t) in sentences.iter().zip(tags.iter()) {
        for sp in spans_from_tags(t) {
            let key = text_of(s, &sp);
            let k = EntityKind::ALL
                .iter()
                .position(|&k| k == sp.kind)
                .unwrap_or(0);
            votes.entry(key).or_insert([0; 4])[k] += 1;
            if sp.kind == EntityKind::Person && sp.end - sp.start >= 2 {
                surnames.insert(s[sp.end - 1].as_ref().to_owned(), ());
            }
        }
    }
    for (s, t) in sentences.iter().zip(tags.iter_mut()) {
        for sp in spans_from_tags(t) {
            let key = text_of(s, &sp);
            let mut kind = sp.kind;
            if let Some(v) = votes.get(&key) {
                let best = (0..4).max_by_key(|&i| (v[i], u32::from(EntityKind::ALL[i] == sp.kind)));
                if let Some(b) = best {
                    kind = EntityKind::ALL[b];
                }
            }
            if sp.end - sp.start == 1 && surnames.contains_key(&key) {
                kind = EntityKind::Person;
            }
            if kind != sp.kind {
                t[sp.start] = Tag::B(kind);
                for tag in &mut t[sp.start + 1..sp.end] {
                    *tag = Tag::I(kind);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::EntityKind;

    fn tiny_model() -> Model {
        Model {
            bits: 8,
            scale: 0.5,
            weights: (0..(256 * NT)).map(|i| (i % 7) as i16 - 3).collect(),
            trans: (0..NT * NT).map(|i| i as f32 * 0.01).collect(),
            start: vec![0.1; NT],
            gaz: Gazetteer::from_texts("# p\nMoscow\n", "Kremlin\n")
                .with_persons("Vladimir\tf\n")
                .with_clusters("putin\t1\t2\t3\n"),
        }
    }

    #[test]
    fn viterbi_respects_bio_and_picks_best() {
        // Emissions strongly prefer I-PER at token 0, which is illegal.
        let mut em = vec![0f32; 2 * NT];
        em[Tag::I(EntityKind::Person).index()] = 10.0;
        em[Tag::B(EntityKind::Place).index()] = 1.0;
        em[NT + Tag::I(EntityKind::Place).index()] = 5.0;
        let path = viterbi(&em, &[0.0; NT * NT], &[0.0; NT]);
        assert_eq!(
            path,
            vec![
                Tag::B(EntityKind::Place).index(),
                Tag::I(EntityKind::Place).index()
            ]
        );
        // Transition scores can flip the decision.
        let mut trans = vec![0f32; NT * NT];
        trans[Tag::B(EntityKind::Place).index() * NT + Tag::I(EntityKind::Place).index()] = -20.0;
        let path = viterbi(&em, &trans, &[0.0; NT]);
        assert_ne!(path[1], Tag::I(EntityKind::Place).index());
    }

    #[test]
    fn round_trips_through_bytes() {
        let m = tiny_model();
        let bytes = m.to_bytes();
        let back = Model::from_bytes(&bytes).expect("valid bytes");
        assert_eq!(back.weights, m.weights);
        assert_eq!(back.trans, m.trans);
        assert_eq!(back.gaz.places.len(), 1);
        assert_eq!(back.gaz.persons.len(), 1);
        assert_eq!(back.gaz.clusters.get("putin"), [1, 2, 3]);
        let toks = ["Putin", "visited", "Moscow"];
        assert_eq!(tag_sentence(&m, &toks), tag_sentence(&back, &toks));
        assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn rejects_corrupt_bytes() {
        let bytes = tiny_model().to_bytes();
        assert!(matches!(
            Model::from_bytes(b"nonsense"),
            Err(ModelError::BadMagic)
        ));
        assert!(matches!(
            Model::from_bytes(&bytes[..bytes.len() - 3]),
            Err(ModelError::Truncated(_))
        ));
        let mut bad = bytes.clone();
        bad[8] = 99;
        assert!(matches!(
            Model::from_bytes(&bad),
            Err(ModelError::UnsupportedVersion(99))
        ));
    }

    #[test]
    fn harmonises_surnames_to_person() {
        let sents = vec![vec!["Vladimir", "Putin", "spoke"], vec!["Putin", "left"]];
        let p = EntityKind::Person;
        let mut tags = vec![
            vec![Tag::B(p), Tag::I(p), Tag::O],
            vec![Tag::B(EntityKind::Org), Tag::O],
        ];
        harmonise_types(&sents, &mut tags);
        assert_eq!(tags[1][0], Tag::B(p));
    }
}
