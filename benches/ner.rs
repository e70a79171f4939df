//! Tagging throughput on a ~1,000-token news text (model loaded once), for
//! the English perceptron and for the Russian slovnet port.
//! Run: cargo bench --bench ner

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use feedwatch::entities::slovnet::{SHIPPED_SLOVNET, Scratch, SlovnetNer, razdel};
use feedwatch::entities::tokenize::sentences;
use feedwatch::entities::{Model, Recognizer, tag_document};

/// A Russian news-like text written for the parity test (≈370 razdel tokens).
const RUSSIAN: &str = include_str!("../tests/fixtures/slovnet/sample.txt");

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

fn bench_slovnet(c: &mut Criterion) {
    c.bench_function("slovnet load model", |b| {
        b.iter(|| SlovnetNer::from_static(black_box(SHIPPED_SLOVNET)))
    });
    let Ok(ner) = SlovnetNer::shipped() else {
        eprintln!("skipping: slovnet model does not load");
        return;
    };
    // Three copies ≈ 1,100 tokens, tagged as one document (as natasha does).
    let text = RUSSIAN.repeat(3);
    let tokens = razdel::tokenize(&text);
    let words: Vec<&str> = tokens.iter().map(|t| &text[t.start..t.end]).collect();
    let mut group = c.benchmark_group("slovnet");
    group.throughput(Throughput::Elements(tokens.len() as u64));
    group.sample_size(20);
    let mut scratch = Scratch::default();
    let mut tags = Vec::new();
    group.bench_function("tag_words ~1.1k tokens", |b| {
        b.iter(|| ner.tag_words_with(black_box(&words), &mut scratch, &mut tags))
    });
    group.bench_function("tag_text (razdel + tagging) ~1.1k tokens", |b| {
        b.iter(|| {
            ner.tag_text_with(black_box(&text), &mut scratch, &mut tags)
                .len()
        })
    });
    group.bench_function("razdel tokenize ~1.1k tokens", |b| {
        b.iter(|| razdel::tokenize(black_box(&text)))
    });
    group.finish();
}

criterion_group!(benches, bench, bench_slovnet);
criterion_main!(benches);
