//! `feedwatch train-ner`: trains the entity model from CoNLL-2003-style data.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::entities::train::train_with_progress;
use crate::entities::{TrainOptions, conll};

pub(super) fn train_ner(
    data: &Path,
    out: &Path,
    valid: Option<&Path>,
    epochs: usize,
    seed: u64,
    places: &Path,
    orgs: &Path,
) -> anyhow::Result<ExitCode> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let options = TrainOptions {
        epochs,
        seed,
        places_gazetteer: read(places)?,
        orgs_gazetteer: read(orgs)?,
        ..TrainOptions::default()
    };
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
