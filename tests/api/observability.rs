//! Metrics and request ids: what an on-call person reads.

use remotepc_gateway::simulator::SimulatorConfig;
use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, LogCapture, metrics, spawn_gateway, spawn_gateway_with};

/// The value of the first sample of `name` whose labels contain all `labels`.
fn sample(page: &str, name: &str, labels: &[&str]) -> Option<f64> {
    page.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_upstream_calls_and_cache_reads() {
    let gateway = spawn_gateway_with(
        SimulatorConfig {
            api_key: "metrics-probe-key-5150".to_owned(),
            ..SimulatorConfig::default()
        },
        |_| {},
    )
    .await;
    let probe = json!({ "query": "query MetricsProbe { devices(first: 1) { totalCount } }", "operationName": "MetricsProbe" })
        .to_string();
    let authorization = format!("Bearer {ADMIN_TOKEN}");
    gateway
        .send(&probe, &[("authorization", &authorization)])
        .await;
    let first = metrics(&gateway.url).await;
    let requests = [
        "operation=\"MetricsProbe\"",
        "team=\"admin\"",
        "outcome=\"ok\"",
    ];
    assert_eq!(
        sample(&first, "gateway_graphql_requests_total", &requests),
        Some(1.0),
        "{first}"
    );
    assert!(
        sample(
            &first,
            "gateway_upstream_calls_total",
            &[
                "endpoint=\"computer/list\"",
                "outcome=\"ok\"",
                "flow=\"admin\""
            ]
        )
        .is_some(),
        "a cold read is the calling team's flow: {first}"
    );
    assert!(
        sample(
            &first,
            "gateway_upstream_queue_seconds_count",
            &["flow=\"admin\"", "lane=\"interactive\""]
        )
        .is_some(),
        "{first}"
    );
    assert!(first.contains("gateway_graphql_request_duration_seconds_bucket"));
    assert!(first.contains("gateway_cache_reads_total"));
    assert!(first.contains("gateway_upstream_breaker_state"));

    gateway
        .send(&probe, &[("authorization", &authorization)])
        .await;
    let second = metrics(&gateway.url).await;
    assert_eq!(
        sample(&second, "gateway_graphql_requests_total", &requests),
        Some(2.0)
    );
    assert!(
        sample(
            &second,
            "gateway_cache_reads_total",
            &[
                "account=\"default\"",
                "collection=\"devices\"",
                "result=\"fresh\""
            ]
        ) >= Some(1.0),
        // Every account's four read results are exported from its first
        // read, at 0 until counted; under `cargo test` other tests'
        // accounts share this process's exporter.
        "{second}"
    );

    for secret in [ADMIN_TOKEN, "metrics-probe-key-5150"] {
        assert!(!second.contains(secret), "{secret} in metrics");
    }
}

#[tokio::test]
async fn client_operation_names_cannot_grow_the_label_set() {
    let gateway = spawn_gateway().await;
    let authorization = format!("Bearer {ADMIN_TOKEN}");
    let odd = json!({ "query": "query { __typename }", "operationName": "not a valid name!" })
        .to_string();
    gateway
        .send(&odd, &[("authorization", &authorization)])
        .await;
    let page = metrics(&gateway.url).await;
    assert!(!page.contains("not a valid name"));
}

/// Relay and plain `fetch` send the document alone: its one operation's
/// name is the request's name in metrics, as OpenTelemetry's
/// `graphql.operation.name` has it. A document of two operations names
/// neither (the client must choose one).
#[tokio::test]
async fn a_document_names_its_one_operation_when_the_client_does_not() {
    let gateway = spawn_gateway().await;
    let authorization = format!("Bearer {ADMIN_TOKEN}");
    let named_in_document = json!({
        "query": "# saved by the frontend\nquery NamedInDocumentProbe { devices(first: 1) { totalCount } }"
    });
    let (status, body) = gateway
        .send(
            &named_in_document.to_string(),
            &[("authorization", &authorization)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(
        (&answer["data"], &answer["errors"]),
        (&json!({ "devices": { "totalCount": 50 } }), &json!(null)),
        "{body}"
    );
    let two = json!({
        "query": "query FirstOfTwoProbe { __typename } query SecondOfTwoProbe { __typename }"
    });
    let (_, refused) = gateway
        .send(&two.to_string(), &[("authorization", &authorization)])
        .await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&refused).unwrap_or_default()["errors"],
        json!([{
            "message": "Operation name required in request.",
            "extensions": { "code": "BAD_USER_INPUT" }
        }]),
        "{refused}"
    );
    let page = metrics(&gateway.url).await;
    assert_eq!(
        sample(
            &page,
            "gateway_graphql_requests_total",
            &["operation=\"NamedInDocumentProbe\"", "outcome=\"ok\""]
        ),
        Some(1.0),
        "{page}"
    );
    assert!(!page.contains("OfTwoProbe"), "{page}");
}

#[tokio::test]
async fn every_answer_carries_the_gateways_own_request_id() {
    let gateway = spawn_gateway().await;
    let client = reqwest::Client::new();
    let query = json!({ "query": "{ __typename }" });
    let given = client
        .post(&gateway.url)
        .bearer_auth(ADMIN_TOKEN)
        .header("x-request-id", "trace-me-7")
        .json(&query)
        .send()
        .await
        .expect("answered");
    let own = given.headers()["x-request-id"].to_str().expect("ASCII");
    assert_ne!(own, "trace-me-7", "a client cannot choose the id");
    assert_eq!(own.len(), 20);
    let made = client
        .post(&gateway.url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&query)
        .send()
        .await
        .expect("answered");
    let id = made.headers()["x-request-id"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert_eq!(id.len(), 20);
    let refused = client
        .post(&gateway.url)
        .json(&query)
        .send()
        .await
        .expect("answered");
    assert_eq!(refused.status(), 401);
    assert!(
        refused.headers().contains_key("x-request-id"),
        "refusals carry an id too"
    );
    let oversized = client
        .post(&gateway.url)
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(vec![b' '; 300 * 1024])
        .send()
        .await
        .expect("answered");
    assert_eq!(oversized.status(), 413);
    assert!(oversized.headers().contains_key("x-request-id"));
    let body: serde_json::Value = oversized.json().await.expect("a GraphQL error body");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("server.body_limit_bytes")),
        "{body}"
    );
}

