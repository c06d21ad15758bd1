//! `POST /graphql` and `GET /graphql`: authenticate, take quota, read the
//! batch, check it, then hand it to `run`. Everything that can refuse a
//! request does so here, before anything is stored or executed.

use std::time::Instant;

use async_graphql::Request;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequest, FromRequestParts, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::idempotency;
use super::live;
use super::media::MediaType;
use super::persisted::PersistedError;
use super::raw_lane::Lane;
use super::reading::{Requests, Source, content_type_is_json, from_query_string, read_requests};
use super::refusal::Refusal;
use super::run::{self, Job, Scoped};
use super::trusted;
use crate::auth::{AuthError, Credential, QuotaRefusal, Settlement};
use crate::graphql::{ErrorCode, RequestIds, Via, write_profile};
use crate::telemetry;

pub(super) async fn post(
    State(state): State<AppState>,
    Extension(ids): Extension<RequestIds>,
    request: axum::extract::Request,
) -> Response {
    // The headers are moved out rather than extracted, which would copy
    // the whole map for every request.
    let (mut parts, body) = request.into_parts();
    let headers = std::mem::take(&mut parts.headers);
    if announced_length(&headers).is_some_and(|length| length > state.body_limit as u64) {
        // Refused before a byte of it is read; a body sent without a
        // length is cut off by `DefaultBodyLimit` as it is read.
        return Refusal::too_large(state.body_limit)
            .answering(&headers)
            .into_response();
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
            return Box::pin(live::sse_respond(state, ids, headers, request)).await;
        }
        Ok(body) => return handle(state, ids, headers, Source::Body(body)).await,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Refusal::too_large(state.body_limit)
        }
        Err(_) => Refusal::bad_request("the request body could not be read"),
    };
    refusal.answering(&headers).into_response()
}

fn announced_length(headers: &HeaderMap) -> Option<u64> {
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
    let (mut parts, _) = request.into_parts();
    let upgrade = parts
        .headers
        .get(header::UPGRADE)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if upgrade {
        let slot = (parts.extensions)
            .get::<super::serve::ConnectionSlot>()
            .and_then(super::serve::ConnectionSlot::take);
        return match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(upgrade) => live::upgrade(state, ids, &parts.headers, upgrade, slot),
            Err(rejection) => rejection.into_response(),
        };
    }
    let query = parts.uri.query().unwrap_or_default().to_owned();
    if live::wants_event_stream(&parts.headers) {
        let request = from_query_string(&query);
        return Box::pin(live::sse_respond(state, ids, parts.headers, request)).await;
    }
    handle(state, ids, parts.headers, Source::Query(query)).await
}

async fn handle(state: AppState, ids: RequestIds, headers: HeaderMap, source: Source) -> Response {
    let started = Instant::now();
    let team = match authenticate(&state, &headers, started).await {
        Ok(team) => team,
        Err(refused) => return refused,
    };
    let lane = match state
        .raw_lane
        .offer(&team, &headers, &source, &state.trusted)
    {
        Lane::Seen(entry, ticket) => match state.operations.replay(entry.kept()) {
            Some(body) => {
                // Charged before it is served, as any other request is.
                let charged = charge(&team, 1);
                let settled = settle(team.settlement()).await;
                return match settled_as(&team, settled, charged) {
                    Ok(()) => {
                        let response = run::written(entry.media(), body, Via::Cache, started);
                        entry.record(started.elapsed());
                        response
                    }
                    Err(refused) => refuse(&team, &headers, *refused, started),
                };
            }
            // No longer current: answered the long way, and registered anew.
            None => Some(ticket),
        },
        Lane::Unseen(ticket) => Some(ticket),
        Lane::Closed => None,
    };
    let (bytes, query_string) = match &source {
        Source::Body(body) => (body.as_ref(), false),
        Source::Query(query) => (query.as_bytes(), true),
    };
    state
        .persisted
        .prefetch(&team.caller().account, bytes, query_string)
        .await;
    let admitted = admit(&state, &team, &ids, &headers, source);
    let settled = settle(team.settlement()).await;
    let admitted = settled_as(&team, settled, admitted);
    match admitted {
        Ok(admitted) => {
            let labels = run::labels(&team.caller().team, &admitted.requests);
            if let [label] = labels.as_slice() {
                super::access::note_operation(label);
            }
            let job = Job {
                state: state.clone(),
                caller: team.charged_caller(),
                introspection: team.introspection(),
                ids,
                requests: admitted.requests,
                is_array: admitted.is_array,
                key: admitted.key,
                media: admitted.media,
                started,
                writes: admitted.writes,
                lane,
                labels,
            };
            // Boxed, as every large, rarer path is: the future of a cached
            // answer stays small, and axum's layers move it by value.
            Box::pin(run::respond(job)).await
        }
        Err(refused) => refuse(&team, &headers, *refused, started),
    }
}

