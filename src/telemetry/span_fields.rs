//! A span's fields as JSON log lines show them, kept as recorded and
//! written out only when a line inside the span is. Most spans end with
//! no line inside them (a cached answer's request span always does), and
//! formatting the request span's fields as JSON when it was made and when
//! its caller was recorded cost a cached answer about 5,000 instructions
//! at `info`; keeping them is a copy.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};

use crate::json_text::{write_bool, write_f64, write_i64, write_json_str, write_key, write_u64};

/// What makes a span's kept values be copied into a text of their own:
/// a field recorded again and again leaves its old values behind.
const COMPACT_ABOVE_BYTES: usize = 16 * 1024;

/// What a span's values are made room for, per field it declares (the
/// request span's take about half that).
const VALUE_BYTES_PER_FIELD: usize = 16;

/// A span's fields: each name once, with the value it was last given.
#[derive(Debug, Default)]
pub(super) struct SpanFields {
    /// Every kept value's text, one after another.
    values: String,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    name: &'static str,
    form: Form,
    start: usize,
    end: usize,
}

/// How a kept value is written into a line.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Form {
    /// A JSON string, escaped as it is written.
    Text,
    /// A number, `true`, `false` or `null`, written as it is.
    Literal,
}

impl SpanFields {
    /// The fields a span was made with.
    pub(super) fn made_with(attributes: &tracing::span::Attributes<'_>) -> Self {
        // Made at their size: grown from empty, they were six reallocations
        // per request span, 3,000 instructions.
        let declared = attributes.metadata().fields().len();
        let mut kept = Self {
            values: String::with_capacity(declared * VALUE_BYTES_PER_FIELD),
            entries: Vec::with_capacity(declared),
        };
        attributes.record(&mut Keeping {
            kept: &mut kept,
            replacing: false,
        });
        kept
    }

    /// Fields recorded later: a name already kept takes the new value.
    pub(super) fn record(&mut self, values: &tracing::span::Record<'_>) {
        values.record(&mut Keeping {
            kept: self,
            replacing: true,
        });
        self.bound();
    }

    /// Copies the current values into a text of their own once old ones
    /// take more than `COMPACT_ABOVE_BYTES` and half the text.
    fn bound(&mut self) {
        if self.values.len() <= COMPACT_ABOVE_BYTES {
            return;
        }
        let current: usize = self
            .entries
            .iter()
            .map(|entry| entry.end - entry.start)
            .sum();
        if self.values.len() > 2 * current {
            self.compact();
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The text of the string field `name`, when it needs no escaping and
    /// is only letters and digits (as ids are).
    pub(super) fn plain(&self, name: &str) -> Option<&str> {
        let entry = self.entries.iter().find(|entry| entry.name == name)?;
        let value = self.values.get(entry.start..entry.end)?;
        let plain = entry.form == Form::Text
            && !value.is_empty()
            && value.bytes().all(|byte| byte.is_ascii_alphanumeric());
        plain.then_some(value)
    }

    /// `"name":value` pairs, comma-separated, in the order of their names
    /// (the order tracing-subscriber's JSON lines give a span's fields).
    pub(super) fn write_pairs(&self, out: &mut String) -> fmt::Result {
        let mut sorted: Vec<&Entry> = self.entries.iter().collect();
        sorted.sort_unstable_by_key(|entry| entry.name);
        for (index, entry) in sorted.into_iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            write_key(out, entry.name)?;
            let value = self.values.get(entry.start..entry.end).unwrap_or_default();
            match entry.form {
                Form::Text => write_json_str(out, value)?,
                Form::Literal => out.push_str(value),
            }
        }
        Ok(())
    }

    /// Keeps `value` under `name`, written by `write`.
    fn keep(
        &mut self,
        name: &'static str,
        form: Form,
        replacing: bool,
        write: impl FnOnce(&mut String),
    ) {
        let start = self.values.len();
        write(&mut self.values);
        let entry = Entry {
            name,
            form,
            start,
            end: self.values.len(),
        };
        let kept = replacing
            .then(|| self.entries.iter_mut().find(|kept| kept.name == name))
            .flatten();
        match kept {
            Some(kept) => *kept = entry,
            None => self.entries.push(entry),
        }
    }

    /// The current values copied into a text of their own.
    fn compact(&mut self) {
        let current = self.entries.iter().map(|entry| entry.end - entry.start);
        let mut values = String::with_capacity(current.sum());
        for entry in &mut self.entries {
            let value = self.values.get(entry.start..entry.end).unwrap_or_default();
            entry.start = values.len();
            values.push_str(value);
            entry.end = values.len();
        }
        self.values = values;
    }
}

/// Copies each value visited into `kept`.
struct Keeping<'a> {
    kept: &'a mut SpanFields,
    replacing: bool,
}

impl Keeping<'_> {
    fn keep(&mut self, field: &Field, form: Form, write: impl FnOnce(&mut String)) {
        // tracing-log's `log.*` fields are metadata, which lines skip.
        if !field.name().starts_with("log.") {
            (self.kept).keep(field.name(), form, self.replacing, write);
        }
    }
}

impl Visit for Keeping<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.keep(field, Form::Text, |values| values.push_str(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.keep(field, Form::Text, |values| {
            let _infallible = write!(values, "{value:?}");
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.keep(field, Form::Literal, |values| write_i64(values, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.keep(field, Form::Literal, |values| write_u64(values, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.keep(field, Form::Literal, |values| write_bool(values, value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.keep(field, Form::Literal, |values| write_f64(values, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_recorded_again_keeps_one_value_and_a_bounded_text() {
        let mut fields = SpanFields::default();
        fields.keep("team", Form::Text, false, |values| values.push_str("ops"));
        for round in 0..10_000_u64 {
            fields.keep("count", Form::Literal, true, |values| {
                write_u64(values, round)
            });
            fields.bound();
        }
        assert!(
            fields.values.len() <= COMPACT_ABOVE_BYTES,
            "{}",
            fields.values.len()
        );
        let mut pairs = String::new();
        fields.write_pairs(&mut pairs).expect("written");
        assert_eq!(pairs, r#""count":9999,"team":"ops""#);
        assert_eq!(fields.plain("team"), Some("ops"));
        assert_eq!(fields.plain("count"), None, "a number is not an id");
    }
}
