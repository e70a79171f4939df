//! Adding `[[feed]]`s to a config file for `feeds import` and `feeds add`: which file they go
//! to (`--into`, else the first watchlist, else the main file), names that no other feed of
//! the config has, the tables themselves (rendered by toml_edit and appended, so every byte
//! already in the file stays as it was, comments and formatting included), and the write: the
//! whole config is loaded with the new text in place of the old before anything is replaced,
//! and the file is replaced atomically (temp file, fsync, rename). It must never write a file
//! the config would not read, nor leave a config that does not load.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::config::{self, Config};
use crate::feeds::subscription::{unique_name, url_key};

/// A feed to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NewFeed {
    pub name: String,
    pub url: String,
    pub tags: Vec<String>,
    /// A line shown above the table, e.g. the feed's own title and site.
    pub comment: Option<String>,
}

/// The file new feeds go to.
#[derive(Debug)]
pub(super) struct Target {
    /// Where the text is written: symlinks resolved, so a linked watchlist stays a link.
    pub path: PathBuf,
    /// As the user knows it, for messages.
    pub shown: PathBuf,
    pub is_main: bool,
    /// None for a watchlist that does not exist yet.
    pub text: Option<String>,
}

/// The names and URLs the config already has, and those added so far.
pub(super) struct Taken {
    names: HashSet<String>,
    /// `url_key` → the feed's name.
    urls: std::collections::HashMap<String, String>,
}

impl Taken {
    pub fn of(config: &Config) -> Self {
        Self {
            names: config.feeds.iter().map(|f| f.name.clone()).collect(),
            urls: config
                .feeds
                .iter()
                .map(|f| (url_key(f.url.as_str()), f.name.clone()))
                .collect(),
        }
    }

    /// The name of the feed already configured (or added) with this URL.
    pub fn url(&self, url: &str) -> Option<&str> {
        self.urls.get(&url_key(url)).map(String::as_str)
    }

