//! `feedwatch test`: extraction, entities and matching on one source, clause by clause.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;

use crate::article;
use crate::entities::shipped_recognizer;
use crate::topics::{self, Query};

use super::*;

pub(super) async fn test(
    config_path: Option<&Path>,
    topic: Option<String>,
    query: Option<String>,
    source: &str,
    format: Format,
) -> anyhow::Result<ExitCode> {
    // Declared entities come from the config when there is one to read: always with --topic,
    // with --query only when -c names it.
    let config = match (&topic, config_path) {
        (Some(_), _) | (None, Some(_)) => Some(load_config(config_path)?),
        (None, None) => None,
    };
    let declared = config
        .as_ref()
        .map(|c| c.entities.clone())
        .unwrap_or_default();
    let query: Query = match (topic, query) {
        (Some(name), _) => {
            let config = config.as_ref().context("a topic needs a config")?;
            let spec = config
                .topics
                .iter()
                .find(|t| t.name == name)
                .with_context(|| format!("no topic named `{name}` in {}", config.path.display()))?;
            spec.query.clone()
        }
        (None, Some(text)) => match topics::parse(&text) {
            Ok(query) => query,
            Err(err) => {
                let caret = format!(
                    "{}{}",
                    " ".repeat(text[..err.span.start.min(text.len())].chars().count()),
                    "^"
                );
                bail!(
                    "cannot parse the query: {}\n  {text}\n  {caret}",
                    err.message
                );
            }
        },
        (None, None) => bail!("give --topic NAME or --query QUERY"),
    };
    let (bytes, url, content_type) = read_source(source).await?;
    let mut article = article_from_source(&bytes, url.as_deref(), content_type.as_deref())?;
    article.recognize(&shipped_recognizer(&declared)?);
    let analyzed = article.analyze(&declared);
    let found = topics::match_query(&query, &analyzed);
    let report = topics::explain(&query, &analyzed);
    let matched = found.is_some();
    match format {
        Format::Json => {
            let clauses: Vec<_> = report
                .iter()
                .map(|c| json!({"clause": c.clause, "depth": c.depth, "matched": c.matched, "hits": c.hits}))
                .collect();
            let output = json!({
                "matched": matched,
                "score": found.as_ref().map_or(0.0, |m| m.score),
                "hits": found.as_ref().map(|m| m.matched.clone()).unwrap_or_default(),
                "clauses": clauses,
                "snippets": found.as_ref().map(|m| m.snippets.clone()).unwrap_or_default(),
                "entities": article.entity_mentions(),
                "title": article.title,
                "text": article.text,
                "lang": article.lang.map(|l| l.code().to_string()),
            });
            outln!("{}", serde_json::to_string_pretty(&output)?)?;
        }
        Format::Text => {
            outln!("title: {}", article.title)?;
            outln!(
                "text:  {} characters from the {}, language {}",
                article.text.chars().count(),
                match article.text_source {
                    article::TextSource::Page => "page",
                    article::TextSource::Feed => "plain text",
                },
                article.lang.map_or("unknown", |l| l.code())
            )?;
            outln!("query: {query}")?;
            match &found {
                Some(m) => outln!("MATCHED, score {}", m.score)?,
                None => outln!("NOT MATCHED")?,
            }
            for clause in &report {
                let mark = if clause.matched { "✓" } else { "✗" };
                let indent = "  ".repeat(clause.depth + 1);
                outln!("{indent}{mark} {}  ({} hits)", clause.clause, clause.hits)?;
            }
            for snippet in found.iter().flat_map(|m| &m.snippets) {
                outln!("  … {snippet}")?;
            }
            if !article.entities.is_empty() {
                let names: Vec<String> = article
                    .entities
                    .iter()
                    .map(|e| format!("{} ({}, {})", e.text, e.kind.as_str(), e.count))
                    .collect();
                outln!("entities: {}", names.join(", "))?;
            }
        }
    }
    Ok(if matched {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