#[tokio::test]
async fn every_log_line_of_a_request_carries_its_id() {
    let capture = LogCapture::start();
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        let account = settings.accounts.remove("default").expect("account");
        settings
            .accounts
            .insert("traced-account".to_owned(), account);
        for team in settings.teams.values_mut() {
            team.account = "traced-account".to_owned();
        }
    })
    .await;
    let (_, body) = gateway
        .send(
            &json!({ "query": "{ devices(first: 1) { totalCount } }" }).to_string(),
            &[
                ("authorization", &format!("Bearer {ADMIN_TOKEN}")),
                ("x-request-id", "trace-log-9"),
                (
                    "traceparent",
                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                ),
            ],
        )
        .await;
    assert!(body.contains("totalCount"), "{body}");
    let logs = capture.text();
    let upstream: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("upstream call succeeded") && line.contains("traced-account"))
        .collect();
    assert!(!upstream.is_empty(), "the upstream call was logged");
    assert!(
        upstream.iter().all(|line| line.contains("trace-log-9")),
        "{upstream:?}"
    );
    assert!(
        upstream
            .iter()
            .all(|line| line.contains("\"trace_id\":\"0af7651916cd43dd8448eb211c80319c\"")),
        "the caller's trace id beside the request id: {upstream:?}"
    );
}

#[tokio::test]
async fn cors_preflight_is_answered_for_allowed_origins_only() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.server.cors_origins = vec!["https://helpdesk.example.com".to_owned()];
    })
    .await;
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, &gateway.url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, idempotency-key",
            )
            .send()
    };
    let allowed = preflight("https://helpdesk.example.com")
        .await
        .expect("answered");
    assert!(allowed.status().is_success());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://helpdesk.example.com"
    );
    let allowed_headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ASCII")
        .to_lowercase();
    assert!(
        allowed_headers.contains("authorization") && allowed_headers.contains("idempotency-key")
    );

    let refused = preflight("https://evil.example.net")
        .await
        .expect("answered");
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );

    let actual = client
        .post(&gateway.url)
        .header("origin", "https://helpdesk.example.com")
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("answered");
    assert_eq!(
        actual.headers()["access-control-allow-origin"],
        "https://helpdesk.example.com"
    );
    let exposed = actual.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ASCII");
    for header in ["x-request-id", "x-response-cache", "server-timing", "etag"] {
        assert!(exposed.contains(header), "{header} in {exposed}");
    }
}

/// The exposition format a Prometheus parser reads: every family has a
/// `# HELP` and a `# TYPE` before its samples, and the main series exist
/// before their first event.
#[tokio::test]
async fn every_metric_family_is_described_and_the_main_series_exist_from_the_start() {
    let gateway = spawn_gateway().await;
    let page = crate::helpers::metrics(&gateway.url).await;
    let mut described = std::collections::HashSet::new();
    let mut typed = std::collections::HashSet::new();
    for line in page.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("#"), Some("HELP"), Some(name)) => {
                let help = line.splitn(4, ' ').nth(3).unwrap_or_default();
                assert!(help.len() > 10, "{name} has a real HELP text: {line}");
                described.insert(name.to_owned());
            }
            (Some("#"), Some("TYPE"), Some(name)) => {
                assert!(described.contains(name), "# HELP before # TYPE for {name}");
                typed.insert(name.to_owned());
            }
            (Some(sample), Some(_), _) if !sample.starts_with('#') => {
                let family = sample.split('{').next().unwrap_or(sample);
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| {
                        family
                            .strip_suffix(suffix)
                            .filter(|base| typed.contains(*base))
                    })
                    .unwrap_or(family);
                assert!(
                    typed.contains(family),
                    "{family} has a # TYPE before its samples"
                );
            }
            _ => {}
        }
    }
    for series in [
        "gateway_response_cache_total{result=\"hit\"}",
        "gateway_plan_runs_total{result=\"planned\"}",
        "gateway_live_subscriptions",
        "gateway_live_history_dropped_total",
        "gateway_log_waits_total",
        "gateway_response_cache_bytes",
    ] {
        assert!(
            page.lines().any(|line| line.starts_with(series)),
            "{series} is exported from the start:\n{page}"
        );
    }
}
