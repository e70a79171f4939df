//! `feedwatch feeds import FILE.opml` and `feedwatch feeds export`: subscription lists in and
//! out. Import adds a `[[feed]]` for each feed the config does not have yet (folders become
//! tags, names come from titles and never clash), optionally fetching each first; export writes
//! every configured feed as OPML 2.0 so that importing it gives the same feeds back.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use futures_util::StreamExt as _;

use crate::feeds::opml::{self, ExportFeed};
use crate::feeds::subscription::{feed_name, slug};
use crate::fetch::{Fetcher, Trust};

use super::feeds_add::probe;
use super::progress::Progress;
use super::watchlist::{self, NewFeed, Taken};
use super::*;

/// Feeds fetched at once by `import --verify`: enough to be quick, few enough that a list with
/// many feeds of one host does not look like an attack to it.
const VERIFY_CONCURRENCY: usize = 8;

#[derive(clap::Args)]
pub(super) struct ImportArgs {
    /// The OPML file, or - for stdin
    opml: PathBuf,
    /// The watchlist or config file to add them to [default: the first watchlist, else the
    /// config]
    #[arg(long, value_name = "FILE")]
    into: Option<PathBuf>,
    /// Fetch each new feed first and add only those that answer with a feed
    #[arg(long)]
    verify: bool,
    /// Show what would be added, without writing
    #[arg(long)]
    dry_run: bool,
}

