//! A mutation that passed its checks runs to its end whatever the request
//! does: the client leaving, `server.request_timeout`, an upstream timeout.
//! Its audit record is written before RemotePC is called and completed
//! after; a retry under its Idempotency-Key never sends it again.

use std::time::Duration;

use remotepc_gateway::simulator::{Fault, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_TOKEN, TestGateway, audit_log, error_code, eventually, spawn_gateway_with,
};

const REMOVE: &str =
    "mutation($n: [String!]!) { removeComputers(input: { computerNames: $n }) { removedCount } }";

/// A gateway whose removals go 5 names a call, each call taking `latency`.
async fn slow_removals(
    latency: Duration,
    tweak: impl FnOnce(&mut remotepc_gateway::settings::Settings),
) -> TestGateway {
    spawn_gateway_with(
        SimulatorConfig {
            devices: 200,
            latency,
            ..SimulatorConfig::default()
        },
        |settings| {
            settings.upstream.remove_batch_size = 5;
            tweak(settings);
        },
    )
    .await
}

fn offline(gateway: &TestGateway, count: usize) -> Vec<String> {
    let names: Vec<String> = gateway
        .devices_by_status(false)
        .into_iter()
        .take(count)
        .collect();
    assert_eq!(names.len(), count, "enough offline devices seeded");
    names
}

/// Posts `REMOVE` for `names` with an optional key, giving up after
/// `patience` (the client leaves).
async fn remove(
    gateway: &TestGateway,
    names: &[String],
    key: Option<&str>,
    patience: Duration,
) -> Option<(u16, Value)> {
    let mut request = reqwest::Client::new()
        .post(&gateway.url)
        .bearer_auth(ADMIN_TOKEN)
        .timeout(patience)
        .json(&json!({ "query": REMOVE, "variables": { "n": names } }));
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.ok()?))
}

async fn finished_record(gateway: &TestGateway, operation: &str) -> Value {
    eventually(
        &format!("the {operation} audit record to be completed"),
        Duration::from_secs(10),
        || async {
            audit_log(gateway)
                .await
                .into_iter()
                .find(|record| record["operation"] == operation && record["outcome"] != "STARTED")
        },
    )
    .await
}

#[tokio::test]
async fn a_write_whose_client_leaves_runs_to_the_end_is_audited_and_never_runs_twice() {
    let gateway = slow_removals(Duration::from_millis(100), |_| {}).await;
    let names = offline(&gateway, 20);
    let gone = remove(
        &gateway,
        &names,
        Some("leave-early"),
        Duration::from_millis(150),
    )
    .await;
    assert!(gone.is_none(), "the client gave up before the answer");

    let (status, retry) = remove(
        &gateway,
        &names,
        Some("leave-early"),
        Duration::from_secs(10),
    )
    .await
    .expect("answered");
    assert!(
        status == 409 && error_code(&retry) == "CONFLICT"
            || retry["data"]["removeComputers"]["removedCount"] == 20,
        "while it runs, a retry is told so; after, it gets the result: {status} {retry}"
    );
    let record = finished_record(&gateway, "removeComputers").await;
    assert_eq!(record["outcome"], "OK", "{record}");
    assert_eq!(record["result"]["removedCount"], 20);
    assert_eq!(
        gateway.calls(Endpoint::ComputerRemove),
        4,
        "20 names in calls of 5"
    );
    let replay = eventually(
        "the recorded response to be replayed",
        Duration::from_secs(10),
        || async {
            remove(
                &gateway,
                &names,
                Some("leave-early"),
                Duration::from_secs(10),
            )
            .await
            .filter(|(status, _)| *status == 200)
        },
    )
    .await;
    assert_eq!(replay.1["data"]["removeComputers"]["removedCount"], 20);
    assert_eq!(
        gateway.calls(Endpoint::ComputerRemove),
        4,
        "never sent again"
    );
    assert_eq!(
        audit_log(&gateway)
            .await
            .iter()
            .filter(|record| record["operation"] == "removeComputers")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_write_outliving_the_request_timeout_answers_outcome_unknown_and_completes() {
    let gateway = slow_removals(Duration::from_millis(300), |settings| {
        settings.upstream.request_timeout = Duration::from_secs(1);
        settings.upstream.queue_timeout = Duration::from_millis(100);
        settings.server.request_timeout = Duration::from_millis(1_200);
    })
    .await;
    let names = offline(&gateway, 25);
    let (status, answer) = remove(&gateway, &names, None, Duration::from_secs(10))
        .await
        .expect("answered");
    assert_eq!(status, 504, "{answer}");
    assert_eq!(error_code(&answer), "UPSTREAM_TIMEOUT");
    assert_eq!(answer["errors"][0]["extensions"]["outcomeUnknown"], true);
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("server.request_timeout")),
        "{answer}"
    );
    let record = finished_record(&gateway, "removeComputers").await;
    assert_eq!(record["outcome"], "OK");
    assert_eq!(record["result"]["removedCount"], 25);
    assert_eq!(gateway.calls(Endpoint::ComputerRemove), 5);
}

