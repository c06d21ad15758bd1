//! The simulator's HTTP side: routing, key check, faults and envelopes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;
use serde_json::{Value, json};

use super::state::SimError;
use super::vendor_rules;
use super::{Fault, RecordedCall, Shared, lock};
use crate::upstream::Endpoint;

/// The vendor's path prefix, kept so base URLs look alike.
pub(super) const BASE_PATH: &str = "/rpcnew/api/msp";

pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut routes = Router::new();
    for endpoint in Endpoint::ALL {
        let handler =
            move |state: State<Arc<Shared>>,
                  peer: ConnectInfo<SocketAddr>,
                  headers: HeaderMap,
                  query: RawQuery,
                  body: Bytes| handle(endpoint, state, peer, headers, query, body);
        let path = format!("/{}", endpoint.path());
        routes = if endpoint.is_read() {
            routes.route(&path, get(handler))
        } else {
            routes.route(&path, post(handler))
        };
    }
    let app = Router::new().nest(BASE_PATH, routes).with_state(shared);
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    );
    // Not graceful: a `Hang` fault must not keep a dropped simulator alive.
    tokio::select! {
        result = server => if let Err(error) = result {
            tracing::error!(%error, "simulator stopped");
        },
        _ = stop => {}
    }
}

/// Counts `in_flight` up for as long as it lives.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(
    endpoint: Endpoint,
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    shared.calls[endpoint as usize].fetch_add(1, Ordering::SeqCst);
    let _in_flight = InFlight::enter(&shared);
    let json_body = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|key| *lock(&shared.api_key) == key);
    record(
        &shared,
        RecordedCall {
            endpoint,
            peer,
            query: query.clone(),
            body: json_body.clone(),
            authorized,
            host: headers
                .get(header::HOST)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
            traceparent: headers
                .get("traceparent")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
        },
    );
    let latency = shared.latency_ms.load(Ordering::SeqCst);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if shared.over_rate_limit() {
        let mut response = envelope(Err(SimError {
            status: 429,
            descriptions: vec!["Too many requests".to_owned()],
        }));
        response.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
        return response;
    }
    if let Some(fault) = next_fault(&shared, endpoint)
        && let Some(response) = apply_fault(fault).await
    {
        return response;
    }
    if !authorized {
        return envelope(Err(SimError {
            status: 401,
            descriptions: vec!["Invalid user".to_owned()],
        }));
    }
    if !body.is_empty() && json_body.is_null() && !endpoint.is_read() {
        return envelope(Err(SimError {
            status: 400,
            descriptions: vec!["FAILED".to_owned()],
        }));
    }

    answer(&shared, endpoint, query.as_deref(), &json_body)
}

/// What the account answers to a call that got past keys and faults.
fn answer(shared: &Shared, endpoint: Endpoint, query: Option<&str>, body: &Value) -> Response {
    let mut state = lock(&shared.state);
    let result = match endpoint {
        Endpoint::UserInvite => state.invite(body),
        Endpoint::UserCreate => state.create_user(body),
        Endpoint::UserDelete => state.delete_users(body),
        Endpoint::ComputerAssign => state.assign(body, true),
        Endpoint::ComputerUnassign => state.assign(body, false),
        Endpoint::GroupCreate => state.create_group(body),
        Endpoint::GroupMove => state.move_to_group(body),
        Endpoint::ComputerRemove => state.remove(body),
        Endpoint::CommentAdd => state.add_comment(body),
        Endpoint::UserList => {
            let page = paging(query, body).and_then(|(page, size)| state.user_page(page, size));
            return page_envelope(page);
        }
        Endpoint::ComputerList => {
            let page = paging(query, body).and_then(|(page, size)| state.device_page(page, size));
            return page_envelope(page);
        }
    };
    envelope(result)
}

/// Keeps `call`, dropping the oldest past `RECORD_LIMIT`.
fn record(shared: &Shared, call: RecordedCall) {
    let mut recorded = lock(&shared.recorded);
    if recorded.len() >= super::RECORD_LIMIT {
        recorded.remove(0);
    }
    recorded.push(call);
}

