//! Progress for long commands: a bar (or, where the work cannot be counted from here, a
//! spinner with the elapsed time) on stderr. indicatif draws only when stderr is a terminal, so
//! pipes, files, journald and CI logs get nothing; and bars never touch stdout, which carries
//! results. Messages printed while a bar is shown must go through [`Progress::note`], or they
//! would be drawn over. This module must never decide what a command does, only show how far it
//! has got.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar or spinner, cleared when dropped so a command's last lines are its own.
pub(super) struct Progress(ProgressBar);

impl Progress {
    /// A bar counting `total` units of `what`, e.g. ("pages", 240).
    pub fn bar(total: u64, what: &str) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let template =
            format!("{{bar:30}} {{pos}}/{{len}} {what} ({{elapsed}}, ~{{eta}} left) {{wide_msg}}");
        bar.set_style(
            ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Self(bar)
    }

    /// A spinner for work whose steps this command cannot see, with what it is doing.
    pub fn spinner(doing: impl Into<String>) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(doing.into());
        // The spinner turns on its own: the work it stands for does not report back.
        bar.enable_steady_tick(Duration::from_millis(120));
        Self(bar)
    }

    /// One unit done; `label` (e.g. the item just finished) is shown after the bar.
    pub fn step(&self, label: impl Into<String>) {
        self.0.set_message(label.into());
        self.0.inc(1);
    }

    /// Prints a line to stderr above the bar.
    pub fn note(&self, line: impl std::fmt::Display) {
        self.0.suspend(|| errln!("{line}"));
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
