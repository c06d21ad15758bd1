//! CORS for browser frontends on other origins: the listed origins (and,
//! for development, any loopback port), the headers client libraries send
//! by default, and a log line naming the setting when an origin is
//! refused, since the browser itself only says "Failed to fetch".

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::request_id;
use crate::settings::ServerSettings;

/// Headers browsers may send without a setting: auth and content
/// negotiation, idempotency and request ids, Apollo Client's
/// `clientAwareness` and operation-name headers, W3C trace context, and
/// the account a person acts on.
const STANDARD_HEADERS: [&str; 15] = [
    "authorization",
    super::ACCOUNT_HEADER,
    "content-type",
    "accept",
    "idempotency-key",
    request_id::REQUEST_ID,
    "apollographql-client-name",
    "apollographql-client-version",
    "x-apollo-operation-name",
    "apollo-require-preflight",
    "traceparent",
    "tracestate",
    // A poller revalidating a GET (`ETag`).
    "if-none-match",
    // MCP clients in a browser (`/mcp`).
    "mcp-protocol-version",
    "mcp-session-id",
];

/// Headers pages may read from answers: ids, retries and quotas, cache
/// and timing, the trace, and where an MCP client in a browser signs the
/// person in.
const EXPOSED: [&str; 10] = [
    request_id::REQUEST_ID,
    "retry-after",
    "etag",
    "idempotent-replayed",
    "ratelimit-policy",
    "ratelimit",
    "x-response-cache",
    "server-timing",
    crate::telemetry::trace_context::TRACE_RESPONSE,
    "www-authenticate",
];

/// Refused origins already logged; bounded so that a scan of made-up
/// origins cannot grow it.
const MAX_LOGGED_ORIGINS: usize = 256;

/// The browser origins that may call the gateway.
#[derive(Clone)]
pub(super) struct Origins {
    allowed: Arc<HashSet<Vec<u8>>>,
    loopback_dev: bool,
    /// Refused origins already logged.
    logged: Arc<Mutex<HashSet<Vec<u8>>>>,
    /// [`EXPOSED`], as the layer writes it.
    exposed: HeaderValue,
}

impl Origins {
    pub(super) fn new(server: &ServerSettings) -> Self {
        Self {
            allowed: Arc::new(
                server
                    .cors_origins
                    .iter()
                    .map(|origin| origin.as_bytes().to_vec())
                    .collect(),
            ),
            loopback_dev: server.cors_allow_loopback_dev,
            logged: Arc::default(),
            exposed: HeaderValue::from_str(&EXPOSED.join(","))
                .expect("EXPOSED holds header names, which are valid header text"),
        }
    }

    /// The CORS headers of an answer that did not pass the layer (a raw
    /// lane hit), as the layer writes them: the page's origin when it is
    /// a listed one, and on every answer, what pages may read.
    pub(super) fn allow_response(&self, request: &HeaderMap, response: &mut HeaderMap) {
        if let Some(origin) = request.get(header::ORIGIN)
            && self.allow(origin, request)
            && self.listed(origin)
        {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
        let exposed = self.exposed.clone();
        response.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed);
    }

    /// Whether a page at `origin` may call: a listed origin, a loopback
    /// one in development, or the gateway's own (GraphiQL). A refusal is
    /// logged once per origin.
    pub(super) fn allow(&self, origin: &HeaderValue, headers: &HeaderMap) -> bool {
        if self.listed(origin) || same_origin(origin, headers) {
            return true;
        }
        log_refusal_once(&self.logged, origin);
        false
    }

    /// A listed origin, or a loopback one in development.
    fn listed(&self, origin: &HeaderValue) -> bool {
        self.allowed.contains(origin.as_bytes())
            || (self.loopback_dev && is_loopback_dev(origin.as_bytes()))
    }
}

/// The CORS layer `server` asks for.
pub(super) fn layer(server: &ServerSettings) -> CorsLayer {
    let origins = Origins::new(server);
    let headers = STANDARD_HEADERS
        .iter()
        .map(|name| name.to_string())
        .chain(
            server
                .cors_allow_headers
                .iter()
                .map(|name| name.trim().to_ascii_lowercase()),
        )
        .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
        .collect::<Vec<_>>();
    CorsLayer::new()
        // Same-origin requests need no CORS headers: only listed origins
        // get them.
        .allow_origin(AllowOrigin::predicate(move |origin, parts| {
            origins.allow(origin, &parts.headers) && origins.listed(origin)
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(headers)
        .expose_headers(EXPOSED.map(HeaderName::from_static))
        .max_age(Duration::from_secs(600))
        // `request_id::identified` sets `Vary` on every answer.
        .vary([])
}

/// `http://localhost:<port>` or `http://127.0.0.1:<port>` (or without a
/// port).
fn is_loopback_dev(origin: &[u8]) -> bool {
    ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|host| match origin.strip_prefix(host.as_bytes()) {
            Some([]) => true,
            Some([b':', port @ ..]) => {
                !port.is_empty() && port.len() <= 5 && port.iter().all(u8::is_ascii_digit)
            }
            _ => false,
        })
}

/// The page was served by the gateway itself (GraphiQL): browsers send
/// `Origin` on its POSTs too, and need no CORS headers for it.
fn same_origin(origin: &HeaderValue, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST) else {
        return false;
    };
    let origin = origin.as_bytes();
    let after_scheme = origin
        .iter()
        .position(|byte| *byte == b'/')
        .map_or(origin, |index| &origin[(index + 2).min(origin.len())..]);
    after_scheme == host.as_bytes()
}

fn log_refusal_once(logged: &Mutex<HashSet<Vec<u8>>>, origin: &HeaderValue) {
    let mut logged = logged
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if logged.len() >= MAX_LOGGED_ORIGINS || !logged.insert(origin.as_bytes().to_vec()) {
        return;
    }
    let origin = String::from_utf8_lossy(origin.as_bytes());
    tracing::warn!(
        %origin,
        "CORS: a browser page at this origin was refused; to allow it, add it to server.cors_origins (GATEWAY__SERVER__CORS_ORIGINS, comma-separated)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_dev_origins_are_any_port_of_localhost_only() {
        for origin in [
            "http://localhost:5173",
            "http://127.0.0.1:3000",
            "http://localhost",
            "http://[::1]:8081",
        ] {
            assert!(is_loopback_dev(origin.as_bytes()), "{origin}");
        }
        for origin in [
            "https://localhost:5173",
            "http://localhost.evil.com",
            "http://localhost:5173.evil.com",
            "http://127.0.0.1:",
            "http://127.0.0.10:80",
            "http://example.com",
        ] {
            assert!(!is_loopback_dev(origin.as_bytes()), "{origin}");
        }
    }
}
