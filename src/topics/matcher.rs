//! Compiled topics and their evaluation against one analysed article.
//!
//! Owns the per-article index ([`AnalyzedArticle`], built once and shared by
//! all topics), the compiled form of queries ([`TopicSet`]), position-aware
//! evaluation (phrases, `"…"~N`, NEAR), scoring, and `explain`. It must never
//! do I/O, read the clock or keep global state, and it must never re-analyse
//! an article per topic or a query per article: query words are folded and
//! stemmed once at compile time, and only the candidates chosen by the
//! [`presearch`](super::presearch) index are evaluated.
//!
//! Semantics worth knowing:
//! - Title and body are indexed separately with their own positions, so a
//!   phrase or NEAR never spans the title/body boundary; `title:`/`text:`
//!   restrict the text clauses beneath them (the innermost scope wins).
//! - Distances count positions: adjacent words are 1 apart, so `a NEAR/1 b`
//!   and `"a b"~1` mean "next to each other, either order". A NEAR side's
//!   positions are the hits of its positive clauses; metadata and regexes
//!   have none, so they cannot satisfy a NEAR.
//! - Only clauses that make their enclosing groups true contribute hits;
//!   clauses under NOT only filter. A hit is one occurrence; identical
//!   occurrences found by two clauses (e.g. `putin OR putin*`) count once.
//! - Score: each hit weighs 2 in the title and 1 in the body; a matched
//!   entity counts its mentions found in the text; metadata and regexes add
//!   nothing, so a metadata-only topic scores 0.
//! - Regexes run over the normalised title and body separately (see
//!   [`crate::text::normalize`]); they only filter and are not highlighted,
//!   because normalised offsets do not map back to the original text.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;

use super::parser::{build_regex, fold_name, normalize_host};
use super::presearch::{FastMap, Presearcher};
use super::{EntityKind, Query, Term, TermKind, snippet};
use crate::entities::inflection::name_key;
use crate::text::{Lang, Token, analyze, normalize, stem_term};

const TITLE_WEIGHT: f64 = 2.0;
const BODY_WEIGHT: f64 = 1.0;

/// An entity the article mentions, from NER or from the config's declared
/// entities.
#[derive(Debug, Clone, Copy)]
pub struct EntityRef<'a> {
    pub text: &'a str,
    pub kind: EntityKind,
    pub aliases: &'a [String],
}

/// The raw article as handed over by the fetcher. Build it with
/// [`ArticleText::new`] and the `with_*` setters, or with a struct literal
/// ending in `..ArticleText::default()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ArticleText<'a> {
    pub title: &'a str,
    pub text: &'a str,
    /// Only answers `lang:`; analysis never depends on it (see
    /// [`crate::text`]).
    pub lang: Option<Lang>,
    /// Host name or URL of the article; `site:` matches it or a parent domain.
    pub site: Option<&'a str>,
    /// Name of the feed it came from.
    pub feed: Option<&'a str>,
    pub tags: &'a [String],
    pub entities: &'a [EntityRef<'a>],
}

impl<'a> ArticleText<'a> {
    pub fn new(title: &'a str, text: &'a str) -> Self {
        ArticleText {
            title,
            text,
            ..ArticleText::default()
        }
    }

    pub fn with_lang(mut self, lang: Option<Lang>) -> Self {
        self.lang = lang;
        self
    }

    pub fn with_site(mut self, site: &'a str) -> Self {
        self.site = Some(site);
        self
    }

    pub fn with_feed(mut self, feed: &'a str) -> Self {
        self.feed = Some(feed);
        self
    }

    pub fn with_tags(mut self, tags: &'a [String]) -> Self {
        self.tags = tags;
        self
    }

