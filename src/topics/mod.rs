//! The topic query language: syntax tree, parsing, compilation and matching.
//!
//! Owns the `Query` tree and its canonical text form (here), the lexer and
//! parser ([`parser`]), compiled topic sets and their evaluation against an
//! analysed article ([`matcher`]) and highlighted snippets ([`snippet`]).
//! Words are analysed with [`crate::text`] so queries fold and stem exactly
//! like articles. This module must never do I/O, read the clock or keep
//! global state: parsing and matching are pure and synchronous, so callers
//! may run them from any thread or test.
//!
//! The tree is meant to grow. Planned additions (`=exact`, `"a b"~N`,
//! `a NEAR/N b`, `title:`/`site:`/… fields, `/regex/`) will become new
//! [`TermKind`] or [`Query`] variants, which is why both are
//! `#[non_exhaustive]`; until then the parser rejects that syntax with a
//! located error instead of reading it as words.

pub mod matcher;
pub mod parser;
pub mod snippet;

use std::fmt;
use std::ops::Range;

pub use matcher::{
    AnalyzedArticle, ArticleText, ClauseReport, Field, Hit, TopicMatch, TopicSet, explain,
    match_query,
};
pub use parser::parse;

/// A parsed query. AND and OR are n-ary and already flattened, so
/// `a (b c)` and `a b c` are the same tree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Query {
    Term(Term),
    And(Vec<Query>),
    Or(Vec<Query>),
    Not(Box<Query>),
}

/// A leaf of the query with the byte range it came from, so later stages
/// (explain, compile-time checks) can point back into the user's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub kind: TermKind,
    pub span: Range<usize>,
}

/// What a leaf matches. Strings are already folded by
/// [`crate::text::analyze`], which keeps the tree's text form canonical.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TermKind {
    /// Any word with the same stem.
    Word(String),
    /// Any word whose folded term starts with this; deliberately unstemmed,
    /// since the user already chose how much of the word to keep.
    Prefix(String),
    /// Adjacent words in order, each compared by stem. A bare word that
    /// analyses to several words ("anti-war") also becomes a phrase.
    Phrase(Vec<String>),
}

impl Term {
    /// The clause as reported in `TopicMatch::matched`: canonical, without
    /// quotes, so "Soldiers' Mothers" reads "soldiers mothers".
    pub fn label(&self) -> String {
        match &self.kind {
            TermKind::Word(word) => word.clone(),
            TermKind::Prefix(prefix) => format!("{prefix}*"),
            TermKind::Phrase(words) => words.join(" "),
        }
    }
}

/// A query the parser refused, with the byte range of `src` to blame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at byte {}..{})", span.start, span.end)]
pub struct QueryError {
    pub message: String,
    pub span: Range<usize>,
}

impl QueryError {
    pub(crate) fn new(message: impl Into<String>, span: Range<usize>) -> Self {
        QueryError {
            message: message.into(),
            span,
        }
    }

    /// Two lines for a terminal: the query and a caret row under the span.
    pub fn caret(&self, src: &str) -> String {
        let width = |s: &str| s.chars().count();
        let before = src.get(..self.span.start).map_or(0, width);
        let marked = src.get(self.span.clone()).map_or(1, width).max(1);
        format!("{src}\n{}{}", " ".repeat(before), "^".repeat(marked))
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TermKind::Word(word) => f.write_str(word),
            TermKind::Prefix(prefix) => write!(f, "{prefix}*"),
            TermKind::Phrase(words) => write!(f, "\"{}\"", words.join(" ")),
        }
    }
}

