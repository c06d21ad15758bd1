//! The real binary: an audit record survives SIGKILL right after the
//! answer (committed before it); a write cut off by SIGKILL is left
//! `STARTED` and its key is never run again; SIGTERM lets requests finish
//! and records writes that outlive the grace as outcome unknown.

use std::time::Duration;

use remotepc_gateway::settings::StoreSettings;
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::store::{AuditFilter, Store};
use serde_json::json;

use crate::helpers::{temp_store_path, until_called};
use crate::process::{start_binary, start_binary_with};

#[tokio::test]
async fn the_audit_record_survives_sigkill_right_after_the_response() {
    let sim = Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    let store_path = temp_store_path();
    let store_url = format!("sqlite://{}?mode=rwc", store_path.display());
    let token = "durability-token-000000000";
    let (mut gateway, addr) = start_binary(&sim, &store_url, token).await;

    let name = sim
        .state(|state| {
            state
                .devices()
                .next()
                .map(|device| device.host_name.clone())
        })
        .expect("device");
    let response: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(token)
        .header("x-request-id", "killed-right-after")
        .json(&json!({
            "query": "mutation($n: String!) { addComputerComment(input: { computerName: $n, comment: \"Audited before answering\" }) { comment } }",
            "variables": { "n": name },
        }))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON");
    gateway.start_kill().expect("SIGKILL");
    assert_eq!(
        response["data"]["addComputerComment"]["comment"],
        "Audited before answering"
    );
    gateway.wait().await.expect("reaped");

    let store = Store::open(&StoreSettings {
        url: store_url,
        ..StoreSettings::default()
    })
    .await
    .expect("store reopens");
    let records = store
        .audit_records(&AuditFilter::default(), None, 10)
        .await
        .expect("read");
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].client_request_id.as_deref(),
        Some("killed-right-after")
    );
    assert_ne!(records[0].request_id, "killed-right-after");
    assert_eq!(records[0].operation, "addComputerComment");
    assert_eq!(records[0].team, "ops");
    assert_eq!(records[0].outcome, "OK");
    store.close().await;
    crate::helpers::remove_store(&store_path);
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish() {
    let sim = Simulator::start(SimulatorConfig {
        latency: Duration::from_millis(400),
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator");
    let store_path = temp_store_path();
    let token = "sigterm-token-000000000000";
    let (mut gateway, addr) = start_binary(
        &sim,
        &format!("sqlite://{}?mode=rwc", store_path.display()),
        token,
    )
    .await;
    let in_flight = tokio::spawn(
        reqwest::Client::new()
            .post(format!("http://{addr}/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": "{ devices(first: 1) { totalCount } }" }))
            .send(),
    );
    until_called(&sim, remotepc_gateway::upstream::Endpoint::ComputerList).await;
    let pid = gateway.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let response: serde_json::Value = in_flight
        .await
        .expect("task")
        .expect("the request in flight is answered")
        .json()
        .await
        .expect("JSON");
    assert_eq!(response["data"]["devices"]["totalCount"], 50);
    let status = tokio::time::timeout(Duration::from_secs(15), gateway.wait())
        .await
        .expect("exits after SIGTERM")
        .expect("reaped");
    assert!(status.success(), "a clean exit: {status:?}");
    crate::helpers::remove_store(&store_path);
}

const COMMENT: &str = "mutation($n: String!) { addComputerComment(input: { computerName: $n, comment: \"Cut off mid-write\" }) { comment } }";

fn some_device(sim: &Simulator) -> String {
    sim.state(|state| {
        state
            .devices()
            .next()
            .map(|device| device.host_name.clone())
    })
    .expect("device")
}

/// Sends `COMMENT` with `key` and does not wait for the answer.
fn send_comment(
    addr: &str,
    token: &str,
    key: &str,
    name: &str,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    tokio::spawn(
        reqwest::Client::new()
            .post(format!("http://{addr}/graphql"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&json!({ "query": COMMENT, "variables": { "n": name } }))
            .send(),
    )
}

async fn audit_outcomes(store_url: &str) -> Vec<(String, String)> {
    let store = Store::open(&StoreSettings {
        url: store_url.to_owned(),
        ..StoreSettings::default()
    })
    .await
    .expect("store reopens");
    let records = store
        .audit_records(&AuditFilter::default(), None, 10)
        .await
        .expect("read");
    store.close().await;
    records
        .into_iter()
        .map(|record| (record.operation, record.outcome))
        .collect()
}

#[tokio::test]
async fn sigterm_records_a_write_outliving_the_grace_as_outcome_unknown() {
    use remotepc_gateway::upstream::Endpoint;
    let sim = Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    sim.fail_next(
        Endpoint::CommentAdd,
        remotepc_gateway::simulator::Fault::Hang,
    );
    let store_path = temp_store_path();
    let store_url = format!("sqlite://{}?mode=rwc", store_path.display());
    let token = "grace-token-00000000000000";
    let grace = [("GATEWAY__SERVER__SHUTDOWN_GRACE", "300ms")];
    let (mut gateway, addr) = start_binary_with(&sim, &store_url, token, &grace).await;
    let pending = send_comment(&addr, token, "hung-at-shutdown", &some_device(&sim));
    until_called(&sim, Endpoint::CommentAdd).await;
    let pid = gateway.id().expect("running").to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(20), gateway.wait())
        .await
        .expect("exits within the grace and its bounded wait")
        .expect("reaped");
    assert!(status.success(), "{status:?}");
    // Its client was answered before the connection closed, not reset.
    let answered = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .expect("the client's request ends")
        .expect("task")
        .expect("answered, not reset");
    assert_eq!(answered.status(), 503);
    let body: serde_json::Value = answered.json().await.expect("JSON");
    assert_eq!(body["data"], serde_json::Value::Null, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["outcomeUnknown"], true,
        "{body}"
    );
    assert_eq!(
        audit_outcomes(&store_url).await,
        [(
            "addComputerComment".to_owned(),
            "OUTCOME_UNKNOWN".to_owned()
        )]
    );
    crate::helpers::remove_store(&store_path);
}

#[tokio::test]
async fn a_write_cut_off_by_sigkill_stays_started_and_its_key_never_runs_again() {
    use remotepc_gateway::upstream::Endpoint;
    let sim = Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    sim.fail_next(
        Endpoint::CommentAdd,
        remotepc_gateway::simulator::Fault::Hang,
    );
    let store_path = temp_store_path();
    let store_url = format!("sqlite://{}?mode=rwc", store_path.display());
    let token = "killed-mid-write-token-000";
    let lease = [("GATEWAY__STORE__IDEMPOTENCY_CLAIM_LEASE", "1s")];
    let (mut gateway, addr) = start_binary_with(&sim, &store_url, token, &lease).await;
    let name = some_device(&sim);
    let pending = send_comment(&addr, token, "cut-off", &name);
    until_called(&sim, Endpoint::CommentAdd).await;
    gateway.start_kill().expect("SIGKILL");
    gateway.wait().await.expect("reaped");
    pending.abort();
    assert_eq!(
        audit_outcomes(&store_url).await,
        [("addComputerComment".to_owned(), "STARTED".to_owned())],
        "the intent was recorded before RemotePC was called"
    );

    // The killed process's claim names it and holds a lease it can no
    // longer renew: once the lease is out (a second here, 15 s by
    // default) a retry learns the outcome is unknown, without waiting for
    // store.idempotency_abandoned_after (10 min).
    let (_restarted, addr) = start_binary_with(&sim, &store_url, token, &lease).await;
    let retry = crate::helpers::eventually(
        "the dead process's claim to be seen as abandoned",
        Duration::from_secs(20),
        || async {
            let retry = send_comment(&addr, token, "cut-off", &name)
                .await
                .ok()?
                .ok()?;
            (retry.status() != 409).then_some(retry)
        },
    )
    .await;
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let body: serde_json::Value = retry.json().await.expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["outcomeUnknown"], true,
        "{body}"
    );
    assert_eq!(
        sim.calls(Endpoint::CommentAdd),
        1,
        "the key never runs a second time"
    );
    crate::helpers::remove_store(&store_path);
}
