//! slovnet's word shapes (`slovnet.shape.word_shape`): the second input of
//! the network beside the word vector.
//!
//! Owns the mapping from a token to one of slovnet's 65 shape names, as a
//! dense index into [`SHAPES`] so tagging needs no string per token. The
//! mapping from these indices to the model's own shape ids is built at load
//! time from the vocabulary stored in the model file. Python's `str.isupper`,
//! `str.islower` and regex semantics are reproduced on purpose (see
//! [`py_isupper`]); "improving" them would feed the model shapes it never
//! saw in training.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::razdel::{is_digit, is_lat, is_ru};

/// slovnet's `PUNCTS`: the punctuation that gets a shape of its own.
const PUNCTS: &[char] = &[
    '!', '#', '$', '%', '&', '(', ')', '[', ']', '\\', '/', '*', '+', ',', '.', ':', ';', '<', '=',
    '>', '?', '@', '^', '_', '{', '|', '}', '~', '-', '‐', '−', '‒', '⁃', '–', '—', '―', '`', '"',
    '\'', '«', '»', '„', '“', 'ʼ', 'ʻ', '”', '№', '…',
];

const OUTLINES: [&str; 7] = ["X", "x", "XX", "xx", "Xx", "Xx-Xx", "OTHER"];

// Dense shape indices, in the order of slovnet's `SHAPES` list.
const RU: usize = 0;
const EN: usize = OUTLINES.len();
const PUNCT: usize = 2 * OUTLINES.len();
const PUNCT_OTHER: usize = PUNCT + PUNCTS.len();
const NUM: usize = PUNCT_OTHER + 1;
const OTHER: usize = NUM + 1;

/// Number of shapes slovnet defines.
pub const COUNT: usize = OTHER + 1;

/// The name of shape `index` as slovnet spells it (`RU_Xx`, `PUNCT_,`, `NUM`).
pub fn name(index: usize) -> String {
    match index {
        i if i < EN => format!("RU_{}", OUTLINES[i - RU]),
        i if i < PUNCT => format!("EN_{}", OUTLINES[i - EN]),
        i if i < PUNCT_OTHER => format!("PUNCT_{}", PUNCTS[i - PUNCT]),
        PUNCT_OTHER => "PUNCT_OTHER".to_owned(),
        NUM => "NUM".to_owned(),
        _ => "OTHER".to_owned(),
    }
}

fn is_titlecase(c: char) -> bool {
    c.general_category() == GeneralCategory::TitlecaseLetter
}

/// Python's `str.isupper`: no lowercase or titlecase character and at least
/// one uppercase one (digits and dashes are neither).
fn py_isupper(s: &str) -> bool {
    let mut cased = false;
    for c in s.chars() {
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        }
        cased |= c.is_uppercase();
    }
    cased
}

/// Python's `str.islower`, the mirror of [`py_isupper`].
fn py_islower(s: &str) -> bool {
    let mut cased = false;
    for c in s.chars() {
        if c.is_uppercase() || is_titlecase(c) {
            return false;
        }
        cased |= c.is_lowercase();
    }
    cased
}

fn is_title(word: &str) -> bool {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => {
            let rest = chars.as_str();
            !rest.is_empty() && first.is_uppercase() && py_islower(rest)
        }
        None => false,
    }
}

fn is_dash_title(word: &str) -> bool {
    word.split_once('-')
        .is_some_and(|(left, right)| is_title(left) && is_title(right))
}

/// Index into [`OUTLINES`].
fn outline(word: &str) -> usize {
    let mut chars = word.chars();
    let single = chars.next().is_some() && chars.next().is_none();
    if single {
        return if py_isupper(word) { 0 } else { 1 };
    }
    if py_isupper(word) {
        2
    } else if py_islower(word) {
        3
    } else if is_title(word) {
        4
    } else if is_dash_title(word) {
        5
    } else {
        6
    }
}

/// The shape of one token, as an index below [`COUNT`].
///
/// slovnet classifies by the start of the token only (`re.match` of
/// `RU | EN | NUM | PUNCT`, first alternative wins): "СИЗО-6" is RU,
/// "2011-2020" and "-5" are NUM.
pub fn shape(word: &str) -> usize {
    let mut chars = word.chars();
    let Some(first) = chars.next() else {
        return OTHER;
    };
    let second = chars.next();
    if is_ru(first) {
        RU + outline(word)
    } else if is_lat(first) {
        EN + outline(word)
    } else if is_digit(first) || (matches!(first, '+' | '-') && second.is_some_and(is_digit)) {
        NUM
    } else if let Some(pos) = PUNCTS.iter().position(|&p| p == first) {
        if second.is_none() {
            PUNCT + pos
        } else {
            // "...", "?!", "**"
            PUNCT_OTHER
        }
    } else {
        OTHER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_as_slovnet_names_them() {
        let cases = [
            ("Москва", "RU_Xx"),
            ("СИЗО-6", "RU_XX"),
            ("Нью-Йорк", "RU_Xx-Xx"),
            ("я", "RU_x"),
            ("Я", "RU_X"),
            ("iPhone", "EN_OTHER"),
            ("2011-2020", "NUM"),
            ("-5", "NUM"),
            ("+", "PUNCT_+"),
            ("?!", "PUNCT_OTHER"),
            ("{", "PUNCT_{"),
            ("ΔP", "OTHER"),
            ("Москва-река", "RU_Xx"),
        ];
        for (word, want) in cases {
            assert_eq!(name(shape(word)), want, "{word}");
        }
        assert_eq!(COUNT, 65);
        assert_eq!(name(COUNT - 1), "OTHER");
    }
}
