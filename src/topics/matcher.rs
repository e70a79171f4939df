//! Compiled topics and their evaluation against one analysed article.
//!
//! Owns the per-article index ([`AnalyzedArticle`], built once and shared by
//! all topics), the compiled form of queries ([`TopicSet`]), scoring, and
//! `explain`. It must never do I/O, read the clock or keep global state, and
//! it must never re-analyse an article per topic or a query per article:
//! query words are folded and stemmed once at compile time.
//!
//! Semantics worth knowing:
//! - Title and body are indexed separately with their own positions, so a
//!   phrase never spans the title/body boundary.
//! - Only clauses that make their enclosing groups true contribute hits;
//!   clauses under NOT only filter. A hit is one occurrence; identical
//!   occurrences found by two clauses (e.g. `putin OR putin*`) count once.
//! - Score: each hit weighs 2 in the title and 1 in the body.

use std::collections::HashMap;

use super::{Query, Term, TermKind, snippet};
use crate::text::{Lang, Token, analyze, stem_term};

const TITLE_WEIGHT: f64 = 2.0;
const BODY_WEIGHT: f64 = 1.0;

/// The raw article as handed over by the fetcher.
#[derive(Debug, Clone, Copy)]
pub struct ArticleText<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub lang: Option<Lang>,
}

/// Which part of the article a hit is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Title,
    Body,
}

/// One occurrence of a clause: the token positions `first..=last` in
/// `field`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hit {
    pub field: Field,
    pub first: usize,
    pub last: usize,
}

/// One analysed field. Owns its source text so snippets can quote it.
#[derive(Debug, Clone)]
pub(crate) struct FieldIndex {
    pub(crate) source: String,
    pub(crate) tokens: Vec<Token>,
    by_stem: HashMap<String, Vec<usize>>,
    /// Token positions ordered by term, so a prefix is a binary search plus a
    /// short scan instead of a pass over every word.
    by_term: Vec<usize>,
}

impl FieldIndex {
    fn new(source: &str, lang: Option<Lang>) -> Self {
        let tokens = analyze(source, lang);
        let mut by_stem: HashMap<String, Vec<usize>> = HashMap::new();
        for (pos, token) in tokens.iter().enumerate() {
            by_stem.entry(token.stem.clone()).or_default().push(pos);
        }
        let mut by_term: Vec<usize> = (0..tokens.len()).collect();
        by_term.sort_by(|&a, &b| tokens[a].term.cmp(&tokens[b].term).then(a.cmp(&b)));
        FieldIndex {
            source: source.to_owned(),
            tokens,
            by_stem,
            by_term,
        }
    }

    fn stem_positions(&self, stem: &str) -> &[usize] {
        self.by_stem.get(stem).map_or(&[], Vec::as_slice)
    }

    fn hits(&self, leaf: &Leaf, field: Field, out: &mut Vec<Hit>) {
        let single = |pos: usize| Hit {
            field,
            first: pos,
            last: pos,
        };
        match leaf {
            Leaf::Stem(stem) => out.extend(self.stem_positions(stem).iter().map(|&p| single(p))),
            Leaf::Prefix(prefix) => {
                let term_at = |p: usize| self.tokens.get(p).map_or("", |t| t.term.as_str());
                let from = self
                    .by_term
                    .partition_point(|&p| term_at(p) < prefix.as_str());
                let mut found: Vec<Hit> = self.by_term[from..]
                    .iter()
                    .take_while(|&&p| term_at(p).starts_with(prefix.as_str()))
                    .map(|&p| single(p))
                    .collect();
                found.sort_unstable();
                out.extend(found);
            }
            Leaf::Phrase(stems) => {
                let Some((head, rest)) = stems.split_first() else {
                    return;
                };
                for &start in self.stem_positions(head) {
                    let all = rest.iter().enumerate().all(|(i, stem)| {
                        self.tokens
                            .get(start + 1 + i)
                            .is_some_and(|t| &t.stem == stem)
                    });
                    if all {
                        out.push(Hit {
                            field,
                            first: start,
                            last: start + rest.len(),
                        });
                    }
                }
            }
        }
    }
}

/// An article analysed once and then matched against any number of topics.
#[derive(Debug, Clone)]
pub struct AnalyzedArticle {
    pub(crate) title: FieldIndex,
    pub(crate) body: FieldIndex,
    lang: Option<Lang>,
}

