//! `template`: a body written by the operator in minijinja (Jinja syntax) for any endpoint the
//! built-in formats do not cover. The template sees `alert` (the JSON payload; the first alert
//! of a digest), `alerts` (all alerts of the message) and `topic`. It is compiled and test-
//! rendered when the config loads, so a broken template is a config error, not a lost alert.
//! With a JSON content type, values are JSON-escaped as they are inserted (`{{ alert.title }}`
//! yields a quoted JSON string), so article text cannot break the body.

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};

use super::{RenderError, Rendered};
use crate::alerts::payload::AlertPayload;

/// Enough for any sensible message; stops a template loop over huge input from running away.
const FUEL: u64 = 200_000;

#[derive(Debug)]
pub struct AlertTemplate {
    env: Environment<'static>,
    content_type: String,
}

impl AlertTemplate {
    /// Compiles `source`; `content_type` is the request's Content-Type.
    pub fn new(source: &str, content_type: &str) -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        let json = content_type.contains("json");
        env.set_auto_escape_callback(move |_| {
            if json {
                AutoEscape::Json
            } else {
                AutoEscape::None
            }
        });
        env.add_template_owned("body", source.to_string())?;
        Ok(Self {
            env,
            content_type: content_type.to_string(),
        })
    }

    pub fn render(&self, alerts: &[AlertPayload]) -> Result<Rendered, RenderError> {
        let template = self
            .env
            .get_template("body")
            .map_err(|e| RenderError(e.to_string()))?;
        let body = template
            .render(context! {
                alert => Value::from(Serde(&alerts[0])),
                alerts => Value::from(Serde(alerts)),
                topic => &alerts[0].topic,
            })
            .map_err(|e| RenderError(format!("{e:#}")))?;
        Ok(Rendered {
            body,
            content_type: self.content_type.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample_alert;
    use super::*;

    #[test]
    fn json_templates_escape_values() {
        let template = AlertTemplate::new(
            r#"{"msg": {{ alert.article.title }}, "n": {{ alerts|length }}}"#,
            "application/json",
        )
        .unwrap();
        let mut alert = sample_alert(1);
        alert.article.title = "Quote \" and brace }".into();
        let rendered = template.render(&[alert]).unwrap();
        let json: serde_json::Value = serde_json::from_str(&rendered.body).unwrap();
        assert_eq!(json["msg"], "Quote \" and brace }");
        assert_eq!(json["n"], 1);
    }

    #[test]
    fn undefined_fields_are_errors() {
        let template = AlertTemplate::new("{{ alert.nope }}", "text/plain").unwrap();
        assert!(template.render(&[sample_alert(1)]).is_err());
        assert!(AlertTemplate::new("{% if %}", "text/plain").is_err());
    }
}
