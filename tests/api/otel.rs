//! OpenTelemetry traces as a collector receives them: a loopback OTLP/HTTP
//! receiver decodes the real binary's protobuf exports. Spans are flushed
//! by stopping the gateway (SIGTERM), so no test waits on a timer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::Span;
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use serde_json::json;

use crate::helpers::{remove_store, temp_store_path};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use crate::otel_collector::{Collector, hex, int_attribute, string_attribute};
use crate::process::start_binary_with;

const TOKEN: &str = "otel-test-token-0000000000";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

/// A simulator, a collector and a store path for one test.
async fn traced(config: SimulatorConfig) -> (Simulator, Collector, std::path::PathBuf) {
    let sim = Simulator::start(config).await.expect("simulator");
    (sim, Collector::start().await, temp_store_path())
}

/// The gateway binary on `sim`, exporting to `collector` with `extra`
/// settings; its address.
async fn gateway(
    sim: &Simulator,
    store: &std::path::Path,
    extra: &[(&str, &str)],
) -> (tokio::process::Child, String) {
    let store_url = format!("sqlite://{}?mode=rwc", store.display());
    start_binary_with(sim, &store_url, TOKEN, extra).await
}

/// Stops the gateway as an orchestrator would; it flushes its spans first.
pub(crate) async fn stop(mut gateway: tokio::process::Child) {
    let pid = gateway.id().expect("running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(sent.expect("kill runs").success());
    tokio::time::timeout(Duration::from_secs(20), gateway.wait())
        .await
        .expect("the gateway stops on SIGTERM within 20 s")
        .expect("reaped");
}

async fn post(addr: &str, body: serde_json::Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(TOKEN)
        .json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("gateway answers")
}

#[tokio::test]
async fn a_query_continues_the_callers_trace_down_to_each_page_read() {
    let (sim, collector, store) = traced(SimulatorConfig {
        devices: 1_000,
        ..SimulatorConfig::default()
    })
    .await;
    let settings = [
        ("GATEWAY__OTEL__ENDPOINT", collector.url.as_str()),
        ("GATEWAY__OTEL__SERVICE_NAME", "gateway-under-test"),
        ("GATEWAY__UPSTREAM__PAGE_SIZE", "50"),
    ];
    let (process, addr) = gateway(&sim, &store, &settings).await;
    let parent = format!("00-{TRACE_ID}-{PARENT}-01");
    let answer = post(
        &addr,
        json!({ "query": "query Fleet { devices(first: 2) { totalCount } }", "operationName": "Fleet" }),
        &[("traceparent", &parent)],
    )
    .await;
    let traceresponse = answer.headers()["traceresponse"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(
        traceresponse.starts_with(&format!("00-{TRACE_ID}-")),
        "{traceresponse}"
    );
    let body: serde_json::Value = answer.json().await.expect("JSON");
    assert_eq!(body["data"]["devices"]["totalCount"], 1_000, "{body}");
    stop(process).await;

    let spans = collector.spans();
    let named = |name: &str| -> Vec<&Span> {
        spans
            .iter()
            .map(|(_, span)| span)
            .filter(|span| span.name == name)
            .collect()
    };
    let request = *named("request").first().expect("a request span");
    assert_eq!(hex(&request.trace_id), TRACE_ID);
    assert_eq!(
        hex(&request.parent_span_id),
        PARENT,
        "a child of the caller's span"
    );
    assert!(
        traceresponse.contains(&hex(&request.span_id)),
        "{traceresponse}"
    );
    assert_eq!(
        string_attribute(&request.attributes, "team").as_deref(),
        Some("ops")
    );
    assert_eq!(
        string_attribute(&request.attributes, "graphql.operation.name").as_deref(),
        Some("Fleet")
    );
    assert_eq!(
        int_attribute(&request.attributes, "http.response.status_code"),
        Some(200),
        "an integer, as the HTTP semantic conventions have it"
    );
    assert_eq!(
        request.kind,
        SpanKind::Server as i32,
        "the request span is SERVER"
    );
    assert_eq!(
        string_attribute(&request.attributes, "url.path").as_deref(),
        Some("/graphql")
    );
    assert_eq!(
        string_attribute(&request.attributes, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert!(
        spans
            .iter()
            .all(|(service, _)| service == "gateway-under-test")
    );
    let reads = named("snapshot.read");
    assert_eq!(reads.len(), 1, "one read of the device list");
    let read = reads[0];
    assert_eq!(hex(&read.trace_id), TRACE_ID);
    let calls: Vec<&Span> = named("upstream")
        .into_iter()
        .filter(|span| span.parent_span_id == read.span_id)
        .collect();
    assert_eq!(calls.len(), 20, "one upstream span per page under the read");
    assert_eq!(
        sim.calls(remotepc_gateway::upstream::Endpoint::ComputerList),
        20
    );
    let attempts = named("upstream.attempt");
    assert_eq!(attempts.len(), 20);
    assert!(attempts.iter().all(|attempt| {
        int_attribute(&attempt.attributes, "http.response.status_code") == Some(200)
            && attempt.kind == SpanKind::Client as i32
            && string_attribute(&attempt.attributes, "http.request.method").as_deref()
                == Some("POST")
            && string_attribute(&attempt.attributes, "server.address").as_deref()
                == Some("127.0.0.1")
    }));
    assert_no_secret(&spans, &[TOKEN, &sim.api_key()]);
    let sent = sim.requests(remotepc_gateway::upstream::Endpoint::ComputerList);
    assert!(
        sent.iter().all(|call| call.traceparent.is_none()),
        "RemotePC is a third party: no traceparent unless otel.propagate_upstream"
    );
    remove_store(&store);
}

#[tokio::test]
async fn with_propagate_upstream_remotepc_calls_carry_the_trace() {
    let (sim, collector, store) = traced(SimulatorConfig::default()).await;
    let settings = [
        ("GATEWAY__OTEL__ENDPOINT", collector.url.as_str()),
        ("GATEWAY__OTEL__PROPAGATE_UPSTREAM", "true"),
    ];
    let (process, addr) = gateway(&sim, &store, &settings).await;
    let parent = format!("00-{TRACE_ID}-{PARENT}-01");
    post(
        &addr,
        json!({ "query": "{ devices { totalCount } }" }),
        &[("traceparent", &parent)],
    )
    .await;
    stop(process).await;
    let sent = sim.requests(remotepc_gateway::upstream::Endpoint::ComputerList);
    assert!(!sent.is_empty());
    let attempts: Vec<String> = collector
        .spans()
        .iter()
        .filter(|(_, span)| span.name == "upstream.attempt")
        .map(|(_, span)| hex(&span.span_id))
        .collect();
    for call in sent {
        let traceparent = call.traceparent.expect("a traceparent to RemotePC");
        assert!(
            traceparent.starts_with(&format!("00-{TRACE_ID}-")),
            "{traceparent}"
        );
        let span = traceparent.split('-').nth(2).unwrap_or_default().to_owned();
        assert!(
            attempts.contains(&span),
            "the attempt's span is RemotePC's parent"
        );
    }
    remove_store(&store);
}

/// No attribute or event of any span holds one of `secrets`.
fn assert_no_secret(spans: &[(String, Span)], secrets: &[&str]) {
    for (_, span) in spans {
        let text = format!("{:?} {:?} {:?}", span.name, span.attributes, span.events);
        for secret in secrets {
            assert!(!text.contains(secret), "span {} holds a secret", span.name);
        }
    }
}

#[tokio::test]
async fn a_mutation_shows_its_upstream_call_and_its_audit_writes() {
    let (sim, collector, store) = traced(SimulatorConfig::default()).await;
    let settings = [("GATEWAY__OTEL__ENDPOINT", collector.url.as_str())];
    let (process, addr) = gateway(&sim, &store, &settings).await;
    let name = sim
        .state(|state| {
            state
                .devices()
                .next()
                .map(|device| device.host_name.clone())
        })
        .expect("a device");
    let answer = post(
        &addr,
        json!({
            "query": "mutation($input: AddComputerCommentInput!) { addComputerComment(input: $input) { computerName } }",
            "variables": { "input": { "computerName": name, "comment": "traced" } },
        }),
        &[],
    )
    .await;
    let body: serde_json::Value = answer.json().await.expect("JSON");
    assert!(body["errors"].is_null(), "{body}");
    stop(process).await;

    let spans = collector.spans();
    let request = spans
        .iter()
        .map(|(_, span)| span)
        .find(|span| span.name == "request")
        .expect("a request span");
    let in_trace: Vec<&Span> = spans
        .iter()
        .map(|(_, span)| span)
        .filter(|span| span.trace_id == request.trace_id)
        .collect();
    let call = in_trace
        .iter()
        .find(|span| span.name == "upstream")
        .expect("the upstream call's span");
    assert_eq!(
        string_attribute(&call.attributes, "endpoint").as_deref(),
        Some("computer/comments/add")
    );
    let audit_steps: Vec<String> = in_trace
        .iter()
        .filter(|span| span.name == "store.write")
        .filter(|span| string_attribute(&span.attributes, "table").as_deref() == Some("audit"))
        .filter_map(|span| string_attribute(&span.attributes, "step"))
        .collect();
    assert!(
        !audit_steps.is_empty(),
        "the audit record's writes: {audit_steps:?}"
    );
    assert_eq!(
        string_attribute(&request.attributes, "graphql.operation.type").as_deref(),
        Some("mutation")
    );
    assert_no_secret(&spans, &[TOKEN, &sim.api_key()]);
    remove_store(&store);
}

#[tokio::test]
async fn sampling_ratio_zero_exports_nothing_and_no_endpoint_no_exporter() {
    let (sim, collector, store) = traced(SimulatorConfig::default()).await;
    let settings = [
        ("GATEWAY__OTEL__ENDPOINT", collector.url.as_str()),
        ("GATEWAY__OTEL__SAMPLING_RATIO", "0"),
    ];
    let (process, addr) = gateway(&sim, &store, &settings).await;
    let parent = format!("00-{TRACE_ID}-{PARENT}-01");
    for headers in [vec![], vec![("traceparent", parent.as_str())]] {
        let answer = post(
            &addr,
            json!({ "query": "{ devices { totalCount } }" }),
            &headers,
        )
        .await;
        assert!(answer.headers().contains_key("traceresponse"));
    }
    stop(process).await;
    assert!(collector.spans().is_empty(), "ratio 0 exports nothing");

    let (process, addr) = gateway(&sim, &store, &[]).await;
    let answer = post(&addr, json!({ "query": "{ devices { totalCount } }" }), &[]).await;
    let traceresponse = answer.headers()["traceresponse"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert_eq!(
        traceresponse.len(),
        55,
        "a trace of its own: {traceresponse}"
    );
    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(!metrics.contains("gateway_otel_"), "no exporter: {metrics}");
    stop(process).await;
    assert!(collector.spans().is_empty());
    remove_store(&store);
}

#[tokio::test]
async fn a_collector_that_never_answers_slows_no_request_and_drops_are_counted() {
    let sim = Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let silent_url = format!("http://{}", silent.local_addr().expect("address"));
    let held = Arc::new(Mutex::new(Vec::new()));
    let holding = Arc::clone(&held);
    tokio::spawn(async move {
        while let Ok((connection, _)) = silent.accept().await {
            holding.lock().expect("held").push(connection);
        }
    });
    let store = temp_store_path();
    let settings = [
        ("GATEWAY__OTEL__ENDPOINT", silent_url.as_str()),
        ("GATEWAY__OTEL__MAX_QUEUE", "64"),
        ("GATEWAY__OTEL__EXPORT_TIMEOUT", "2s"),
        // The quota is not what this test is about.
        ("GATEWAY__TEAMS__OPS__BURST", "100000"),
        ("GATEWAY__TEAMS__OPS__REQUESTS_PER_MINUTE", "1000000"),
    ];
    let (process, addr) = gateway(&sim, &store, &settings).await;
    let client = reqwest::Client::new();
    let body = json!({ "query": "{ devices(first: 1) { totalCount } }" });
    for round in 0..20 {
        let answers = (0..50).map(|_| {
            client
                .post(format!("http://{addr}/graphql"))
                .bearer_auth(TOKEN)
                .json(&body)
                .timeout(Duration::from_secs(5))
                .send()
        });
        for answer in futures::future::join_all(answers).await {
            let status = answer
                .expect("answered within 5 s whatever the collector does")
                .status();
            assert_eq!(status, 200, "round {round}");
        }
    }
    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let dropped: f64 = metrics
        .lines()
        .find(|line| line.starts_with("gateway_otel_spans_dropped_total"))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0);
    assert!(
        dropped >= 900.0,
        "1,000 requests, 64 queued at most: {dropped} dropped"
    );
    stop(process).await;
    remove_store(&store);
}
