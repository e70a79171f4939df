//! Lexer and recursive-descent parser for topic queries.
//!
//! Owns turning query text into a [`Query`] tree with byte spans, and every
//! user-facing syntax error. It must never do I/O, read the clock or keep
//! global state, and it must never guess: syntax that is reserved for later
//! versions (fields, `=exact`, `~N`, `NEAR`, `/regex/`) is rejected with a
//! located error rather than read as plain words, so that adding it later
//! cannot silently change what existing topics match.
//!
//! Grammar (Lucene/Google precedence: NOT, then AND, then OR):
//!
//! ```text
//! query   := or EOF
//! or      := and ("OR" and)*
//! and     := unary (["AND"] unary)*
//! unary   := ("NOT" | "-") unary | primary
//! primary := word | prefix* | "phrase" | "(" or ")"
//! ```
//!
//! Only uppercase AND/OR/NOT are operators, so "rock or roll" is three words.

use std::ops::Range;

use super::{Query, QueryError, Term, TermKind};
use crate::text::analyze;

/// Field names the full language will accept; recognising them now lets us
/// say "not supported yet" instead of "unknown field".
const FIELDS: &[&str] = &[
    "title", "text", "site", "feed", "tag", "lang", "entity", "person", "org", "place",
];

/// Shorter prefixes match so much that they are almost certainly mistakes.
const MIN_PREFIX_CHARS: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokKind<'a> {
    LParen,
    RParen,
    Minus,
    And,
    Or,
    Not,
    Word(&'a str),
    Phrase(&'a str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tok<'a> {
    kind: TokKind<'a>,
    span: Range<usize>,
}

/// Parses a topic query.
pub fn parse(src: &str) -> Result<Query, QueryError> {
    let tokens = lex(src)?;
    if tokens.is_empty() {
        return Err(QueryError::new(
            "empty query: write at least one word, e.g. putin OR kremlin",
            0..src.len(),
        ));
    }
    let mut parser = Parser { tokens, pos: 0 };
    let query = parser.parse_or()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(query),
        Some(tok) if tok.kind == TokKind::RParen => Err(QueryError::new(
            "unmatched `)`: remove it or add a `(` before it",
            tok.span.clone(),
        )),
        Some(tok) => Err(QueryError::new("unexpected input", tok.span.clone())),
    }
}

fn lex(src: &str) -> Result<Vec<Tok<'_>>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let single = |kind| Tok {
            kind,
            span: i..i + c.len_utf8(),
        };
        match c {
            c if c.is_whitespace() => {}
            '(' => tokens.push(single(TokKind::LParen)),
            ')' => tokens.push(single(TokKind::RParen)),
            '-' => {
                let next = chars.peek().map(|&(_, n)| n);
                if next.is_none_or(|n| n.is_whitespace() || n == ')') {
                    return Err(QueryError::new(
                        "`-` must be followed directly by what to exclude, e.g. -putin",
                        i..i + 1,
                    ));
                }
                tokens.push(single(TokKind::Minus));
            }
            '"' => {
                let body_start = i + 1;
                let close = src
                    .get(body_start..)
                    .and_then(|rest| rest.find('"'))
                    .map(|off| body_start + off);
                let Some(close) = close else {
                    return Err(QueryError::new(
                        "unclosed quote: add a closing `\"` to end the phrase",
                        i..src.len(),
                    ));
                };
                while chars.peek().is_some_and(|&(j, _)| j <= close) {
                    chars.next();
                }
                if let Some(&(j, '~')) = chars.peek() {
                    let end = word_end(src, j);
                    return Err(QueryError::new(
                        "proximity phrases like \"a b\"~3 are not supported yet: remove the `~N`",
                        j..end,
                    ));
                }
                tokens.push(Tok {
                    kind: TokKind::Phrase(src.get(body_start..close).unwrap_or("")),
                    span: i..close + 1,
                });
            }
            _ => {
                let end = word_end(src, i);
                while chars.peek().is_some_and(|&(j, _)| j < end) {
                    chars.next();
                }
                let word = src.get(i..end).unwrap_or("");
                tokens.push(classify_word(word, i)?);
            }
        }
    }
    Ok(tokens)
}

