//! Property tests of extraction on hostile input: arbitrary bytes and tag soup built from the
//! constructs that reach the parser's expensive corners (nesting, implied end tags, formatting
//! elements, raw text, comments, foreign content). Extraction must never panic, must finish
//! within the daemon's analysis budget, and the pre-parse scan must never let through a page
//! whose DOM turns out far deeper than the limit: its estimate may err high, and low only by
//! what the parser's re-opened formatting elements add in corners it does not model (the
//! DOM check after parsing refuses those pages).
//! CI runs proptest's default 256 cases each from a fixed seed; a longer search with fresh cases:
//! `PROPTEST_CASES=20000 PROPTEST_RNG_SEED=$RANDOM cargo test --test extract_props` (commit what
//! it finds to `extract_props.proptest-regressions`).

use std::time::{Duration, Instant};

use feedwatch::extract::{self, ExtractError, MAX_DEPTH};
use proptest::prelude::*;

/// The daemon's default per-article analysis budget.
const BUDGET: Duration = Duration::from_secs(5);

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "div",
            "p",
            "li",
            "ul",
            "dl",
            "dd",
            "dt",
            "table",
            "tr",
            "td",
            "th",
            "tbody",
            "span",
            "b",
            "i",
            "a",
            "font",
            "nobr",
            "button",
            "select",
            "option",
            "h1",
            "h2",
            "svg",
            "math",
            "foreignObject",
            "template",
            "object",
            "form",
            "pre",
            "em",
        ])
        .prop_map(|t| format!("<{t}>")),
        prop::sample::select(vec![
            "div", "p", "li", "ul", "table", "tr", "td", "span", "b", "i", "a", "svg", "body",
            "html", "template", "button", "form",
        ])
        .prop_map(|t| format!("</{t}>")),
        prop::sample::select(vec![
            "<br>",
            "<img src=x>",
            "<div/>",
            "<path/>",
            "<!--",
            "-->",
            "<!-- c -->",
            "<script>",
            "</script>",
            "<style>",
            "</style>",
            "<textarea>",
            "<title>",
            "<plaintext>",
            "<![CDATA[",
            "]]>",
            "<!doctype html>",
            "<?xml?>",
            "&amp;",
            "&",
            "<",
            ">",
            "\"",
            "'",
            "=",
            " ",
        ])
        .prop_map(str::to_string),
        "[a-zA-Zа-я ]{1,12}",
        (0u8..4).prop_map(|n| format!("<b id={n}>")),
    ]
}

fn run(html: &str) -> Result<(), TestCaseError> {
    let started = Instant::now();
    let result = extract::extract_str(html, Some("https://example.org/a"));
    let took = started.elapsed();
    prop_assert!(took < BUDGET, "took {took:?}");
    if let Err(ExtractError::TooComplex { max_depth, .. }) = result {
        prop_assert!(
            max_depth <= 2 * MAX_DEPTH,
            "the pre-scan let through a DOM {max_depth} deep"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let started = Instant::now();
        let _ = extract::extract(&bytes, None, Some("text/html"));
        prop_assert!(started.elapsed() < BUDGET);
    }

    #[test]
    fn tag_soup_never_panics_or_overruns(tokens in prop::collection::vec(token(), 0..1500)) {
        run(&tokens.concat())?;
    }

    #[test]
    fn repeated_soup_is_caught_before_parsing(
        unit in prop::collection::vec(token(), 1..8),
        times in 100usize..3000,
    ) {
        run(&unit.concat().repeat(times))?;
    }
}