/// With replicas, the units counted while admitting are taken from the
/// quota the replicas share now, whether or not the request was admitted.
async fn settle(settlement: Option<Settlement>) -> Option<Result<Option<u32>, QuotaRefusal>> {
    Some(Box::pin(settlement?.settle()).await)
}

/// `admitted`, unless the shared quota refused the units it counted.
fn settled_as<T>(
    team: &Credential<'_>,
    settled: Option<Result<Option<u32>, QuotaRefusal>>,
    admitted: Result<T, Refused>,
) -> Result<T, Refused> {
    match settled {
        None => admitted,
        Some(Ok(left)) => {
            team.settled(left);
            admitted
        }
        Some(Err(refused)) => {
            admitted.and(Err(Box::new(Refusal::over_quota(team.caller(), refused))))
        }
    }
}

fn refuse(
    team: &Credential<'_>,
    headers: &HeaderMap,
    refused: Refusal,
    started: Instant,
) -> Response {
    observe_refusal(&team.caller().team, refused.code, started);
    refused.answering(headers).into_response()
}

/// Who the request is from, recorded in its span (the team or role, and
/// the subject: never a token or an email); else the refusal.
pub(super) async fn authenticate<'s>(
    state: &'s AppState,
    headers: &HeaderMap,
    started: Instant,
) -> Result<Credential<'s>, Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let account = headers
        .get(super::ACCOUNT_HEADER)
        .and_then(|value| value.to_str().ok());
    match state
        .authenticator
        .authenticate(authorization, account)
        .await
    {
        Ok(credential) => {
            let caller = credential.caller();
            super::access::note_team(&caller.team);
            let span = tracing::Span::current();
            span.record("team", caller.team.as_str());
            span.record("subject", caller.actor.subject.as_str());
            Ok(credential)
        }
        Err(error @ (AuthError::NoRole | AuthError::AccountNotGranted(_))) => {
            observe_refusal("unauthenticated", ErrorCode::Forbidden, started);
            let refusal = Refusal::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                error.to_string(),
            );
            Err(refusal.answering(headers).into_response())
        }
        Err(error) => {
            observe_refusal("unauthenticated", ErrorCode::Unauthenticated, started);
            Err(Refusal::unauthenticated(error)
                .answering(headers)
                .into_response())
        }
    }
}

/// A request that passed every check, ready to run.
struct Admitted {
    requests: Vec<Scoped>,
    is_array: bool,
    key: Option<String>,
    media: MediaType,
    writes: bool,
}

/// Boxed: a refusal is large beside the happy path's value.
type Refused = Box<Refusal>;

