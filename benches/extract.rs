//! Criterion bench: our extractor vs plain dom_smoothie over a fixed
//! sample of ~20 AEB pages read at bench time from /work/shared (every
//! ninth page in id order). Skips gracefully when the dataset is missing.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use feedwatch::extract::eval::{baseline_extract, dataset_ids};
use feedwatch::extract::{ExtractOptions, extract_with};

const AEB: &str = "/work/shared/data/extraction/aeb";

fn sample() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(AEB);
    let Ok(ids) = dataset_ids(dir) else {
        return Vec::new();
    };
    ids.iter()
        .step_by(9)
        .filter_map(|id| {
            let bytes = std::fs::read(dir.join(id).join("page.html")).ok()?;
            Some((id.clone(), bytes))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let pages = sample();
    if pages.is_empty() {
        eprintln!("skipping: {AEB} not available");
        return;
    }
    let htmls: Vec<String> = pages
        .iter()
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    let mut group = c.benchmark_group(format!("aeb_sample_{}_pages", pages.len()));
    group.sample_size(10);
    group.bench_function("feedwatch_extract", |b| {
        b.iter(|| {
            for (_, bytes) in &pages {
                let _ = black_box(extract_with(
                    black_box(bytes),
                    None,
                    None,
                    &ExtractOptions::default(),
                ));
            }
        })
    });
    group.bench_function("dom_smoothie_formatted", |b| {
        b.iter(|| {
            for html in &htmls {
                black_box(baseline_extract(black_box(html)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