fn next_fault(shared: &Shared, endpoint: Endpoint) -> Option<Fault> {
    let mut faults = lock(&shared.faults);
    if let Some(fault) = faults
        .queued
        .get_mut(&endpoint)
        .and_then(|queue| queue.pop_front())
    {
        return Some(fault);
    }
    if let Some(fault) = &faults.outage {
        return Some(fault.clone());
    }
    if let Some(fault) = faults
        .mix
        .and_then(|mix| mix.pick(rand::rng().random_range(0.0..1.0)))
    {
        return Some(fault);
    }
    drop(faults);
    let rate = shared.error_rate_ppm.load(Ordering::SeqCst);
    (rate > 0 && rand::rng().random_range(0..1_000_000) < rate).then_some(Fault::Status(500))
}

/// `pageIndex`/`recordPerPage` from the query string, else the JSON body.
fn paging(query: Option<&str>, body: &Value) -> Result<(usize, usize), SimError> {
    let from_query = |name: &str| {
        query?
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| Value::String(value.to_owned()))
    };
    let read = |name: &str| from_query(name).or_else(|| body.get(name).cloned());
    let number = |value: Value| match value {
        Value::Number(number) => number.as_u64().map(|n| n as usize),
        Value::String(text) => text.parse().ok(),
        _ => None,
    };
    let invalid = || SimError {
        status: 400,
        descriptions: vec!["Invalid page index".to_owned()],
    };
    let page = match read("pageIndex") {
        None => 1,
        Some(value) => number(value).ok_or_else(invalid)?,
    };
    let size = match read("recordPerPage") {
        None => vendor_rules::MAX_PER_PAGE,
        Some(value) => number(value).filter(|size| *size > 0).ok_or_else(invalid)?,
    };
    Ok((page, size.min(vendor_rules::MAX_PER_PAGE)))
}

fn status_name(status: u16) -> &'static str {
    match status {
        400 => "BAD_REQUEST",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        _ => "INTERNAL_SERVER_ERROR",
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A list page, whose message is already JSON text.
fn page_envelope(page: Result<String, SimError>) -> Response {
    match page {
        Ok(message) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            format!(r#"{{"status":"OK","code":200,"message":{message}}}"#),
        )
            .into_response(),
        Err(error) => envelope(Err(error)),
    }
}

fn envelope(result: Result<Value, SimError>) -> Response {
    match result {
        Ok(message) => json_response(
            200,
            &json!({"status": "OK", "code": 200, "message": message}),
        ),
        Err(error) => {
            // RemotePC's descriptions come with a trailing space.
            let errors: Vec<Value> = error
                .descriptions
                .iter()
                .map(|description| json!({ "description": format!("{description} ") }))
                .collect();
            json_response(
                error.status,
                &json!({
                    "status": status_name(error.status),
                    "code": error.status,
                    "errorsCount": errors.len(),
                    "errors": errors,
                }),
            )
        }
    }
}

/// Delays the call, or answers it in the fault's broken way.
async fn apply_fault(fault: Fault) -> Option<Response> {
    let response = match fault {
        Fault::Latency(extra) => {
            tokio::time::sleep(extra).await;
            return None;
        }
        Fault::Status(status) => {
            let description = if status >= 500 { "INTERNAL_SERVER_ERROR" } else { "FAILED" };
            envelope(Err(SimError {
                status,
                descriptions: vec![description.to_owned()],
            }))
        }
        Fault::Reject { status, description } => envelope(Err(SimError {
            status,
            descriptions: vec![description],
        })),
        Fault::Html(status) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            [(header::CONTENT_TYPE, "text/html")],
            "<html><head><title>Service Unavailable</title></head><body><h1>Maintenance</h1></body></html>",
        )
            .into_response(),
        Fault::EmptyBody => StatusCode::OK.into_response(),
        Fault::Truncated => (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"OK","code":200,"message":{"devices":[{"machine_id":"#,
        )
            .into_response(),
        Fault::NotOkStatus => json_response(
            200,
            &json!({"status": "INTERNAL_SERVER_ERROR", "code": 500, "errors": [{"description": "FAILED "}]}),
        ),
        Fault::CodeMismatch => json_response(200, &json!({"status": "OK", "code": 500, "message": "SUCCESS"})),
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Fault::Reset => {
            let broken = futures::stream::once(async {
                Err::<Bytes, _>(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "simulated reset"))
            });
            Response::new(Body::from_stream(broken))
        }
        Fault::Redirect { status, location } => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::TEMPORARY_REDIRECT),
            [(header::LOCATION, location)],
        )
            .into_response(),
    };
    Some(response)
}
