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
mod json_lines;
mod line_buffer;
mod meters;
mod otel;
mod series;
mod span_fields;
mod timestamp;
pub mod trace_context;

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub use line_buffer::{LineBuffer, LineFlush, stdout_lines};
pub use meters::{
    CacheHitMeter, CacheRead, CacheReadMeter, UpstreamCall, keep_metrics_bounded, metrics,
    operation_label, record_breaker, record_cache_bytes, record_change_log_read, record_cluster,
    record_cluster_fallback, record_compression, record_graphql, record_history_dropped,
    record_live_changes, record_live_dropped, record_live_poll, record_plan, record_rate_limited,
    record_response_cache, record_subscriptions, record_upstream, record_upstream_queue,
    record_upstream_rate,
};
pub use otel::Export;

use crate::settings::{LogFormat, LogSettings, OtelSettings};

/// Whether spans are exported (an OpenTelemetry layer is installed).
static EXPORTING: AtomicBool = AtomicBool::new(false);
/// Whether calls to RemotePC carry `traceparent` (`otel.propagate_upstream`).
static PROPAGATING: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported. Attributes only traces need are recorded
/// only then: recording the status and operation on every request's span
/// cost a cached answer 4.6k instructions (64.7k -> 69.3k at `info`) when
/// log lines formatted span fields as they were recorded.
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
/// Pretty lines are coloured when standard output is a terminal: `writer`
/// is the binary's standard output.
pub fn init<W>(
    settings: &LogSettings,
    otel: &OtelSettings,
    writer: W,
) -> Result<Option<Export>, String>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter_text = std::env::var(EnvFilter::DEFAULT_ENV)
        .ok()
        .filter(|text| EnvFilter::try_new(text).is_ok())
        .unwrap_or_else(|| settings.filter.clone());
    let filter = without_payload_logs(EnvFilter::new(&filter_text));
    let installed = |direct: Option<access::Direct>| {
        if let Some(direct) = direct {
            access::write_directly(direct);
        }
    };
    let Some((tracer, export)) = otel::start(otel)? else {
        // Alone, the lines take the filter as the whole subscriber's: as a
        // layer's own filter, it looked each span up again on every call
        // (entering, recording, closing).
        let (lines, direct) = lines(settings.format, &filter_text, writer);
        let subscriber = tracing_subscriber::registry().with(filter).with(lines);
        if subscriber.try_init().is_ok() {
            installed(direct);
        }
        return Ok(None);
    };
    let spans = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(Targets::new().with_target("remotepc_gateway", Level::DEBUG));
    let (lines, direct) = lines(settings.format, &filter_text, writer);
    if tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .with(spans)
        .try_init()
        .is_ok()
    {
        installed(direct);
        EXPORTING.store(true, Ordering::Relaxed);
        PROPAGATING.store(otel.propagate_upstream, Ordering::Relaxed);
    }
    Ok(Some(export))
}

/// The layer writing log lines in `format` to `writer`, and how access
/// lines are written beside it.
fn lines<S, W>(
    format: LogFormat,
    filter_text: &str,
    writer: W,
) -> (Box<dyn Layer<S> + Send + Sync>, Option<access::Direct>)
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    match format {
        LogFormat::Json => {
            let writer = Arc::new(writer);
            let direct = direct_access_lines(filter_text, &writer);
            (json_lines::JsonLines::new(writer).boxed(), direct)
        }
        LogFormat::Pretty => {
            // Colours only for a person at a terminal: escape codes in a
            // pipe or a file are noise to whatever reads it.
            let colours = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let lines = tracing_subscriber::fmt::layer()
                .compact()
                .with_ansi(colours)
                .with_writer(writer);
            (lines.boxed(), None)
        }
    }
}

/// How access lines are written beside JSON lines to `writer`: directly
/// when `filter_text` is plain target and level directives, which say
/// once and for all whether it lets them through; else (`None`) as events.
fn direct_access_lines<W>(filter_text: &str, writer: &Arc<W>) -> Option<access::Direct>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let passes = access_lines_pass(filter_text)?;
    let writer = Arc::clone(writer);
    Some(if passes {
        access::Direct::Write(Box::new(move |line| {
            // As the JSON layer: a line the writer refuses is lost.
            let _refused = writer.make_writer().write_all(line);
        }))
    } else {
        access::Direct::Off
    })
}

/// Whether `filter_text` lets access lines through, when it is plain
/// enough to say without an event.
fn access_lines_pass(filter_text: &str) -> Option<bool> {
    // Span and field directives: `Targets` would read them as targets.
    if filter_text.contains(['[', '{']) {
        return None;
    }
    let targets: Targets = filter_text.parse().ok()?;
    Some(targets.would_enable(access::TARGET, &Level::INFO))
}

/// Crates that log whole messages at `trace` (tungstenite writes every
/// WebSocket frame, `connection_init` and its token included): silenced
/// whatever the filter asks, so that no secret reaches a log at any level.
/// The gateway's own sockets are yawc's, which logs no payload; this
/// stays for a dependency that would link tungstenite again.
const PAYLOAD_LOGGING_TARGETS: [&str; 2] = ["tungstenite", "tokio_tungstenite"];

fn without_payload_logs(mut filter: EnvFilter) -> EnvFilter {
    for target in PAYLOAD_LOGGING_TARGETS {
        if let Ok(off) = format!("{target}=off").parse() {
            filter = filter.add_directive(off);
        }
    }
    filter
}
