//! `teams`: a Microsoft Teams Workflows ("When a Teams webhook request is received") message:
//! `{"type": "message", "attachments": [Adaptive Card 1.4]}` with the title, snippet (hits in
//! bold), a fact set and a button to the article; a digest lists as many alerts as fit in one
//! card, then "… and N more".
//!
//! Teams' limit is on the whole message, not on its parts: "The message size limit is 28 KB"
//! (learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook;
//! the Teams connector of Power Automate says "about 28 KB" including all elements). TextBlock
//! text has no limit of its own. Clients report 413s from ~21 KB (the msteams_hermes gem caps
//! at 21,000 bytes), so the body is kept to [`MAX_BYTES`] of JSON.

use serde_json::{Value, json};

use super::{entity_line, escape_within, lines_within, marked_within, more_line, snippet_segments};
use crate::alerts::payload::AlertPayload;

/// The whole request body, in bytes of JSON.
pub(crate) const MAX_BYTES: usize = 20_000;
/// Text of a feed-health notice card (lines, then "… and N more").
pub(crate) const MAX_TEXT: usize = 3000;

/// Our own shares, so one alert stays short and a digest shows several.
const TITLE_CHARS: usize = 300;
const SNIPPET_CHARS: usize = 1000;
const FACT_CHARS: usize = 300;
const ENTITIES_CHARS: usize = 600;
const HEADING_CHARS: usize = 300;
const ENTITY_NAMES: usize = 8;
/// In the compact form an alert falls back to when its full form would not fit on its own.
const COMPACT_TITLE_CHARS: usize = 150;
const COMPACT_URL: usize = 2048;

/// Adaptive Card TextBlocks take a Markdown subset; keep hits bold and neutralise the rest.
fn escape(c: char, out: &mut String) {
    if matches!(c, '*' | '_' | '[') {
        out.push('\\');
    }
    out.push(c);
}

fn plain(c: char, out: &mut String) {
    out.push(c);
}

fn alert_items(alert: &AlertPayload, compact: bool) -> Vec<Value> {
    let title_chars = if compact {
        COMPACT_TITLE_CHARS
    } else {
        TITLE_CHARS
    };
    let mut items = vec![json!({
        "type": "TextBlock", "text": escape_within(&alert.article.title, title_chars, &escape),
        "weight": "Bolder", "size": "Medium", "wrap": true,
    })];
    if let (false, Some(snippet)) = (compact, alert.snippets.first()) {
        let text = marked_within(&snippet_segments(snippet), SNIPPET_CHARS, "**", &escape);
        items.push(json!({"type": "TextBlock", "text": text, "wrap": true}));
    }
    let mut facts = vec![
        json!({"title": "Topic", "value": escape_within(&alert.topic, FACT_CHARS, &plain)}),
        json!({"title": "Score", "value": alert.score.to_string()}),
    ];
    if let (false, Some(site)) = (compact, &alert.article.site) {
        facts.push(json!({"title": "Site", "value": escape_within(site, FACT_CHARS, &plain)}));
    }
    if let (false, Some(entities)) = (compact, entity_line(alert, ENTITY_NAMES)) {
        facts.push(json!({
            "title": "Entities",
            "value": escape_within(&entities, ENTITIES_CHARS, &plain),
        }));
    }
    items.push(json!({"type": "FactSet", "facts": facts}));
    if let Some(url) = alert
        .article
        .url
        .as_ref()
        .filter(|u| !compact || u.len() <= COMPACT_URL)
    {
        items.push(json!({
            "type": "ActionSet",
            "actions": [{"type": "Action.OpenUrl", "title": "Read the article", "url": url}],
        }));
    }
    items
}

fn message(body: Vec<Value>) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            },
        }],
    })
}

fn json_len(value: &Value) -> usize {
    value.to_string().len()
}

fn text_block(text: String) -> Value {
    json!({"type": "TextBlock", "wrap": true, "text": text})
}

pub fn render(alerts: &[AlertPayload]) -> Value {
    let mut body = Vec::new();
    if alerts.len() > 1 {
        let heading = format!("{} new articles for {}", alerts.len(), alerts[0].topic);
        body.push(json!({
            "type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": true,
            "text": escape_within(&heading, HEADING_CHARS, &escape),
        }));
    }
    // The envelope, the heading and room for the closing "… and N more" line; then each alert
    // adds its items and a comma per item.
    let closing = text_block(more_line(alerts.len()));
    let mut size = json_len(&message(body.clone())) + json_len(&closing) + 1;
    let mut shown = 0;
    for (i, alert) in alerts.iter().enumerate() {
        let mut items = alert_items(alert, false);
        let mut items_size: usize = items.iter().map(|item| json_len(item) + 1).sum();
        if shown == 0 && size + items_size > MAX_BYTES {
            items = alert_items(alert, true);
            items_size = items.iter().map(|item| json_len(item) + 1).sum();
        }
        if i > 0 {
            items[0]["separator"] = json!(true);
            items[0]["spacing"] = json!("Large");
            items_size += r#","separator":true,"spacing":"Large""#.len();
        }
        if size + items_size > MAX_BYTES {
            break;
        }
        size += items_size;
        body.extend(items);
        shown += 1;
    }
    if shown < alerts.len() {
        body.push(text_block(more_line(alerts.len() - shown)));
    }
    message(body)
}

