//! The single analysis chain shared by topic queries and articles.
//!
//! Owns word segmentation, normalisation (folding) and stemming, plus
//! language detection in [`lang`]. Queries and articles must go through
//! exactly the same code here, otherwise a query word silently stops matching
//! the same word in an article. This module must never do I/O, read the
//! clock or keep global state: everything is pure and synchronous.
//!
//! Decisions worth knowing:
//! - Words are UAX#29 words that contain a letter or digit. Hyphens split
//!   words ("anti-war" analyses as "anti", "war"), so a hyphenated query
//!   word becomes a two-word phrase and still matches "anti war" and
//!   "anti-war" in articles; it does not match "antiwar".
//! - Colons split words too, although UAX#29 lets a colon join letters
//!   ("a:b"): in news text that is almost always missing spacing
//!   ("Kyiv:Russia"), and in queries `name:` is field syntax, so a folded
//!   term must never contain one.
//! - Apostrophes (', ’, ʼ) never split a word. A trailing possessive `'s` is
//!   dropped ("Mother's" → "mother"); other inner apostrophes are removed
//!   ("O'Brien" → "obrien", Ukrainian "сім'я" → "сімя"), so spellings with and
//!   without the apostrophe meet. A trailing plural-possessive apostrophe
//!   ("soldiers'") is not part of a UAX#29 word in the first place.
//! - Folding: NFKC, lowercase, diacritics stripped from Latin letters only
//!   (café → cafe, ß → ss) so Cyrillic letters such as й and ї stay intact;
//!   the one Cyrillic fold is ё → е because Russian writers use them
//!   interchangeably.
//! - Stemming is chosen per word from its letters, never from the article's
//!   language, because queries have no detectable language and must stem
//!   exactly like articles. Latin words use the English (Porter2) stemmer.
//!   Cyrillic words containing a letter that exists only in Ukrainian
//!   (і, ї, є, ґ) use the Ukrainian stemmer, all other Cyrillic words the
//!   Russian one. The same surface form therefore always gets the same stem;
//!   the price is that a Ukrainian inflection without those letters is
//!   stemmed as Russian, which only weakens recall for a few forms.
//!   Other scripts are left unstemmed. Stop words are never removed because
//!   phrases need them.

mod lang;

pub use lang::{Lang, detect_lang};

use snowball_stemmers_rs::{Algorithm, Stemmer};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use unicode_segmentation::UnicodeSegmentation;

/// One analysed word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Folded surface form; what prefix queries match against.
    pub term: String,
    /// Snowball stem of `term`; what words and phrases match against.
    pub stem: String,
    /// Byte offset of the word in the original input, for snippets.
    pub start: usize,
    /// Byte offset one past the word in the original input.
    pub end: usize,
    /// Index of the word among the tokens of this input (0, 1, 2…).
    pub position: u32,
}

/// Splits `text` into analysed words.
///
/// `lang` (the detected language, or a per-feed/per-topic override) is
/// deliberately ignored: stemming is chosen per word from its script (see
/// the module doc), because a query has no language of its own and must
/// stem exactly like the article, and because articles mix languages (a
/// Russian text quoting English names). The argument stays so callers need
/// not change if a language-aware step is ever added on both sides; the
/// language itself is used only by the `lang:` query field.
pub fn analyze(text: &str, lang: Option<Lang>) -> Vec<Token> {
    let _ = lang;
    let mut tokens = Vec::new();
    let pieces = text.unicode_word_indices().flat_map(|(start, word)| {
        word.split(':').scan(start, |at, piece| {
            let piece_start = *at;
            *at += piece.len() + 1;
            Some((piece_start, piece))
        })
    });
    for (start, word) in pieces {
        if !word.chars().any(char::is_alphanumeric) {
            continue;
        }
        let term = fold_word(word);
        if term.is_empty() {
            continue;
        }
        let stem = stem_term(&term);
        let position = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
        tokens.push(Token {
            term,
            stem,
            start,
            end: start + word.len(),
            position,
        });
    }
    tokens
}

/// Folds a whole string the way [`Token::term`] is folded (NFKC, lowercase,
/// Latin diacritics, ё → е, typographic apostrophes → '), keeping
/// punctuation and spacing, so regexes can run over normalised text.
///
/// Byte offsets do not survive this: use [`analyze`] when positions in the
/// original text are needed.
pub fn normalize(text: &str) -> String {
    // Most words are plain ASCII or basic Cyrillic, which NFKC and NFD/NFC
    // leave unchanged, so lowercasing (and ё → е) is the whole fold; the
    // general path costs three normalisation passes and showed up as most of
    // the time spent analysing an article.
    if text.chars().all(is_already_composed) {
        return text
            .chars()
            .flat_map(char::to_lowercase)
            .map(|c| if c == 'ё' { 'е' } else { c })
            .collect();
    }
    normalize_general(text)
}

/// ASCII and the basic Cyrillic block (with Ukrainian ґ): no compatibility
/// mappings, no decompositions that folding would change.
fn is_already_composed(c: char) -> bool {
    c.is_ascii() || matches!(c as u32, 0x0400..=0x045F | 0x0490 | 0x0491)
}

