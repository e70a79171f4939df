//! Inflected names as one entity. Russian and Ukrainian decline names: "Владимир Путин",
//! "Владимира Путина" and "Владимиром Путиным" are one person, "Москва", "Москве" and "Москву"
//! one place. Mentions are grouped by [`name_key`] — each Cyrillic word cut to its stem by the
//! case endings names take (a general stemmer such as Snowball reads the -ов of "Песков" and
//! the -ев of "Медведев" as plural endings, which split the nominative from every other case)
//! — and `person:`/`org:`/`place:`/`entity:` queries compare the same keys. Each group is shown
//! in its nominative form: the gazetteer's spelling when the name is in it (place and
//! organisation lists hold nominatives), else the seen form that looks most nominative.
//! Latin-script names are only folded, as before: English does not decline names, and
//! stemming them would merge "Paris" and "Pari".

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use crate::text::{Lang, analyze};

/// The grouping key of a name: its folded words, Cyrillic ones stemmed, joined by spaces.
pub fn name_key(raw: &str) -> String {
    analyze(raw, None)
        .into_iter()
        .map(|t| {
            if t.term.chars().any(is_cyrillic) {
                cyrillic_word_key(&t.term)
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

    /// The name to show for a group of `forms` (as written, in reading order) sharing `key`,
    /// in an article in `lang`.
    pub fn display<'a>(&'a self, key: &str, forms: &[&'a str], lang: Option<Lang>) -> &'a str {
        // Of several names with the key, one in the article's alphabet (the lists hold
        // Bulgarian "Харков" beside Ukrainian "Харків"), then the one closest in length to
        // what was written (case endings change a name by a letter or two), then the most
        // nominative-looking: the lists also hold oblique-looking names of small places
        // ("Самаре").
        if let (Some(spellings), Some(seen)) = (self.0.get(key), forms.first()) {
            let seen = seen.chars().count();
            if let Some(nominative) = spellings.iter().min_by_key(|s| {
                (
                    alphabet_mismatch(s, lang),
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

/// How far a listed spelling is from the alphabet of an article in `lang`: 2 for letters of
/// neither Russian nor Ukrainian (Serbian, Macedonian, Belarusian), 1 for Russian-only letters
/// in Ukrainian or for a Ukrainian spelling without its own letters (і, ї, є, ґ), or
/// Ukrainian letters in Russian.
fn alphabet_mismatch(spelling: &str, lang: Option<Lang>) -> u8 {
    let lower = spelling.to_lowercase();
    if lower.chars().any(|c| "јљњћђџѓќѕў".contains(c)) {
        return 2;
    }
    let ukrainian = lower.chars().any(|c| "іїєґ".contains(c));
    let russian = lower.chars().any(|c| "ыэъё".contains(c));
    match lang {
        Some(Lang::Uk) => u8::from(russian || !ukrainian),
        Some(Lang::Ru) => u8::from(ukrainian),
        _ => 0,
    }
}

/// How much a written name looks like a nominative: the sum over its Cyrillic words of how
/// their endings read. A bare stem (Путин, Смоленск) or one ending in й or ь (Сергей, Кремль)
/// is the masculine nominative; -а/-я (Москва), -о (Министерство) and adjective endings are
/// nominatives or at worst genitives; instrumental, dative, prepositional and plural case
/// endings never are.
fn nominative_likeness(form: &str) -> i32 {
    analyze(form, None)
        .iter()
        .filter(|t| t.term.chars().any(is_cyrillic))
        .map(|t| match name_word_split(&t.term).1 {
            "" | "й" | "ь" => 3,
            "ый" | "ий" | "ій" | "ая" | "яя" | "ое" | "а" | "я" | "о" => 2,
            "ами" | "ями" | "ого" | "его" | "ому" | "ему" | "ом" | "ем" | "єм" | "ым" | "им"
            | "ім" | "ой" | "ей" | "ою" | "ею" | "єю" | "ах" | "ях" | "у" | "ю" | "е" | "і" => {
                0
            }
            _ => 1,
        })
        .sum()
}

/// Case endings of Russian and Ukrainian names, longest first. Deliberately missing: -ов,
/// -ев, -ин (in names they end the stem: Песков, Медведев, Путин; Snowball strips them as
/// plural endings, which put "Песков" apart from "Пескова"), the Ukrainian dative -ові
/// (whose о is usually the stem's: "Харкові") and the adjectives' -ее (rare in names, and
/// "Сергее" is Сергей's prepositional).
const ENDINGS: &[&str] = &[
    "ого", "его", "ому", "ему", "ыми", "ими", "ами", "ями", "ым", "им", "ім", "ом", "ем", "єм",
    "ой", "ей", "ою", "ею", "єю", "ах", "ях", "ам", "ям", "ых", "их", "ый", "ий", "ій", "ая", "яя",
    "ую", "юю", "ое", "ої", "а", "я", "у", "ю", "ы", "и", "і", "ї", "е", "є", "о", "ь", "й",
];

/// A folded Cyrillic word split into its stem and case ending ("" when none), for names:
/// unlike a general stemmer's, the endings are only those names take, so the nominative
/// and the other cases of a name share the stem. Two endings are read by what precedes
/// them: -ей and -ею are the instrumental only after и, ь or a hissing consonant (Марией,
/// Натальей, Сашей) and otherwise the stem's е plus й or ю (Сергей, Сергею); -ий/-ій is an
/// adjective's ending after к, г, х, a hissing consonant or a consonant + н (Зеленский,
/// Нижний), and otherwise a noun's и plus й (Дмитрий, Дмитрия; Олексій, Олексія). Known
/// misses: a vowel that drops out (Лев, Льва) and a bare stem ending like an instrumental
/// (Артём, Артёма); [`name_word_split`] and [`cyrillic_word_key`] mend both for given names.
fn split_ending(word: &str) -> (&str, &str) {
    const MIN_STEM_CHARS: usize = 2;
    let chars = word.chars().count();
    for &ending in ENDINGS {
        let ending_chars = ending.chars().count();
        if !word.ends_with(ending) || chars < ending_chars + MIN_STEM_CHARS {
            continue;
        }
        let stem = &word[..word.len() - ending.len()];
        let mut before = stem.chars().rev();
        let (last, second_last) = (before.next(), before.next());
        let adjectival_i = |c: Option<char>| match c {
            Some('к' | 'г' | 'х' | 'ж' | 'ш' | 'ч' | 'щ' | 'ц') => true,
            Some('н') => second_last.is_some_and(|c| !"аеєиіїоуюяыэ".contains(c)),
            _ => false,
        };
        let noun_and_short_i = match ending {
            "ей" | "ею" => !matches!(last, Some('и' | 'ь' | 'і' | 'ж' | 'ш' | 'ч' | 'щ' | 'ц')),
            "ий" | "ій" => !adjectival_i(last),
            _ => false,
        };
        if noun_and_short_i {
            let short = if ending == "ею" { "ю" } else { "й" };
            return (&word[..word.len() - short.len()], short);
        }
        return (stem, ending);
    }
    (word, "")
}

/// [`split_ending`], put right for the given names it misreads (see [`GIVEN_NAME_STEMS`]).
fn name_word_split(word: &str) -> (&str, &str) {
    if GIVEN_NAME_STEMS.contains(word) {
        return (word, "");
    }
    split_ending(word)
}

/// Listed given names (folded) whose nominative ends like a case ending: "Максим" (-им),
/// "Артём" (-ем), "Адам" (-ам). They are whole stems, to which the other cases add their
/// endings (Максима, Максимом).
static GIVEN_NAME_STEMS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut stems = HashSet::new();
    for line in GIVEN_NAMES_CYRILLIC.lines() {
        if line.starts_with('#') {
            continue;
        }
        for token in analyze(line, None) {
            let word = token.term;
            let ends_in_consonant = word
                .chars()
                .last()
                .is_some_and(|c| "бвгґджзклмнпрстфхцчшщ".contains(c));
            if ends_in_consonant && !split_ending(&word).1.is_empty() {
                stems.insert(word);
            }
        }
    }
    stems
});

/// Russian given names whose other cases drop a vowel, as (nominative, their stem): "Павла",
/// "Павлом", "Льва", "Львом". All their cases are keyed by the nominative: Ukrainian keeps the
/// vowel (Лева), and Павло shares Павла's stem.
const DROPPED_VOWEL_STEMS: [(&str, &str); 2] = [("павел", "павл"), ("лев", "льв")];

/// Russian and Ukrainian given names, one per line (Faker, MIT; see the file's header).
pub(super) const GIVEN_NAMES_CYRILLIC: &str = include_str!("../../models/given-names-cyrillic.txt");

/// The key of one folded Cyrillic word of a name: its stem, and for a Ukrainian word with
/// no ending, the stem the other cases have. Ukrainian writes і (ї) in a closed final
/// syllable where the cases with an ending, which open it, have о or е (є): "Харків",
/// "Харкова", "Харкові"; "Київ", "Києва". So the last і of a bare word followed only by
/// consonants reads as о, ї as є: "харків" → "харков", "київ" → "києв". Russian has no і.
fn cyrillic_word_key(word: &str) -> String {
    let (stem, ending) = name_word_split(word);
    if let Some((nominative, _)) = DROPPED_VOWEL_STEMS.iter().find(|(_, s)| *s == stem) {
        return nominative.to_string();
    }
    if !ending.is_empty() {
        return stem.to_owned();
    }
    let mut chars: Vec<char> = stem.chars().collect();
    let last_vowel = chars.iter().rposition(|&c| "аеєиіїоуюяыэ".contains(c));
    if let Some(v) = last_vowel.filter(|&v| v + 1 < chars.len()) {
        let closed = chars[v + 1..]
            .iter()
            .all(|&c| "бвгґджзклмнпрстфхцчшщь".contains(c));
        match chars[v] {
            'і' if closed => chars[v] = 'о',
            'ї' if closed => chars[v] = 'є',
            _ => {}
        }
    }
    chars.into_iter().collect()
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
        // Every case of a name shares the nominative's key, in both languages.
        for forms in [
            "Песков Пескова Пескову Песковым Пескове",
            "Медведев Медведева Медведеву Медведевым",
            "Навальный Навального Навальному Навальным Навальном",
            "Сергей Сергея Сергею Сергеем Сергее",
            "Саша Саши Саше Сашу Сашей",
            "Вулиця Вулиці Вулицею",
            "Дмитрий Дмитрия Дмитрию Дмитрием Дмитрии",
            "Юлия Юлии Юлию Юлией",
            "Наталья Натальи Наталье Натальей",
            "Кремль Кремля Кремлю Кремлем Кремле",
            "Киев Киева Киеву Киевом Киеве",
            "Россия России Россию Россией",
            "Харьков Харькова Харькове",
            "Зеленский Зеленского Зеленскому Зеленским Зеленском",
            "Нижний Нижнего Нижнем",
            // Ukrainian: і in a closed final syllable is о or е (є) in the other cases.
            "Харків Харкова Харкову Харкові Харковом",
            "Київ Києва Києву Києві Києвом",
            "Львів Львова Львові",
            "Миколаїв Миколаєва Миколаєві",
            "Зеленський Зеленського Зеленському Зеленським",
            "Олексій Олексія Олексію Олексієм",
            "Україна України Україні Україну Україною",
            "Росія Росії Росію Росією",
            "Верховна Верховної Верховній",
            // Listed given names that end like a case ending, or drop a vowel.
            "Максим Максима Максиму Максимом Максиме",
            "Артём Артёма Артёмом Артем",
            "Адам Адама Адамом",
            "Павел Павла Павлу Павлом Павле Павло",
            "Лев Льва Льву Львом Льве Лева Левом",
        ] {
            let mut forms = forms.split(' ');
            let key = name_key(forms.next().unwrap());
            for form in forms {
                assert_eq!(name_key(form), key, "{form}");
            }
        }
        for (one, other) in [
            ("Иван", "Иванов"),
            ("Москва", "Самара"),
            ("Київ", "Харків"),
            ("Сергей", "Серго"),
            ("Лев", "Львов"),
            ("Павел", "Павлов"),
        ] {
            assert_ne!(name_key(one), name_key(other), "{one} {other}");
        }
        // Latin names are folded, not stemmed.
        assert_eq!(name_key("PARIS"), "paris");
        assert_ne!(name_key("Paris"), name_key("Pari"));
    }

    #[test]
    fn the_nominative_is_shown() {
        let none = Nominatives::default();
        let show = |forms: &[&str]| {
            none.display(&name_key(forms[0]), forms, Some(Lang::Ru))
                .to_string()
        };
        assert_eq!(show(&["Путиным", "Путина", "Путин"]), "Путин");
        assert_eq!(show(&["Москве", "Москву", "Москва"]), "Москва");
        assert_eq!(show(&["Пескова", "Песковым", "Песков"]), "Песков");
        assert_eq!(show(&["Сергеем", "Сергей", "Сергея"]), "Сергей");
        assert_eq!(show(&["Харкові", "Харків"]), "Харків");
        assert_eq!(show(&["Максима", "Максимом", "Максим"]), "Максим");
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
            gazetteer.display(&name_key("Самаре"), &["Самаре"], Some(Lang::Ru)),
            "Самара"
        );
        assert_eq!(
            gazetteer.display(&name_key("Смоленска"), &["Смоленска"], Some(Lang::Ru)),
            "Смоленск"
        );
        // A Ukrainian article names the city in Ukrainian, a Bulgarian list entry aside.
        let gazetteer = Nominatives::from_lists(&["Харков\nХарків\nХарьков\n"]);
        let kharkiv = |lang| gazetteer.display(&name_key("Харкова"), &["Харкова"], lang);
        assert_eq!(kharkiv(Some(Lang::Uk)), "Харків");
    }
}
