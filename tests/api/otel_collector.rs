//! A loopback OTLP/HTTP collector for the trace tests: decodes the
//! protobuf exports (`opentelemetry-proto`) and keeps every span.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// A loopback OTLP/HTTP collector keeping every span it is sent, with the
/// service name of its resource.
pub(crate) struct Collector {
    pub(crate) url: String,
    spans: Arc<Mutex<Vec<(String, Span)>>>,
}

impl Collector {
    pub(crate) async fn start() -> Self {
        let spans: Arc<Mutex<Vec<(String, Span)>>> = Arc::default();
        let kept = Arc::clone(&spans);
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: Bytes| {
                let kept = Arc::clone(&kept);
                async move {
                    let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                    let mut kept = kept.lock().expect("spans");
                    for resource in request.resource_spans {
                        let service = resource
                            .resource
                            .as_ref()
                            .and_then(|resource| {
                                string_attribute(&resource.attributes, "service.name")
                            })
                            .unwrap_or_default();
                        for scope in resource.scope_spans {
                            kept.extend(
                                scope.spans.into_iter().map(|span| (service.clone(), span)),
                            );
                        }
                    }
                    (
                        [("content-type", "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, spans }
    }

    pub(crate) fn spans(&self) -> Vec<(String, Span)> {
        self.spans.lock().expect("spans").clone()
    }
}

pub(crate) fn string_attribute(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<String> {
    attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.as_ref()?.value.as_ref())
        .map(|value| match value {
            AnyValue::StringValue(text) => text.clone(),
            AnyValue::IntValue(number) => number.to_string(),
            AnyValue::BoolValue(flag) => flag.to_string(),
            AnyValue::DoubleValue(number) => number.to_string(),
            other => format!("{other:?}"),
        })
}

/// An attribute sent as an integer; `None` for any other type.
pub(crate) fn int_attribute(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<i64> {
    attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(
            |attribute| match attribute.value.as_ref()?.value.as_ref()? {
                AnyValue::IntValue(number) => Some(*number),
                _ => None,
            },
        )
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
