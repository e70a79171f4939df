//! Site-template learning, the pure part: fingerprints of text blocks seen
//! on a host's pages, counted per distinct page, so blocks that recur on
//! many pages of one site (author bios, newsletter boxes, "X is committed
//! to…" notes that CMS templates inject *inside* the article body, where no
//! generic heuristic can tell them from prose) are dropped from later pages.
//!
//! A [`HostMemory`] is a plain value: the caller loads it (e.g. from a DB
//! row via [`HostMemory::from_bytes`]), passes it to extraction, then calls
//! [`HostMemory::learn`] with the page's [`PageBlocks`] and stores
//! [`HostMemory::to_bytes`] back. Size is bounded: at most
//! [`MAX_FINGERPRINTS`] entries; when full, the entry with the fewest pages
//! (oldest first among ties) is evicted, so recurring template blocks, which
//! keep getting counted, survive while one-off article paragraphs churn.
//!
//! Fingerprints use FNV-1a over normalised text (lowercased words), not
//! `std`'s hasher: stored memories must stay valid across Rust releases.

use std::collections::HashMap;

/// Per-host bound on remembered fingerprints.
pub const MAX_FINGERPRINTS: usize = 2_000;

/// A block must have been seen on at least this many distinct pages of the
/// host before it is treated as template. Three (not two) because two
/// articles of one story can legitimately share a paragraph.
pub const MIN_PAGES: u32 = 3;

/// Blocks with fewer words are not fingerprinted for removal: short
/// recurring lines ("Advertisement", "Photo: Reuters") are cheap to keep
/// and other filters handle them, while short article lines ("He agreed.")
/// recur by chance across a busy site.
pub const MIN_BLOCK_WORDS: usize = 4;

const MAGIC: &[u8; 4] = b"HM01";

/// Fingerprints of the candidate text blocks of one page, to learn from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageBlocks {
    /// Distinct fingerprints, in page order.
    pub fingerprints: Vec<u64>,
}

impl PageBlocks {
    /// Adds a block's fingerprint unless the block is too short or already
    /// present (a page counts once per block).
    pub fn push_text(&mut self, text: &str) {
        if let Some(fp) = fingerprint(text) {
            self.push(fp);
        }
    }

    /// Adds a fingerprint computed by [`fingerprint`], once per page.
    pub fn push(&mut self, fp: u64) {
        // Pages have tens to a few hundred blocks: a linear scan is cheaper
        // than hashing, and keeps page order without a second structure.
        if !self.fingerprints.contains(&fp) {
            self.fingerprints.push(fp);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// Distinct pages this block was seen on (saturating).
    pages: u32,
    /// Value of `HostMemory::pages_seen` when last seen, for eviction order.
    last_seen: u64,
}

/// Remembered block fingerprints of one host. See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostMemory {
    entries: HashMap<u64, Entry>,
    pages_seen: u64,
}

impl HostMemory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of pages learned from.
    pub fn pages_seen(&self) -> u64 {
        self.pages_seen
    }

    /// Number of remembered fingerprints (≤ [`MAX_FINGERPRINTS`]).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records one page's blocks.
    pub fn learn(&mut self, blocks: &PageBlocks) {
        self.pages_seen += 1;
        let now = self.pages_seen;
        for &fp in &blocks.fingerprints {
            if let Some(e) = self.entries.get_mut(&fp) {
                e.pages = e.pages.saturating_add(1);
                e.last_seen = now;
                continue;
            }
            if self.entries.len() >= MAX_FINGERPRINTS {
                self.evict_one(now);
            }
            self.entries.insert(
                fp,
                Entry {
                    pages: 1,
                    last_seen: now,
                },
            );
        }
    }

    /// Drops the least useful entry: fewest pages, then least recently seen.
    /// Entries from the page being learned are spared (they would be
    /// re-added at once), unless nothing else is left.
    fn evict_one(&mut self, now: u64) {
        let victim = self
            .entries
            .iter()
            .min_by_key(|(fp, e)| (e.last_seen == now, e.pages, e.last_seen, **fp))
            .map(|(fp, _)| *fp);
        if let Some(fp) = victim {
            self.entries.remove(&fp);
        }
    }

    /// Pages of this host on which a block with this text was seen.
    pub fn pages_with(&self, text: &str) -> u32 {
        fingerprint(text)
            .and_then(|fp| self.entries.get(&fp))
            .map_or(0, |e| e.pages)
    }

    /// Whether the block is site template (seen on ≥ [`MIN_PAGES`] pages).
    pub fn is_boilerplate(&self, text: &str) -> bool {
        self.pages_with(text) >= MIN_PAGES
    }

    /// [`Self::is_boilerplate`] for a precomputed [`fingerprint`].
    pub fn is_boilerplate_fp(&self, fp: u64) -> bool {
        self.entries.get(&fp).is_some_and(|e| e.pages >= MIN_PAGES)
    }

