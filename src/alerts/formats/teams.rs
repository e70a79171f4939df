//! `teams`: a Microsoft Teams Workflows ("When a Teams webhook request is received") message:
//! `{"type": "message", "attachments": [Adaptive Card 1.4]}` with the title, snippet (hits in
//! bold), a fact set and a button to the article; a digest lists each alert in one card.

use serde_json::{Value, json};

use super::{entity_line, snippet_segments};
use crate::alerts::payload::AlertPayload;

/// Adaptive Card TextBlocks take a Markdown subset; keep hits bold and neutralise the rest.
fn escape(text: &str) -> String {
    text.replace('*', "\\*")
        .replace('_', "\\_")
        .replace('[', "\\[")
}

fn alert_items(alert: &AlertPayload) -> Vec<Value> {
    let mut items = vec![json!({
        "type": "TextBlock", "text": escape(&alert.article.title),
        "weight": "Bolder", "size": "Medium", "wrap": true,
    })];
    if let Some(snippet) = alert.snippets.first() {
        let text: String = snippet_segments(snippet)
            .into_iter()
            .map(|(run, hit)| {
                if hit {
                    format!("**{}**", escape(&run))
                } else {
                    escape(&run)
                }
            })
            .collect();
        items.push(json!({"type": "TextBlock", "text": text, "wrap": true}));
    }
    let mut facts = vec![
        json!({"title": "Topic", "value": alert.topic}),
        json!({"title": "Score", "value": alert.score.to_string()}),
    ];
    if let Some(site) = &alert.article.site {
        facts.push(json!({"title": "Site", "value": site}));
    }
    if let Some(entities) = entity_line(alert, 8) {
        facts.push(json!({"title": "Entities", "value": entities}));
    }
    items.push(json!({"type": "FactSet", "facts": facts}));
    if let Some(url) = &alert.article.url {
        items.push(json!({
            "type": "ActionSet",
            "actions": [{"type": "Action.OpenUrl", "title": "Read the article", "url": url}],
        }));
    }
    items
}

pub fn render(alerts: &[AlertPayload]) -> Value {
    let mut body = Vec::new();
    if alerts.len() > 1 {
        body.push(json!({
            "type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": true,
            "text": format!("{} new articles for {}", alerts.len(), alerts[0].topic),
        }));
    }
    for (i, alert) in alerts.iter().enumerate() {
        let mut items = alert_items(alert);
        if i > 0 {
            items[0]["separator"] = json!(true);
            items[0]["spacing"] = json!("Large");
        }
        body.extend(items);
    }
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

#[cfg(test)]
mod tests {
    use super::super::tests::sample_alert;
    use super::*;

    #[test]
    fn single_alert_message() {
        insta::assert_json_snapshot!(render(&[sample_alert(1)]));
    }

    #[test]
    fn digest_is_one_card() {
        let message = render(&[sample_alert(1), sample_alert(2)]);
        let attachments = message["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 1);
        let body = attachments[0]["content"]["body"].as_array().unwrap();
        assert!(
            body[0]["text"]
                .as_str()
                .unwrap()
                .starts_with("2 new articles")
        );
    }
}
