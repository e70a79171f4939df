//! The topic query language: syntax tree, parsing, compilation and matching.
//!
//! Owns the `Query` tree and its canonical text form (here), the lexer and
//! parser ([`parser`]), compiled topic sets and their evaluation against an
//! analysed article ([`matcher`]), the presearcher that picks candidate topics
//! per article ([`presearch`]), query warnings ([`lint`]) and highlighted
//! snippets ([`snippet`]). Words are analysed with [`crate::text`] so queries
//! fold and stem exactly like articles. This module must never do I/O, read
//! the clock or keep global state: parsing and matching are pure and
//! synchronous, so callers may run them from any thread or test.
//!
//! The language (grammar in [`parser`]): words (stemmed), `prefix*`,
//! `=exact`, `"phrases"`, `"a b"~N`, `a NEAR/N b`, AND (implicit), OR,
//! NOT/`-`, parentheses, `title:`/`text:` scopes, metadata fields `site:`,
//! `feed:`, `tag:`, `lang:`, `entity:`/`person:`/`org:`/`place:`/`loc:`, and
//! `/regex/` over the normalised text. Every tree prints ([`fmt::Display`])
//! to a canonical text that parses back to the same tree.
//!
//! The tree may still grow, which is why [`TermKind`] and [`Query`] are
//! `#[non_exhaustive]`.

pub mod lint;
pub mod matcher;
pub mod parser;
pub mod presearch;
pub mod snippet;

use std::fmt;
use std::ops::Range;

use crate::text::Lang;

pub use lint::{QueryWarning, lint};
pub use matcher::{
    AnalyzedArticle, ArticleText, ClauseReport, EntityRef, Field, Hit, TopicMatch, TopicSet,
    explain, match_query,
};
pub use parser::parse;

/// Largest `NEAR/N` and `"…"~N` distance; beyond it proximity means nothing
/// in a news article and only costs time.
pub const MAX_DISTANCE: u32 = 1000;

/// A parsed query. AND and OR are n-ary and already flattened, so
/// `a (b c)` and `a b c` are the same tree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Query {
    Term(Term),
    And(Vec<Query>),
    Or(Vec<Query>),
    Not(Box<Query>),
    /// `left NEAR/distance right`: some positive hit of each side within
    /// `distance` words of the other (0 = overlapping). Left-associative.
    Near {
        left: Box<Query>,
        right: Box<Query>,
        distance: u32,
    },
    /// `title:…` / `text:…`: text clauses inside look only at that field.
    Scoped(Field, Box<Query>),
}

/// A leaf of the query with the byte range it came from, so later stages
/// (explain, lint) can point back into the user's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub kind: TermKind,
    pub span: Range<usize>,
}

/// The kind of a named entity, as recognised by NER or declared in config; `as_str` is also
/// the query field that selects it (`misc` has none of its own: use `entity:`).
pub use crate::entities::EntityKind;

/// What a leaf matches. Strings are already folded by
/// [`crate::text::analyze`] (or lowercased, for metadata), which keeps the
/// tree's text form canonical.
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
    /// `=word`: the folded word itself, no stemming.
    Exact(String),
    /// `"a b"~N`: all the words (by stem, any order, distinct positions)
    /// inside a window whose first and last word are at most N apart.
    Proximity { words: Vec<String>, slop: u32 },
    /// `/pattern/` over the normalised text; the pattern as written, with
    /// `\/` already unescaped.
    Regex(String),
    /// `site:host`: the article's host is this domain or a subdomain of it.
    Site(String),
    /// `feed:name`, compared case-insensitively.
    Feed(String),
    /// `tag:x`, one of the article's tags, case-insensitively.
    Tag(String),
    /// `lang:ru`: the article's (detected or declared) language.
    Lang(Lang),
    /// `entity:"…"` (`kind` None) or `person:`/`org:`/`place:`: an entity of
    /// the article whose text or an alias folds to `name`.
    Entity {
        kind: Option<EntityKind>,
        name: String,
    },
}

impl TermKind {
    /// True for clauses about the article's text (they have positions and
    /// may take a `title:`/`text:` scope); false for metadata.
    pub fn is_textual(&self) -> bool {
        matches!(
            self,
            TermKind::Word(_)
                | TermKind::Prefix(_)
                | TermKind::Phrase(_)
                | TermKind::Exact(_)
                | TermKind::Proximity { .. }
                | TermKind::Regex(_)
        )
    }
}

