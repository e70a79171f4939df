//! Property: printing any query tree and parsing the text again gives the
//! same tree, for trees built from every node and leaf kind.

use feedwatch::text::Lang;
use feedwatch::topics::{
    AnalyzedArticle, ArticleText, EntityKind, EntityRef, Field, Query, Term, TermKind, TopicSet,
    parse,
};
use proptest::prelude::*;

/// Already-folded words, including ones that look like operators or field
/// names in lowercase, Cyrillic, digits.
const WORDS: &[&str] = &[
    "putin",
    "kremlin",
    "or",
    "and",
    "not",
    "near",
    "title",
    "site",
    "мобилизация",
    "київ",
    "2024",
    "cafe",
    "soldiers",
    "матерей",
    "x",
];
const REGEXES: &[&str] = &[
    "putin",
    "a/b",
    "\\d{4}",
    "пут[иі]н",
    "x\\\\/y",
    "(?:a|b)+c",
    "",
];
const SITES: &[&str] = &["example.org", "bbc.co.uk", "localhost"];
const VALUES: &[&str] = &["bbc world", "lenta", "a-b", "war:crimes", "x~y", "c++"];

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS).prop_map(str::to_owned)
}

fn words(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(word(), 1..=max)
}

fn leaf() -> impl Strategy<Value = Query> {
    let kind = prop_oneof![
        word().prop_map(TermKind::Word),
        word().prop_map(TermKind::Prefix),
        words(3).prop_map(TermKind::Phrase),
        word().prop_map(TermKind::Exact),
        (words(3), 0u32..30).prop_map(|(words, slop)| TermKind::Proximity { words, slop }),
        prop::sample::select(REGEXES).prop_map(|r| TermKind::Regex(r.to_owned())),
        prop::sample::select(SITES).prop_map(|s| TermKind::Site(s.to_owned())),
        prop::sample::select(VALUES).prop_map(|s| TermKind::Feed(s.to_owned())),
        prop::sample::select(VALUES).prop_map(|s| TermKind::Tag(s.to_owned())),
        prop::sample::select(vec![Lang::En, Lang::Ru, Lang::Uk, Lang::Other("deu")])
            .prop_map(TermKind::Lang),
        (
            prop::option::of(prop::sample::select(vec![
                EntityKind::Person,
                EntityKind::Org,
                EntityKind::Place
            ])),
            words(3)
        )
            .prop_map(|(kind, w)| TermKind::Entity {
                kind,
                name: w.join(" ")
            }),
    ];
    kind.prop_map(|kind| Query::Term(Term { kind, span: 0..0 }))
}

/// Merges nested AND-in-AND and OR-in-OR, as the parser does.
fn flat(items: Vec<Query>, and: bool) -> Vec<Query> {
    let mut out = Vec::new();
    for item in items {
        match (and, item) {
            (true, Query::And(inner)) | (false, Query::Or(inner)) => out.extend(inner),
            (_, other) => out.push(other),
        }
    }
    out
}

fn query() -> impl Strategy<Value = Query> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| Query::And(flat(v, true))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| Query::Or(flat(v, false))),
            inner.clone().prop_map(|q| Query::Not(Box::new(q))),
            (inner.clone(), inner.clone(), 0u32..20).prop_map(|(l, r, distance)| Query::Near {
                left: Box::new(l),
                right: Box::new(r),
                distance,
            }),
            (prop::bool::ANY, inner).prop_map(|(title, q)| {
                let field = if title { Field::Title } else { Field::Body };
                Query::Scoped(field, Box::new(q))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_parse_round_trips(q in query()) {
        let printed = q.to_string();
        let parsed = parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(parsed.without_spans(), q, "{}", printed);
        prop_assert_eq!(parsed.to_string(), printed);
    }

    /// Arbitrary text never panics the parser, and whatever parses prints to
    /// a fixed point.
    #[test]
    fn arbitrary_text_never_panics(src in "[a-zA-Zа-я0-9 ()\"*=~/:\\\\NEAR/OTD-]{0,40}") {
        if let Ok(q) = parse(&src) {
            let printed = q.to_string();
            let again = parse(&printed).map_err(|e| TestCaseError::fail(format!("{src:?} -> {printed}: {e}")))?;
            prop_assert_eq!(again.to_string(), printed);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The presearcher never loses a match: on articles made of the same
    /// words as the queries, candidate-only matching equals evaluating every
    /// topic (hits, scores and snippets included).
    #[test]
    fn presearch_never_loses_a_match(
        queries in prop::collection::vec(query(), 1..12),
        title in prop::collection::vec(prop::sample::select(WORDS), 0..6),
        body in prop::collection::vec(prop::sample::select(WORDS), 0..40),
    ) {
        let topics = queries
            .into_iter()
            .enumerate()
            .map(|(i, q)| (format!("t{i}"), q))
            .collect();
        let set = TopicSet::new(topics);
        let (title, body) = (title.join(" "), body.join(", "));
        let tags = vec!["a-b".to_owned()];
        let aliases = vec!["putin".to_owned()];
        let entities = [EntityRef { text: "x", kind: EntityKind::Person, aliases: &aliases }];
        let article = AnalyzedArticle::new(
            &ArticleText::new(&title, &body)
                .with_site("news.bbc.co.uk")
                .with_tags(&tags)
                .with_entities(&entities),
        );
        prop_assert_eq!(set.matches(&article), set.matches_exhaustive(&article));
    }
}