#[derive(clap::Args)]
pub(super) struct ExportArgs {
    /// Write to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub(super) async fn import(
    config_path: Option<&Path>,
    args: ImportArgs,
) -> anyhow::Result<ExitCode> {
    let ImportArgs {
        opml: file,
        into,
        verify,
        dry_run,
    } = args;
    let (file, into) = (file.as_path(), into.as_deref());
    let config = load_config(config_path)?;
    let bytes = if file == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes)?;
        bytes
    } else {
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    let list = opml::parse(&bytes).with_context(|| file.display().to_string())?;
    if let Some(why) = &list.broken {
        errln!(
            "warning: {} is broken or cut off ({why}); the {} feeds before that point are read",
            file.display(),
            list.feeds.len()
        );
    }
    let target = watchlist::target(&config, into)?;
    let mut taken = Taken::of(&config);
    let mut skipped: Vec<(String, String)> = list
        .unusable
        .iter()
        .map(|u| {
            let what = match (&u.title, u.url.is_empty()) {
                (Some(title), true) => format!("\"{title}\""),
                (Some(title), false) => format!("\"{title}\" {}", u.url),
                (None, _) => u.url.clone(),
            };
            (what, u.reason.to_string())
        })
        .collect();
    let mut new = Vec::new();
    for feed in &list.feeds {
        if let Some(existing) = taken.url(&feed.url) {
            skipped.push((
                feed.url.clone(),
                format!("already configured as `{existing}`"),
            ));
            continue;
        }
        let name = taken.free_name(&feed_name(feed.title.as_deref(), &feed.url));
        let mut tags: Vec<String> = Vec::new();
        for tag in feed.categories.iter().map(|c| slug(c)) {
            if !tag.is_empty() && !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        // The title as the list wrote it, which the name only approximates.
        let title = feed.title.clone();
        let comment = match (title, &feed.html_url) {
            (Some(title), Some(site)) => Some(format!("{title} ({site})")),
            (Some(title), None) => Some(title),
            (None, Some(site)) => Some(format!("site: {site}")),
            (None, None) => None,
        };
        let entry = NewFeed {
            name,
            url: feed.url.clone(),
            tags,
            comment,
        };
        taken.claim(&entry);
        new.push(entry);
    }
    if verify && !new.is_empty() {
        let (kept, failed) = verify_feeds(&config, new).await?;
        new = kept;
        skipped.extend(failed);
    }
    // The file is written (or, in a dry run, checked) before anything is reported as added.
    if !new.is_empty() {
        let text = watchlist::append(target.text.as_deref().unwrap_or(""), &new)
            .with_context(|| format!("cannot add to {}", target.shown.display()))?;
        let staged = watchlist::stage(&config, &target, &text)?;
        if !dry_run {
            staged.commit()?;
        }
    }
    for entry in &new {
        let tags = if entry.tags.is_empty() {
            String::new()
        } else {
            format!("  [{}]", entry.tags.join(", "))
        };
        outln!(
            "{} {:<28} {}{tags}",
            if dry_run { "would add" } else { "added    " },
            entry.name,
            entry.url
        )?;
    }
    for (what, why) in &skipped {
        outln!("skipped   {what}: {why}")?;
    }
    let repeated = match list.repeated {
        0 => String::new(),
        n => format!(" ({n} listed more than once, their folders merged)"),
    };
    if new.is_empty() {
        outln!(
            "nothing to add: {} feeds in {}{repeated}, {} skipped; {} not changed",
            list.feeds.len(),
            file.display(),
            skipped.len(),
            target.shown.display()
        )?;
    } else if dry_run {
        outln!(
            "dry run: {} would get {} feeds{repeated}, {} skipped; nothing written",
            target.shown.display(),
            new.len(),
            skipped.len()
        )?;
    } else {
        outln!(
            "{} feeds added to {}{repeated}, {} skipped",
            new.len(),
            target.shown.display(),
            skipped.len()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Fetches each feed (a few at once, in list order on the progress bar): those that answer with
/// a feed are kept, with their new location when they have moved for good; the others come
/// back with the reason.
async fn verify_feeds(
    config: &Config,
    feeds: Vec<NewFeed>,
) -> anyhow::Result<(Vec<NewFeed>, Vec<(String, String)>)> {
    let fetcher = Fetcher::new(&config.daemon)?;
    let progress = Progress::bar(feeds.len() as u64, "feeds fetched");
    let checks = feeds.into_iter().map(|mut feed| {
        let fetcher = fetcher.clone();
        let progress = &progress;
        async move {
            let result = match url::Url::parse(&feed.url) {
                Ok(url) => probe(&fetcher, &url, &Trust::operator(&url)).await,
                // A `${VAR}` URL is for the daemon to expand; it is kept unverified.
                Err(_) => Err("not verified: the URL reads environment variables".into()),
            };
            progress.step(feed.name.as_str());
            if let Ok(found) = &result {
                feed.url = found.url.to_string();
            }
            (feed, result)
        }
    });
    let results: Vec<_> = futures_util::stream::iter(checks)
        .buffered(VERIFY_CONCURRENCY)
        .collect()
        .await;
    drop(progress);
    let mut kept = Vec::new();
    let mut failed = Vec::new();
    for (feed, result) in results {
        match result {
            Ok(_) => kept.push(feed),
            Err(why) => failed.push((feed.url.clone(), format!("not a feed: {why}"))),
        }
    }
    Ok((kept, failed))
}

pub(super) fn export(config_path: Option<&Path>, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let out = args.out.as_deref();
    let config = load_config(config_path)?;
    let mut with_variables = 0;
    let feeds: Vec<ExportFeed> = config
        .feeds
        .iter()
        .map(|feed| ExportFeed {
            title: feed.name.clone(),
            // A URL built from `${VAR}`s is written as the config writes it: the values are
            // secrets, and feedwatch expands the names again when the list is imported.
            url: if feed.url_secrets.is_empty() {
                feed.url.to_string()
            } else {
                with_variables += 1;
                feed.shown_url.clone()
            },
            tags: feed.tags.clone(),
        })
        .collect();
    let created = chrono::Utc::now().to_rfc2822();
    let document = opml::write("feedwatch feeds", Some(&created), &feeds);
    if with_variables > 0 {
        errln!(
            "note: {with_variables} feed URLs are written with their ${{VAR}} names, not the values"
        );
    }
    match out {
        None => out!("{document}")?,
        Some(path) => {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let mut file = tempfile::Builder::new()
                .prefix(".feedwatch-")
                .suffix(".tmp")
                .tempfile_in(dir)
                .with_context(|| format!("cannot write in {}", dir.display()))?;
            file.write_all(document.as_bytes())?;
            file.as_file().sync_all()?;
            file.persist(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            errln!("{} feeds written to {}", feeds.len(), path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
