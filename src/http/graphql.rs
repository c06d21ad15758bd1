//! `POST /graphql`: authenticate, take quota, parse, enforce the batch size,
//! apply an idempotency key, execute.

use std::time::Instant;

use async_graphql::{BatchRequest, BatchResponse, Request};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use rand::distr::{Alphanumeric, SampleString};
use serde_json::json;
use tracing::Instrument;

use super::AppState;
use super::idempotency::{self, Idempotent, is_mutation};
use super::media::MediaType;
use super::persisted::PersistedError;
use crate::auth::Team;
use crate::graphql::{Answer, ErrorCode, Operation, Via, error_code};
use crate::telemetry;

pub(super) const REQUEST_ID: &str = "x-request-id";
/// `hit` when the response cache answered, `miss` when it could have but
/// held no current response; absent for what it never keeps (errors,
/// mutations, data besides snapshots).
const RESPONSE_CACHE: &str = "x-response-cache";
const SERVER_TIMING: &str = "server-timing";

/// Where the operation came from.
enum Source {
    /// A POST body: one request or a batch, as JSON.
    Body(Bytes),
    /// A GET query string: one query, never a mutation.
    Query(String),
}

pub(super) async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let source = match content_type_is_json(&headers) {
        true => Source::Body(body),
        false => return unsupported_media_type(&headers),
    };
    traced(state, headers, source).await
}

pub(super) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    traced(state, headers, Source::Query(query.unwrap_or_default())).await
}

/// Every log line of the request, down to the upstream calls, carries its
/// id (and, once known, its team).
async fn traced(state: AppState, headers: HeaderMap, source: Source) -> Response {
    let request_id = request_id(&headers);
    let span =
        tracing::info_span!("request", request_id = %request_id, team = tracing::field::Empty);
    handle(state, headers, source, request_id)
        .instrument(span)
        .await
}

async fn handle(
    state: AppState,
    headers: HeaderMap,
    source: Source,
    request_id: String,
) -> Response {
    let started = Instant::now();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let team = match state.teams.authenticate(authorization) {
        Ok(team) => team,
        Err(error) => {
            observe_refusal("unauthenticated", ErrorCode::Unauthenticated, started);
            let mut response = refusal(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthenticated,
                &error.to_string(),
                None,
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return with_request_id(response, &request_id);
        }
    };
    let team_name = team.caller().team.as_str();
    tracing::Span::current().record("team", team_name);
    let bad_request = |message: &str| {
        observe_refusal(team_name, ErrorCode::BadUserInput, started);
        let response = refusal(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            message,
            None,
        );
        with_request_id(response, &request_id)
    };
    if let Some(refused) = take_quota(team, 1) {
        observe_refusal(team_name, ErrorCode::RateLimited, started);
        return with_request_id(refused, &request_id);
    }
    let Some(media) = MediaType::negotiate(&headers) else {
        let message = "Accept must allow application/graphql-response+json or application/json";
        let response = refusal(
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::BadUserInput,
            message,
            None,
        );
        return with_request_id(response, &request_id);
    };
    let via_get = matches!(source, Source::Query(_));
    let mut requests = match source {
        Source::Body(body) => match serde_json::from_slice::<BatchRequest>(&body) {
            Ok(BatchRequest::Single(request)) => vec![request],
            Ok(BatchRequest::Batch(requests)) => requests,
            Err(_) => {
                return bad_request(
                    "the body is not a GraphQL request: expected JSON with a `query` (or an array of them)",
                );
            }
        },
        Source::Query(query) => match from_query_string(&query) {
            Ok(request) => vec![request],
            Err(message) => return bad_request(&message),
        },
    };
    for request in &mut requests {
        if let Err(error) = state.persisted.resolve(request) {
            // Apollo clients answer PersistedQueryNotFound by sending the
            // text; they expect it as a GraphQL error in a 200.
            let code = match error {
                PersistedError::NotFound => "PERSISTED_QUERY_NOT_FOUND",
                _ => ErrorCode::BadUserInput.as_str(),
            };
            let body = json!({ "errors": [{ "message": error.message(), "extensions": { "code": code } }] });
            return with_request_id(media.respond(StatusCode::OK, body.to_string()), &request_id);
        }
    }
    if via_get
        && requests
            .iter()
            .any(|request| is_mutation(request, state.max_nesting))
    {
        let message = "mutations are sent with POST (GET is for queries only)";
        let mut response = refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::BadUserInput,
            message,
            None,
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return with_request_id(response, &request_id);
    }
    if requests
        .iter()
        .any(|request| request.query.trim().is_empty())
    {
        return bad_request("`query` is missing or empty");
    }
    if requests.is_empty() || requests.len() > state.max_batch {
        return bad_request(&format!(
            "a batch of {} operations; send 1 to {} (graphql.max_batch)",
            requests.len(),
            state.max_batch
        ));
    }
    // A batch spends one quota unit per operation, so batching cannot
    // dodge the quota.
    if let Some(refused) = take_quota(team, requests.len() - 1) {
        observe_refusal(team_name, ErrorCode::RateLimited, started);
        return with_request_id(refused, &request_id);
    }
    let operations: Vec<String> = requests
        .iter()
        .map(|request| telemetry::operation_label(request.operation_name.as_deref()))
        .collect();
    let caller = team.caller();
    let mut operations_to_run = requests.into_iter().map(|request| Operation {
        request,
        caller: caller.clone(),
        request_id: request_id.clone(),
        introspection: team.introspection(),
    });

    let key = match idempotency::key(&headers) {
        Ok(key) => key,
        Err(message) => return bad_request(message),
    };
    let response = match (key, operations_to_run.next(), operations_to_run.len()) {
        (key, Some(operation), 0) => {
            let (response, outcome) = match key {
                Some(key) => {
                    Idempotent::new(&state, team, key)
                        .run(operation, media)
                        .await
                }
                None => answer(&state, operation, media, started).await,
            };
            telemetry::record_graphql(
                team_name,
                &operations[0],
                &outcome,
                started.elapsed().as_secs_f64(),
            );
            response
        }
        (Some(_), _, _) => {
            return bad_request("Idempotency-Key applies to one operation: do not batch it");
        }
        (None, first, _) => {
            // One after the other, as async-graphql runs a batch.
            let mut responses = Vec::with_capacity(operations.len());
            for operation in first.into_iter().chain(operations_to_run) {
                responses.push(state.engine.execute(operation).await);
            }
            for (response, operation) in responses.iter().zip(&operations) {
                telemetry::record_graphql(
                    team_name,
                    operation,
                    &outcome(response),
                    started.elapsed().as_secs_f64(),
                );
            }
            media.batch(&BatchResponse::Batch(responses))
        }
    };
    with_request_id(response, &request_id)
}

/// One operation without an Idempotency-Key: the response and its outcome
/// for metrics.
async fn answer(
    state: &AppState,
    operation: Operation,
    media: MediaType,
    started: Instant,
) -> (Response, String) {
    match state.engine.answer(operation).await {
        Answer::Body { body, via } => {
            let mut response = media.respond(StatusCode::OK, body);
            server_timing(&mut response, via, started);
            let cache = if via == Via::Cache { "hit" } else { "miss" };
            response
                .headers_mut()
                .insert(RESPONSE_CACHE, HeaderValue::from_static(cache));
            (response, "ok".to_owned())
        }
        Answer::Response(response) => {
            let mut answer = media.response(&response);
            server_timing(&mut answer, Via::Schema, started);
            (answer, outcome(&response))
        }
    }
}

/// `Server-Timing: gateway;desc="plan";dur=0.12`: what answered and how
/// long the gateway took, for the browser's developer tools.
fn server_timing(response: &mut Response, via: Via, started: Instant) {
    let value = format!(
        "gateway;desc=\"{}\";dur={:.3}",
        via.as_str(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(SERVER_TIMING, value);
    }
}

/// `Content-Type: application/json` (any parameters); GraphQL over HTTP
/// requires it of POST bodies.
fn content_type_is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

fn unsupported_media_type(headers: &HeaderMap) -> Response {
    let message = "POST bodies must be sent as Content-Type: application/json";
    let response = refusal(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::BadUserInput,
        message,
        None,
    );
    with_request_id(response, &request_id(headers))
}

/// A GET request's `query`, `operationName`, `variables` and `extensions`
/// (the last two as JSON objects).
fn from_query_string(query: &str) -> Result<Request, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| "the query string cannot be decoded".to_owned())?;
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let json_object = |name: &str| -> Result<Option<serde_json::Value>, String> {
        match value(name) {
            None => Ok(None),
            Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::Null) => Ok(None),
                Ok(object @ serde_json::Value::Object(_)) => Ok(Some(object)),
                _ => Err(format!("`{name}` must be a JSON object")),
            },
        }
    };
    let mut request = Request::new(value("query").unwrap_or_default());
    if let Some(name) = value("operationName").filter(|name| !name.is_empty()) {
        request = request.operation_name(name);
    }
    if let Some(variables) = json_object("variables")? {
        request = request.variables(async_graphql::Variables::from_json(variables));
    }
    if let Some(serde_json::Value::Object(extensions)) = json_object("extensions")? {
        for (key, value) in extensions {
            request.extensions.insert(
                key,
                async_graphql::Value::from_json(value).unwrap_or_default(),
            );
        }
    }
    Ok(request)
}

