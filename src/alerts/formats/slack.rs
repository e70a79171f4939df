//! `slack`: an incoming-webhook message in Block Kit — the title as a link, topic and score, the
//! snippet with hits in bold, and the entities — within Slack's limits (50 blocks per message,
//! 3,000 characters per section text, 150 per header). `text` is the notification fallback.

use serde_json::{Value, json};

use super::{entity_line, snippet_segments, truncate};
use crate::alerts::payload::AlertPayload;

const MAX_BLOCKS: usize = 50;
const MAX_SECTION: usize = 3000;
const MAX_HEADER: usize = 150;

/// Slack's mrkdwn treats only these three characters as control characters.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn snippet(alert: &AlertPayload) -> Option<String> {
    let first = alert.snippets.first()?;
    let text: String = snippet_segments(first)
        .into_iter()
        .map(|(run, hit)| {
            if hit {
                format!("*{}*", escape(&run))
            } else {
                escape(&run)
            }
        })
        .collect();
    Some(truncate(&format!("> {text}"), MAX_SECTION))
}

fn title_link(alert: &AlertPayload) -> String {
    let title = escape(&alert.article.title).replace('|', "¦");
    match &alert.article.url {
        Some(url) => format!("*<{}|{title}>*", escape(url)),
        None => format!("*{title}*"),
    }
}

fn alert_blocks(alert: &AlertPayload) -> Vec<Value> {
    let mut facts = format!("Topic `{}` · score {}", escape(&alert.topic), alert.score);
    if let Some(site) = &alert.article.site {
        facts.push_str(&format!(" · {}", escape(site)));
    }
    let mut blocks = vec![json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate(&format!("{}\n{facts}", title_link(alert)), MAX_SECTION)},
    })];
    if let Some(snippet) = snippet(alert) {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": snippet}}));
    }
    if let Some(entities) = entity_line(alert, 8) {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": truncate(&format!("Entities: {}", escape(&entities)), MAX_SECTION)}],
        }));
    }
    blocks
}

pub fn render(alerts: &[AlertPayload]) -> Value {
    let first = &alerts[0];
    if let [alert] = alerts {
        return json!({
            "text": format!("[{}] {}", alert.topic, alert.article.title),
            "blocks": alert_blocks(alert),
        });
    }
    let heading = format!("{} new articles for {}", alerts.len(), first.topic);
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(&heading, MAX_HEADER)},
    })];
    let mut shown = 0;
    for alert in alerts {
        let more = alert_blocks(alert);
        // Keep room for the divider and the closing "and N more" line.
        if blocks.len() + more.len() + 2 > MAX_BLOCKS {
            break;
        }
        blocks.push(json!({"type": "divider"}));
        blocks.extend(more);
        shown += 1;
    }
    if shown < alerts.len() {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": format!("…and {} more", alerts.len() - shown)}],
        }));
    }
    json!({"text": heading, "blocks": blocks})
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
    fn digest_stays_within_the_block_limit() {
        let alerts: Vec<_> = (0..40).map(sample_alert).collect();
        let message = render(&alerts);
        let blocks = message["blocks"].as_array().unwrap();
        assert!(blocks.len() <= MAX_BLOCKS);
        assert_eq!(blocks[0]["type"], "header");
        assert!(
            blocks.last().unwrap()["elements"][0]["text"]
                .as_str()
                .unwrap()
                .starts_with("…and")
        );
        for block in blocks {
            if let Some(text) = block["text"]["text"].as_str() {
                assert!(text.chars().count() <= MAX_SECTION);
            }
        }
    }
}
