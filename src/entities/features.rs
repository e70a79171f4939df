//! Feature extraction: turns tokens of a sentence (plus document context and
//! gazetteers) into hashed feature indices.
//!
//! Owns the feature templates and the hash that maps them into the model's
//! fixed-size weight table. Training and inference must call exactly the same
//! code here — a template changed without retraining silently breaks the
//! model, which is why the model file stores [`FEATURE_VERSION`] and refuses
//! a mismatch. Every token gets exactly [`FEATURES_PER_TOKEN`] features so the
//! decoder can index them without per-token offsets. Must never allocate per
//! feature (only per token): it is on the hot path of tagging.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

use super::clusters::{ClusterIds, LEVELS};
use super::gazetteer::Gazetteer;

/// Bumped whenever templates or hashing change; stored in model files.
pub const FEATURE_VERSION: u32 = 6;

/// Features per token from [`extract`] (everything but prediction history).
pub const BASE_FEATURES: usize = 45;

/// Features per token the model scores: base plus [`add_history`]'s two.
pub const FEATURES_PER_TOKEN: usize = BASE_FEATURES + 2;

/// Positions (within a token's features) of the word-identity features:
/// the word, its lowercase, the bigrams with its neighbours and the
/// headline × word feature. Training may hide them (lexical dropout).
pub const LEXICAL: &[usize] = &[1, 2, 21, 22, 33];

/// FxHash-style multiplicative hasher for the string sets and maps on the
/// hot path (gazetteers: ~45k keys parsed on every model load; per-document
/// word maps). Keys are short words, and SipHash's flooding resistance buys
/// little here while costing load and tagging time.
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(buf))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// `HashSet<String>` with [`FxHasher`].
pub(crate) type FxSet = HashSet<String, BuildHasherDefault<FxHasher>>;
/// `HashMap<String, V>` with [`FxHasher`].
pub(crate) type FxMap<V> = HashMap<String, V, BuildHasherDefault<FxHasher>>;

/// Lowercases and unifies typographic quotes, so "’s" and "'s" or
/// “Kremlin” and "Kremlin" share features.
pub fn norm_lower(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(unify_quote)
        .collect()
}

fn norm_case(s: &str) -> String {
    s.chars().map(unify_quote).collect()
}

fn unify_quote(c: char) -> char {
    match c {
        '’' | '‘' | 'ʼ' | '`' => '\'',
        '“' | '”' | '„' | '«' | '»' => '"',
        '—' | '–' | '―' => '-',
        _ => c,
    }
}

/// Word shape, e.g. "Putin" → "Xxxxx", "1996-08-22" → "dddd-dd-dd",
/// truncated to 8 characters (long shape).
pub fn shape(s: &str) -> String {
    s.chars().take(8).map(char_class).collect()
}

/// Shape with runs collapsed, e.g. "Putin" → "Xx", "U.S." → "X.X.".
pub fn short_shape(s: &str) -> String {
    let mut out = String::new();
    let mut last = None;
    for c in s.chars().map(char_class) {
        if last != Some(c) {
            out.push(c);
            last = Some(c);
        }
    }
    out
}

fn char_class(c: char) -> char {
    if c.is_uppercase() {
        'X'
    } else if c.is_lowercase() || c.is_alphabetic() {
        'x'
    } else if c.is_numeric() {
        'd'
    } else {
        unify_quote(c)
    }
}

/// Whether the token starts with an uppercase letter.
pub fn is_capitalised(s: &str) -> bool {
    s.chars().next().is_some_and(char::is_uppercase)
}

fn is_all_caps(s: &str) -> bool {
    s.chars().any(char::is_alphabetic) && !s.chars().any(char::is_lowercase)
}

/// A sentence is a "headline" when it has no lowercase letters at all, as
/// in CoNLL's "SOCCER - JAPAN GET LUCKY WIN": capitalisation is then
/// uninformative and the model needs to know it.
fn sentence_is_all_caps(tokens: &[&str]) -> bool {
    let letters = tokens
        .iter()
        .filter(|t| t.chars().any(char::is_alphabetic))
        .count();
    letters > 1 && tokens.iter().all(|t| !t.chars().any(char::is_lowercase))
}

