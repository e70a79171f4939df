//! Acceptance test on a real article, read at test time by path (first line
//! is the title). Skipped with a message when the shared data is absent.

use std::path::Path;
use std::sync::Arc;

use feedwatch::entities::{EntityKind, Model, Recognizer};

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/samples/soldiers-mothers-newsweek.txt"
);

fn load_model() -> Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/ner.bin");
    let bytes = std::fs::read(&path).expect("models/ner.bin is shipped with the crate");
    Model::from_bytes(&bytes).expect("shipped model loads")
}

#[test]
fn newsweek_soldiers_mothers_article() {
    let Ok(raw) = std::fs::read_to_string(SAMPLE) else {
        eprintln!("skipping: {SAMPLE} not available");
        return;
    };
    let (title, body) = raw.split_once('\n').unwrap_or((raw.as_str(), ""));
    let rec = Recognizer::new(Arc::new(load_model()), &[]).expect("no declared entities");
    let entities = rec.entities(title, body);
    let kind_of = |name: &str| -> Option<EntityKind> {
        entities.iter().find(|e| e.text == name).map(|e| e.kind)
    };
    let listing: Vec<String> = entities
        .iter()
        .map(|e| format!("{} ({}, {})", e.text, e.kind.as_str(), e.count))
        .collect();
    let listing = listing.join("; ");
    for name in ["Vladimir Putin", "Olga Tsukanova", "Dmitry Peskov"] {
        assert_eq!(kind_of(name), Some(EntityKind::Person), "{name}: {listing}");
    }
    for name in [
        "Council of Mothers and Wives",
        "Committee of Soldiers' Mothers",
        "Kremlin",
        "Vedomosti",
        "Newsweek",
    ] {
        assert_eq!(kind_of(name), Some(EntityKind::Org), "{name}: {listing}");
    }
    for name in ["Moscow", "Samara", "Smolensk", "Ukraine", "Russia"] {
        assert_eq!(kind_of(name), Some(EntityKind::Place), "{name}: {listing}");
    }
    // Bare surnames are aggregated under the full name.
    for short in ["Putin", "Peskov", "Tsukanova"] {
        assert_eq!(kind_of(short), None, "{short} should be linked: {listing}");
    }
    // No mention of the news organisations is typed as a person.
    let mentions = rec.mentions(title, body);
    assert!(
        !mentions.iter().any(
            |m| (m.canonical == "Vedomosti" || m.canonical == "Newsweek")
                && m.kind == EntityKind::Person
        ),
        "{listing}"
    );
    // Offsets point into the right field.
    for m in &mentions {
        let field = match m.field {
            feedwatch::entities::Field::Title => title,
            feedwatch::entities::Field::Body => body,
        };
        assert_eq!(&field[m.start..m.end], m.text);
    }
}
