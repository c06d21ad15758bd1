//! The one refusal: every answer given outside execution, on any
//! transport (auth, quota, malformed requests, limits, trusted documents,
//! persisted queries, idempotency keys, timeouts). A `Refusal` is a code
//! from the one error table (`graphql::ErrorCode`), a message, the status
//! and headers an HTTP answer carries, and what a stream sends instead: a
//! GraphQL error with the code.

use std::time::Duration;

use async_graphql::{ErrorExtensionValues, ServerError};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::auth::{ActorKind, AuthError, Caller, QuotaRefusal};
use crate::graphql::ErrorCode;

/// A request refused (or cut short) outside execution.
#[derive(Debug)]
pub struct Refusal {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    retry_after: Option<Duration>,
    /// Extra `extensions` entries (`outcomeUnknown`).
    extensions: Vec<(&'static str, Value)>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Refusal {
    /// Refused with `code`, answered over HTTP with `status`.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            extensions: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// What the client is told.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The code in `extensions.code`.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The HTTP status it is answered with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// When to try again, if the refusal says.
    pub fn retry_after_wait(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The headers an HTTP answer carries besides `Retry-After`.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// Every header its HTTP answer carries: `Retry-After` (in whole
    /// seconds), then the rest.
    pub fn answer_headers(&self) -> impl Iterator<Item = (HeaderName, HeaderValue)> + '_ {
        let retry = (self.retry_after)
            .map(|wait| (header::RETRY_AFTER, HeaderValue::from(whole_seconds(wait))));
        retry.into_iter().chain(self.headers.iter().cloned())
    }

    /// 401 with `UNAUTHENTICATED` and a `WWW-Authenticate` challenge.
    pub fn unauthenticated(why: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            why.to_string(),
        )
        .header(header::WWW_AUTHENTICATE, "Bearer")
    }

    /// Why a request's credentials were not accepted: 403 `FORBIDDEN` for a
    /// person with no role, or asking for an account not theirs; else 401
    /// `UNAUTHENTICATED` with its reason.
    pub fn of_authentication(error: AuthError) -> Self {
        match error {
            AuthError::NoRole | AuthError::AccountNotGranted(_) => Self::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                error.to_string(),
            ),
            error => Self::unauthenticated(error),
        }
    }

    /// 400 with `BAD_USER_INPUT`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadUserInput, message)
    }

    /// A subscription over one of the `live.max_subscriptions*` limits
    /// (`message` names it); a stream's refusal, so no HTTP status of its
    /// own.
    pub fn too_many_subscriptions(message: impl Into<String>) -> Self {
        Self::new(StatusCode::OK, ErrorCode::TooManySubscriptions, message)
    }

    /// 413 for a body over `server.body_limit_bytes`.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BadUserInput,
            format!("the request body is larger than {limit} bytes (server.body_limit_bytes)"),
        )
    }

    /// 429 for a team, or a person in their role, over its quota; the
    /// message names whose quota and the setting that sets it.
    pub fn over_quota(caller: &Caller, refused: QuotaRefusal) -> Self {
        let (status, code) = (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
        let team = &caller.team;
        let (over, spender, setting) = match caller.actor.kind {
            ActorKind::Team => (
                format!("team `{team}` is over its quota"),
                format!("team `{team}`"),
                format!("teams.{team}.burst"),
            ),
            ActorKind::Person => {
                let (provider, role) = team.split_once('/').unwrap_or(("", team));
                (
                    format!("you are over your quota in role `{team}`"),
                    "you".to_owned(),
                    format!("auth.oidc.{provider}.roles.{role}.burst"),
                )
            }
        };
        let policy = quota_policy(caller.quota.per_minute, caller.quota.burst);
        match refused {
            QuotaRefusal::Wait(wait) => Self::new(
                status,
                code,
                format!("{over}; retry in {} ms", wait.as_millis().max(1)),
            )
            .retry_after(wait)
            .header_value(RATELIMIT_POLICY, policy)
            .header_value(RATELIMIT, format!("\"quota\";r=0;t={}", whole_seconds(wait))),
            QuotaRefusal::TooLarge { burst } => Self::new(
                status,
                code,
                format!(
                    "this request costs more quota units than {spender} may spend at once ({burst}, {setting}): every RemotePC call a mutation makes is a unit; split it"
                ),
            )
            .header_value(RATELIMIT_POLICY, policy),
        }
    }

    /// 504 when `server.request_timeout` ran out. A write is not cut short:
    /// it goes on, and its audit record and idempotency key get its outcome.
    pub fn timed_out(timeout: Duration, write: bool) -> Self {
        let timeout = humantime::format_duration(timeout);
        let refusal = Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::UpstreamTimeout,
            if write {
                format!(
                    "the mutation is still running after {timeout} (server.request_timeout); it will finish and its audit record will hold the outcome; retry with the same Idempotency-Key to get it"
                )
            } else {
                format!("no answer within {timeout} (server.request_timeout)")
            },
        );
        if write {
            refusal.extension("outcomeUnknown", json!(true))
        } else {
            refusal
        }
    }

    /// A write still running when the shutdown grace ended: its client is
    /// answered before the connection closes, with the outcome unknown.
    pub fn stopped_before_write_finished() -> Self {
        let message = "the gateway stopped before this mutation finished: it may or may not have been applied; its audit record will say which; check before retrying";
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::UpstreamUnavailable,
            message,
        )
        .extension("outcomeUnknown", json!(true))
    }

    /// Says when to try again: `Retry-After` and `extensions.retryAfterMs`.
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// With `extensions.<name>` set to `value` (`outcomeUnknown`).
    pub fn extension(mut self, name: &'static str, value: Value) -> Self {
        self.extensions.push((name, value));
        self
    }

    /// With the header `name` set to `value`.
    pub fn header(mut self, name: HeaderName, value: &'static str) -> Self {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    fn header_value(mut self, name: HeaderName, value: String) -> Self {
        if let Ok(value) = HeaderValue::try_from(value) {
            self.headers.push((name, value));
        }
        self
    }

    /// The answer's body: a GraphQL error, and no `data`.
    pub fn body(&self) -> String {
        let mut extensions = json!({ "code": self.code.as_str() });
        if let Some(wait) = self.retry_after {
            extensions["retryAfterMs"] = json!(wait.as_millis().max(1) as u64);
        }
        for (name, value) in &self.extensions {
            extensions[*name] = value.clone();
        }
        // Nothing was executed: a request error has no `data` entry.
        let error = json!({ "message": self.message, "extensions": extensions });
        json!({ "errors": [error] }).to_string()
    }

    /// As one GraphQL error, for a stream (WebSocket, SSE), where a
    /// refusal is a message of the stream rather than an HTTP answer.
    pub fn into_error(self) -> ServerError {
        let mut error = ServerError::new(self.message, None);
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", self.code.as_str());
        error.extensions = Some(extensions);
        error
    }
}

/// `RateLimit-Policy` and `RateLimit` of the IETF draft
/// (draft-ietf-httpapi-ratelimit-headers): the quota a 429 refused under,
/// and what is left of it.
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// A quota of `per_minute` on average and `burst` at once, as the draft's
/// one policy can say it: `burst` units (`q`) in the seconds the quota
/// takes to refill them (`w`).
fn quota_policy(per_minute: u32, burst: u32) -> String {
    let burst = burst.max(1);
    let refill = (u64::from(burst) * 60).div_ceil(u64::from(per_minute.max(1)));
    format!("\"quota\";q={burst};w={}", refill.max(1))
}

/// Seconds for a header, rounded up, at least 1.
pub fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
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
