//! What admission and execution decided, as HTTP answers: a finished
//! submission in the negotiated media type with the headers that say how
//! it was answered (`x-response-cache`, `Server-Timing`,
//! `idempotent-replayed`), compressed from the kept compressed head where
//! one is kept, a GET's `ETag` and its `304 Not Modified`, and a
//! [`Refusal`] with its status, `Retry-After` and its other headers.

use std::time::Instant;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::conditional::Conditional;
use super::media::MediaType;
use crate::admission::{Finished, Refusal};
use crate::content_coding::Coding;
use crate::graphql::{Answer, EncodedHead, KeptResponse, ResponseBody, Via};
use crate::telemetry::access::RESPONSE_CACHE;

/// The coding a written body is sent in, with its head compressed (kept
/// with the response, when `KeptResponse` is given).
pub(super) trait Encode:
    Fn(&ResponseBody, Option<&KeptResponse>) -> Option<(Coding, EncodedHead)>
{
}

impl<F> Encode for F where
    F: Fn(&ResponseBody, Option<&KeptResponse>) -> Option<(Coding, EncodedHead)>
{
}

const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");
/// A refusal in the media type the client asked for (`application/json`
/// when it asked for none the gateway speaks), so that client libraries
/// read the `errors` body instead of raising a transport error.
pub(super) trait Refused {
    /// Sent in `media`.
    fn in_media(self, media: MediaType) -> Response;
    /// Sent in the media type the request's `Accept` asks for.
    fn answering(self, headers: &HeaderMap) -> Response;
}

impl Refused for Refusal {
    fn in_media(self, media: MediaType) -> Response {
        let mut response = media.respond(self.status(), self.body());
        for (name, value) in self.answer_headers() {
            response.headers_mut().insert(name, value);
        }
        response
    }

    fn answering(self, headers: &HeaderMap) -> Response {
        let media = MediaType::negotiate(headers).unwrap_or(MediaType::Json);
        self.in_media(media)
    }
}

/// `finished` in `media`. A kept answer is handed to `keep` (the raw lane
/// registers it).
pub(super) fn finished(
    finished: Finished,
    ((media, conditional), encode): ((MediaType, Conditional<'_>), impl Encode),
    started: Instant,
    keep: impl FnOnce(KeptResponse),
) -> Response {
    match finished {
        Finished::One(Answer::Written { body, via, kept }) => {
            let written = written(
                (media, conditional),
                (body, kept.as_ref(), encode),
                via,
                started,
            );
            if let Some(kept) = kept {
                keep(kept);
            }
            written
        }
        Finished::One(Answer::Executed(response)) => {
            let mut answer = media.response(&response);
            server_timing(&mut answer, Via::Schema, started);
            answer
        }
        Finished::Batch(responses) => media.batch(&responses),
        Finished::Keyed { body, replayed } => {
            let mut response = media.respond(StatusCode::OK, body);
            if replayed {
                let headers = response.headers_mut();
                headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
            }
            response
        }
        Finished::Refused(refusal) => refusal.in_media(media),
    }
}

/// A body written by the response cache, a plan or the schema, with the
/// headers that say which, compressed as `encode` says (asked only when a
/// body is sent); for a GET, its tag, and `304` with no body when
/// `If-None-Match` names it.
pub(super) fn written(
    (media, conditional): (MediaType, Conditional<'_>),
    (body, kept, encode): (ResponseBody, Option<&KeptResponse>, impl Encode),
    via: Via,
    started: Instant,
) -> Response {
    let tag = conditional.tag(&body);
    let mut response = if tag.is_some_and(|tag| conditional.unchanged(tag)) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if let Some((coding, head)) = encode(&body, kept) {
        let ending = head.ending.close(&body.tail);
        let mut response = media.respond_parts(head.bytes, ending);
        super::encoding::set_encoding(response.headers_mut(), coding);
        response
    } else {
        media.respond_written(body)
    };
    server_timing(&mut response, via, started);
    let cache = if via == Via::Cache { "hit" } else { "miss" };
    let headers = response.headers_mut();
    headers.insert(RESPONSE_CACHE, HeaderValue::from_static(cache));
    if let Some(tag) = tag {
        super::conditional::insert_tag(headers, tag);
    }
    response
}

/// `Server-Timing: gateway;desc="plan";dur=0.12`: what answered and how
/// long the gateway took, for the browser's developer tools.
fn server_timing(response: &mut Response, via: Via, started: Instant) {
    // Written by hand: float formatting was ~1% of a cached answer.
    let micros = started.elapsed().as_micros();
    let mut value = Vec::with_capacity(48);
    value.extend_from_slice(b"gateway;desc=\"");
    value.extend_from_slice(via.as_str().as_bytes());
    value.extend_from_slice(b"\";dur=");
    value.extend_from_slice(itoa::Buffer::new().format(micros / 1000).as_bytes());
    let fraction = micros % 1000;
    value.extend_from_slice(&[
        b'.',
        b'0' + (fraction / 100) as u8,
        b'0' + (fraction / 10 % 10) as u8,
        b'0' + (fraction % 10) as u8,
    ]);
    if let Ok(value) = HeaderValue::from_bytes(&value) {
        response.headers_mut().insert(SERVER_TIMING, value);
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        self.in_media(MediaType::Json)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn server_timing_gives_milliseconds_with_three_decimals() {
        let started = Instant::now()
            .checked_sub(Duration::from_micros(12_345))
            .expect("the clock is past 12 ms");
        let mut response = Response::new(axum::body::Body::empty());
        server_timing(&mut response, Via::Plan, started);
        let value = response.headers()[SERVER_TIMING].to_str().expect("ASCII");
        let duration = value
            .strip_prefix("gateway;desc=\"plan\";dur=")
            .unwrap_or_else(|| panic!("{value}"));
        let (whole, fraction) = duration.split_once('.').expect("a decimal point");
        assert_eq!(fraction.len(), 3, "{value}");
        let millis: f64 = duration.parse().expect("a number");
        assert!((12.345..1_000.0).contains(&millis), "{value}");
        assert!(whole.parse::<u64>().is_ok(), "{value}");
    }
}
