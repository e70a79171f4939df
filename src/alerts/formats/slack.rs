//! `slack`: an incoming-webhook message in Block Kit — the title as a link, topic and score, the
//! snippet with hits in bold, and the entities. `text` is the notification fallback. A digest
//! is a header and each alert's blocks, as many as fit, then "… and N more".
//!
//! Slack's limits (api.slack.com/reference/block-kit/blocks and /methods/chat.postMessage):
//! at most 50 blocks per message; a section's `text` at most 3,000 characters and its `fields`
//! at most 10 items of 2,000; a header's `text` at most 150; a context block at most 10
//! elements; a message's `text` is cut by Slack beyond 40,000 characters, and 4,000 is the
//! recommended most. Slack also rejects messages whose blocks carry ~13,000 characters in
//! all with `msg_blocks_too_long`, a limit it does not document (slackapi/bolt-js#2509), so
//! the blocks of one message are kept to [`MAX_BLOCKS_TEXT`].

use serde_json::{Value, json};

use super::{
    entity_line, escape_within, marked_within, more_line, snippet_segments, text_len, truncate,
};
use crate::alerts::payload::AlertPayload;

pub(crate) const MAX_BLOCKS: usize = 50;
pub(crate) const MAX_SECTION: usize = 3000;
pub(crate) const MAX_HEADER: usize = 150;
/// The message `text` (notification fallback and feed-health notices): Slack's recommended
/// most is 4,000; this leaves room to spare.
pub(crate) const MAX_TEXT: usize = 3000;
/// All text in one message's blocks, below the undocumented ~13,000 of `msg_blocks_too_long`.
pub(crate) const MAX_BLOCKS_TEXT: usize = 12_000;

/// Our own shares of a section, so one alert stays short and a digest shows several.
const TITLE_CHARS: usize = 250;
const TOPIC_CHARS: usize = 100;
const SITE_CHARS: usize = 253;
const SNIPPET_CHARS: usize = 1000;
const ENTITIES_CHARS: usize = 1000;
const ENTITY_NAMES: usize = 8;
/// Longer article URLs are not linked: the link must fit in the title's section.
const MAX_LINK_URL: usize = 2000;

// Our shares keep each section within its 3,000, so the final cut of a section never has to
// break a link or a bold hit: title, URL, topic, site and ~60 of facts; a snippet and "> ";
// the entity line and "Entities: ".
const _: () = assert!(
    TITLE_CHARS + MAX_LINK_URL + TOPIC_CHARS + SITE_CHARS + 60 <= MAX_SECTION
        && SNIPPET_CHARS + 2 <= MAX_SECTION
        && ENTITIES_CHARS + 10 <= MAX_SECTION
);

/// Slack's mrkdwn treats only these three characters as control characters.
fn escape(c: char, out: &mut String) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        c => out.push(c),
    }
}

/// Inside a `<url|label>` link a `|` would end the URL part.
fn escape_label(c: char, out: &mut String) {
    match c {
        '|' => out.push('¦'),
        c => escape(c, out),
    }
}

fn snippet(alert: &AlertPayload) -> Option<String> {
    let first = alert.snippets.first()?;
    let text = marked_within(&snippet_segments(first), SNIPPET_CHARS, "*", &escape);
    Some(format!("> {text}"))
}

fn title_link(alert: &AlertPayload) -> String {
    let title = escape_within(&alert.article.title, TITLE_CHARS, &escape_label);
    let mut url = String::new();
    if let Some(link) = &alert.article.url {
        url = escape_within(link, MAX_LINK_URL + 1, &escape);
    }
    if url.is_empty() || text_len(&url) > MAX_LINK_URL {
        format!("*{title}*")
    } else {
        format!("*<{url}|{title}>*")
    }
}

fn section(text: String) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, MAX_SECTION)}})
}

