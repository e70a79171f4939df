//! `feedwatch feeds add URL`: subscribes to a feed, or to a feed a web page announces. The URL
//! is fetched like a configured feed (the daemon's limits and timeouts, the operator's trust for
//! its host, the SSRF guard for other hosts); a page's candidates are its
//! `<link rel="alternate">` feeds, else the first common feed location that answers with a feed
//! ([`crate::feeds::discover`]). Every candidate is fetched and parsed before it is shown or
//! written, and nothing is written when the choice is not clear.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use url::Url;

use crate::feeds::discover;
use crate::feeds::subscription::{feed_name, feed_url};
use crate::fetch::{FetchOutcome, Fetcher, Trust, Validators, Want};

use super::progress::Progress;
use super::source::looks_like_html;
use super::watchlist::{self, NewFeed, Taken};
use super::*;

#[derive(clap::Args)]
pub(super) struct AddArgs {
    /// A feed, or a page that links to its feeds
    url: String,
    /// The feed's name [default: from its title]
    #[arg(long)]
    name: Option<String>,
    /// Tags, comma-separated
    #[arg(long, value_delimiter = ',')]
    tags: Vec<String>,
    /// The watchlist or config file to add it to [default: the first watchlist, else the
    /// config]
    #[arg(long, value_name = "FILE")]
    into: Option<PathBuf>,
    /// When the page has several feeds, add the first without asking
    #[arg(long, short)]
    yes: bool,
    /// Show what would be added, without writing
    #[arg(long)]
    dry_run: bool,
}

/// A URL that answered with a feed.
#[derive(Debug, Clone)]
pub(super) struct Found {
    /// Where to poll it: the URL tried, or where it has moved for good.
    pub url: Url,
    pub title: Option<String>,
    pub items: usize,
}

/// Fetches `url` and parses it as a feed; the error says why it is not one.
pub(super) async fn probe(fetcher: &Fetcher, url: &Url, trust: &Trust) -> Result<Found, String> {
    let page = match fetcher
        .get(url, &Validators::default(), trust, Want::Feed)
        .await
    {
        Ok(FetchOutcome::Fetched(page)) => page,
        Ok(FetchOutcome::NotModified { .. }) => return Err("unexpected 304 Not Modified".into()),
        Err(err) => return Err(err.to_string()),
    };
    let feed = crate::feeds::parse_fetched(
        &page.body,
        page.content_type.as_deref(),
        Some(page.base_url.as_str()),
    )
    .map_err(|err| err.to_string())?;
    Ok(Found {
        url: page.moved_permanently.unwrap_or_else(|| url.clone()),
        title: feed.title,
        items: feed.items.len(),
    })
}

/// The feeds at `url`: itself when it is one; else the feeds its page links to that parse;
/// else the first common location that is a feed. Fails when the URL cannot be fetched or
/// nothing was found, saying what was tried.
async fn discover_feeds(
    fetcher: &Fetcher,
    url: &Url,
    progress: &Progress,
) -> anyhow::Result<Vec<Found>> {
    let trust = Trust::operator(url);
    let page = match fetcher
        .get(url, &Validators::default(), &trust, Want::Feed)
        .await
        .with_context(|| format!("cannot fetch {}", crate::fetch::redacted(url)))?
    {
        FetchOutcome::Fetched(page) => page,
        FetchOutcome::NotModified { .. } => bail!("{url}: unexpected 304 Not Modified"),
    };
    let content_type = page.content_type.as_deref();
    match crate::feeds::parse_fetched(&page.body, content_type, Some(page.base_url.as_str())) {
        Ok(feed) => {
            return Ok(vec![Found {
                url: page.moved_permanently.unwrap_or_else(|| url.clone()),
                title: feed.title,
                items: feed.items.len(),
            }]);
        }
        Err(err) if !looks_like_html(&page.body, content_type) => {
            bail!("{url} is neither a feed ({err}) nor an HTML page that links to one")
        }
        Err(_) => {}
    }
    let mut found: Vec<Found> = Vec::new();
    let mut tried = Vec::new();
    let links = discover::feed_links(&page.body, content_type, &page.base_url);
    for link in &links {
        progress.step(format!("trying {}", link.url));
        match probe(fetcher, &link.url, &trust).await {
            Ok(mut feed) => {
                if feed.title.is_none() {
                    feed.title = link.title.clone();
                }
                if !found.iter().any(|f| f.url == feed.url) {
                    found.push(feed);
                }
            }
            Err(why) => tried.push(format!("{} (linked): {why}", link.url)),
        }
    }
    if found.is_empty() {
        for location in discover::common_locations(&page.final_url) {
            progress.step(format!("trying {location}"));
            match probe(fetcher, &location, &trust).await {
                Ok(feed) => {
                    found.push(feed);
                    break;
                }
                Err(why) => tried.push(format!("{location}: {why}")),
            }
        }
    }
    if found.is_empty() {
        let linked = if links.is_empty() {
            "the page links to no feed (<link rel=\"alternate\" type=\"application/rss+xml\">, atom+xml or feed+json)"
        } else {
            "none of the feeds the page links to could be read"
        };
        bail!(
            "no feed found at {url}: {linked}, and no common feed location answered with one. Tried:\n  {}",
            tried.join("\n  ")
        );
    }
    Ok(found)
}

