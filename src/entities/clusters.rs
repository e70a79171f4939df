//! Word clusters: English words grouped by meaning, so a name never seen in training still
//! shares features with names that were ("Tsvangirai" sits with other African politicians,
//! "Fenerbahce" with football clubs).
//!
//! Owns parsing of `models/word-clusters.txt` (built offline by
//! `scripts/build_word_clusters.py` from GloVe vectors: a word, then its cluster at three
//! granularities) and lookup by lowercased word. Like the gazetteers, the text is embedded in
//! the model file at training time so inference sees exactly the clusters training saw. This
//! module never reads files; callers hand in the text.

use super::features::{FxMap, norm_lower};

/// Number of granularities per word (coarse to fine).
pub const LEVELS: usize = 3;

/// Cluster ids of one word; [`WordClusters::UNKNOWN`] at every level for words not listed.
pub type ClusterIds = [u16; LEVELS];

/// Word → cluster ids.
#[derive(Debug, Clone, Default)]
pub struct WordClusters {
    ids: FxMap<ClusterIds>,
}

impl WordClusters {
    /// The ids of a word the list does not have: a cluster of its own.
    pub const UNKNOWN: ClusterIds = [u16::MAX; LEVELS];

    /// Parses `word<TAB>id<TAB>id<TAB>id` lines; blank lines, `#` lines and malformed lines
    /// (which the build script never writes) are skipped.
    pub fn parse(text: &str) -> WordClusters {
        // Sized up front: the shipped list has 200k words, and rehashing while it grows was a
        // visible share of the model's load time.
        let mut ids = FxMap::with_capacity_and_hasher(
            text.bytes().filter(|&b| b == b'\n').count(),
            Default::default(),
        );
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split('\t');
            let Some(word) = fields.next() else { continue };
            let mut parsed = Self::UNKNOWN;
            let mut complete = true;
            for slot in &mut parsed {
                match fields.next().and_then(|f| f.parse().ok()) {
                    Some(id) => *slot = id,
                    None => complete = false,
                }
            }
            if complete {
                // The list is lowercase already; only the rare word with a capital or a
                // typographic quote needs normalising.
                let key = if word
                    .bytes()
                    .all(|b| b.is_ascii() && !b.is_ascii_uppercase() && b != b'`')
                {
                    word.to_owned()
                } else {
                    norm_lower(word)
                };
                ids.insert(key, parsed);
            }
        }
        WordClusters { ids }
    }

    /// The clusters of a lowercased word.
    pub fn get(&self, lower: &str) -> ClusterIds {
        self.ids.get(lower).copied().unwrap_or(Self::UNKNOWN)
    }

    /// Number of words listed.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no word is listed.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_looks_up_lowercase() {
        let clusters =
            WordClusters::parse("# header\nputin\t3\t17\t900\nbroken\t1\n\nyeltsin\t3\t17\t901\n");
        assert_eq!(clusters.len(), 2);
        assert_eq!(clusters.get("putin"), [3, 17, 900]);
        assert_eq!(clusters.get("broken"), WordClusters::UNKNOWN);
        assert_eq!(clusters.get("medvedev"), WordClusters::UNKNOWN);
    }
}
