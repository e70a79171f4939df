//! Span rules applied to slovnet's Russian output: where its spans are cut differently from
//! what the text names, and from the conventions of factRuEval-2016, the benchmark feedwatch
//! measures Russian NER on.
//!
//! Owns [`refine`] (BIO tags in, BIO tags out) and the two sets of rules it can apply
//! ([`Style`]). slovnet itself stays untouched ([`super::slovnet::SlovnetNer::tag_words`]
//! is still slovnet's tags, token for token, for `tests/slovnet_parity.rs`); this runs after it.
//! Pure and synchronous: words and tags in, tags out.
//!
//! slovnet was trained on Nerus (machine-annotated news); factRuEval was annotated by hand with
//! different conventions, and an object there "runs from its first to its last token" of all
//! its parts. So, in factRuEval:
//! - quotes are outside names: «Яблоко» is `Яблоко`, партия «Яблоко» is `партия « Яблоко`
//!   (the closing quote is never part of a span, the opening one only inside one);
//! - "Name (Other name)" are two mentions, not one;
//! - an organisation includes the country or organisation it belongs to ("Министерство
//!   внутренних дел Пакистана", "Палаты представителей Конгресса США");
//! - an organisation includes its descriptor ("компания Microsoft", "движения «Солидарность»",
//!   "правительство США", "сборная России") and the adjectives before a descriptor
//!   ("шахматная федерация Израиля", "японского МИДа");
//! - the European Union is an organisation, where slovnet says LOC;
//! - a place includes its descriptor ("реки Славянки", "штата Аризона").
//!
//! Quotes, parentheses, "organisation of country" and the EU fix where a name starts and ends
//! and what it is; they are [`Style::Names`], what the recognizer uses (which keeps a closing
//! quote whose opening one is inside the mention) and what `feedwatch eval ner` scores by
//! default. Descriptors and adjectives are the benchmark's convention, not part of a name a
//! reader would search for ("Ведомости", not "газете «Ведомости»"); [`Style::FactRuEval`]
//! adds them, for `feedwatch eval ner --spans factru`.
//!
//! Each rule was chosen on one half of factRuEval dev (the 1st, 3rd, 5th… documents) and kept
//! only if it also raised F1 on the other half; see `models/SLOVNET_MODEL_CARD.md`.

use super::{EntityKind, Span, Tag, spans_from_tags};

/// Which rules [`refine`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Span boundaries and kinds only: quotes, parentheses, "organisation of country", EU.
    Names,
    /// [`Style::Names`] plus factRuEval's descriptors: before organisations (with their
    /// adjectives) and before places.
    FactRuEval,
}

/// Quotes that open a quoted name (razdel and factRuEval both make them tokens of their own).
const OPENING: &[&str] = &["«", "\"", "„"];
/// Quotes that close one ("“" closes „…“).
const CLOSING: &[&str] = &["»", "\"", "“", "”"];

/// Lower-case stems of nouns that name a kind of organisation; before an organisation's name
/// (or its opening quote) they are part of it in factRuEval: "компании Harles und Jentzsch",
/// "движения « Архнадзор".
const ORG_DESCRIPTORS: &[&str] = &[
    "авиакомпани",
    "агентств",
    "агенств",
    "академи",
    "ассоциаци",
    "банк",
    "газет",
    "групп",
    "движени",
    "журнал",
    "завод",
    "издани",
    "институт",
    "клуб",
    "комбинат",
    "команд",
    "компани",
    "концерн",
    "корпораци",
    "медиакомпани",
    "музе",
    "организаци",
    "парти",
    "портал",
    "проект",
    "профсоюз",
    "радиостанци",
    "сайт",
    "сет",
    "союз",
    "театр",
    "телеканал",
    "телекомпани",
    "университет",
    "фабрик",
    "федераци",
    "фонд",
    "холдинг",
    "центр",
];

/// Lower-case stems of nouns for the bodies of a state or a city; before a place in the
/// genitive they make an organisation of both: "правительства США", "мэрии Москвы",
/// "сборная России". ("центр" is not one: "в центре Москвы" is a place.)
const STATE_BODIES: &[&str] = &[
    "администраци",
    "ведомств",
    "делегаци",
    "комисси",
    "консульств",
    "министерств",
    "мэри",
    "парламент",
    "посольств",
    "правительств",
    "представительств",
    "руководств",
    "сборн",
    "федераци",
];

