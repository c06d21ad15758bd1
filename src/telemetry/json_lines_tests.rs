//! The gateway's lines against tracing-subscriber's JSON lines for the
//! same events, both layers under one subscriber.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

use super::*;

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Lines {
    fn text(&self) -> String {
        let bytes = self.0.lock().map(|bytes| bytes.clone()).unwrap_or_default();
        String::from_utf8(bytes).expect("UTF-8 lines")
    }
}

impl std::io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut lines) = self.0.lock() {
            lines.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Each line `emit` logs, as the gateway writes it and as
/// tracing-subscriber's JSON format does.
fn both_lines(emit: impl FnOnce()) -> Vec<(String, String)> {
    let (ours, stock) = (Lines::default(), Lines::default());
    let (our_sink, stock_sink) = (ours.clone(), stock.clone());
    let stock_layer = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
        .with_writer(move || stock_sink.clone());
    let subscriber = tracing_subscriber::registry()
        .with(JsonLines::new(Arc::new(move || our_sink.clone())))
        .with(stock_layer);
    tracing::subscriber::with_default(subscriber, emit);
    let (ours, stock) = (ours.text(), stock.text());
    assert!(ours.ends_with('\n'), "{ours}");
    let pairs: Vec<(String, String)> = ours
        .lines()
        .zip(stock.lines())
        .map(|(ours, stock)| (ours.to_owned(), stock.to_owned()))
        .collect();
    assert_eq!(pairs.len(), stock.lines().count(), "{ours}\n{stock}");
    pairs
}

/// `line` read, without its timestamp (which is checked) and, for ours,
/// the hoisted ids (given back).
fn read(line: &str, hoisted: &[&str]) -> (Value, Vec<(String, Value)>) {
    let mut value: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("JSON: {line}"));
    let object = value.as_object_mut().expect("an object");
    let timestamp = object.remove("timestamp");
    let timestamp = timestamp
        .as_ref()
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert!(timestamp.ends_with('Z') && timestamp.len() == 27, "{line}");
    let ids = hoisted
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), object.remove(*name)?)))
        .collect();
    (value, ids)
}

#[test]
fn lines_are_the_json_formats_lines_with_the_request_ids_first() {
    let lines = both_lines(|| {
        tracing::info!(
            ratio = 0.5,
            whole = 2.0,
            count = 3_u64,
            below = -2_i64,
            flag = true,
            text = "say \"hi\"\n\u{1}",
            shown = %"dis\"play",
            nan = f64::NAN,
            "outside {}",
            1
        );
        let request = tracing::info_span!(
            "request",
            request_id = "AbC123",
            trace_id = "0af7651916cd43dd8448eb211c80319c",
            url.path = "/graph\"ql",
            zeta = 1_u64,
            team = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        request.record("team", "ops");
        request.record("status", 200_u64);
        request.record("status", 503_u64);
        request.in_scope(|| {
            tracing::warn!("in the request");
            let inner = tracing::debug_span!("graphql.validate", depth = 3_i64, why = ?Some("x"));
            inner.in_scope(|| tracing::error!(code = "E\t1", "nested"));
            tracing::info_span!("bare").in_scope(|| tracing::info!("no fields"));
        });
        tracing::info!(target: "access", request_id = "AbC123", bytes = 14_617_u64, "access");
    });
    assert_eq!(lines.len(), 5);
    let ids: [&[(&str, &str)]; 5] = [
        &[],
        &[
            ("request_id", "AbC123"),
            ("trace_id", "0af7651916cd43dd8448eb211c80319c"),
        ],
        &[
            ("request_id", "AbC123"),
            ("trace_id", "0af7651916cd43dd8448eb211c80319c"),
        ],
        &[
            ("request_id", "AbC123"),
            ("trace_id", "0af7651916cd43dd8448eb211c80319c"),
        ],
        &[],
    ];
    for ((ours, stock), ids) in lines.iter().zip(ids) {
        let names: Vec<&str> = ids.iter().map(|(name, _)| *name).collect();
        let (ours_read, hoisted) = read(ours, &names);
        let (stock_read, _) = read(stock, &[]);
        assert_eq!(ours_read, stock_read, "\nours:  {ours}\nstock: {stock}");
        let expected: Vec<(String, Value)> = ids
            .iter()
            .map(|(name, value)| ((*name).to_owned(), Value::from(*value)))
            .collect();
        assert_eq!(hoisted, expected, "{ours}");
        let first = ids.first().map_or("\"timestamp\"", |_| "\"request_id\"");
        assert!(ours.starts_with(&format!("{{{first}")), "{ours}");
        let after_level = |line: &str| {
            line.split_once(",\"level\"")
                .map(|(_, rest)| rest.to_owned())
        };
        assert_eq!(
            after_level(ours),
            after_level(stock),
            "the same text after the timestamp"
        );
    }
    let request_line: Value = serde_json::from_str(&lines[1].0).expect("JSON");
    assert_eq!(request_line["spans"][0]["status"], 503, "the last value");
    assert_eq!(request_line["spans"][0]["url.path"], "/graph\"ql");
}

#[test]
fn ids_that_need_escaping_stay_in_the_span_only() {
    let lines = both_lines(|| {
        let request = tracing::info_span!("request", request_id = "a\"b", trace_id = 7_u64);
        request.in_scope(|| tracing::info!("inside"));
    });
    let (ours, stock) = &lines[0];
    assert!(ours.starts_with("{\"timestamp\""), "{ours}");
    assert_eq!(read(ours, &[]).0, read(stock, &[]).0);
}
