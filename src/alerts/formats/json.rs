//! `json`: the alert payload of PRODUCT.md as is; a digest is `{"type": "feedwatch.digest",
//! "topic", "alerts": [payload, …]}`.
//!
//! Each payload is bounded (`payload::limits`), but a digest carries every one of its alerts:
//! this format feeds archives and programs, and an alert left out of a digest would be lost to
//! them (the chat formats cut their lists because a person reads them). A digest's size is thus
//! at most the outbox's delivery batch times a bounded payload.

use super::Rendered;
use crate::alerts::payload::AlertPayload;

pub fn render(alerts: &[AlertPayload]) -> Rendered {
    let body = match alerts {
        [alert] => serde_json::to_string(alert),
        _ => serde_json::to_string(&serde_json::json!({
            "type": "feedwatch.digest",
            "topic": alerts[0].topic,
            "alerts": alerts,
        })),
    };
    Rendered {
        // Serialising plain structs of strings and numbers cannot fail.
        body: body.unwrap_or_default(),
        content_type: "application/json".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_cut, huge_digest, sample_alert};
    use crate::alerts::payload::limits;
    use crate::alerts::payload::tests::huge_alert;
    use crate::config::WebhookFormat;
    use serde_json::Value;

    fn assert_bounded(alert: &Value) {
        let len = |v: &Value| v.as_str().unwrap().chars().count();
        assert!(len(&alert["article"]["title"]) <= limits::TITLE_CHARS);
        assert!(len(&alert["article"]["summary"]) <= limits::SUMMARY_CHARS);
        let snippets = alert["snippets"].as_array().unwrap();
        assert!(snippets.len() <= limits::SNIPPETS);
        assert!(snippets.iter().all(|s| len(s) <= limits::SNIPPET_CHARS));
        assert!(alert["matched"].as_array().unwrap().len() <= limits::MATCHED);
        assert!(alert["entities"].as_array().unwrap().len() <= limits::ENTITIES);
        assert!(alert["article"]["authors"].as_array().unwrap().len() <= limits::AUTHORS);
    }

    #[test]
    fn a_huge_alert_is_bounded_and_says_what_was_left_out() {
        let rendered = super::super::render(&WebhookFormat::Json, &[huge_alert()]).unwrap();
        assert!(
            rendered.body.len() < 64 * 1024,
            "{} bytes",
            rendered.body.len()
        );
        let alert: Value = serde_json::from_str(&rendered.body).unwrap();
        assert_bounded(&alert);
        assert_cut(alert["article"]["title"].as_str().unwrap());
        assert_cut(alert["article"]["summary"].as_str().unwrap());
        assert_cut(alert["snippets"][0].as_str().unwrap());
        assert_eq!(alert["omitted"]["entities"], 10_000 - limits::ENTITIES);
        assert_eq!(alert["omitted"]["snippets"], 1_000 - limits::SNIPPETS);
    }

    #[test]
    fn a_digest_of_500_alerts_carries_them_all_bounded() {
        let rendered = super::super::render(&WebhookFormat::Json, &huge_digest(500)).unwrap();
        let digest: Value = serde_json::from_str(&rendered.body).unwrap();
        assert_eq!(digest["type"], "feedwatch.digest");
        let alerts = digest["alerts"].as_array().unwrap();
        assert_eq!(alerts.len(), 500);
        alerts.iter().for_each(assert_bounded);
    }

    #[test]
    fn an_alert_within_the_bounds_is_sent_as_is() {
        let alert = sample_alert(1);
        let rendered =
            super::super::render(&WebhookFormat::Json, std::slice::from_ref(&alert)).unwrap();
        assert_eq!(rendered.body, serde_json::to_string(&alert).unwrap());
    }
}
