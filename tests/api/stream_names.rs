//! An event stream's request is named like any other: its operation's
//! name in the access line, and its name and kind (`subscription`, or
//! `query` for a query sent as a stream) in the exported request span,
//! as OpenTelemetry's GraphQL conventions ask.

use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use serde_json::json;

use crate::helpers::{remove_store, temp_store_path};
use crate::otel::stop;
use crate::otel_collector::{Collector, string_attribute};
use crate::process::{line_where, start_binary_logging};

const TOKEN: &str = "stream-names-token-0123456789";

/// Opens an event stream for `document` and reads its head; the stream
/// is dropped when the answer is.
async fn stream(addr: &str, document: &str) -> reqwest::Response {
    let answer = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(TOKEN)
        .header("accept", "text/event-stream")
        .json(&json!({ "query": document }))
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), 200, "the stream opens");
    answer
}

#[tokio::test]
async fn an_event_streams_operation_is_named_with_its_kind() {
    let sim = Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    let collector = Collector::start().await;
    let store = temp_store_path();
    let store_url = format!("sqlite://{}?mode=rwc", store.display());
    let settings = [("GATEWAY__OTEL__ENDPOINT", collector.url.as_str())];
    let (gateway, addr, mut logged) =
        start_binary_logging(&sim, &store_url, TOKEN, &settings).await;

    let mut names = Vec::new();
    for document in [
        "subscription Watch { deviceChanges { kind } }",
        "query Fleet { devices(first: 1) { totalCount } }",
    ] {
        let answer = stream(&addr, document).await;
        let line = line_where(&mut logged, TOKEN, "the stream's access line", |line| {
            line["target"] == "access"
        })
        .await;
        assert_eq!(line["url.path"], "/graphql", "{line}");
        names.push(line["graphql.operation.name"].clone());
        drop(answer);
    }
    assert_eq!(names, [json!("Watch"), json!("Fleet")]);
    stop(gateway).await;

    let mut kinds: Vec<(String, String)> = collector
        .spans()
        .iter()
        .map(|(_, span)| span)
        .filter(|span| span.name == "request")
        .filter_map(|span| {
            let name = string_attribute(&span.attributes, "graphql.operation.name")?;
            let kind = string_attribute(&span.attributes, "graphql.operation.type")?;
            Some((name, kind))
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("Fleet".to_owned(), "query".to_owned()),
            ("Watch".to_owned(), "subscription".to_owned())
        ]
    );
    remove_store(&store);
}
