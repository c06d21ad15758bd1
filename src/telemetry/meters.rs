//! The process's Prometheus recorder and every series the gateway
//! records into it: the functions each layer calls when something
//! happens, and the handles resolved once for the paths every request
//! takes (a response-cache hit, a snapshot read, a GraphQL answer).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::series;

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

/// Most GraphQL series kept resolved. The labels are bounded already
/// (teams, [`MAX_OPERATION_NAMES_PER_TEAM`] names each, a few outcomes);
/// past this, series are looked up each time instead.
const GRAPHQL_SERIES_KEPT: usize = 4096;

type GraphqlSeries = (metrics::Counter, metrics::Histogram);

/// The request counter and latency histogram of `team`'s `operation`
/// ending with `outcome`, resolved once and kept: building three labels
/// and looking the series up in the recorder was most of what recording
/// a request cost.
fn graphql_series(team: &str, operation: &str, outcome: &str) -> GraphqlSeries {
    static KEPT: OnceLock<Mutex<HashMap<String, GraphqlSeries>>> = OnceLock::new();
    thread_local! {
        static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    let resolve = || {
        (
            metrics::counter!("gateway_graphql_requests_total", "team" => team.to_owned(), "operation" => operation.to_owned(), "outcome" => outcome.to_owned()),
            metrics::histogram!("gateway_graphql_request_duration_seconds", "operation" => operation.to_owned()),
        )
    };
    // Resolved before the recorder is installed, handles would count
    // nothing, and be kept.
    metrics();
    KEY.with_borrow_mut(|key| {
        key.clear();
        // No label holds a NUL: operation names are word characters, team
        // names and outcomes the gateway's own.
        for part in [team, "\0", operation, "\0", outcome] {
            key.push_str(part);
        }
        let mut kept = KEPT
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(series) = kept.get(key.as_str()) {
            return series.clone();
        }
        let series = resolve();
        if kept.len() < GRAPHQL_SERIES_KEPT {
            kept.insert(key.clone(), series.clone());
        }
        series
    })
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

/// How a snapshot read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheRead {
    /// Served a snapshot younger than the TTL.
    Fresh,
    /// Served an older one while a refresh runs.
    Stale,
    /// Fetched while the caller waited.
    Miss,
    /// Served one a write of unknown outcome may have made wrong.
    Suspect,
}

impl CacheRead {
    const ALL: [CacheRead; 4] = [Self::Fresh, Self::Stale, Self::Miss, Self::Suspect];

    /// Its `result` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Stale => "stale",
            Self::Miss => "miss",
            Self::Suspect => "suspect",
        }
    }
}

/// The series of one account's reads of one collection, resolved once
/// when its cache slot is made: every read records through these handles
/// instead of building and looking up three labelled series.
pub struct CacheReadMeter {
    /// Reads, in `CacheRead::ALL` order.
    reads: [metrics::Counter; 4],
    age: metrics::Gauge,
    items: metrics::Gauge,
}

impl CacheReadMeter {
    /// The series of `account`'s reads of `collection`. Installs the
    /// recorder first: handles taken before it would count nothing.
    pub fn new(account: &str, collection: &'static str) -> Self {
        metrics();
        let account = account.to_owned();
        Self {
            reads: CacheRead::ALL.map(|read| {
                metrics::counter!("gateway_cache_reads_total", "account" => account.clone(), "collection" => collection, "result" => read.label())
            }),
            age: metrics::gauge!("gateway_cache_snapshot_age_seconds", "account" => account.clone(), "collection" => collection),
            items: metrics::gauge!("gateway_cache_snapshot_items", "account" => account, "collection" => collection),
        }
    }

    /// A read ended as `read`, serving a snapshot `age_seconds` old of
    /// `items` items.
    pub fn record(&self, read: CacheRead, age_seconds: f64, items: usize) {
        self.reads[read as usize].increment(1);
        self.age.set(age_seconds);
        self.items.set(items as f64);
    }
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