fn alert_blocks(alert: &AlertPayload) -> Vec<Value> {
    let mut facts = format!(
        "Topic `{}` · score {}",
        escape_within(&alert.topic, TOPIC_CHARS, &escape),
        alert.score
    );
    if let Some(site) = &alert.article.site {
        facts.push_str(&format!(" · {}", escape_within(site, SITE_CHARS, &escape)));
    }
    let mut blocks = vec![section(format!("{}\n{facts}", title_link(alert)))];
    if let Some(snippet) = snippet(alert) {
        blocks.push(section(snippet));
    }
    if let Some(entities) = entity_line(alert, ENTITY_NAMES) {
        blocks.push(context(format!(
            "Entities: {}",
            escape_within(&entities, ENTITIES_CHARS, &escape)
        )));
    }
    blocks
}

fn context(text: String) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(&text, MAX_SECTION)}]})
}

/// The characters of all text objects in `blocks`, as `msg_blocks_too_long` counts them.
pub(crate) fn blocks_text_len(blocks: &[Value]) -> usize {
    fn walk(value: &Value) -> usize {
        match value {
            Value::Object(map) => map
                .iter()
                .map(|(key, v)| match v {
                    Value::String(s) if key == "text" => text_len(s),
                    other => walk(other),
                })
                .sum(),
            Value::Array(items) => items.iter().map(walk).sum(),
            _ => 0,
        }
    }
    blocks.iter().map(walk).sum()
}

