//! `feedwatch extract`: article text (and metadata with `--format json`) of pages.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use crate::entities::shipped_recognizer;
use crate::extract;

use super::*;

/// `X/page.html` → `X`, `X.html` → `X`, anything else → its file stem.
pub(super) fn document_id(source: &str) -> String {
    let path = Path::new(source);
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("page");
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|p| p.to_str());
    if let (true, Some(parent)) = (stem == "page", parent) {
        return parent.to_string();
    }
    stem.to_string()
}

pub(super) async fn extract_pages(
    sources: &[String],
    out_dir: Option<&Path>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let recognizer = match format {
        Format::Json => Some(shipped_recognizer(&[])?),
        Format::Text => None,
    };
    let mut failures = 0;
    for source in sources {
        let (bytes, url, content_type) = match read_source(source).await {
            Ok(found) => found,
            Err(err) => {
                failures += 1;
                errln!("{source}: {}", error_chain(&err));
                continue;
            }
        };
        let article = match extract::extract(&bytes, url.as_deref(), content_type.as_deref()) {
            Ok(article) => article,
            Err(err) => {
                failures += 1;
                errln!("{source}: {err}");
                // An empty prediction still counts as one, so scorers see every page.
                extract::Article::default()
            }
        };
        let rendered = match format {
            Format::Text => article.text.clone(),
            Format::Json => serde_json::to_string_pretty(&json!({
                "source": source,
                "title": article.title,
                "text": article.text,
                "authors": article.authors,
                "published": article.published.map(crate::alerts::payload::timestamp),
                "modified": article.modified.map(crate::alerts::payload::timestamp),
                "lang": article.lang,
                "site_name": article.site_name,
                "canonical_url": article.canonical_url,
                "description": article.description,
                "image": article.image,
                "entities": recognizer.as_ref().map(|r| {
                    r.entities(&article.title, &article.text)
                        .into_iter()
                        .map(|e| json!({"text": e.text, "kind": e.kind.as_str(), "count": e.count}))
                        .collect::<Vec<_>>()
                }),
            }))?,
        };
        match out_dir {
            Some(dir) => {
                let extension = if format == Format::Json {
                    "json"
                } else {
                    "txt"
                };
                let path = dir.join(format!("{}.{extension}", document_id(source)));
                std::fs::write(&path, rendered)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            None => outln!("{rendered}")?,
        }
    }
    Ok(if failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_ids_follow_the_dataset_layout() {
        assert_eq!(document_id("data/aeb/abc/page.html"), "abc");
        assert_eq!(document_id("pages/xyz.html"), "xyz");
    }
}
