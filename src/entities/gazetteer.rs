//! Name lists (places, organisations) matched over token sequences.
//!
//! Owns parsing of the `models/gazetteer-*.txt` text format (one name per
//! line, `#` comments) and longest-match lookup over tokens. The lists are
//! embedded in the model file at training time so the features a model was
//! trained with are exactly the ones it sees at inference. Matching is
//! case-insensitive but only starts at a capitalised token: "reading" the
//! verb must not fire the place "Reading". This module never reads files;
//! callers hand in the text.

use super::clusters::WordClusters;
use super::features::{FxSet, norm_lower};
use super::tokenize::tokenize;

/// Longest phrase (in tokens) we look for; longer names are very rare and
/// each extra token costs a hash lookup per position.
const MAX_PHRASE_TOKENS: usize = 6;

/// One list of names.
#[derive(Debug, Clone, Default)]
pub struct PhraseList {
    phrases: FxSet,
    first_tokens: FxSet,
    max_len: usize,
}

impl PhraseList {
    /// Parses the one-name-per-line format; blank and `#` lines are skipped.
    pub fn parse(text: &str) -> PhraseList {
        let mut list = PhraseList::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            list.insert(line);
        }
        list
    }

    /// Adds one name.
    pub fn insert(&mut self, name: &str) {
        // Fast path for the common plain name: nothing the tokenizer would
        // split off, so whitespace splitting gives the same tokens.
        let plain = name
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '-');
        let toks: Vec<String> = if plain {
            name.split_whitespace().map(norm_lower).collect()
        } else {
            tokenize(name)
                .iter()
                .map(|t| norm_lower(&name[t.start..t.end]))
                .collect()
        };
        if toks.is_empty() || toks.len() > MAX_PHRASE_TOKENS {
            return;
        }
        self.max_len = self.max_len.max(toks.len());
        self.first_tokens.insert(toks[0].clone());
        self.phrases.insert(toks.join(" "));
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.phrases.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    /// Whether the exact (already lowercased, space-joined) phrase is listed.
    pub fn contains_lower(&self, phrase: &str) -> bool {
        self.phrases.contains(phrase)
    }

    /// Longest listed phrase starting at `start` in `lower` (lowercased
    /// tokens); returns its length in tokens.
    pub fn longest_at(&self, lower: &[String], start: usize) -> Option<usize> {
        if !self.first_tokens.contains(&lower[start]) {
            return None;
        }
        let mut key = String::new();
        let mut best = None;
        let max = self.max_len.min(lower.len() - start);
        for len in 1..=max {
            if len > 1 {
                key.push(' ');
            }
            key.push_str(&lower[start + len - 1]);
            if self.phrases.contains(&key) {
                best = Some(len);
            }
        }
        best
    }

    /// Marks tokens covered by a match: 0 = none, 1 = first token of a
    /// match, 2 = inside a match. Matches must begin at a token for which
    /// `capitalised` is true.
    pub fn mark(&self, lower: &[String], capitalised: &[bool]) -> Vec<u8> {
        let mut marks = vec![0u8; lower.len()];
        let mut i = 0;
        while i < lower.len() {
            if capitalised[i]
                && let Some(len) = self.longest_at(lower, i)
            {
                marks[i] = 1;
                for m in &mut marks[i + 1..i + len] {
                    *m = 2;
                }
                i += len;
                continue;
            }
            i += 1;
        }
        marks
    }
}

/// Given names and surnames (`gazetteer-persons.txt`: a name, a tab, and
/// `f`, `l` or `fl`), looked up one token at a time.
#[derive(Debug, Clone, Default)]
pub struct NameList {
    first: FxSet,
    last: FxSet,
}

impl NameList {
    /// Parses the list; blank and `#` lines are skipped.
    pub fn parse(text: &str) -> NameList {
        let mut list = NameList::default();
        for line in text.lines() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, kinds) = line.split_once('\t').unwrap_or((line, "f"));
            let name = norm_lower(name.trim());
            if kinds.contains('f') {
                list.first.insert(name.clone());
            }
            if kinds.contains('l') {
                list.last.insert(name);
            }
        }
        list
    }

    /// Bit 1: a listed given name; bit 2: a listed surname (lowercased key).
    pub fn code(&self, lower: &str) -> u8 {
        u8::from(self.first.contains(lower)) | u8::from(self.last.contains(lower)) << 1
    }

    /// Number of distinct names.
    pub fn len(&self) -> usize {
        self.first.union(&self.last).count()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.first.is_empty() && self.last.is_empty()
    }
}

/// The gazetteers and word clusters a model was trained with: the lexical knowledge from
/// outside the training data that the model file embeds.
#[derive(Debug, Clone, Default)]
pub struct Gazetteer {
    pub places: PhraseList,
    pub orgs: PhraseList,
    pub persons: NameList,
    pub clusters: WordClusters,
    /// Raw text of the lists, kept so the model file can embed them.
    pub(crate) places_text: String,
    pub(crate) orgs_text: String,
    pub(crate) persons_text: String,
    pub(crate) clusters_text: String,
}

impl Gazetteer {
    /// Builds from the text of `gazetteer-places.txt` and `gazetteer-orgs.txt`.
    pub fn from_texts(places: &str, orgs: &str) -> Gazetteer {
        Gazetteer {
            places: PhraseList::parse(places),
            orgs: PhraseList::parse(orgs),
            places_text: places.to_owned(),
            orgs_text: orgs.to_owned(),
            ..Gazetteer::default()
        }
    }

    /// Adds the text of `gazetteer-persons.txt`.
    pub fn with_persons(mut self, persons: &str) -> Gazetteer {
        self.persons = NameList::parse(persons);
        self.persons_text = persons.to_owned();
        self
    }

    /// Adds the text of `word-clusters.txt`.
    pub fn with_clusters(mut self, clusters: &str) -> Gazetteer {
        self.clusters = WordClusters::parse(clusters);
        self.clusters_text = clusters.to_owned();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_match_wins() {
        let list = PhraseList::parse("# header\nNew York\nNew York City\nYork\nSt. John's\n");
        assert_eq!(list.len(), 4);
        assert!(list.contains_lower("st. john 's"));
        let lower: Vec<String> = ["in", "new", "york", "city", "today"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let caps = [false, true, true, true, false];
        assert_eq!(list.mark(&lower, &caps), vec![0, 1, 2, 2, 0]);
        let caps = [false, false, true, true, false];
        assert_eq!(list.mark(&lower, &caps), vec![0, 0, 1, 0, 0]);
    }

    #[test]
    fn name_kinds() {
        let names = NameList::parse("# h\nJohn\tf\nSmith\tl\nJordan\tfl\n");
        assert_eq!(names.code("john"), 1);
        assert_eq!(names.code("smith"), 2);
        assert_eq!(names.code("jordan"), 3);
        assert_eq!(names.code("said"), 0);
        assert_eq!(names.len(), 3);
    }
}
