//! Running an admitted request. A request that writes runs as its own task
//! on the write tracker: the client leaving, `server.request_timeout` or
//! the shutdown grace cannot cut it short between two RemotePC calls, so it
//! always completes its audit record and idempotency key. Reads run in the
//! request and are dropped with it.

use std::time::Instant;

use async_graphql::{BatchResponse, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::AppState;
use super::idempotency::Idempotent;
use super::media::MediaType;
use super::raw_lane::Ticket;
use super::refusal::Refusal;
use crate::auth::{Caller, Scope};
use crate::graphql::{Answer, KeptResponse, Operation, RequestIds, ResponseBody, Via, outcome};
use crate::telemetry;

/// `hit` when the response cache answered, `miss` when it could have but
/// held no current response; absent for what it never keeps (errors,
/// mutations, data besides snapshots).
const RESPONSE_CACHE: &str = "x-response-cache";
const SERVER_TIMING: &str = "server-timing";

/// An admitted request and everything needed to answer it, owned, so it
/// can outlive the connection it came on.
pub(super) struct Job {
    pub(super) state: AppState,
    pub(super) caller: Caller,
    pub(super) introspection: bool,
    pub(super) ids: RequestIds,
    pub(super) requests: Vec<Scoped>,
    /// Sent as a JSON array: answered with an array, even of one.
    pub(super) is_array: bool,
    pub(super) key: Option<String>,
    pub(super) media: MediaType,
    pub(super) started: Instant,
    /// Whether its operations include a mutation, as admission read it.
    pub(super) writes: bool,
    /// Registers the request with the raw-request lane if the response
    /// cache keeps its answer.
    pub(super) lane: Option<Ticket>,
    /// Each operation's label in metrics, spans and the access line.
    pub(super) labels: Vec<String>,
}

/// The label of each of `requests`, sent by `team`, computed once per
/// request for metrics, spans and the access line.
pub(super) fn labels(team: &str, requests: &[Scoped]) -> Vec<String> {
    requests
        .iter()
        .map(|scoped| telemetry::operation_label(team, scoped.request.operation_name.as_deref()))
        .collect()
}

/// One request of a job, and the scopes it runs with when its trusted
/// documents lent it those of only some of the caller's roles.
pub(super) struct Scoped {
    pub(super) request: Request,
    pub(super) narrowed: Option<Vec<Scope>>,
}

/// Answers `job` within `server.request_timeout`; a job that writes runs
/// detached and goes on after the answer if it must.
pub(super) async fn respond(job: Job) -> Response {
    let timeout = job.state.request_timeout;
    let media = job.media;
    if !job.writes {
        return tokio::time::timeout(timeout, job.run())
            .await
            .unwrap_or_else(|_| {
                Refusal::timed_out(timeout, false)
                    .in_media(media)
                    .into_response()
            });
    }
    let writes = job.state.writes.clone();
    let grace_over = job.state.grace_over.clone();
    let task = writes.spawn(job.run().in_current_span());
    let waited = tokio::select! {
        waited = tokio::time::timeout(timeout, task) => waited,
        () = grace_over.cancelled() => {
            return Refusal::stopped_before_write_finished().in_media(media).into_response();
        }
    };
    match waited {
        Ok(Ok(response)) => response,
        Ok(Err(_)) => {
            tracing::error!("a write task failed; its audit record says how far it got");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(_) => Refusal::timed_out(timeout, true)
            .in_media(media)
            .into_response(),
    }
}

impl Job {
    async fn run(mut self) -> Response {
        let team = self.caller.team.clone();
        let labels = std::mem::take(&mut self.labels);
        let started = self.started;
        let record = |label: &str, outcome: &str| {
            telemetry::record_graphql(&team, label, outcome, started.elapsed().as_secs_f64());
        };
        let (state, media, key, writes) = (
            self.state.clone(),
            self.media,
            self.key.clone(),
            self.writes,
        );
        if telemetry::exporting() {
            let current = tracing::Span::current();
            if let [label] = labels.as_slice() {
                current.record("graphql.operation.name", label.as_str());
            }
            let kind = if self.writes { "mutation" } else { "query" };
            current.record("graphql.operation.type", kind);
        }
        let mut operations = self.operations();
        // The length is checked before anything is taken out: a batch keeps
        // every operation, and an array of one stays an array.
        if !self.is_array
            && operations.len() == 1
            && let (Some(operation), Some(label)) = (operations.pop(), labels.first())
        {
            let (response, outcome) = match key {
                Some(key) => {
                    // Boxed, as execution is below: these futures are large
                    // and a cached answer's should not carry them.
                    let owner = self.caller.idempotency_owner();
                    let idempotent = Idempotent::new(&state, &owner, key);
                    Box::pin(idempotent.run(operation, media, writes)).await
                }
                None => {
                    let (response, outcome, kept) = answer(&state, operation, media, started).await;
                    if let (Some(kept), Some(ticket)) = (kept, self.lane) {
                        let (caller, introspection) = (&self.caller, self.introspection);
                        state
                            .raw_lane
                            .register(ticket, caller, introspection, kept, label);
                    }
                    (response, outcome)
                }
            };
            record(label, &outcome);
            return response;
        }
        // One after the other, as async-graphql runs a batch.
        let mut responses = Vec::with_capacity(operations.len());
        for operation in operations {
            responses.push(Box::pin(state.operations.execute(operation)).await);
        }
        for (response, label) in responses.iter().zip(&labels) {
            record(label, &outcome(response));
        }
        media.batch(&BatchResponse::Batch(responses))
    }

    /// The job's requests as operations, each with the caller.
    fn operations(&mut self) -> Vec<Operation> {
        std::mem::take(&mut self.requests)
            .into_iter()
            .map(|Scoped { request, narrowed }| Operation {
                request,
                caller: self.caller.narrowed(narrowed),
                ids: self.ids.clone(),
                introspection: self.introspection,
            })
            .collect()
    }
}

/// One operation without an Idempotency-Key: the response and its outcome
/// for metrics, and the kept response when the response cache keeps it.
async fn answer(
    state: &AppState,
    operation: Operation,
    media: MediaType,
    started: Instant,
) -> (Response, String, Option<KeptResponse>) {
    let span = tracing::debug_span!(
        "graphql.answer",
        via = tracing::field::Empty,
        response_cache = tracing::field::Empty,
    );
    let answered = state
        .operations
        .answer(operation)
        .instrument(span.clone())
        .await;
    match answered {
        Answer::Written { body, via, kept } => {
            span.record("via", via.as_str());
            span.record(
                "response_cache",
                if via == Via::Cache { "hit" } else { "miss" },
            );
            let response = written(media, body, via, started);
            (response, "ok".to_owned(), kept)
        }
        Answer::Executed(response) => {
            span.record("via", Via::Schema.as_str());
            let mut answer = media.response(&response);
            server_timing(&mut answer, Via::Schema, started);
            (answer, outcome(&response), None)
        }
    }
}

/// A body written by the response cache, a plan or the schema, with the
/// headers that say which.
pub(super) fn written(
    media: MediaType,
    body: ResponseBody,
    via: Via,
    started: Instant,
) -> Response {
    let mut response = media.respond_written(body);
    server_timing(&mut response, via, started);
    let cache = if via == Via::Cache { "hit" } else { "miss" };
    response
        .headers_mut()
        .insert(RESPONSE_CACHE, HeaderValue::from_static(cache));
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
