//! Document-level entity recognition for articles: model output, declared
//! watchlist entities, gazetteers and canonical names combined.
//!
//! Owns the policy for turning one article (title + body, analysed as one
//! document, title first) into [`Mention`]s and aggregated [`Entity`]s:
//! which source wins on overlap (declared entities > organisation rules and
//! the organisation list > the model > place list and document-consistency
//! fill-ins), how a bare "Peskov" is linked to "Dmitry Peskov", and how
//! offsets are reported (byte offsets into the [`Field`] they occur in). It
//! must never do I/O or keep state between calls: a `Recognizer` is
//! immutable after construction and safe to share across threads.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use thiserror::Error;

use super::features::{is_capitalised, norm_lower};
use super::inflection::{Nominatives, name_key};
use super::model::{Model, tag_document};
use super::russian;
use super::slovnet::{self, SlovnetNer};
use super::tokenize::{TokSpan, sentences};
use super::ukrainian;
use super::{EntityKind, Span, spans_from_tags};
use crate::text::{Lang, detect_lang};

/// A watchlist entity the user declared; matched verbatim (case-insensitive,
/// on word boundaries) in any script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredEntity {
    pub name: String,
    pub kind: EntityKind,
    pub aliases: Vec<String>,
}

/// Which part of the article a mention is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Title,
    Body,
}

/// Where a mention came from; useful for debugging and for callers that
/// trust declared matches more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Declared,
    Model,
    Gazetteer,
    Rule,
}

/// One occurrence of an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    /// The text as written (`field_text[start..end]`).
    pub text: String,
    pub kind: EntityKind,
    pub field: Field,
    /// Byte offsets into the title or the body (per `field`).
    pub start: usize,
    pub end: usize,
    /// Name the mention is aggregated under: the declared name, or the
    /// longest person name it abbreviates, possessive stripped.
    pub canonical: String,
    pub source: Source,
}

/// An entity aggregated over a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// Canonical name.
    pub text: String,
    pub kind: EntityKind,
    /// Number of mentions.
    pub count: usize,
    /// Field and byte offset (into that field) of the first mention.
    pub first_field: Field,
    pub first_offset: usize,
}

/// Errors building a recognizer.
#[derive(Debug, Error)]
pub enum RecognizerError {
    #[error("cannot build matcher for declared entities: {0}")]
    Matcher(#[from] aho_corasick::BuildError),
}

/// Words that head an organisation name of the form "X of Y" ("Council of
/// Mothers and Wives", "Ministry of Defence"); the model, trained on
/// 1996 newswire, often cuts such names after the head.
const ORG_HEADS: &[&str] = &[
    "Academy",
    "Agency",
    "Alliance",
    "Assembly",
    "Association",
    "Bank",
    "Board",
    "Bureau",
    "Center",
    "Centre",
    "Church",
    "Coalition",
    "College",
    "Commission",
    "Committee",
    "Committees",
    "Congress",
    "Council",
    "Court",
    "Department",
    "Federation",
    "Foundation",
    "Front",
    "Fund",
    "Institute",
    "League",
    "Ministry",
    "Movement",
    "Office",
    "Organisation",
    "Organization",
    "Parliament",
    "Party",
    "Service",
    "Society",
    "Union",
    "University",
];

/// Capitalised words that are not names on their own; they must not be
/// added from the place list or by document consistency.
const NOT_NAMES: &[&str] = &[
    "the",
    "a",
    "an",
    "i",
    "he",
    "she",
    "it",
    "we",
    "they",
    "this",
    "that",
    "in",
    "on",
    "at",
    "and",
    "or",
    "but",
    "of",
    "for",
    "to",
    "by",
    "with",
    "as",
    "if",
    "so",
    "mr",
    "mrs",
    "ms",
    // Months and weekdays: several are also towns ("March", "Sunday").
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// How much of an article's body language detection reads when the caller
/// does not know the language (the article's own detection reads as much).
const LANG_SAMPLE_CHARS: usize = 2000;

/// Recognises entities in articles. Build once per watchlist.
#[derive(Debug, Clone)]
pub struct Recognizer {
    model: Arc<Model>,
    /// The model for Russian text; without it Russian goes to `model` too.
    russian: Option<Arc<SlovnetNer>>,
    declared: Vec<DeclaredEntity>,
    /// Pattern index → index into `declared`.
    pattern_owner: Vec<usize>,
    matcher: Option<AhoCorasick>,
    /// Nominative spellings of the gazetteers' Cyrillic names, built on first use.
    nominatives: Arc<std::sync::OnceLock<Nominatives>>,
    /// Stems of the place list's one-word Cyrillic names, for Ukrainian text, built on first use.
    place_stems: Arc<std::sync::OnceLock<ukrainian::PlaceStems>>,
}

/// A candidate span in token indices of one sentence.
#[derive(Debug, Clone, Copy)]
struct Cand {
    kind: EntityKind,
    start: usize,
    end: usize,
    source: Source,
}

/// One sentence of the document with its field and token spans.
struct Sent<'a> {
    field: Field,
    text: &'a str,
    toks: &'a [TokSpan],
}

impl Sent<'_> {
    fn word(&self, i: usize) -> &str {
        let t = self.toks[i];
        &self.text[t.start..t.end]
    }
}

