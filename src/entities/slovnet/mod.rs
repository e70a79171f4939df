//! Russian named-entity recognition: natasha's slovnet news NER model
//! (`slovnet_ner_news_v1` with navec news v1 embeddings), run in pure Rust.
//!
//! Owns the model ([`SlovnetNer`]: loading `models/slovnet-ner-news.bin`,
//! see `models/SLOVNET_MODEL_CARD.md`) and inference from text or tokens to
//! the crate's [`Tag`]s and [`Span`]s: razdel tokenisation ([`razdel`]),
//! word shapes ([`shape`]), navec lookup ([`navec`]), the CNN encoder
//! ([`cnn`]) and CRF decoding ([`crf`]). Pure and synchronous like the rest
//! of `entities`: bytes in, tags out, no I/O, no clock, no global state (the
//! only thing read from the environment is which SIMD instructions the CPU
//! has, once per load).
//!
//! It is a port, checked token by token against slovnet itself
//! (`tests/slovnet_parity.rs`), not a re-implementation: where slovnet does
//! something odd (its shapes, razdel's rules, tagging a whole text as one
//! sequence) this does the same, because the weights were trained on it.
//! slovnet's tags are PER, LOC and ORG; they map to
//! [`EntityKind::Person`], [`EntityKind::Place`] and [`EntityKind::Org`].

mod cnn;
mod crf;
mod file;
mod navec;
pub mod razdel;
pub mod shape;

use std::borrow::Cow;

use thiserror::Error;

use super::tokenize::TokSpan;
use super::{EntityKind, Span, Tag, spans_from_tags};
use cnn::{ConvLayer, Linear};
use crf::CrfScratch;
use file::Sections;
use navec::Navec;

/// The shipped Russian model, built into the binary like `models/ner.bin`.
pub static SHIPPED_SLOVNET: &[u8] = include_bytes!("../../../models/slovnet-ner-news.bin");

/// Width of slovnet's shape embedding.
const SHAPE_DIM: usize = 30;
/// Channels of the three convolutions (model.json of slovnet_ner_news_v1).
const LAYER_DIMS: [usize; 4] = [navec::DIM + SHAPE_DIM, 256, 128, 64];
/// Tokens a kernel-3 layer lets a token see on each side, summed over the
/// layers: the context a window of tokens needs to be computed exactly.
const MARGIN: usize = LAYER_DIMS.len() - 1;
/// Tokens encoded at a time: activations of 256 tokens stay in L2 cache,
/// and the margins add only 2 % of work.
const WINDOW: usize = 256;

/// Why model bytes could not be loaded.
#[derive(Debug, Error)]
pub enum SlovnetError {
    #[error("not a feedwatch slovnet model (bad magic)")]
    BadMagic,
    #[error("slovnet model truncated at byte {0}")]
    Truncated(usize),
    #[error("invalid slovnet model: {0}")]
    Invalid(String),
}

/// The slovnet NER network with its vocabularies. Immutable after loading;
/// share it behind an `Arc`, tag with `&self`.
#[derive(Clone)]
pub struct SlovnetNer {
    /// The model file; vocabulary and PQ indexes are read from it in place.
    data: Cow<'static, [u8]>,
    navec: Navec,
    /// `shape::COUNT` rows of `SHAPE_DIM`, ordered by our shape index.
    shape_emb: Vec<f32>,
    layers: Vec<ConvLayer>,
    proj: Linear,
    /// `tags × tags`, `[from][to]`.
    transitions: Vec<f32>,
    /// slovnet's tag vocabulary mapped to ours (`<pad>` → `O`).
    tags: Vec<Tag>,
    simd: bool,
}

impl std::fmt::Debug for SlovnetNer {
    // The derived form would print the 20 MB model file byte by byte.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlovnetNer")
            .field("bytes", &self.data.len())
            .field("words", &self.navec.words())
            .field("simd", &self.simd)
            .finish_non_exhaustive()
    }
}

/// Reusable buffers for tagging, so a long-running caller allocates once.
#[derive(Debug, Default)]
pub struct Scratch {
    lower: String,
    /// Per token: vocabulary row and shape index.
    features: Vec<(u32, u8)>,
    atoms: Vec<razdel::Atom>,
    tokens: Vec<TokSpan>,
    a: Vec<f32>,
    b: Vec<f32>,
    emissions: Vec<f32>,
    crf: CrfScratch,
    path: Vec<u8>,
}

impl SlovnetNer {
    /// The model built into the binary.
    pub fn shipped() -> Result<SlovnetNer, SlovnetError> {
        SlovnetNer::from_static(SHIPPED_SLOVNET)
    }

    /// Loads a model from bytes that live for the whole program (no copy of
    /// the vocabulary).
    pub fn from_static(bytes: &'static [u8]) -> Result<SlovnetNer, SlovnetError> {
        SlovnetNer::load(Cow::Borrowed(bytes))
    }

    /// Loads a model from an owned buffer (e.g. a file read at run time).
    pub fn from_vec(bytes: Vec<u8>) -> Result<SlovnetNer, SlovnetError> {
        SlovnetNer::load(Cow::Owned(bytes))
    }

