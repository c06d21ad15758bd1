//! Every request gets the gateway's own id: in `x-request-id` on every
//! answer (refusals and preflights included), in every log line of the
//! request, and in audit records. A client's `x-request-id` is kept beside
//! it as the client's word, never as the id. The request's trace (the
//! caller's `traceparent`, or a new one) is continued here: its id is in
//! the span, so in every log line, and goes back as `traceresponse`. The
//! same layer writes each answer's access line (`access`; server errors
//! also at `error`) and sets `Vary`.

use std::cell::Cell;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use rand::Rng;
use tracing::{Instrument, Span};

use crate::graphql::RequestIds;
use crate::telemetry::access::{self, Line};
use crate::telemetry::trace_context::TraceHex;
use crate::telemetry::{self, trace_context};

/// The header both ways.
pub(super) const REQUEST_ID: &str = "x-request-id";
/// Header names made once, not parsed from text on every answer.
const REQUEST_ID_NAME: HeaderName = HeaderName::from_static(REQUEST_ID);
const TRACE_RESPONSE_NAME: HeaderName = HeaderName::from_static(trace_context::TRACE_RESPONSE);

/// Whether each answer gets an access line (`log.access`).
#[derive(Debug, Clone, Copy)]
pub(super) struct AccessLog(pub(super) bool);

/// Gives the request its ids and runs it inside a span that carries them
/// (as middleware: the admin address's).
pub(super) async fn assign(
    State(access_log): State<AccessLog>,
    request: Request,
    next: Next,
) -> Response {
    identified(access_log, request, |request| next.run(request)).await
}

/// Gives `request` its ids and has `answer` answer it inside a span that
/// carries them; writes the access line and the ids' headers.
pub(super) async fn identified<F, A>(
    AccessLog(access_log): AccessLog,
    mut request: Request,
    answer: F,
) -> Response
where
    F: FnOnce(Request) -> A,
    A: Future<Output = Response>,
{
    let ids = request_ids(&request);
    let incoming = trace_context::incoming(request.headers());
    let span = request_span(&request, &ids, incoming.trace_id());
    let trace_response = trace_context::continue_trace(incoming, &span);
    let id = ids.id.clone();
    request.extensions_mut().insert(ids);
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let started = Instant::now();
    // Boxed: the answer's future is most of this one's size, and each
    // layer that holds it (the note's scope, the span, the connection's
    // box) would otherwise copy all of it as it is moved in.
    let answering = Box::pin(answer(request).instrument(span.clone()));
    let (mut response, note) = access::noting(answering).await;
    let status = response.status().as_u16();
    if telemetry::exporting() {
        span.record("http.response.status_code", i64::from(status));
    }
    let took = started.elapsed();
    if response.status().is_server_error() {
        let latency_ms = took.as_secs_f64() * 1000.0;
        span.in_scope(|| {
            tracing::error!(%method, path = uri.path(), status, latency_ms, "answered with a server error");
        });
    }
    if access_log {
        let trace_id = trace_response
            .as_ref()
            .and_then(|value| value.to_str().ok()?.split('-').nth(1));
        let line = Line {
            request_id: &id,
            trace_id,
            method: &method,
            path: uri.path(),
            status: response.status(),
            took,
            note,
        };
        line.write(response.headers(), response.body());
    }
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID_NAME, value);
    }
    if let Some(value) = trace_response {
        headers.insert(TRACE_RESPONSE_NAME, value);
    }
    // What CORS answers depend on, set once here rather than joined by
    // the CORS layer for every response.
    headers.append(header::VARY, HeaderValue::from_static(VARY));
    response
}

/// A new id for `request`, and the client's own when it is plausible.
fn request_ids(request: &Request) -> RequestIds {
    let client = (request.headers().get(REQUEST_ID_NAME))
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            (1..=128).contains(&id.len()) && id.bytes().all(|byte| byte.is_ascii_graphic())
        })
        .map(str::to_owned);
    RequestIds {
        id: new_id(),
        client,
    }
}

/// The span `request` runs in. Fields are given as text where they can
/// be: a `Display` value goes through `fmt` for the log line.
fn request_span(request: &Request, ids: &RequestIds, trace_id: Option<TraceHex>) -> Span {
    tracing::info_span!(
        "request",
        otel.kind = "server",
        request_id = ids.id.as_str(),
        client_request_id = ids.client.as_deref().unwrap_or(""),
        trace_id = trace_id.as_ref().map(TraceHex::as_str),
        team = tracing::field::Empty,
        subject = tracing::field::Empty,
        http.request.method = request.method().as_str(),
        url.path = request.uri().path(),
        url.scheme = "http",
        server.address = server_address(request),
        http.response.status_code = tracing::field::Empty,
        graphql.operation.name = tracing::field::Empty,
        graphql.operation.type = tracing::field::Empty,
    )
}

/// The host the client addressed (`Host`, or the URI's authority),
/// without its port: OpenTelemetry's `server.address`.
fn server_address(request: &Request) -> &str {
    let authority = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| request.uri().host());
    authority
        .map(|authority| match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|byte| byte.is_ascii_digit()) => host,
            _ => authority,
        })
        .unwrap_or_default()
}

const VARY: &str = "origin, access-control-request-method, access-control-request-headers";

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// 20 alphanumeric characters (~119 bits) from a per-thread wyrand
/// generator seeded by the OS: unique, not secret (ids are shown to
/// clients and logged), and a fraction of the cost of the cryptographic
/// generator, which was visible in a cached answer's profile.
fn new_id() -> String {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(rand::rng().random());
    }
    STATE.with(|state| {
        let next = || {
            let seed = state.get().wrapping_add(0xa076_1d64_78bd_642f);
            state.set(seed);
            let product = u128::from(seed) * u128::from(seed ^ 0xe703_7ed1_a0b4_28db);
            (product >> 64) as u64 ^ product as u64
        };
        let mut bits = [next(), next()];
        let mut id = [0_u8; 20];
        for (index, byte) in id.iter_mut().enumerate() {
            let word = &mut bits[index / 10];
            *byte = ALPHABET[(*word & 0x3f) as usize % ALPHABET.len()];
            *word >>= 6;
        }
        // Written as bytes: collected char by char, it was 500 instructions.
        std::str::from_utf8(&id).unwrap_or_default().to_owned()
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_are_twenty_alphanumerics_and_do_not_repeat() {
        let ids: HashSet<String> = (0..10_000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(
            ids.iter().all(|id| {
                id.len() == 20 && id.bytes().all(|byte| byte.is_ascii_alphanumeric())
            })
        );
    }
}
