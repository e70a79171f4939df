//! Lexer and recursive-descent parser for topic queries.
//!
//! Owns turning query text into a [`Query`] tree with byte spans, and every
//! user-facing syntax error. It must never do I/O, read the clock or keep
//! global state, and it must never guess: anything it cannot read exactly
//! (an unknown field, `~` inside a word, an invalid regex) is a located error
//! rather than plain words, so that extending the language later cannot
//! silently change what existing topics match.
//!
//! Grammar (Lucene/Google precedence: NOT, then NEAR, then AND, then OR):
//!
//! ```text
//! query   := or EOF
//! or      := and ("OR" and)*
//! and     := near (["AND"] near)*
//! near    := unary ("NEAR/" N unary)*                 left-associative
//! unary   := ("NOT" | "-") unary | primary
//! primary := text | meta | ("title:" | "text:") (text | "(" or ")") | "(" or ")"
//! text    := word | prefix "*" | "=" word | "phrase" ["~" N] | "/" regex "/"
//! meta    := ("site:" | "feed:" | "tag:" | "lang:" | "entity:" | "person:"
//!             | "org:" | "place:" | "loc:") (word | "phrase")
//! ```
//!
//! Only uppercase AND/OR/NOT/NEAR are operators, so "rock or roll" is three
//! words; field names are case-insensitive.

use std::ops::Range;

use regex::{Regex, RegexBuilder};

use super::{EntityKind, Field, MAX_DISTANCE, Query, QueryError, Term, TermKind};
use crate::text::{Lang, analyze};

/// Compiled-program limit for `/regex/`: generous for real patterns, small
/// enough that one topic cannot make every article expensive.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Builds a query regex exactly as matching will use it. Case-insensitive
/// because the text it runs over is already lowercased, so an uppercase
/// letter in the pattern would otherwise never match.
pub(crate) fn build_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldName {
    Title,
    Text,
    Site,
    Feed,
    Tag,
    Lang,
    Entity(Option<EntityKind>),
}

impl FieldName {
    fn from_name(name: &str) -> Option<FieldName> {
        Some(match name.to_ascii_lowercase().as_str() {
            "title" => FieldName::Title,
            "text" => FieldName::Text,
            "site" => FieldName::Site,
            "feed" => FieldName::Feed,
            "tag" => FieldName::Tag,
            "lang" => FieldName::Lang,
            "entity" => FieldName::Entity(None),
            "person" => FieldName::Entity(Some(EntityKind::Person)),
            "org" => FieldName::Entity(Some(EntityKind::Org)),
            "place" | "loc" => FieldName::Entity(Some(EntityKind::Place)),
            _ => return None,
        })
    }
}

const FIELD_LIST: &str = "title, text, site, feed, tag, lang, entity, person, org, place, loc";

