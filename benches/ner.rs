//! Tagging throughput on a ~1,000-token news text (model loaded once).
//! Run: cargo bench --bench ner

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use feedwatch::entities::tokenize::sentences;
use feedwatch::entities::{Model, Recognizer, tag_document};

const PARAGRAPH: &str = "President Vladimir Putin met German Chancellor Olaf Scholz in Moscow on \
Tuesday, the Kremlin said, as NATO and the European Union weighed new sanctions. Dmitry Peskov \
told reporters in Moscow that the talks with Berlin were \"constructive\" and that Russia's \
position on Ukraine had not changed. Reuters reported that Gazprom shares fell 3 percent on the \
Moscow Exchange after the U.S. Treasury Department named two banks. ";

fn text() -> String {
    // ~85 tokens per paragraph × 14 ≈ 1,000 tokens.
    PARAGRAPH.repeat(14)
}

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/ner.bin");
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("skipping: {} missing", path.display());
        return;
    };
    c.bench_function("load model", |b| {
        b.iter(|| Model::from_bytes(black_box(&bytes)))
    });
    let Ok(model) = Model::from_bytes(&bytes) else {
        eprintln!("skipping: model does not load");
        return;
    };
    let model = Arc::new(model);
    let text = text();
    let (toks, ranges) = sentences(&text);
    let sents: Vec<Vec<&str>> = ranges
        .iter()
        .map(|r| {
            toks[r.clone()]
                .iter()
                .map(|t| &text[t.start..t.end])
                .collect()
        })
        .collect();
    let mut group = c.benchmark_group("ner");
    group.throughput(Throughput::Elements(toks.len() as u64));
    group.sample_size(20);
    group.bench_function("tag_document ~1k tokens", |b| {
        b.iter(|| tag_document(&model, black_box(&sents)))
    });
    let Ok(rec) = Recognizer::new(Arc::clone(&model), &[]) else {
        return;
    };
    group.bench_function("Recognizer::entities ~1k tokens", |b| {
        b.iter(|| rec.entities(black_box("Putin meets Scholz"), black_box(&text)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