/// A bare word runs until whitespace, a parenthesis or a quote; `-` and `*`
/// inside it are handled later so "anti-war" stays one token.
fn word_end(src: &str, start: usize) -> usize {
    src.get(start..)
        .and_then(|rest| rest.find(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '"')))
        .map_or(src.len(), |off| start + off)
}

fn classify_word(word: &str, start: usize) -> Result<Tok<'_>, QueryError> {
    let span = start..start + word.len();
    let err = |message: &str, span: Range<usize>| Err(QueryError::new(message, span));
    let kind = match word {
        "AND" => TokKind::And,
        "OR" => TokKind::Or,
        "NOT" => TokKind::Not,
        _ if word == "NEAR" || word.starts_with("NEAR/") => {
            return err("NEAR is not supported yet: use a phrase or AND", span);
        }
        _ if word.starts_with('=') => {
            return err(
                "exact-form search (=word) is not supported yet: remove the `=` to match all forms",
                span,
            );
        }
        _ if word.starts_with('/') => {
            return err("regular expressions (/…/) are not supported yet", span);
        }
        _ => {
            if let Some(off) = word.find('~') {
                return err(
                    "`~` (fuzzy or proximity search) is not supported yet: remove it",
                    start + off..span.end,
                );
            }
            if let Some(colon) = word.find(':') {
                let name = word.get(..colon).unwrap_or("");
                let name_span = start..start + colon + 1;
                if FIELDS.contains(&name.to_lowercase().as_str()) {
                    return Err(QueryError::new(
                        format!(
                            "field queries like \"{name}:\" are not supported yet: \
                             remove \"{name}:\" to search the whole article"
                        ),
                        name_span,
                    ));
                }
                if !name.is_empty() && name.chars().all(char::is_alphabetic) {
                    return Err(QueryError::new(
                        format!(
                            "unknown field \"{name}:\" (fields will be {}); \
                             to search for the text itself, put it in quotes: \"{word}\"",
                            FIELDS.join(", ")
                        ),
                        name_span,
                    ));
                }
            }
            TokKind::Word(word)
        }
    };
    Ok(Tok { kind, span })
}

struct Parser<'a> {
    tokens: Vec<Tok<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Tok<'a>> {
        self.tokens.get(self.pos)
    }

    fn starts_unary(&self) -> bool {
        self.peek().is_some_and(|t| {
            matches!(
                t.kind,
                TokKind::LParen
                    | TokKind::Minus
                    | TokKind::Not
                    | TokKind::Word(_)
                    | TokKind::Phrase(_)
            )
        })
    }

    fn next(&mut self) -> Option<Tok<'a>> {
        let tok = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        tok
    }

    fn parse_or(&mut self) -> Result<Query, QueryError> {
        let mut items = vec![self.parse_and()?];
        while let Some(tok) = self.peek().filter(|t| t.kind == TokKind::Or) {
            let span = tok.span.clone();
            self.pos += 1;
            if !self.starts_unary() {
                return Err(binary_error("OR", span));
            }
            items.push(self.parse_and()?);
        }
        Ok(flatten(items, Op::Or))
    }

    fn parse_and(&mut self) -> Result<Query, QueryError> {
        let mut items = vec![self.parse_unary()?];
        loop {
            if let Some(tok) = self.peek().filter(|t| t.kind == TokKind::And) {
                let span = tok.span.clone();
                self.pos += 1;
                if !self.starts_unary() {
                    return Err(binary_error("AND", span));
                }
            } else if !self.starts_unary() {
                break;
            }
            items.push(self.parse_unary()?);
        }
        Ok(flatten(items, Op::And))
    }

    fn parse_unary(&mut self) -> Result<Query, QueryError> {
        let Some(tok) = self.next() else {
            // Callers check starts_unary first; reaching the end here means a
            // bug in the grammar, not in the query, but still must not panic.
            return Err(QueryError::new("query ends unexpectedly", 0..0));
        };
        match tok.kind {
            TokKind::Not | TokKind::Minus => {
                if !self.starts_unary() {
                    let op = if tok.kind == TokKind::Not { "NOT" } else { "-" };
                    return Err(QueryError::new(
                        format!(
                            "`{op}` must be followed by a word, phrase or group to exclude, \
                             e.g. {op} putin"
                        ),
                        tok.span,
                    ));
                }
                Ok(Query::Not(Box::new(self.parse_unary()?)))
            }
            TokKind::LParen => {
                if let Some(close) = self.peek().filter(|t| t.kind == TokKind::RParen) {
                    return Err(QueryError::new(
                        "empty parentheses: put a clause inside or remove them",
                        tok.span.start..close.span.end,
                    ));
                }
                let inner = self.parse_or()?;
                match self.next() {
                    Some(t) if t.kind == TokKind::RParen => Ok(inner),
                    _ => Err(QueryError::new(
                        "unclosed `(`: add a matching `)`",
                        tok.span,
                    )),
                }
            }
            TokKind::Word(word) => word_term(word, tok.span).map(Query::Term),
            TokKind::Phrase(body) => phrase_term(body, tok.span).map(Query::Term),
            TokKind::And => Err(binary_error("AND", tok.span)),
            TokKind::Or => Err(binary_error("OR", tok.span)),
            TokKind::RParen => Err(QueryError::new(
                "unmatched `)`: remove it or add a `(` before it",
                tok.span,
            )),
        }
    }
}