fn normalize_general(text: &str) -> String {
    let lowered: String = text.nfkc().flat_map(char::to_lowercase).collect();
    let mut out = String::with_capacity(lowered.len());
    let mut base_is_latin = false;
    for c in lowered.nfd() {
        if is_combining_mark(c) {
            // Only Latin marks are noise; Cyrillic ones make different letters
            // (и + breve = й, і + diaeresis = ї).
            if !base_is_latin {
                out.push(c);
            }
            continue;
        }
        base_is_latin = is_latin(c);
        match c {
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'ø' => out.push('o'),
            'ł' => out.push('l'),
            'đ' | 'ð' => out.push('d'),
            'þ' => out.push_str("th"),
            'ı' => out.push('i'),
            '\u{2019}' | '\u{2018}' | '\u{02BC}' => out.push('\''),
            _ => out.push(c),
        }
    }
    out.nfc().map(|c| if c == 'ё' { 'е' } else { c }).collect()
}

/// Stems an already folded term with the stemmer its letters call for.
///
/// Exposed so compiled queries can stem a stored term without re-segmenting
/// it.
pub fn stem_term(term: &str) -> String {
    let algorithm = if term.chars().any(is_cyrillic) {
        if term.chars().any(|c| matches!(c, 'і' | 'ї' | 'є' | 'ґ')) {
            Some(Algorithm::Ukrainian)
        } else {
            Some(Algorithm::Russian)
        }
    } else if term.chars().any(|c| is_latin(c) && c.is_alphabetic()) {
        Some(Algorithm::English)
    } else {
        None
    };
    match algorithm {
        Some(algorithm) => Stemmer::create(algorithm).stem(term).into_owned(),
        None => term.to_owned(),
    }
}

fn fold_word(word: &str) -> String {
    let mut term = normalize(word);
    if term.ends_with("'s") && term.len() > 2 {
        term.truncate(term.len() - 2);
    }
    term.retain(|c| c != '\'');
    term
}

fn is_latin(c: char) -> bool {
    c.is_ascii_alphabetic()
        || matches!(c as u32,
            0x00C0..=0x024F | 0x1E00..=0x1EFF | 0x2C60..=0x2C7F | 0xA720..=0xA7FF)
}

fn is_cyrillic(c: char) -> bool {
    matches!(c as u32,
        0x0400..=0x052F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        analyze(text, None).into_iter().map(|t| t.term).collect()
    }

    fn stems(text: &str) -> Vec<String> {
        analyze(text, None).into_iter().map(|t| t.stem).collect()
    }

    #[test]
    fn folding_table() {
        let cases: &[(&str, &[&str])] = &[
            ("Café CRÈME", &["cafe", "creme"]),
            ("Straße", &["strasse"]),
            ("Йошкар-Ола", &["йошкар", "ола"]),
            ("Ёлка ЁЖ", &["елка", "еж"]),
            ("Київ їжак", &["київ", "їжак"]),
            ("anti-war", &["anti", "war"]),
            ("soldiers' mothers", &["soldiers", "mothers"]),
            ("Mother's day", &["mother", "day"]),
            ("Mother’s day", &["mother", "day"]),
            ("O'Brien", &["obrien"]),
            ("сім'я сім’я", &["сімя", "сімя"]),
            ("ｆｕｌｌｗｉｄｔｈ", &["fullwidth"]),
            ("... — !!", &[]),
            ("2024 год", &["2024", "год"]),
            ("Kyiv:Russia a:b", &["kyiv", "russia", "a", "b"]),
        ];
        for (text, want) in cases {
            assert_eq!(terms(text), *want, "{text}");
        }
    }

    #[test]
    fn offsets_point_into_the_original() {
        let text = "Ça, Mother’s «мобилизация»!";
        for tok in analyze(text, None) {
            let slice = &text[tok.start..tok.end];
            assert_eq!(fold_word(slice), tok.term);
        }
        let toks = analyze(text, None);
        assert_eq!(
            toks.iter().map(|t| t.position).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(&text[toks[1].start..toks[1].end], "Mother’s");
    }

    #[test]
    fn inflections_share_a_stem() {
        let groups: &[&[&str]] = &[
            &["мобилизация", "мобилизации", "мобилизацию", "мобилизацией"],
            &["мобілізація", "мобілізації", "мобілізацію"],
            &["protests", "protest", "protested"],
            &["mothers", "mother", "Mother's"],
            &["soldiers", "soldier"],
        ];
        for group in groups {
            let first = stems(group[0]);
            for word in *group {
                assert_eq!(stems(word), first, "{word} vs {}", group[0]);
            }
        }
    }

    #[test]
    fn lang_never_changes_analysis() {
        let text = "Мобілізація мобилизация protests";
        let base = analyze(text, None);
        for lang in [Lang::En, Lang::Ru, Lang::Uk] {
            assert_eq!(analyze(text, Some(lang)), base);
        }
    }

    #[test]
    fn fast_fold_agrees_with_the_general_one() {
        let cyrillic: String = (0x0400u32..=0x045F)
            .chain([0x0490, 0x0491])
            .filter_map(char::from_u32)
            .collect();
        let ascii: String = (0u8..128).map(char::from).collect();
        for text in [
            cyrillic.as_str(),
            ascii.as_str(),
            "Йошкар-Ола ЁЖ їжак Ґанок",
            "O'Brien",
        ] {
            assert!(text.chars().all(is_already_composed), "{text}");
            assert_eq!(normalize(text), normalize_general(text), "{text}");
        }
    }

    #[test]
    fn normalize_keeps_punctuation() {
        assert_eq!(normalize("Café — Ёж’s"), "cafe — еж's");
        assert_eq!(normalize("й"), "й");
    }
}
