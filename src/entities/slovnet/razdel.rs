//! Word tokenisation as razdel 0.5.0 (`razdel.tokenize`) does it, which is
//! what slovnet was trained on and what natasha feeds it.
//!
//! Owns the character classes of razdel's atom regex (with Python's
//! case-insensitive and Unicode semantics spelled out, see [`atom_kind`]) and
//! its join rules between adjacent atoms. It must stay a faithful port, not a
//! better tokeniser: the model's features (word ids and shapes) are only
//! right for the tokens razdel would have produced. Every token is a byte
//! range of the input; the text is never changed. Checked against razdel on
//! random strings in `tests/slovnet_parity.rs`.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::entities::tokenize::TokSpan;

/// razdel's atom types, in the order its regex tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ru,
    Lat,
    Int,
    Punct,
    Other,
}

/// One razdel atom (exposed only so callers can reuse the buffer).
#[derive(Debug, Clone, Copy)]
pub struct Atom {
    start: usize,
    end: usize,
    kind: Kind,
    /// The character, for one-character atoms (all of `Punct` and `Other`);
    /// the join rules only ever compare single characters.
    ch: Option<char>,
}

const DASHES: &[char] = &['‑', '–', '—', '−', '-'];
const ENDINGS: &[char] = &['.', '?', '!', '…'];

/// razdel's `PUNCTS`. Its `OPEN_BRACKETS` is `([}`, so `{` is not here and
/// falls to OTHER; kept as razdel has it.
fn is_punct(c: char) -> bool {
    matches!(
        c,
        '\\' | '/'
            | '!'
            | '#'
            | '$'
            | '%'
            | '&'
            | '*'
            | '+'
            | ','
            | '.'
            | ':'
            | ';'
            | '<'
            | '='
            | '>'
            | '?'
            | '@'
            | '^'
            | '_'
            | '`'
            | '|'
            | '~'
            | '№'
            | '…'
            | '‑'
            | '–'
            | '—'
            | '−'
            | '-'
            | '«'
            | '“'
            | '‘'
            | '»'
            | '”'
            | '’'
            | '"'
            | '„'
            | '\''
            | '('
            | '['
            | '}'
            | ')'
            | ']'
    )
}

/// `[а-яё]` under Python's `re.IGNORECASE`: both cases, plus the historic
/// Cyrillic letter variants U+1C80–U+1C86 whose case folding lands in the
/// range (ᲀ folds with в, ᲁ with д, …).
pub(super) fn is_ru(c: char) -> bool {
    matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё' | '\u{1C80}'..='\u{1C86}')
}

/// `[a-z]` under `re.IGNORECASE`: both cases plus the four non-ASCII
/// characters Python folds onto Latin letters (İ, ı, ſ and the Kelvin sign).
pub(super) fn is_lat(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '\u{130}' | '\u{131}' | '\u{17F}' | '\u{212A}')
}

/// Python's `\d`: decimal digits (general category Nd), not every numeral.
pub(super) fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.general_category() == GeneralCategory::DecimalNumber)
}

/// Python's `\s` on `str`: Unicode White_Space plus the four ASCII
/// information separators U+001C–U+001F, which Python counts as space.
pub(super) fn is_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{1C}'..='\u{1F}')
}

fn atom_kind(c: char) -> Kind {
    if is_ru(c) {
        Kind::Ru
    } else if is_lat(c) {
        Kind::Lat
    } else if is_digit(c) {
        Kind::Int
    } else if is_punct(c) {
        Kind::Punct
    } else {
        Kind::Other
    }
}

/// razdel's atoms: runs of Russian letters, of Latin letters, of digits, and
/// single other non-space characters.
fn atoms(text: &str, out: &mut Vec<Atom>) {
    out.clear();
    let mut it = text.char_indices().peekable();
    while let Some((start, c)) = it.next() {
        if is_space(c) {
            continue;
        }
        let kind = atom_kind(c);
        let mut end = start + c.len_utf8();
        let run = matches!(kind, Kind::Ru | Kind::Lat | Kind::Int);
        if run {
            while let Some(&(i, d)) = it.peek() {
                if is_space(d) || atom_kind(d) != kind {
                    break;
                }
                end = i + d.len_utf8();
                it.next();
            }
        }
        out.push(Atom {
            start,
            end,
            kind,
            ch: (!run).then_some(c),
        });
    }
}

/// The split between `atoms[i - 1]` and `atoms[i]` with razdel's window of
/// three atoms on each side.
struct Split<'a> {
    atoms: &'a [Atom],
    i: usize,
}

impl Split<'_> {
    fn left(&self, n: usize) -> Option<&Atom> {
        // left_1 is atoms[i - 1]; razdel's window holds at most three.
        (n <= 3 && n <= self.i).then(|| &self.atoms[self.i - n])
    }

    fn right(&self, n: usize) -> Option<&Atom> {
        (1..=3)
            .contains(&n)
            .then(|| self.atoms.get(self.i + n - 1))?
    }

    fn left_1(&self) -> &Atom {
        &self.atoms[self.i - 1]
    }

    fn right_1(&self) -> &Atom {
        &self.atoms[self.i]
    }
}

