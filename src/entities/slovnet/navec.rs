//! navec word vectors: vocabulary lookup and product-quantised embeddings.
//!
//! Owns the word → id mapping (lower-cased word; unknown words share the
//! `<unk>` row, as slovnet's `Vocab.encode` does) and the expansion of a
//! word's 100 centroid indices into its 300-float vector. The vocabulary
//! and the per-word indices stay in the model file's bytes (about 17 MB,
//! used in place); only the 300 KB of centroids are copied out. The
//! vocabulary is sorted by UTF-8 bytes, so a lookup is a binary search and
//! loading builds no hash map. `<pad>` is not stored: its vector is zero,
//! which the encoder's zero padding already is.

use std::ops::Range;

use super::SlovnetError;
use super::file::{Dtype, Sections};

/// Dimensions of navec news v1: 100 sub-vectors of 3 floats, 256 centroids
/// each.
pub(super) const QDIM: usize = 100;
pub(super) const CENTROIDS: usize = 256;
pub(super) const CHUNK: usize = 3;
pub(super) const DIM: usize = QDIM * CHUNK;

/// Where the vocabulary and quantised vectors live in the model bytes.
#[derive(Debug, Clone)]
pub(super) struct Navec {
    /// `words + 1` little-endian u32 offsets into `bytes`.
    offsets: Range<usize>,
    bytes: Range<usize>,
    /// `(words + 1) × QDIM` centroid indices; the last row is `<unk>`.
    indexes: Range<usize>,
    words: usize,
    /// `QDIM × CENTROIDS × CHUNK`.
    codes: Vec<f32>,
}

impl Navec {
    pub fn load(s: &Sections<'_>) -> Result<Navec, SlovnetError> {
        let offsets = s.get("vocab.offsets", Dtype::U32, &[None])?;
        let words = offsets.dims[0]
            .checked_sub(1)
            .ok_or_else(|| SlovnetError::Invalid("empty vocabulary offsets".into()))?;
        let bytes = s.get("vocab.bytes", Dtype::U8, &[None])?;
        let indexes = s.get("navec.indexes", Dtype::U8, &[Some(words + 1), Some(QDIM)])?;
        let codes = s.f32s("navec.codes", &[QDIM, CENTROIDS, CHUNK])?;
        let navec = Navec {
            offsets: offsets.range.clone(),
            bytes: bytes.range.clone(),
            indexes: indexes.range.clone(),
            words,
            codes,
        };
        // Offsets must be ascending and inside the string blob, or lookups
        // could slice out of bounds; checking once here keeps `word` total.
        let all = s.bytes(offsets);
        let blob_len = bytes.range.len();
        let mut prev = 0usize;
        for c in all.chunks_exact(4) {
            let o = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize;
            if o < prev || o > blob_len {
                return Err(SlovnetError::Invalid(
                    "vocabulary offsets out of order".into(),
                ));
            }
            prev = o;
        }
        Ok(navec)
    }

    /// Row of `<unk>`.
    pub fn unk(&self) -> u32 {
        self.words as u32
    }

    pub fn words(&self) -> usize {
        self.words
    }

    fn offset(&self, data: &[u8], i: usize) -> usize {
        let at = self.offsets.start + 4 * i;
        let b = &data[at..at + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
    }

    fn word<'d>(&self, data: &'d [u8], i: usize) -> &'d [u8] {
        let (a, b) = (self.offset(data, i), self.offset(data, i + 1));
        &data[self.bytes.start + a..self.bytes.start + b]
    }

    /// Row of an already lower-cased word, `<unk>` when absent.
    pub fn lookup(&self, data: &[u8], lower: &str) -> u32 {
        let key = lower.as_bytes();
        let (mut lo, mut hi) = (0usize, self.words);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.word(data, mid).cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return mid as u32,
            }
        }
        self.unk()
    }

    /// Writes the 300-float vector of row `id` into `out`.
    pub fn embed(&self, data: &[u8], id: u32, out: &mut [f32]) {
        let start = self.indexes.start + id as usize * QDIM;
        let idx = &data[start..start + QDIM];
        for ((q, &c), dst) in idx.iter().enumerate().zip(out.chunks_exact_mut(CHUNK)) {
            let at = (q * CENTROIDS + usize::from(c)) * CHUNK;
            dst.copy_from_slice(&self.codes[at..at + CHUNK]);
        }
    }
}
