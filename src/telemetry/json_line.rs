//! JSON log lines with the request's ids at the top level: a line written
//! inside a request's span starts with its `request_id` and `trace_id`,
//! where Loki's and Elastic's JSON parsers extract them without walking
//! `spans[]`. The rest of the line is tracing-subscriber's own JSON.

use std::fmt::{self, Write};

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The span every request runs in (`http::request_id`).
const REQUEST_SPAN: &str = "request";
/// Its fields hoisted to the line's top level.
const HOISTED: [&str; 2] = ["request_id", "trace_id"];

/// Wraps a JSON event format, hoisting the request's ids.
pub(super) struct WithRequestIds<F>(pub(super) F);

impl<S, N, F> FormatEvent<S, N> for WithRequestIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let hoisted = ctx.event_scope().and_then(|scope| {
            let span = scope.from_root().find(|span| span.name() == REQUEST_SPAN)?;
            let extensions = span.extensions();
            let fields = extensions.get::<FormattedFields<N>>()?;
            let mut pairs = String::new();
            for name in HOISTED {
                if let Some(value) = string_field(&fields.fields, name) {
                    let _ = write!(pairs, "\"{name}\":\"{value}\",");
                }
            }
            (!pairs.is_empty()).then_some(pairs)
        });
        let Some(pairs) = hoisted else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::with_capacity(256);
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => {
                writer.write_char('{')?;
                writer.write_str(&pairs)?;
                writer.write_str(rest)
            }
            None => writer.write_str(&line),
        }
    }
}

/// The value of the string field `name` in a span's JSON fields, when it
/// needs no escaping (the ids are alphanumeric or hex).
fn string_field<'a>(fields: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\":\"");
    let start = fields.find(&key)? + key.len();
    let value = &fields[start..start + fields[start..].find('"')?];
    (!value.is_empty() && value.bytes().all(|byte| byte.is_ascii_alphanumeric())).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::string_field;

    #[test]
    fn ids_are_read_from_the_spans_fields_only_when_plain() {
        let fields = r#"{"request_id":"AbC123","client_request_id":"x\"y","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#;
        assert_eq!(string_field(fields, "request_id"), Some("AbC123"));
        assert_eq!(
            string_field(fields, "trace_id"),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(string_field(fields, "client_request_id"), None);
        assert_eq!(string_field(fields, "team"), None);
    }
}
