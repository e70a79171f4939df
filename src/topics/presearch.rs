//! The presearcher: which topics an article could possibly match.
//!
//! Owns the inverted index from required terms to topics, built once per
//! compiled [`TopicSet`](super::TopicSet), in the manner of Lucene Monitor.
//! Each topic is indexed under a set of keys one of which every matching
//! article must contain; per article we collect its distinct stems and
//! terms once, look them up, and evaluate only the topics found (plus those
//! that could not be indexed). It must never do I/O, read the clock or keep
//! global state, and it must never drop a topic that could match: a missed
//! candidate is a silently lost alert, while an extra one only costs an
//! evaluation.
//!
//! Key choice per clause:
//! - word → its stem; `=word` → its folded term; `prefix*` → the prefix,
//!   looked up by every leading part of the article's distinct terms, so the
//!   cost per article does not grow with the number of prefix topics;
//! - phrase and `"…"~N` → the rarest-looking of their stems (longest, never
//!   a stop word if another word exists), since every word must be present;
//! - AND and NEAR → the best-indexed child's keys (highest worst-case
//!   rarity, then fewest keys); OR → the union of its children's keys, or
//!   nothing if any child has none;
//! - NOT, metadata and regexes → nothing. A topic whose root has no keys
//!   (pure negation, metadata- or regex-only) runs on every article;
//! - a root AND/NEAR with two indexable children is indexed twice, under
//!   its two best children's keys, and is a candidate only when the article
//!   holds a key of each: `putin kremlin` is not evaluated on every article
//!   that merely says "putin".

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::lint::is_stop_word;
use super::matcher::{AnalyzedArticle, Leaf, LeafKind, Node};

/// FxHash-style hasher for the presearch maps. Their keys come from the
/// configured topics, not from articles, so a fast non-keyed hash cannot be
/// flooded by hostile article text; articles only probe.
#[derive(Default)]
pub(crate) struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(tail) ^ ((rest.len() as u64) << 56));
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Stem(String),
    Term(String),
    Prefix(String),
}

impl Key {
    /// How rare an article word matching this key is likely to be. Length is
    /// a cheap, dictionary-free proxy for rarity; stop words are as good as
    /// no key at all, and prefixes match more than whole words.
    fn rarity(&self) -> f64 {
        let (text, bonus) = match self {
            Key::Stem(s) => (s, 0.0),
            Key::Term(t) => (t, 0.5),
            Key::Prefix(p) => (p, -1.0),
        };
        if is_stop_word(text) {
            return 0.0;
        }
        text.chars().count() as f64 + bonus
    }
}

/// Keys whose presence an article needs to match `node`; `None` when no
/// finite set of text keys is required.
fn required(node: &Node, leaves: &[Leaf]) -> Option<Vec<Key>> {
    match node {
        Node::Leaf { leaf, .. } => {
            let leaf = leaves.get(usize::try_from(*leaf).ok()?)?;
            let best_stem = |stems: &[String]| {
                stems
                    .iter()
                    .map(|s| Key::Stem(s.clone()))
                    .max_by(|a, b| a.rarity().total_cmp(&b.rarity()))
                    .map(|k| vec![k])
            };
            match &leaf.kind {
                LeafKind::Stem(s) => Some(vec![Key::Stem(s.clone())]),
                LeafKind::Exact(t) => Some(vec![Key::Term(t.clone())]),
                LeafKind::Prefix(p) => Some(vec![Key::Prefix(p.clone())]),
                LeafKind::Phrase(stems) | LeafKind::Proximity(stems, _) => best_stem(stems),
                _ => None,
            }
        }
        Node::And(items) => best_of(items.iter().filter_map(|n| required(n, leaves))),
        Node::Near { left, right, .. } => best_of(
            [left, right]
                .into_iter()
                .filter_map(|n| required(n, leaves)),
        ),
        Node::Or(items) => {
            let mut all = Vec::new();
            for item in items {
                all.extend(required(item, leaves)?);
            }
            all.sort();
            all.dedup();
            Some(all)
        }
        Node::Not(_) => None,
    }
}

fn best_of(sets: impl Iterator<Item = Vec<Key>>) -> Option<Vec<Key>> {
    sets.max_by(|a, b| {
        let (qa, qb) = (quality(a), quality(b));
        qa.0.total_cmp(&qb.0).then(qa.1.total_cmp(&qb.1))
    })
}

/// The key sets of a topic's root. An AND or NEAR with two or more
/// indexable children gives its two best sets, and the article must hold a
/// key of each (two "passes", as Lucene Monitor's multipass presearcher
/// does): for `a b` that selects articles with both words, not either.
fn root_sets(root: &Node, leaves: &[Leaf]) -> Option<Vec<Vec<Key>>> {
    let children: Vec<&Node> = match root {
        Node::And(items) => items.iter().collect(),
        Node::Near { left, right, .. } => vec![left, right],
        other => return required(other, leaves).map(|keys| vec![keys]),
    };
    let mut sets: Vec<Vec<Key>> = children
        .into_iter()
        .filter_map(|n| required(n, leaves))
        .collect();
    if sets.is_empty() {
        return None;
    }
    sets.sort_by(|a, b| {
        let (qa, qb) = (quality(a), quality(b));
        qb.0.total_cmp(&qa.0).then(qb.1.total_cmp(&qa.1))
    });
    sets.truncate(2);
    Some(sets)
}