/// The checks, in the order that is safe: quota and the batch bound before
/// anything is stored (persisted texts are registered last).
fn admit(
    state: &AppState,
    team: &Credential<'_>,
    ids: &RequestIds,
    headers: &HeaderMap,
    source: Source,
) -> Result<Admitted, Refused> {
    charge(team, 1)?;
    let Some(media) = MediaType::negotiate(headers) else {
        let message = "Accept must allow application/graphql-response+json or application/json";
        let status = StatusCode::NOT_ACCEPTABLE;
        let refusal = Refusal::new(status, ErrorCode::BadUserInput, message);
        return Err(Box::new(refusal));
    };
    let via_get = matches!(source, Source::Query(_));
    let (mut requests, is_array) = read_batch(state, team, source)?;
    let mut registrations = Vec::new();
    let mut narrowed = Vec::with_capacity(requests.len());
    for request in &mut requests {
        narrowed.push(trusted::admit_audited(state, team.caller(), ids, request)?);
        match state.persisted.resolve(&team.caller().account, request) {
            Ok(registration) => registrations.extend(registration),
            Err(error) => return Err(Box::new(persisted_refusal(media, error))),
        }
    }
    if requests
        .iter()
        .any(|request| request.query.trim().is_empty())
    {
        return Err(bad("`query` is missing or empty"));
    }
    let writes = charge_writes(state, team, &requests, via_get)?;
    let key = idempotency::key(headers).map_err(bad)?;
    if key.is_some() && is_array {
        return Err(bad(
            "Idempotency-Key applies to one operation sent alone: do not send it in an array",
        ));
    }
    for registration in registrations {
        state.persisted.register(registration);
    }
    let requests = requests
        .into_iter()
        .zip(narrowed)
        .map(|(request, narrowed)| Scoped { request, narrowed })
        .collect();
    Ok(Admitted {
        requests,
        is_array,
        key,
        media,
        writes,
    })
}

/// Takes `units` of the team's quota, all or none.
fn charge(team: &Credential<'_>, units: u32) -> Result<(), Refused> {
    team.take_quota_units(units)
        .map_err(|refused| Box::new(Refusal::over_quota(team.caller(), refused)))
}

fn bad(message: &str) -> Refused {
    Box::new(Refusal::bad_request(message))
}

/// The requests of the body or query string, within `graphql.max_batch`,
/// and whether they came as an array; a batch spends one quota unit per
/// operation, so batching cannot dodge the quota.
fn read_batch(
    state: &AppState,
    team: &Credential<'_>,
    source: Source,
) -> Result<(Vec<Request>, bool), Refused> {
    let Requests { requests, is_array } = read_requests(source).map_err(|message| bad(&message))?;
    if requests.is_empty() || requests.len() > state.max_batch {
        return Err(bad(&format!(
            "a batch of {} operations; send 1 to {} (graphql.max_batch)",
            requests.len(),
            state.max_batch
        )));
    }
    charge(team, u32::try_from(requests.len() - 1).unwrap_or(u32::MAX))?;
    Ok((requests, is_array))
}

/// Whether the requests write. Mutations are refused over GET; each
/// operation paid one unit, and every further RemotePC call a mutation may
/// make costs one more.
fn charge_writes(
    state: &AppState,
    team: &Credential<'_>,
    requests: &[Request],
    via_get: bool,
) -> Result<bool, Refused> {
    let profiles: Vec<_> = requests
        .iter()
        .map(|request| write_profile(request, state.max_nesting, state.remove_batch))
        .collect();
    let writes = profiles.iter().any(|profile| profile.mutation);
    if via_get && writes {
        let message = "mutations are sent with POST (GET is for queries only)";
        let status = StatusCode::METHOD_NOT_ALLOWED;
        let refusal = Refusal::new(status, ErrorCode::BadUserInput, message);
        return Err(Box::new(refusal.header(header::ALLOW, "POST")));
    }
    let further_calls = profiles
        .iter()
        .map(|profile| profile.upstream_calls.saturating_sub(1))
        .sum();
    charge(team, further_calls)?;
    Ok(writes)
}

/// Apollo clients answer PersistedQueryNotFound by sending the text; they
/// expect it as a GraphQL error in a 200. A malformed extension, or a text
/// that does not match its hash, is a bad request (GraphQL over HTTP: 4xx,
/// no `data`).
fn persisted_refusal(media: MediaType, error: PersistedError) -> Refusal {
    let (status, code) = match error {
        PersistedError::NotFound => (StatusCode::OK, ErrorCode::PersistedQueryNotFound),
        _ => (StatusCode::BAD_REQUEST, ErrorCode::BadUserInput),
    };
    Refusal::new(status, code, error.message()).in_media(media)
}

fn observe_refusal(team: &str, code: ErrorCode, started: Instant) {
    if code == ErrorCode::RateLimited {
        telemetry::record_rate_limited("team", team);
    }
    telemetry::record_graphql(team, "none", code.as_str(), started.elapsed().as_secs_f64());
}