/// The card of feed-health notices.
pub(crate) fn render_health(lines: &[String]) -> Value {
    message(vec![text_block(lines_within(lines, MAX_TEXT))])
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

    fn body(message: &Value) -> &Vec<Value> {
        message["attachments"][0]["content"]["body"]
            .as_array()
            .unwrap()
    }

    #[test]
    fn digest_is_one_card() {
        let message = render(&[sample_alert(1), sample_alert(2)]);
        let attachments = message["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 1);
        assert!(
            body(&message)[0]["text"]
                .as_str()
                .unwrap()
                .starts_with("2 new articles")
        );
    }

    #[test]
    fn a_huge_alert_is_cut_within_the_size_limit() {
        let rendered =
            super::super::render(&crate::config::WebhookFormat::Teams, &[huge_alert()]).unwrap();
        assert!(
            rendered.body.len() <= MAX_BYTES,
            "{} bytes",
            rendered.body.len()
        );
        let message: Value = serde_json::from_str(&rendered.body).unwrap();
        let body = body(&message);
        assert_cut(body[0]["text"].as_str().unwrap());
        let snippet = body[1]["text"].as_str().unwrap();
        assert!(
            snippet.starts_with("…0 **hit & run** tail <x>"),
            "{snippet}"
        );
        assert_cut(snippet);
        let entities = body[2]["facts"][3]["value"].as_str().unwrap();
        assert!(entities.ends_with("… and 9992 more"), "{entities}");
    }

    #[test]
    fn an_alert_too_big_for_a_message_falls_back_to_its_compact_form() {
        // Characters JSON escapes six bytes each: the full form cannot fit.
        let mut alert = huge_alert().bounded();
        alert.article.title = "\u{1}".repeat(300);
        alert.snippets = vec!["\u{2}".repeat(1000)];
        alert.entities[0].text = "\u{3}".repeat(200);
        alert.entities[1].text = "\u{3}".repeat(200);
        alert.entities[2].text = "\u{3}".repeat(200);
        alert.article.site = Some("\u{4}".repeat(253));
        alert.article.url = Some(format!("https://e.org/{}", "u".repeat(8000)));
        let body = render(&[alert]).to_string();
        assert!(body.len() <= MAX_BYTES, "{} bytes", body.len());
        let message: Value = serde_json::from_str(&body).unwrap();
        assert_cut(
            message["attachments"][0]["content"]["body"][0]["text"]
                .as_str()
                .unwrap(),
        );
    }

    #[test]
    fn a_digest_of_500_alerts_keeps_to_the_size_limit_and_says_how_many_more() {
        for alerts in [huge_digest(500), (0..500).map(sample_alert).collect()] {
            let rendered =
                super::super::render(&crate::config::WebhookFormat::Teams, &alerts).unwrap();
            assert!(
                rendered.body.len() <= MAX_BYTES,
                "{} bytes",
                rendered.body.len()
            );
            let message: Value = serde_json::from_str(&rendered.body).unwrap();
            let body = body(&message);
            assert_eq!(body[0]["text"], "500 new articles for soldiers-mothers");
            let shown = body.iter().filter(|b| b["type"] == "FactSet").count();
            assert!(shown >= 1);
            assert_eq!(body.last().unwrap()["text"], more_line(500 - shown));
        }
    }

    #[test]
    fn alerts_that_fit_are_all_shown_uncut() {
        let mut alert = sample_alert(1);
        alert.article.title = "t".repeat(TITLE_CHARS);
        alert.snippets = vec![format!("<mark>{}</mark>", "s".repeat(SNIPPET_CHARS - 4))];
        let message = render(&[alert.clone()]);
        assert_eq!(body(&message)[0]["text"], alert.article.title);
        assert_eq!(
            body(&message)[1]["text"],
            format!("**{}**", "s".repeat(SNIPPET_CHARS - 4))
        );
        assert!(!message.to_string().contains('…'));

        let message = render(&(0..5).map(sample_alert).collect::<Vec<_>>());
        assert!(message.to_string().len() <= MAX_BYTES);
        let shown = body(&message)
            .iter()
            .filter(|b| b["type"] == "FactSet")
            .count();
        assert_eq!(shown, 5);
        assert!(!message.to_string().contains("… and"));
    }
}
