//! Answers given outside execution: refusals (auth, quota, media type,
//! malformed requests, limits) and timeouts, each a GraphQL error body with
//! its `extensions.code` from the one error table.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::media::MediaType;
use crate::auth::QuotaRefusal;
use crate::graphql::ErrorCode;

/// A GraphQL error response outside execution.
pub(super) fn refusal(
    status: StatusCode,
    code: ErrorCode,
    message: &str,
    retry_after: Option<Duration>,
) -> Response {
    let mut extensions = json!({ "code": code.as_str() });
    if let Some(wait) = retry_after {
        extensions["retryAfterMs"] = json!(wait.as_millis().max(1) as u64);
    }
    let body =
        json!({ "data": null, "errors": [{ "message": message, "extensions": extensions }] });
    let mut response = MediaType::Json.respond(status, body.to_string());
    if let Some(wait) = retry_after {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// 429 for a team over its quota.
pub(super) fn over_quota(team: &str, refused: QuotaRefusal) -> Response {
    match refused {
        QuotaRefusal::Wait(wait) => refusal(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            &format!(
                "team `{team}` is over its quota; retry in {} ms",
                wait.as_millis().max(1)
            ),
            Some(wait),
        ),
        QuotaRefusal::TooLarge { burst } => refusal(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            &format!(
                "this request costs more quota units than team `{team}` may spend at once ({burst}, teams.{team}.burst): every RemotePC call a mutation makes is a unit; split it"
            ),
            None,
        ),
    }
}

/// 400 with `BAD_USER_INPUT`.
pub(super) fn bad_request(message: &str) -> Response {
    refusal(
        StatusCode::BAD_REQUEST,
        ErrorCode::BadUserInput,
        message,
        None,
    )
}

/// 413 for a body over `server.body_limit_bytes`.
pub(super) fn too_large(limit: usize) -> Response {
    refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::BadUserInput,
        &format!("the request body is larger than {limit} bytes (server.body_limit_bytes)"),
        None,
    )
}

/// 504 when `server.request_timeout` ran out. A write is not cut short: it
/// goes on, and its audit record and idempotency key get its outcome.
pub(super) fn timed_out(timeout: Duration, write: bool) -> Response {
    let message = if write {
        format!(
            "the mutation is still running after {} (server.request_timeout); it will finish and its audit record will hold the outcome; retry with the same Idempotency-Key to get it",
            humantime::format_duration(timeout)
        )
    } else {
        format!(
            "no answer within {} (server.request_timeout)",
            humantime::format_duration(timeout)
        )
    };
    let mut extensions = json!({ "code": ErrorCode::UpstreamTimeout.as_str() });
    if write {
        extensions["outcomeUnknown"] = json!(true);
    }
    let body =
        json!({ "data": null, "errors": [{ "message": message, "extensions": extensions }] });
    MediaType::Json.respond(StatusCode::GATEWAY_TIMEOUT, body.to_string())
}

/// The answer stored under an idempotency key whose write never finished
/// in the process that claimed it.
pub fn unknown_outcome_body() -> String {
    json!({
        "data": null,
        "errors": [{
            "message": "the gateway stopped before this mutation finished: it may or may not have been applied; check before retrying",
            "extensions": { "code": ErrorCode::UpstreamUnavailable.as_str(), "outcomeUnknown": true },
        }],
    })
    .to_string()
}