pub fn render(alerts: &[AlertPayload]) -> Value {
    let first = &alerts[0];
    if let [alert] = alerts {
        return json!({
            "text": truncate(&format!("[{}] {}", alert.topic, alert.article.title), MAX_TEXT),
            "blocks": alert_blocks(alert),
        });
    }
    let heading = format!("{} new articles for {}", alerts.len(), first.topic);
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(&heading, MAX_HEADER)},
    })];
    // Room for the closing "… and N more" line.
    let closing = context(more_line(alerts.len()));
    let reserve_text = blocks_text_len(std::slice::from_ref(&closing));
    let mut text = blocks_text_len(&blocks);
    let mut shown = 0;
    for (i, alert) in alerts.iter().enumerate() {
        let mut more = vec![json!({"type": "divider"})];
        more.extend(alert_blocks(alert));
        let more_text = blocks_text_len(&more);
        let (reserve_blocks, reserve_text) = if i + 1 < alerts.len() {
            (1, reserve_text)
        } else {
            (0, 0)
        };
        if blocks.len() + more.len() + reserve_blocks > MAX_BLOCKS
            || text + more_text + reserve_text > MAX_BLOCKS_TEXT
        {
            break;
        }
        blocks.extend(more);
        text += more_text;
        shown += 1;
    }
    if shown < alerts.len() {
        blocks.push(context(more_line(alerts.len() - shown)));
    }
    json!({"text": truncate(&heading, MAX_TEXT), "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_cut, huge_digest, sample_alert};
    use super::*;
    use crate::alerts::payload::tests::huge_alert;

    #[test]
    fn single_alert_message() {
        insta::assert_json_snapshot!(render(&[sample_alert(1)]));
    }

    const MAX_CONTEXT_ELEMENTS: usize = 10;

    /// Every documented Slack limit, on a rendered message.
    fn assert_within_limits(message: &Value) {
        let len = |v: &Value| text_len(v.as_str().unwrap());
        assert!(len(&message["text"]) <= MAX_TEXT);
        let blocks = message["blocks"].as_array().unwrap();
        assert!(blocks.len() <= MAX_BLOCKS, "{} blocks", blocks.len());
        assert!(blocks_text_len(blocks) <= MAX_BLOCKS_TEXT);
        for block in blocks {
            match block["type"].as_str().unwrap() {
                "header" => assert!(len(&block["text"]["text"]) <= MAX_HEADER),
                "section" => {
                    assert!(len(&block["text"]["text"]) <= MAX_SECTION);
                    if let Some(fields) = block.get("fields") {
                        let fields = fields.as_array().unwrap();
                        assert!(fields.len() <= 10);
                        assert!(fields.iter().all(|f| len(&f["text"]) <= 2000));
                    }
                }
                "context" => {
                    let elements = block["elements"].as_array().unwrap();
                    assert!(elements.len() <= MAX_CONTEXT_ELEMENTS);
                    assert!(elements.iter().all(|e| len(&e["text"]) <= MAX_SECTION));
                }
                "divider" => {}
                other => panic!("unexpected block {other}"),
            }
        }
    }

    #[test]
    fn a_huge_alert_is_cut_within_every_limit() {
        let rendered =
            super::super::render(&crate::config::WebhookFormat::Slack, &[huge_alert()]).unwrap();
        let message: Value = serde_json::from_str(&rendered.body).unwrap();
        assert_within_limits(&message);
        let blocks = message["blocks"].as_array().unwrap();
        let title = blocks[0]["text"]["text"].as_str().unwrap();
        assert_cut(title.lines().next().unwrap().trim_matches('*'));
        // The snippet's hit stays bold and the cut shows.
        let snippet = blocks[1]["text"]["text"].as_str().unwrap();
        assert!(
            snippet.starts_with("> …0 *hit &amp; run* tail &lt;x&gt;"),
            "{snippet}"
        );
        assert_cut(snippet);
        let entities = blocks[2]["elements"][0]["text"].as_str().unwrap();
        assert!(entities.ends_with("… and 9992 more"), "{entities}");
        assert_cut(message["text"].as_str().unwrap());
    }

    #[test]
    fn a_digest_of_500_alerts_keeps_to_the_limits_and_says_how_many_more() {
        let message = render(&huge_digest(500));
        assert_within_limits(&message);
        let blocks = message["blocks"].as_array().unwrap();
        assert_eq!(
            blocks[0]["text"]["text"],
            "500 new articles for soldiers-mothers"
        );
        let shown = blocks.iter().filter(|b| b["type"] == "divider").count();
        assert!(shown >= 1);
        let last = blocks.last().unwrap()["elements"][0]["text"]
            .as_str()
            .unwrap();
        assert_eq!(last, format!("… and {} more", 500 - shown));

        let message = render(&(0..500).map(sample_alert).collect::<Vec<_>>());
        assert_within_limits(&message);
        let blocks = message["blocks"].as_array().unwrap();
        let shown = blocks.iter().filter(|b| b["type"] == "divider").count();
        assert!(shown >= 10, "{shown}");
        let last = blocks.last().unwrap()["elements"][0]["text"]
            .as_str()
            .unwrap();
        assert_eq!(last, format!("… and {} more", 500 - shown));
    }

    #[test]
    fn text_just_within_the_limits_is_not_cut() {
        let mut alert = sample_alert(1);
        alert.article.title = "t".repeat(TITLE_CHARS);
        alert.snippets = vec![format!("<mark>{}</mark>", "s".repeat(SNIPPET_CHARS - 2))];
        alert.topic = "p".repeat(TOPIC_CHARS);
        let message = render(&[alert.clone()]);
        assert_within_limits(&message);
        let blocks = message["blocks"].as_array().unwrap();
        let title = blocks[0]["text"]["text"].as_str().unwrap();
        assert!(
            title.contains(&format!("|{}>", alert.article.title)),
            "{title}"
        );
        assert!(title.contains(&alert.topic));
        assert_eq!(
            blocks[1]["text"]["text"],
            format!("> *{}*", "s".repeat(SNIPPET_CHARS - 2))
        );
        assert!(!message.to_string().contains('…'));

        // A header and 12 alerts of a divider and three blocks: 49 blocks, all shown.
        let digest: Vec<_> = (0..12).map(sample_alert).collect();
        let message = render(&digest);
        assert_within_limits(&message);
        let blocks = message["blocks"].as_array().unwrap();
        assert_eq!(blocks.iter().filter(|b| b["type"] == "divider").count(), 12);
        assert!(!message.to_string().contains("… and"));
    }
}