impl AnalyzedArticle {
    pub fn new(article: &ArticleText<'_>) -> Self {
        AnalyzedArticle {
            title: FieldIndex::new(article.title, article.lang),
            body: FieldIndex::new(article.text, article.lang),
            lang: article.lang,
        }
    }

    pub fn lang(&self) -> Option<Lang> {
        self.lang
    }

    pub fn title_tokens(&self) -> &[Token] {
        &self.title.tokens
    }

    pub fn body_tokens(&self) -> &[Token] {
        &self.body.tokens
    }

    pub(crate) fn field(&self, field: Field) -> &FieldIndex {
        match field {
            Field::Title => &self.title,
            Field::Body => &self.body,
        }
    }

    fn hits(&self, leaf: &Leaf) -> Vec<Hit> {
        let mut out = Vec::new();
        self.title.hits(leaf, Field::Title, &mut out);
        self.body.hits(leaf, Field::Body, &mut out);
        out
    }
}

/// A query leaf reduced to what the index can look up. Equal leaves from
/// different topics are stored once, so an article pays for each distinct
/// word once however many topics mention it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Leaf {
    Stem(String),
    Prefix(String),
    Phrase(Vec<String>),
}

impl Leaf {
    fn from_term(term: &Term) -> Leaf {
        match &term.kind {
            TermKind::Word(word) => Leaf::Stem(stem_term(word)),
            TermKind::Prefix(prefix) => Leaf::Prefix(prefix.clone()),
            TermKind::Phrase(words) => match words.as_slice() {
                [only] => Leaf::Stem(stem_term(only)),
                _ => Leaf::Phrase(words.iter().map(|w| stem_term(w)).collect()),
            },
        }
    }
}

#[derive(Debug, Clone)]
enum Node {
    Leaf { leaf: usize, label: String },
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

#[derive(Debug, Clone)]
struct CompiledTopic {
    name: String,
    root: Node,
}

/// One matched topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicMatch {
    /// Index into the list the set was built from.
    pub topic: usize,
    pub name: String,
    pub score: f64,
    /// Distinct positive clauses that matched, canonical and unquoted.
    pub matched: Vec<String>,
    /// Up to three HTML-escaped snippets with `<mark>` around hits.
    pub snippets: Vec<String>,
}

/// Topics compiled once and matched against many articles.
#[derive(Debug, Clone, Default)]
pub struct TopicSet {
    leaves: Vec<Leaf>,
    topics: Vec<CompiledTopic>,
}

impl TopicSet {
    pub fn new(topics: Vec<(String, Query)>) -> Self {
        let mut set = TopicSet::default();
        let mut interned: HashMap<Leaf, usize> = HashMap::new();
        for (name, query) in topics {
            let root = set.compile(&query, &mut interned);
            set.topics.push(CompiledTopic { name, root });
        }
        set
    }

    pub fn len(&self) -> usize {
        self.topics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    fn compile(&mut self, query: &Query, interned: &mut HashMap<Leaf, usize>) -> Node {
        match query {
            Query::Term(term) => {
                let leaf = Leaf::from_term(term);
                let next = self.leaves.len();
                let id = *interned.entry(leaf.clone()).or_insert(next);
                if id == next {
                    self.leaves.push(leaf);
                }
                Node::Leaf {
                    leaf: id,
                    label: term.label(),
                }
            }
            Query::And(items) => {
                Node::And(items.iter().map(|q| self.compile(q, interned)).collect())
            }
            Query::Or(items) => Node::Or(items.iter().map(|q| self.compile(q, interned)).collect()),
            Query::Not(inner) => Node::Not(Box::new(self.compile(inner, interned))),
        }
    }

    /// All topics the article matches, in set order.
    pub fn matches(&self, article: &AnalyzedArticle) -> Vec<TopicMatch> {
        let mut cache: Vec<Option<Vec<Hit>>> = vec![None; self.leaves.len()];
        let mut out = Vec::new();
        for (index, topic) in self.topics.iter().enumerate() {
            let mut ctx = Eval {
                leaves: &self.leaves,
                cache: &mut cache,
                article,
            };
            let mut found = Found::default();
            if ctx.eval(&topic.root, &mut found) {
                out.push(found.into_match(index, &topic.name, article));
            }
        }
        out
    }
}

/// Evaluates one ad-hoc query (e.g. `feedwatch test --query`); the topic is
/// named after the query's canonical text.
pub fn match_query(query: &Query, article: &AnalyzedArticle) -> Option<TopicMatch> {
    let set = TopicSet::new(vec![(query.to_string(), query.clone())]);
    set.matches(article).into_iter().next()
}

/// What positive clauses of a true subtree contributed.
#[derive(Default)]
struct Found<'n> {
    hits: Vec<Hit>,
    labels: Vec<&'n str>,
}