/// Canonical form: implicit AND, uppercase OR, `-` for NOT, and parentheses
/// only around groups nested in another operator. It parses back to the same
/// tree (spans aside).
impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn group(q: &Query, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match q {
                Query::And(_) | Query::Or(_) => write!(f, "({q})"),
                _ => write!(f, "{q}"),
            }
        }
        fn join(items: &[Query], sep: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                group(item, f)?;
            }
            Ok(())
        }
        match self {
            Query::Term(term) => write!(f, "{term}"),
            Query::And(items) => join(items, " ", f),
            Query::Or(items) => join(items, " OR ", f),
            Query::Not(inner) => {
                f.write_str("-")?;
                group(inner, f)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip_spans(q: &Query) -> Query {
        match q {
            Query::Term(t) => Query::Term(Term {
                kind: t.kind.clone(),
                span: 0..0,
            }),
            Query::And(items) => Query::And(items.iter().map(strip_spans).collect()),
            Query::Or(items) => Query::Or(items.iter().map(strip_spans).collect()),
            Query::Not(inner) => Query::Not(Box::new(strip_spans(inner))),
        }
    }

    #[test]
    fn display_round_trips() {
        let cases = [
            ("putin", "putin"),
            ("Putin Kremlin", "putin kremlin"),
            ("a AND b", "a b"),
            ("a OR b OR c", "a OR b OR c"),
            ("a b OR c", "(a b) OR c"),
            ("a (b OR c)", "a (b OR c)"),
            ("a (b c)", "a b c"),
            ("NOT a", "-a"),
            ("NOT NOT a", "--a"),
            ("-(a OR b) c", "-(a OR b) c"),
            (
                "\"Soldiers' Mothers\" OR солдатские*",
                "\"soldiers mothers\" OR солдатские*",
            ),
            ("anti-war", "\"anti war\""),
            ("Mother's", "mother"),
            ("Café or crème", "cafe or creme"),
            ("\"putin\"", "\"putin\""),
            ("((a OR b) (c OR -d)) OR e", "((a OR b) (c OR -d)) OR e"),
            (
                "мобилиза* -\"частичная мобилизация\"",
                "мобилиза* -\"частичная мобилизация\"",
            ),
        ];
        for (src, canonical) in cases {
            let q = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
            let printed = q.to_string();
            assert_eq!(printed, canonical, "{src}");
            let again = parse(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
            assert_eq!(strip_spans(&again), strip_spans(&q), "{src}");
        }
    }

    /// Tiny deterministic generator so the fuzz-style tests need no extra
    /// dependency and always replay the same cases.
    struct Lcg(u64);

    impl Lcg {
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = usize::try_from(self.0 >> 33).unwrap_or(0) % items.len();
            items[i]
        }
    }

    #[test]
    fn random_queries_round_trip_and_never_panic() {
        let pieces = [
            "putin",
            "Мобилизация",
            "café",
            "anti-war",
            "mother's",
            "prot*",
            "\"a b\"",
            "\"soldiers' mothers\"",
            "AND",
            "OR",
            "NOT",
            "-",
            "(",
            ")",
            "or",
            "\"",
            "title:",
            "*",
            "=x",
            "~2",
            " ",
            " ",
            " ",
        ];
        let mut rng = Lcg(42);
        let mut parsed = 0;
        for _ in 0..3000 {
            let n = 1 + rng
                .pick(&["0", "1", "2", "3", "4", "5", "6", "7"])
                .parse::<usize>()
                .unwrap_or(0);
            let src: String = (0..n)
                .map(|_| {
                    let p = rng.pick(&pieces);
                    let sep = rng.pick(&[" ", " ", ""]);
                    format!("{p}{sep}")
                })
                .collect();
            let Ok(q) = parse(&src) else { continue };
            parsed += 1;
            let printed = q.to_string();
            let again = parse(&printed).unwrap_or_else(|e| panic!("{src:?} -> {printed:?}: {e}"));
            assert_eq!(
                strip_spans(&again),
                strip_spans(&q),
                "{src:?} -> {printed:?}"
            );
            assert_eq!(again.to_string(), printed);
        }
        assert!(parsed > 300, "only {parsed} generated queries parsed");
    }

    #[test]
    fn caret_points_at_span() {
        let src = "a OR";
        let err = parse(src).err();
        let caret = err.map(|e| e.caret(src));
        assert_eq!(caret.as_deref(), Some("a OR\n  ^^"));
    }
}
