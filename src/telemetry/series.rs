//! Every metric series the gateway exports, described once: the `# HELP`
//! text Prometheus shows, and the series that exist from the start (at 0)
//! so that dashboards and alerts see them before their first event.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Describes every series and registers those with no labels or a
/// closed set of them. Run once, after the recorder is installed.
pub(super) fn describe_all() {
    describe_counters();
    describe_gauges();
    describe_histogram!(
        "gateway_graphql_request_duration_seconds",
        Unit::Seconds,
        "Time to answer a GraphQL request, by operation (team/name)."
    );
    describe_histogram!(
        "gateway_upstream_queue_seconds",
        Unit::Seconds,
        "Time a RemotePC call waited for its place (its flow's turn, the rate, a free slot), by flow and lane."
    );
    describe_histogram!(
        "gateway_upstream_call_duration_seconds",
        Unit::Seconds,
        "Time of one RemotePC call, retries included, by account and endpoint."
    );
    register_fixed();
}

fn describe_counters() {
    let counters: [(&str, &str); 16] = [
        (
            "gateway_graphql_requests_total",
            "GraphQL operations answered, by team, operation and outcome (OK or an error code).",
        ),
        (
            "gateway_rate_limited_total",
            "Requests refused RATE_LIMITED, by scope (team, upstream) and name.",
        ),
        (
            "gateway_upstream_calls_total",
            "RemotePC calls made, by account, endpoint, outcome and flow (team, role or background).",
        ),
        (
            "gateway_cache_reads_total",
            "Snapshot reads, by account, collection and result (fresh, stale, miss: fetched while the caller waited).",
        ),
        (
            "gateway_response_cache_total",
            "Single queries that met the response cache, by result (hit, kept, miss, not_reusable).",
        ),
        (
            "gateway_compressions_total",
            "Bodies compressed, by content coding (br, zstd, gzip): a kept answer once per snapshot version and coding, any other answer each time it is sent, an event stream once.",
        ),
        (
            "gateway_plan_runs_total",
            "Queries with a compiled plan, by result (planned, fallback).",
        ),
        (
            "gateway_live_polls_total",
            "Live polls of a collection made because someone subscribes, by account and collection.",
        ),
        (
            "gateway_live_changes_total",
            "Changes observed and told to subscribers, by collection.",
        ),
        (
            "gateway_live_dropped_total",
            "Subscribers dropped, by team and reason (slow_consumer).",
        ),
        (
            "gateway_live_history_dropped_total",
            "Observed changes not written to the change log (its queue was full or the store failed); the log records a gap.",
        ),
        (
            "gateway_change_log_reads_total",
            "Reads of the change log, by purpose (feed: sending listeners new changes; resume: a listener catching up after its cursor; since: deviceChangesSince).",
        ),
        (
            "gateway_cluster_events_total",
            "Replica coordination events (leases, snapshot hand-offs, patches), by event.",
        ),
        (
            super::line_buffer::LOG_WAITS,
            "Log lines that waited for room in the full log buffer: standard output was read more slowly than the gateway logged.",
        ),
        (
            "gateway_otel_exports_total",
            "OpenTelemetry span batches exported, by outcome.",
        ),
        (
            "gateway_otel_spans_dropped_total",
            "Spans dropped because the export queue was full or the export failed.",
        ),
    ];
    for (name, help) in counters {
        describe_counter!(name, Unit::Count, help);
    }
}

fn describe_gauges() {
    describe_gauge!(
        "gateway_cache_snapshot_age_seconds",
        Unit::Seconds,
        "Age of the snapshot last read, by account and collection."
    );
    describe_gauge!(
        "gateway_cache_snapshot_items",
        Unit::Count,
        "Items in the snapshot last read, by account and collection."
    );
    describe_gauge!(
        "gateway_cluster_fallback",
        "1 while Redis is unreachable and this replica acts alone, else 0."
    );
    describe_gauge!(
        "gateway_live_subscriptions",
        Unit::Count,
        "Subscriptions open on this process."
    );
    describe_gauge!(
        "gateway_plan_cache_bytes",
        Unit::Bytes,
        "Bytes held by compiled query plans."
    );
    describe_gauge!(
        "gateway_response_cache_bytes",
        Unit::Bytes,
        "Bytes held by kept responses."
    );
    describe_gauge!(
        "gateway_upstream_rate_per_second",
        "Calls per second in force to the account: the configured rate, lower while RemotePC answers 429."
    );
    describe_gauge!(
        "gateway_upstream_breaker_state",
        "The account's circuit breaker: 0 closed, 0.5 half-open, 1 open."
    );
}

/// Series whose labels are known before any event, at 0.
fn register_fixed() {
    for result in ["hit", "kept", "miss", "not_reusable"] {
        metrics::counter!("gateway_response_cache_total", "result" => result).absolute(0);
    }
    for coding in ["br", "zstd", "gzip"] {
        metrics::counter!("gateway_compressions_total", "coding" => coding).absolute(0);
    }
    for result in ["planned", "fallback"] {
        metrics::counter!("gateway_plan_runs_total", "result" => result).absolute(0);
    }
    metrics::counter!("gateway_live_history_dropped_total").absolute(0);
    metrics::counter!(super::line_buffer::LOG_WAITS).absolute(0);
    for purpose in ["feed", "resume", "since"] {
        metrics::counter!("gateway_change_log_reads_total", "purpose" => purpose).absolute(0);
    }
    metrics::gauge!("gateway_live_subscriptions").set(0.0);
    metrics::gauge!("gateway_plan_cache_bytes").set(0.0);
    metrics::gauge!("gateway_response_cache_bytes").set(0.0);
}