/// Document-level evidence about words, gathered from every sentence of a
/// document before any sentence is tagged. It lets a sentence-initial or
/// all-caps "PUTIN" borrow evidence from a mid-sentence "Putin" elsewhere,
/// and marks a lone "Putin" as the last part of "Vladimir Putin".
#[derive(Debug, Clone, Default)]
pub struct DocContext {
    /// Lowercased words seen capitalised mid-sentence (not in headlines).
    cap_mid: FxSet,
    /// Lowercased words seen written in lowercase.
    lower_seen: FxSet,
    /// Bit flags: 1 = first, 2 = last, 4 = middle of a run of ≥ 2
    /// capitalised words.
    in_run: FxMap<u8>,
}

impl DocContext {
    /// Builds the context from all sentences of one document.
    pub fn build<S: AsRef<str>>(sentences: &[Vec<S>]) -> DocContext {
        let mut ctx = DocContext::default();
        for sent in sentences {
            let toks: Vec<&str> = sent.iter().map(AsRef::as_ref).collect();
            if sentence_is_all_caps(&toks) {
                continue;
            }
            let mut run_start = None;
            for i in 0..=toks.len() {
                let cap = i < toks.len() && is_capitalised(toks[i]) && !is_all_caps(toks[i]);
                if i < toks.len() {
                    let tok = toks[i];
                    if tok.chars().next().is_some_and(char::is_lowercase) {
                        ctx.lower_seen.insert(norm_lower(tok));
                    } else if i > 0 && is_capitalised(tok) {
                        ctx.cap_mid.insert(norm_lower(tok));
                    }
                }
                match (cap, run_start) {
                    (true, None) => run_start = Some(i),
                    (false, Some(s)) => {
                        if i - s >= 2 {
                            for (j, tok) in toks.iter().enumerate().take(i).skip(s) {
                                let flag = if j == s {
                                    1
                                } else if j + 1 == i {
                                    2
                                } else {
                                    4
                                };
                                *ctx.in_run.entry(norm_lower(tok)).or_insert(0) |= flag;
                            }
                        }
                        run_start = None;
                    }
                    _ => {}
                }
            }
        }
        ctx
    }
}

/// Incremental FNV-1a-style hash with a final avalanche; written by hand
/// so bucket indices never depend on std's randomised hasher.
struct Hasher(u64);

impl Hasher {
    fn new(template: u32) -> Hasher {
        let mut h = Hasher(0xcbf2_9ce4_8422_2325);
        h.bytes(&template.to_le_bytes());
        h
    }

    fn bytes(&mut self, b: &[u8]) -> &mut Hasher {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Separator so ("ab","c") and ("a","bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        self
    }

    fn str(&mut self, s: &str) -> &mut Hasher {
        self.bytes(s.as_bytes())
    }

    fn finish(&self, mask: u32) -> u32 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        // Truncation is the point: we keep the low bits as the bucket.
        (x as u32) & mask
    }
}

/// Per-token strings computed once per sentence.
struct TokenInfo {
    word: String,
    lower: String,
    shape: String,
    sshape: String,
}

const PAD_BEFORE: &str = "<s>";
/// Cluster ids of the padding before and after a sentence (real ids are below 1024, and
/// unknown words have `u16::MAX`).
const CLUSTER_BEFORE: u16 = u16::MAX - 1;
const CLUSTER_AFTER: u16 = u16::MAX - 2;
const PAD_AFTER: &str = "</s>";

