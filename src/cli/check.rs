//! `feedwatch check`: validates the config and compiles every query as the daemon would.

use std::path::Path;
use std::process::ExitCode;

use crate::config;
use crate::topics;

pub(super) fn check(path: &Path) -> anyhow::Result<ExitCode> {
    match config::load(path) {
        Ok(config) => {
            for warning in &config.warnings {
                errln!("{warning}");
            }
            // Compile the matcher as the daemon would, so its cost shows here too.
            let compiled = topics::TopicSet::new(
                config
                    .topics
                    .iter()
                    .map(|t| (t.name.clone(), t.query.clone()))
                    .collect(),
            );
            drop(compiled);
            outln!(
                "{}: ok ({} feeds, {} topics, {} webhooks, {} entities)",
                path.display(),
                config.feeds.len(),
                config.topics.len(),
                config.webhooks.len(),
                config.entities.len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            errln!("{errors}");
            Ok(ExitCode::FAILURE)
        }
    }
}
