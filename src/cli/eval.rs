//! `feedwatch eval`: quality and speed on labelled sets (extraction, entities, feeds), with the
//! same metrics as the scorers in ../shared/tools. Progress goes to stderr on a terminal only.

use std::borrow::Cow;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::entities::russian::{self, Style};
use crate::entities::slovnet::{Scratch, SlovnetNer};
use crate::entities::ukrainian::{self, PlaceStems};
use crate::entities::{Model, SHIPPED_MODEL, Tag, conll, tag_document};
use crate::extract;
use crate::text::{Lang, detect_lang};

use super::progress::Progress;
use super::{Half, NerLang, Spans};

pub(super) fn eval_extraction(
    dir: &Path,
    predictions: Option<&Path>,
    reps: usize,
    memory: bool,
    pages: bool,
) -> anyhow::Result<ExitCode> {
    let config = extract::eval::EvalConfig {
        reps: reps.max(1),
        use_memory: memory,
        ..extract::eval::EvalConfig::default()
    };
    let report = {
        // The pages are run inside `extract::eval`, which does not report each one: a spinner
        // with the size of the job is what can be shown from here.
        let pages = extract::eval::dataset_ids(dir).map_or(0, |ids| ids.len());
        let times = match config.reps {
            1 => "once".to_string(),
            n => format!("{n} times"),
        };
        let _progress = Progress::spinner(format!(
            "extracting {pages} pages {times} with feedwatch and with dom_smoothie"
        ));
        extract::eval::evaluate_dir(dir, config)
            .with_context(|| format!("cannot read the data set {}", dir.display()))?
    };
    if let Some(out) = predictions {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        for page in &report.pages {
            let path = out.join(format!("{}.txt", page.id));
            std::fs::write(&path, &page.prediction)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    let mut sorted: Vec<_> = report.pages.iter().collect();
    sorted.sort_by(|a, b| a.ours.f1.total_cmp(&b.ours.f1));
    let shown = if pages {
        sorted.len()
    } else {
        sorted.len().min(10)
    };
    outln!("worst pages (id, F1, precision, recall, dom_smoothie F1, ms):")?;
    for page in &sorted[..shown] {
        outln!(
            "  {}  {:.4}  {:.3}  {:.3}  {:.4}  {:.2}",
            page.id,
            page.ours.f1,
            page.ours.precision,
            page.ours.recall,
            page.baseline.f1,
            page.ours_ms
        )?;
    }
    let slowest = report.pages.iter().map(|p| p.ours_ms).fold(0.0, f64::max);
    outln!(
        "feedwatch:    mean_f1={:.4} median_ms={:.3} p90_ms={:.3} max_ms={:.2}",
        report.mean_f1,
        report.median_ms,
        report.p90_ms,
        slowest
    )?;
    outln!(
        "dom_smoothie: mean_f1={:.4} median_ms={:.3} p90_ms={:.3}",
        report.baseline_mean_f1,
        report.baseline_median_ms,
        report.baseline_p90_ms
    )?;
    outln!(
        "time ratio (median feedwatch / dom_smoothie) = {:.3}",
        report.median_ms / report.baseline_median_ms.max(1e-9)
    )?;
    // Last, in the scorer's form.
    outln!("mean_f1={:.4} n={}", report.mean_f1, report.pages.len())?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn eval_feeds(dir: &Path) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let report = {
        let _progress = Progress::spinner(format!("reading the feeds of {}", dir.display()));
        crate::feeds::eval::evaluate_dir(dir)
            .with_context(|| format!("cannot read the feed corpus {}", dir.display()))?
    };
    let elapsed = started.elapsed();
    let line = |name: &str, tally: &crate::feeds::eval::Tally| {
        println!(
            "{name:<18} {:>6.1}%  ({}/{})",
            tally.percent(),
            tally.right,
            tally.total
        );
    };
    println!("files              {}", report.files);
    line("parsed", &report.parsed);
    line("garbage rejected", &report.rejected);
    line("titles right", &report.titles);
    line("summaries right", &report.summaries);
    line("other fields right", &report.other);
    println!(
        "time               {:.1} ms",
        elapsed.as_secs_f64() * 1000.0
    );
    if report.mismatches.is_empty() {
        println!("no mismatches");
    } else {
        println!("{} mismatches:", report.mismatches.len());
        for m in &report.mismatches {
            println!(
                "  {}  {}\n    expected: {}\n    got:      {}",
                m.file, m.field, m.expected, m.got
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The language of a CoNLL file, from its first few thousand tokens: Russian and Ukrainian go
/// to slovnet, anything else to the English model.
fn conll_lang(docs: &[conll::Document]) -> NerLang {
    let sample: Vec<&str> = docs
        .iter()
        .flat_map(|d| &d.sentences)
        .flat_map(|s| &s.tokens)
        .take(3000)
        .map(String::as_str)
        .collect();
    match detect_lang(&sample.join(" ")) {
        Some(Lang::Ru) => NerLang::Ru,
        Some(Lang::Uk) => NerLang::Uk,
        _ => NerLang::En,
    }
}

/// The two taggers `eval ner` can run, loaded before the clock starts on tagging.
enum NerModel {
    English(Box<Model>),
    /// slovnet with its buffers, reused across documents as the daemon's worker would.
    Russian {
        model: Box<(SlovnetNer, Scratch)>,
        /// The span rules to apply (`None`: slovnet's own tags).
        style: Option<Style>,
        /// For Ukrainian: words are mapped first and listed places marked after (see
        /// `entities::ukrainian`).
        ukrainian: Option<PlaceStems>,
    },
}

impl NerModel {
    /// Tags one document, sentence by sentence in its result. slovnet tags the document's
    /// tokens as one sequence, as natasha does with a whole text; the English model has its
    /// own document-level tagging.
    fn tag(&mut self, doc: &conll::Document) -> Vec<Vec<Tag>> {
        match self {
            NerModel::English(model) => tag_document(model, &doc.token_lists()),
            NerModel::Russian {
                model,
                style,
                ukrainian,
            } => {
                let (ner, scratch) = &mut **model;
                let words: Vec<Cow<'_, str>> = doc
                    .sentences
                    .iter()
                    .flat_map(|s| s.tokens.iter())
                    .map(|w| match ukrainian {
                        Some(_) => ukrainian::as_russian(w),
                        None => Cow::Borrowed(w.as_str()),
                    })
                    .collect();
                let mut tags = Vec::with_capacity(words.len());
                ner.tag_words_with(&words, scratch, &mut tags);
                if let Some(style) = *style {
                    tags = russian::refine(&words, &tags, style);
                    if let Some(places) = ukrainian {
                        let original: Vec<&str> = doc
                            .sentences
                            .iter()
                            .flat_map(|s| s.tokens.iter().map(String::as_str))
                            .collect();
                        ukrainian::mark_places(&original, &mut tags, places);
                        ukrainian::join_given_names(&original, &mut tags);
                    }
                }
                let mut rest = tags.as_slice();
                doc.sentences
                    .iter()
                    .map(|s| {
                        let (head, tail) = rest.split_at(s.tokens.len());
                        rest = tail;
                        head.to_vec()
                    })
                    .collect()
            }
        }
    }
}

/// The documents of `half`: `a` takes the 1st, 3rd, 5th… document, `b` the 2nd, 4th…
/// Alternating keeps both halves alike in source and length; neither is ever shuffled.
pub(super) fn half(docs: Vec<conll::Document>, half: Option<Half>) -> Vec<conll::Document> {
    let Some(half) = half else { return docs };
    let keep = usize::from(half == Half::B);
    docs.into_iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == keep)
        .map(|(_, d)| d)
        .collect()
}

pub(super) fn eval_ner(
    file: &Path,
    predictions: Option<&Path>,
    lang: Option<NerLang>,
    which: Option<Half>,
    spans: Spans,
) -> anyhow::Result<ExitCode> {
    let docs = conll::read_file(file).with_context(|| format!("cannot read {}", file.display()))?;
    let docs = half(docs, which);
    let lang = lang.unwrap_or_else(|| conll_lang(&docs));
    let started = std::time::Instant::now();
    let mut model = match lang {
        NerLang::En => NerModel::English(Box::new(Model::from_bytes(SHIPPED_MODEL)?)),
        NerLang::Ru | NerLang::Uk => NerModel::Russian {
            model: Box::new((SlovnetNer::shipped()?, Scratch::default())),
            style: match spans {
                Spans::Names => Some(Style::Names),
                Spans::Factru => Some(Style::FactRuEval),
                Spans::Raw => None,
            },
            ukrainian: match lang {
                NerLang::Uk => Some(PlaceStems::from_list(
                    &Model::from_bytes(SHIPPED_MODEL)?.gazetteer().places_text,
                )),
                _ => None,
            },
        },
    };
    let load = started.elapsed();
    let tokens: usize = docs
        .iter()
        .flat_map(|d| &d.sentences)
        .map(|s| s.tokens.len())
        .sum();
    let started = std::time::Instant::now();
    // `conll::evaluate` document by document, so the bar can follow.
    let progress = Progress::bar(docs.len() as u64, "documents");
    let predicted: Vec<_> = docs
        .iter()
        .map(|doc| {
            let tags = model.tag(doc);
            progress.step("");
            tags
        })
        .collect();
    drop(progress);
    let score = conll::score(&docs, &predicted);
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(out) = predictions {
        std::fs::write(out, conll::write(&docs, &predicted))
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    let name = match lang {
        NerLang::En => "English perceptron",
        NerLang::Ru | NerLang::Uk => match spans {
            Spans::Names => "slovnet + span rules",
            Spans::Factru => "slovnet + span rules + factRuEval descriptors",
            Spans::Raw => "slovnet (raw tags)",
        },
    };
    let name = match lang {
        NerLang::Uk => format!("Ukrainian (mapped to Russian) through {name}"),
        NerLang::Ru => format!("Russian {name}"),
        NerLang::En => name.to_owned(),
    };
    errln!(
        "{name} model: {tokens} tokens in {elapsed:.2} s: {:.0} tokens/s on one core; model loaded in {} ms",
        tokens as f64 / elapsed,
        load.as_millis()
    );
    // The scorer's table, its last line `f1=… precision=… recall=…`.
    outln!("{score}")?;
    Ok(ExitCode::SUCCESS)
}
