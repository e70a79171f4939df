//! Message formats: one module per destination kind, all of the same shape — a function from
//! the alerts of one message (one alert, or a digest of one topic's alerts) to a body and its
//! content type. They only render; sending, retrying and signing live in `outbox`.

mod discord;
mod json;
mod slack;
mod teams;
pub mod template;

use crate::alerts::payload::{AlertPayload, FeedHealthEvent};
use crate::config::WebhookFormat;

/// A rendered request body.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub body: String,
    pub content_type: String,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot render the message: {0}")]
pub struct RenderError(pub String);

/// Renders `alerts` (never empty; all of one topic) in `format`. A digest is any call with
/// more than one alert.
pub fn render(format: &WebhookFormat, alerts: &[AlertPayload]) -> Result<Rendered, RenderError> {
    if alerts.is_empty() {
        return Err(RenderError("no alerts to render".into()));
    }
    let json = |value: serde_json::Value| Rendered {
        body: value.to_string(),
        content_type: "application/json".to_string(),
    };
    Ok(match format {
        WebhookFormat::Json => json::render(alerts),
        WebhookFormat::Slack => json(slack::render(alerts)),
        WebhookFormat::Discord => json(discord::render(alerts)),
        WebhookFormat::Teams => json(teams::render(alerts)),
        WebhookFormat::Template(template) => template.render(alerts)?,
    })
}

/// Renders feed-health notices: a line of text in the chat formats, the notices themselves
/// in `json` and `template` (a template is written for alerts, so it is not applied).
pub fn render_health(format: &WebhookFormat, events: &[FeedHealthEvent]) -> Rendered {
    let text: Vec<String> = events.iter().map(FeedHealthEvent::summary).collect();
    let text = text.join("\n");
    let body = match format {
        WebhookFormat::Json | WebhookFormat::Template(_) => match events {
            [event] => serde_json::to_value(event),
            _ => serde_json::to_value(events),
        }
        .unwrap_or_default(),
        WebhookFormat::Slack => serde_json::json!({"text": text}),
        WebhookFormat::Discord => serde_json::json!({"content": truncate(&text, 2000)}),
        WebhookFormat::Teams => serde_json::json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard", "version": "1.4",
                    "body": [{"type": "TextBlock", "text": text, "wrap": true}],
                },
            }],
        }),
    };
    Rendered {
        body: body.to_string(),
        content_type: "application/json".to_string(),
    }
}

/// A snippet split into plain text runs and highlighted hits: snippets carry `<mark>` tags and
/// HTML escapes, which each chat format re-expresses in its own markup.
pub(crate) fn snippet_segments(snippet: &str) -> Vec<(String, bool)> {
    let mut segments = Vec::new();
    let mut rest = snippet;
    let mut marked = false;
    loop {
        let tag = if marked { "</mark>" } else { "<mark>" };
        let (run, next) = match rest.find(tag) {
            Some(at) => (&rest[..at], Some(&rest[at + tag.len()..])),
            None => (rest, None),
        };
        if !run.is_empty() {
            segments.push((unescape_html(run), marked));
        }
        match next {
            Some(next) => {
                rest = next;
                marked = !marked;
            }
            None => return segments,
        }
    }
}

fn unescape_html(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Cuts `text` to at most `max` characters, ending with "…" when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// "Vladimir Putin, Kremlin, Moscow" from the most mentioned entities.
pub(crate) fn entity_line(alert: &AlertPayload, max: usize) -> Option<String> {
    if alert.entities.is_empty() {
        return None;
    }
    let names: Vec<&str> = alert
        .entities
        .iter()
        .take(max)
        .map(|e| e.text.as_str())
        .collect();
    Some(names.join(", "))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::alerts::payload::{ArticleSummary, EntityMention};

    pub fn sample_alert(n: usize) -> AlertPayload {
        AlertPayload {
            id: format!("01JF0000000000000000000{n:03}"),
            kind: "feedwatch.alert".into(),
            topic: "soldiers-mothers".into(),
            score: 3.0,
            matched: vec!["mothers and wives".into()],
            snippets: vec!["…the Council of <mark>Mothers and Wives</mark> of mobilized soldiers &amp; their &lt;families&gt;…".into()],
            article: ArticleSummary {
                url: Some(format!("https://www.newsweek.com/putin-hiding-mothers-{n}")),
                title: "Putin 'Hiding' from Mothers and Wives of Russian Soldiers".into(),
                published: Some("2022-11-25T10:00:00Z".into()),
                feed: "newsweek".into(),
                lang: Some("en".into()),
                site: Some("newsweek.com".into()),
                authors: vec!["Isabel van Brugen".into()],
                summary: Some("An anti-war group says the president is hiding.".into()),
            },
            entities: vec![
                EntityMention { text: "Vladimir Putin".into(), kind: "person".into(), count: 6 },
                EntityMention { text: "Council of Mothers and Wives".into(), kind: "org".into(), count: 4 },
            ],
            duplicates: vec![],
            detected_at: "2022-11-25T10:03:12Z".into(),
            omitted: Default::default(),
        }
    }

    #[test]
    fn snippets_split_into_hits_and_text() {
        let segments = snippet_segments("a <mark>b</mark> c &amp; <mark>d &lt;e&gt;</mark>");
        assert_eq!(
            segments,
            vec![
                ("a ".to_string(), false),
                ("b".to_string(), true),
                (" c & ".to_string(), false),
                ("d <e>".to_string(), true),
            ]
        );
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
