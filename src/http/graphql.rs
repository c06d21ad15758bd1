//! `POST /graphql` and `GET /graphql`: authenticate, offer the request to
//! the raw lane, read it, and hand it to admission; then answer what
//! admission refused or what its run finished with. Subscriptions' streams
//! branch off to `live`.

use std::time::Instant;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{FromRequest, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::AppState;
use super::answer::{self, Refused};
use super::conditional::Conditional;
use super::encoding::Negotiated;
use super::live;
use super::media::MediaType;
use super::raw_lane::{Entry, Lane};
use super::reading::{Source, content_type_is_json, from_query_string, read_requests};
use crate::admission::{IDEMPOTENCY_KEY, Refusal, Submission, Transport, parse_key};
use crate::auth::{AuthError, Credential};
use crate::graphql::{ErrorCode, KeptResponse, RequestIds, ResponseBody, Via};
use crate::telemetry;

pub(super) async fn post(
    State(state): State<AppState>,
    Extension(ids): Extension<RequestIds>,
    request: axum::extract::Request,
) -> Response {
    let negotiated = state.compression.negotiate(request.headers());
    let response = answer_post(state.clone(), ids, negotiated, request).await;
    state.compression.encode(negotiated, response).await
}

async fn answer_post(
    state: AppState,
    ids: RequestIds,
    negotiated: Negotiated,
    request: axum::extract::Request,
) -> Response {
    // The headers are moved out rather than extracted, which would copy
    // the whole map for every request.
    let (mut parts, body) = request.into_parts();
    let headers = std::mem::take(&mut parts.headers);
    if announced_length(&headers).is_some_and(|length| length > state.body_limit as u64) {
        // Refused before a byte of it is read; a body sent without a
        // length is cut off by `DefaultBodyLimit` as it is read.
        return Refusal::too_large(state.body_limit).answering(&headers);
    }
    let body = Bytes::from_request(axum::extract::Request::from_parts(parts, body), &state).await;
    let refusal = match body {
        _ if !content_type_is_json(&headers) => {
            let message = "POST bodies must be sent as Content-Type: application/json";
            let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            Refusal::new(status, ErrorCode::BadUserInput, message)
        }
        Ok(body) if live::wants_event_stream(&headers) => {
            let request = serde_json::from_slice(&body)
                .and_then(super::reading::request_from_json)
                .map_err(|_| {
                    "the body is not a GraphQL request: expected JSON with a `query` or a `documentId`".to_owned()
                });
            return Box::pin(live::sse_respond(
                state,
                ids,
                (headers, negotiated),
                request,
            ))
            .await;
        }
        Ok(body) => return handle(state, ids, (headers, negotiated), Source::Body(body)).await,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Refusal::too_large(state.body_limit)
        }
        Err(_) => Refusal::bad_request("the request body could not be read"),
    };
    refusal.answering(&headers)
}

/// The body's length as `Content-Length` announces it.
pub(super) fn announced_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A query in the query string, a WebSocket upgrade, or an event stream.
pub(super) async fn get(
    State(state): State<AppState>,
    Extension(ids): Extension<RequestIds>,
    request: axum::extract::Request,
) -> Response {
    let negotiated = state.compression.negotiate(request.headers());
    let response = answer_get(state.clone(), ids, negotiated, request).await;
    state.compression.encode(negotiated, response).await
}

async fn answer_get(
    state: AppState,
    ids: RequestIds,
    negotiated: Negotiated,
    request: axum::extract::Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let upgrade = parts
        .headers
        .get(header::UPGRADE)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if upgrade {
        let slot = (parts.extensions)
            .get::<super::serve::ConnectionSlot>()
            .and_then(super::serve::ConnectionSlot::take);
        return live::upgrade(state, ids, parts, slot).await;
    }
    let query = parts.uri.query().unwrap_or_default().to_owned();
    if live::wants_event_stream(&parts.headers) {
        let request = from_query_string(&query);
        let headers = (parts.headers, negotiated);
        return Box::pin(live::sse_respond(state, ids, headers, request)).await;
    }
    handle(
        state,
        ids,
        (parts.headers, negotiated),
        Source::Query(query),
    )
    .await
}

async fn handle(
    state: AppState,
    ids: RequestIds,
    (headers, negotiated): (HeaderMap, Negotiated),
    source: Source,
) -> Response {
    let started = Instant::now();
    let mut team = match authenticate(&state, &headers, started).await {
        Ok(team) => team,
        Err(refused) => return refused,
    };
    if negotiated.refuses_all() {
        return refuse(&team, &headers, unacceptable_coding(), started);
    }
    let lane = match state
        .raw_lane
        .offer(&team, &headers, &source, state.admission.trusted())
    {
        Lane::Seen(entry, ticket) => match state.operations.replay(entry.kept()) {
            Some(body) => {
                let request = (&headers, &source, negotiated);
                return answer_seen(&state, &mut team, request, (&entry, body), started).await;
            }
            // No longer current: answered the long way, and registered anew.
            None => Some(ticket),
        },
        Lane::Unseen(ticket) => Some(ticket),
        Lane::Closed => None,
    };
    let media = MediaType::negotiate(&headers);
    let submission = Submission {
        transport: match source {
            Source::Body(_) => Transport::Post,
            Source::Query(_) => Transport::Get,
        },
        ids,
        batch: read_requests(&source),
        refused_by_transport: media.is_none().then(not_acceptable),
        idempotency_key: parse_key(headers.get(IDEMPOTENCY_KEY).map(|value| value.as_bytes())),
        started,
        approval: None,
    };
    let admitted = match state.admission.admit(&mut team, submission).await {
        Ok(admitted) => admitted,
        Err(refused) => return refuse(&team, &headers, refused, started),
    };
    let media = media.unwrap_or(MediaType::Json);
    let label = match admitted.labels() {
        [label] => Some(label.clone()),
        _ => None,
    };
    // Boxed, as every large, rarer path is: the future of a cached answer
    // stays small, and axum's layers move it by value.
    let finished = Box::pin(admitted.run()).await;
    let media = (media, Conditional::of(&source, &headers));
    let encode = |body: &ResponseBody, kept: Option<&KeptResponse>| {
        state.encoded_head(negotiated, body, kept)
    };
    answer::finished(finished, (media, encode), started, |kept| {
        if let (Some(ticket), Some(label)) = (lane, label) {
            let lane = &state.raw_lane;
            lane.register(ticket, team.caller(), team.introspection(), kept, &label);
        }
    })
}

