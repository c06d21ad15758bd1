//! GraphQL over HTTP: the media type to answer in (negotiated on `Accept`)
//! and the status codes the specification gives for each.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_graphql::{BatchResponse, Value};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use serde::Serialize;

use crate::graphql::ResponseBody;

/// A media type a GraphQL response can be sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum MediaType {
    /// `application/graphql-response+json`: request errors are 4xx.
    GraphqlResponse,
    /// `application/json`, the legacy type: well-formed responses are 200.
    Json,
}

impl MediaType {
    /// The type the client accepts, preferring the GraphQL one; `None` when
    /// it accepts neither. A missing `Accept` means `application/json`, as
    /// the specification asks of servers supporting legacy clients.
    pub(super) fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let Some(accept) = headers
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok())
        else {
            return Some(MediaType::Json);
        };
        let types = accept
            .split(',')
            .map(|entry| entry.split(';').next().unwrap_or_default().trim());
        let mut accepted = None;
        for media in types {
            if media.eq_ignore_ascii_case("application/graphql-response+json") {
                return Some(MediaType::GraphqlResponse);
            }
            if ["application/json", "application/*", "*/*"]
                .iter()
                .any(|json| media.eq_ignore_ascii_case(json))
            {
                accepted = Some(MediaType::Json);
            }
        }
        accepted
    }

    pub(super) fn content_type(self) -> &'static str {
        match self {
            MediaType::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        }
    }

    /// `body` (already JSON) with this type's content type.
    pub(super) fn respond(self, status: StatusCode, body: impl Into<Body>) -> Response {
        (
            status,
            [(header::CONTENT_TYPE, self.content_type())],
            body.into(),
        )
            .into_response()
    }

    /// A body the response cache, a plan or the schema wrote, sent as its
    /// two parts: the shared one is written as is, never copied.
    pub(super) fn respond_written(self, body: ResponseBody) -> Response {
        let body = Body::new(TwoParts {
            head: Some(body.head),
            tail: Some(Bytes::from(body.tail)),
        });
        self.respond(StatusCode::OK, body)
    }

    /// One GraphQL response. With the GraphQL media type, a request error
    /// (nothing executed: parse, validation, variables, limits) is a 400
    /// without a `data` entry; everything else is a 200.
    /// Fields keep the order of the selection: the response is serialized
    /// as is, not through a `serde_json::Value`, whose maps sort their keys.
    pub(super) fn response(self, response: &async_graphql::Response) -> Response {
        let (status, body) = if self == MediaType::GraphqlResponse && is_request_error(response) {
            let refused = RequestErrors {
                errors: &response.errors,
                extensions: &response.extensions,
            };
            (StatusCode::BAD_REQUEST, serde_json::to_vec(&refused))
        } else {
            (StatusCode::OK, serde_json::to_vec(response))
        };
        match body {
            Ok(body) => self.respond(status, body),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }

    /// A batch: always 200, each entry as it came.
    pub(super) fn batch(self, responses: &BatchResponse) -> Response {
        match serde_json::to_string(responses) {
            Ok(body) => self.respond(StatusCode::OK, body),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

/// A body of two buffers with its exact length, so it goes out with a
/// `Content-Length` in one vectored write.
struct TwoParts {
    head: Option<Bytes>,
    tail: Option<Bytes>,
}

impl http_body::Body for TwoParts {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.head.take().or_else(|| self.tail.take());
        Poll::Ready(next.map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.tail.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let length = [&self.head, &self.tail]
            .into_iter()
            .flatten()
            .map(|part| part.len() as u64)
            .sum();
        SizeHint::with_exact(length)
    }
}

/// A request error as the GraphQL media type sends it: without `data`.
#[derive(Serialize)]
struct RequestErrors<'a> {
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, Value>,
}

/// Errors but no data, and no error belongs to a field: the request failed
/// before execution.
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}
