//! `[otel]`: OpenTelemetry trace export (OTLP over HTTP/protobuf), off
//! unless an endpoint is set here or in `OTEL_EXPORTER_OTLP_ENDPOINT`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::SettingsError;
use super::validate::invalid;

/// Trace export.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtelSettings {
    /// The collector's OTLP/HTTP base URL (`http://collector:4318`; spans
    /// go to `/v1/traces` under it, or to the URL as given if it already
    /// ends so). Unset: no exporter at all.
    pub endpoint: Option<String>,
    /// Share of traces started here that are exported, 0.0 to 1.0. A trace
    /// continued from a caller's `traceparent` follows the caller's choice.
    pub sampling_ratio: f64,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// Headers sent with each export (a collector's API key, say).
    pub headers: BTreeMap<String, String>,
    /// Only `http/protobuf` is built in.
    pub protocol: String,
    /// Send `traceparent` on calls to RemotePC (a third party: off).
    pub propagate_upstream: bool,
    /// Finished spans waiting for export; past it they are dropped and
    /// counted (`gateway_otel_spans_dropped_total`).
    pub max_queue: usize,
    /// Longest one export may take before it is abandoned.
    #[serde(with = "humantime_serde")]
    pub export_timeout: Duration,
}

impl Default for OtelSettings {
    fn default() -> Self {
        Self {
            endpoint: None,
            sampling_ratio: 1.0,
            service_name: "remotepc-gateway".to_owned(),
            headers: BTreeMap::new(),
            protocol: "http/protobuf".to_owned(),
            propagate_upstream: false,
            max_queue: 2_048,
            export_timeout: Duration::from_secs(5),
        }
    }
}

impl OtelSettings {
    /// These settings with the standard variables filling what they leave
    /// at its default (an `[otel]` setting wins, as code wins over the
    /// environment in OpenTelemetry's SDKs): `OTEL_EXPORTER_OTLP_ENDPOINT`,
    /// `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER_ARG`. `lookup` reads one.
    /// An endpoint set to the empty string switches export off.
    pub fn with_standard_variables(mut self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let defaults = Self::default();
        let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        match self.endpoint.as_deref().map(str::trim) {
            // Set empty (`GATEWAY__OTEL__ENDPOINT=`): export off, whatever
            // the environment's standard variable says.
            Some("") => self.endpoint = None,
            Some(_) => {}
            None => self.endpoint = set("OTEL_EXPORTER_OTLP_ENDPOINT"),
        }
        if self.service_name == defaults.service_name
            && let Some(name) = set("OTEL_SERVICE_NAME")
        {
            self.service_name = name;
        }
        if self.sampling_ratio == defaults.sampling_ratio
            && let Some(ratio) = set("OTEL_TRACES_SAMPLER_ARG").and_then(|ratio| ratio.parse().ok())
        {
            self.sampling_ratio = ratio;
        }
        self
    }

    /// Where spans are posted, when export is on.
    pub fn traces_url(&self) -> Option<String> {
        let base = self.endpoint.as_deref()?.trim_end_matches('/');
        Some(if base.ends_with("/v1/traces") {
            base.to_owned()
        } else {
            format!("{base}/v1/traces")
        })
    }

    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        if !(0.0..=1.0).contains(&self.sampling_ratio) {
            return Err(invalid(
                "otel.sampling_ratio",
                "must be between 0.0 (export nothing) and 1.0 (export every trace)",
            ));
        }
        if let Some(endpoint) = &self.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(invalid(
                "otel.endpoint",
                "must be the collector's OTLP/HTTP URL, such as http://collector:4318",
            ));
        }
        if self.protocol != "http/protobuf" {
            return Err(invalid(
                "otel.protocol",
                "only \"http/protobuf\" is built in (collectors take it on port 4318)",
            ));
        }
        if self.max_queue == 0 || self.export_timeout.is_zero() {
            return Err(invalid(
                "otel.max_queue",
                "otel.max_queue and otel.export_timeout must be above zero",
            ));
        }
        Ok(())
    }
}