/// Lower-case stems of nouns for kinds of places; before a place's name they are part of it
/// in factRuEval ("реки Славянки", "городе Грозном", "штата Аризона").
const PLACE_DESCRIPTORS: &[&str] = &[
    "город",
    "деревн",
    "залив",
    "мыс",
    "озер",
    "остров",
    "посел",
    "посёл",
    "провинци",
    "пролив",
    "рек",
    "штат",
];

/// Long adjective endings (the short ones, -ом, -ей, -им, -их, are as often nouns:
/// "подиумом", "представителей", "рабочих").
const ADJECTIVE_ENDINGS: &[&str] = &[
    "ого", "его", "ому", "ему", "ой", "ая", "яя", "ую", "юю", "ый", "ий", "ое", "ее", "ые", "ие",
    "ых", "ыми", "ими", "ым",
];

/// Endings of nouns that look like adjectives ("объяснение", "движения" do not, but
/// "управление" and "объяснение" end in -ие/-ее).
const NOUN_ENDINGS: &[&str] = &["ение", "ание", "тие", "ствие", "ьё", "ье"];

/// Relational adjectives in -ск- ("российского", "японского"), which factRuEval keeps before
/// an organisation's own name as well as before a descriptor.
const SK_ENDINGS: &[&str] = &[
    "ского",
    "скому",
    "ской",
    "ская",
    "скую",
    "ский",
    "ское",
    "ские",
    "ских",
    "ским",
];

/// Words with adjective endings that are pronouns or quantifiers, never part of a name.
const NOT_ADJECTIVES: &[&str] = &[
    "другая",
    "другие",
    "другой",
    "другое",
    "другого",
    "другому",
    "другую",
    "других",
    "каждая",
    "каждой",
    "каждого",
    "каждый",
    "какая",
    "какие",
    "какой",
    "какое",
    "какого",
    "какую",
    "каких",
    "которая",
    "которое",
    "которой",
    "которого",
    "которому",
    "которую",
    "которые",
    "которых",
    "который",
    "которым",
    "любая",
    "любого",
    "любой",
    "любую",
    "многие",
    "моей",
    "моего",
    "нашего",
    "нашей",
    "никакого",
    "никакой",
    "одного",
    "одной",
    "одному",
    "самого",
    "самой",
    "самому",
    "своего",
    "своей",
    "своему",
    "такая",
    "такие",
    "такой",
    "такое",
    "такого",
    "такую",
    "таких",
    "того",
    "той",
    "тому",
    "этого",
    "этой",
    "этому",
    "всего",
    "всей",
    "всему",
    "вашего",
    "вашей",
];

/// Applies the rules of `style` to slovnet's tags of `words` (one sequence, as tagged).
/// `words` and `tags` have the same length; the result does too.
pub fn refine<S: AsRef<str>>(words: &[S], tags: &[Tag], style: Style) -> Vec<Tag> {
    debug_assert_eq!(words.len(), tags.len());
    let words: Vec<&str> = words.iter().map(AsRef::as_ref).collect();
    let mut spans = spans_from_tags(tags);
    spans = split_parenthetical(&words, spans);
    trim_quotes(&words, &mut spans, style);
    spans = merge_adjacent(spans, EntityKind::Place);
    if style == Style::FactRuEval {
        add_descriptors(&words, &mut spans);
        spans = merge_adjacent(spans, EntityKind::Org);
    }
    european_union(&words, &mut spans);
    if style == Style::FactRuEval {
        add_adjectives(&words, &mut spans);
        add_place_descriptors(&words, &mut spans);
    }
    let mut out = vec![Tag::O; tags.len()];
    for s in spans {
        out[s.start] = Tag::B(s.kind);
        for t in &mut out[s.start + 1..s.end] {
            *t = Tag::I(s.kind);
        }
    }
    out
}