/// Lowercases and folds for declared-entity matching, returning the folded
/// string and, for each folded byte (plus one past the end), the byte
/// offset in `text` of the character it came from.
fn fold_with_map(text: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut map = Vec::with_capacity(text.len() + 1);
    for (i, c) in text.char_indices() {
        for lc in c.to_lowercase() {
            let lc = match lc {
                '’' | '‘' | 'ʼ' => '\'',
                'ё' => 'е',
                other => other,
            };
            let before = out.len();
            out.push(lc);
            map.extend(std::iter::repeat_n(i, out.len() - before));
        }
    }
    map.push(text.len());
    (out, map)
}

fn fold(text: &str) -> String {
    fold_with_map(text).0
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl Recognizer {
    /// Builds a recognizer for a model and a watchlist of declared entities.
    pub fn new(
        model: Arc<Model>,
        declared: &[DeclaredEntity],
    ) -> Result<Recognizer, RecognizerError> {
        let mut patterns = Vec::new();
        let mut pattern_owner = Vec::new();
        for (i, d) in declared.iter().enumerate() {
            for name in std::iter::once(&d.name).chain(&d.aliases) {
                let folded = fold(name.trim());
                if !folded.is_empty() {
                    patterns.push(folded);
                    pattern_owner.push(i);
                }
            }
        }
        let matcher = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)?,
            )
        };
        Ok(Recognizer {
            model,
            russian: None,
            declared: declared.to_vec(),
            pattern_owner,
            matcher,
            nominatives: Arc::default(),
            place_stems: Arc::default(),
        })
    }

    /// Declared-entity matches in one field: (byte range, declared index),
    /// non-overlapping, longest first at each position.
    fn declared_matches(&self, text: &str) -> Vec<(Range<usize>, usize)> {
        let Some(matcher) = &self.matcher else {
            return Vec::new();
        };
        let (folded, map) = fold_with_map(text);
        let mut found: Vec<(Range<usize>, usize)> = Vec::new();
        for m in matcher.find_overlapping_iter(&folded) {
            let (Some(&s), Some(&e)) = (map.get(m.start()), map.get(m.end())) else {
                continue;
            };
            let before_ok = !text[..s].chars().next_back().is_some_and(is_word_char);
            let after_ok = !text[e..].chars().next().is_some_and(is_word_char);
            let owner = self.pattern_owner.get(m.pattern().as_usize()).copied();
            if let (true, true, Some(owner)) = (before_ok, after_ok, owner) {
                found.push((s..e, owner));
            }
        }
        found.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
        let mut out: Vec<(Range<usize>, usize)> = Vec::new();
        for (r, owner) in found {
            if out.last().is_none_or(|(last, _)| r.start >= last.end) {
                out.push((r, owner));
            }
        }
        out
    }

    /// Sends Russian text to `russian` instead of the main model.
    pub fn with_russian(mut self, russian: Arc<SlovnetNer>) -> Recognizer {
        self.russian = Some(russian);
        self
    }

    /// All mentions in one article, title first, in reading order. The
    /// language is detected from the title and the opening of the text.
    pub fn mentions(&self, title: &str, text: &str) -> Vec<Mention> {
        self.mentions_in(title, text, detect_article_lang(title, text))
    }

    /// [`Recognizer::mentions`] for an article whose language is known
    /// (`None`: unknown, which goes to the main model). Runs of sentences in
    /// another script (a Russian quote in an English report, an English
    /// passage in a Russian one) go to the model of their own language.
    pub fn mentions_in(&self, title: &str, text: &str, lang: Option<Lang>) -> Vec<Mention> {
        let runs = language_runs(text, lang);
        if runs.iter().all(|(_, run_lang)| *run_lang == lang) {
            return self.mentions_one_language(title, text, lang);
        }
        let mut mentions = self.mentions_one_language(title, "", lang);
        for (range, run_lang) in runs {
            let offset = range.start;
            mentions.extend(
                self.mentions_one_language("", &text[range], run_lang)
                    .into_iter()
                    .filter(|m| m.field == Field::Body)
                    .map(|mut m| {
                        m.start += offset;
                        m.end += offset;
                        m
                    }),
            );
        }
        mentions.sort_by_key(|m| (m.field, m.start));
        link_short_names(&mut mentions);
        mentions
    }

    fn mentions_one_language(&self, title: &str, text: &str, lang: Option<Lang>) -> Vec<Mention> {
        // Ukrainian goes to the Russian model too, its words mapped (see `ukrainian`).
        let russian = match lang {
            Some(Lang::Ru | Lang::Uk) => self.russian.as_deref(),
            _ => None,
        };
        let ukrainian = lang == Some(Lang::Uk);
        // slovnet is fed razdel's tokens and tags a whole text as one
        // sequence (as natasha does), so for Russian each field is one
        // "sentence" of razdel tokens; the later steps do not care.
        let (title_toks, title_sents, body_toks, body_sents) = match russian {
            Some(_) => {
                let (tt, bt) = (
                    slovnet::razdel::tokenize(title),
                    slovnet::razdel::tokenize(text),
                );
                let whole = |n: usize| std::iter::once(0..n).collect::<Vec<_>>();
                let (ts, bs) = (whole(tt.len()), whole(bt.len()));
                (tt, ts, bt, bs)
            }
            None => {
                let (tt, ts) = sentences(title);
                let (bt, bs) = sentences(text);
                (tt, ts, bt, bs)
            }
        };
        let mut sents: Vec<Sent<'_>> = Vec::new();
        for r in title_sents.into_iter().filter(|r| !r.is_empty()) {
            sents.push(Sent {
                field: Field::Title,
                text: title,
                toks: &title_toks[r],
            });
        }
        for r in body_sents.into_iter().filter(|r| !r.is_empty()) {
            sents.push(Sent {
                field: Field::Body,
                text,
                toks: &body_toks[r],
            });
        }
        let words: Vec<Vec<&str>> = sents
            .iter()
            .map(|s| (0..s.toks.len()).map(|i| s.word(i)).collect())
            .collect();

        // 1. Model: slovnet for Russian, its spans' quotes, parentheses and
        // "organisation of country" fixed (see `russian`; not factRuEval's
        // descriptors, which are no part of a name); otherwise the main
        // model, with document context, history and type harmonisation.
        let tags = match russian {
            Some(ner) if ukrainian => words
                .iter()
                .map(|w| {
                    let mapped: Vec<_> = w.iter().map(|word| ukrainian::as_russian(word)).collect();
                    let mut tags =
                        russian::refine(&mapped, &ner.tag_words(&mapped), russian::Style::Names);
                    ukrainian::mark_places(w, &mut tags, self.place_stems());
                    ukrainian::join_given_names(w, &mut tags);
                    tags
                })
                .collect(),
            Some(ner) => words
                .iter()
                .map(|w| russian::refine(w, &ner.tag_words(w), russian::Style::Names))
                .collect(),
            None => tag_document(&self.model, &words),
        };
        let mut cands: Vec<Vec<Cand>> = tags
            .iter()
            .map(|t| {
                spans_from_tags(t)
                    .into_iter()
                    .map(|Span { kind, start, end }| Cand {
                        kind,
                        start,
                        end,
                        source: Source::Model,
                    })
                    .collect()
            })
            .collect();

        // 2. Overriding rules: organisation list and "Head of X" names.
        let gaz = self.model.gazetteer();
        for (si, w) in words.iter().enumerate() {
            let lower: Vec<String> = w.iter().map(|x| norm_lower(x)).collect();
            let mut i = 0;
            while i < w.len() {
                if is_capitalised(w[i])
                    && let Some(len) = gaz.orgs.longest_at(&lower, i)
                {
                    override_span(
                        &mut cands[si],
                        i,
                        i + len,
                        EntityKind::Org,
                        Source::Gazetteer,
                    );
                    i += len;
                    continue;
                }
                i += 1;
            }
            for (start, end) in org_of_phrases(w) {
                // Keep a model ORG that already starts earlier ("European
                // Council of …"), otherwise start at the head word.
                let mut start = cands[si]
                    .iter()
                    .find(|c| c.kind == EntityKind::Org && c.start < start && c.end > start)
                    .map_or(start, |c| c.start);
                // ... but not a sentence-initial "The" the model swept in.
                while start + 1 < end && matches!(w[start], "The" | "the" | "THE") {
                    start += 1;
                }
                override_span(&mut cands[si], start, end, EntityKind::Org, Source::Rule);
            }
        }

        // 3. Fill-ins where nothing was found: place list and strings the
        // model tagged elsewhere in this document.
        let mut known: HashMap<Vec<&str>, EntityKind> = HashMap::new();
        for (si, cs) in cands.iter().enumerate() {
            for c in cs {
                let key: Vec<&str> = words[si][c.start..c.end].to_vec();
                let joined_len: usize = key.iter().map(|k| k.len()).sum();
                if joined_len >= 3 && is_capitalised(key[0]) {
                    known.entry(key).or_insert(c.kind);
                }
            }
        }
        let max_known = known.keys().map(Vec::len).max().unwrap_or(0);
        for (si, w) in words.iter().enumerate() {
            let lower: Vec<String> = w.iter().map(|x| norm_lower(x)).collect();
            let headline = !w.iter().any(|t| t.chars().any(char::is_lowercase));
            let mut i = 0;
            while i < w.len() {
                let fillable = is_capitalised(w[i])
                    && !NOT_NAMES.contains(&lower[i].as_str())
                    && !covered(&cands[si], i);
                if !fillable {
                    i += 1;
                    continue;
                }
                // Longest string the model tagged elsewhere.
                let mut added = None;
                for len in (1..=max_known.min(w.len() - i)).rev() {
                    if let Some(&kind) = known.get(&w[i..i + len])
                        && (i..i + len).all(|j| !covered(&cands[si], j))
                    {
                        added = Some((len, kind, Source::Model));
                        break;
                    }
                }
                // Place list, not for sentence-initial or headline words
                // where capitalisation says nothing.
                if added.is_none()
                    && i > 0
                    && !headline
                    && let Some(len) = gaz.places.longest_at(&lower, i)
                    && (i..i + len).all(|j| !covered(&cands[si], j))
                {
                    added = Some((len, EntityKind::Place, Source::Gazetteer));
                }
                match added {
                    Some((len, kind, source)) => {
                        cands[si].push(Cand {
                            kind,
                            start: i,
                            end: i + len,
                            source,
                        });
                        i += len;
                    }
                    None => i += 1,
                }
            }
        }

        // 4. Byte-level mentions, then declared entities win on overlap.
        let mut mentions = Vec::new();
        for (si, cs) in cands.iter().enumerate() {
            let s = &sents[si];
            for c in cs {
                let start = s.toks[c.start].start;
                let end = s.toks[c.end - 1].end;
                let text = &s.text[start..end];
                mentions.push(Mention {
                    text: text.to_owned(),
                    kind: c.kind,
                    field: s.field,
                    start,
                    end,
                    canonical: strip_possessive(text),
                    source: c.source,
                });
            }
        }
        for (field, ftext) in [(Field::Title, title), (Field::Body, text)] {
            for (r, owner) in self.declared_matches(ftext) {
                let Some(d) = self.declared.get(owner) else {
                    continue;
                };
                mentions.retain(|m| m.field != field || m.end <= r.start || m.start >= r.end);
                mentions.push(Mention {
                    text: ftext[r.clone()].to_owned(),
                    kind: d.kind,
                    field,
                    start: r.start,
                    end: r.end,
                    canonical: d.name.clone(),
                    source: Source::Declared,
                });
            }
        }
        mentions.retain(|m| !m.canonical.is_empty());
        mentions.sort_by_key(|m| (m.field, m.start));
        link_short_names(&mut mentions);
        mentions
    }

    /// Mentions aggregated by canonical name (case-insensitive), sorted by
    /// count (descending), then first occurrence. The kind is the most
    /// frequent one among the mentions (ties: the earliest).
    pub fn entities(&self, title: &str, text: &str) -> Vec<Entity> {
        self.entities_in(title, text, detect_article_lang(title, text))
    }

    /// [`Recognizer::entities`] for an article whose language is known.
    pub fn entities_in(&self, title: &str, text: &str, lang: Option<Lang>) -> Vec<Entity> {
        aggregate(
            &self.mentions_in(title, text, lang),
            self.nominatives(),
            lang,
        )
    }

    fn place_stems(&self) -> &ukrainian::PlaceStems {
        self.place_stems
            .get_or_init(|| ukrainian::PlaceStems::from_list(&self.model.gazetteer().places_text))
    }

    fn nominatives(&self) -> &Nominatives {
        self.nominatives.get_or_init(|| {
            let gaz = self.model.gazetteer();
            Nominatives::from_lists(&[&gaz.places_text, &gaz.orgs_text])
        })
    }
}

