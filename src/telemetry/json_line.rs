//! JSON log lines with the request's ids at the top level: a line written
//! inside a request's span starts with its `request_id` and `trace_id`,
//! where Loki's and Elastic's JSON parsers extract them without walking
//! `spans[]`. The rest of the line is tracing-subscriber's own JSON.

use std::fmt::{self, Write};

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The span every request runs in (`http::request_id`).
const REQUEST_SPAN: &str = "request";
/// The target of the access line (`telemetry::access`).
const ACCESS: &str = "access";
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
        if event.metadata().target() == ACCESS && ctx.lookup_current().is_none() {
            return access_line(writer, event);
        }
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

/// The access line: written outside any span, so it is the JSON
/// formatter's line without `spans`, written here directly into a string
/// (`buffered`); the formatter's generic path (its fields through serde)
/// was most of the access line's cost, itself a quarter of a cached
/// answer's at `info`.
fn access_line(mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
    super::json_fields::buffered(&mut writer, |line| {
        line.push_str("{\"timestamp\":\"");
        super::timestamp::UtcMicros.format_time(&mut Writer::new(line))?;
        line.push_str("\",\"level\":\"");
        line.push_str(event.metadata().level().as_str());
        line.push_str("\",");
        super::json_fields::write_event_fields(line, event)?;
        line.push_str(",\"target\":\"");
        line.push_str(ACCESS);
        line.push_str("\"}\n");
        Ok(())
    })
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
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::telemetry::json_fields::AppendedJsonFields;

    /// The line an access event becomes, written by the gateway's format
    /// (`fast`) or by the JSON formatter alone.
    fn access_line_of(fast: bool) -> serde_json::Value {
        let written = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&written);
        let writer = move || Captured(Arc::clone(&sink));
        let json = || {
            (tracing_subscriber::fmt::format().json())
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(true)
        };
        let builder = tracing_subscriber::fmt()
            .fmt_fields(AppendedJsonFields)
            .with_writer(writer);
        let emit = || {
            let method = axum::http::Method::POST;
            let none: Option<&str> = None;
            tracing::info!(
                target: "access",
                request_id = "AbC123",
                http.request.method = %method,
                url.path = "/graph\"ql",
                http.response.status_code = 200_u16,
                team = Some("ops"),
                graphql.operation.name = none,
                duration_ms = 1.25,
                cache = "hit",
                bytes = Some(14_617_u64),
                "access"
            );
        };
        if fast {
            let subscriber = builder.event_format(WithRequestIds(json())).finish();
            tracing::subscriber::with_default(subscriber, emit);
        } else {
            tracing::subscriber::with_default(builder.event_format(json()).finish(), emit);
        }
        let bytes = written
            .lock()
            .map(|bytes| bytes.clone())
            .unwrap_or_default();
        let text = String::from_utf8(bytes).expect("UTF-8");
        assert!(
            text.ends_with('\n') && text.matches('\n').count() == 1,
            "{text}"
        );
        let mut line: serde_json::Value = serde_json::from_str(&text).expect("one JSON line");
        let timestamp = line
            .as_object_mut()
            .and_then(|line| line.remove("timestamp"));
        let timestamp = timestamp.and_then(|value| value.as_str().map(str::to_owned));
        assert!(
            timestamp.is_some_and(|text| text.ends_with('Z') && text.len() == 27),
            "{line}"
        );
        line
    }

    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut written) = self.0.lock() {
                written.extend_from_slice(bytes);
            }
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_access_line_is_the_json_formatters_line() {
        let fast = access_line_of(true);
        assert_eq!(fast, access_line_of(false));
        assert_eq!(fast["url.path"], "/graph\"ql");
        assert_eq!(fast["duration_ms"], 1.25);
        assert_eq!(fast["bytes"], 14_617);
        assert!(fast.get("graphql.operation.name").is_none(), "{fast}");
    }

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
