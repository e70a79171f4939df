//! Warnings for queries that parse but are almost certainly mistakes.
//!
//! Owns spotting clauses that can never match (`a -a`, `NEAR/0`, a
//! proximity window too small for its words, a NEAR side without positions)
//! and queries that match almost everything (a lone stop word, a 1–2 letter
//! prefix, a regex that matches the empty string, pure negations). It must
//! never do I/O, read the clock or keep global state. Warnings never stop a
//! topic from loading: the user may mean it, so we only say what we see.

use std::ops::Range;

use super::parser::build_regex;
use super::{Field, Query, TermKind};

/// Prefixes this short match a large part of any vocabulary.
const SHORT_PREFIX_CHARS: usize = 2;

/// Common English and Russian (and a few Ukrainian) function words: a topic
/// that one of them alone can satisfy matches nearly every article.
const STOP_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "or",
    "of",
    "to",
    "in",
    "on",
    "at",
    "by",
    "for",
    "from",
    "with",
    "as",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "he",
    "she",
    "they",
    "we",
    "you",
    "i",
    "his",
    "her",
    "their",
    "our",
    "not",
    "no",
    "but",
    "if",
    "so",
    "than",
    "then",
    "there",
    "what",
    "which",
    "who",
    "will",
    "would",
    "can",
    "has",
    "have",
    "had",
    "do",
    "does",
    "did",
    "about",
    "into",
    "over",
    "after",
    "also",
    "more",
    "и",
    "в",
    "во",
    "не",
    "что",
    "он",
    "на",
    "я",
    "с",
    "со",
    "как",
    "а",
    "то",
    "все",
    "она",
    "так",
    "его",
    "но",
    "да",
    "ты",
    "к",
    "у",
    "же",
    "вы",
    "за",
    "бы",
    "по",
    "только",
    "ее",
    "мне",
    "было",
    "вот",
    "от",
    "меня",
    "еще",
    "нет",
    "о",
    "из",
    "ему",
    "теперь",
    "когда",
    "даже",
    "ну",
    "ли",
    "если",
    "уже",
    "или",
    "ни",
    "быть",
    "был",
    "него",
    "до",
    "вас",
    "это",
    "эт",
    "они",
    "мы",
    "их",
    "чем",
    "была",
    "для",
    "при",
    "ва",
    "та",
    "і",
    "й",
    "та",
    "що",
    "це",
    "як",
    "до",
    "від",
];

/// True for a folded word (or its stem) that carries no topic on its own.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// Something suspicious about a query that still parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryWarning {
    pub message: String,
    /// Byte range of the query text to point at (the clause concerned).
    pub span: Range<usize>,
}

/// All warnings for `query`, outermost first.
pub fn lint(query: &Query) -> Vec<QueryWarning> {
    let mut out = Vec::new();
    if let Some((why, span)) = too_broad(query) {
        out.push(QueryWarning {
            message: format!("matches almost every article: {why}"),
            span,
        });
    } else if !has_positive(query) {
        out.push(QueryWarning {
            message: "matches every article that lacks the excluded clauses: add something \
                      the article must contain"
                .to_owned(),
            span: query.span(),
        });
    }
    walk(query, None, &mut out);
    out
}

fn warn(out: &mut Vec<QueryWarning>, message: impl Into<String>, span: Range<usize>) {
    out.push(QueryWarning {
        message: message.into(),
        span,
    });
}

