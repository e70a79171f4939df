//! Inflected names as one entity. Russian and Ukrainian decline names: "Владимир Путин",
//! "Владимира Путина" and "Владимиром Путиным" are one person, "Москва", "Москве" and "Москву"
//! one place. Mentions are grouped by [`name_key`] — each Cyrillic word stemmed with the same
//! Snowball stemmer the query language uses, so `person:"Владимир Путин"` and the grouping
//! agree — and each group is shown in its nominative form: the gazetteer's spelling when the
//! name is in it (place and organisation lists hold nominatives), else the seen form that looks
//! most nominative. Latin-script names are only folded, as before: English does not decline
//! names, and stemming them would merge "Paris" and "Pari".

use std::collections::HashMap;

use crate::text::{analyze, stem_term};

/// The grouping key of a name: its folded words, Cyrillic ones stemmed, joined by spaces.
pub fn name_key(raw: &str) -> String {
    analyze(raw, None)
        .into_iter()
        .map(|t| {
            if t.term.chars().any(is_cyrillic) {
                stem_term(&t.term)
            } else {
                t.term
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Nominative spellings of Cyrillic names by [`name_key`], from the gazetteers. One key may
/// stand for several names ("Самара" the city, "Самар" the island), kept in list order.
#[derive(Debug, Clone, Default)]
pub struct Nominatives(HashMap<String, Vec<String>>);

impl Nominatives {
    /// From gazetteer texts (one name per line, `#` comments); only Cyrillic names are kept.
    pub fn from_lists(lists: &[&str]) -> Nominatives {
        let mut map = HashMap::new();
        for line in lists.iter().flat_map(|l| l.lines()) {
            let name = line.trim();
            if name.is_empty() || name.starts_with('#') || !name.chars().any(is_cyrillic) {
                continue;
            }
            let spellings: &mut Vec<String> = map.entry(name_key(name)).or_default();
            if !spellings.iter().any(|s| s == name) {
                spellings.push(name.to_string());
            }
        }
        Nominatives(map)
    }

    /// The name to show for a group of `forms` (as written, in reading order) sharing `key`.
    pub fn display<'a>(&'a self, key: &str, forms: &[&'a str]) -> &'a str {
        // Of several names with the key, the one closest in length to what was written (case
        // endings change a name by a letter or two), then the most nominative-looking: the
        // lists also hold oblique-looking names of small places ("Самаре").
        if let (Some(spellings), Some(seen)) = (self.0.get(key), forms.first()) {
            let seen = seen.chars().count();
            if let Some(nominative) = spellings.iter().min_by_key(|s| {
                (
                    s.chars().count().abs_diff(seen),
                    std::cmp::Reverse(nominative_likeness(s)),
                )
            }) {
                return nominative;
            }
        }
        // max_by_key keeps the last maximum; reversed, ties go to the form seen first.
        forms
            .iter()
            .rev()
            .max_by_key(|form| nominative_likeness(form))
            .copied()
            .unwrap_or_default()
    }
}

/// How much a written name looks like a nominative: the sum over its Cyrillic words of how
/// their endings read. A bare stem (Путин, Смоленск) is the masculine nominative; -а/-я
/// (Москва), -о (Министерство) and adjective endings are nominatives or at worst genitives;
/// instrumental, dative, prepositional and plural case endings never are.
fn nominative_likeness(form: &str) -> i32 {
    analyze(form, None)
        .iter()
        .filter(|t| t.term.chars().any(is_cyrillic))
        .map(|t| {
            let word = t.term.as_str();
            let oblique = [
                "ами", "ями", "ого", "его", "ому", "ему", "ом", "ем", "ым", "им", "ой", "ей", "ах",
                "ях", "у", "ю", "е", "і",
            ];
            let nominative = ["ый", "ий", "ая", "яя", "ое", "ее", "а", "я", "о"];
            if stem_term(word) == word {
                3
            } else if nominative.iter().any(|e| word.ends_with(e)) {
                2
            } else if oblique.iter().any(|e| word.ends_with(e)) {
                0
            } else {
                1
            }
        })
        .sum()
}

fn is_cyrillic(c: char) -> bool {
    matches!(c as u32, 0x0400..=0x052F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflected_forms_share_a_key() {
        let key = name_key("Владимир Путин");
        for form in ["Владимира Путина", "Владимиром Путиным", "владимиру путину"]
        {
            assert_eq!(name_key(form), key, "{form}");
        }
        assert_eq!(name_key("Москве"), name_key("Москва"));
        assert_eq!(name_key("Зеленського"), name_key("Зеленський"));
        assert_ne!(name_key("Москва"), name_key("Самара"));
        // Latin names are folded, not stemmed.
        assert_eq!(name_key("PARIS"), "paris");
        assert_ne!(name_key("Paris"), name_key("Pari"));
    }

    #[test]
    fn the_nominative_is_shown() {
        let none = Nominatives::default();
        let show = |forms: &[&str]| none.display(&name_key(forms[0]), forms).to_string();
        assert_eq!(show(&["Путиным", "Путина", "Путин"]), "Путин");
        assert_eq!(show(&["Москве", "Москву", "Москва"]), "Москва");
        assert_eq!(
            show(&["Министерством обороны", "Министерство обороны"]),
            "Министерство обороны"
        );
        // Where no nominative was seen, the likeliest form.
        assert_eq!(show(&["Путиным", "Путина"]), "Путина");

        let gazetteer = Nominatives::from_lists(&[
            "# places\nСамар\nСамара\nСамаре\nСмоленск\nСмоленскай\nLondon\n",
        ]);
        assert_eq!(
            gazetteer.display(&name_key("Самаре"), &["Самаре"]),
            "Самара"
        );
        assert_eq!(
            gazetteer.display(&name_key("Смоленска"), &["Смоленска"]),
            "Смоленск"
        );
    }
}
