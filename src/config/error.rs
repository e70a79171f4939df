//! Located configuration errors: every problem a user can cause in a config file is reported
//! with the file, line and column, the offending source line and a caret under the bad part,
//! so `feedwatch check` output can be acted on without opening a debugger.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A place in a config file, 1-based as editors show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One config file's text, kept so errors can quote the offending line.
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    /// Byte offset of each line's start, so locating a span costs a binary search, not a scan
    /// of the file (a watchlist may hold thousands of topics).
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: &Path, text: String) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            path: path.to_path_buf(),
            text,
            line_starts,
        }
    }

    /// The start of the line holding `offset`, and its 0-based number.
    fn line_of(&self, offset: usize) -> (usize, usize) {
        let index = self.line_starts.partition_point(|start| *start <= offset) - 1;
        (self.line_starts[index], index)
    }

    /// Converts a byte offset into a 1-based (line, column) pair; columns count characters.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let (line_start, index) = self.line_of(offset);
        let column = self.text[line_start..offset].chars().count() + 1;
        (index + 1, column)
    }

    pub fn location(&self, offset: usize) -> Location {
        let (line, column) = self.line_col(offset);
        Location {
            file: self.path.clone(),
            line,
            column,
        }
    }

    /// An error pointing at `span` (byte offsets into this file).
    pub fn error_at(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        let start = floor_char_boundary(&self.text, span.start.min(self.text.len()));
        let (line_start, _) = self.line_of(start);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let source_line = self.text[line_start..line_end].trim_end_matches('\r');
        let end = floor_char_boundary(&self.text, span.end.clamp(start, line_end));
        let caret_width = self.text[start..end].chars().count().max(1);
        ConfigError {
            message: message.into(),
            warning: false,
            location: Some(self.location(start)),
            excerpt: Some(Excerpt {
                line: source_line.to_string(),
                caret_column: self.text[line_start..start].chars().count(),
                caret_width,
            }),
        }
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[derive(Debug, Clone)]
struct Excerpt {
    line: String,
    caret_column: usize,
    caret_width: usize,
}

/// A configuration problem, located when it comes from a file.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub message: String,
    /// A warning does not stop the config from loading: the query is valid but suspicious.
    pub warning: bool,
    pub location: Option<Location>,
    excerpt: Option<Excerpt>,
}

impl ConfigError {
    /// An error about a whole file (unreadable, missing) rather than a place in it.
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        Self {
            message: format!("{}: {}", path.display(), message.into()),
            warning: false,
            location: None,
            excerpt: None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = if self.warning { "warning" } else { "error" };
        writeln!(f, "{severity}: {}", self.message)?;
        if let Some(location) = &self.location {
            writeln!(f, "  --> {location}")?;
            if let Some(excerpt) = &self.excerpt {
                let number = location.line.to_string();
                let gutter = " ".repeat(number.len());
                writeln!(f, "{gutter} |")?;
                writeln!(f, "{number} | {}", excerpt.line)?;
                writeln!(
                    f,
                    "{gutter} | {}{}",
                    " ".repeat(excerpt.caret_column),
                    "^".repeat(excerpt.caret_width)
                )?;
            }
        }
        Ok(())
    }
}

/// Every error found in one load, so `feedwatch check` can report them all at once.
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for error in &self.0 {
            writeln!(f, "{error}")?;
        }
        write!(
            f,
            "{} configuration error{}",
            self.0.len(),
            if self.0.len() == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for ConfigErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_quotes_the_line_with_a_caret() {
        let file = SourceFile::new(Path::new("f.toml"), "a = 1\nbad = \"x\"\n".into());
        let error = file.error_at(6..9, "unknown field `bad`");
        let shown = error.to_string();
        assert!(shown.contains("--> f.toml:2:1"), "{shown}");
        assert!(shown.contains("2 | bad = \"x\""), "{shown}");
        assert!(shown.contains("  | ^^^\n"), "{shown}");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let file = SourceFile::new(Path::new("f.toml"), "q = 'мобилизация x'".into());
        let offset = "q = 'мобилизация ".len();
        assert_eq!(file.line_col(offset), (1, 18));
    }
}
