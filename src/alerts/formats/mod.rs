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
/// more than one alert. Each alert is bounded first ([`AlertPayload::bound`]), so payloads
/// stored before the bounds existed render within them too.
pub fn render(format: &WebhookFormat, alerts: &[AlertPayload]) -> Result<Rendered, RenderError> {
    if alerts.is_empty() {
        return Err(RenderError("no alerts to render".into()));
    }
    let alerts: Vec<AlertPayload> = alerts.iter().map(AlertPayload::bounded).collect();
    let json = |value: serde_json::Value| Rendered {
        body: value.to_string(),
        content_type: "application/json".to_string(),
    };
    Ok(match format {
        WebhookFormat::Json => json::render(&alerts),
        WebhookFormat::Slack => json(slack::render(&alerts)),
        WebhookFormat::Discord => json(discord::render(&alerts)),
        WebhookFormat::Teams => json(teams::render(&alerts)),
        WebhookFormat::Template(template) => template.render(&alerts)?,
    })
}

/// Renders feed-health notices: a line of text in the chat formats, the notices themselves
/// in `json` and `template` (a template is written for alerts, so it is not applied). The chat
/// text keeps to each service's limit, ending with "… and N more" when notices were left out.
pub fn render_health(format: &WebhookFormat, events: &[FeedHealthEvent]) -> Rendered {
    let lines: Vec<String> = events.iter().map(FeedHealthEvent::summary).collect();
    let body = match format {
        WebhookFormat::Json | WebhookFormat::Template(_) => match events {
            [event] => serde_json::to_value(event),
            _ => serde_json::to_value(events),
        }
        .unwrap_or_default(),
        WebhookFormat::Slack => serde_json::json!({"text": lines_within(&lines, slack::MAX_TEXT)}),
        WebhookFormat::Discord => {
            serde_json::json!({"content": lines_within(&lines, discord::MAX_CONTENT)})
        }
        WebhookFormat::Teams => teams::render_health(&lines),
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

/// Length as the chat services count it. Slack and Discord state their limits in
/// "characters" without saying which kind; UTF-16 code units (what JavaScript counts) are never
/// fewer than Unicode characters, so a limit kept in them holds either way.
pub(crate) fn text_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Cuts `text` to at most `max` (in [`text_len`]), ending with "…" when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    escape_within(text, max, &|c, out| out.push(c))
}

/// `text` with each character escaped by `escape`, cut to at most `max` (in [`text_len`]) with
/// "…" at the end when cut, never inside an escape.
pub(crate) fn escape_within(text: &str, max: usize, escape: &dyn Fn(char, &mut String)) -> String {
    marked_within(&[(text, false)], max, "", escape)
}

/// Snippet segments (plain runs and hits, see [`snippet_segments`]) with each hit between two
/// `marker`s and each character escaped by `escape`, cut to at most `max` (in [`text_len`]):
/// when cut, it ends with "…", never inside an escape, and an open hit is closed first, so the
/// markup stays balanced.
pub(crate) fn marked_within<S: AsRef<str>>(
    segments: &[(S, bool)],
    max: usize,
    marker: &str,
    escape: &dyn Fn(char, &mut String),
) -> String {
    let marker_len = text_len(marker);
    let mut out = String::new();
    let mut len = 0;
    // The longest prefix of `out` that, closed and with "…", still fits: (bytes, hit open).
    let mut cut = (0, false);
    let mut fits = true;
    let mut escaped = String::new();
    'segments: for (run, hit) in segments {
        if *hit {
            // No cut point right after an opening marker: a hit is never left empty.
            out.push_str(marker);
            len += marker_len;
        }
        for c in run.as_ref().chars() {
            escaped.clear();
            escape(c, &mut escaped);
            out.push_str(&escaped);
            len += text_len(&escaped);
            if len > max {
                break 'segments;
            }
            if fits {
                let owed = if *hit { marker_len } else { 0 };
                if len + owed < max {
                    cut = (out.len(), *hit);
                } else {
                    fits = false;
                }
            }
        }
        if *hit {
            out.push_str(marker);
            len += marker_len;
            if len > max {
                break;
            }
            if fits {
                if len < max {
                    cut = (out.len(), false);
                } else {
                    fits = false;
                }
            }
        }
    }
    if len <= max {
        return out;
    }
    out.truncate(cut.0);
    if cut.1 {
        out.push_str(marker);
    }
    out.push('…');
    out
}

/// The closing line of a list that was cut: "… and 12 more".
pub(crate) fn more_line(count: usize) -> String {
    format!("… and {count} more")
}

/// `lines` joined by newlines within `max` (in [`text_len`]); when they do not all fit, as many
/// as do and then "… and N more".
pub(crate) fn lines_within(lines: &[String], max: usize) -> String {
    let all = lines.join("\n");
    if text_len(&all) <= max {
        return all;
    }
    let reserve = text_len(&more_line(lines.len())) + 1;
    let mut out = String::new();
    let mut shown = 0;
    for line in lines {
        let separator = usize::from(!out.is_empty());
        if text_len(&out) + separator + text_len(line) + reserve > max {
            break;
        }
        if separator == 1 {
            out.push('\n');
        }
        out.push_str(line);
        shown += 1;
    }
    if shown == 0 {
        if lines.len() == 1 {
            return truncate(&lines[0], max);
        }
        out = truncate(&lines[0], max.saturating_sub(reserve));
        shown = 1;
    }
    if shown < lines.len() {
        out.push('\n');
        out.push_str(&more_line(lines.len() - shown));
    }
    out
}

