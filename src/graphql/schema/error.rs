//! The one table that turns every layer's error into a GraphQL error with an
//! `extensions.code` clients can branch on. Internal details are logged here,
//! once, and never sent.

use async_graphql::{Enum, ErrorExtensionValues, Value};

use crate::catalog::UpstreamError;
use crate::catalog::{CatalogError, ValidationError};

/// What kind of failure an error is; sent as `extensions.code`.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// No valid credentials.
    Unauthenticated,
    /// The caller lacks a scope.
    Forbidden,
    /// The input breaks a rule; nothing was sent to RemotePC.
    BadUserInput,
    /// A computer, user or group named in the input does not exist;
    /// `extensions.names` lists the names RemotePC was asked about.
    NotFound,
    /// RemotePC refused the call; see `extensions.upstream`.
    UpstreamRejected,
    /// RemotePC failed, could not be reached, or answered unusably.
    UpstreamUnavailable,
    /// RemotePC did not answer in time.
    UpstreamTimeout,
    /// A quota or rate limit was hit.
    RateLimited,
    /// A request with the same `Idempotency-Key` is still running.
    Conflict,
    /// An automatic persisted query's hash is unknown: send its text with
    /// it (Apollo clients do so by themselves).
    PersistedQueryNotFound,
    /// The caller may run only its trusted documents, and this is none of
    /// them (or an id no manifest has).
    OperationNotTrusted,
    /// A subscription limit was reached; the message names the setting
    /// (`live.max_subscriptions_per_connection`, `…_per_team`,
    /// `live.max_subscriptions`).
    TooManySubscriptions,
    /// A subscriber did not read its events in time and was dropped;
    /// subscribe again.
    SlowConsumer,
    /// A change cursor cannot be resumed from: older than what is kept,
    /// across changes that were lost, malformed, or another account's.
    /// List again and resume from the list's `changeCursor`.
    CursorExpired,
    /// The gateway's store cannot record the write (unreachable, or its
    /// disk full), so nothing was sent to RemotePC; retry later.
    StoreUnavailable,
    /// A fault of the gateway itself.
    Internal,
}

impl ErrorCode {
    /// The wire spelling, e.g. `UPSTREAM_REJECTED`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::UpstreamRejected => "UPSTREAM_REJECTED",
            ErrorCode::UpstreamUnavailable => "UPSTREAM_UNAVAILABLE",
            ErrorCode::UpstreamTimeout => "UPSTREAM_TIMEOUT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            ErrorCode::OperationNotTrusted => "OPERATION_NOT_TRUSTED",
            ErrorCode::TooManySubscriptions => "TOO_MANY_SUBSCRIPTIONS",
            ErrorCode::SlowConsumer => "SLOW_CONSUMER",
            ErrorCode::CursorExpired => "CURSOR_EXPIRED",
            ErrorCode::StoreUnavailable => "STORE_UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl From<&UpstreamError> for ErrorCode {
    fn from(error: &UpstreamError) -> Self {
        match error {
            UpstreamError::Rejected {
                http_status: 429, ..
            } => ErrorCode::RateLimited,
            UpstreamError::Rejected { .. } if error.names_missing() => ErrorCode::NotFound,
            UpstreamError::Rejected { .. } => ErrorCode::UpstreamRejected,
            UpstreamError::Timeout { .. } => ErrorCode::UpstreamTimeout,
            UpstreamError::Throttled { .. } => ErrorCode::RateLimited,
            UpstreamError::ServerError { .. }
            | UpstreamError::Malformed { .. }
            | UpstreamError::Transport { .. }
            | UpstreamError::CircuitOpen { .. }
            | UpstreamError::TooLarge { .. } => ErrorCode::UpstreamUnavailable,
        }
    }
}

/// The `code` of an error's extensions, if it has one.
pub fn error_code(extensions: Option<&ErrorExtensionValues>) -> Option<String> {
    match extensions?.get("code")? {
        Value::String(code) => Some(code.clone()),
        _ => None,
    }
}

/// The code a response is counted under in metrics: its first error's
/// code, or `ok`.
pub fn outcome(response: &async_graphql::Response) -> String {
    response.errors.first().map_or_else(
        || "ok".to_owned(),
        |error| {
            error_code(error.extensions.as_ref())
                .unwrap_or_else(|| ErrorCode::Internal.as_str().to_owned())
        },
    )
}

/// An error with a code and nothing else.
pub(crate) fn coded(code: ErrorCode, message: impl Into<String>) -> async_graphql::Error {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    async_graphql::Error {
        message: message.into(),
        source: None,
        extensions: Some(extensions),
    }
}