impl Found<'_> {
    fn into_match(mut self, topic: usize, name: &str, article: &AnalyzedArticle) -> TopicMatch {
        self.hits.sort_unstable();
        self.hits.dedup();
        let score = self
            .hits
            .iter()
            .map(|h| match h.field {
                Field::Title => TITLE_WEIGHT,
                Field::Body => BODY_WEIGHT,
            })
            .sum();
        let mut matched: Vec<String> = Vec::new();
        for label in self.labels {
            if !matched.iter().any(|m| m == label) {
                matched.push(label.to_owned());
            }
        }
        TopicMatch {
            topic,
            name: name.to_owned(),
            score,
            matched,
            snippets: snippet::snippets(article, &self.hits),
        }
    }
}

struct Eval<'a> {
    leaves: &'a [Leaf],
    cache: &'a mut Vec<Option<Vec<Hit>>>,
    article: &'a AnalyzedArticle,
}

impl Eval<'_> {
    fn leaf_hits(&mut self, id: usize) -> &[Hit] {
        if self.cache.get(id).is_some_and(Option::is_none)
            && let Some(leaf) = self.leaves.get(id)
        {
            self.cache[id] = Some(self.article.hits(leaf));
        }
        self.cache.get(id).and_then(Option::as_deref).unwrap_or(&[])
    }

    /// Returns whether `node` holds; on true, `found` has gained the hits and
    /// labels of the positive clauses that made it true. On false, `found` is
    /// left as it was.
    fn eval<'n>(&mut self, node: &'n Node, found: &mut Found<'n>) -> bool {
        match node {
            Node::Leaf { leaf, label } => {
                let hits = self.leaf_hits(*leaf);
                if hits.is_empty() {
                    return false;
                }
                found.hits.extend_from_slice(hits);
                found.labels.push(label);
                true
            }
            Node::And(items) => {
                let mut local = Found::default();
                for item in items {
                    if !self.eval(item, &mut local) {
                        return false;
                    }
                }
                found.hits.extend(local.hits);
                found.labels.extend(local.labels);
                true
            }
            Node::Or(items) => {
                let mut any = false;
                for item in items {
                    any |= self.eval(item, found);
                }
                any
            }
            Node::Not(inner) => !self.eval(inner, &mut Found::default()),
        }
    }
}

/// One line of `explain`: a clause of the query in pre-order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClauseReport {
    /// Nesting depth, for indentation.
    pub depth: usize,
    /// The clause in canonical form.
    pub clause: String,
    /// Whether the clause holds for the article (for NOT: whether its inner
    /// clause is absent).
    pub matched: bool,
    /// Occurrences: for a leaf all of them (title + body); for a group those
    /// its matching positive parts contribute; 0 for NOT.
    pub hits: usize,
}

/// Reports, clause by clause, why a query did or did not match. Unlike
/// matching it never short-circuits, so every clause gets a line.
pub fn explain(query: &Query, article: &AnalyzedArticle) -> Vec<ClauseReport> {
    let mut out = Vec::new();
    explain_into(query, article, 0, &mut out);
    out
}