/// Extracts features for every token of a sentence into `out`
/// (`tokens.len() * FEATURES_PER_TOKEN` bucket indices, token-major).
pub fn extract(tokens: &[&str], gaz: &Gazetteer, doc: &DocContext, mask: u32, out: &mut Vec<u32>) {
    out.clear();
    let n = tokens.len();
    if n == 0 {
        return;
    }
    let info: Vec<TokenInfo> = tokens
        .iter()
        .map(|t| {
            let word = norm_case(t);
            TokenInfo {
                lower: norm_lower(t),
                shape: shape(&word),
                sshape: short_shape(&word),
                word,
            }
        })
        .collect();
    let headline = sentence_is_all_caps(tokens);
    let lowers: Vec<String> = info.iter().map(|t| t.lower.clone()).collect();
    let caps: Vec<bool> = tokens.iter().map(|t| is_capitalised(t)).collect();
    let place = gaz.places.mark(&lowers, &caps);
    let org = gaz.orgs.mark(&lowers, &caps);
    // Given-name / surname bits, only for capitalised tokens.
    let name: Vec<u8> = lowers
        .iter()
        .zip(&caps)
        .map(|(l, &c)| if c { gaz.persons.code(l) } else { 0 })
        .collect();

    let lower_at = |i: isize| -> &str {
        if i < 0 {
            PAD_BEFORE
        } else {
            info.get(i as usize).map_or(PAD_AFTER, |t| t.lower.as_str())
        }
    };
    let sshape_at = |i: isize| -> &str {
        if i < 0 {
            PAD_BEFORE
        } else {
            info.get(i as usize)
                .map_or(PAD_AFTER, |t| t.sshape.as_str())
        }
    };
    let clusters: Vec<ClusterIds> = lowers.iter().map(|l| gaz.clusters.get(l)).collect();
    let cluster_at = |i: isize, level: usize| -> [u8; 2] {
        let id = if i < 0 {
            CLUSTER_BEFORE
        } else {
            clusters.get(i as usize).map_or(CLUSTER_AFTER, |c| c[level])
        };
        id.to_le_bytes()
    };
    let mark_at = |m: &[u8], i: isize| -> u8 {
        if i < 0 {
            9
        } else {
            m.get(i as usize).copied().unwrap_or(9)
        }
    };

    out.reserve(n * FEATURES_PER_TOKEN);
    for (i, tok) in info.iter().enumerate() {
        let ii = i as isize;
        let mut push = |h: &Hasher| out.push(h.finish(mask));
        push(&Hasher::new(0));
        push(Hasher::new(1).str(&tok.word));
        push(Hasher::new(2).str(&tok.lower));
        push(Hasher::new(3).str(&tok.shape));
        push(Hasher::new(4).str(&tok.sshape));
        // Prefixes and suffixes by characters, 1..=4; shorter words repeat
        // the whole word, which is harmless and keeps the count fixed.
        let lower = tok.lower.as_str();
        for k in 1..=4usize {
            let p = lower.char_indices().nth(k).map_or(lower.len(), |(b, _)| b);
            push(Hasher::new(4 + k as u32).str(&lower[..p]));
        }
        for k in 1..=4usize {
            let s = lower.char_indices().rev().nth(k - 1).map_or(0, |(b, _)| b);
            push(Hasher::new(8 + k as u32).str(&lower[s..]));
        }
        push(Hasher::new(13).str(lower_at(ii - 1)));
        push(Hasher::new(14).str(lower_at(ii + 1)));
        push(Hasher::new(15).str(lower_at(ii - 2)));
        push(Hasher::new(16).str(lower_at(ii + 2)));
        push(Hasher::new(17).str(sshape_at(ii - 1)));
        push(Hasher::new(18).str(sshape_at(ii + 1)));
        push(Hasher::new(19).str(sshape_at(ii - 2)));
        push(Hasher::new(20).str(sshape_at(ii + 2)));
        push(Hasher::new(21).str(lower_at(ii - 1)).str(&tok.lower));
        push(Hasher::new(22).str(&tok.lower).str(lower_at(ii + 1)));
        push(
            Hasher::new(23)
                .str(sshape_at(ii - 1))
                .str(&tok.sshape)
                .str(sshape_at(ii + 1)),
        );
        let position: u8 = if i == 0 {
            0
        } else if i == 1 {
            1
        } else if i + 1 == n {
            2
        } else {
            3
        };
        push(Hasher::new(24).bytes(&[position]).str(&tok.sshape));
        let raw = tokens[i];
        let pattern: u8 = u8::from(is_capitalised(raw))
            | u8::from(is_all_caps(raw)) << 1
            | u8::from(raw.chars().any(char::is_numeric)) << 2
            | u8::from(raw.contains('-')) << 3
            | u8::from(raw.contains('.')) << 4
            | u8::from(raw.contains('\'') || raw.contains('’')) << 5
            | u8::from(headline) << 6
            | u8::from(i == 0) << 7;
        push(Hasher::new(25).bytes(&[pattern]));
        push(Hasher::new(26).bytes(&[place[i], u8::from(headline)]));
        push(Hasher::new(27).bytes(&[org[i], u8::from(headline)]));
        push(Hasher::new(28).bytes(&[mark_at(&place, ii - 1), place[i], mark_at(&place, ii + 1)]));
        push(Hasher::new(29).bytes(&[mark_at(&org, ii - 1), org[i], mark_at(&org, ii + 1)]));
        let cap_mid = doc.cap_mid.contains(&tok.lower);
        let lower_seen = doc.lower_seen.contains(&tok.lower);
        push(Hasher::new(30).bytes(&[
            u8::from(cap_mid),
            u8::from(lower_seen),
            u8::from(i == 0 || headline),
            u8::from(is_capitalised(raw)),
        ]));
        let run = doc.in_run.get(&tok.lower).copied().unwrap_or(0);
        push(Hasher::new(31).bytes(&[run, u8::from(is_capitalised(raw))]));
        push(
            Hasher::new(32)
                .bytes(&[run])
                .str(sshape_at(ii - 1))
                .str(&tok.sshape),
        );
        push(Hasher::new(33).bytes(&[u8::from(headline)]).str(&tok.lower));
        push(Hasher::new(34).str(lower_at(ii - 1)).str(&tok.sshape));
        push(Hasher::new(35).str(&tok.sshape).str(lower_at(ii + 1)));
        push(Hasher::new(36).bytes(&[
            mark_at(&name, ii - 1),
            name[i],
            mark_at(&name, ii + 1),
            u8::from(headline),
        ]));
        // Word clusters (see `clusters`): the word's own at every granularity, with its
        // capitalisation since the clusters are of lowercased words; the neighbours' at the
        // middle one, and at the finest with this word's capitalisation; and the coarse trigram.
        let cap = u8::from(is_capitalised(raw));
        for level in 0..LEVELS {
            push(
                Hasher::new(39 + level as u32)
                    .bytes(&[cap, u8::from(headline)])
                    .bytes(&cluster_at(ii, level)),
            );
        }
        push(Hasher::new(42).bytes(&cluster_at(ii - 1, 1)));
        push(Hasher::new(43).bytes(&cluster_at(ii + 1, 1)));
        push(
            Hasher::new(44)
                .bytes(&cluster_at(ii - 1, 0))
                .bytes(&cluster_at(ii, 0))
                .bytes(&cluster_at(ii + 1, 0)),
        );
        push(Hasher::new(45).bytes(&[cap]).bytes(&cluster_at(ii - 1, 2)));
        push(Hasher::new(46).bytes(&[cap]).bytes(&cluster_at(ii + 1, 2)));
    }
    debug_assert_eq!(out.len(), n * BASE_FEATURES);
}