/// Fewest letters for a sentence's script to count: shorter ones (a name,
/// a number) follow the sentences around them.
const MIN_SCRIPT_LETTERS: usize = 20;

/// The body split into runs of sentences of one language: `lang` (the
/// article's) where the script agrees with it, Russian (Ukrainian if the
/// article is) for Cyrillic sentences in a Latin-script article, English for
/// Latin sentences in a Cyrillic one. Contiguous and covering the text.
fn language_runs(text: &str, lang: Option<Lang>) -> Vec<(Range<usize>, Option<Lang>)> {
    let cyrillic_article = matches!(lang, Some(Lang::Ru | Lang::Uk));
    // Most articles hold too few letters of the other script to make a sentence of it:
    // one pass over the characters spares them the sentence split.
    let other_script = text
        .chars()
        .filter(|&c| {
            if cyrillic_article {
                c.is_ascii_alphabetic()
            } else {
                matches!(c as u32, 0x0400..=0x052F)
            }
        })
        .take(MIN_SCRIPT_LETTERS)
        .count();
    if other_script < MIN_SCRIPT_LETTERS {
        return vec![(0..text.len(), lang)];
    }
    let (tokens, sents) = sentences(text);
    let mut runs: Vec<(Range<usize>, Option<Lang>)> = Vec::new();
    for sent in sents.iter().filter(|r| !r.is_empty()) {
        let start = if runs.is_empty() {
            0
        } else {
            tokens[sent.start].start
        };
        let sentence = &text[tokens[sent.start].start..tokens[sent.end - 1].end];
        let (mut cyrillic, mut latin, mut ukrainian) = (0usize, 0usize, false);
        for c in sentence.chars().filter(|c| c.is_alphabetic()) {
            if matches!(c as u32, 0x0400..=0x052F) {
                cyrillic += 1;
                ukrainian |= matches!(c, 'і' | 'ї' | 'є' | 'ґ' | 'І' | 'Ї' | 'Є' | 'Ґ');
            } else if c.is_ascii_alphabetic() {
                latin += 1;
            }
        }
        let sentence_lang = if cyrillic >= MIN_SCRIPT_LETTERS && cyrillic > 2 * latin {
            match lang {
                Some(Lang::Ru | Lang::Uk) => lang,
                _ if ukrainian => Some(Lang::Uk),
                _ => Some(Lang::Ru),
            }
        } else if latin >= MIN_SCRIPT_LETTERS && latin > 2 * cyrillic && cyrillic_article {
            Some(Lang::En)
        } else if latin >= MIN_SCRIPT_LETTERS && latin > 2 * cyrillic {
            lang
        } else {
            // Too short to tell: it goes with the run it is in.
            runs.last().map_or(lang, |(_, l)| *l)
        };
        match runs.last_mut() {
            Some((range, run_lang)) if *run_lang == sentence_lang => range.end = text.len(),
            Some((range, _)) => {
                range.end = start;
                runs.push((start..text.len(), sentence_lang));
            }
            None => runs.push((start..text.len(), sentence_lang)),
        }
    }
    runs
}