/// "X ( Y )" in one span is two names of one thing (a translation, an abbreviation:
/// "Союз координационных советов ( СКС )"), or a person and their organisation; each is its
/// own mention. The closing parenthesis may be outside the span.
fn split_parenthetical(words: &[&str], spans: Vec<Span>) -> Vec<Span> {
    let mut out = Vec::with_capacity(spans.len());
    for s in spans {
        let open = (s.start + 1..s.end).find(|&i| words[i] == "(");
        let end = if words[s.end - 1] == ")" {
            s.end - 1
        } else {
            s.end
        };
        match open {
            Some(i)
                if end > i + 1 && !words[i + 1..end].iter().any(|w| matches!(*w, "(" | ")")) =>
            {
                out.push(Span { end: i, ..s });
                out.push(Span {
                    start: i + 1,
                    end,
                    ..s
                });
            }
            _ => out.push(s),
        }
    }
    out
}

/// Drops a closing quote at the end of a span and an opening quote at its start. For
/// [`Style::Names`] a closing quote whose opening one is inside the span stays, so a mention
/// reads "РИА «Новости»", not "РИА «Новости" as factRuEval has it.
fn trim_quotes(words: &[&str], spans: &mut [Span], style: Style) {
    for s in spans {
        let balanced = || {
            words[s.start + 1..s.end - 1]
                .iter()
                .any(|w| OPENING.contains(w))
        };
        if s.end - s.start > 1
            && CLOSING.contains(&words[s.end - 1])
            && (style == Style::FactRuEval || !balanced())
        {
            s.end -= 1;
        }
        if s.end - s.start > 1 && OPENING.contains(&words[s.start]) {
            s.start += 1;
        }
    }
}

/// An organisation directly followed by a span of `next` (a place or another organisation,
/// in the genitive: "Министерство внутренних дел Пакистана", "Свердловского обкома КПСС")
/// becomes one organisation.
fn merge_adjacent(mut spans: Vec<Span>, next: EntityKind) -> Vec<Span> {
    spans.sort_by_key(|s| s.start);
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if last.kind == EntityKind::Org && s.kind == next && last.end == s.start => {
                last.end = s.end;
            }
            _ => out.push(s),
        }
    }
    out
}

fn lower(word: &str) -> String {
    word.chars().flat_map(char::to_lowercase).collect()
}

fn has_stem(word: &str, stems: &[&str]) -> bool {
    word.chars().all(char::is_alphabetic) && {
        let w = lower(word);
        stems.iter().any(|s| w.starts_with(s))
    }
}

fn covered(spans: &[Span], i: usize, except: usize) -> bool {
    spans
        .iter()
        .enumerate()
        .any(|(n, s)| n != except && s.start <= i && i < s.end)
}

/// Takes the descriptor before an organisation ("компании Harles", "партии « Яблоко") into it,
/// and makes an organisation of a state body and the place it governs ("правительство США").
fn add_descriptors(words: &[&str], spans: &mut [Span]) {
    for n in 0..spans.len() {
        let s = spans[n];
        let quoted = s.start > 0 && OPENING.contains(&words[s.start - 1]);
        let before = if quoted { s.start - 1 } else { s.start };
        let Some(d) = before.checked_sub(1) else {
            continue;
        };
        if covered(spans, d, n) || (quoted && covered(spans, before, n)) {
            continue;
        }
        let take = match s.kind {
            EntityKind::Org => has_stem(words[d], ORG_DESCRIPTORS),
            // A bare place only: "правительство « Россия »" is not a government.
            EntityKind::Place => !quoted && has_stem(words[d], STATE_BODIES),
            _ => false,
        };
        if take {
            spans[n] = Span {
                kind: EntityKind::Org,
                start: d,
                end: s.end,
            };
        }
    }
}

/// "ЕС", "Евросоюз", "Еврокомиссия" and "Европейский союз" are organisations in factRuEval;
/// slovnet calls them places.
fn european_union(words: &[&str], spans: &mut [Span]) {
    for s in spans.iter_mut().filter(|s| s.kind == EntityKind::Place) {
        let w: Vec<String> = words[s.start..s.end].iter().map(|w| lower(w)).collect();
        let eu = match w.as_slice() {
            [one] => one == "ес" || one.starts_with("евросоюз") || one.starts_with("еврокомисси"),
            [a, b] => a.starts_with("европейск") && b.starts_with("союз"),
            _ => false,
        };
        if eu {
            s.kind = EntityKind::Org;
        }
    }
}