#[tokio::test]
async fn an_upstream_timeout_reaches_the_client_before_the_request_timeout() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.upstream.request_timeout = Duration::from_millis(300);
        settings.server.request_timeout = Duration::from_secs(20);
    })
    .await;
    gateway.sim.fail_next(Endpoint::CommentAdd, Fault::Hang);
    let name = gateway.devices_by_status(true)[0].clone();
    let answer = gateway
        .gql(
            "mutation($n: String!) { addComputerComment(input: { computerName: $n, comment: \"Hanging upstream\" }) { comment } }",
            json!({ "n": name }),
        )
        .await;
    assert_eq!(error_code(&answer), "UPSTREAM_TIMEOUT", "{answer}");
    assert_eq!(answer["errors"][0]["extensions"]["outcomeUnknown"], true);
    let record = finished_record(&gateway, "addComputerComment").await;
    assert_eq!(record["outcome"], "UPSTREAM_TIMEOUT");
    assert_eq!(
        gateway.calls(Endpoint::CommentAdd),
        1,
        "a write is never retried"
    );
}

#[tokio::test]
async fn after_a_write_with_an_unknown_outcome_the_snapshot_is_still_served_while_remotepc_fails() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.upstream.request_timeout = Duration::from_millis(300);
        settings.upstream.retry_attempts = 1;
        settings.cache.min_refresh_interval = Duration::ZERO;
    })
    .await;
    let listing = "{ devices(first: 1) { totalCount } }";
    let before = gateway.gql(listing, json!({})).await;
    assert_eq!(before["data"]["devices"]["totalCount"], 50);

    gateway.sim.fail_next(Endpoint::CommentAdd, Fault::Hang);
    let name = gateway.devices_by_status(true)[0].clone();
    let unknown = gateway
        .gql(
            "mutation($n: String!) { addComputerComment(input: { computerName: $n, comment: \"Maybe applied\" }) { comment } }",
            json!({ "n": name }),
        )
        .await;
    assert_eq!(unknown["errors"][0]["extensions"]["outcomeUnknown"], true);

    gateway.sim.set_outage(Some(Fault::Status(500)));
    let during = gateway.gql(listing, json!({})).await;
    assert_eq!(during["data"]["devices"]["totalCount"], 50, "{during}");
    assert_eq!(
        during["extensions"]["cache"]["devices"],
        json!({ "ageMs": during["extensions"]["cache"]["devices"]["ageMs"], "stale": true, "suspect": true })
    );
    assert!(
        gateway.calls(Endpoint::ComputerList) >= 2,
        "it tried to read anew"
    );

    gateway.sim.set_outage(None);
    let after = gateway.gql(listing, json!({})).await;
    assert_eq!(
        after["extensions"]["cache"]["devices"]["stale"], false,
        "{after}"
    );
    assert!(
        after["extensions"]["cache"]["devices"]
            .get("suspect")
            .is_none()
    );
}