/// "Vladimir Putin, Kremlin, Moscow" from the `max` most mentioned entities, and "… and N
/// more" when the article names more (counting those the payload's bounds left out).
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
    let mut line = names.join(", ");
    let more = alert.entities.len().saturating_sub(max) + alert.omitted.entities;
    if more > 0 {
        line.push_str(", ");
        line.push_str(&more_line(more));
    }
    Some(line)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::alerts::payload::tests::huge_alert;
    use crate::alerts::payload::{ArticleSummary, EntityMention};

    /// `count` alerts each as large as the payload bounds allow.
    pub fn huge_digest(count: usize) -> Vec<AlertPayload> {
        let bounded = huge_alert().bounded();
        (0..count)
            .map(|i| {
                let mut alert = bounded.clone();
                alert.id = format!("01JF{i:022}");
                alert
            })
            .collect()
    }

    /// The text shows that it was cut.
    pub fn assert_cut(text: &str) {
        assert!(
            text.ends_with('…') || text.contains("… and "),
            "no visible cut: {text}"
        );
    }

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
        assert_eq!(truncate("abcd", 4), "abcd");
        // An emoji is two UTF-16 units: counted as such.
        assert_eq!(truncate("😀😀😀", 4), "😀…");
    }

    #[test]
    fn marked_text_stays_balanced_at_every_cut() {
        let segments = snippet_segments("ab <mark>cd &amp; ef</mark> gh <mark>ij</mark>");
        let escape = |c: char, out: &mut String| match c {
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        };
        let full = marked_within(&segments, 1000, "**", &escape);
        assert_eq!(full, "ab **cd &amp; ef** gh **ij**");
        assert_eq!(
            marked_within(&segments, text_len(&full), "**", &escape),
            full
        );
        for max in 1..text_len(&full) {
            let cut = marked_within(&segments, max, "**", &escape);
            assert!(text_len(&cut) <= max, "{max}: {cut}");
            assert!(cut.ends_with('…'), "{max}: {cut}");
            assert_eq!(cut.matches("**").count() % 2, 0, "{max}: {cut}");
            assert!(!cut.contains("****"), "{max}: {cut}");
            let body = cut.trim_end_matches('…');
            for (at, _) in body.match_indices('&') {
                assert!(body[at..].starts_with("&amp;"), "{max}: {cut}");
            }
        }
        assert_eq!(marked_within(&segments, 9, "**", &escape), "ab **c**…");
        assert_eq!(marked_within(&segments, 8, "**", &escape), "ab …");
    }

    #[test]
    fn many_feed_health_notices_keep_to_each_limit() {
        use crate::alerts::payload::{FeedHealth, FeedHealthEvent};
        let events: Vec<FeedHealthEvent> = (0..1000)
            .map(|i| FeedHealthEvent {
                id: format!("h{i}"),
                kind: "feedwatch.feed_health".into(),
                feed: format!("feed-{i}"),
                url: "https://example.org/rss".into(),
                status: FeedHealth::Failing,
                failing_since: Some("2022-11-25T10:00:00Z".into()),
                consecutive_failures: 7,
                last_error: Some("e".repeat(5000)),
                detected_at: "2022-11-25T11:00:00Z".into(),
            })
            .collect();
        let parse = |format: &WebhookFormat| -> serde_json::Value {
            serde_json::from_str(&render_health(format, &events).body).unwrap()
        };
        let slack = parse(&WebhookFormat::Slack);
        let text = slack["text"].as_str().unwrap();
        assert!(text_len(text) <= slack::MAX_TEXT);
        assert!(text.ends_with("… and 999 more"), "{text}");
        let discord = parse(&WebhookFormat::Discord);
        let content = discord["content"].as_str().unwrap();
        assert!(text_len(content) <= discord::MAX_CONTENT);
        assert!(content.ends_with("… and 999 more"), "{content}");
        let body = render_health(&WebhookFormat::Teams, &events).body;
        assert!(body.len() <= teams::MAX_BYTES);
        let teams: serde_json::Value = serde_json::from_str(&body).unwrap();
        let text = teams["attachments"][0]["content"]["body"][0]["text"]
            .as_str()
            .unwrap();
        assert!(text.ends_with("… and 999 more"), "{text}");
        // One long notice is cut with "…"; short ones are sent whole.
        let text = |events: &[FeedHealthEvent]| -> String {
            let body = render_health(&WebhookFormat::Slack, events).body;
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            json["text"].as_str().unwrap().to_string()
        };
        let one = text(&events[..1]);
        assert_eq!(text_len(&one), slack::MAX_TEXT);
        assert!(one.ends_with('…'));
        let mut recovered = events[0].clone();
        recovered.status = FeedHealth::Recovered;
        let two = vec![recovered.clone(), recovered];
        assert_eq!(
            text(&two),
            format!("{}\n{}", two[0].summary(), two[1].summary())
        );
    }

    #[test]
    fn long_lists_of_lines_end_with_how_many_more() {
        let lines: Vec<String> = (0..100).map(|i| format!("line {i:02}")).collect();
        let text = lines_within(&lines, 100);
        assert!(text_len(&text) <= 100);
        assert!(text.starts_with("line 00\nline 01\n"));
        let shown = text.lines().count() - 1;
        assert_eq!(text.lines().last().unwrap(), more_line(100 - shown));
        assert_eq!(lines_within(&lines[..2], 15), "line 00\nline 01");
        let long = vec!["x".repeat(500)];
        assert_eq!(text_len(&lines_within(&long, 100)), 100);
    }
}
