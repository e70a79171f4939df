//! `discord`: an execute-webhook message with one embed per alert; a digest carries as many
//! embeds as fit and says in `content` how many more there were.
//!
//! Discord's limits (discord.com/developers/docs/resources/message#embed-object-embed-limits
//! and /resources/webhook#execute-webhook): `content` at most 2,000 characters; at most 10
//! embeds per message; an embed's title at most 256, description 4,096, at most 25 fields, a
//! field's name 256 and value 1,024, footer text 2,048, author name 256; and the titles,
//! descriptions, field names and values, footer texts and author names of all embeds of a
//! message together at most 6,000.

use serde_json::{Value, json};

use super::{
    entity_line, escape_within, marked_within, more_line, snippet_segments, text_len, truncate,
};
use crate::alerts::payload::AlertPayload;

pub(crate) const MAX_CONTENT: usize = 2000;
pub(crate) const MAX_EMBEDS: usize = 10;
pub(crate) const MAX_TITLE: usize = 256;
pub(crate) const MAX_DESCRIPTION: usize = 4096;
pub(crate) const MAX_FIELDS: usize = 25;
pub(crate) const MAX_FIELD_NAME: usize = 256;
pub(crate) const MAX_FIELD: usize = 1024;
pub(crate) const MAX_FOOTER: usize = 2048;
pub(crate) const MAX_TOTAL: usize = 6000;

/// Our own shares, so one embed stays readable and a digest fits several in the 6,000.
const DESCRIPTION_CHARS: usize = 1000;
const TOPIC_CHARS: usize = 256;
const FOOTER_CHARS: usize = 300;
const HEADING_CHARS: usize = 300;
const ENTITY_NAMES: usize = 8;
/// Discord rejects an embed whose `url` is too long without documenting the length (one of
/// ~1,700 characters failed in lovvskillz/python-discord-webhook#118); longer article URLs are
/// not linked.
const MAX_URL: usize = 1024;
const COLOR: u32 = 0x00D0_4A3C;

// Our shares keep each part within Discord's limits, and one embed within the 6,000: title
// 256, description 1,000, three fields (names of at most 8, values of at most 256, ~25 and
// 1,024) and a footer of 300.
const _: () = assert!(
    DESCRIPTION_CHARS <= MAX_DESCRIPTION
        && TOPIC_CHARS <= MAX_FIELD
        && FOOTER_CHARS <= MAX_FOOTER
        && HEADING_CHARS + 40 <= MAX_CONTENT
        && "Entities".len() <= MAX_FIELD_NAME
        && 3 <= MAX_FIELDS
        && MAX_TITLE + DESCRIPTION_CHARS + 3 * 8 + TOPIC_CHARS + 30 + MAX_FIELD + FOOTER_CHARS
            <= MAX_TOTAL
);

/// Discord markdown: escape the characters that would start formatting.
fn escape(c: char, out: &mut String) {
    if matches!(c, '*' | '_' | '~' | '|' | '`' | '>' | '[' | ']') {
        out.push('\\');
    }
    out.push(c);
}

fn embed(alert: &AlertPayload) -> Value {
    let description = alert
        .snippets
        .first()
        .map(|s| marked_within(&snippet_segments(s), DESCRIPTION_CHARS, "**", &escape))
        .unwrap_or_default();
    let mut fields = vec![
        json!({"name": "Topic", "value": truncate(&alert.topic, TOPIC_CHARS), "inline": true}),
        json!({"name": "Score", "value": alert.score.to_string(), "inline": true}),
    ];
    if let Some(entities) = entity_line(alert, ENTITY_NAMES) {
        fields.push(json!({
            "name": "Entities",
            "value": escape_within(&entities, MAX_FIELD, &escape),
            "inline": false,
        }));
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
        "description": description,
        "color": COLOR,
        "fields": fields,
        "footer": {"text": truncate(&footer, FOOTER_CHARS)},
    });
    if let Some(url) = alert
        .article
        .url
        .as_ref()
        .filter(|u| text_len(u) <= MAX_URL)
    {
        embed["url"] = json!(url);
    }
    if let Some(published) = &alert.article.published {
        embed["timestamp"] = json!(published);
    }
    embed
}

