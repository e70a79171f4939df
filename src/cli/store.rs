//! `feedwatch store migrate`: copies a store's state to another, with a progress bar, and
//! prints what it copied per table.

use std::process::ExitCode;

use anyhow::Context;

use super::progress::Progress;
use crate::config::StoreLocation;
use crate::store::Store;

#[derive(clap::Args)]
pub(super) struct MigrateArgs {
    /// The store to copy from: sqlite://PATH or postgres://USER@HOST/DATABASE
    #[arg(long, value_name = "URL")]
    from: String,
    /// The store to copy into (created and brought to the current schema if needed)
    #[arg(long, value_name = "URL")]
    to: String,
    /// Copy into a target that already has feeds, items or alerts; rows it has are kept
    #[arg(long)]
    force: bool,
}

pub(super) async fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let here = std::path::Path::new(".");
    let from =
        StoreLocation::parse(&args.from, here).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    let to = StoreLocation::parse(&args.to, here).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    if from == to {
        anyhow::bail!("--from and --to name the same store");
    }
    if let StoreLocation::Sqlite(path) = &from
        && !path.exists()
    {
        anyhow::bail!("--from: {} does not exist", path.display());
    }
    let source = Store::open(&from)
        .await
        .with_context(|| format!("cannot open {}", from.shown()))?;
    let target = Store::open(&to)
        .await
        .with_context(|| format!("cannot open {}", to.shown()))?;
    let total = source.transferable_rows().await?;
    let progress = Progress::bar(total, "rows");
    let report = source
        .copy_into(&target, args.force, &mut |rows| {
            for _ in 0..rows {
                progress.step("");
            }
        })
        .await;
    drop(progress);
    let report = report.with_context(|| format!("copying {} into {}", from.shown(), to.shown()))?;
    outln!("{:<22} {:>10} {:>10}", "table", "read", "written")?;
    for (name, read, written) in &report {
        outln!("{name:<22} {read:>10} {written:>10}")?;
    }
    let (read, written) = report
        .iter()
        .fold((0, 0), |(r, w), (_, read, written)| (r + read, w + written));
    outln!(
        "copied {written} of {read} rows from {} to {}{}",
        from.shown(),
        to.shown(),
        if written < read {
            " (the others were there already)"
        } else {
            ""
        }
    )?;
    source.close().await;
    target.close().await;
    Ok(ExitCode::SUCCESS)
}
