//! Compressed answers: the content coding a request's `Accept-Encoding`
//! allows (RFC 9110 §12.5.3: by q-value, then the client's order), and
//! answers sent in it with `Content-Encoding` and `Vary: Accept-Encoding`.
//! Kept answers arrive already compressed from the response cache (see
//! `answer::written`); everything else is compressed here, large bodies a
//! piece per frame so that the first bytes leave before the last are
//! compressed.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use http_body::{Body as _, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::content_coding::{Coding, Compressor, Profile};
use crate::graphql::{EncodedHead, KeptResponse, ResponseBody};
use crate::settings::ServerSettings;

/// Bodies larger than this are compressed a piece per frame.
const STREAMED_ABOVE: usize = 256 * 1024;
const PIECE: usize = 64 * 1024;

/// What the gateway's settings allow: whether it compresses, and from how
/// many bytes.
#[derive(Debug, Clone)]
pub(super) struct Compression {
    enabled: bool,
    min_bytes: usize,
    /// Places for event streams compressed at once.
    streams: Arc<Semaphore>,
}

/// What a request's `Accept-Encoding` allows, for answers of any size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Negotiated {
    /// The coding it prefers, if it prefers one over sending the answer
    /// as it is.
    pub(super) coding: Option<Coding>,
    /// Whether an answer may be sent as it is (`identity`).
    identity: bool,
    /// Whether the answer depends on `Accept-Encoding`: `Vary` says so.
    varies: bool,
}

impl Compression {
    pub(super) fn new(server: &ServerSettings) -> Self {
        Self {
            enabled: server.compression,
            min_bytes: server.compression_min_bytes,
            streams: Arc::new(Semaphore::new(server.compression_max_streams)),
        }
    }

    /// A compressor for an event stream, and its place among those
    /// compressed at once; `None` when `negotiated` asks for none or every
    /// place is taken (the stream then goes uncompressed).
    pub(super) fn stream(
        &self,
        negotiated: Negotiated,
    ) -> Option<(Coding, Compressor, OwnedSemaphorePermit)> {
        let coding = negotiated.coding?;
        let place = Arc::clone(&self.streams).try_acquire_owned().ok()?;
        let compressor = Compressor::new(coding, Profile::Stream).ok()?;
        crate::telemetry::record_compression(coding.token());
        Some((coding, compressor, place))
    }

    /// What `headers` allow.
    pub(super) fn negotiate(&self, headers: &HeaderMap) -> Negotiated {
        if !self.enabled {
            return Negotiated::UNCODED;
        }
        let mut values = headers.get_all(header::ACCEPT_ENCODING).iter().peekable();
        if values.peek().is_none() {
            // No preference: an answer as it is, which every client reads.
            return Negotiated {
                varies: true,
                ..Negotiated::UNCODED
            };
        }
        let fields = values.filter_map(|value| value.to_str().ok());
        let (coding, identity) = crate::content_coding::negotiate(fields);
        Negotiated {
            coding,
            identity,
            varies: true,
        }
    }

    /// The coding to send a body of `length` bytes in.
    pub(super) fn coding_for(&self, negotiated: Negotiated, length: usize) -> Option<Coding> {
        let large = length >= self.min_bytes;
        negotiated.coding.filter(|_| large || !negotiated.identity)
    }

    /// `response` sent in the coding `negotiated` allows, with `Vary`. A
    /// response already encoded (a kept answer), an event stream, and one
    /// without a body are left as they are.
    pub(super) async fn encode(&self, negotiated: Negotiated, mut response: Response) -> Response {
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            return response;
        }
        negotiated.mark(response.headers_mut());
        let coding =
            Self::plain_length(&response).and_then(|length| self.coding_for(negotiated, length));
        let Some(coding) = coding else {
            return response;
        };
        crate::telemetry::record_compression(coding.token());
        let (parts, body) = response.into_parts();
        // A body with an exact length is in memory: collecting it waits
        // for nothing.
        let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
            return Response::from_parts(parts, Body::empty());
        };
        let encoded = if body.len() > STREAMED_ABOVE {
            Compressor::new(coding, Profile::Body).map(|compressor| {
                Body::new(Pieces {
                    compressor: Some(compressor),
                    input: body.clone(),
                })
            })
        } else {
            Compressor::whole(coding, &body).map(Body::from)
        };
        match encoded {
            Ok(encoded) => {
                let mut response = Response::from_parts(parts, encoded);
                set_encoding(response.headers_mut(), coding);
                response
            }
            Err(_) => Response::from_parts(parts, Body::from(body)),
        }
    }

    /// The length of `response`'s body, if it is one this layer compresses:
    /// whole in memory, not already encoded (a kept answer), not an event
    /// stream (compressed event by event) and not a `304`.
    fn plain_length(response: &Response) -> Option<usize> {
        let headers = response.headers();
        let event_stream = (headers.get(header::CONTENT_TYPE))
            .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
        if headers.contains_key(header::CONTENT_ENCODING)
            || event_stream
            || response.status() == StatusCode::NOT_MODIFIED
        {
            return None;
        }
        let length = response.body().size_hint().exact()?;
        Some(usize::try_from(length).unwrap_or(usize::MAX))
    }
}

/// Middleware for routes that do not compress their own answers.
pub(super) async fn compress(
    axum::extract::State(compression): axum::extract::State<Compression>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let negotiated = compression.negotiate(request.headers());
    let response = next.run(request).await;
    compression.encode(negotiated, response).await
}

impl super::Services {
    /// The coding a written `body` is sent in, with its head compressed:
    /// kept with the response when there is one, else compressed now.
    pub(super) fn encoded_head(
        &self,
        negotiated: Negotiated,
        body: &ResponseBody,
        kept: Option<&KeptResponse>,
    ) -> Option<(Coding, EncodedHead)> {
        let length = body.head.len() + body.tail.len();
        let coding = self.compression.coding_for(negotiated, length)?;
        let kept = kept.and_then(|kept| self.operations.encoded(kept, coding));
        let head = kept.or_else(|| EncodedHead::compress(coding, &body.head))?;
        Some((coding, head))
    }
}

impl Negotiated {
    /// No coding asked for, nothing varies: compression is off.
    const UNCODED: Negotiated = Negotiated {
        coding: None,
        identity: true,
        varies: false,
    };

    /// Whether no answer is acceptable: `identity` refused, and no coding
    /// the gateway has allowed.
    pub(super) fn refuses_all(self) -> bool {
        self.coding.is_none() && !self.identity
    }

    /// `Vary: Accept-Encoding` where the answer depends on it.
    pub(super) fn mark(self, headers: &mut HeaderMap) {
        if self.varies {
            headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
    }
}

/// `Content-Encoding` for `coding`; the length changed with the body.
pub(super) fn set_encoding(headers: &mut HeaderMap, coding: Coding) {
    headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(coding.token()),
    );
    headers.remove(header::CONTENT_LENGTH);
}

/// A large body compressed one piece per frame.
struct Pieces {
    compressor: Option<Compressor>,
    input: Bytes,
}

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = &mut *self;
        let Some(compressor) = &mut this.compressor else {
            return Poll::Ready(None);
        };
        if this.input.is_empty() {
            let ending = compressor.ending().close(b"");
            this.compressor = None;
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(ending)))));
        }
        let piece = this.input.split_to(PIECE.min(this.input.len()));
        match compressor.push(&piece) {
            Ok(bytes) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
            // The connection is cut rather than the body ended short, so
            // that the client cannot take a truncated answer for a whole.
            Err(error) => {
                this.compressor = None;
                Poll::Ready(Some(Err(error)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.compressor.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests;
