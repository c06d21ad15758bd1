//! Span fields for JSON log lines, kept as a JSON object that a recorded
//! field is appended to. tracing-subscriber's own `JsonFields` parses and
//! re-serializes every field of a span each time one is recorded: with the
//! request span's dozen fields that was a third of a cached answer's
//! instructions (`scripts/instructions.sh` at `info`). Log lines are
//! unchanged: the JSON formatter reads the object back when it writes one.

use std::cell::RefCell;
use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::format::Writer;

/// What the per-thread buffer a span's fields are written into keeps.
const SCRATCH_BYTES: usize = 1024;

/// Has `fill` write into a per-thread buffer, then writes the buffer to
/// `out` at once. Writing to a `String` directly is a fraction of the cost
/// of the formatter's `Writer`, which reaches its string through a dynamic
/// call per piece (each field is eight pieces), and a new span's string is
/// then allocated once, at its size. Re-entered (a field's `Debug` that
/// logs), `fill` writes into a string of its own.
pub(super) fn buffered(
    out: &mut impl Write,
    fill: impl FnOnce(&mut String) -> fmt::Result,
) -> fmt::Result {
    thread_local! {
        static SCRATCH: RefCell<String> = RefCell::new(String::with_capacity(SCRATCH_BYTES));
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => {
            scratch.clear();
            let written = fill(&mut scratch).and_then(|()| out.write_str(&scratch));
            // A line or span with a huge field does not keep its size here.
            scratch.shrink_to(4 * SCRATCH_BYTES);
            written
        }
        Err(_) => {
            let mut own = String::new();
            fill(&mut own)?;
            out.write_str(&own)
        }
    })
}

/// Formats span fields as `{"name":value,…}`, appending on record.
#[derive(Debug, Default)]
pub(super) struct AppendedJsonFields;

impl<'writer> FormatFields<'writer> for AppendedJsonFields {
    /// Written whole into a per-thread buffer first (`buffered`): the
    /// request span's ~600 bytes were grown by doubling through seven
    /// reallocations.
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        buffered(&mut writer, |out| write_object(out, fields))
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        if !current.fields.ends_with('}') {
            current.fields.clear();
            return self.format_fields(current.as_writer(), fields);
        }
        current.fields.pop();
        let first = current.fields.len() == 1;
        let mut visitor = Pairs {
            out: &mut current.fields,
            first,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        let result = visitor.result;
        current.fields.push('}');
        result
    }
}

/// `fields` as a JSON object.
fn write_object<R: RecordFields>(out: &mut impl Write, fields: R) -> fmt::Result {
    out.write_char('{')?;
    let mut visitor = Pairs {
        out,
        first: true,
        result: Ok(()),
    };
    fields.record(&mut visitor);
    visitor.result?;
    out.write_char('}')
}

/// An event's fields as `"name":value` pairs, comma-separated, as the
/// JSON formatter flattens them.
pub(super) fn write_event_fields(out: &mut impl Write, event: &tracing::Event<'_>) -> fmt::Result {
    let mut visitor = Pairs {
        out,
        first: true,
        result: Ok(()),
    };
    event.record(&mut visitor);
    visitor.result
}

/// Writes `"name":value` pairs, comma-separated.
struct Pairs<'a, W: Write> {
    out: &'a mut W,
    first: bool,
    result: fmt::Result,
}

impl<W: Write> Pairs<'_, W> {
    fn pair(&mut self, field: &Field, write: impl FnOnce(&mut W) -> fmt::Result) {
        // tracing-log's `log.*` fields are metadata, as JsonFields skips them.
        if self.result.is_err() || field.name().starts_with("log.") {
            return;
        }
        let separator = if self.first { "" } else { "," };
        self.first = false;
        self.result = self
            .out
            .write_str(separator)
            .and_then(|()| write_json_str(self.out, field.name()))
            .and_then(|()| self.out.write_char(':'))
            .and_then(|()| write(self.out));
    }
}

impl<W: Write> Visit for Pairs<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.pair(field, |out| write_json_str(out, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.pair(field, |out| {
            out.write_char('"')?;
            write!(Escaping(out), "{value:?}")?;
            out.write_char('"')
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.pair(field, |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.pair(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.pair(field, |out| write!(out, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.pair(field, |out| write!(out, "{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }
}

/// `text` as a JSON string.
fn write_json_str(out: &mut impl Write, text: &str) -> fmt::Result {
    out.write_char('"')?;
    write_escaped(out, text)?;
    out.write_char('"')
}

/// `text` escaped for the inside of a JSON string. Nearly every text (ids,
/// paths, names) needs nothing escaped: that is checked over the whole
/// text first, eight bytes at a time, and the text written in one piece. Otherwise it is scanned by byte: every character JSON escapes is
/// ASCII, so a byte that needs it is a whole character and the runs
/// between them are valid UTF-8 (byte by byte, log lines were 8,000
/// instructions of a cached answer at `info`).
fn write_escaped(out: &mut impl Write, text: &str) -> fmt::Result {
    if crate::json_text::needs_no_escape(text.as_bytes()) {
        return out.write_str(text);
    }
    let mut run = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.write_str(text.get(run..index).unwrap_or_default())?;
        if escape.is_empty() {
            write!(out, "\\u{byte:04x}")?;
        } else {
            out.write_str(escape)?;
        }
        run = index + 1;
    }
    out.write_str(text.get(run..).unwrap_or_default())
}

/// Escapes what is written through it, so that a `Debug` or `Display`
/// value goes into a JSON string without a string of its own.
struct Escaping<'a, W: Write>(&'a mut W);

impl<W: Write> Write for Escaping<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        write_escaped(self.0, text)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn strings_are_escaped_as_json_reads_them_back() {
        for text in [
            "plain",
            "quote \" and \\ back",
            "line\nfeed\r\t",
            "\u{1}\u{1f}bell",
            "héllo → 😀",
            "",
        ] {
            let mut written = String::new();
            write_json_str(&mut written, text).expect("written");
            let read: String = serde_json::from_str(&written).expect("a JSON string");
            assert_eq!(read, text, "{written}");
        }
    }

    #[test]
    fn recorded_fields_join_the_span_in_valid_json_log_lines() {
        let lines = Lines::default();
        let writer = lines.clone();
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .fmt_fields(AppendedJsonFields)
            .with_writer(move || writer.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                request_id = "r1",
                quoted = "say \"hi\"\n\u{1}",
                shown = %"dis\"play\n",
                count = 3_u64,
                team = tracing::field::Empty,
                later = tracing::field::Empty,
            );
            span.record("team", "ops");
            span.record("later", -2_i64);
            let _entered = span.enter();
            tracing::info!(ratio = 0.5, "inside");
        });
        let text = String::from_utf8(lines.0.lock().expect("lines").clone()).expect("UTF-8");
        let line: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
        let span = &line["spans"][0];
        assert_eq!(span["request_id"], "r1", "{line}");
        assert_eq!(span["quoted"], "say \"hi\"\n\u{1}", "{line}");
        assert_eq!(span["shown"], "dis\"play\n", "{line}");
        assert_eq!(span["count"], 3);
        assert_eq!(span["team"], "ops");
        assert_eq!(span["later"], -2);
        assert_eq!(line["message"], "inside");
    }
}