/// The language of an article, as `Article` detects it: title and opening.
fn detect_article_lang(title: &str, text: &str) -> Option<Lang> {
    let opening: String = text.chars().take(LANG_SAMPLE_CHARS).collect();
    detect_lang(&format!("{title}\n{opening}"))
}

/// Groups mentions into entities (see [`Recognizer::entities`]): by [`name_key`], so the
/// inflected forms of a Russian or Ukrainian name are one entity, shown in its nominative
/// form (see [`Nominatives`]) in the alphabet of the article's `lang`.
pub fn aggregate(
    mentions: &[Mention],
    nominatives: &Nominatives,
    lang: Option<Lang>,
) -> Vec<Entity> {
    struct Acc<'a> {
        key: String,
        forms: Vec<&'a str>,
        kinds: Vec<(EntityKind, usize)>,
        count: usize,
        first: (Field, usize),
    }
    let mut groups: Vec<Acc> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for m in mentions {
        let key = name_key(&m.canonical);
        let key = if key.is_empty() {
            fold(&m.canonical)
        } else {
            key
        };
        let gi = *index.entry(key.clone()).or_insert_with(|| {
            groups.push(Acc {
                key,
                forms: Vec::new(),
                kinds: Vec::new(),
                count: 0,
                first: (m.field, m.start),
            });
            groups.len() - 1
        });
        let g = &mut groups[gi];
        g.count += 1;
        g.first = g.first.min((m.field, m.start));
        if !g.forms.contains(&m.canonical.as_str()) {
            g.forms.push(&m.canonical);
        }
        match g.kinds.iter_mut().find(|(k, _)| *k == m.kind) {
            Some((_, n)) => *n += 1,
            None => g.kinds.push((m.kind, 1)),
        }
    }
    let mut out: Vec<Entity> = groups
        .into_iter()
        .map(|g| {
            // max_by_key keeps the last maximum; iterate reversed so ties
            // go to the kind seen first.
            let kind = g
                .kinds
                .iter()
                .rev()
                .max_by_key(|(_, n)| *n)
                .map_or(EntityKind::Misc, |(k, _)| *k);
            Entity {
                text: nominatives.display(&g.key, &g.forms, lang).to_string(),
                kind,
                count: g.count,
                first_field: g.first.0,
                first_offset: g.first.1,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then((a.first_field, a.first_offset).cmp(&(b.first_field, b.first_offset)))
    });
    out
}