/// Any catalog error, mapped.
pub(crate) fn catalog_error(error: CatalogError) -> async_graphql::Error {
    match error {
        CatalogError::Invalid(invalid) => validation_error(&invalid),
        CatalogError::Upstream(upstream) => upstream_error(&upstream),
        CatalogError::Store(_) => {
            tracing::error!(error = %error, "store failed");
            coded(ErrorCode::Internal, "internal error")
        }
        CatalogError::UnknownAccount(_) => {
            tracing::error!(error = %error, "caller bound to an unconfigured account");
            coded(ErrorCode::Internal, "internal error")
        }
        CatalogError::CursorExpired(_) => coded(ErrorCode::CursorExpired, error.to_string()),
    }
}

/// `after` as a change cursor of `account`'s log; `CURSOR_EXPIRED` when it
/// is none.
pub(crate) fn change_cursor(
    after: &str,
    account: &str,
) -> async_graphql::Result<crate::catalog::ChangeCursor> {
    crate::catalog::ChangeCursor::decode(after, account)
        .map_err(|problem| catalog_error(CatalogError::CursorExpired(problem)))
}

/// `BAD_USER_INPUT` with every violation under `extensions.violations`.
pub(crate) fn validation_error(error: &ValidationError) -> async_graphql::Error {
    let violations: Vec<Value> = error
        .violations
        .iter()
        .map(|violation| {
            let mut entry = async_graphql::indexmap::IndexMap::new();
            entry.insert(
                async_graphql::Name::new("field"),
                Value::from(violation.field.as_str()),
            );
            entry.insert(
                async_graphql::Name::new("rule"),
                Value::from(violation.rule.as_str()),
            );
            Value::Object(entry)
        })
        .collect();
    let mut mapped = coded(ErrorCode::BadUserInput, error.to_string());
    if let Some(extensions) = mapped.extensions.as_mut() {
        if let Some(first) = error.violations.first() {
            extensions.set("field", first.field.as_str());
        }
        extensions.set("violations", Value::List(violations));
    }
    mapped
}

/// An upstream failure: its code, the upstream's answer under
/// `extensions.upstream`, and `outcomeUnknown` when a write may have happened.
pub(crate) fn upstream_error(error: &UpstreamError) -> async_graphql::Error {
    let code = ErrorCode::from(error);
    let outcome_unknown = error.outcome_unknown();
    let mut message = match error {
        UpstreamError::Rejected { descriptions, .. } if error.names_missing() => {
            let said = descriptions.join("; ");
            format!("no such computer, user or group on RemotePC ({said})")
        }
        UpstreamError::Rejected { descriptions, .. } if !descriptions.is_empty() => {
            format!("RemotePC refused the request: {}", descriptions.join("; "))
        }
        _ => error.to_string(),
    };
    if outcome_unknown {
        message.push_str("; the change may or may not have been applied, check before retrying");
    }
    let mut mapped = coded(code, message);
    if let Some(extensions) = mapped.extensions.as_mut() {
        extensions.set("upstream", upstream_details(error));
        extensions.set("outcomeUnknown", outcome_unknown);
        match error {
            UpstreamError::CircuitOpen { retry_in, .. } => {
                extensions.set("retryAfterMs", retry_in.as_millis() as u64);
            }
            // Places free up every 1/rate; a second is a fair first wait.
            UpstreamError::Throttled { flow, setting, .. } => {
                extensions.set("retryAfterMs", 1_000u64);
                extensions.set("flow", flow.as_str());
                extensions.set("setting", *setting);
            }
            _ => {}
        }
    }
    mapped
}

fn upstream_details(error: &UpstreamError) -> Value {
    let mut details = async_graphql::indexmap::IndexMap::new();
    details.insert(
        async_graphql::Name::new("endpoint"),
        Value::from(error.endpoint().path()),
    );
    if let Some((http_status, code, descriptions)) = error.answer() {
        details.insert(
            async_graphql::Name::new("httpStatus"),
            Value::from(http_status),
        );
        if let Some(code) = code {
            details.insert(async_graphql::Name::new("code"), Value::from(code));
        }
        details.insert(
            async_graphql::Name::new("descriptions"),
            Value::List(
                descriptions
                    .iter()
                    .map(|text| Value::from(text.as_str()))
                    .collect(),
            ),
        );
    }
    Value::Object(details)
}

/// Adds `extensions.names` to a `NOT_FOUND` error: the names of the input
/// RemotePC was asked about, so the UI can point at them.
pub(crate) fn naming<'n>(
    names: impl IntoIterator<Item = &'n str>,
) -> impl FnOnce(async_graphql::Error) -> async_graphql::Error {
    let names: Vec<Value> = names
        .into_iter()
        .map(|name| Value::from(name.trim()))
        .collect();
    move |mut error| {
        let not_found = error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .is_some_and(|code| *code == Value::from(ErrorCode::NotFound.as_str()));
        if let (true, Some(extensions)) = (not_found, error.extensions.as_mut()) {
            extensions.set("names", Value::List(names));
        }
        error
    }
}