    pub fn has_name(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// `base`, or `base-2`, `base-3`…, whichever no feed has.
    pub fn free_name(&self, base: &str) -> String {
        unique_name(base, |n| self.names.contains(n))
    }

    pub fn claim(&mut self, feed: &NewFeed) {
        self.names.insert(feed.name.clone());
        self.urls.insert(url_key(&feed.url), feed.name.clone());
    }
}

/// The watchlist files of the config at `main`, as the loader finds them: each pattern of
/// `daemon.watchlists` (default `watchlists/*.toml`) resolved against the main file's folder,
/// all matches in path order.
fn watchlist_files(main: &Path, main_text: &str) -> Vec<PathBuf> {
    // As the loader joins them: a bare file name's parent is the empty path, and the matches
    // then read `watchlists/x.toml` rather than `./watchlists/x.toml`.
    let base = main.parent().unwrap_or(Path::new(""));
    let patterns: Vec<String> = watchlist_patterns(main_text)
        .iter()
        .filter_map(|pattern| base.join(pattern).to_str().map(str::to_owned))
        .collect();
    crate::config::watchlist_files(&patterns)
}

fn watchlist_patterns(main_text: &str) -> Vec<String> {
    let table: toml::Table = toml::from_str(main_text).unwrap_or_default();
    match table.get("daemon").and_then(|d| d.get("watchlists")) {
        Some(toml::Value::Array(patterns)) => patterns
            .iter()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect(),
        _ => vec!["watchlists/*.toml".to_string()],
    }
}

/// The folder holding `path`: `.` for a bare file name, whose parent is the empty path.
fn folder(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Whether two paths name the same file (both must exist).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Picks the file: `into`, which must be the main file or a watchlist of the config (an
/// existing one, or a new file that a `watchlists` pattern matches); else the first watchlist;
/// else the main file.
pub(super) fn target(config: &Config, into: Option<&Path>) -> anyhow::Result<Target> {
    let main = config.path.as_path();
    let main_text =
        std::fs::read_to_string(main).with_context(|| format!("cannot read {}", main.display()))?;
    let watchlists = watchlist_files(main, &main_text);
    let (shown, is_main) = match into {
        None => match watchlists.first() {
            Some(first) => (first.clone(), false),
            None => (main.to_path_buf(), true),
        },
        Some(into) if into.exists() => {
            if same_file(into, main) {
                (into.to_path_buf(), true)
            } else if watchlists.iter().any(|w| same_file(w, into)) {
                (into.to_path_buf(), false)
            } else {
                bail!(
                    "{} is neither the config {} nor one of its watchlists, so feeds added to it would not be read; name one of those, or a new file that `daemon.watchlists` matches",
                    into.display(),
                    main.display()
                );
            }
        }
        Some(into) => {
            let base = std::path::absolute(folder(main))?;
            let wanted = std::path::absolute(into)?;
            let matched = watchlist_patterns(&main_text).iter().any(|pattern| {
                base.join(pattern)
                    .to_str()
                    .and_then(|p| glob::Pattern::new(p).ok())
                    .is_some_and(|p| p.matches_path(&wanted))
            });
            if !matched {
                bail!(
                    "{} does not exist and no `daemon.watchlists` pattern of {} matches it, so feeds added to it would not be read",
                    into.display(),
                    main.display()
                );
            }
            (into.to_path_buf(), false)
        }
    };
    let path = shown.canonicalize().unwrap_or_else(|_| shown.clone());
    let text = if path.exists() {
        Some(
            std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", shown.display()))?,
        )
    } else {
        None
    };
    Ok(Target {
        path,
        shown,
        is_main,
        text,
    })
}

/// `text` with a `[[feed]]` table for each of `feeds` appended: the existing text is kept byte
/// for byte (a line break is added if its last line has none), the new tables are rendered by
/// toml_edit, so names, URLs and tags are quoted as TOML requires.
pub(super) fn append(text: &str, feeds: &[NewFeed]) -> anyhow::Result<String> {
    let mut tables = toml_edit::ArrayOfTables::new();
    for feed in feeds {
        let mut table = toml_edit::Table::new();
        table.insert("name", toml_edit::value(feed.name.as_str()));
        table.insert("url", toml_edit::value(feed.url.as_str()));
        if !feed.tags.is_empty() {
            let tags: toml_edit::Array = feed.tags.iter().map(String::as_str).collect();
            table.insert("tags", toml_edit::value(tags));
        }
        let comment = feed
            .comment
            .as_deref()
            .map(|c| format!("# {}\n", c.replace(['\n', '\r'], " ")))
            .unwrap_or_default();
        table.decor_mut().set_prefix(format!("\n{comment}"));
        tables.push(table);
    }
    let mut doc = toml_edit::DocumentMut::new();
    doc.insert("feed", toml_edit::Item::ArrayOfTables(tables));
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let rendered = doc.to_string();
    // A new file starts with its first table, not with a blank line.
    out.push_str(if out.is_empty() {
        rendered.trim_start_matches('\n')
    } else {
        &rendered
    });
    // The file may define `feed` in a way [[feed]] tables cannot extend (`feed = […]`); say so
    // plainly rather than with the parser's words about a redefined key.
    if let Err(err) = out.parse::<toml_edit::DocumentMut>() {
        if text.parse::<toml_edit::DocumentMut>().is_ok() {
            bail!(
                "cannot append [[feed]] tables to it: it defines `feed` in another form ({})",
                err.message().trim()
            );
        }
        bail!("it is not valid TOML: {}", err.message().trim());
    }
    Ok(out)
}

/// The new text of a target, written beside it and checked: the config loads with it.
pub(super) struct Staged {
    file: tempfile::NamedTempFile,
    path: PathBuf,
    shown: PathBuf,
}

impl Staged {
    /// Replaces the target with the checked text in one rename.
    pub fn commit(self) -> anyhow::Result<()> {
        let Staged { file, path, shown } = self;
        file.persist(&path)
            .with_context(|| format!("cannot replace {}", shown.display()))?;
        // The rename itself reaches the disk with the folder's entry.
        if let Some(dir) = path.parent()
            && let Ok(folder) = std::fs::File::open(dir)
        {
            let _ = folder.sync_all();
        }
        Ok(())
    }
}

/// Stages `new_text` for `target` if the config, with it in place of the target's old text,
/// loads without errors; else returns the loader's errors. Nothing is replaced until
/// [`Staged::commit`]; dropping the result leaves every file as it was.
pub(super) fn stage(config: &Config, target: &Target, new_text: &str) -> anyhow::Result<Staged> {
    let dir = folder(&target.path);
    if !dir.exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // The new text, next to the file it replaces: a rename within one folder is atomic.
    let mut staged = tempfile::Builder::new()
        .prefix(".feedwatch-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    staged.write_all(new_text.as_bytes())?;
    staged.as_file().sync_all()?;

    let main = config.path.as_path();
    let mut stand_ins = vec![(staged.path().to_path_buf(), target.shown.clone())];
    // The config is loaded from a stand-in main file in the real one's folder (so relative
    // paths resolve as they do for it) that reads the staged text instead of the target's.
    let loaded = if target.is_main {
        config::load(staged.path())
    } else {
        let main_text = std::fs::read_to_string(main)
            .with_context(|| format!("cannot read {}", main.display()))?;
        let mut doc: toml_edit::DocumentMut = main_text
            .parse()
            .with_context(|| format!("cannot read {}", main.display()))?;
        let mut lists = toml_edit::Array::new();
        for file in watchlist_files(main, &main_text) {
            if !same_file(&file, &target.path) {
                lists.push(glob_literal(&std::path::absolute(&file)?)?);
            }
        }
        lists.push(glob_literal(&std::path::absolute(staged.path())?)?);
        let daemon = doc
            .entry("daemon")
            .or_insert_with(toml_edit::table)
            .as_table_like_mut()
            .context("`daemon` of the config is not a table")?;
        daemon.insert("watchlists", toml_edit::value(lists));
        let main_dir = folder(main);
        let mut stand_in = tempfile::Builder::new()
            .prefix(".feedwatch-")
            .suffix(".tmp")
            .tempfile_in(main_dir)
            .with_context(|| format!("cannot create a temporary file in {}", main_dir.display()))?;
        stand_in.write_all(doc.to_string().as_bytes())?;
        stand_in.flush()?;
        stand_ins.push((stand_in.path().to_path_buf(), main.to_path_buf()));
        config::load(stand_in.path())
    };
    if let Err(errors) = loaded {
        // Each message names the file the user has, not the temporary one read in its place.
        let mut message = errors.to_string();
        for (temporary, real) in &stand_ins {
            for form in [temporary.clone(), std::path::absolute(temporary)?] {
                message = message.replace(&*form.to_string_lossy(), &real.to_string_lossy());
            }
        }
        bail!(
            "{} was not changed: with the new feeds the config would not load:\n{message}",
            target.shown.display()
        );
    }
    // A config file may hold secrets and be readable by its owner only: the new text gets the
    // old file's permissions, or the main file's for a new watchlist.
    let model = if target.text.is_some() {
        &target.path
    } else {
        main
    };
    if let Ok(meta) = std::fs::metadata(model) {
        std::fs::set_permissions(staged.path(), meta.permissions())?;
    }
    Ok(Staged {
        file: staged,
        path: target.path.clone(),
        shown: target.shown.clone(),
    })
}

/// A path as a `watchlists` pattern that matches exactly that file.
fn glob_literal(path: &Path) -> anyhow::Result<String> {
    let text = path
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8", path.display()))?;
    Ok(glob::Pattern::escape(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(name: &str, tags: &[&str], comment: Option<&str>) -> NewFeed {
        NewFeed {
            name: name.into(),
            url: format!("https://{name}.example/rss?a=1&b=\"x\""),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            comment: comment.map(str::to_string),
        }
    }

    #[test]
    fn appending_keeps_every_byte_and_quotes_values() {
        let original = "# My list\n[[topic]]\nname = 't'   # odd spacing kept\nquery='x'\n# last line, no newline";
        let out = append(
            original,
            &[
                feed(
                    "a",
                    &["news", "Café"],
                    Some("A \"quoted\" title\nsecond line"),
                ),
                feed("b", &[], None),
            ],
        )
        .unwrap();
        assert!(out.starts_with(&format!("{original}\n")), "{out}");
        let added = &out[original.len() + 1..];
        assert_eq!(
            added,
            "\n# A \"quoted\" title second line\n[[feed]]\nname = \"a\"\nurl = 'https://a.example/rss?a=1&b=\"x\"'\ntags = [\"news\", \"Café\"]\n\n[[feed]]\nname = \"b\"\nurl = 'https://b.example/rss?a=1&b=\"x\"'\n"
        );
        let doc: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(
            doc["feed"][0]["url"].as_str(),
            Some("https://a.example/rss?a=1&b=\"x\"")
        );
    }

    #[test]
    fn a_new_file_starts_with_its_first_table() {
        let out = append("", &[feed("a", &[], None)]).unwrap();
        assert!(out.starts_with("[[feed]]\n"), "{out}");
    }

    #[test]
    fn a_feed_key_of_another_form_is_a_clear_error() {
        let err = append("feed = []\n", &[feed("a", &[], None)]).unwrap_err();
        assert!(
            err.to_string().contains("defines `feed` in another form"),
            "{err}"
        );
    }

    #[test]
    fn watchlist_patterns_default_like_the_loader() {
        assert_eq!(watchlist_patterns(""), vec!["watchlists/*.toml"]);
        assert_eq!(
            watchlist_patterns("[daemon]\nwatchlists = [\"a/*.toml\", \"b.toml\"]\n"),
            vec!["a/*.toml", "b.toml"]
        );
    }
}
