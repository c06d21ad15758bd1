//! Logging, traces and metrics. Logs: a `tracing` subscriber writing JSON
//! or pretty lines to a writer the caller chooses (the binary's: standard
//! output behind `line_buffer`, written a millisecond's lines at a time).
//! Traces: the same spans, exported over OTLP when `[otel]` names a
//! collector (`otel`), with W3C trace context at the edges
//! (`trace_context`). Metrics: one Prometheus recorder per process,
//! rendered by `GET /metrics`. Labels only ever carry bounded values (team
//! and account names from settings, endpoint names, outcome codes,
//! operation names capped in number), never a token or a key.

pub mod access;
mod json_fields;
mod json_line;
mod line_buffer;
mod otel;
mod series;
mod timestamp;
pub mod trace_context;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

pub use line_buffer::{LineBuffer, LineFlush, stdout_lines};
pub use otel::Export;

use crate::settings::{LogFormat, LogSettings, OtelSettings};

/// Whether spans are exported (an OpenTelemetry layer is installed).
static EXPORTING: AtomicBool = AtomicBool::new(false);
/// Whether calls to RemotePC carry `traceparent` (`otel.propagate_upstream`).
static PROPAGATING: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported. Attributes only traces need are recorded
/// only then: recording the status and operation on every request's span
/// cost a cached answer 4.6k instructions (64.7k -> 69.3k at `info`) even
/// with fields appended rather than re-rendered.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

fn propagating() -> bool {
    PROPAGATING.load(Ordering::Relaxed)
}

/// Installs the global subscriber: log lines as `log` says (`RUST_LOG`
/// overrides `log.filter`), and, when `otel` names an endpoint, spans
/// exported over OTLP (the gateway's own spans down to `debug`, whatever
/// the log filter). Does nothing when a subscriber is already installed
/// (tests start many apps). Keep the returned export to flush it at exit.
pub fn init<W>(
    settings: &LogSettings,
    otel: &OtelSettings,
    writer: W,
) -> Result<Option<Export>, String>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = without_payload_logs(
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter)),
    );
    let lines: Box<dyn Layer<Registry> + Send + Sync> = match settings.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .event_format(json_line::WithRequestIds(
                tracing_subscriber::fmt::format()
                    .json()
                    .with_timer(timestamp::UtcMicros)
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(true),
            ))
            .fmt_fields(json_fields::AppendedJsonFields)
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .compact()
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
    };
    let Some((tracer, export)) = otel::start(otel)? else {
        let _already_installed = tracing_subscriber::registry().with(lines).try_init();
        return Ok(None);
    };
    let spans = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(Targets::new().with_target("remotepc_gateway", Level::DEBUG));
    if tracing_subscriber::registry()
        .with(lines)
        .with(spans)
        .try_init()
        .is_ok()
    {
        EXPORTING.store(true, Ordering::Relaxed);
        PROPAGATING.store(otel.propagate_upstream, Ordering::Relaxed);
    }
    Ok(Some(export))
}

/// Crates that log whole messages at `trace` (tungstenite writes every
/// WebSocket frame, `connection_init` and its token included): silenced
/// whatever the filter asks, so that no secret reaches a log at any level.
const PAYLOAD_LOGGING_TARGETS: [&str; 2] = ["tungstenite", "tokio_tungstenite"];

fn without_payload_logs(mut filter: EnvFilter) -> EnvFilter {
    for target in PAYLOAD_LOGGING_TARGETS {
        if let Ok(off) = format!("{target}=off").parse() {
            filter = filter.add_directive(off);
        }
    }
    filter
}

/// Seconds; upstream calls and GraphQL requests both fall in this range.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's Prometheus recorder, installed on first use.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let recorder = builder
            .set_buckets(&LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; metrics then
        // go there and this handle renders an empty page.
        if metrics::set_global_recorder(recorder).is_ok() {
            series::describe_all();
        }
        handle
    })
}

/// Most distinct client-chosen operation names kept as label values per
/// team; later ones are counted as `other`, so no client can grow the label
/// set, and no team can use up another's names.
const MAX_OPERATION_NAMES_PER_TEAM: usize = 100;