fn explain_into(
    query: &Query,
    article: &AnalyzedArticle,
    depth: usize,
    out: &mut Vec<ClauseReport>,
) -> (bool, usize) {
    let at = out.len();
    out.push(ClauseReport {
        depth,
        clause: query.to_string(),
        matched: false,
        hits: 0,
    });
    let (matched, hits) = match query {
        Query::Term(term) => {
            let n = article.hits(&Leaf::from_term(term)).len();
            (n > 0, n)
        }
        Query::And(items) => {
            let results: Vec<_> = items
                .iter()
                .map(|q| explain_into(q, article, depth + 1, out))
                .collect();
            let all = results.iter().all(|r| r.0);
            (
                all,
                if all {
                    results.iter().map(|r| r.1).sum()
                } else {
                    0
                },
            )
        }
        Query::Or(items) => {
            let results: Vec<_> = items
                .iter()
                .map(|q| explain_into(q, article, depth + 1, out))
                .collect();
            (
                results.iter().any(|r| r.0),
                results.iter().filter(|r| r.0).map(|r| r.1).sum(),
            )
        }
        Query::Not(inner) => (!explain_into(inner, article, depth + 1, out).0, 0),
    };
    if let Some(report) = out.get_mut(at) {
        report.matched = matched;
        report.hits = hits;
    }
    (matched, hits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::parse;

    const PUTIN: &str =
        "President Vladimir Putin is hiding from the mothers and wives of Russian soldiers";

    fn article(title: &str, text: &str) -> AnalyzedArticle {
        AnalyzedArticle::new(&ArticleText {
            title,
            text,
            lang: None,
        })
    }

    fn run(query: &str, title: &str, text: &str) -> Option<TopicMatch> {
        let q = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        match_query(&q, &article(title, text))
    }

    #[test]
    fn matching_table() {
        // (query, title, text, expected `matched`; None = no match)
        let cases: &[(&str, &str, &str, Option<&[&str]>)] = &[
            // Real case: "and" inside a phrase is a word, not an operator.
            (
                "\"mothers and wives\" AND putin",
                "",
                PUTIN,
                Some(&["mothers and wives", "putin"]),
            ),
            ("\"mothers and wives\" AND NOT putin", "", PUTIN, None),
            ("\"mothers and wives\" -putin", "", PUTIN, None),
            ("\"wives and mothers\"", "", PUTIN, None),
            // Stemming, Russian and English.
            (
                "мобилизация",
                "",
                "Новая волна мобилизации началась",
                Some(&["мобилизация"]),
            ),
            (
                "мобилизация",
                "",
                "Они обсуждали мобилизацию.",
                Some(&["мобилизация"]),
            ),
            ("мобилизации", "Мобилизация", "", Some(&["мобилизации"])),
            (
                "мобілізація",
                "",
                "Закон про мобілізацію ухвалено",
                Some(&["мобілізація"]),
            ),
            ("protests", "", "A protest was held.", Some(&["protests"])),
            ("protest", "", "Protests spread", Some(&["protest"])),
            ("mothers", "", "a mother said", Some(&["mothers"])),
            ("mother", "", "Mother's Day", Some(&["mother"])),
            ("Mother's", "", "mothers marched", Some(&["mother"])),
            ("protest", "", "protein intake", None),
            // Porter2 over-stems "protestant"; pinned so a change is noticed.
            ("protest", "", "Protestant church", Some(&["protest"])),
            // Prefix: on folded terms, not stems.
            ("мобилиз*", "", "объявлена мобилизация", Some(&["мобилиз*"])),
            ("protest*", "", "Protestant church", Some(&["protest*"])),
            ("mobili*", "", "no such word", None),
            ("café*", "", "CAFETERIA closed", Some(&["cafe*"])),
            // Phrases with apostrophes and stems.
            (
                "\"soldiers' mothers\"",
                "",
                "The Soldiers Mothers committee",
                Some(&["soldiers mothers"]),
            ),
            (
                "\"soldiers mothers\"",
                "",
                "the soldiers' mothers said",
                Some(&["soldiers mothers"]),
            ),
            (
                "\"soldier mother\"",
                "",
                "the soldiers' mothers said",
                Some(&["soldier mother"]),
            ),
            (
                "\"комитет солдатских матерей\"",
                "",
                "Комитет солдатских матерей России",
                Some(&["комитет солдатских матерей"]),
            ),
            ("anti-war", "", "an anti war rally", Some(&["anti war"])),
            ("\"anti war\"", "", "anti-war rally", Some(&["anti war"])),
            ("antiwar", "", "anti-war rally", None),
            // Case and diacritics; й and ё.
            ("PUTIN", "", "putin", Some(&["putin"])),
            ("cafe", "", "Un CAFÉ noir", Some(&["cafe"])),
            ("Путин", "", "ПУТИН заявил", Some(&["путин"])),
            ("ёж", "", "ЕЖ", Some(&["еж"])),
            ("войны", "", "вины", None),
            // Implicit and explicit AND; OR; lowercase or.
            ("putin soldiers", "", PUTIN, Some(&["putin", "soldiers"])),
            ("putin kremlin", "", PUTIN, None),
            ("putin AND kremlin", "", PUTIN, None),
            ("kremlin OR putin", "", PUTIN, Some(&["putin"])),
            ("kremlin or putin", "", PUTIN, None),
            ("putin or from", "", PUTIN, None),
            (
                "hiding or",
                "",
                "hiding or running",
                Some(&["hiding", "or"]),
            ),
            // NOT and nesting.
            ("-kremlin", "", PUTIN, Some(&[])),
            ("-putin", "", PUTIN, None),
            ("NOT putin OR wives", "", PUTIN, Some(&["wives"])),
            (
                "putin (kremlin OR soldiers)",
                "",
                PUTIN,
                Some(&["putin", "soldiers"]),
            ),
            ("putin -(kremlin OR soldiers)", "", PUTIN, None),
            ("putin -(kremlin soldiers)", "", PUTIN, Some(&["putin"])),
            (
                "(putin -soldiers) OR (wives -kremlin)",
                "",
                PUTIN,
                Some(&["wives"]),
            ),
            (
                "((kremlin OR (mothers -putin)) OR (wives (NOT NOT russian)))",
                "",
                PUTIN,
                Some(&["wives"]),
            ),
            ("NOT (NOT putin)", "", PUTIN, Some(&[])),
            // Clauses in failed AND branches do not count.
            ("(putin kremlin) OR wives", "", PUTIN, Some(&["wives"])),
            // Title and body are separate fields.
            ("\"putin visits\"", "Putin", "visits Moscow", None),
            (
                "putin visits",
                "Putin",
                "visits Moscow",
                Some(&["putin", "visits"]),
            ),
            (
                "\"putin visits\"",
                "Putin visits Moscow",
                "",
                Some(&["putin visits"]),
            ),
        ];
        for (query, title, text, want) in cases {
            let got = run(query, title, text).map(|m| m.matched);
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "query {query:?} on {title:?} / {text:?}");
        }
    }

    #[test]
    fn score_weighs_title_double_and_dedups() {
        let m = run("putin", "Putin speaks", "Putin said. Putin left.");
        assert_eq!(m.map(|m| m.score), Some(4.0));
        let m = run("putin OR putin*", "", "Putin said");
        assert_eq!(m.map(|m| m.score), Some(1.0));
        let m = run("\"mothers and wives\" putin", "", PUTIN);
        assert_eq!(m.map(|m| m.score), Some(2.0));
        let m = run("-kremlin", "", PUTIN);
        assert_eq!(m.map(|m| m.score), Some(0.0));
    }

    #[test]
    fn topic_set_reports_indices_and_names() {
        let topics = ["kremlin", "putin", "wives OR nothing", "-putin"]
            .iter()
            .enumerate()
            .filter_map(|(i, q)| parse(q).ok().map(|q| (format!("t{i}"), q)))
            .collect();
        let set = TopicSet::new(topics);
        assert_eq!(set.len(), 4);
        let got: Vec<(usize, String)> = set
            .matches(&article("", PUTIN))
            .into_iter()
            .map(|m| (m.topic, m.name))
            .collect();
        assert_eq!(got, [(1, "t1".to_owned()), (2, "t2".to_owned())]);
    }

    #[test]
    fn explain_reports_each_clause() {
        let q = parse("putin (kremlin OR wives) -soldiers").unwrap_or_else(|e| panic!("{e}"));
        let report: Vec<(usize, String, bool, usize)> = explain(&q, &article("Putin", PUTIN))
            .into_iter()
            .map(|r| (r.depth, r.clause, r.matched, r.hits))
            .collect();
        let want = [
            (0, "putin (kremlin OR wives) -soldiers", false, 0),
            (1, "putin", true, 2),
            (1, "kremlin OR wives", true, 1),
            (2, "kremlin", false, 0),
            (2, "wives", true, 1),
            (1, "-soldiers", false, 0),
            (2, "soldiers", true, 1),
        ];
        let want: Vec<_> = want
            .into_iter()
            .map(|(d, c, m, h)| (d, c.to_owned(), m, h))
            .collect();
        assert_eq!(report, want);
    }
}