    pub fn with_entities(mut self, entities: &'a [EntityRef<'a>]) -> Self {
        self.entities = entities;
        self
    }
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
    pub(crate) by_stem: HashMap<String, Vec<usize>>,
    /// Token positions ordered by term, so a prefix or exact word is a
    /// binary search plus a short scan instead of a pass over every word.
    by_term: Vec<usize>,
    /// Normalised source for regexes, built on first use because most
    /// topic sets have no regex.
    normalized: OnceLock<String>,
    /// Snippet pieces, HTML and plain, built on the first match.
    rendered: [OnceLock<snippet::Rendered>; 2],
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
            normalized: OnceLock::new(),
            rendered: [OnceLock::new(), OnceLock::new()],
        }
    }

    pub(crate) fn rendered(&self, html: bool) -> &snippet::Rendered {
        self.rendered[usize::from(!html)]
            .get_or_init(|| snippet::Rendered::new(&self.source, &self.tokens, html))
    }

    fn stem_positions(&self, stem: &str) -> &[usize] {
        self.by_stem.get(stem).map_or(&[], Vec::as_slice)
    }

    fn term_at(&self, pos: usize) -> &str {
        self.tokens.get(pos).map_or("", |t| t.term.as_str())
    }

    /// Positions whose term satisfies `keep`, starting from the first term
    /// not below `from`; `keep` must hold for a contiguous run of terms.
    fn term_run(&self, from: &str, keep: impl Fn(&str) -> bool) -> Vec<usize> {
        let start = self.by_term.partition_point(|&p| self.term_at(p) < from);
        let mut found: Vec<usize> = self.by_term[start..]
            .iter()
            .take_while(|&&p| keep(self.term_at(p)))
            .copied()
            .collect();
        found.sort_unstable();
        found
    }

    /// Distinct folded terms, in order.
    pub(crate) fn distinct_terms(&self) -> impl Iterator<Item = &str> {
        let mut last: Option<&str> = None;
        self.by_term.iter().filter_map(move |&p| {
            let term = self.term_at(p);
            if last == Some(term) {
                return None;
            }
            last = Some(term);
            Some(term)
        })
    }

    fn normalized(&self) -> &str {
        self.normalized.get_or_init(|| normalize(&self.source))
    }

    fn phrase_hits(&self, stems: &[String], field: Field, out: &mut Vec<Hit>) {
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

    /// Minimal windows holding every stem of `stems` (as many times as it
    /// occurs there) whose first and last positions are at most `slop`
    /// apart; each word of such a window becomes a hit.
    fn proximity_hits(&self, stems: &[String], slop: u32, field: Field, out: &mut Vec<Hit>) {
        let mut need: Vec<(&str, usize)> = Vec::new();
        for stem in stems {
            match need.iter_mut().find(|(s, _)| *s == stem.as_str()) {
                Some(entry) => entry.1 += 1,
                None => need.push((stem, 1)),
            }
        }
        let mut occ: Vec<(usize, usize)> = Vec::new();
        for (i, (stem, _)) in need.iter().enumerate() {
            occ.extend(self.stem_positions(stem).iter().map(|&p| (p, i)));
        }
        occ.sort_unstable();
        let mut have = vec![0usize; need.len()];
        let mut satisfied = 0;
        let mut lo = 0;
        let slop = usize::try_from(slop).unwrap_or(usize::MAX);
        for hi in 0..occ.len() {
            let u = occ[hi].1;
            have[u] += 1;
            if have[u] == need[u].1 {
                satisfied += 1;
            }
            let mut window = None;
            while satisfied == need.len() {
                window = Some(lo);
                let ul = occ[lo].1;
                if have[ul] == need[ul].1 {
                    satisfied -= 1;
                }
                have[ul] -= 1;
                lo += 1;
            }
            if let Some(first) = window
                && occ[hi].0 - occ[first].0 <= slop
            {
                out.extend(occ[first..=hi].iter().map(|&(p, _)| Hit {
                    field,
                    first: p,
                    last: p,
                }));
            }
        }
    }

    fn hits(&self, leaf: &LeafKind, field: Field, out: &mut Vec<Hit>) {
        let single = |pos: usize| Hit {
            field,
            first: pos,
            last: pos,
        };
        match leaf {
            LeafKind::Stem(stem) => {
                out.extend(self.stem_positions(stem).iter().map(|&p| single(p)))
            }
            LeafKind::Exact(term) => {
                let found = self.term_run(term, |t| t == term.as_str());
                out.extend(found.into_iter().map(single));
            }
            LeafKind::Prefix(prefix) => {
                let found = self.term_run(prefix, |t| t.starts_with(prefix.as_str()));
                out.extend(found.into_iter().map(single));
            }
            LeafKind::Phrase(stems) => self.phrase_hits(stems, field, out),
            LeafKind::Proximity(stems, slop) => {
                let before = out.len();
                self.proximity_hits(stems, *slop, field, out);
                out[before..].sort_unstable();
                let mut kept = out.split_off(before);
                kept.dedup();
                out.extend(kept);
            }
            _ => {}
        }
    }
}