fn covered(cands: &[Cand], i: usize) -> bool {
    cands.iter().any(|c| c.start <= i && i < c.end)
}

/// Inserts a span that wins over overlapping candidates, except a model
/// span of the same kind that strictly contains it (the model saw a longer
/// name, e.g. "New York Times Co" around "New York Times").
fn override_span(
    cands: &mut Vec<Cand>,
    start: usize,
    end: usize,
    kind: EntityKind,
    source: Source,
) {
    if cands.iter().any(|c| {
        c.kind == kind && c.start <= start && c.end >= end && c.end - c.start > end - start
    }) {
        return;
    }
    cands.retain(|c| c.end <= start || c.start >= end);
    cands.push(Cand {
        kind,
        start,
        end,
        source,
    });
}

/// Finds "Head of Capitalised …" organisation names in a sentence, e.g.
/// "Council of Mothers and Wives", "Committee of Soldiers' Mothers".
/// Returns token ranges.
fn org_of_phrases(w: &[&str]) -> Vec<(usize, usize)> {
    let cap = |i: usize| w.get(i).is_some_and(|t| is_capitalised(t));
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 < w.len() {
        if !(ORG_HEADS.contains(&w[i]) && w[i + 1] == "of" && cap(i + 2)) {
            i += 1;
            continue;
        }
        let mut end = i + 3;
        loop {
            if cap(end) {
                end += 1;
            } else if matches!(w.get(end), Some(&("and" | "&" | "of" | "the" | "for")))
                && cap(end + 1)
            {
                end += 2;
            } else if matches!(w.get(end), Some(&("'" | "’")))
                && w[end - 1].ends_with('s')
                && cap(end + 1)
            {
                // Plural possessive inside a name: "Soldiers' Mothers".
                end += 2;
            } else {
                break;
            }
        }
        out.push((i, end));
        i = end;
    }
    out
}