/// The label value for `team`'s `operationName`.
pub fn operation_label(team: &str, name: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashMap<String, HashSet<String>>>> = OnceLock::new();
    let Some(name) = name else {
        return "anonymous".to_owned();
    };
    let well_formed = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if !well_formed {
        return "other".to_owned();
    }
    let mut seen = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !seen.contains_key(team) {
        seen.insert(team.to_owned(), HashSet::new());
    }
    let Some(names) = seen.get_mut(team) else {
        return "other".to_owned();
    };
    if names.contains(name)
        || (names.len() < MAX_OPERATION_NAMES_PER_TEAM && names.insert(name.to_owned()))
    {
        name.to_owned()
    } else {
        "other".to_owned()
    }
}

/// Runs the recorder's upkeep every `interval`: without it, histogram
/// samples pile up between scrapes (measured: ~23 bytes a request, without
/// bound, when nobody scrapes `/metrics`).
pub fn keep_metrics_bounded(interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
    let handle = metrics();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            handle.run_upkeep();
        }
    })
}

/// A GraphQL operation finished (or was refused before running).
pub fn record_graphql(team: &str, operation: &str, outcome: &str, seconds: f64) {
    let (requests, duration) = graphql_series(team, operation, outcome);
    requests.increment(1);
    duration.record(seconds);
}

/// The request counter and latency histogram of `team`'s `operation`
/// ending with `outcome`.
fn graphql_series(
    team: &str,
    operation: &str,
    outcome: &str,
) -> (metrics::Counter, metrics::Histogram) {
    (
        metrics::counter!("gateway_graphql_requests_total", "team" => team.to_owned(), "operation" => operation.to_owned(), "outcome" => outcome.to_owned()),
        metrics::histogram!("gateway_graphql_request_duration_seconds", "operation" => operation.to_owned()),
    )
}

/// The metrics of one team's operation answered from the response cache,
/// resolved once: the raw-request lane records a hit through these handles
/// without building a label per request.
#[derive(Clone)]
pub struct CacheHitMeter {
    requests: metrics::Counter,
    duration: metrics::Histogram,
    hits: metrics::Counter,
}

impl CacheHitMeter {
    /// The series `record_graphql(team, operation, "ok", _)` and
    /// `record_response_cache("hit")` write to.
    pub fn new(team: &str, operation: &str) -> Self {
        let (requests, duration) = graphql_series(team, operation, "ok");
        Self {
            requests,
            duration,
            hits: response_cache_series("hit"),
        }
    }

    /// One request answered from the cache in `seconds`.
    pub fn record(&self, seconds: f64) {
        self.requests.increment(1);
        self.duration.record(seconds);
        self.hits.increment(1);
    }
}

/// A request was refused by a rate limit: a team's quota (`scope` =
/// `team`) or an account's upstream limit (`scope` = `upstream`).
pub fn record_rate_limited(scope: &'static str, name: &str) {
    metrics::counter!("gateway_rate_limited_total", "scope" => scope, "name" => name.to_owned())
        .increment(1);
}

/// One RemotePC call: to which account and endpoint, in which flow (a
/// team or role, or `background`).
pub struct UpstreamCall<'a> {
    /// The configured account id (a metric label: never a key or token).
    pub account: &'a str,
    /// The endpoint's path.
    pub endpoint: &'static str,
    /// The flow's label.
    pub flow: &'a str,
}

/// Calls per second in force to `account` (lower while RemotePC answers 429).
pub fn record_upstream_rate(account: &str, per_second: f64) {
    metrics::gauge!("gateway_upstream_rate_per_second", "account" => account.to_owned())
        .set(per_second);
}

/// How long a call waited for its place, in its flow and lane
/// (`interactive`, `background`).
pub fn record_upstream_queue(flow: &str, lane: &'static str, seconds: f64) {
    metrics::histogram!("gateway_upstream_queue_seconds", "flow" => flow.to_owned(), "lane" => lane)
        .record(seconds);
}

/// An upstream call ended with `outcome` (`ok` or an error kind).
pub fn record_upstream(call: &UpstreamCall<'_>, outcome: &'static str, seconds: Option<f64>) {
    let UpstreamCall {
        account,
        endpoint,
        flow,
    } = *call;
    metrics::counter!("gateway_upstream_calls_total", "account" => account.to_owned(), "endpoint" => endpoint, "outcome" => outcome, "flow" => flow.to_owned())
        .increment(1);
    if let Some(seconds) = seconds {
        metrics::histogram!("gateway_upstream_call_duration_seconds", "account" => account.to_owned(), "endpoint" => endpoint)
            .record(seconds);
    }
}

