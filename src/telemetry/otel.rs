//! OpenTelemetry export: the tracer provider behind the `tracing` layer,
//! OTLP over HTTP/protobuf in batches from its own thread, parent-based
//! sampling, and a bound on spans waiting for export that is enforced and
//! counted here (the SDK's batch processor drops silently), so a slow or
//! dead collector never slows a request nor grows memory.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider, Span, SpanData,
    SpanExporter, SpanProcessor,
};

use crate::settings::OtelSettings;

/// Spans exported in one request to the collector.
const BATCH: usize = 512;

/// The provider exporting spans; shut it down to flush what is queued.
pub struct Export {
    provider: SdkTracerProvider,
}

impl Export {
    /// Flushes queued spans (within the export timeout) and stops the
    /// export thread, off the async threads: it blocks until then.
    pub async fn shutdown(self) {
        let provider = self.provider;
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if !matches!(flushed, Ok(Ok(()))) {
            tracing::warn!("trace export did not flush before shutdown");
        }
    }
}

/// The tracer spans are exported through, when `settings` name an
/// endpoint; `None` turns export off entirely (no exporter, no thread).
pub(crate) fn start(settings: &OtelSettings) -> Result<Option<(SdkTracer, Export)>, String> {
    let Some(url) = settings.traces_url() else {
        return Ok(None);
    };
    let headers: HashMap<String, String> = settings.headers.clone().into_iter().collect();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .with_headers(headers)
        .with_timeout(settings.export_timeout)
        .build()
        .map_err(|error| format!("otel.endpoint: the exporter cannot be built: {error}"))?;
    let waiting = Arc::new(AtomicUsize::new(0));
    let batches = BatchSpanProcessor::builder(Counted {
        inner: exporter,
        waiting: Arc::clone(&waiting),
    })
    .with_batch_config(
        BatchConfigBuilder::default()
            // Room beyond our own bound, so the SDK's queue never drops.
            .with_max_queue_size(settings.max_queue + BATCH)
            .with_max_export_batch_size(BATCH)
            .with_scheduled_delay(Duration::from_secs(1))
            .build(),
    )
    .build();
    let processor = Bounded {
        inner: batches,
        waiting,
        max_queue: settings.max_queue,
    };
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(sampler(settings.sampling_ratio))
        .with_resource(
            Resource::builder()
                .with_service_name(settings.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("remotepc-gateway");
    Ok(Some((tracer, Export { provider })))
}

/// Parent-based: a caller's sampled `traceparent` is followed, a new trace
/// is kept at `ratio`. A ratio of 0 exports nothing at all, whatever a
/// caller asks.
fn sampler(ratio: f64) -> Sampler {
    if ratio <= 0.0 {
        return Sampler::AlwaysOff;
    }
    Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
}

/// The batch processor behind a bound of `max_queue` spans not yet
/// exported: past it a span is dropped here and counted.
#[derive(Debug)]
struct Bounded {
    inner: BatchSpanProcessor,
    waiting: Arc<AtomicUsize>,
    max_queue: usize,
}

impl SpanProcessor for Bounded {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            metrics::counter!("gateway_otel_spans_dropped_total").increment(1);
            return;
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The OTLP exporter, telling `Bounded` how many spans left the queue and
/// counting batches the collector did not take.
struct Counted<E> {
    inner: E,
    waiting: Arc<AtomicUsize>,
}

impl<E> fmt::Debug for Counted<E> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Counted")
    }
}

impl<E: SpanExporter> SpanExporter for Counted<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        self.waiting.fetch_sub(spans, Ordering::AcqRel);
        let outcome = if result.is_ok() { "ok" } else { "failed" };
        metrics::counter!("gateway_otel_exports_total", "outcome" => outcome).increment(1);
        if result.is_err() {
            metrics::counter!("gateway_otel_spans_dropped_total").increment(spans as u64);
        }
        result
    }

    fn shutdown_with_timeout(&mut self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&mut self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