/// Labels the model already gave a word earlier in the same document
/// ("extended prediction history", Ratinov & Roth 2009). A later
/// "Tsukanova" or an all-caps headline word then leans towards the type the
/// model chose where the context was clearer. Filled from the model's own
/// predictions both in training and at inference, so the feature means the
/// same thing in both.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Lowercased word → counts of [O, PER, ORG, LOC, MISC].
    counts: FxMap<[u32; 5]>,
}

impl History {
    /// Records predicted tags of one sentence. Only words with an uppercase
    /// letter are kept: lowercase words are rarely names and would just
    /// bloat the map.
    pub fn record<S: AsRef<str>>(&mut self, tokens: &[S], tags: &[super::Tag]) {
        for (tok, tag) in tokens.iter().zip(tags) {
            let tok = tok.as_ref();
            if !tok.chars().any(char::is_uppercase) {
                continue;
            }
            let slot = match tag.kind() {
                None => 0,
                Some(k) => 1 + k.index(),
            };
            self.counts.entry(norm_lower(tok)).or_insert([0; 5])[slot] += 1;
        }
    }

    /// 0 = never seen; else 1 + 2 × majority label + unanimity bit.
    fn code(&self, lower: &str) -> u8 {
        let Some(c) = self.counts.get(lower) else {
            return 0;
        };
        let total: u32 = c.iter().sum();
        let (best, &n) = c
            .iter()
            .enumerate()
            .max_by_key(|&(i, &n)| (n, std::cmp::Reverse(i)))
            .unwrap_or((0, &0));
        // best < 5, fits in u8.
        1 + 2 * best as u8 + u8::from(n == total)
    }
}