/// razdel's `Rule2112`: a delimiter atom on one side of the split joins when
/// the atoms around it (skipping the delimiter) pass `rule`.
fn rule_2112(
    split: &Split<'_>,
    delimiter: impl Fn(char) -> bool,
    rule: impl Fn(&Atom, &Atom) -> bool,
) -> bool {
    let (left, right) = if split.left_1().ch.is_some_and(&delimiter) {
        // cho-|to
        (split.left(2), split.right(1))
    } else if split.right_1().ch.is_some_and(&delimiter) {
        // cho|-to
        (split.left(1), split.right(2))
    } else {
        return false;
    };
    match (left, right) {
        (Some(l), Some(r)) => rule(l, r),
        _ => false,
    }
}

fn not_punct(l: &Atom, r: &Atom) -> bool {
    l.kind != Kind::Punct && r.kind != Kind::Punct
}

fn both_int(l: &Atom, r: &Atom) -> bool {
    l.kind == Kind::Int && r.kind == Kind::Int
}

/// razdel's SMILES, `^[=:;]-?[)(]{1,3}$`, on the token so far plus the next
/// atom.
fn is_smile(s: &str) -> bool {
    let mut chars = s.chars();
    if !matches!(chars.next(), Some('=' | ':' | ';')) {
        return false;
    }
    let rest = chars.as_str();
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    (1..=3).contains(&rest.chars().count()) && rest.chars().all(|c| matches!(c, ')' | '('))
}

/// Whether razdel joins the two atoms around a split with no space between
/// them. `buffer` is the token built so far, ending with the left atom.
fn join(text: &str, split: &Split<'_>, buffer_start: usize) -> bool {
    let (l1, r1) = (split.left_1(), split.right_1());
    if rule_2112(split, |c| DASHES.contains(&c), not_punct)
        || rule_2112(split, |c| c == '_', not_punct)
        || rule_2112(split, |c| c == '.' || c == ',', both_int)
        || rule_2112(split, |c| c == '/' || c == '\\', both_int)
    {
        return true;
    }
    if let (Kind::Punct, Kind::Punct, Some(l), Some(r)) = (l1.kind, r1.kind, l1.ch, r1.ch) {
        if is_smile(&text[buffer_start..r1.end]) {
            return true;
        }
        if ENDINGS.contains(&l) && ENDINGS.contains(&r) {
            // ... ?!
            return true;
        }
        if (l, r) == ('-', '-') || (l, r) == ('*', '*') {
            return true;
        }
    }
    let wordish = |k: Kind| matches!(k, Kind::Other | Kind::Ru | Kind::Lat);
    if (l1.kind == Kind::Other && wordish(r1.kind)) || (wordish(l1.kind) && r1.kind == Kind::Other)
    {
        // ΔP, Δσ, mβж
        return true;
    }
    l1.kind == Kind::Lat
        && text[l1.start..l1.end].eq_ignore_ascii_case("yahoo")
        && r1.ch == Some('!')
}

/// Splits `text` into razdel's tokens.
pub fn tokenize(text: &str) -> Vec<TokSpan> {
    let mut atoms_buf = Vec::new();
    let mut out = Vec::new();
    tokenize_into(text, &mut atoms_buf, &mut out);
    out
}

/// [`tokenize`] into caller-owned buffers (reused across documents).
pub(super) fn tokenize_into(text: &str, atoms_buf: &mut Vec<Atom>, out: &mut Vec<TokSpan>) {
    out.clear();
    atoms(text, atoms_buf);
    let atoms = atoms_buf.as_slice();
    let Some(first) = atoms.first() else {
        return;
    };
    let mut cur = TokSpan {
        start: first.start,
        end: first.end,
    };
    for i in 1..atoms.len() {
        let glued = atoms[i - 1].end == atoms[i].start;
        if glued && join(text, &Split { atoms, i }, cur.start) {
            cur.end = atoms[i].end;
        } else {
            out.push(cur);
            cur = TokSpan {
                start: atoms[i].start,
                end: atoms[i].end,
            };
        }
    }
    out.push(cur);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        tokenize(text)
            .into_iter()
            .map(|t| &text[t.start..t.end])
            .collect()
    }

    #[test]
    fn follows_razdel_rules() {
        assert_eq!(
            words("Кто-то из Нью-Йорка купил 1,5 т. (3/4) — ок?! :-) Yahoo!"),
            [
                "Кто-то",
                "из",
                "Нью-Йорка",
                "купил",
                "1,5",
                "т",
                ".",
                "(",
                "3/4",
                ")",
                "—",
                "ок",
                "?!",
                ":",
                "-",
                ")",
                "Yahoo!"
            ]
        );
        // The dash rule looks past the dash, whatever precedes it.
        assert_eq!(words("a -b"), ["a", "-b"]);
        assert_eq!(
            words("СИЗО-6 ΔP 2011-2020 ---"),
            ["СИЗО-6", "ΔP", "2011-2020", "---"]
        );
        assert_eq!(words("{x}"), ["{x", "}"]);
        assert_eq!(words(":) ;-(( :(("), [":)", ";", "-", "(", "(", ":(("]);
        assert!(words(" \u{1C}\u{A0}").is_empty());
    }
}