/// Worst-case rarity of a key set, then fewer keys: higher is better.
fn quality(set: &[Key]) -> (f64, f64) {
    let worst = set.iter().map(Key::rarity).fold(f64::INFINITY, f64::min);
    (worst, -(set.len() as f64))
}

/// Index entries are `topic << 1 | pass`.
type Entries = Vec<u32>;

/// Topic entries by key, plus the topics that must always run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Presearcher {
    topics: usize,
    /// Entries by stem id (ids are the [`TopicSet`](super::TopicSet)'s, so
    /// the article's stems are looked up once for presearch and evaluation).
    stems: Vec<Entries>,
    terms: FastMap<String, Entries>,
    prefixes: FastMap<String, Entries>,
    /// Bit n set when some indexed prefix has n + 1 chars: article terms are
    /// probed at those lengths only.
    prefix_lengths: u64,
    /// Topics that run on every article.
    always: Vec<u32>,
    /// Bitset of topics with a single pass (the second is then satisfied).
    single: Vec<u64>,
}

impl Presearcher {
    pub(crate) fn new<'n>(
        roots: impl Iterator<Item = &'n Node>,
        leaves: &[Leaf],
        stem_ids: &FastMap<String, u32>,
    ) -> Self {
        let mut p = Presearcher {
            stems: vec![Vec::new(); stem_ids.len()],
            ..Presearcher::default()
        };
        for (i, root) in roots.enumerate() {
            p.topics += 1;
            p.single.resize(p.topics.div_ceil(64), 0);
            // Topic ids fit 31 bits: a set of 2^31 topics is not a use case.
            let id = u32::try_from(i).unwrap_or(u32::MAX >> 1);
            // Every leaf stem has an id; if one had none the topic could not
            // be found by it, so it runs always rather than never.
            let sets = root_sets(root, leaves).filter(|sets| {
                sets.iter().flatten().all(|k| match k {
                    Key::Stem(s) => stem_ids.contains_key(s),
                    _ => true,
                })
            });
            let Some(sets) = sets else {
                p.always.push(id);
                p.single[i / 64] |= 1 << (i % 64);
                continue;
            };
            if sets.len() == 1 {
                p.single[i / 64] |= 1 << (i % 64);
            }
            for (pass, keys) in (0u32..).zip(sets) {
                let entry = id << 1 | pass;
                for key in keys {
                    let entries = match key {
                        Key::Stem(stem) => {
                            let slot = stem_ids.get(&stem).map(|&s| s as usize);
                            match slot.and_then(|s| p.stems.get_mut(s)) {
                                Some(entries) => entries,
                                None => continue,
                            }
                        }
                        Key::Term(term) => p.terms.entry(term).or_default(),
                        Key::Prefix(prefix) => {
                            // Longer prefixes share the last bit: probed at
                            // every length from 64 chars on.
                            let n = prefix.chars().count().clamp(1, 64);
                            p.prefix_lengths |= 1 << (n - 1);
                            p.prefixes.entry(prefix).or_default()
                        }
                    };
                    if entries.last() != Some(&entry) {
                        entries.push(entry);
                    }
                }
            }
        }
        p
    }

    pub(crate) fn always_run(&self) -> usize {
        self.always.len()
    }

    /// Candidate topic indices for `article`, whose stems known to the set
    /// are `stem_ids`; ascending and distinct.
    pub(crate) fn candidates(
        &self,
        article: &AnalyzedArticle,
        stem_ids: impl Iterator<Item = u32>,
    ) -> Vec<usize> {
        let words = self.topics.div_ceil(64);
        // Two bitsets back to back: topics with a key of pass 0, of pass 1.
        let mut seen = vec![0u64; 2 * words];
        let mut mark = |entries: &[u32]| {
            for &e in entries {
                let (topic, pass) = ((e >> 1) as usize, (e & 1) as usize);
                if let Some(word) = seen.get_mut(pass * words + topic / 64) {
                    *word |= 1 << (topic % 64);
                }
            }
        };
        for id in stem_ids {
            if let Some(entries) = self.stems.get(id as usize) {
                mark(entries);
            }
        }
        for index in [&article.title, &article.body] {
            if self.terms.is_empty() && self.prefixes.is_empty() {
                continue;
            }
            for term in index.distinct_terms() {
                if let Some(entries) = self.terms.get(term) {
                    mark(entries);
                }
                if self.prefixes.is_empty() {
                    continue;
                }
                let lengths = self.prefix_lengths;
                for (n, (at, c)) in term.char_indices().enumerate() {
                    if lengths >> n.min(63) == 0 {
                        break;
                    }
                    if lengths & (1 << n.min(63)) == 0 {
                        continue;
                    }
                    let prefix = term.get(..at + c.len_utf8());
                    if let Some(entries) = prefix.and_then(|p| self.prefixes.get(p)) {
                        mark(entries);
                    }
                }
            }
        }
        for &topic in &self.always {
            let topic = topic as usize;
            if let Some(word) = seen.get_mut(topic / 64) {
                *word |= 1 << (topic % 64);
            }
        }
        let mut out = Vec::new();
        for w in 0..words {
            let single = self.single.get(w).copied().unwrap_or(0);
            let mut bits = seen[w] & (seen[words + w] | single);
            while bits != 0 {
                out.push(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
        out
    }
}
