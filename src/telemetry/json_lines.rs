//! JSON log lines, written by a layer of the gateway's own. Each line is
//! what tracing-subscriber's JSON format writes (the event's fields
//! flattened, its target and the list of spans it is in, each with its
//! fields in the order of their names), with the request's ids first: a
//! line written inside a request's span starts with its `request_id` and
//! `trace_id`, where Loki's and Elastic's JSON parsers extract them without
//! walking `spans[]`.
//!
//! tracing-subscriber's layer formats each span's fields as JSON when the
//! span is made, and again when a field is recorded, whether or not a line
//! is ever written inside it; this one keeps them as given (`span_fields`)
//! and writes them only into a line.

use std::cell::RefCell;
use std::fmt::{self, Write};
use std::io::Write as _;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::span_fields::SpanFields;
use crate::json_text::{self, Escaping};

/// The span every request runs in (`http::request_id`).
const REQUEST_SPAN: &str = "request";
/// Its fields written first in every line inside it.
const HOISTED: [&str; 2] = ["request_id", "trace_id"];
/// What the per-thread line buffer keeps between lines.
const LINE_BYTES: usize = 4 * 1024;

/// Writes each event as one JSON line to what `make_writer` makes.
pub(super) struct JsonLines<W> {
    make_writer: Arc<W>,
}

impl<W> JsonLines<W> {
    /// Shared: `access` writes its lines to the same writer.
    pub(super) fn new(make_writer: Arc<W>) -> Self {
        Self { make_writer }
    }
}

impl<S, W> tracing_subscriber::Layer<S> for JsonLines<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut()
                .insert(SpanFields::made_with(attributes));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if let Some(fields) = span.extensions_mut().get_mut::<SpanFields>() {
            fields.record(values);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        with_line_buffer(|line| {
            if write_line(line, event, &ctx).is_ok() {
                let mut writer = self.make_writer.make_writer_for(event.metadata());
                // As tracing-subscriber's layer: a line the writer refuses
                // is lost, and logging goes on.
                let _refused = writer.write_all(line.as_bytes());
            }
        });
    }
}

/// Has `write` fill an empty per-thread line buffer (or, re-entered when a
/// field's `Debug` logs, a string of its own).
pub(super) fn with_line_buffer(write: impl FnOnce(&mut String)) {
    thread_local! {
        static LINE: RefCell<String> = const { RefCell::new(String::new()) };
    }
    LINE.with(|line| match line.try_borrow_mut() {
        Ok(mut line) => {
            line.clear();
            write(&mut line);
            line.shrink_to(LINE_BYTES);
        }
        Err(_) => write(&mut String::new()),
    });
}

/// `event` as one JSON line, its newline included.
fn write_line<S>(line: &mut String, event: &Event<'_>, ctx: &Context<'_, S>) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let normalized = event.normalized_metadata();
    let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
    let spans: Vec<SpanRef<'_, S>> = ctx
        .event_scope(event)
        .map(|scope| scope.from_root().collect())
        .unwrap_or_default();
    line.push('{');
    if let Some(request) = spans.iter().find(|span| span.name() == REQUEST_SPAN) {
        write_hoisted(line, request);
    }
    line.push_str("\"timestamp\":\"");
    super::timestamp::write_now(line)?;
    line.push_str("\",\"level\":\"");
    line.push_str(metadata.level().as_str());
    line.push('"');
    let mut pairs = EventPairs {
        line,
        result: Ok(()),
    };
    event.record(&mut pairs);
    pairs.result?;
    line.push_str(",\"target\":");
    json_text::write_json_str(line, metadata.target())?;
    if !spans.is_empty() {
        line.push_str(",\"spans\":[");
        for (index, span) in spans.iter().enumerate() {
            if index > 0 {
                line.push(',');
            }
            write_span(line, span)?;
        }
        line.push(']');
    }
    line.push_str("}\n");
    Ok(())
}

/// `"request_id":"…","trace_id":"…",` as far as the request has them.
fn write_hoisted<S>(line: &mut String, request: &SpanRef<'_, S>)
where
    S: for<'a> LookupSpan<'a>,
{
    let extensions = request.extensions();
    let Some(fields) = extensions.get::<SpanFields>() else {
        return;
    };
    for name in HOISTED {
        if let Some(value) = fields.plain(name) {
            line.push('"');
            line.push_str(name);
            line.push_str("\":\"");
            line.push_str(value);
            line.push_str("\",");
        }
    }
}

/// `{…fields,"name":"…"}`.
fn write_span<S>(line: &mut String, span: &SpanRef<'_, S>) -> fmt::Result
where
    S: for<'a> LookupSpan<'a>,
{
    line.push('{');
    let extensions = span.extensions();
    if let Some(fields) = extensions.get::<SpanFields>()
        && !fields.is_empty()
    {
        fields.write_pairs(line)?;
        line.push(',');
    }
    line.push_str("\"name\":");
    json_text::write_json_str(line, span.name())?;
    line.push('}');
    Ok(())
}

/// Writes an event's fields as `,"name":value`, as the JSON format
/// flattens them (every field, in the order recorded).
struct EventPairs<'a> {
    line: &'a mut String,
    result: fmt::Result,
}

impl EventPairs<'_> {
    fn pair(&mut self, field: &Field, write: impl FnOnce(&mut String) -> fmt::Result) {
        if self.result.is_ok() {
            self.line.push(',');
            self.result =
                json_text::write_key(self.line, field.name()).and_then(|()| write(self.line));
        }
    }
}

impl Visit for EventPairs<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.pair(field, |line| json_text::write_json_str(line, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.pair(field, |line| {
            line.push('"');
            write!(Escaping(line), "{value:?}")?;
            line.push('"');
            Ok(())
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.pair(field, |line| {
            json_text::write_i64(line, value);
            Ok(())
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.pair(field, |line| {
            json_text::write_u64(line, value);
            Ok(())
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.pair(field, |line| {
            json_text::write_bool(line, value);
            Ok(())
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.pair(field, |line| {
            json_text::write_f64(line, value);
            Ok(())
        });
    }
}

#[cfg(test)]
#[path = "json_lines_tests.rs"]
mod tests;