/// An account's circuit breaker state: 0 closed, 1 open, 0.5 half-open.
pub fn record_breaker(account: &str, state: f64) {
    metrics::gauge!("gateway_upstream_breaker_state", "account" => account.to_owned()).set(state);
}

/// Bytes held by compiled plans and by the response cache.
pub fn record_cache_bytes(plans: u64, responses: u64) {
    metrics::gauge!("gateway_plan_cache_bytes").set(plans as f64);
    metrics::gauge!("gateway_response_cache_bytes").set(responses as f64);
}

/// A snapshot was read: `fresh`, `stale`, or `miss` (fetched while the
/// caller waited), with its age and size.
pub fn record_cache_read(
    account: &str,
    collection: &'static str,
    result: &'static str,
    age_seconds: f64,
    items: usize,
) {
    metrics::counter!("gateway_cache_reads_total", "account" => account.to_owned(), "collection" => collection, "result" => result)
        .increment(1);
    metrics::gauge!("gateway_cache_snapshot_age_seconds", "account" => account.to_owned(), "collection" => collection)
        .set(age_seconds);
    metrics::gauge!("gateway_cache_snapshot_items", "account" => account.to_owned(), "collection" => collection)
        .set(items as f64);
}

/// A single query met the response cache: `hit` (answered from it), `kept`
/// (computed and kept), `miss` (computed, not kept: the first sight of the
/// query, or a stale snapshot) or `not_reusable` (errors, a mutation, data
/// besides snapshots).
pub fn record_response_cache(result: &'static str) {
    response_cache_series(result).increment(1);
}

fn response_cache_series(result: &'static str) -> metrics::Counter {
    metrics::counter!("gateway_response_cache_total", "result" => result)
}

/// A body (or an event stream) was compressed in `coding`.
pub fn record_compression(coding: &'static str) {
    metrics::counter!("gateway_compressions_total", "coding" => coding).increment(1);
}

/// A query with a compiled plan was answered by it (`planned`) or handed to
/// the schema (`fallback`: a case the plan leaves to async-graphql).
pub fn record_plan(planned: bool) {
    let result = if planned { "planned" } else { "fallback" };
    metrics::counter!("gateway_plan_runs_total", "result" => result).increment(1);
}

/// A live poll read an account's collection because someone subscribes.
pub fn record_live_poll(account: &str, collection: &'static str) {
    metrics::counter!("gateway_live_polls_total", "account" => account.to_owned(), "collection" => collection)
        .increment(1);
}

/// Changes observed between two snapshots, by kind.
pub fn record_live_changes(collection: &'static str, count: usize) {
    metrics::counter!("gateway_live_changes_total", "collection" => collection)
        .increment(count as u64);
}

/// Subscriptions open now, over every transport.
pub fn record_subscriptions(open: usize) {
    metrics::gauge!("gateway_live_subscriptions").set(open as f64);
}

/// A subscriber of `team` (a team or role) dropped for `reason`
/// (`slow_consumer`).
pub fn record_live_dropped(team: &str, reason: &'static str) {
    metrics::counter!("gateway_live_dropped_total", "team" => team.to_owned(), "reason" => reason)
        .increment(1);
}

/// Observed changes not written to the history because its queue was full.
pub fn record_history_dropped(count: usize) {
    metrics::counter!("gateway_live_history_dropped_total").increment(count as u64);
}

/// One read of the change log for `purpose` (`feed`, `resume`, `since`).
pub fn record_change_log_read(purpose: &'static str) {
    metrics::counter!("gateway_change_log_reads_total", "purpose" => purpose).increment(1);
}

/// Whether this replica runs without Redis (each limit at 1/N).
pub fn record_cluster_fallback(fallback: bool) {
    metrics::gauge!("gateway_cluster_fallback").set(if fallback { 1.0 } else { 0.0 });
}

/// A cluster event: `lease_taken`, `lease_handover`, `snapshot_loaded`,
/// `snapshot_published`, `patch_applied`, `patch_published`.
pub fn record_cluster(event: &'static str) {
    metrics::counter!("gateway_cluster_events_total", "event" => event).increment(1);
}
