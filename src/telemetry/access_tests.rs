//! The access line written directly against the JSON layer's line for
//! its event, and the filter's say over it read without an event.

use std::sync::{Arc, Mutex};

use axum::http::HeaderValue;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer as _};

use super::*;
use crate::telemetry::json_lines::JsonLines;

/// A request as two lines tell it: `team`, the operation and the trace
/// id are there or not with `full`.
fn line(full: bool) -> Line<'static> {
    static POST: Method = Method::POST;
    let note = Note {
        team: full.then(|| "ops".to_owned()),
        operation: full.then(|| "team/Fleet \"x\"".to_owned()),
    };
    Line {
        request_id: "AbC123",
        trace_id: full.then_some("0af7651916cd43dd8448eb211c80319c"),
        method: &POST,
        path: "/graph\"ql",
        status: StatusCode::OK,
        took: Duration::from_micros(1_250),
        note,
    }
}

/// What the JSON layer writes for the line's event.
fn through_the_layer(line: Line<'static>, headers: &HeaderMap) -> String {
    let written = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&written);
    let writer = move || Captured(Arc::clone(&sink));
    let subscriber = tracing_subscriber::registry().with(JsonLines::new(Arc::new(writer)));
    tracing::subscriber::with_default(subscriber, || {
        line.write(headers, &axum::body::Body::empty())
    });
    let bytes = written
        .lock()
        .map(|bytes| bytes.clone())
        .unwrap_or_default();
    String::from_utf8(bytes).expect("UTF-8")
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
fn the_direct_access_line_is_the_json_layers_line_for_its_event() {
    for full in [true, false] {
        let mut headers = HeaderMap::new();
        if full {
            headers.insert(RESPONSE_CACHE, HeaderValue::from_static("hit"));
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("14617"));
        }
        let through_tracing = through_the_layer(line(full), &headers);
        // The length, else the body's exact size (an empty body's is 0).
        let (cache, bytes) = if full { ("hit", 14_617) } else { ("", 0) };
        let mut direct = String::new();
        line(full)
            .write_json(cache, Some(bytes), &mut direct)
            .expect("written");
        let after_timestamp = |line: &str| {
            line.split_once(",\"level\"")
                .map(|(_, rest)| rest.to_owned())
        };
        assert!(after_timestamp(&direct).is_some(), "{direct}");
        assert_eq!(
            after_timestamp(&direct),
            after_timestamp(&through_tracing),
            "\n{direct}{through_tracing}"
        );
        let read: serde_json::Value = serde_json::from_str(&direct).expect("one JSON line");
        assert_eq!(read["url.path"], "/graph\"ql");
        assert_eq!(read["duration_ms"], 1.25);
        assert_eq!(read.get("team").is_some(), full, "{read}");
    }
}

#[test]
fn the_filter_is_read_as_an_event_would_meet_it_or_not_at_all() {
    let passes_as_an_event = |text: &str| {
        let seen = Arc::new(Mutex::new(false));
        let mark = Arc::clone(&seen);
        let writer = move || Marked(Arc::clone(&mark));
        let lines = JsonLines::new(Arc::new(writer));
        let subscriber =
            tracing_subscriber::registry().with(lines.with_filter(EnvFilter::new(text)));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: TARGET, "access");
        });
        seen.lock().map(|seen| *seen).unwrap_or_default()
    };
    for text in [
        "info",
        "warn",
        "",
        "off",
        "access=off,info",
        "error,access=info",
        "info,remotepc_gateway=debug",
        "acc=info",
        "access=trace",
        "debug,access=warn",
    ] {
        assert_eq!(
            super::super::access_lines_pass(text),
            Some(passes_as_an_event(text)),
            "{text:?}"
        );
    }
    for span_or_field in ["[request]=debug", "info,access[{x}]=off"] {
        assert_eq!(
            super::super::access_lines_pass(span_or_field),
            None,
            "{span_or_field}"
        );
    }
}

struct Marked(Arc<Mutex<bool>>);

impl std::io::Write for Marked {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut seen) = self.0.lock() {
            *seen = true;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
