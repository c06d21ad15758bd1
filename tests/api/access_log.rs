//! The access log, read from the real binary's JSON lines: one `info`
//! line per request naming its ids at the top level, the method, path,
//! status, team, operation, duration, cache and bytes, and never the
//! token; `log.access = false` turns it off. Every line written inside a
//! request carries its ids at the top level too.

use std::time::Duration;

use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use serde_json::{Value, json};

use crate::helpers::temp_store_path;
use crate::process::{line_where, start_binary_logging};

const TOKEN: &str = "access-log-team-token-0123456789";

async fn ask(url: &str, traceparent: &str) -> (String, usize) {
    let query = json!({ "query": "query Fleet { devices(first: 2) { totalCount } }", "operationName": "Fleet" });
    let answer = reqwest::Client::new()
        .post(url)
        .bearer_auth(TOKEN)
        .header("traceparent", traceparent)
        .json(&query)
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), 200);
    let id = answer.headers()["x-request-id"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    let body: Value = answer.json().await.expect("JSON");
    assert_eq!(
        body["data"],
        json!({ "devices": { "totalCount": 50 } }),
        "{body}"
    );
    (id, body.to_string().len())
}

const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";

#[tokio::test]
async fn each_request_gets_one_access_line_with_its_ids_at_the_top_level() {
    let sim = Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    let store = format!("sqlite://{}?mode=rwc", temp_store_path().display());
    let debug = [("GATEWAY__LOG__FILTER", "info,remotepc_gateway=debug")];
    let (_gateway, addr, mut logged) = start_binary_logging(&sim, &store, TOKEN, &debug).await;
    let url = format!("http://{addr}/graphql");

    let (first, _) = ask(&url, TRACEPARENT).await;
    let inside = line_where(
        &mut logged,
        TOKEN,
        "a line written inside the request",
        |line| line["message"] == "upstream call succeeded",
    )
    .await;
    assert_eq!(
        (inside["request_id"].as_str(), inside["trace_id"].as_str()),
        (Some(first.as_str()), Some(TRACE_ID)),
        "{inside}"
    );
    let request_span = inside["spans"]
        .as_array()
        .and_then(|spans| spans.iter().find(|span| span["name"] == "request"));
    let request_span = request_span.unwrap_or_else(|| panic!("the request span: {inside}"));
    assert_eq!(request_span["request_id"], first.as_str(), "{inside}");
    assert_eq!(
        request_span["team"], "ops",
        "the caller, recorded: {inside}"
    );
    assert_eq!(request_span["url.path"], "/graphql", "{inside}");
    let access = line_where(&mut logged, TOKEN, "the first access line", |line| {
        line["target"] == "access"
    })
    .await;
    assert_eq!(access["request_id"], first.as_str(), "{access}");
    assert_eq!(access["trace_id"], TRACE_ID, "{access}");
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["http.request.method"], "POST");
    assert_eq!(access["url.path"], "/graphql");
    assert_eq!(access["http.response.status_code"], 200);
    assert_eq!(access["team"], "ops");
    assert_eq!(access["graphql.operation.name"], "Fleet");
    assert_eq!(access["cache"], "miss", "{access}");
    assert!(
        access["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{access}"
    );

    // Kept on its second sight, answered from the response cache on its
    // third, and by its bytes ahead of the router on its fourth.
    let mut caching = Vec::new();
    for _ in 0..3 {
        let (id, bytes) = ask(&url, TRACEPARENT).await;
        let access = line_where(&mut logged, TOKEN, "an access line", |line| {
            line["target"] == "access"
        })
        .await;
        assert_eq!(access["request_id"], id.as_str(), "{access}");
        assert_eq!(access["bytes"], bytes, "{access}");
        assert_eq!(access["team"], "ops", "{access}");
        assert_eq!(access["graphql.operation.name"], "Fleet", "{access}");
        assert_eq!(access["trace_id"], TRACE_ID, "{access}");
        caching.push(access["cache"].clone());
    }
    assert_eq!(caching, [json!("miss"), json!("hit"), json!("hit")]);
}

#[tokio::test]
async fn log_access_false_writes_none() {
    let sim = Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    let store = format!("sqlite://{}?mode=rwc", temp_store_path().display());
    let off = [("GATEWAY__LOG__ACCESS", "false")];
    let (mut gateway, addr, mut logged) = start_binary_logging(&sim, &store, TOKEN, &off).await;
    ask(&format!("http://{addr}/graphql"), TRACEPARENT).await;
    let pid = gateway.id().expect("running").to_string();
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(stopped.expect("kill runs").success());
    tokio::time::timeout(Duration::from_secs(20), gateway.wait())
        .await
        .expect("the gateway stops on SIGTERM")
        .expect("reaped");
    let mut lines = Vec::new();
    while let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(5), logged.recv()).await {
        lines.push(line);
    }
    assert!(!lines.is_empty(), "the shutdown was logged");
    assert!(
        lines
            .iter()
            .all(|line| !line.contains("\"target\":\"access\"")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn the_filter_decides_the_access_line_in_pretty_and_json_lines() {
    let cases = [
        ("pretty", "info", 1),
        ("pretty", "info,access=off", 0),
        ("json", "info,access=off", 0),
        ("json", "warn,remotepc_gateway=info,access=debug", 1),
    ];
    for (format, filter, wanted) in cases {
        let sim = Simulator::start(SimulatorConfig::default())
            .await
            .expect("simulator");
        let store = format!("sqlite://{}?mode=rwc", temp_store_path().display());
        let settings = [
            ("GATEWAY__LOG__FORMAT", format),
            ("GATEWAY__LOG__FILTER", filter),
        ];
        let (mut gateway, addr, mut logged) =
            start_binary_logging(&sim, &store, TOKEN, &settings).await;
        let (id, _) = ask(&format!("http://{addr}/graphql"), TRACEPARENT).await;
        let pid = gateway.id().expect("running").to_string();
        let stopped = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        assert!(stopped.expect("kill runs").success());
        tokio::time::timeout(Duration::from_secs(20), gateway.wait())
            .await
            .expect("the gateway stops on SIGTERM")
            .expect("reaped");
        let mut lines = Vec::new();
        while let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(5), logged.recv()).await
        {
            lines.push(line);
        }
        let is_access = |line: &&String| match format {
            "json" => {
                line.contains(&format!("\"request_id\":\"{id}\""))
                    && line.contains("\"target\":\"access\"")
            }
            _ => line.contains(&format!("request_id=\"{id}\"")) && line.contains(" access: "),
        };
        let access = lines.iter().filter(is_access).count();
        assert_eq!(access, wanted, "{format} {filter}: {lines:?}");
        assert!(
            lines
                .iter()
                .all(|line| !line.contains(TOKEN) && !line.contains('\u{1b}')),
            "no token and no colour codes in a pipe: {lines:?}"
        );
        if format == "pretty" {
            assert!(lines.iter().all(|line| !line.starts_with('{')), "{lines:?}");
        }
    }
}