fn is_adjective(word: &str) -> bool {
    let w = lower(word);
    word.chars().all(|c| c.is_lowercase() && c.is_alphabetic())
        && w.chars().count() >= 5
        && ADJECTIVE_ENDINGS.iter().any(|e| w.ends_with(e))
        && !NOUN_ENDINGS.iter().any(|e| w.ends_with(e))
        && !NOT_ADJECTIVES.contains(&w.as_str())
}

/// Takes lower-case adjectives before an organisation into it: any adjective before a
/// descriptor ("шахматная федерация Израиля"), only -ск- adjectives before a name
/// ("японского МИДа", but not "влиятельного Комитета").
fn add_adjectives(words: &[&str], spans: &mut [Span]) {
    for n in 0..spans.len() {
        let s = spans[n];
        if s.kind != EntityKind::Org {
            continue;
        }
        let descriptor = words[s.start]
            .chars()
            .next()
            .is_some_and(char::is_lowercase);
        let mut start = s.start;
        while let Some(d) = start.checked_sub(1) {
            let w = words[d];
            let fits = is_adjective(w) && (descriptor || SK_ENDINGS.iter().any(|e| w.ends_with(e)));
            if !fits || covered(spans, d, n) {
                break;
            }
            start = d;
        }
        spans[n].start = start;
    }
}