/// The answer the raw lane keeps for `source`, compressed as `headers`
/// ask; `None` when it keeps none (or the request does not authenticate,
/// or refuses every coding), for the long way, which refuses or answers.
pub(super) async fn from_lane(
    state: &AppState,
    headers: &HeaderMap,
    source: Source,
) -> Option<Response> {
    if !state.raw_lane.may_hold(&source) {
        return None;
    }
    let started = Instant::now();
    let negotiated = state.compression.negotiate(headers);
    if negotiated.refuses_all() {
        return None;
    }
    let mut team = credential_of(state, headers).await.ok()?;
    let trusted = state.admission.trusted();
    let Lane::Seen(entry, _) = state.raw_lane.offer(&team, headers, &source, trusted) else {
        return None;
    };
    let body = state.operations.replay(entry.kept())?;
    noted(&team);
    let request = (headers, &source, negotiated);
    let response = answer_seen(state, &mut team, request, (&entry, body), started).await;
    Some(state.compression.encode(negotiated, response).await)
}

/// A lane hit answered: charged first, as any other request is.
async fn answer_seen(
    state: &AppState,
    team: &mut Credential<'_>,
    (headers, source, negotiated): (&HeaderMap, &Source, Negotiated),
    (entry, body): (&Entry, ResponseBody),
    started: Instant,
) -> Response {
    if let Err(refused) = crate::admission::charge_all(team, 1).await {
        return refuse(team, headers, refused, started);
    }
    let media = (entry.media(), Conditional::of(source, headers));
    let encode = |body: &ResponseBody, kept: Option<&KeptResponse>| {
        state.encoded_head(negotiated, body, kept)
    };
    let body = (body, Some(entry.kept()), encode);
    let response = answer::written(media, body, Via::Cache, started);
    entry.record(started.elapsed());
    response
}

fn unacceptable_coding() -> Refusal {
    let message = "Accept-Encoding must allow br, zstd, gzip or identity";
    Refusal::new(StatusCode::NOT_ACCEPTABLE, ErrorCode::BadUserInput, message)
}

fn not_acceptable() -> Refusal {
    let message = "Accept must allow application/graphql-response+json or application/json";
    Refusal::new(StatusCode::NOT_ACCEPTABLE, ErrorCode::BadUserInput, message)
}

fn refuse(
    team: &Credential<'_>,
    headers: &HeaderMap,
    refused: Refusal,
    started: Instant,
) -> Response {
    observe_refusal(&team.caller().team, refused.code(), started);
    refused.answering(headers)
}

/// Who the request is from, recorded in its span (the team or role, and
/// the subject: never a token or an email); else the refusal.
pub(super) async fn authenticate<'s>(
    state: &'s AppState,
    headers: &HeaderMap,
    started: Instant,
) -> Result<Credential<'s>, Response> {
    match credential_of(state, headers).await {
        Ok(credential) => {
            noted(&credential);
            Ok(credential)
        }
        Err(error) => {
            let refusal = Refusal::of_authentication(error);
            observe_refusal("unauthenticated", refusal.code(), started);
            Err(refusal.answering(headers))
        }
    }
}

/// The credential `headers` present, as the authenticator judges it.
async fn credential_of<'s>(
    state: &'s AppState,
    headers: &HeaderMap,
) -> Result<Credential<'s>, AuthError> {
    let text = |name| headers.get(name).and_then(|value| value.to_str().ok());
    (state.authenticator)
        .authenticate(
            text(header::AUTHORIZATION.as_str()),
            text(super::ACCOUNT_HEADER),
        )
        .await
}

/// The caller in the access line and the request's span (the team or
/// role, and the subject: never a token or an email).
fn noted(credential: &Credential<'_>) {
    let caller = credential.caller();
    telemetry::access::note_team(&caller.team);
    // Both in one record: each is a trip through every layer.
    let span = tracing::Span::current();
    let Some(fields) = span.metadata().map(|metadata| metadata.fields()) else {
        return;
    };
    if let (Some(team), Some(subject)) = (fields.field("team"), fields.field("subject")) {
        let team_value: &dyn tracing::Value = &caller.team.as_str();
        let subject_value: &dyn tracing::Value = &caller.actor.subject.as_str();
        span.record_all(
            &fields.value_set(&[(&team, Some(team_value)), (&subject, Some(subject_value))]),
        );
    }
}

fn observe_refusal(team: &str, code: ErrorCode, started: Instant) {
    if code == ErrorCode::RateLimited {
        telemetry::record_rate_limited("team", team);
    }
    telemetry::record_graphql(team, "none", code.as_str(), started.elapsed().as_secs_f64());
}