impl Term {
    /// The clause as reported in `TopicMatch::matched`: canonical, without
    /// quotes, so "Soldiers' Mothers" reads "soldiers mothers".
    pub fn label(&self) -> String {
        match &self.kind {
            TermKind::Word(word) => word.clone(),
            TermKind::Phrase(words) => words.join(" "),
            TermKind::Entity { name, .. } => name.clone(),
            _ => self.to_string(),
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
        caret(src, &self.span)
    }
}

pub(crate) fn caret(src: &str, span: &Range<usize>) -> String {
    let width = |s: &str| s.chars().count();
    let before = src.get(..span.start).map_or(0, width);
    let marked = src.get(span.clone()).map_or(1, width).max(1);
    format!("{src}\n{}{}", " ".repeat(before), "^".repeat(marked))
}

/// Metadata values are printed bare when the lexer would read them back as
/// one word, otherwise quoted.
fn write_value(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    let bare = !value.is_empty()
        && !value.starts_with(['-', '=', '/'])
        && !value.ends_with(':')
        && !value.contains(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '"' | ':' | '~'));
    if bare {
        f.write_str(value)
    } else {
        write!(f, "\"{value}\"")
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TermKind::Word(word) => f.write_str(word),
            TermKind::Prefix(prefix) => write!(f, "{prefix}*"),
            TermKind::Phrase(words) => write!(f, "\"{}\"", words.join(" ")),
            TermKind::Exact(word) => write!(f, "={word}"),
            TermKind::Proximity { words, slop } => write!(f, "\"{}\"~{slop}", words.join(" ")),
            TermKind::Regex(pattern) => {
                f.write_str("/")?;
                let mut chars = pattern.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            f.write_str("\\")?;
                            if let Some(next) = chars.next() {
                                write!(f, "{next}")?;
                            }
                        }
                        '/' => f.write_str("\\/")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("/")
            }
            TermKind::Site(v) => {
                f.write_str("site:")?;
                write_value(f, v)
            }
            TermKind::Feed(v) => {
                f.write_str("feed:")?;
                write_value(f, v)
            }
            TermKind::Tag(v) => {
                f.write_str("tag:")?;
                write_value(f, v)
            }
            TermKind::Lang(lang) => write!(f, "lang:{}", lang.code()),
            TermKind::Entity { kind, name } => {
                let field = kind.map_or("entity", EntityKind::as_str);
                write!(f, "{field}:\"{name}\"")
            }
        }
    }
}

/// Canonical form: implicit AND, uppercase OR, `-` for NOT, and parentheses
/// only where precedence needs them. It parses back to the same tree (spans
/// aside).
impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// Operands of AND/OR/NOT: groups need parentheses, NEAR (which binds
        /// tighter than AND) only under NOT.
        fn operand(q: &Query, f: &mut fmt::Formatter<'_>, near_ok: bool) -> fmt::Result {
            match q {
                Query::And(_) | Query::Or(_) => write!(f, "({q})"),
                Query::Near { .. } if !near_ok => write!(f, "({q})"),
                _ => write!(f, "{q}"),
            }
        }
        fn join(items: &[Query], sep: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                operand(item, f, true)?;
            }
            Ok(())
        }
        match self {
            Query::Term(term) => write!(f, "{term}"),
            Query::And(items) => join(items, " ", f),
            Query::Or(items) => join(items, " OR ", f),
            Query::Not(inner) => {
                f.write_str("-")?;
                operand(inner, f, false)
            }
            Query::Near {
                left,
                right,
                distance,
            } => {
                // Left-associative: a left NEAR needs no parentheses.
                operand(left, f, true)?;
                write!(f, " NEAR/{distance} ")?;
                operand(right, f, false)
            }
            Query::Scoped(field, inner) => {
                let name = match field {
                    Field::Title => "title",
                    Field::Body => "text",
                };
                match inner.as_ref() {
                    Query::Term(t) if t.kind.is_textual() => write!(f, "{name}:{t}"),
                    other => write!(f, "{name}:({other})"),
                }
            }
        }
    }
}

impl Query {
    /// The byte range of the source the clause came from (leaves carry
    /// spans; groups cover their leaves).
    pub fn span(&self) -> Range<usize> {
        match self {
            Query::Term(t) => t.span.clone(),
            Query::And(items) | Query::Or(items) => {
                let spans: Vec<_> = items.iter().map(Query::span).collect();
                let start = spans.iter().map(|s| s.start).min().unwrap_or(0);
                let end = spans.iter().map(|s| s.end).max().unwrap_or(0);
                start..end
            }
            Query::Not(inner) | Query::Scoped(_, inner) => inner.span(),
            Query::Near { left, right, .. } => {
                let (l, r) = (left.span(), right.span());
                l.start.min(r.start)..l.end.max(r.end)
            }
        }
    }

    /// The same tree with every span set to `0..0`, for comparing trees
    /// parsed from different texts.
    pub fn without_spans(&self) -> Query {
        match self {
            Query::Term(t) => Query::Term(Term {
                kind: t.kind.clone(),
                span: 0..0,
            }),
            Query::And(items) => Query::And(items.iter().map(Query::without_spans).collect()),
            Query::Or(items) => Query::Or(items.iter().map(Query::without_spans).collect()),
            Query::Not(inner) => Query::Not(Box::new(inner.without_spans())),
            Query::Near {
                left,
                right,
                distance,
            } => Query::Near {
                left: Box::new(left.without_spans()),
                right: Box::new(right.without_spans()),
                distance: *distance,
            },
            Query::Scoped(field, inner) => Query::Scoped(*field, Box::new(inner.without_spans())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip_spans(q: &Query) -> Query {
        q.without_spans()
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