/// The characters of an embed that count towards the 6,000 of a message.
pub(crate) fn embed_size(embed: &Value) -> usize {
    let len = |v: &Value| v.as_str().map_or(0, text_len);
    len(&embed["title"])
        + len(&embed["description"])
        + len(&embed["footer"]["text"])
        + len(&embed["author"]["name"])
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
        let heading = format!("{} new articles for {}", alerts.len(), alerts[0].topic);
        let mut content = truncate(&heading, HEADING_CHARS);
        if embeds.len() < alerts.len() {
            content.push('\n');
            content.push_str(&more_line(alerts.len() - embeds.len()));
        }
        message["content"] = json!(content);
    }
    message
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

    const MAX_AUTHOR: usize = 256;

    /// Every documented Discord limit, on a rendered message.
    fn assert_within_limits(message: &Value) {
        let len = |v: &Value| v.as_str().map_or(0, text_len);
        assert!(len(&message["content"]) <= MAX_CONTENT);
        let embeds = message["embeds"].as_array().unwrap();
        assert!(embeds.len() <= MAX_EMBEDS);
        assert!(embeds.iter().map(embed_size).sum::<usize>() <= MAX_TOTAL);
        for embed in embeds {
            assert!(len(&embed["title"]) <= MAX_TITLE);
            assert!(len(&embed["description"]) <= MAX_DESCRIPTION);
            assert!(len(&embed["footer"]["text"]) <= MAX_FOOTER);
            assert!(len(&embed["author"]["name"]) <= MAX_AUTHOR);
            let fields = embed["fields"].as_array().unwrap();
            assert!(fields.len() <= MAX_FIELDS);
            for field in fields {
                assert!(len(&field["name"]) <= MAX_FIELD_NAME);
                assert!(len(&field["value"]) <= MAX_FIELD);
            }
        }
    }

    #[test]
    fn a_huge_alert_is_cut_within_every_limit() {
        let rendered =
            super::super::render(&crate::config::WebhookFormat::Discord, &[huge_alert()]).unwrap();
        let message: Value = serde_json::from_str(&rendered.body).unwrap();
        assert_within_limits(&message);
        let embed = &message["embeds"][0];
        assert_cut(embed["title"].as_str().unwrap());
        let description = embed["description"].as_str().unwrap();
        assert!(
            description.starts_with("…0 **hit & run** tail <x\\>"),
            "{description}"
        );
        assert_cut(description);
        let entities = embed["fields"][2]["value"].as_str().unwrap();
        assert!(entities.ends_with("… and 9992 more"), "{entities}");
        // The 10,000-character URL was left out of the payload, so nothing links.
        assert!(embed.get("url").is_none());
    }

    #[test]
    fn a_digest_of_500_alerts_keeps_to_the_limits_and_says_how_many_more() {
        for alerts in [huge_digest(500), (0..500).map(sample_alert).collect()] {
            let message = render(&alerts);
            assert_within_limits(&message);
            let shown = message["embeds"].as_array().unwrap().len();
            assert!(shown >= 1);
            assert_eq!(
                message["content"],
                format!(
                    "500 new articles for soldiers-mothers\n… and {} more",
                    500 - shown
                )
            );
        }
    }

    #[test]
    fn text_just_within_the_limits_is_not_cut() {
        let mut alert = sample_alert(1);
        alert.article.title = "t".repeat(MAX_TITLE);
        alert.snippets = vec![format!(
            "<mark>{}</mark>",
            "s".repeat(DESCRIPTION_CHARS - 4)
        )];
        let message = render(&[alert.clone()]);
        assert_within_limits(&message);
        let embed = &message["embeds"][0];
        assert_eq!(embed["title"], alert.article.title);
        assert_eq!(
            embed["description"],
            format!("**{}**", "s".repeat(DESCRIPTION_CHARS - 4))
        );
        assert!(!message.to_string().contains('…'));

        // Ten short alerts: all ten embeds, no "more".
        let message = render(&(0..10).map(sample_alert).collect::<Vec<_>>());
        assert_within_limits(&message);
        assert_eq!(message["embeds"].as_array().unwrap().len(), 10);
        assert_eq!(message["content"], "10 new articles for soldiers-mothers");
    }
}
