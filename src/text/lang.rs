//! Language identification for articles.
//!
//! Owns the `Lang` type and the whatlang-backed detector. It must never do
//! I/O, read the clock or keep global state: detection is a pure function of
//! the input text.

use std::fmt;

/// Below this many words whatlang's guesses are close to noise, even when it
/// claims to be reliable, so we refuse to guess.
const MIN_WORDS_FOR_DETECTION: usize = 4;

/// A language we know something about. Only the languages the analysis chain
/// or the UI treats specially get their own variant; everything else keeps
/// its ISO 639-3 code so it can still be shown and filtered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Ru,
    Uk,
    /// ISO 639-3 code as reported by whatlang (e.g. "deu").
    Other(&'static str),
}

impl Lang {
    /// ISO 639-1 code for the named languages, ISO 639-3 for `Other`.
    pub fn code(&self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
            Lang::Uk => "uk",
            Lang::Other(code) => code,
        }
    }

    /// Accepts both the 2-letter codes of the named variants and any 3-letter
    /// code whatlang knows, so config files and a future `lang:` field can use
    /// whichever the user has at hand.
    pub fn from_code(code: &str) -> Option<Lang> {
        let code = code.trim().to_ascii_lowercase();
        match code.as_str() {
            "en" | "eng" => Some(Lang::En),
            "ru" | "rus" => Some(Lang::Ru),
            "uk" | "ukr" => Some(Lang::Uk),
            other => whatlang::Lang::from_code(other).map(from_whatlang),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

fn from_whatlang(lang: whatlang::Lang) -> Lang {
    match lang {
        whatlang::Lang::Eng => Lang::En,
        whatlang::Lang::Rus => Lang::Ru,
        whatlang::Lang::Ukr => Lang::Uk,
        other => Lang::Other(other.code()),
    }
}

/// Guesses the language of `text`; `None` when the text is too short or
/// whatlang is not confident, because a wrong language is worse than none
/// for filtering.
pub fn detect_lang(text: &str) -> Option<Lang> {
    if text.split_whitespace().count() < MIN_WORDS_FOR_DETECTION {
        return None;
    }
    let info = whatlang::detect(text)?;
    if info.script() == whatlang::Script::Cyrillic
        && let Some(lang) = russian_or_ukrainian(text)
    {
        return Some(lang);
    }
    info.is_reliable().then(|| from_whatlang(info.lang()))
}

/// whatlang rarely calls Russian "reliable" because Bulgarian, Serbian and
/// Belarusian trigrams compete, yet Russian and Ukrainian are told apart by
/// letters each one lacks. Decide only on clear evidence and leave texts with
/// letters of other Cyrillic alphabets to whatlang.
fn russian_or_ukrainian(text: &str) -> Option<Lang> {
    let (mut uk, mut ru, mut other) = (0usize, 0usize, 0usize);
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'і' | 'ї' | 'є' | 'ґ' => uk += 1,
            'ы' | 'э' | 'ё' => ru += 1,
            'ў' | 'ђ' | 'ј' | 'љ' | 'њ' | 'ћ' | 'џ' | 'ѓ' | 'ќ' | 'ѕ' => other += 1,
            _ => {}
        }
    }
    match (uk, ru, other) {
        (1.., 0, 0) => Some(Lang::Uk),
        (0, 1.., 0) => Some(Lang::Ru),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_three_main_languages() {
        let cases = [
            (
                "President Vladimir Putin is hiding from the mothers and wives of Russian soldiers",
                Some(Lang::En),
            ),
            (
                "Президент Владимир Путин прячется от матерей и жён российских солдат",
                Some(Lang::Ru),
            ),
            (
                "Президент Володимир Путін ховається від матерів і дружин російських солдатів",
                Some(Lang::Uk),
            ),
            (
                "Вчера в Москве были задержаны десятки человек на акциях протеста",
                Some(Lang::Ru),
            ),
            (
                "Der Präsident hat heute in Berlin eine Rede gehalten",
                Some(Lang::Other("deu")),
            ),
            ("putin", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(detect_lang(text), want, "{text}");
        }
    }

    #[test]
    fn codes_round_trip() {
        for lang in [Lang::En, Lang::Ru, Lang::Uk] {
            assert_eq!(Lang::from_code(lang.code()), Some(lang));
        }
        let de = Lang::from_code("deu");
        assert_eq!(de.map(|l| l.code().to_owned()), Some("deu".to_owned()));
        assert_eq!(Lang::from_code("zz"), None);
    }
}