    fn load(data: Cow<'static, [u8]>) -> Result<SlovnetNer, SlovnetError> {
        let (navec, shape_emb, layers, proj, transitions, tags) = {
            let s = Sections::parse(&data)?;
            let navec = Navec::load(&s)?;

            // Re-order the shape embedding by our shape index, matching by
            // name, so the file's vocabulary order is the only authority.
            let names = s.text("shape.vocab")?;
            let table = s.f32s("shape.embedding", &[names.len(), SHAPE_DIM])?;
            let mut shape_emb = vec![0.0f32; shape::COUNT * SHAPE_DIM];
            for (ours, row) in shape_emb.chunks_exact_mut(SHAPE_DIM).enumerate() {
                let name = shape::name(ours);
                let id = names.iter().position(|n| *n == name).ok_or_else(|| {
                    SlovnetError::Invalid(format!("shape {name} not in the model"))
                })?;
                row.copy_from_slice(&table[id * SHAPE_DIM..(id + 1) * SHAPE_DIM]);
            }

            let layers = (0..LAYER_DIMS.len() - 1)
                .map(|n| ConvLayer::load(&s, n, LAYER_DIMS[n], LAYER_DIMS[n + 1]))
                .collect::<Result<Vec<_>, _>>()?;
            let tag_names = s.text("tag.vocab")?;
            let tags = tag_names
                .iter()
                .map(|name| match *name {
                    "<pad>" => Ok(Tag::O),
                    other => Tag::from_conll(other)
                        .ok_or_else(|| SlovnetError::Invalid(format!("unknown tag {other}"))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let proj = Linear::load(&s, LAYER_DIMS[LAYER_DIMS.len() - 1], tags.len())?;
            let transitions = s.f32s("crf.transitions", &[tags.len(), tags.len()])?;
            (navec, shape_emb, layers, proj, transitions, tags)
        };
        Ok(SlovnetNer {
            data,
            navec,
            shape_emb,
            layers,
            proj,
            transitions,
            tags,
            simd: cnn::cpu_has_simd(),
        })
    }

    /// Words in the vocabulary (without `<unk>`).
    pub fn vocabulary_size(&self) -> usize {
        self.navec.words()
    }

    /// Whether `word` has its own vector (looked up lower-cased, as slovnet
    /// does).
    pub fn knows(&self, word: &str) -> bool {
        self.navec.lookup(&self.data, &word.to_lowercase()) != self.navec.unk()
    }

    /// Tags one sequence of tokens (slovnet's tag indices into
    /// `scratch.path`).
    fn tag_indices<'w>(
        &self,
        words: impl ExactSizeIterator<Item = &'w str>,
        scratch: &mut Scratch,
    ) {
        self.emissions(words, WINDOW, scratch);
        let Scratch {
            emissions,
            crf,
            path,
            ..
        } = scratch;
        crf::viterbi(&self.transitions, self.tags.len(), emissions, crf, path);
    }

    /// Tag scores of every token into `scratch.emissions`, computed
    /// `window` tokens at a time.
    ///
    /// A token's scores depend only on the `MARGIN` tokens on each side of
    /// it (one per kernel-3 layer), so each window is run with that much
    /// context and only its own rows are kept: the result is the same, bit
    /// for bit, as running the whole sequence at once (every output is the
    /// same sum in the same order), while the activations stay a few
    /// hundred KB however long the article. Only the CRF sees the whole
    /// sequence, as in slovnet.
    fn emissions<'w>(
        &self,
        words: impl ExactSizeIterator<Item = &'w str>,
        window: usize,
        scratch: &mut Scratch,
    ) {
        let Scratch {
            lower,
            features,
            a,
            b,
            emissions,
            ..
        } = scratch;
        features.clear();
        for word in words {
            lower.clear();
            if word.contains('Σ') {
                // Only `str::to_lowercase` knows final sigma (as Python's
                // `str.lower` does); worth an allocation for Greek only.
                lower.push_str(&word.to_lowercase());
            } else {
                lower.extend(word.chars().flat_map(char::to_lowercase));
            }
            let id = self.navec.lookup(&self.data, lower);
            features.push((id, shape::shape(word) as u8));
        }
        let t = features.len();
        let dim0 = LAYER_DIMS[0];
        let last = LAYER_DIMS[LAYER_DIMS.len() - 1];
        emissions.clear();
        let mut start = 0;
        while start < t {
            let end = t.min(start + window.max(1));
            let (from, to) = (start.saturating_sub(MARGIN), t.min(end + MARGIN));
            let n = to - from;
            a.clear();
            a.resize((n + 2) * dim0, 0.0);
            for (row, &(id, s)) in a[dim0..(n + 1) * dim0]
                .chunks_exact_mut(dim0)
                .zip(&features[from..to])
            {
                let (word_part, shape_part) = row.split_at_mut(navec::DIM);
                self.navec.embed(&self.data, id, word_part);
                let s = usize::from(s);
                shape_part.copy_from_slice(&self.shape_emb[s * SHAPE_DIM..(s + 1) * SHAPE_DIM]);
            }
            for layer in &self.layers {
                layer.forward(self.simd, a, n, b);
                std::mem::swap(a, b);
            }
            // Padded row 1 + i holds window token `from + i`.
            let rows = 1 + start - from..1 + end - from;
            self.proj
                .forward(&a[rows.start * last..rows.end * last], emissions);
            start = end;
        }
    }

    /// Tags one sequence of tokens. slovnet tags a whole text as one
    /// sequence; pass a document, not a sentence, to get its results.
    pub fn tag_words<S: AsRef<str>>(&self, words: &[S]) -> Vec<Tag> {
        let mut scratch = Scratch::default();
        let mut out = Vec::with_capacity(words.len());
        self.tag_words_with(words, &mut scratch, &mut out);
        out
    }

    /// [`SlovnetNer::tag_words`] with caller-owned buffers.
    pub fn tag_words_with<S: AsRef<str>>(
        &self,
        words: &[S],
        scratch: &mut Scratch,
        out: &mut Vec<Tag>,
    ) {
        self.tag_indices(words.iter().map(AsRef::as_ref), scratch);
        out.clear();
        out.extend(scratch.path.iter().map(|&i| self.tags[usize::from(i)]));
    }

    /// Tokenises `text` as razdel does and tags it as one sequence, as
    /// natasha's `Doc.tag_ner` does. Returns the tokens and their tags.
    pub fn tag_text(&self, text: &str) -> (Vec<TokSpan>, Vec<Tag>) {
        let mut scratch = Scratch::default();
        let mut tags = Vec::new();
        let tokens = self.tag_text_with(text, &mut scratch, &mut tags).to_vec();
        (tokens, tags)
    }

    /// [`SlovnetNer::tag_text`] with caller-owned buffers; the tokens are
    /// returned from the scratch.
    pub fn tag_text_with<'s>(
        &self,
        text: &str,
        scratch: &'s mut Scratch,
        out: &mut Vec<Tag>,
    ) -> &'s [TokSpan] {
        let mut tokens = std::mem::take(&mut scratch.tokens);
        razdel::tokenize_into(text, &mut scratch.atoms, &mut tokens);
        self.tag_indices(tokens.iter().map(|t| &text[t.start..t.end]), scratch);
        out.clear();
        out.extend(scratch.path.iter().map(|&i| self.tags[usize::from(i)]));
        scratch.tokens = tokens;
        &scratch.tokens
    }

    /// Entities in `text`: kind and byte range, in order.
    pub fn entities(&self, text: &str) -> Vec<(EntityKind, std::ops::Range<usize>)> {
        let (tokens, tags) = self.tag_text(text);
        spans_from_tags(&tags)
            .into_iter()
            .map(|Span { kind, start, end }| (kind, tokens[start].start..tokens[end - 1].end))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_model_loads_and_finds_russian_entities() {
        let ner = SlovnetNer::shipped().expect("shipped model loads");
        assert_eq!(ner.vocabulary_size(), 150_000);
        assert!(ner.knows("Москва") && ner.knows("путин") && !ner.knows("фывапролдж"));
        // slovnet itself gives exactly these four (natasha 1.6.0).
        let text = "Владимир Путин прилетел в Самару, а Министерство обороны РФ промолчало.";
        let found: Vec<(EntityKind, &str)> = ner
            .entities(text)
            .into_iter()
            .map(|(k, r)| (k, &text[r]))
            .collect();
        assert_eq!(
            found,
            [
                (EntityKind::Person, "Владимир Путин"),
                (EntityKind::Place, "Самару"),
                (EntityKind::Org, "Министерство обороны"),
                (EntityKind::Place, "РФ"),
            ]
        );
        assert!(ner.tag_words::<&str>(&[]).is_empty());
        assert_eq!(ner.tag_text("   ").0.len(), 0);
    }

    #[test]
    fn windows_give_the_same_scores_as_one_pass() {
        let ner = SlovnetNer::shipped().expect("shipped model loads");
        let text = include_str!("../../../tests/fixtures/slovnet/sample.txt");
        // 150 tokens keep the test quick unoptimised; window 1 is 7× work.
        let tokens = &razdel::tokenize(text)[..150];
        let words = || tokens.iter().map(|t| &text[t.start..t.end]);
        let mut scratch = Scratch::default();
        ner.emissions(words(), usize::MAX, &mut scratch);
        let whole = scratch.emissions.clone();
        assert_eq!(whole.len(), tokens.len() * ner.tags.len());
        for window in [1, 2, 7, 100, 149] {
            ner.emissions(words(), window, &mut scratch);
            assert!(
                scratch.emissions == whole,
                "window {window} changes the scores"
            );
        }
    }

    #[test]
    fn rejects_bad_bytes() {
        assert!(matches!(
            SlovnetNer::from_vec(b"nope".to_vec()),
            Err(SlovnetError::Truncated(_) | SlovnetError::BadMagic)
        ));
        let mut cut = SHIPPED_SLOVNET[..SHIPPED_SLOVNET.len() / 2].to_vec();
        assert!(SlovnetNer::from_vec(cut.clone()).is_err());
        cut.truncate(20);
        assert!(SlovnetNer::from_vec(cut).is_err());
    }
}
