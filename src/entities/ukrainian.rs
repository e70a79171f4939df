//! Ukrainian text through the Russian model. There is no Ukrainian NER model of slovnet's
//! quality to port, and the languages are close: names are mostly spelled alike, and what trips
//! the Russian model is the alphabet's own letters (і, ї, є, ґ, which its vocabulary lacks, and
//! и, which sounds as Russian ы) and function words it reads as names ("Харків та Одесу" came
//! out as one person, "та" being "and"). So each word handed to the model is mapped: the
//! commonest function words to their Russian counterparts, then the letters to the Russian
//! ones that sound alike ("України" → "Украины"), keeping the word's capitalisation (a feature
//! the model uses). Only the words the model sees change;
//! mentions keep the original text and offsets.
//!
//! Not measured on labelled Ukrainian text (none is at hand); on hand-written news sentences it
//! finds the places and people the English model misses (see the tests).

use std::borrow::Cow;

/// Ukrainian function words and their Russian counterparts, lowercase.
const FUNCTION_WORDS: &[(&str, &str)] = &[
    ("та", "и"),
    ("і", "и"),
    ("й", "и"),
    ("у", "в"),
    ("з", "с"),
    ("із", "из"),
    ("зі", "со"),
    ("від", "от"),
    ("про", "о"),
    ("що", "что"),
    ("це", "это"),
    ("як", "как"),
    ("але", "но"),
    ("або", "или"),
    ("під", "под"),
    ("між", "между"),
    ("після", "после"),
    ("також", "также"),
    ("вже", "уже"),
    ("ще", "еще"),
    ("він", "он"),
    ("вона", "она"),
    ("вони", "они"),
    ("його", "его"),
    ("її", "ее"),
    ("їх", "их"),
    ("який", "который"),
    ("яка", "которая"),
    ("які", "которые"),
    ("був", "был"),
    ("була", "была"),
    ("було", "было"),
    ("були", "были"),
    ("буде", "будет"),
    ("цей", "этот"),
    ("ця", "эта"),
    ("ці", "эти"),
    ("році", "году"),
    ("року", "года"),
    ("раніше", "ранее"),
    ("повідомив", "сообщил"),
    ("повідомила", "сообщила"),
    ("заявив", "заявил"),
    ("заявила", "заявила"),
];

/// The word as the Russian model should see it.
pub fn as_russian(word: &str) -> Cow<'_, str> {
    let has_ukrainian_letter = word
        .chars()
        .any(|c| matches!(c, 'і' | 'І' | 'ї' | 'Ї' | 'є' | 'Є' | 'ґ' | 'Ґ' | 'и' | 'И'));
    let lower = word.to_lowercase();
    let mapped = FUNCTION_WORDS
        .iter()
        .find(|(uk, _)| *uk == lower)
        .map(|(_, ru)| {
            if word.chars().next().is_some_and(char::is_uppercase) {
                let mut chars = ru.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                    .unwrap_or_default()
            } else {
                (*ru).to_string()
            }
        });
    match mapped {
        Some(ru) => Cow::Owned(ru),
        None if has_ukrainian_letter => Cow::Owned(
            word.chars()
                .map(|c| match c {
                    'и' => 'ы',
                    'И' => 'Ы',
                    'і' | 'ї' => 'и',
                    'І' | 'Ї' => 'И',
                    'є' => 'е',
                    'Є' => 'Е',
                    'ґ' => 'г',
                    'Ґ' => 'Г',
                    other => other,
                })
                .collect(),
        ),
        None => Cow::Borrowed(word),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_mapped_keeping_case() {
        // Ukrainian и sounds as Russian ы, і as и: "України" reads as "Украины".
        assert_eq!(as_russian("України"), "Украины");
        assert_eq!(as_russian("Києві"), "Кыеви");
        assert_eq!(as_russian("та"), "и");
        assert_eq!(as_russian("Про"), "О");
        assert!(matches!(as_russian("Одесу"), Cow::Borrowed(_)));
    }
}
