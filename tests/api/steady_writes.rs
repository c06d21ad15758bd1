//! Writes during a refresh do not throw the refresh away: it is kept with
//! the writes applied over it, so what changed in RemotePC meanwhile shows
//! up, and so do the writes. (Before, a refresh overlapping any write was
//! dropped, and under steady writes data aged without bound.)

use std::time::Duration;

use remotepc_gateway::simulator::{Fault, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;
use serde_json::json;

use crate::helpers::{eventually, spawn_gateway_with, upstream_reported};

const STATUS: &str = "query Status($name: String!) { device(name: $name) { status comment } }";

#[tokio::test]
async fn a_refresh_overlapping_writes_keeps_remotepcs_changes_and_the_writes() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.cache.min_refresh_interval = Duration::ZERO;
    })
    .await;
    let online = gateway.devices_by_status(true);
    let (changed, written) = (online[0].clone(), online[1].clone());
    let before = gateway.gql(STATUS, json!({ "name": changed })).await;
    assert_eq!(before["data"]["device"]["status"], "ONLINE", "{before}");
    assert_eq!(gateway.calls(Endpoint::ComputerList), 1);

    // RemotePC changes on its own; the next list call is slow, and a write
    // lands while it runs.
    gateway.sim.state(|state| state.set_online(&changed, false));
    gateway.sim.fail_next(
        Endpoint::ComputerList,
        Fault::Latency(Duration::from_secs(2)),
    );
    let refresh = {
        let (http, url) = (gateway.http.clone(), gateway.url.clone());
        let query = "{ devices(refresh: true) { totalCount } }";
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(crate::helpers::ADMIN_TOKEN)
                .json(&json!({ "query": query }))
                .send()
                .await
                .expect("answered")
                .status()
        })
    };
    eventually(
        "the refresh's list call",
        Duration::from_secs(10),
        || async { (gateway.calls(Endpoint::ComputerList) == 2).then_some(()) },
    )
    .await;
    let comment = format!(
        r#"mutation {{ addComputerComment(input: {{ computerName: "{written}", comment: "written during a refresh" }}) {{ comment }} }}"#
    );
    let wrote = gateway.gql(&comment, json!({})).await;
    assert_eq!(
        upstream_reported(wrote, "admin", 1),
        json!({ "data": { "addComputerComment": { "comment": "written during a refresh" } } })
    );
    assert_eq!(refresh.await.expect("the refresh ran"), 200);

    let after = gateway.gql(STATUS, json!({ "name": changed })).await;
    assert_eq!(
        after["data"]["device"],
        json!({ "status": "OFFLINE", "comment": gateway.sim.state(|state| state.device(&changed).map(|device| device.comments.clone())) }),
        "the refresh was kept: {after}"
    );
    let after = gateway.gql(STATUS, json!({ "name": written })).await;
    assert_eq!(
        after["data"]["device"]["comment"],
        "written during a refresh"
    );
    assert_eq!(
        gateway.calls(Endpoint::ComputerList),
        2,
        "both answered from the kept snapshot"
    );
}