#[derive(Debug, Clone, PartialEq, Eq)]
enum TokKind<'a> {
    LParen,
    RParen,
    Minus,
    And,
    Or,
    Not,
    Near(u32),
    Field(FieldName),
    Word(&'a str),
    Phrase { body: &'a str, slop: Option<u32> },
    Regex(String),
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
    let mut i = 0;
    while let Some(c) = src.get(i..).and_then(|rest| rest.chars().next()) {
        let single = |kind| Tok {
            kind,
            span: i..i + c.len_utf8(),
        };
        let next = src.get(i + c.len_utf8()..).and_then(|r| r.chars().next());
        match c {
            c if c.is_whitespace() => i += c.len_utf8(),
            '(' => {
                tokens.push(single(TokKind::LParen));
                i += 1;
            }
            ')' => {
                tokens.push(single(TokKind::RParen));
                i += 1;
            }
            '-' => {
                if next.is_none_or(|n| n.is_whitespace() || n == ')') {
                    return Err(QueryError::new(
                        "`-` must be followed directly by what to exclude, e.g. -putin",
                        i..i + 1,
                    ));
                }
                tokens.push(single(TokKind::Minus));
                i += 1;
            }
            '"' => {
                let (tok, end) = lex_phrase(src, i)?;
                tokens.push(tok);
                i = end;
            }
            '/' => {
                let (tok, end) = lex_regex(src, i)?;
                tokens.push(tok);
                i = end;
            }
            _ => {
                if let Some((tok, end)) = lex_field(src, i)? {
                    tokens.push(tok);
                    i = end;
                    continue;
                }
                let end = word_end(src, i);
                let word = src.get(i..end).unwrap_or("");
                tokens.push(classify_word(word, i)?);
                i = end.max(i + c.len_utf8());
            }
        }
    }
    Ok(tokens)
}

/// `name:` of a known field, directly followed by its value.
fn lex_field(src: &str, start: usize) -> Result<Option<(Tok<'_>, usize)>, QueryError> {
    let rest = src.get(start..).unwrap_or("");
    let name_len = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    if name_len == 0 || !rest[name_len..].starts_with(':') {
        return Ok(None);
    }
    let Some(field) = FieldName::from_name(&rest[..name_len]) else {
        return Ok(None);
    };
    let end = start + name_len + 1;
    let span = start..end;
    let after = src.get(end..).and_then(|r| r.chars().next());
    if after.is_none_or(|c| c.is_whitespace() || c == ')') {
        return Err(QueryError::new(
            format!(
                "`{}` needs a value right after the colon, e.g. {}",
                &rest[..=name_len],
                match field {
                    FieldName::Title | FieldName::Text => "title:putin or title:(a OR b)",
                    FieldName::Lang => "lang:ru",
                    FieldName::Site => "site:example.org",
                    _ => "person:\"Vladimir Putin\"",
                }
            ),
            span,
        ));
    }
    Ok(Some((
        Tok {
            kind: TokKind::Field(field),
            span,
        },
        end,
    )))
}

fn lex_phrase(src: &str, start: usize) -> Result<(Tok<'_>, usize), QueryError> {
    let body_start = start + 1;
    let Some(close) = src
        .get(body_start..)
        .and_then(|rest| rest.find('"'))
        .map(|off| body_start + off)
    else {
        return Err(QueryError::new(
            "unclosed quote: add a closing `\"` to end the phrase",
            start..src.len(),
        ));
    };
    let body = src.get(body_start..close).unwrap_or("");
    let mut end = close + 1;
    let mut slop = None;
    if src.get(end..).is_some_and(|r| r.starts_with('~')) {
        let digits_start = end + 1;
        let digits_len = src.get(digits_start..).map_or(0, |r| {
            r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len())
        });
        let word_stop = word_end(src, end);
        let digits = src
            .get(digits_start..digits_start + digits_len)
            .unwrap_or("");
        if digits.is_empty() || word_stop != digits_start + digits_len {
            return Err(QueryError::new(
                "`~` after a phrase must be followed by a number, e.g. \"a b\"~5",
                end..word_stop.max(end + 1),
            ));
        }
        slop = Some(parse_distance(digits, end..word_stop)?);
        end = word_stop;
    }
    Ok((
        Tok {
            kind: TokKind::Phrase { body, slop },
            span: start..end,
        },
        end,
    ))
}

fn parse_distance(digits: &str, span: Range<usize>) -> Result<u32, QueryError> {
    digits
        .parse::<u32>()
        .ok()
        .filter(|&n| n <= MAX_DISTANCE)
        .ok_or_else(|| {
            QueryError::new(
                format!("distance too large: use at most {MAX_DISTANCE}"),
                span,
            )
        })
}

