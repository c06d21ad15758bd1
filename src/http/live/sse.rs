//! GraphQL over Server-Sent Events, distinct connections mode (the npm
//! `graphql-sse` client): a request to `/graphql` accepting
//! `text/event-stream` is authenticated by its header, admitted as any
//! other, and answered with `next` events and a final `complete`. Each
//! change event's `id:` is its change cursor, and a reconnect's
//! `Last-Event-ID` resumes after it. Refusals after authentication are
//! `next` events too, as the protocol asks; comments keep an idle stream
//! open. Where the client accepts a coding, the stream is compressed, each
//! event flushed as it is sent.

use std::convert::Infallible;

use async_graphql::Request;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{AppState, expiry, too_slow};
use crate::admission::Slot;
use crate::graphql::{RequestIds, ResumeFrom, StreamPosition};
use crate::http::encoding::{Negotiated, set_encoding};
use crate::http::graphql::authenticate;
use crate::http::media::{Preferred, response_json};

/// Events waiting for a client that reads slowly.
const QUEUE: usize = 16;

/// Whether the client prefers an event stream to one response, by the
/// q-values and order of its `Accept` (urql lists `text/event-stream` after
/// the JSON types, and must get JSON).
pub(in crate::http) fn wants_event_stream(headers: &HeaderMap) -> bool {
    Preferred::negotiate(headers) == Some(Preferred::EventStream)
}

/// Runs `request` as an event stream.
pub(in crate::http) async fn respond(
    state: AppState,
    ids: RequestIds,
    (headers, negotiated): (HeaderMap, Negotiated),
    request: Result<Request, String>,
) -> Response {
    let started = std::time::Instant::now();
    let credential = match authenticate(&state, &headers, started).await {
        Ok(credential) => credential,
        Err(refused) => return refused,
    };
    let admitted = match state.admission.admit_stream(&credential, ids, request) {
        Ok((operation, slot, quota)) => quota.settle().await.map(|()| (operation, slot)),
        Err(refused) => Err(refused),
    };
    let (sender, events) = mpsc::channel::<Bytes>(QUEUE);
    match admitted {
        Ok((mut operation, slot)) => {
            let position = StreamPosition::default();
            operation.request = operation.request.data(position.clone());
            if let Some(last) = last_event_id(&headers) {
                operation.request = operation.request.data(ResumeFrom(last));
            }
            let responses = state.operations.subscribe(operation);
            let valid_for = credential.valid_for();
            let stream = Feeding {
                sender,
                position,
                _slot: slot,
            };
            let feeding = feed(state.clone(), responses, stream, valid_for);
            state.streams.spawn(feeding);
        }
        Err(refused) => {
            let body = serde_json::json!({"errors": [refused.into_error()]});
            let _ = sender.try_send(event("next", &body.to_string()));
            let _ = sender.try_send(event("complete", ""));
        }
    }
    let compressing = state.compression.stream(negotiated);
    let coding = compressing.as_ref().map(|(coding, ..)| *coding);
    let compressor = compressing.map(|(_, compressor, place)| (compressor, place));
    let body = futures::stream::unfold(
        (events, compressor),
        |(mut events, mut compressor)| async move {
            let Some(event) = events.recv().await else {
                // The stream's end, once: then nothing more, and its place
                // among compressed streams is given back.
                let (compressor, _place) = compressor.take()?;
                let ending = compressor.ending().close(b"");
                return Some((Ok(Bytes::from(ending)), (events, None)));
            };
            let bytes = match &mut compressor {
                Some((compressor, _)) => compressor.push(&event).ok()?,
                None => event,
            };
            Some((Ok::<_, Infallible>(bytes), (events, compressor)))
        },
    );
    let mut response = (StatusCode::OK, Body::from_stream(body)).into_response();
    let response_headers = response.headers_mut();
    if let Some(coding) = coding {
        set_encoding(response_headers, coding);
    }
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response_headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Writes each response as a `next` event, comments while idle, and
/// `complete` at the end (also at shutdown and when the token expires).
/// Stops when the client is gone or leaves an event unread for
/// `live.send_timeout`.
async fn feed(
    state: AppState,
    mut responses: futures::stream::BoxStream<'static, async_graphql::Response>,
    stream: Feeding,
    valid_for: Option<std::time::Duration>,
) {
    let Feeding {
        sender, position, ..
    } = stream;
    let live = &state.live;
    let closed = state.catalog.live().closed().clone();
    let mut pings = tokio::time::interval_at(Instant::now() + live.keep_alive, live.keep_alive);
    // A person's token runs out: the stream ends, the client reconnects
    // with a new one.
    let expired = expiry(valid_for);
    tokio::pin!(expired);
    loop {
        let event = tokio::select! {
            () = closed.cancelled() => break,
            () = &mut expired => break,
            next = responses.next() => match next {
                Some(response) => {
                    // A request error (an invalid document) is a `next`
                    // event without `data`, as the protocol asks.
                    let data = response_json(&response).unwrap_or_default();
                    let last = too_slow(&response);
                    let id = position.last().filter(|_| response.errors.is_empty());
                    let next = event_with_id("next", &data, id.as_deref());
                    let sent = sender.send_timeout(next, live.send_timeout).await;
                    if sent.is_err() || last {
                        break;
                    }
                    continue;
                }
                None => break,
            },
            _ = pings.tick() => Bytes::from_static(b":\n\n"),
        };
        if sender.send_timeout(event, live.send_timeout).await.is_err() {
            return;
        }
    }
    let _ = sender
        .send_timeout(event("complete", ""), live.send_timeout)
        .await;
}

/// What a stream's feeder holds.
struct Feeding {
    sender: mpsc::Sender<Bytes>,
    /// The cursor of the change sent last.
    position: StreamPosition,
    _slot: Slot,
}

fn event(name: &str, data: &str) -> Bytes {
    event_with_id(name, data, None)
}

/// An event; with an id, a reconnecting client sends it back as
/// `Last-Event-ID`.
fn event_with_id(name: &str, data: &str, id: Option<&str>) -> Bytes {
    match id {
        Some(id) => Bytes::from(format!("event: {name}\nid: {id}\ndata: {data}\n\n")),
        None => Bytes::from(format!("event: {name}\ndata: {data}\n\n")),
    }
}

/// The `Last-Event-ID` a reconnecting client sent: a change cursor, which
/// never holds a line break (SSE ids cannot).
fn last_event_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("last-event-id")?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}