/// An entity of the article, folded for comparison, with the places its
/// names occur in the text.
#[derive(Debug, Clone)]
struct ArticleEntity {
    kind: EntityKind,
    /// The names' keys (see `entities::inflection::name_key`): inflected Russian and
    /// Ukrainian forms share one.
    keys: Vec<String>,
    hits: Vec<Hit>,
}

/// An article analysed once and then matched against any number of topics.
#[derive(Debug, Clone)]
pub struct AnalyzedArticle {
    pub(crate) title: FieldIndex,
    pub(crate) body: FieldIndex,
    lang: Option<Lang>,
    site: Option<String>,
    feed: Option<String>,
    tags: Vec<String>,
    entities: Vec<ArticleEntity>,
}

impl AnalyzedArticle {
    pub fn new(article: &ArticleText<'_>) -> Self {
        let title = FieldIndex::new(article.title, article.lang);
        let body = FieldIndex::new(article.text, article.lang);
        let entities = article
            .entities
            .iter()
            .map(|e| {
                let mut names = vec![fold_name(e.text)];
                names.extend(e.aliases.iter().map(|a| fold_name(a)));
                names.retain(|n| !n.is_empty());
                names.sort();
                names.dedup();
                let mut hits = Vec::new();
                for name in &names {
                    let stems: Vec<String> = name.split(' ').map(stem_term).collect();
                    title.phrase_hits(&stems, Field::Title, &mut hits);
                    body.phrase_hits(&stems, Field::Body, &mut hits);
                }
                let mut keys: Vec<String> = names.iter().map(|n| name_key(n)).collect();
                keys.sort();
                keys.dedup();
                ArticleEntity {
                    kind: e.kind,
                    keys,
                    hits,
                }
            })
            .collect();
        AnalyzedArticle {
            title,
            body,
            lang: article.lang,
            site: article.site.map(normalize_host),
            feed: article.feed.map(|f| f.trim().to_lowercase()),
            tags: article
                .tags
                .iter()
                .map(|t| t.trim().to_lowercase())
                .collect(),
            entities,
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

    fn fields(&self, scope: Option<Field>) -> impl Iterator<Item = (Field, &FieldIndex)> {
        [(Field::Title, &self.title), (Field::Body, &self.body)]
            .into_iter()
            .filter(move |(f, _)| scope.is_none_or(|s| s == *f))
    }

    /// `None` when the leaf does not hold; otherwise its hits (empty for
    /// clauses without positions).
    fn leaf_hits(&self, leaf: &Leaf, regex: Option<&Regex>) -> Option<Vec<Hit>> {
        let holds = |b: bool| b.then(Vec::new);
        match &leaf.kind {
            LeafKind::Regex(_) => {
                let re = regex?;
                holds(
                    self.fields(leaf.scope)
                        .any(|(_, index)| re.is_match(index.normalized())),
                )
            }
            LeafKind::Site(domain) => holds(self.site.as_deref().is_some_and(|host| {
                host == domain
                    || host
                        .strip_suffix(domain.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
            })),
            LeafKind::Feed(feed) => holds(self.feed.as_deref() == Some(feed.as_str())),
            LeafKind::Tag(tag) => holds(self.tags.iter().any(|t| t == tag)),
            LeafKind::Lang(lang) => holds(self.lang == Some(*lang)),
            LeafKind::Entity(kind, name) => {
                let mut any = false;
                let mut hits = Vec::new();
                for e in &self.entities {
                    if kind.is_none_or(|k| k == e.kind) && e.keys.iter().any(|n| n == name) {
                        any = true;
                        hits.extend_from_slice(&e.hits);
                    }
                }
                any.then_some(hits)
            }
            text => {
                let mut out = Vec::new();
                for (field, index) in self.fields(leaf.scope) {
                    index.hits(text, field, &mut out);
                }
                (!out.is_empty()).then_some(out)
            }
        }
    }
}

/// What a leaf looks up, reduced to analysed forms. Equal leaves from
/// different topics are stored once, so an article pays for each distinct
/// clause once however many topics mention it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum LeafKind {
    Stem(String),
    Exact(String),
    Prefix(String),
    Phrase(Vec<String>),
    Proximity(Vec<String>, u32),
    Regex(String),
    Site(String),
    Feed(String),
    Tag(String),
    Lang(Lang),
    Entity(Option<EntityKind>, String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Leaf {
    pub(crate) kind: LeafKind,
    /// `title:`/`text:`; ignored by metadata.
    pub(crate) scope: Option<Field>,
}

impl Leaf {
    fn from_term(term: &Term, scope: Option<Field>) -> Leaf {
        let stems = |words: &[String]| words.iter().map(|w| stem_term(w)).collect();
        let kind = match &term.kind {
            TermKind::Word(word) => LeafKind::Stem(stem_term(word)),
            TermKind::Prefix(prefix) => LeafKind::Prefix(prefix.clone()),
            TermKind::Phrase(words) => match words.as_slice() {
                [only] => LeafKind::Stem(stem_term(only)),
                _ => LeafKind::Phrase(stems(words)),
            },
            TermKind::Exact(word) => LeafKind::Exact(word.clone()),
            TermKind::Proximity { words, slop } => LeafKind::Proximity(stems(words), *slop),
            TermKind::Regex(pattern) => LeafKind::Regex(pattern.clone()),
            TermKind::Site(v) => LeafKind::Site(v.clone()),
            TermKind::Feed(v) => LeafKind::Feed(v.clone()),
            TermKind::Tag(v) => LeafKind::Tag(v.clone()),
            TermKind::Lang(lang) => LeafKind::Lang(*lang),
            TermKind::Entity { kind, name } => LeafKind::Entity(*kind, name_key(name)),
        };
        let scope = if term.kind.is_textual() { scope } else { None };
        Leaf { kind, scope }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Leaf {
        leaf: u32,
        label: String,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Near {
        left: Box<Node>,
        right: Box<Node>,
        distance: u32,
    },
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
    /// The same snippets as plain text with `*hit*`, for chat formats.
    pub snippets_plain: Vec<String>,
}

/// Topics compiled once (per config version) and matched against many
/// articles.
#[derive(Debug, Clone, Default)]
pub struct TopicSet {
    leaves: Vec<Leaf>,
    /// Compiled regexes, by leaf id; `None` for other leaves and for a
    /// pattern that no longer builds (it then never matches).
    regexes: Vec<Option<Regex>>,
    topics: Vec<CompiledTopic>,
    presearch: Presearcher,
    /// Every stem any leaf mentions, numbered: an article's stems are looked
    /// up here once, and word leaves then read positions by number.
    stem_ids: FastMap<String, u32>,
    /// For word leaves (by leaf id), their stem's number.
    leaf_stem: Vec<Option<u32>>,
}

impl TopicSet {
    pub fn new(topics: Vec<(String, Query)>) -> Self {
        let mut set = TopicSet::default();
        let mut interned: HashMap<Leaf, u32> = HashMap::new();
        for (name, query) in topics {
            let root = set.compile(&query, None, &mut interned);
            set.topics.push(CompiledTopic { name, root });
        }
        set.presearch = Presearcher::new(
            set.topics.iter().map(|t| &t.root),
            &set.leaves,
            &set.stem_ids,
        );
        set
    }

    pub fn len(&self) -> usize {
        self.topics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    /// How many topics run on every article because the presearcher cannot
    /// index them (pure negations, metadata or regex only).
    pub fn always_run(&self) -> usize {
        self.presearch.always_run()
    }

    /// How many topics the presearcher selects for `article` (always-run
    /// ones included): the number [`matches`](Self::matches) evaluates.
    pub fn candidate_count(&self, article: &AnalyzedArticle) -> usize {
        let present = self.present_stems(article);
        self.presearch
            .candidates(article, present.keys().copied())
            .len()
    }

    fn compile(
        &mut self,
        query: &Query,
        scope: Option<Field>,
        interned: &mut HashMap<Leaf, u32>,
    ) -> Node {
        match query {
            Query::Term(term) => {
                let leaf = Leaf::from_term(term, scope);
                let next = u32::try_from(self.leaves.len()).unwrap_or(u32::MAX);
                let id = *interned.entry(leaf.clone()).or_insert(next);
                if id == next {
                    let regex = match &leaf.kind {
                        LeafKind::Regex(pattern) => build_regex(pattern).ok(),
                        _ => None,
                    };
                    let mut stem_id = |stem: &String| {
                        let n = u32::try_from(self.stem_ids.len()).unwrap_or(u32::MAX);
                        *self.stem_ids.entry(stem.clone()).or_insert(n)
                    };
                    let word = match &leaf.kind {
                        LeafKind::Stem(stem) => Some(stem_id(stem)),
                        LeafKind::Phrase(stems) | LeafKind::Proximity(stems, _) => {
                            stems.iter().for_each(|s| {
                                stem_id(s);
                            });
                            None
                        }
                        _ => None,
                    };
                    self.leaves.push(leaf);
                    self.regexes.push(regex);
                    self.leaf_stem.push(word);
                }
                Node::Leaf {
                    leaf: id,
                    label: term.label(),
                }
            }
            Query::And(items) => Node::And(
                items
                    .iter()
                    .map(|q| self.compile(q, scope, interned))
                    .collect(),
            ),
            Query::Or(items) => Node::Or(
                items
                    .iter()
                    .map(|q| self.compile(q, scope, interned))
                    .collect(),
            ),
            Query::Not(inner) => Node::Not(Box::new(self.compile(inner, scope, interned))),
            Query::Near {
                left,
                right,
                distance,
            } => Node::Near {
                left: Box::new(self.compile(left, scope, interned)),
                right: Box::new(self.compile(right, scope, interned)),
                distance: *distance,
            },
            Query::Scoped(field, inner) => self.compile(inner, Some(*field), interned),
        }
    }

    /// The article's stems that some leaf mentions, by stem number, with
    /// their positions in the title and the body.
    fn present_stems<'a>(&self, article: &'a AnalyzedArticle) -> Present<'a> {
        let mut present = Present::default();
        if self.stem_ids.is_empty() {
            return present;
        }
        for (f, index) in [&article.title, &article.body].into_iter().enumerate() {
            for (stem, positions) in &index.by_stem {
                if let Some(&id) = self.stem_ids.get(stem) {
                    present.entry(id).or_default()[f] = positions;
                }
            }
        }
        present
    }

    fn eval_ctx<'a>(&'a self, article: &'a AnalyzedArticle) -> Eval<'a> {
        Eval {
            set: self,
            cache: LeafCache::default(),
            present: self.present_stems(article),
            article,
        }
    }

    /// All topics the article matches, in set order. Only the presearcher's
    /// candidates are evaluated.
    pub fn matches(&self, article: &AnalyzedArticle) -> Vec<TopicMatch> {
        let mut ctx = self.eval_ctx(article);
        let mut out = Vec::new();
        let mut found = Found::default();
        let candidates = self
            .presearch
            .candidates(article, ctx.present.keys().copied());
        for index in candidates {
            let Some(topic) = self.topics.get(index) else {
                continue;
            };
            found.clear();
            if ctx.eval(&topic.root, &mut found) {
                out.push(found.take_match(index, &topic.name, article));
            }
        }
        out
    }

    /// Like [`matches`](Self::matches) but evaluating every topic; the
    /// reference the presearcher is tested against.
    pub fn matches_exhaustive(&self, article: &AnalyzedArticle) -> Vec<TopicMatch> {
        let mut ctx = self.eval_ctx(article);
        let mut out = Vec::new();
        let mut found = Found::default();
        for (index, topic) in self.topics.iter().enumerate() {
            found.clear();
            if ctx.eval(&topic.root, &mut found) {
                out.push(found.take_match(index, &topic.name, article));
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

/// What positive clauses of a true subtree contributed. One is reused for
/// every topic of an article; evaluation truncates it back instead of
/// allocating per node, which matters with thousands of candidates.
#[derive(Default)]
struct Found<'n> {
    hits: Vec<Hit>,
    labels: Vec<&'n str>,
}

impl<'n> Found<'n> {
    fn clear(&mut self) {
        self.hits.clear();
        self.labels.clear();
    }

    fn mark(&self) -> (usize, usize) {
        (self.hits.len(), self.labels.len())
    }

    fn reset(&mut self, (hits, labels): (usize, usize)) {
        self.hits.truncate(hits);
        self.labels.truncate(labels);
    }

    fn take_match(&mut self, topic: usize, name: &str, article: &AnalyzedArticle) -> TopicMatch {
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
        for &label in &self.labels {
            if !matched.iter().any(|m| m == label) {
                matched.push(label.to_owned());
            }
        }
        let (snippets, snippets_plain) = snippet::snippets_both(article, &self.hits);
        TopicMatch {
            topic,
            name: name.to_owned(),
            score,
            matched,
            snippets,
            snippets_plain,
        }
    }
}

/// Whether two hits in the same field are at most `distance` positions
/// apart (0 when they overlap).
fn within(a: &Hit, b: &Hit, distance: usize) -> bool {
    if a.field != b.field {
        return false;
    }
    // Saturating: overlapping hits give 0 both ways.
    let gap = b
        .first
        .saturating_sub(a.last)
        .max(a.first.saturating_sub(b.last));
    gap <= distance
}

/// Hashes the u32 leaf ids of the per-article cache with one multiply:
/// they are dense small integers, and SipHash showed up in profiles.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type LeafCache = HashMap<u32, Option<Vec<Hit>>, std::hash::BuildHasherDefault<IdHasher>>;

/// Title and body positions of an article stem, by stem number.
type Present<'a> = HashMap<u32, [&'a [usize]; 2], std::hash::BuildHasherDefault<IdHasher>>;

struct Eval<'a> {
    set: &'a TopicSet,
    cache: LeafCache,
    present: Present<'a>,
    article: &'a AnalyzedArticle,
}

impl Eval<'_> {
    fn leaf_hits(&mut self, id: u32) -> Option<&[Hit]> {
        let (set, article) = (self.set, self.article);
        self.cache
            .entry(id)
            .or_insert_with(|| {
                let i = usize::try_from(id).ok()?;
                let leaf = set.leaves.get(i)?;
                let regex = set.regexes.get(i).and_then(Option::as_ref);
                article.leaf_hits(leaf, regex)
            })
            .as_deref()
    }

    /// Returns whether `node` holds; on true, `found` has gained the hits and
    /// labels of the positive clauses that made it true. On false, `found` is
    /// left as it was.
    fn eval<'n>(&mut self, node: &'n Node, found: &mut Found<'n>) -> bool {
        match node {
            Node::Leaf { leaf, label } => {
                // Word leaves, the bulk of most topic sets, read positions
                // straight from the article: no hashing of strings, no cache.
                let i = *leaf as usize;
                if let Some(Some(stem)) = self.set.leaf_stem.get(i) {
                    let scope = self.set.leaves.get(i).and_then(|l| l.scope);
                    let Some(fields) = self.present.get(stem) else {
                        return false;
                    };
                    let before = found.hits.len();
                    for (field, positions) in [Field::Title, Field::Body].into_iter().zip(fields) {
                        if scope.is_none_or(|s| s == field) {
                            found.hits.extend(positions.iter().map(|&p| Hit {
                                field,
                                first: p,
                                last: p,
                            }));
                        }
                    }
                    if found.hits.len() == before {
                        return false;
                    }
                    found.labels.push(label);
                    return true;
                }
                let Some(hits) = self.leaf_hits(*leaf) else {
                    return false;
                };
                found.hits.extend_from_slice(hits);
                found.labels.push(label);
                true
            }
            Node::And(items) => {
                let start = found.mark();
                for item in items {
                    if !self.eval(item, found) {
                        found.reset(start);
                        return false;
                    }
                }
                true
            }
            Node::Or(items) => {
                let mut any = false;
                for item in items {
                    any |= self.eval(item, found);
                }
                any
            }
            Node::Not(inner) => {
                let start = found.mark();
                let inner_holds = self.eval(inner, found);
                found.reset(start);
                !inner_holds
            }
            Node::Near {
                left,
                right,
                distance,
            } => {
                let start = found.mark();
                if !self.eval(left, found) {
                    return false;
                }
                let mid = found.hits.len();
                if !self.eval(right, found) {
                    found.reset(start);
                    return false;
                }
                let d = usize::try_from(*distance).unwrap_or(usize::MAX);
                let (l, r) = found.hits[start.0..].split_at(mid - start.0);
                let mut near: Vec<Hit> = l
                    .iter()
                    .filter(|a| r.iter().any(|b| within(a, b, d)))
                    .copied()
                    .collect();
                if near.is_empty() {
                    found.reset(start);
                    return false;
                }
                near.extend(r.iter().filter(|b| l.iter().any(|a| within(a, b, d))));
                found.hits.truncate(start.0);
                found.hits.extend(near);
                true
            }
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
    /// Occurrences its positive parts contribute when it holds (for a leaf
    /// all of them, title + body; for NEAR only the near ones); 0 for NOT,
    /// metadata and regexes.
    pub hits: usize,
}

/// Reports, clause by clause, why a query did or did not match. Unlike
/// matching it never short-circuits, so every clause gets a line; a
/// `title:(…)` group gets a line of its own and then one per clause inside,
/// evaluated within that field.
pub fn explain(query: &Query, article: &AnalyzedArticle) -> Vec<ClauseReport> {
    let set = TopicSet::new(vec![(String::new(), query.clone())]);
    let mut out = Vec::new();
    if let Some(topic) = set.topics.first() {
        let mut ctx = set.eval_ctx(article);
        explain_into(query, &topic.root, &mut ctx, 0, &mut out);
    }
    out
}

fn explain_into(
    query: &Query,
    node: &Node,
    ctx: &mut Eval<'_>,
    depth: usize,
    out: &mut Vec<ClauseReport>,
) {
    let mut found = Found::default();
    let matched = ctx.eval(node, &mut found);
    out.push(ClauseReport {
        depth,
        clause: query.to_string(),
        matched,
        hits: if matched { found.hits.len() } else { 0 },
    });
    match (query, node) {
        (Query::And(qs), Node::And(ns)) | (Query::Or(qs), Node::Or(ns)) => {
            for (q, n) in qs.iter().zip(ns) {
                explain_into(q, n, ctx, depth + 1, out);
            }
        }
        (Query::Not(q), Node::Not(n)) => explain_into(q, n, ctx, depth + 1, out),
        (
            Query::Near {
                left: ql,
                right: qr,
                ..
            },
            Node::Near {
                left: nl,
                right: nr,
                ..
            },
        ) => {
            explain_into(ql, nl, ctx, depth + 1, out);
            explain_into(qr, nr, ctx, depth + 1, out);
        }
        (Query::Scoped(_, inner), node) if !matches!(inner.as_ref(), Query::Term(_)) => {
            explain_into(inner, node, ctx, depth + 1, out);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::parse;

    const PUTIN: &str =
        "President Vladimir Putin is hiding from the mothers and wives of Russian soldiers";

    fn article(title: &str, text: &str) -> AnalyzedArticle {
        AnalyzedArticle::new(&ArticleText::new(title, text))
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

    #[test]
    fn explain_covers_near_fields_and_metadata() {
        let q = parse("title:(putin OR kremlin) putin NEAR/2 hiding -tag:war")
            .unwrap_or_else(|e| panic!("{e}"));
        let report: Vec<(usize, String, bool, usize)> = explain(&q, &article("Putin", PUTIN))
            .into_iter()
            .map(|r| (r.depth, r.clause, r.matched, r.hits))
            .collect();
        let want = [
            (
                0,
                "title:(putin OR kremlin) putin NEAR/2 hiding -tag:war",
                true,
                3,
            ),
            (1, "title:(putin OR kremlin)", true, 1),
            (2, "putin OR kremlin", true, 1),
            (3, "putin", true, 1),
            (3, "kremlin", false, 0),
            (1, "putin NEAR/2 hiding", true, 2),
            (2, "putin", true, 2),
            (2, "hiding", true, 1),
            (1, "-tag:war", true, 0),
            (2, "tag:war", false, 0),
        ];
        let want: Vec<_> = want
            .into_iter()
            .map(|(d, c, m, h)| (d, c.to_owned(), m, h))
            .collect();
        assert_eq!(report, want);
    }
}
