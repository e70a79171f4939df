//! `json`: the alert payload of PRODUCT.md as is; a digest is `{"type": "feedwatch.digest",
//! "topic", "alerts": [payload, …]}`.

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
