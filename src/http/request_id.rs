//! Every request gets the gateway's own id: in `x-request-id` on every
//! answer (refusals included), in every log line of the request, and in
//! audit records. A client's `x-request-id` is kept beside it as the
//! client's word, never as the id.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use rand::distr::{Alphanumeric, SampleString};
use tracing::Instrument;

use crate::graphql::RequestIds;

/// The header both ways.
pub(super) const REQUEST_ID: &str = "x-request-id";

/// Gives the request its ids and runs it inside a span that carries them.
pub(super) async fn assign(mut request: Request, next: Next) -> Response {
    let ids = RequestIds {
        id: Alphanumeric.sample_string(&mut rand::rng(), 20),
        client: request
            .headers()
            .get(REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .filter(|id| {
                (1..=128).contains(&id.len()) && id.bytes().all(|byte| byte.is_ascii_graphic())
            })
            .map(str::to_owned),
    };
    let span = tracing::info_span!(
        "request",
        request_id = %ids.id,
        client_request_id = ids.client.as_deref().unwrap_or(""),
        team = tracing::field::Empty,
        subject = tracing::field::Empty,
    );
    let id = ids.id.clone();
    request.extensions_mut().insert(ids);
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}
