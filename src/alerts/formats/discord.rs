//! `discord`: an execute-webhook message with one embed per alert (a digest carries up to ten,
//! Discord's per-message limit), kept within the embed limits: title 256, description 4,096,
//! field value 1,024, footer 2,048 characters, and 6,000 characters over all embeds.

use serde_json::{Value, json};

use super::{entity_line, snippet_segments, truncate};
use crate::alerts::payload::AlertPayload;

const MAX_EMBEDS: usize = 10;
const MAX_TITLE: usize = 256;
const MAX_DESCRIPTION: usize = 1000;
const MAX_FIELD: usize = 1024;
const MAX_TOTAL: usize = 6000;
const COLOR: u32 = 0x00D0_4A3C;

/// Discord markdown: escape the characters that would start formatting.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '_' | '~' | '|' | '`' | '>' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn embed(alert: &AlertPayload) -> Value {
    let description = alert
        .snippets
        .first()
        .map(|s| {
            snippet_segments(s)
                .into_iter()
                .map(|(run, hit)| {
                    if hit {
                        format!("**{}**", escape(&run))
                    } else {
                        escape(&run)
                    }
                })
                .collect::<String>()
        })
        .unwrap_or_default();
    let mut fields = vec![
        json!({"name": "Topic", "value": truncate(&alert.topic, MAX_FIELD), "inline": true}),
        json!({"name": "Score", "value": alert.score.to_string(), "inline": true}),
    ];
    if let Some(entities) = entity_line(alert, 8) {
        fields.push(
            json!({"name": "Entities", "value": truncate(&entities, MAX_FIELD), "inline": false}),
        );
    }
    let footer = [
        alert.article.site.as_deref(),
        Some(alert.article.feed.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let mut embed = json!({
        "title": truncate(&alert.article.title, MAX_TITLE),
        "description": truncate(&description, MAX_DESCRIPTION),
        "color": COLOR,
        "fields": fields,
        "footer": {"text": footer},
    });
    if let Some(url) = &alert.article.url {
        embed["url"] = json!(url);
    }
    if let Some(published) = &alert.article.published {
        embed["timestamp"] = json!(published);
    }
    embed
}

fn embed_size(embed: &Value) -> usize {
    let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    len(&embed["title"])
        + len(&embed["description"])
        + len(&embed["footer"]["text"])
        + embed["fields"].as_array().map_or(0, |f| {
            f.iter().map(|f| len(&f["name"]) + len(&f["value"])).sum()
        })
}

pub fn render(alerts: &[AlertPayload]) -> Value {
    let mut embeds = Vec::new();
    let mut total = 0;
    for alert in alerts.iter().take(MAX_EMBEDS) {
        let embed = embed(alert);
        let size = embed_size(&embed);
        if total + size > MAX_TOTAL {
            break;
        }
        total += size;
        embeds.push(embed);
    }
    let mut message = json!({"username": "feedwatch", "embeds": embeds});
    if alerts.len() > 1 {
        let mut content = format!("{} new articles for {}", alerts.len(), alerts[0].topic);
        if embeds.len() < alerts.len() {
            content.push_str(&format!(" (showing {})", embeds.len()));
        }
        message["content"] = json!(content);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample_alert;
    use super::*;

    #[test]
    fn single_alert_message() {
        insta::assert_json_snapshot!(render(&[sample_alert(1)]));
    }

    #[test]
    fn digest_respects_embed_limits() {
        let mut long = sample_alert(0);
        long.article.title = "x".repeat(1000);
        long.snippets = vec!["y".repeat(10_000)];
        let mut alerts = vec![long];
        alerts.extend((1..30).map(sample_alert));
        let message = render(&alerts);
        let embeds = message["embeds"].as_array().unwrap();
        assert!(embeds.len() <= MAX_EMBEDS);
        assert!(embeds.iter().map(embed_size).sum::<usize>() <= MAX_TOTAL);
        assert!(embeds[0]["title"].as_str().unwrap().chars().count() <= MAX_TITLE);
        assert!(
            message["content"]
                .as_str()
                .unwrap()
                .contains("30 new articles")
        );
    }
}