    /// Little-endian: magic, `pages_seen` u64, count u32, then per entry
    /// fingerprint u64, pages u32, last_seen u64. Sorted by fingerprint so
    /// equal memories give equal bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v: Vec<(&u64, &Entry)> = self.entries.iter().collect();
        v.sort_by_key(|(fp, _)| **fp);
        let mut out = Vec::with_capacity(16 + v.len() * 20);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.pages_seen.to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        for (fp, e) in v {
            out.extend_from_slice(&fp.to_le_bytes());
            out.extend_from_slice(&e.pages.to_le_bytes());
            out.extend_from_slice(&e.last_seen.to_le_bytes());
        }
        out
    }

    /// Inverse of [`Self::to_bytes`]; `None` on any malformed input (the
    /// caller then starts a fresh memory). Entries beyond the bound are
    /// ignored rather than trusted.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let rest = bytes.strip_prefix(MAGIC.as_slice())?;
        let (pages_seen, rest) = take_u64(rest)?;
        let (count, mut rest) = take_u32(rest)?;
        let count = count as usize;
        if rest.len() != count.checked_mul(20)? {
            return None;
        }
        let mut entries = HashMap::with_capacity(count.min(MAX_FINGERPRINTS));
        for _ in 0..count {
            let (fp, r) = take_u64(rest)?;
            let (pages, r) = take_u32(r)?;
            let (last_seen, r) = take_u64(r)?;
            rest = r;
            if entries.len() < MAX_FINGERPRINTS {
                entries.insert(fp, Entry { pages, last_seen });
            }
        }
        Some(HostMemory {
            entries,
            pages_seen,
        })
    }
}

fn take_u64(b: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = b.split_first_chunk::<8>()?;
    Some((u64::from_le_bytes(*head), rest))
}

fn take_u32(b: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = b.split_first_chunk::<4>()?;
    Some((u32::from_le_bytes(*head), rest))
}

/// FNV-1a over the lowercased alphanumeric words joined by single spaces,
/// so whitespace, punctuation and case changes in the template do not
/// defeat matching. `None` for blocks under [`MIN_BLOCK_WORDS`] words.
pub fn fingerprint(text: &str) -> Option<u64> {
    let (h, words) = text_hash(text);
    (words >= MIN_BLOCK_WORDS).then_some(h)
}

/// The hash behind [`fingerprint`], for any length, with the word count.
pub fn text_hash(text: &str) -> (u64, usize) {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut words = 0usize;
    for word in text
        .split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
    {
        if words > 0 {
            h ^= u64::from(b' ');
            h = h.wrapping_mul(PRIME);
        }
        words += 1;
        for c in word.chars() {
            h ^= u64::from(fold_case(c));
            h = h.wrapping_mul(PRIME);
        }
    }
    (h, words)
}

/// Word characters for hashing and agreement measures. ASCII is exact;
/// beyond it, anything but whitespace and the common punctuation blocks
/// counts. `char::is_alphanumeric` would be exact everywhere but takes a
/// slow table lookup per non-ASCII character, which dominated the time on
/// long Cyrillic pages; hashes only need to be consistent, not linguistic.
pub(crate) fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    !(c.is_whitespace()
        || ('\u{a0}'..='\u{bf}').contains(&c)
        || ('\u{2000}'..='\u{206f}').contains(&c)
        || ('\u{3000}'..='\u{303f}').contains(&c)
        || ('\u{ff00}'..='\u{ff0f}').contains(&c)
        || c == '\u{d7}'
        || c == '\u{f7}')
}

/// Lowercase for the common cases (ASCII, Latin-1, Greek, Cyrillic ranges
/// map one-to-one); other characters hash as they are.
pub(crate) fn fold_case(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(texts: &[&str]) -> PageBlocks {
        let mut b = PageBlocks::default();
        for t in texts {
            b.push_text(t);
        }
        b
    }

    #[test]
    fn fingerprint_ignores_case_space_and_punctuation() {
        assert_eq!(
            fingerprint("About the  writer: Jane Doe."),
            fingerprint("about the writer jane doe")
        );
        assert_ne!(
            fingerprint("one two three four"),
            fingerprint("one two three five")
        );
        assert_eq!(fingerprint("too short"), None);
    }

    #[test]
    fn needs_three_distinct_pages() {
        let bio = "About the writer Jane Doe covers politics";
        let mut m = HostMemory::new();
        // Twice on one page still counts once.
        m.learn(&page(&[bio, bio]));
        m.learn(&page(&[bio]));
        assert!(!m.is_boilerplate(bio));
        m.learn(&page(&[bio, "some unrelated paragraph of text"]));
        assert!(m.is_boilerplate(bio));
        assert!(!m.is_boilerplate("some unrelated paragraph of text"));
    }

    #[test]
    fn bounded_and_keeps_recurring_blocks() {
        let bio = "About the writer Jane Doe covers politics";
        let mut m = HostMemory::new();
        for i in 0..400 {
            let texts: Vec<String> = (0..10)
                .map(|j| format!("unique paragraph number {i} {j} here"))
                .collect();
            let mut b = page(&[bio]);
            for t in &texts {
                b.push_text(t);
            }
            m.learn(&b);
            assert!(m.len() <= MAX_FINGERPRINTS);
        }
        assert!(m.is_boilerplate(bio));
        assert_eq!(m.pages_with(bio), 400);
    }

    #[test]
    fn bytes_round_trip_and_reject_garbage() {
        let mut m = HostMemory::new();
        m.learn(&page(&["a b c d e", "f g h i j"]));
        m.learn(&page(&["a b c d e"]));
        let bytes = m.to_bytes();
        assert_eq!(HostMemory::from_bytes(&bytes), Some(m.clone()));
        assert_eq!(HostMemory::from_bytes(&bytes[..bytes.len() - 1]), None);
        assert_eq!(HostMemory::from_bytes(b"junk"), None);
        assert_eq!(HostMemory::from_bytes(&[]), None);
        assert_eq!(
            HostMemory::from_bytes(&HostMemory::new().to_bytes()),
            Some(HostMemory::new())
        );
    }
}