/// Canonical form of a surface name: drops a trailing possessive ('s, ’s
/// or a bare apostrophe) and a leading article ("The Guardian" and
/// "Guardian" are one entity), and collapses whitespace (names can span a
/// line break).
fn strip_possessive(text: &str) -> String {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    if words.len() > 1 && matches!(words[0], "The" | "the" | "THE") {
        words.remove(0);
    }
    let joined = words.join(" ");
    for suffix in ["'s", "’s", "'", "’"] {
        if let Some(stripped) = joined.strip_suffix(suffix) {
            return stripped.trim_end().to_owned();
        }
    }
    joined
}

/// Links a one-word mention to a longer person name ending in that word
/// ("Peskov" → "Dmitry Peskov"), or failing that starting with it ("Isabel"
/// → "Isabel van Brugen"), taking over the person kind: in news the full
/// name comes first and is then shortened. Declared mentions keep their own
/// canonical name. Ambiguous short names go to the first full name.
fn link_short_names(mentions: &mut [Mention]) {
    let mut by_last: HashMap<String, String> = HashMap::new();
    let mut by_first: HashMap<String, String> = HashMap::new();
    for m in mentions.iter() {
        if m.kind != EntityKind::Person {
            continue;
        }
        let words: Vec<&str> = m.canonical.split_whitespace().collect();
        if let (true, Some(first), Some(last)) = (words.len() >= 2, words.first(), words.last()) {
            by_last
                .entry(fold(last))
                .or_insert_with(|| m.canonical.clone());
            by_first
                .entry(fold(first))
                .or_insert_with(|| m.canonical.clone());
        }
    }
    for m in mentions.iter_mut() {
        if m.source == Source::Declared || m.canonical.contains(char::is_whitespace) {
            continue;
        }
        let key = fold(&m.canonical);
        if let Some(name) = by_last.get(&key).or_else(|| by_first.get(&key)) {
            m.canonical = name.clone();
            m.kind = EntityKind::Person;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mention(canonical: &str, kind: EntityKind, field: Field, start: usize) -> Mention {
        Mention {
            text: canonical.to_owned(),
            kind,
            field,
            start,
            end: start + canonical.len(),
            canonical: canonical.to_owned(),
            source: Source::Model,
        }
    }

    #[test]
    fn folds_cyrillic_with_offsets() {
        let (f, map) = fold_with_map("Совет Ё");
        assert_eq!(f, "совет е");
        assert_eq!(map.len(), f.len() + 1);
        assert_eq!(map[f.len()], "Совет Ё".len());
    }

    #[test]
    fn org_of_phrases_follow_names() {
        let w = [
            "the",
            "Council",
            "of",
            "Mothers",
            "and",
            "Wives",
            "'",
            "bio",
            "and",
            "the",
            "Committee",
            "of",
            "Soldiers",
            "'",
            "Mothers",
            ",",
        ];
        assert_eq!(org_of_phrases(&w), vec![(1, 6), (10, 15)]);
        assert!(org_of_phrases(&["Council", "of", "ministers"]).is_empty());
    }

    #[test]
    fn links_and_aggregates() {
        let mut ms = vec![
            mention("Vladimir Putin", EntityKind::Person, Field::Title, 0),
            mention("Putin", EntityKind::Org, Field::Body, 10),
            mention("Putin", EntityKind::Person, Field::Body, 40),
            mention("Kremlin", EntityKind::Org, Field::Body, 20),
            mention("Newsweek's", EntityKind::Org, Field::Body, 30),
        ];
        ms[4].canonical = strip_possessive("Newsweek's");
        link_short_names(&mut ms);
        assert_eq!(ms[1].canonical, "Vladimir Putin");
        assert_eq!(ms[1].kind, EntityKind::Person);
        let ents = aggregate(&ms, &Nominatives::default(), Some(Lang::En));
        assert_eq!(ents[0].text, "Vladimir Putin");
        assert_eq!(ents[0].count, 3);
        assert_eq!(
            (ents[0].first_field, ents[0].first_offset),
            (Field::Title, 0)
        );
        assert_eq!(ents[1].text, "Kremlin");
        assert_eq!(ents[2].text, "Newsweek");
        assert_eq!(strip_possessive("Mothers and Wives'"), "Mothers and Wives");
        assert_eq!(strip_possessive("The  Guardian’s"), "Guardian");
        assert_eq!(strip_possessive("The"), "The");
    }
}

#[cfg(test)]
mod declared_tests {
    use super::*;
    use crate::entities::conll;
    use crate::entities::train::{TrainOptions, train_on_documents};

    fn toy_model() -> Arc<Model> {
        let docs = conll::read("Anna x x B-PER\nleft x x O\nBerlin x x B-LOC\n").expect("valid");
        let opts = TrainOptions {
            epochs: 1,
            hash_bits: 12,
            ..TrainOptions::default()
        };
        Arc::new(train_on_documents(&docs, &opts, |_, _| {}).expect("trains"))
    }

    #[test]
    fn declared_entities_match_cyrillic_case_insensitively_on_word_boundaries() {
        let declared = vec![
            DeclaredEntity {
                name: "Council of Mothers and Wives".to_owned(),
                kind: EntityKind::Org,
                aliases: vec!["Совет матерей и жён".to_owned(), String::new()],
            },
            DeclaredEntity {
                name: "UN".to_owned(),
                kind: EntityKind::Org,
                aliases: vec![],
            },
        ];
        let rec = Recognizer::new(toy_model(), &declared).expect("builds");
        let body =
            "Вчера СОВЕТ МАТЕРЕЙ И ЖЕН выступил. Совет матерей и жён — снова. Fun with the UN.";
        let ms: Vec<Mention> = rec
            .mentions("", body)
            .into_iter()
            .filter(|m| m.source == Source::Declared)
            .collect();
        assert_eq!(ms.len(), 3, "{ms:?}");
        assert_eq!(ms[0].text, "СОВЕТ МАТЕРЕЙ И ЖЕН");
        assert_eq!(&body[ms[0].start..ms[0].end], ms[0].text);
        assert_eq!(ms[0].canonical, "Council of Mothers and Wives");
        assert_eq!(ms[1].text, "Совет матерей и жён");
        assert_eq!(ms[2].text, "UN");
        assert!(
            ms.iter()
                .all(|m| m.kind == EntityKind::Org && m.field == Field::Body)
        );
        // "un" inside "Fun" is not a word-boundary match.
        assert!(!ms.iter().any(|m| m.start == body.find("Fun").unwrap_or(0)));
    }

    #[test]
    fn declared_wins_over_model_output() {
        let declared = vec![DeclaredEntity {
            name: "Anna Karenina Fund".to_owned(),
            kind: EntityKind::Org,
            aliases: vec!["Anna".to_owned()],
        }];
        let rec = Recognizer::new(toy_model(), &declared).expect("builds");
        let ms = rec.mentions("Anna left Berlin", "");
        let anna: Vec<&Mention> = ms.iter().filter(|m| m.start == 0).collect();
        assert_eq!(anna.len(), 1);
        assert_eq!(anna[0].kind, EntityKind::Org);
        assert_eq!(anna[0].canonical, "Anna Karenina Fund");
    }
}
