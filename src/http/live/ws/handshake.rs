//! The WebSocket handshake on `/graphql` (RFC 6455): the origin and the
//! places for sockets not yet authenticated checked, the upgrade's headers
//! read, `graphql-transport-ws` agreed when offered, and permessage-deflate
//! (RFC 7692) agreed when the client offers it and `server.compression` is
//! on. Compressed connections keep no deflate context between messages
//! either way, so a socket holds deflate state only while a message is
//! being compressed or inflated: the state comes from one pool shared by
//! every connection, bounded by the cores.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::Response;
use tokio::sync::OwnedSemaphorePermit;

use super::super::protocol::PROTOCOL;
use super::{AppState, serve};
use crate::admission::Refusal;
use crate::graphql::{ErrorCode, RequestIds};
use crate::http::answer::Refused;
use crate::http::header_list;
use crate::settings::ServerSettings;

/// What a socket's read and write buffers start with: messages are
/// small; a buffer grows for a larger frame and shrinks back after it.
const SOCKET_BUFFER: usize = 8 * 1024;

/// What every connection is opened with.
#[derive(Clone)]
pub(in crate::http) struct SocketOptions(yawc::Options);

impl SocketOptions {
    /// Messages up to `server.body_limit_bytes`, and deflate at its
    /// fastest level for messages from `server.compression_min_bytes`.
    pub(in crate::http) fn new(server: &ServerSettings) -> Self {
        let bound = server.body_limit_bytes.saturating_add(1);
        let options = yawc::Options::default()
            .with_limits(bound, bound)
            .with_read_buffer_capacity(SOCKET_BUFFER)
            .with_write_buffer_capacity(SOCKET_BUFFER);
        if !server.compression {
            return Self(options.without_compression());
        }
        let cores = std::thread::available_parallelism().map_or(4, std::num::NonZero::get);
        Self(
            options
                .with_low_latency_compression()
                .server_no_context_takeover()
                .client_no_context_takeover()
                .with_deflate_pool(yawc::DeflatePool::new(cores))
                .with_compression_threshold(server.compression_min_bytes),
        )
    }

    /// A connection's own copy (the pool is shared).
    pub(in crate::http) fn options(&self) -> yawc::Options {
        self.0.clone()
    }
}

/// `GET /graphql` with `Upgrade: websocket`: the origin is checked as CORS
/// would, then the connection speaks `graphql-transport-ws`.
/// The socket keeps `slot`, its connection's place under
/// `server.max_connections`, for as long as it lives; until it has
/// authenticated it also holds one of the few places for sockets that
/// have not (a tenth of `server.max_connections`).
pub(in crate::http) async fn upgrade(
    state: AppState,
    ids: RequestIds,
    mut parts: Parts,
    slot: Option<OwnedSemaphorePermit>,
) -> Response {
    let headers = &parts.headers;
    if let Some(origin) = headers.get(header::ORIGIN)
        && !state.origins.allow(origin, headers)
    {
        let message = "this origin may not open a WebSocket here (server.cors_origins)";
        return Refusal::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
            .answering(headers);
    }
    let asked = match read(&mut parts).await {
        Ok(asked) => asked,
        Err(refused) => return refused.answering(&parts.headers),
    };
    let Ok(unauthenticated) = Arc::clone(&state.unauthenticated_sockets).try_acquire_owned() else {
        let message = "too many WebSocket connections are waiting to authenticate; retry shortly";
        return Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::RateLimited,
            message,
        )
        .retry_after(Duration::from_secs(1))
        .answering(&parts.headers);
    };
    let Ok((answer, upgraded)) = asked.upgrade.upgrade(state.websocket.options()) else {
        return Refusal::bad_request("the WebSocket extensions offered could not be agreed")
            .answering(&parts.headers);
    };
    let mut answer = answer.map(axum::body::Body::new);
    if asked.speaks_protocol {
        let protocol = HeaderValue::from_static(PROTOCOL);
        answer
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    let streams = state.streams.clone();
    let speaks_protocol = asked.speaks_protocol;
    streams.spawn(async move {
        let _slot = slot;
        if let Ok(socket) = upgraded.await {
            serve(state, ids, (socket, speaks_protocol), unauthenticated).await;
        }
    });
    answer
}

/// An upgrade the client asked for, ready to be answered.
struct Asked {
    upgrade: yawc::IncomingUpgrade,
    /// Whether the client offered `graphql-transport-ws`.
    speaks_protocol: bool,
}

/// Reads the upgrade `parts` ask for, else the refusal naming what is
/// missing.
async fn read(parts: &mut Parts) -> Result<Asked, Refusal> {
    let connection_upgrades = header_list(&parts.headers, header::CONNECTION)
        .any(|token| token.eq_ignore_ascii_case("upgrade"));
    if !connection_upgrades {
        return Err(Refusal::bad_request(
            "a WebSocket upgrade needs `Connection: Upgrade`",
        ));
    }
    decline_unhonourable_deflate(&mut parts.headers);
    let speaks_protocol =
        header_list(&parts.headers, header::SEC_WEBSOCKET_PROTOCOL).any(|name| name == PROTOCOL);
    let upgrade =
        <yawc::IncomingUpgrade as axum::extract::FromRequestParts<()>>::from_request_parts(
            parts,
            &(),
        )
        .await
        .map_err(|_| {
            Refusal::bad_request(
                "a WebSocket upgrade needs `Sec-WebSocket-Key` and `Sec-WebSocket-Version: 13`",
            )
        })?;
    Ok(Asked {
        upgrade,
        speaks_protocol,
    })
}

/// The gateway's deflate always uses a 32 KiB window (15 bits): an offer
/// that asks for a smaller one (`server_max_window_bits`) is declined, as
/// RFC 7692 §7.1.2.1 wants, by answering without the extension.
fn decline_unhonourable_deflate(headers: &mut HeaderMap) {
    let asks_small_window = header_list(headers, header::SEC_WEBSOCKET_EXTENSIONS).any(|offer| {
        offer.split(';').map(str::trim).any(|parameter| {
            let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
            name.trim() == "server_max_window_bits" && value.trim().trim_matches('"') != "15"
        })
    });
    if asks_small_window {
        headers.remove(header::SEC_WEBSOCKET_EXTENSIONS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(extensions: &str) -> Option<String> {
        let mut headers = HeaderMap::new();
        let value = extensions.parse().expect("a header value");
        headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, value);
        decline_unhonourable_deflate(&mut headers);
        let kept = headers.get(header::SEC_WEBSOCKET_EXTENSIONS)?;
        Some(kept.to_str().expect("text").to_owned())
    }

    #[test]
    fn a_deflate_offer_is_kept_unless_it_asks_for_a_smaller_window() {
        let browsers = "permessage-deflate; client_max_window_bits";
        assert_eq!(offered(browsers).as_deref(), Some(browsers));
        let full_window = "permessage-deflate; server_max_window_bits=15";
        assert_eq!(offered(full_window).as_deref(), Some(full_window));
        assert_eq!(
            offered("permessage-deflate; server_max_window_bits=10"),
            None
        );
        assert_eq!(
            offered("permessage-deflate; server_max_window_bits = \"9\""),
            None
        );
        assert_eq!(offered("permessage-deflate; server_max_window_bits"), None);
    }
}
