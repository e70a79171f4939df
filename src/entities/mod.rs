//! Named-entity recognition: people, organisations, places and other names
//! (MISC) in English news text.
//!
//! Owns the trained model (an averaged structured perceptron over BIO tags
//! with Viterbi decoding, see [`model`]), its trainer ([`mod@train`]), CoNLL
//! reading/scoring ([`conll`]), the gazetteers ([`gazetteer`]) and the
//! document-level [`Recognizer`] that merges model output with declared
//! watchlist entities and canonicalises mentions. Everything here is pure and
//! synchronous: the only input is bytes and strings handed in by the caller
//! (the model is loaded with [`Model::from_bytes`]); this module must never do
//! file or network I/O, read the clock or keep global state. The one
//! exception is [`train::train`] and [`conll::read_file`], which read a
//! training/evaluation file by path because they are offline tools.
//!
//! Tagging is document-level on purpose: features see how a word is written
//! elsewhere in the document and what the model already called it in earlier
//! sentences, so documents must be tagged in reading order
//! ([`tag_document`]); [`tag_sentence`] exists for isolated snippets.
//!
//! The perceptron is trained on English (CoNLL-2003); Russian and Ukrainian text
//! goes to the slovnet port ([`slovnet`], with [`russian`] span rules and the
//! [`ukrainian`] respelling).

pub mod clusters;
pub mod conll;
pub mod features;
pub mod gazetteer;
pub mod inflection;
pub mod model;
pub mod recognizer;
pub mod russian;
pub mod slovnet;
pub mod tokenize;
pub mod train;
pub mod ukrainian;

pub use model::{Model, ModelError, tag_document, tag_sentence};

/// The shipped model (`models/ner.bin`, see `models/MODEL_CARD.md`), built into the binary so
/// feedwatch needs no file next to it.
pub static SHIPPED_MODEL: &[u8] = include_bytes!("../../models/ner.bin");

/// Why the shipped recognizer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot load the entity model: {0}")]
    Model(#[from] ModelError),
    #[error(transparent)]
    Declared(#[from] recognizer::RecognizerError),
    #[error("cannot load the Russian entity model: {0}")]
    Russian(#[from] slovnet::SlovnetError),
}

/// The shipped models plus the watchlists' declared entities: what the daemon, `test` and
/// `extract` all recognise with. Russian text goes to slovnet, everything else to the
/// perceptron.
pub fn shipped_recognizer(declared: &[DeclaredEntity]) -> Result<Recognizer, LoadError> {
    let model = std::sync::Arc::new(Model::from_bytes(SHIPPED_MODEL)?);
    let russian = std::sync::Arc::new(slovnet::SlovnetNer::shipped()?);
    Ok(Recognizer::new(model, declared)?.with_russian(russian))
}
pub use recognizer::{DeclaredEntity, Entity, Field, Mention, Recognizer};
pub use train::{TrainError, TrainOptions, train};

/// The coarse type of a named entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    Person,
    Org,
    Place,
    Misc,
}

impl EntityKind {
    /// All kinds, in tag order.
    pub const ALL: [EntityKind; 4] = [
        EntityKind::Person,
        EntityKind::Org,
        EntityKind::Place,
        EntityKind::Misc,
    ];

    /// Stable lowercase name used in alerts and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Person => "person",
            EntityKind::Org => "org",
            EntityKind::Place => "place",
            EntityKind::Misc => "misc",
        }
    }

    /// The CoNLL-2003 label for this kind.
    pub fn conll_label(self) -> &'static str {
        match self {
            EntityKind::Person => "PER",
            EntityKind::Org => "ORG",
            EntityKind::Place => "LOC",
            EntityKind::Misc => "MISC",
        }
    }

    /// Parses a CoNLL-2003 label (PER, ORG, LOC, MISC).
    pub fn from_conll_label(label: &str) -> Option<EntityKind> {
        match label {
            "PER" => Some(EntityKind::Person),
            "ORG" => Some(EntityKind::Org),
            "LOC" => Some(EntityKind::Place),
            "MISC" => Some(EntityKind::Misc),
            _ => None,
        }
    }

    fn index(self) -> usize {
        match self {
            EntityKind::Person => 0,
            EntityKind::Org => 1,
            EntityKind::Place => 2,
            EntityKind::Misc => 3,
        }
    }
}