fn binary_error(op: &str, span: Range<usize>) -> QueryError {
    QueryError::new(
        format!("`{op}` needs a clause on both sides, e.g. putin {op} kremlin"),
        span,
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    And,
    Or,
}

/// Merges nested groups of the same operator so `a (b c)` and `a b c` are
/// one tree; that keeps Display canonical and evaluation shallow.
fn flatten(mut items: Vec<Query>, op: Op) -> Query {
    if items.len() == 1 {
        return items.swap_remove(0);
    }
    let mut flat = Vec::with_capacity(items.len());
    for item in items {
        match (op, item) {
            (Op::And, Query::And(inner)) | (Op::Or, Query::Or(inner)) => flat.extend(inner),
            (_, other) => flat.push(other),
        }
    }
    match op {
        Op::And => Query::And(flat),
        Op::Or => Query::Or(flat),
    }
}

fn word_term(word: &str, span: Range<usize>) -> Result<Term, QueryError> {
    if let Some(stem) = word.strip_suffix('*') {
        if stem.contains('*') {
            return Err(star_error(span));
        }
        let tokens = analyze(stem, None);
        let [token] = tokens.as_slice() else {
            return Err(QueryError::new(
                "a prefix search must be one word followed by `*`, e.g. mobiliz*",
                span,
            ));
        };
        if token.term.chars().count() < MIN_PREFIX_CHARS {
            return Err(QueryError::new(
                format!("prefix too short: use at least {MIN_PREFIX_CHARS} letters before `*`"),
                span,
            ));
        }
        return Ok(Term {
            kind: TermKind::Prefix(token.term.clone()),
            span,
        });
    }
    if word.contains('*') {
        return Err(star_error(span));
    }
    let mut terms: Vec<String> = analyze(word, None).into_iter().map(|t| t.term).collect();
    let kind = match terms.len() {
        0 => {
            return Err(QueryError::new(
                format!("\"{word}\" has no letters or digits to search for: remove it"),
                span,
            ));
        }
        1 => TermKind::Word(terms.remove(0)),
        _ => TermKind::Phrase(terms),
    };
    Ok(Term { kind, span })
}

fn phrase_term(body: &str, span: Range<usize>) -> Result<Term, QueryError> {
    let terms: Vec<String> = analyze(body, None).into_iter().map(|t| t.term).collect();
    if terms.is_empty() {
        return Err(QueryError::new(
            "empty phrase: put words between the quotes or remove them",
            span,
        ));
    }
    Ok(Term {
        kind: TermKind::Phrase(terms),
        span,
    })
}

fn star_error(span: Range<usize>) -> QueryError {
    QueryError::new(
        "`*` is only supported at the end of a word, e.g. mobiliz*",
        span,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(s: &str) -> TermKind {
        TermKind::Word(s.to_owned())
    }

    fn shape(q: &Query) -> String {
        match q {
            Query::Term(t) => match &t.kind {
                TermKind::Word(w) => w.clone(),
                TermKind::Prefix(p) => format!("{p}*"),
                TermKind::Phrase(ws) => format!("[{}]", ws.join(" ")),
            },
            Query::And(items) => {
                let inner: Vec<_> = items.iter().map(shape).collect();
                format!("AND({})", inner.join(","))
            }
            Query::Or(items) => {
                let inner: Vec<_> = items.iter().map(shape).collect();
                format!("OR({})", inner.join(","))
            }
            Query::Not(inner) => format!("NOT({})", shape(inner)),
        }
    }

    #[test]
    fn precedence_and_structure() {
        let cases = [
            ("a b OR c", "OR(AND(a,b),c)"),
            ("a OR b c", "OR(a,AND(b,c))"),
            ("a AND b OR c AND d", "OR(AND(a,b),AND(c,d))"),
            ("NOT a b", "AND(NOT(a),b)"),
            ("-a OR b", "OR(NOT(a),b)"),
            ("NOT (a OR b)", "NOT(OR(a,b))"),
            ("a or b", "AND(a,or,b)"),
            ("a Or b And c not d", "AND(a,or,b,and,c,not,d)"),
            (
                "\"mothers and wives\" AND putin",
                "AND([mothers and wives],putin)",
            ),
            ("anti-war", "[anti war]"),
            ("a-b -c", "AND([a b],NOT(c))"),
            ("--a", "NOT(NOT(a))"),
            ("((a))", "a"),
            ("(a OR (b OR c))", "OR(a,b,c)"),
            ("mobiliz* -\"x y\"", "AND(mobiliz*,NOT([x y]))"),
            ("10:30", "[10 30]"),
        ];
        for (src, want) in cases {
            let q = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
            assert_eq!(shape(&q), want, "{src}");
        }
    }

    #[test]
    fn term_spans_point_into_source() {
        let src = "  Putin -\"Soldiers' Mothers\"";
        let Ok(Query::And(items)) = parse(src) else {
            panic!("expected AND");
        };
        let Query::Term(t) = &items[0] else { panic!() };
        assert_eq!((t.kind.clone(), t.span.clone()), (word("putin"), 2..7));
        let Query::Not(inner) = &items[1] else {
            panic!()
        };
        let Query::Term(t) = inner.as_ref() else {
            panic!()
        };
        assert_eq!(&src[t.span.clone()], "\"Soldiers' Mothers\"");
    }

    #[test]
    fn errors_have_exact_spans() {
        // (query, span, a fragment the message must contain)
        let cases: &[(&str, Range<usize>, &str)] = &[
            ("", 0..0, "empty query"),
            ("   ", 0..3, "empty query"),
            ("a \"b c", 2..6, "unclosed quote"),
            ("\"", 0..1, "unclosed quote"),
            ("(a OR b", 0..1, "unclosed `(`"),
            ("a (b (c)", 2..3, "unclosed `(`"),
            ("a OR b)", 6..7, "unmatched `)`"),
            (")", 0..1, "unmatched `)`"),
            ("a OR", 2..4, "`OR` needs a clause"),
            ("OR a", 0..2, "`OR` needs a clause"),
            ("a AND", 2..5, "`AND` needs a clause"),
            ("a AND OR b", 2..5, "`AND` needs a clause"),
            ("(a OR) b", 3..5, "`OR` needs a clause"),
            ("NOT", 0..3, "`NOT` must be followed"),
            ("a NOT", 2..5, "`NOT` must be followed"),
            ("a - b", 2..3, "`-` must be followed"),
            ("-", 0..1, "`-` must be followed"),
            ("a ()", 2..4, "empty parentheses"),
            ("\"\"", 0..2, "empty phrase"),
            ("a \"...\"", 2..7, "empty phrase"),
            (
                "putin title:war",
                6..12,
                "field queries like \"title:\" are not supported yet",
            ),
            ("site:\"x y\"", 0..5, "\"site:\" are not supported yet"),
            ("foo:bar", 0..4, "unknown field"),
            ("=Putin", 0..6, "exact-form"),
            ("\"a b\"~3", 5..7, "proximity"),
            ("a NEAR/3 b", 2..8, "NEAR"),
            ("/put.n/", 0..7, "regular expressions"),
            ("mob*il", 0..6, "end of a word"),
            ("a*", 0..2, "prefix too short"),
            ("anti-wa*", 0..8, "one word"),
            ("a &&", 2..4, "no letters or digits"),
        ];
        for (src, span, fragment) in cases {
            match parse(src) {
                Ok(q) => panic!("{src:?} parsed as {q}"),
                Err(e) => {
                    assert_eq!(&e.span, span, "{src:?}: {}", e.message);
                    assert!(e.message.contains(fragment), "{src:?}: {}", e.message);
                }
            }
        }
    }
}