fn describe(found: &Found) -> String {
    format!(
        "{} — {} ({} item{})",
        found.title.as_deref().unwrap_or("(untitled)"),
        found.url,
        found.items,
        if found.items == 1 { "" } else { "s" }
    )
}

/// Asks on the terminal which of `found` to add: its index, or None to add nothing.
fn ask(found: &[Found]) -> anyhow::Result<Option<usize>> {
    let stdin = std::io::stdin();
    for _ in 0..3 {
        let _ = write!(
            std::io::stderr(),
            "Add which feed? [1-{}, Enter for 1, q to cancel] ",
            found.len()
        );
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            return Ok(None);
        }
        match line.trim() {
            "" => return Ok(Some(0)),
            "q" | "Q" => return Ok(None),
            answer => match answer.parse::<usize>() {
                Ok(n) if (1..=found.len()).contains(&n) => return Ok(Some(n - 1)),
                _ => errln!("`{answer}` is not one of 1 to {}", found.len()),
            },
        }
    }
    Ok(None)
}

pub(super) async fn add(config_path: Option<&Path>, args: AddArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let url = feed_url(&args.url)
        .and_then(|u| Url::parse(&u).ok())
        .with_context(|| format!("`{}` is not an http(s) URL", args.url))?;
    // Everything that can be refused without the network is, before it is used.
    let target = watchlist::target(&config, args.into.as_deref())?;
    let taken = Taken::of(&config);
    if let Some(name) = &args.name
        && taken.has_name(name)
    {
        bail!("a feed named `{name}` is already configured: choose another --name");
    }
    if let Some(existing) = taken.url(url.as_str()) {
        errln!("{url} is already configured as `{existing}`: nothing to add");
        return Ok(ExitCode::SUCCESS);
    }
    let fetcher = Fetcher::new(&config.daemon)?;
    let found = {
        let progress = Progress::spinner(format!("looking for feeds at {url}"));
        discover_feeds(&fetcher, &url, &progress).await?
    };
    if found.len() == 1 {
        outln!("found {}", describe(&found[0]))?;
    } else {
        outln!("found {} feeds at {url}:", found.len())?;
        for (n, feed) in found.iter().enumerate() {
            outln!("  {}. {}", n + 1, describe(feed))?;
        }
    }
    let chosen = if found.len() == 1 || args.yes {
        0
    } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        std::io::stdout().flush()?;
        match ask(&found)? {
            Some(n) => n,
            None => {
                errln!("nothing added");
                return Ok(ExitCode::FAILURE);
            }
        }
    } else {
        errln!(
            "several feeds found and no terminal to ask on: run again with the URL of the one to add, or with --yes for the first"
        );
        return Ok(ExitCode::FAILURE);
    };
    let feed = &found[chosen];
    if let Some(existing) = taken.url(feed.url.as_str()) {
        errln!(
            "{} is already configured as `{existing}`: nothing to add",
            feed.url
        );
        return Ok(ExitCode::SUCCESS);
    }
    let name = match &args.name {
        Some(name) => name.clone(),
        None => taken.free_name(&feed_name(feed.title.as_deref(), feed.url.as_str())),
    };
    let mut tags: Vec<String> = Vec::new();
    for tag in args.tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_string());
        }
    }
    // The title as the feed writes it, which the name only approximates, and the page when
    // the feed was found through it.
    let site = (feed.url != url).then(|| url.to_string());
    let title = feed.title.clone();
    let comment = match (title, site) {
        (Some(title), Some(site)) => Some(format!("{title} ({site})")),
        (Some(title), None) => Some(title),
        (None, Some(site)) => Some(format!("found at {site}")),
        (None, None) => None,
    };
    let new = NewFeed {
        name,
        url: feed.url.to_string(),
        tags,
        comment,
    };
    let text = watchlist::append(
        target.text.as_deref().unwrap_or(""),
        std::slice::from_ref(&new),
    )
    .with_context(|| format!("cannot add to {}", target.shown.display()))?;
    let staged = watchlist::stage(&config, &target, &text)?;
    if args.dry_run {
        outln!(
            "would add `{}` ({}) to {} (dry run: nothing written):",
            new.name,
            new.url,
            target.shown.display()
        )?;
        out!("{}", &text[target.text.as_deref().map_or(0, str::len)..])?;
        return Ok(ExitCode::SUCCESS);
    }
    staged.commit()?;
    outln!(
        "added `{}` ({}) to {}",
        new.name,
        new.url,
        target.shown.display()
    )?;
    errln!("a running daemon reloads its config and polls it within seconds");
    Ok(ExitCode::SUCCESS)
}