/// A BIO tag. Encoded as a small integer so the model can index weight rows
/// with it: 0 = O, then B/I pairs per kind in [`EntityKind::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tag {
    O,
    B(EntityKind),
    I(EntityKind),
}

impl Tag {
    /// Number of distinct tags (O + B/I for four kinds).
    pub const COUNT: usize = 9;

    /// Dense index in `0..Tag::COUNT`.
    pub fn index(self) -> usize {
        match self {
            Tag::O => 0,
            Tag::B(k) => 1 + 2 * k.index(),
            Tag::I(k) => 2 + 2 * k.index(),
        }
    }

    /// Inverse of [`Tag::index`]; out-of-range indices map to `O`.
    pub fn from_index(i: usize) -> Tag {
        if i == 0 || i >= Tag::COUNT {
            return Tag::O;
        }
        let kind = EntityKind::ALL[(i - 1) / 2];
        if (i - 1).is_multiple_of(2) {
            Tag::B(kind)
        } else {
            Tag::I(kind)
        }
    }

    /// The entity kind, if any.
    pub fn kind(self) -> Option<EntityKind> {
        match self {
            Tag::O => None,
            Tag::B(k) | Tag::I(k) => Some(k),
        }
    }

    /// CoNLL spelling (`O`, `B-PER`, `I-LOC`, …).
    pub fn to_conll(self) -> String {
        match self {
            Tag::O => "O".to_owned(),
            Tag::B(k) => format!("B-{}", k.conll_label()),
            Tag::I(k) => format!("I-{}", k.conll_label()),
        }
    }

    /// Parses a CoNLL BIO tag; unknown labels are `None`.
    pub fn from_conll(s: &str) -> Option<Tag> {
        if s == "O" {
            return Some(Tag::O);
        }
        let (prefix, label) = s.split_once('-')?;
        let kind = EntityKind::from_conll_label(label)?;
        match prefix {
            "B" => Some(Tag::B(kind)),
            "I" => Some(Tag::I(kind)),
            _ => None,
        }
    }
}

/// A tagged span over tokens: `[start, end)` token indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub kind: EntityKind,
    pub start: usize,
    pub end: usize,
}

/// Groups BIO tags into entity spans. An `I-X` that does not continue an X
/// span opens a new one, as conlleval does, so decoding and scoring agree.
pub fn spans_from_tags(tags: &[Tag]) -> Vec<Span> {
    let mut out = Vec::new();
    let mut cur: Option<Span> = None;
    for (i, tag) in tags.iter().enumerate() {
        match *tag {
            Tag::O => {
                out.extend(cur.take());
            }
            Tag::B(k) => {
                out.extend(cur.take());
                cur = Some(Span {
                    kind: k,
                    start: i,
                    end: i + 1,
                });
            }
            Tag::I(k) => match cur.as_mut() {
                Some(span) if span.kind == k => span.end = i + 1,
                _ => {
                    out.extend(cur.take());
                    cur = Some(Span {
                        kind: k,
                        start: i,
                        end: i + 1,
                    });
                }
            },
        }
    }
    out.extend(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_index_round_trips() {
        for i in 0..Tag::COUNT {
            assert_eq!(Tag::from_index(i).index(), i);
            let t = Tag::from_index(i);
            assert_eq!(Tag::from_conll(&t.to_conll()), Some(t));
        }
    }

    #[test]
    fn spans_follow_conlleval() {
        let p = EntityKind::Person;
        let l = EntityKind::Place;
        let tags = [
            Tag::I(p),
            Tag::I(p),
            Tag::I(l),
            Tag::O,
            Tag::B(p),
            Tag::B(p),
        ];
        let spans = spans_from_tags(&tags);
        assert_eq!(spans.len(), 4);
        assert_eq!((spans[0].start, spans[0].end), (0, 2));
        assert_eq!(spans[1].kind, l);
        assert_eq!((spans[3].start, spans[3].end), (5, 6));
    }
}