/// Takes a lower-case place descriptor before a place into it ("реки Славянки").
fn add_place_descriptors(words: &[&str], spans: &mut [Span]) {
    for n in 0..spans.len() {
        let s = spans[n];
        let Some(d) = s.start.checked_sub(1) else {
            continue;
        };
        if s.kind == EntityKind::Place
            && words[d].chars().next().is_some_and(char::is_lowercase)
            && has_stem(words[d], PLACE_DESCRIPTORS)
            && !covered(spans, d, n)
        {
            spans[n].start = d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tags from a compact spec: words separated by spaces, entities as `[KIND words]`.
    fn parse(spec: &str) -> (Vec<String>, Vec<Tag>) {
        let (mut words, mut tags) = (Vec::new(), Vec::new());
        let mut kind: Option<EntityKind> = None;
        let mut first = false;
        for tok in spec.split_whitespace() {
            if tok == "]" {
                kind = None;
                continue;
            }
            if let Some(k) = tok.strip_prefix('[') {
                kind = EntityKind::from_conll_label(k);
                first = true;
                continue;
            }
            let (word, close) = match tok.strip_suffix(']') {
                Some(w) if !w.is_empty() => (w, true),
                _ => (tok, false),
            };
            words.push(word.to_owned());
            tags.push(match kind {
                Some(k) if first => Tag::B(k),
                Some(k) => Tag::I(k),
                None => Tag::O,
            });
            first = false;
            if close {
                kind = None;
            }
        }
        (words, tags)
    }

    /// Runs `refine` on `input` and checks it gives `expected` (same words).
    fn check(input: &str, expected: &str, style: Style) {
        let (words, tags) = parse(input);
        let (want_words, want) = parse(expected);
        assert_eq!(words, want_words, "specs must have the same words");
        let got = refine(&words, &tags, style);
        let show = |t: &[Tag]| {
            spans_from_tags(t)
                .iter()
                .map(|s| {
                    format!(
                        "{}:{}",
                        s.kind.conll_label(),
                        words[s.start..s.end].join(" ")
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(show(&got), show(&want), "{input}");
    }

    #[test]
    fn closing_quotes_leave_spans() {
        check(
            "Концерн [ORG « Майкрософт » ] представил",
            "Концерн « [ORG Майкрософт ] » представил",
            Style::Names,
        );
        check(
            "сообщает [ORG РИА « Новости » ] .",
            "сообщает [ORG РИА « Новости ] » .",
            Style::FactRuEval,
        );
        // A name keeps its quotes when both are inside.
        check(
            "сообщает [ORG РИА « Новости » ] .",
            "сообщает [ORG РИА « Новости » ] .",
            Style::Names,
        );
        // A one-token span is left alone.
        check("[ORG « ] x", "[ORG « ] x", Style::Names);
    }

    #[test]
    fn parentheses_split_a_span_in_two() {
        check(
            "[ORG Союз координационных советов ( СКС ) ] ,",
            "[ORG Союз координационных советов ] ( [ORG СКС ] ) ,",
            Style::Names,
        );
        check(
            "[ORG Кориера делла Сера » ( Corriere della Sera ] ) пишет",
            "[ORG Кориера делла Сера ] » ( [ORG Corriere della Sera ] ) пишет",
            Style::Names,
        );
        // Nested or empty parentheses are not a second name.
        check("[ORG А ( ) ]", "[ORG А ( ) ]", Style::Names);
    }

    #[test]
    fn an_organisation_takes_its_country() {
        check(
            "[ORG Министерство внутренних дел ] [LOC Пакистана ] заявило",
            "[ORG Министерство внутренних дел Пакистана ] заявило",
            Style::Names,
        );
        // Not across a word, and not a place before an organisation.
        check(
            "[ORG ФИФА ] в [LOC Цюрихе ] ; [LOC России ] [ORG ФИФА ]",
            "[ORG ФИФА ] в [LOC Цюрихе ] ; [LOC России ] [ORG ФИФА ]",
            Style::Names,
        );
    }

    #[test]
    fn the_european_union_is_an_organisation() {
        check(
            "страны [LOC ЕС ] и [LOC Европейского союза ] , но не [LOC Европы ]",
            "страны [ORG ЕС ] и [ORG Европейского союза ] , но не [LOC Европы ]",
            Style::Names,
        );
    }

    #[test]
    fn names_style_keeps_descriptors_out() {
        check(
            "газете « [ORG Ведомости ] »",
            "газете « [ORG Ведомости ] »",
            Style::Names,
        );
        check(
            "правительство [LOC США ]",
            "правительство [LOC США ]",
            Style::Names,
        );
    }

    #[test]
    fn descriptors_join_organisations() {
        let f = Style::FactRuEval;
        check(
            "представители партии « [ORG Яблоко ] » пришли",
            "представители [ORG партии « Яблоко ] » пришли",
            f,
        );
        check(
            "Корпорация [ORG Philips ] подала , медиакомпанией [ORG Deutsche Welle ]",
            "[ORG Корпорация Philips ] подала , [ORG медиакомпанией Deutsche Welle ]",
            f,
        );
        check(
            "то [LOC правительство ] [LOC США ]",
            "то [LOC правительство ] [LOC США ]",
            f,
        );
        check(
            "то правительство [LOC США ] , мэрии [LOC Москвы ] и сборной [LOC России ]",
            "то [ORG правительство США ] , [ORG мэрии Москвы ] и [ORG сборной России ]",
            f,
        );
        // Not a place after an organisation descriptor, nor a part of a city.
        check(
            "компания из [LOC Москвы ] , в центре [LOC Москвы ]",
            "компания из [LOC Москвы ] , в центре [LOC Москвы ]",
            f,
        );
        check(
            "член Палаты представителей [ORG Конгресса ] [LOC США ]",
            "член Палаты представителей [ORG Конгресса США ]",
            f,
        );
        check(
            "[ORG Палаты представителей ] [ORG Конгресса ] [LOC США ]",
            "[ORG Палаты представителей Конгресса США ]",
            f,
        );
    }

    #[test]
    fn place_descriptors_join_places() {
        check(
            "в устье реки [LOC Славянки ] , в городе [LOC Грозном ] и в [LOC Москве ]",
            "в устье [LOC реки Славянки ] , в [LOC городе Грозном ] и в [LOC Москве ]",
            Style::FactRuEval,
        );
        check(
            "в городе [LOC Грозном ]",
            "в городе [LOC Грозном ]",
            Style::Names,
        );
    }

    #[test]
    fn adjectives_join_descriptors_and_sk_adjectives_names() {
        let f = Style::FactRuEval;
        check(
            "данным , шахматная федерация [LOC Израиля ] поддержит",
            "данным , [ORG шахматная федерация Израиля ] поддержит",
            f,
        );
        check(
            "глава японского [ORG МИДа ] и влиятельного [ORG Комитета ]",
            "глава [ORG японского МИДа ] и влиятельного [ORG Комитета ]",
            f,
        );
        // Pronouns and nouns with adjective endings stay out.
        check(
            "этой компании [ORG Vestas ] , объяснение агентству [ORG Рейтер ]",
            "этой [ORG компании Vestas ] , объяснение [ORG агентству Рейтер ]",
            f,
        );
    }
}
