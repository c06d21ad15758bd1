//! W3C trace context at the edges: a request continues the caller's
//! `traceparent`/`tracestate` (or starts a trace), its trace id goes into
//! the request span (so into every log line of the request) and back to the
//! caller as `traceresponse`; calls to RemotePC may carry `traceparent`.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceId};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header the trace id goes back to the caller in.
pub const TRACE_RESPONSE: &str = "traceresponse";

/// The caller's trace context, read before the request's span is made.
pub struct Incoming {
    parent: Context,
    /// Without export, the ids the request goes by, known at once so the
    /// span is created with its `trace_id` rather than recording it later.
    local: Option<SpanContext>,
}

impl Incoming {
    /// The trace id to create the request's span with, when known now.
    pub fn trace_id(&self) -> Option<TraceHex> {
        let local = self.local.as_ref()?;
        Some(TraceHex::of(local.trace_id()))
    }
}

/// Reads `traceparent`/`tracestate`.
pub fn incoming(headers: &HeaderMap) -> Incoming {
    const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
    let parent = if headers.contains_key(TRACEPARENT) {
        TraceContextPropagator::new().extract(&Headers(headers))
    } else {
        Context::new()
    };
    let local = (!super::exporting()).then(|| {
        // Nothing is exported: the ids only tie logs and answers together.
        let ids = RandomIdGenerator::default();
        let remote = parent.span().span_context().clone();
        let (trace_id, flags) = if remote.is_valid() {
            (remote.trace_id(), remote.trace_flags())
        } else {
            (ids.new_trace_id(), TraceFlags::default())
        };
        SpanContext::new(
            trace_id,
            ids.new_span_id(),
            flags,
            false,
            Default::default(),
        )
    });
    Incoming { parent, local }
}

/// Continues the caller's trace in `span` (the request's, just created
/// with `incoming.trace_id()`) and returns the `traceresponse` value:
/// `00-<trace id>-<span id>-<flags>`.
pub fn continue_trace(incoming: Incoming, span: &tracing::Span) -> Option<HeaderValue> {
    let own = match incoming.local {
        Some(local) => local,
        None => {
            let _ = span.set_parent(incoming.parent);
            let own = span.context().span().span_context().clone();
            span.record("trace_id", TraceHex::of(own.trace_id()).as_str());
            own
        }
    };
    if !own.is_valid() {
        return None;
    }
    let mut value = *b"00-________________________________-________________-__";
    crate::digest::write_hex(&mut value[3..35], &own.trace_id().to_bytes());
    crate::digest::write_hex(&mut value[36..52], &own.span_id().to_bytes());
    crate::digest::write_hex(&mut value[53..], &[own.trace_flags().to_u8()]);
    HeaderValue::from_bytes(&value).ok()
}

/// A trace id as its 32 hex digits.
pub struct TraceHex([u8; 32]);

impl TraceHex {
    fn of(trace_id: TraceId) -> Self {
        let mut digits = [b'0'; 32];
        crate::digest::write_hex(&mut digits, &trace_id.to_bytes());
        Self(digits)
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// `traceparent` (and `tracestate`) for a call to RemotePC made inside the
/// current span, when `otel.propagate_upstream` allows it and spans are
/// exported (else there is no span of ours for RemotePC's to hang under).
pub fn outgoing() -> Vec<(HeaderName, HeaderValue)> {
    if !(super::exporting() && super::propagating()) {
        return Vec::new();
    }
    let context = tracing::Span::current().context();
    let mut headers = HeaderMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut Injector(&mut headers));
    headers
        .into_iter()
        .filter_map(|(name, value)| Some((name?, value)))
        .collect()
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct Injector<'a>(&'a mut HeaderMap);

impl opentelemetry::propagation::Injector for Injector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_trace_id_is_kept_and_a_missing_one_is_made() {
        let span = tracing::Span::none();
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        let kept = continue_trace(incoming(&headers), &span).expect("a traceresponse");
        let kept = kept.to_str().expect("ASCII");
        assert!(
            kept.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{kept}"
        );
        assert!(kept.ends_with("-01"), "{kept}");
        assert!(
            !kept.contains("00f067aa0ba902b7"),
            "the gateway's own span id: {kept}"
        );

        headers.insert("traceparent", HeaderValue::from_static("00-not-a-trace-01"));
        let made = continue_trace(incoming(&headers), &span).expect("a traceresponse");
        let parts: Vec<&str> = made.to_str().expect("ASCII").split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!((parts[1].len(), parts[2].len()), (32, 16));
        assert_ne!(parts[1], "0".repeat(32));
    }

    #[test]
    fn ids_are_written_as_fmt_writes_them() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"),
        );
        let incoming = incoming(&headers);
        let local = incoming.local.clone().expect("ids without export");
        let text = incoming.trace_id().expect("a trace id");
        assert_eq!(text.as_str(), "0af7651916cd43dd8448eb211c80319c");
        let response = continue_trace(incoming, &tracing::Span::none()).expect("a traceresponse");
        let expected = format!(
            "00-{}-{}-{:02x}",
            local.trace_id(),
            local.span_id(),
            local.trace_flags().to_u8()
        );
        assert_eq!(response.to_str().ok(), Some(expected.as_str()));
    }
}