/// `/…/` with `\/` for a literal slash; the pattern is checked here so a bad
/// one is a located error at load time, not a silent non-match.
fn lex_regex(src: &str, start: usize) -> Result<(Tok<'_>, usize), QueryError> {
    let mut pattern = String::new();
    let mut close = None;
    let mut chars = src.get(start + 1..).unwrap_or("").char_indices();
    while let Some((off, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '/')) => pattern.push('/'),
                Some((_, n)) => {
                    pattern.push('\\');
                    pattern.push(n);
                }
                None => pattern.push('\\'),
            },
            '/' => {
                close = Some(start + 1 + off);
                break;
            }
            c => pattern.push(c),
        }
    }
    let Some(close) = close else {
        return Err(QueryError::new(
            "unclosed regular expression: end it with `/` (write `\\/` for a literal slash)",
            start..src.len(),
        ));
    };
    let end = close + 1;
    let span = start..end;
    if src
        .get(end..)
        .and_then(|r| r.chars().next())
        .is_some_and(|c| !c.is_whitespace() && !matches!(c, '(' | ')'))
    {
        let stop = word_end(src, end).max(end + 1);
        return Err(QueryError::new(
            "unexpected text after the regular expression's closing `/` (flags are not \
             supported: matching is already case-insensitive; use (?x) style inline flags)",
            end..stop,
        ));
    }
    if let Err(e) = build_regex(&pattern) {
        let detail = e.to_string();
        let detail = detail
            .lines()
            .rev()
            .find(|l| l.starts_with("error:"))
            .map_or(detail.as_str(), |l| l.trim_start_matches("error:").trim())
            .to_owned();
        return Err(QueryError::new(
            format!("invalid regular expression: {detail}"),
            span,
        ));
    }
    Ok((
        Tok {
            kind: TokKind::Regex(pattern),
            span,
        },
        end,
    ))
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
        "NEAR" => {
            return err("NEAR needs a distance: write NEAR/N, e.g. a NEAR/5 b", span);
        }
        _ if word.starts_with("NEAR/") => {
            let digits = &word["NEAR/".len()..];
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return err("NEAR/ must be followed by a number, e.g. a NEAR/5 b", span);
            }
            TokKind::Near(parse_distance(digits, span.clone())?)
        }
        _ => {
            if let Some(off) = word.find('~') {
                return err(
                    "`~` (fuzzy search) is not supported: remove it; for proximity write \
                     \"a b\"~5",
                    start + off..span.end,
                );
            }
            if let Some(colon) = word.find(':') {
                let name = word.get(..colon).unwrap_or("");
                if !name.is_empty() && name.chars().all(char::is_alphabetic) {
                    return Err(QueryError::new(
                        format!(
                            "unknown field \"{name}:\" (fields are {FIELD_LIST}); \
                             to search for the text itself, put it in quotes: \"{word}\""
                        ),
                        start..start + colon + 1,
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
                    | TokKind::Field(_)
                    | TokKind::Word(_)
                    | TokKind::Phrase { .. }
                    | TokKind::Regex(_)
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
        let mut items = vec![self.parse_near()?];
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
            items.push(self.parse_near()?);
        }
        Ok(flatten(items, Op::And))
    }

    fn parse_near(&mut self) -> Result<Query, QueryError> {
        let mut left = self.parse_unary()?;
        while let Some(tok) = self.peek() {
            let TokKind::Near(distance) = tok.kind else {
                break;
            };
            let span = tok.span.clone();
            self.pos += 1;
            if !self.starts_unary() {
                return Err(binary_error("NEAR", span));
            }
            let right = self.parse_unary()?;
            left = Query::Near {
                left: Box::new(left),
                right: Box::new(right),
                distance,
            };
        }
        Ok(left)
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
            TokKind::LParen => self.parse_group(tok.span),
            TokKind::Field(field) => self.parse_field(field, tok.span),
            TokKind::Word(word) => word_term(word, tok.span).map(Query::Term),
            TokKind::Phrase { body, slop } => phrase_term(body, slop, tok.span).map(Query::Term),
            TokKind::Regex(pattern) => Ok(Query::Term(Term {
                kind: TermKind::Regex(pattern),
                span: tok.span,
            })),
            TokKind::And => Err(binary_error("AND", tok.span)),
            TokKind::Or => Err(binary_error("OR", tok.span)),
            TokKind::Near(_) => Err(binary_error("NEAR", tok.span)),
            TokKind::RParen => Err(QueryError::new(
                "unmatched `)`: remove it or add a `(` before it",
                tok.span,
            )),
        }
    }

    fn parse_group(&mut self, open: Range<usize>) -> Result<Query, QueryError> {
        if let Some(close) = self.peek().filter(|t| t.kind == TokKind::RParen) {
            return Err(QueryError::new(
                "empty parentheses: put a clause inside or remove them",
                open.start..close.span.end,
            ));
        }
        let inner = self.parse_or()?;
        match self.next() {
            Some(t) if t.kind == TokKind::RParen => Ok(inner),
            _ => Err(QueryError::new("unclosed `(`: add a matching `)`", open)),
        }
    }

    fn parse_field(&mut self, field: FieldName, span: Range<usize>) -> Result<Query, QueryError> {
        let value = self.next();
        let Some(value) = value else {
            return Err(QueryError::new("field needs a value", span));
        };
        let whole = span.start..value.span.end;
        let scope = match field {
            FieldName::Title => Some(Field::Title),
            FieldName::Text => Some(Field::Body),
            _ => None,
        };
        if let Some(scope) = scope {
            let inner = match value.kind {
                TokKind::LParen => self.parse_group(value.span)?,
                TokKind::Word(word) => Query::Term(word_term(word, value.span)?),
                TokKind::Phrase { body, slop } => Query::Term(phrase_term(body, slop, value.span)?),
                TokKind::Regex(pattern) => Query::Term(Term {
                    kind: TermKind::Regex(pattern),
                    span: value.span,
                }),
                _ => {
                    return Err(QueryError::new(
                        "`title:`/`text:` apply to a word, prefix, =word, phrase, /regex/ or a \
                         group in parentheses",
                        whole,
                    ));
                }
            };
            return Ok(Query::Scoped(scope, Box::new(inner)));
        }
        let raw = match value.kind {
            TokKind::Word(word) => word,
            TokKind::Phrase { body, slop: None } => body,
            _ => {
                return Err(QueryError::new(
                    "a metadata field takes one word or a quoted value, e.g. \
                     person:\"Vladimir Putin\"",
                    whole,
                ));
            }
        };
        let kind = meta_term(field, raw, whole.clone())?;
        Ok(Query::Term(Term { kind, span: whole }))
    }
}

fn meta_term(field: FieldName, raw: &str, span: Range<usize>) -> Result<TermKind, QueryError> {
    let empty = || QueryError::new("empty field value", span.clone());
    let plain = || {
        let value = raw.trim().to_lowercase();
        if value.is_empty() {
            Err(empty())
        } else {
            Ok(value)
        }
    };
    Ok(match field {
        FieldName::Site => {
            let host = normalize_host(raw);
            if host.is_empty() || host.contains(char::is_whitespace) {
                return Err(QueryError::new(
                    "site: takes a domain name, e.g. site:example.org",
                    span,
                ));
            }
            TermKind::Site(host)
        }
        FieldName::Feed => TermKind::Feed(plain()?),
        FieldName::Tag => TermKind::Tag(plain()?),
        FieldName::Lang => {
            let lang = Lang::from_code(raw).ok_or_else(|| {
                QueryError::new(
                    format!("unknown language code \"{raw}\": use e.g. lang:en, lang:ru, lang:uk"),
                    span.clone(),
                )
            })?;
            TermKind::Lang(lang)
        }
        FieldName::Entity(kind) => {
            let name = fold_name(raw);
            if name.is_empty() {
                return Err(empty());
            }
            TermKind::Entity { kind, name }
        }
        FieldName::Title | FieldName::Text => return Err(empty()),
    })
}

/// Entity names compare as their folded words joined by single spaces, so
/// "Vladimir  PUTIN" and "vladimir putin" are the same name. Shared with the
/// matcher so both sides fold alike.
pub(crate) fn fold_name(raw: &str) -> String {
    analyze(raw, None)
        .into_iter()
        .map(|t| t.term)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lowercases and strips what people paste along with a domain (scheme,
/// `www.`, path, port, trailing dot). Shared with the matcher.
pub(crate) fn normalize_host(raw: &str) -> String {
    let mut host = raw.trim().to_lowercase();
    if let Some(at) = host.find("://") {
        host.drain(..at + 3);
    }
    if let Some(cut) = host.find(['/', '?', '#']) {
        host.truncate(cut);
    }
    if let Some(at) = host.rfind('@') {
        host.drain(..=at);
    }
    if let Some(colon) = host.find(':') {
        host.truncate(colon);
    }
    let host = host.trim_matches('.');
    host.strip_prefix("www.").unwrap_or(host).to_owned()
}

fn binary_error(op: &str, span: Range<usize>) -> QueryError {
    let example = if op == "NEAR" { "NEAR/5" } else { op };
    QueryError::new(
        format!("`{op}` needs a clause on both sides, e.g. putin {example} kremlin"),
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
    if let Some(exact) = word.strip_prefix('=') {
        if exact.contains('*') {
            return Err(QueryError::new(
                "=word cannot be a prefix: use either =word or prefix*",
                span,
            ));
        }
        let tokens = analyze(exact, None);
        let [token] = tokens.as_slice() else {
            return Err(QueryError::new(
                "`=` must be followed directly by one word, e.g. =putin",
                span,
            ));
        };
        return Ok(Term {
            kind: TermKind::Exact(token.term.clone()),
            span,
        });
    }
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

fn phrase_term(body: &str, slop: Option<u32>, span: Range<usize>) -> Result<Term, QueryError> {
    let terms: Vec<String> = analyze(body, None).into_iter().map(|t| t.term).collect();
    if terms.is_empty() {
        return Err(QueryError::new(
            "empty phrase: put words between the quotes or remove them",
            span,
        ));
    }
    let kind = match slop {
        Some(slop) => TermKind::Proximity { words: terms, slop },
        None => TermKind::Phrase(terms),
    };
    Ok(Term { kind, span })
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
                _ => t.to_string(),
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
            Query::Near {
                left,
                right,
                distance,
            } => format!("NEAR{distance}({},{})", shape(left), shape(right)),
            Query::Scoped(field, inner) => format!("{field:?}:{}", shape(inner)),
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
            ("a NEAR/5 b c", "AND(NEAR5(a,b),c)"),
            ("a NEAR/5 b NEAR/2 c", "NEAR2(NEAR5(a,b),c)"),
            ("a NEAR/5 (b NEAR/2 c)", "NEAR5(a,NEAR2(b,c))"),
            ("-a NEAR/1 b", "NEAR1(NOT(a),b)"),
            ("a OR b NEAR/3 c", "OR(a,NEAR3(b,c))"),
            ("(a OR b) NEAR/3 \"c d\"", "NEAR3(OR(a,b),[c d])"),
            ("Title:Putin", "Title:putin"),
            ("text:(a OR b*)", "Body:OR(a,b*)"),
            ("title:\"a b\"~3 =Putins", "AND(Title:\"a b\"~3,=putins)"),
            (
                "site:\"https://www.Example.org/news\" site:bbc.co.uk",
                "AND(site:example.org,site:bbc.co.uk)",
            ),
            ("feed:\"BBC World\"", "feed:\"bbc world\""),
            ("lang:RU tag:Russia", "AND(lang:ru,tag:russia)"),
            ("loc:Moscow", "place:\"moscow\""),
            ("entity:\"Vladimir  PUTIN\"", "entity:\"vladimir putin\""),
            ("/a\\/b/ OR /x\\d+/", "OR(/a\\/b/,/x\\d+/)"),
            ("a* near b", "AND(a*,near,b)"),
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
            ("foo:bar", 0..4, "unknown field"),
            ("title: war", 0..6, "needs a value"),
            ("site:", 0..5, "needs a value"),
            ("lang:xx", 0..7, "unknown language"),
            ("title:site:x", 0..11, "apply to a word"),
            ("tag:(a)", 0..5, "one word or a quoted value"),
            ("person:\"a b\"~2", 0..14, "one word or a quoted value"),
            ("person:\"...\"", 0..12, "empty field value"),
            ("=", 0..1, "`=` must be followed"),
            ("=anti-war", 0..9, "`=` must be followed"),
            ("=putin*", 0..7, "cannot be a prefix"),
            ("\"a b\"~", 5..6, "must be followed by a number"),
            ("\"a b\"~x", 5..7, "must be followed by a number"),
            ("\"a b\"~5000", 5..10, "distance too large"),
            ("a ~3", 2..4, "fuzzy"),
            ("a NEAR b", 2..6, "NEAR needs a distance"),
            ("a NEAR/x b", 2..8, "NEAR/ must be followed"),
            ("a NEAR/3", 2..8, "`NEAR` needs a clause"),
            ("NEAR/3 a", 0..6, "`NEAR` needs a clause"),
            ("/put(n/", 0..7, "invalid regular expression"),
            ("/abc", 0..4, "unclosed regular expression"),
            ("/abc/i", 5..6, "unexpected text after"),
            ("mob*il", 0..6, "end of a word"),
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
