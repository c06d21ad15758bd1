//! GraphQL over HTTP: the media type to answer in (negotiated on `Accept`)
//! and the status codes the specification gives for each.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_graphql::Value;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use serde::Serialize;

pub(super) use super::accept::Preferred;
use crate::graphql::ResponseBody;

/// The headers an answer has room for from the start.
const ANSWER_HEADERS: usize = 12;

/// A media type a GraphQL response can be sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum MediaType {
    /// `application/graphql-response+json`: request errors are 4xx.
    GraphqlResponse,
    /// `application/json`, the legacy type: well-formed responses are 200.
    Json,
}

impl MediaType {
    /// The JSON type to answer in, when the client accepts one (see
    /// [`Preferred::negotiate`]); a client preferring an event stream is
    /// answered in JSON where a stream is not offered.
    pub(super) fn negotiate(headers: &HeaderMap) -> Option<Self> {
        match Preferred::negotiate(headers)? {
            Preferred::Response(media) => Some(media),
            Preferred::EventStream => Preferred::json_only(headers),
        }
    }

    pub(super) fn content_type(self) -> &'static str {
        match self {
            MediaType::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        }
    }

    /// `body` (already JSON) with this type's content type.
    pub(super) fn respond(self, status: StatusCode, body: impl Into<Body>) -> Response {
        // Made with room for what an answer carries by the time it leaves
        // (type, timing, cache, tag, coding, ids, trace, vary, CORS):
        // grown from empty on the way, the map was rebuilt once per answer.
        let mut headers = HeaderMap::with_capacity(ANSWER_HEADERS);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type()),
        );
        let mut response = Response::new(body.into());
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }

    /// A body the response cache, a plan or the schema wrote, sent as its
    /// two parts: the shared one is written as is, never copied.
    pub(super) fn respond_written(self, body: ResponseBody) -> Response {
        self.respond_parts(body.head, body.tail)
    }

    /// A body of a shared part and its own end, with its exact length.
    pub(super) fn respond_parts(self, head: Bytes, tail: Vec<u8>) -> Response {
        let body = Body::new(TwoParts {
            head: Some(head),
            tail: Some(Bytes::from(tail)),
        });
        self.respond(StatusCode::OK, body)
    }

    /// One GraphQL response. A request error (nothing executed: parse,
    /// validation, variables, limits) has no `data` entry, as the GraphQL
    /// specification says, and with the GraphQL media type it is a 400;
    /// everything else is a 200. Fields keep the order of the selection:
    /// the response is serialized as is, not through a `serde_json::Value`,
    /// whose maps sort their keys.
    pub(super) fn response(self, response: &async_graphql::Response) -> Response {
        let written = Written::of(response);
        let status = match written {
            Written::RequestErrors(_) if self == MediaType::GraphqlResponse => {
                StatusCode::BAD_REQUEST
            }
            _ => StatusCode::OK,
        };
        let mut answer = match serde_json::to_vec(&written) {
            Ok(body) => self.respond(status, body),
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        };
        if let Some(wait) = retry_after_ms(response) {
            let seconds = wait.div_ceil(1000).max(1);
            answer
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        answer
    }

    /// A batch: always 200, each entry as it came (a request error without
    /// `data`).
    pub(super) fn batch(self, responses: &[async_graphql::Response]) -> Response {
        let entries: Vec<Written<'_>> = responses.iter().map(Written::of).collect();
        match serde_json::to_string(&entries) {
            Ok(body) => self.respond(StatusCode::OK, body),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

/// The longest `extensions.retryAfterMs` of the response's errors (the
/// upstream's queue was full, its breaker open): said in `Retry-After` too.
fn retry_after_ms(response: &async_graphql::Response) -> Option<u64> {
    response
        .errors
        .iter()
        .filter_map(|error| error.extensions.as_ref()?.get("retryAfterMs"))
        .filter_map(|value| match value {
            Value::Number(number) => number.as_u64(),
            _ => None,
        })
        .max()
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

/// `response` as JSON, as every transport writes it: a request error
/// without `data`.
pub(super) fn response_json(response: &async_graphql::Response) -> serde_json::Result<String> {
    serde_json::to_string(&Written::of(response))
}

/// A GraphQL response as it is written.
#[derive(Serialize)]
#[serde(untagged)]
enum Written<'a> {
    /// A request error: its errors and extensions, without `data`.
    RequestErrors(RequestErrors<'a>),
    /// Anything executed, as it is.
    Response(&'a async_graphql::Response),
}

impl<'a> Written<'a> {
    fn of(response: &'a async_graphql::Response) -> Self {
        if is_request_error(response) {
            Written::RequestErrors(RequestErrors {
                errors: &response.errors,
                extensions: &response.extensions,
            })
        } else {
            Written::Response(response)
        }
    }
}

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

#[cfg(test)]
mod tests {
    use async_graphql::{ErrorExtensions, Response, ServerError};

    use super::*;

    fn refused(retry_after_ms: u64) -> ServerError {
        let error = async_graphql::Error::new("the flow's queue is full")
            .extend_with(|_, extensions| extensions.set("retryAfterMs", retry_after_ms));
        error.into_server_error(async_graphql::Pos::default())
    }

    #[test]
    fn an_error_that_says_when_to_retry_says_it_in_retry_after_too() {
        let response = Response::from_errors(vec![refused(1_000), refused(2_500)]);
        let answer = MediaType::Json.response(&response);
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.headers()[header::RETRY_AFTER], "3");
        let plain = MediaType::Json.response(&Response::new(Value::Null));
        assert!(plain.headers().get(header::RETRY_AFTER).is_none());
    }
}