fn walk(query: &Query, scope: Option<Field>, out: &mut Vec<QueryWarning>) {
    match query {
        Query::Term(term) => match &term.kind {
            TermKind::Proximity { words, slop } if (*slop as usize) + 1 < words.len() => warn(
                out,
                format!(
                    "can never match: {} words need a window of at least ~{}",
                    words.len(),
                    words.len() - 1
                ),
                term.span.clone(),
            ),
            TermKind::Regex(pattern) if pattern.is_empty() => warn(
                out,
                "empty regular expression: it matches every article",
                term.span.clone(),
            ),
            kind if !kind.is_textual() && scope.is_some() => warn(
                out,
                "title:/text: has no effect on metadata fields",
                term.span.clone(),
            ),
            _ => {}
        },
        Query::And(items) => {
            for (i, item) in items.iter().enumerate() {
                if let Query::Not(inner) = item {
                    let bare = inner.without_spans();
                    if items
                        .iter()
                        .enumerate()
                        .any(|(j, other)| j != i && other.without_spans() == bare)
                    {
                        warn(
                            out,
                            format!("can never match: `{inner}` is both required and excluded"),
                            item.span(),
                        );
                    }
                }
            }
            items.iter().for_each(|q| walk(q, scope, out));
        }
        Query::Or(items) => items.iter().for_each(|q| walk(q, scope, out)),
        Query::Not(inner) => walk(inner, scope, out),
        Query::Near {
            left,
            right,
            distance,
        } => {
            if *distance == 0 {
                warn(
                    out,
                    "NEAR/0 only matches clauses at the same position: use a phrase, or \
                     NEAR/1 for neighbours",
                    query.span(),
                );
            }
            for side in [left, right] {
                if !has_positions(side) {
                    warn(
                        out,
                        format!(
                            "can never match: `{side}` has no word positions (metadata, \
                             regexes and negations cannot be near anything)"
                        ),
                        side.span(),
                    );
                }
            }
            walk(left, scope, out);
            walk(right, scope, out);
        }
        Query::Scoped(field, inner) => {
            if scope.is_some_and(|s| s != *field) {
                warn(
                    out,
                    "nested title:/text: conflict: the inner one wins",
                    inner.span(),
                );
            }
            walk(inner, Some(*field), out);
        }
    }
}

/// A clause that alone satisfies the query and matches nearly everything.
fn too_broad(query: &Query) -> Option<(String, Range<usize>)> {
    match query {
        Query::Term(term) => match &term.kind {
            TermKind::Word(w) | TermKind::Exact(w) if is_stop_word(w) => {
                Some((format!("`{w}` is a stop word"), term.span.clone()))
            }
            TermKind::Prefix(p) if p.chars().count() <= SHORT_PREFIX_CHARS => Some((
                format!("the prefix `{p}*` is too short; use at least 3 letters"),
                term.span.clone(),
            )),
            TermKind::Regex(p) if build_regex(p).is_ok_and(|re| re.is_match("")) => Some((
                "the regular expression matches the empty string".to_owned(),
                term.span.clone(),
            )),
            _ => None,
        },
        Query::Or(items) => items.iter().find_map(too_broad),
        Query::And(items) => {
            let mut first = None;
            for item in items.iter().filter(|q| !matches!(q, Query::Not(_))) {
                let broad = too_broad(item)?;
                first.get_or_insert(broad);
            }
            first
        }
        Query::Scoped(_, inner) => too_broad(inner),
        Query::Not(_) | Query::Near { .. } => None,
    }
}

/// Whether the query requires anything to be present (metadata counts).
fn has_positive(query: &Query) -> bool {
    match query {
        Query::Term(_) | Query::Near { .. } => true,
        Query::And(items) => items.iter().any(has_positive),
        Query::Or(items) => items.iter().all(has_positive),
        Query::Not(_) => false,
        Query::Scoped(_, inner) => has_positive(inner),
    }
}

/// Whether a true `query` always contributes at least one word position.
fn has_positions(query: &Query) -> bool {
    match query {
        // Entities count: their mentions in the text are their positions.
        Query::Term(term) => match term.kind {
            TermKind::Regex(_) => false,
            TermKind::Entity { .. } => true,
            ref kind => kind.is_textual(),
        },
        Query::And(items) => items.iter().any(has_positions),
        Query::Or(items) => items.iter().any(has_positions),
        Query::Not(_) => false,
        Query::Near { .. } => true,
        Query::Scoped(_, inner) => has_positions(inner),
    }
}
