//! The duplicate-story detector on pairs built from the extraction dev set (see
//! `feedwatch::dedupe::eval`): the same story as a second outlet runs it must be found, two
//! different stories — also two of one site — must not. Goal: precision ≥ 0.98 and recall ≥ 0.9
//! on half B, the half the threshold was not chosen on.

use std::path::Path;

#[test]
fn duplicates_are_found_and_different_stories_kept_apart() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/extraction/aeb");
    if !dir.is_dir() {
        eprintln!("skipped: {} is not there", dir.display());
        return;
    }
    let reports = feedwatch::dedupe::eval::evaluate_dir(&dir).unwrap();
    for (name, report) in ["A (tuned on)", "B (held out)"].iter().zip(&reports) {
        println!(
            "half {name}: {} pages ({} too short), precision {:.3} ({} false of {} negative pairs, {} of {} same-site), recall {:.3} ({}/{}), lowest positive similarity {:.2}, highest negative {:.2}",
            report.pages,
            report.unfingerprinted,
            report.precision(),
            report.false_positives,
            report.negatives,
            report.same_site_false_positives,
            report.same_site_negatives,
            report.recall(),
            report.found,
            report.positives,
            report.lowest_positive,
            report.highest_negative,
        );
    }
    let held_out = &reports[1];
    assert!(held_out.positives > 50 && held_out.negatives > 1000);
    assert!(held_out.precision() >= 0.98, "{held_out:?}");
    assert!(held_out.recall() >= 0.9, "{held_out:?}");
    assert_eq!(held_out.same_site_false_positives, 0, "{held_out:?}");
}