/// The first error's code, or `ok`.
pub(super) fn outcome(response: &async_graphql::Response) -> String {
    response.errors.first().map_or_else(
        || "ok".to_owned(),
        |error| {
            error_code(error.extensions.as_ref())
                .unwrap_or_else(|| ErrorCode::Internal.as_str().to_owned())
        },
    )
}

fn observe_refusal(team: &str, code: ErrorCode, started: Instant) {
    if code == ErrorCode::RateLimited {
        telemetry::record_rate_limited("team", team);
    }
    telemetry::record_graphql(team, "none", code.as_str(), started.elapsed().as_secs_f64());
}

/// Takes `units` from the team's quota; a refusal when it is spent.
fn take_quota(team: &Team, units: usize) -> Option<Response> {
    for _ in 0..units {
        if let Err(wait) = team.take_quota() {
            let message = format!(
                "team `{}` is over its quota; retry in {} ms",
                team.caller().team,
                wait.as_millis().max(1)
            );
            let mut response = refusal(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                &message,
                Some(wait),
            );
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return Some(response);
        }
    }
    None
}

/// The request's id: the caller's `x-request-id` when it is sane, else a
/// new one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            (1..=128).contains(&id.len()) && id.bytes().all(|byte| byte.is_ascii_graphic())
        })
        .map_or_else(
            || Alphanumeric.sample_string(&mut rand::rng(), 20),
            str::to_owned,
        )
}

pub(super) fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// A GraphQL error response outside execution.
pub(super) fn refusal(
    status: StatusCode,
    code: ErrorCode,
    message: &str,
    retry_after: Option<std::time::Duration>,
) -> Response {
    let mut extensions = json!({ "code": code.as_str() });
    if let Some(wait) = retry_after {
        extensions["retryAfterMs"] = json!(wait.as_millis().max(1) as u64);
    }
    let body =
        json!({ "data": null, "errors": [{ "message": message, "extensions": extensions }] });
    MediaType::Json.respond(status, body.to_string())
}
