//! `feedwatch train-ner`: trains the entity model from CoNLL-2003-style data.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::entities::train::{cross_validate, train_with_progress};
use crate::entities::{TrainOptions, conll};

/// Training settings from the command line.
pub(super) struct Knobs {
    pub epochs: usize,
    pub seed: u64,
    pub bits: u32,
    pub min_count: u32,
    pub lex_dropout: f32,
}

pub(super) fn train_ner(
    data: &Path,
    out: &Path,
    valid: Option<&Path>,
    cv: Option<usize>,
    knobs: Knobs,
    [places, orgs, persons, clusters]: [&Path; 4],
) -> anyhow::Result<ExitCode> {
    let read = |path: &Path| {
        if path.as_os_str().is_empty() {
            return Ok(String::new());
        }
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let options = TrainOptions {
        epochs: knobs.epochs,
        seed: knobs.seed,
        hash_bits: knobs.bits,
        min_count: knobs.min_count,
        lex_dropout: knobs.lex_dropout,
        places_gazetteer: read(places)?,
        orgs_gazetteer: read(orgs)?,
        persons_gazetteer: read(persons)?,
        word_clusters: read(clusters)?,
    };
    if let Some(k) = cv {
        let docs = conll::read_file(data)?;
        let started = std::time::Instant::now();
        let pooled = cross_validate(&docs, k, &options, |fold, epoch, score| {
            if epoch == options.epochs {
                errln!(
                    "fold {}: F1 {:.4} at epoch {epoch} ({:.0?})",
                    fold + 1,
                    score.f1(),
                    started.elapsed()
                );
            }
        })?;
        let mut best = (0, 0.0);
        for (i, c) in pooled.iter().enumerate() {
            let (p, r, f) = c.all.prf();
            println!(
                "epoch {}: cv{k} F1 {f:.4} (P {p:.4} R {r:.4}; recall of unseen names {:.4} of {})",
                i + 1,
                c.unseen.correct as f64 / c.unseen.gold.max(1) as f64,
                c.unseen.gold
            );
            if f > best.1 {
                best = (i + 1, f);
            }
        }
        println!("best: epoch {} cv{k} F1 {:.4}", best.0, best.1);
        return Ok(ExitCode::SUCCESS);
    }
    let valid_docs = valid.map(conll::read_file).transpose()?;
    let started = std::time::Instant::now();
    let model = train_with_progress(data, &options, |epoch, model| match &valid_docs {
        Some(docs) => {
            let (_, score) = conll::evaluate(model, docs);
            errln!(
                "epoch {epoch}: valid F1 {:.4} ({:.0?})",
                score.f1(),
                started.elapsed()
            );
        }
        None => errln!("epoch {epoch} done ({:.0?})", started.elapsed()),
    })?;
    let bytes = model.to_bytes();
    std::fs::write(out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    errln!("wrote {} ({} bytes)", out.display(), bytes.len());
    Ok(ExitCode::SUCCESS)
}
