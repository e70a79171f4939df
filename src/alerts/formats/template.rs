//! `template`: a body written by the operator in minijinja (Jinja syntax) for any endpoint the
//! built-in formats do not cover. The template sees `alert` (the JSON payload; the first alert
//! of a digest), `alerts` (all alerts of the message) and `topic`. It is compiled and test-
//! rendered when the config loads, so a broken template is a config error, not a lost alert.
//! With a JSON content type, values are JSON-escaped as they are inserted (`{{ alert.title }}`
//! yields a quoted JSON string), so article text cannot break the body.
//!
//! The template itself is the operator's and is left alone, but what it can do is bounded. The
//! alerts it sees are bounded payloads. Minijinja's fuel ([`FUEL`]) costs one per instruction,
//! 1/64 per byte produced (output, `{% set %}` captures, strings made by `~`, `*` or filters,
//! checked before a large allocation is made) and 1/4 per byte of a container serialised: so a
//! render does at most 200,000 instructions, writes at most ~12.8 MB and serialises at most
//! ~800 KB. On top of that the body is capped at [`MAX_OUTPUT`] bytes; a
//! template that goes beyond either fails with a render error that says which, and the
//! delivery is retried (and the operator can fix the template) rather than sent.

use std::io;

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value, context};

use super::{RenderError, Rendered};
use crate::alerts::payload::AlertPayload;

/// Enough for any sensible message (a loop over a digest of 500 alerts, or 500 alerts dumped
/// whole, fits); stops a template loop over huge input from running away.
pub(crate) const FUEL: u64 = 200_000;

/// The largest body a template may produce: room for a digest of every alert of a delivery
/// batch dumped whole, and a stop for a template that loops over its own output.
pub(crate) const MAX_OUTPUT: usize = 2 << 20;

/// An `io::Write` into memory that refuses to grow past `max` bytes.
struct Capped {
    out: Vec<u8>,
    max: usize,
    over: bool,
}

impl io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.out.len() + buf.len() > self.max {
            self.over = true;
            return Err(io::Error::other("the template's output is too large"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

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
        let mut body = Capped {
            out: Vec::new(),
            max: MAX_OUTPUT,
            over: false,
        };
        let rendered = template.render_captured_to(
            context! {
                alert => Value::from(Serde(&alerts[0])),
                alerts => Value::from(Serde(alerts)),
                topic => &alerts[0].topic,
            },
            &mut body,
        );
        if body.over {
            return Err(RenderError(format!(
                "the template's output is larger than {} MiB; make it write less (e.g. fewer \
                 fields of each alert, or `alerts[:20]` in a digest)",
                MAX_OUTPUT >> 20
            )));
        }
        match rendered {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::OutOfFuel => {
                return Err(RenderError(format!(
                    "the template does too much work for one message (it ran out of its \
                     {FUEL} units of fuel); make it loop less or write less: {e:#}"
                )));
            }
            Err(e) => return Err(RenderError(format!("{e:#}"))),
        }
        // Minijinja writes only UTF-8.
        let body = String::from_utf8(body.out).map_err(|e| RenderError(e.to_string()))?;
        Ok(Rendered {
            body,
            content_type: self.content_type.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_cut, huge_digest, sample_alert};
    use super::*;
    use crate::alerts::payload::tests::huge_alert;

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
    fn a_huge_alert_renders_bounded() {
        let template = AlertTemplate::new(
            r#"{"title": {{ alert.article.title }}, "n": {{ alert.entities|length }}}"#,
            "application/json",
        )
        .unwrap();
        let format = crate::config::WebhookFormat::Template(std::sync::Arc::new(template));
        let rendered = super::super::render(&format, &[huge_alert()]).unwrap();
        let json: serde_json::Value = serde_json::from_str(&rendered.body).unwrap();
        assert_cut(json["title"].as_str().unwrap());
        assert_eq!(json["n"], crate::alerts::payload::limits::ENTITIES);
    }

    #[test]
    fn a_digest_of_500_alerts_renders() {
        let template = AlertTemplate::new(
            r#"{"text": {{ topic }}, "items": [{% for a in alerts %}{"title": {{ a.article.title }}, "url": {{ a.article.url }}, "snippet": {{ a.snippets[0] }}}{% if not loop.last %},{% endif %}{% endfor %}]}"#,
            "application/json",
        )
        .unwrap();
        let alerts: Vec<_> = (0..500).map(sample_alert).collect();
        let rendered = template.render(&alerts).unwrap();
        let json: serde_json::Value = serde_json::from_str(&rendered.body).unwrap();
        assert_eq!(json["items"].as_array().unwrap().len(), 500);
        // Dumping every alert whole fits too.
        let dump = AlertTemplate::new("{{ alerts }}", "application/json").unwrap();
        let rendered = dump.render(&alerts).unwrap();
        let json: serde_json::Value = serde_json::from_str(&rendered.body).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 500);

        // 500 alerts as large as the payload bounds allow: the loop fits in the cap, with the
        // cut titles showing; dumping them whole is too much and says so.
        let huge = huge_digest(500);
        let rendered = template.render(&huge).unwrap();
        assert!(rendered.body.len() <= MAX_OUTPUT);
        let json: serde_json::Value = serde_json::from_str(&rendered.body).unwrap();
        assert_eq!(json["items"].as_array().unwrap().len(), 500);
        assert_cut(json["items"][499]["title"].as_str().unwrap());
        let err = dump.render(&huge).unwrap_err();
        assert!(
            err.0.contains("larger than 2 MiB") || err.0.contains("ran out of"),
            "{err}"
        );
    }

    #[test]
    fn a_runaway_template_stops_with_a_clear_error() {
        let mut alert = sample_alert(1);
        alert.article.title = "t".repeat(500);
        // Writes 100,000 titles: stopped by the output cap.
        let template = AlertTemplate::new(
            "{% for i in range(100000) %}{{ alert.article.title }}{% endfor %}",
            "text/plain",
        )
        .unwrap();
        let err = template.render(std::slice::from_ref(&alert)).unwrap_err();
        assert!(err.0.contains("larger than 2 MiB"), "{err}");
        // Loops without writing: stopped by fuel.
        let template = AlertTemplate::new(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "text/plain",
        )
        .unwrap();
        let err = template.render(std::slice::from_ref(&alert)).unwrap_err();
        assert!(err.0.contains("ran out of"), "{err}");
        // Builds a huge string: refused before it is allocated.
        let template = AlertTemplate::new("{{ 'x' * 100000000 }}", "text/plain").unwrap();
        let err = template.render(std::slice::from_ref(&alert)).unwrap_err();
        assert!(err.0.contains("ran out of"), "{err}");
        // Captured output counts too.
        let template = AlertTemplate::new(
            "{% set x %}{% for i in range(100000) %}{{ alerts }}{% endfor %}{% endset %}{{ x|length }}",
            "text/plain",
        )
        .unwrap();
        let err = template.render(&[alert]).unwrap_err();
        assert!(err.0.contains("ran out of"), "{err}");
    }

    #[test]
    fn undefined_fields_are_errors() {
        let template = AlertTemplate::new("{{ alert.nope }}", "text/plain").unwrap();
        assert!(template.render(&[sample_alert(1)]).is_err());
        assert!(AlertTemplate::new("{% if %}", "text/plain").is_err());
    }
}