/// Interleaves `base` ([`BASE_FEATURES`] per token, from [`extract`]) with
/// the history features into `out` ([`FEATURES_PER_TOKEN`] per token).
pub fn add_history(tokens: &[&str], base: &[u32], hist: &History, mask: u32, out: &mut Vec<u32>) {
    out.clear();
    out.reserve(tokens.len() * FEATURES_PER_TOKEN);
    let headline = sentence_is_all_caps(tokens);
    for (i, (tok, b)) in tokens
        .iter()
        .zip(base.chunks_exact(BASE_FEATURES))
        .enumerate()
    {
        out.extend_from_slice(b);
        let code = if tok.chars().any(char::is_uppercase) {
            hist.code(&norm_lower(tok))
        } else {
            0
        };
        out.push(Hasher::new(37).bytes(&[code]).finish(mask));
        out.push(
            Hasher::new(38)
                .bytes(&[
                    code,
                    u8::from(is_capitalised(tok)),
                    u8::from(i == 0 || headline),
                ])
                .finish(mask),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(shape("Putin"), "Xxxxx");
        assert_eq!(short_shape("Putin"), "Xx");
        assert_eq!(short_shape("U.S."), "X.X.");
        assert_eq!(short_shape("1996-08-22"), "d-d-d");
        assert_eq!(short_shape("Москва"), "Xx");
        assert_eq!(norm_lower("Mother’s"), "mother's");
    }

    #[test]
    fn fixed_feature_count_and_determinism() {
        let gaz = Gazetteer::from_texts("Moscow\n", "Kremlin\n");
        let doc = DocContext::build(&[vec!["Vladimir", "Putin", "spoke"]]);
        let toks = ["Putin", "visited", "Moscow", "."];
        let mut a = Vec::new();
        let mut b = Vec::new();
        extract(&toks, &gaz, &doc, (1 << 20) - 1, &mut a);
        extract(&toks, &gaz, &doc, (1 << 20) - 1, &mut b);
        assert_eq!(a.len(), toks.len() * BASE_FEATURES);
        assert_eq!(a, b);
        assert!(a.iter().all(|&f| f < (1 << 20)));
        // Context matters: the same word with a different neighbour differs.
        extract(
            &["Putin", "left", "Moscow", "."],
            &gaz,
            &doc,
            (1 << 20) - 1,
            &mut b,
        );
        assert_ne!(a[..BASE_FEATURES], b[..BASE_FEATURES]);
    }

    #[test]
    fn words_of_one_cluster_share_cluster_features() {
        let gaz = Gazetteer::default()
            .with_clusters("putin\t1\t2\t3\nyeltsin\t1\t2\t3\nmoscow\t4\t5\t6\n");
        let doc = DocContext::default();
        let features_of = |word: &str| {
            let mut out = Vec::new();
            extract(&["said", word, "."], &gaz, &doc, (1 << 20) - 1, &mut out);
            out[BASE_FEATURES..2 * BASE_FEATURES].to_vec()
        };
        let cluster_features = 37..40;
        let (putin, yeltsin, moscow) = (
            features_of("Putin"),
            features_of("Yeltsin"),
            features_of("Moscow"),
        );
        assert_eq!(
            putin[cluster_features.clone()],
            yeltsin[cluster_features.clone()]
        );
        assert_ne!(putin[cluster_features.clone()], moscow[cluster_features]);
        // The word itself still tells them apart.
        assert_ne!(putin[1], yeltsin[1]);
    }

    #[test]
    fn history_reflects_earlier_predictions() {
        use crate::entities::{EntityKind, Tag};
        let mut hist = History::default();
        assert_eq!(hist.code("putin"), 0);
        hist.record(&["Putin", "said"], &[Tag::B(EntityKind::Person), Tag::O]);
        assert_eq!(hist.code("putin"), 1 + 2 + 1);
        assert_eq!(hist.code("said"), 0);
        hist.record(&["Putin"], &[Tag::B(EntityKind::Org)]);
        // Tie between PER and ORG goes to the lower index (PER), not unanimous.
        assert_eq!(hist.code("putin"), 1 + 2);
        let base = vec![0u32; BASE_FEATURES];
        let mut out = Vec::new();
        add_history(&["Putin"], &base, &hist, 1023, &mut out);
        assert_eq!(out.len(), FEATURES_PER_TOKEN);
    }

    #[test]
    fn doc_context_marks_name_runs() {
        let doc = DocContext::build(&[vec!["President", "Vladimir", "Putin", "said"]]);
        assert_eq!(doc.in_run.get("putin"), Some(&2));
        assert_eq!(doc.in_run.get("president"), Some(&1));
        assert!(doc.cap_mid.contains("putin"));
        assert!(doc.lower_seen.contains("said"));
    }
}
