//! `users`, `devices`, `user`, `device`: connections over every upstream page.

use std::collections::HashSet;

use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use serde_json::json;

use crate::helpers::{error_code, spawn_gateway, spawn_gateway_with, violations};

const DEVICE_PAGE: &str = "query($after: String) {
  devices(first: 500, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { name } }
  }
}";

#[tokio::test]
async fn devices_of_a_10000_device_account_come_from_all_20_upstream_pages() {
    let gateway = spawn_gateway_with(
        SimulatorConfig {
            devices: 10_000,
            ..SimulatorConfig::default()
        },
        |_| {},
    )
    .await;

    let first = gateway.gql(DEVICE_PAGE, json!({})).await;
    assert_eq!(first["data"]["devices"]["totalCount"], 10_000, "{first}");
    assert_eq!(
        first["data"]["devices"]["edges"].as_array().map(Vec::len),
        Some(500)
    );
    assert_eq!(first["data"]["devices"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(gateway.calls(Endpoint::ComputerList), 20);

    let requests = gateway.sim.requests(Endpoint::ComputerList);
    let page_two = requests
        .iter()
        .find(|call| call.body["pageIndex"] == 2)
        .expect("page 2 was requested with a JSON body");
    assert_eq!(page_two.body["recordPerPage"], 500);
    assert!(
        page_two
            .query
            .as_deref()
            .is_some_and(|query| query.contains("pageIndex=2")),
        "paging is sent as query parameters too: {:?}",
        page_two.query
    );

    let mut seen = HashSet::new();
    let mut names = Vec::new();
    let mut after = serde_json::Value::Null;
    for _ in 0..20 {
        let page = gateway.gql(DEVICE_PAGE, json!({ "after": after })).await;
        let connection = &page["data"]["devices"];
        for edge in connection["edges"].as_array().expect("edges") {
            let name = edge["node"]["name"].as_str().expect("name").to_owned();
            assert!(seen.insert(name.clone()), "{name} appeared twice");
            names.push(name);
        }
        after = connection["pageInfo"]["endCursor"].clone();
        if connection["pageInfo"]["hasNextPage"] == false {
            break;
        }
    }
    assert_eq!(names.len(), 10_000);
    assert!(
        names.windows(2).all(|pair| pair[0] < pair[1]),
        "sorted by name"
    );
}

#[tokio::test]
async fn device_lookup_returns_typed_fields() {
    let gateway = spawn_gateway().await;
    let expected = gateway
        .sim
        .state(|state| {
            state
                .devices()
                .find(|device| !device.last_session.is_empty())
                .cloned()
        })
        .expect("a device with a session");

    let response = gateway
        .gql(
            "query($name: String!) { device(name: $name) {
                name machineId status os osVersion ip comment lastSessionAt lastSessionRaw } }",
            json!({ "name": expected.host_name }),
        )
        .await;

    let device = &response["data"]["device"];
    assert_eq!(device["name"], expected.host_name.as_str());
    assert_eq!(device["machineId"], expected.machine_id.as_str());
    assert_eq!(
        device["status"],
        if expected.online { "ONLINE" } else { "OFFLINE" }
    );
    assert_eq!(device["os"], expected.os.as_str());
    assert_eq!(device["osVersion"], expected.os_version.as_str());
    assert_eq!(device["ip"], expected.ip.as_str());
    assert_eq!(device["lastSessionRaw"], expected.last_session.as_str());
    // RemotePC's local time, in the account's zone (UTC by default).
    assert_eq!(
        device["lastSessionAt"],
        format!("{}Z", expected.last_session.replace(' ', "T")).as_str()
    );
}

#[tokio::test]
async fn device_without_session_has_null_session_fields_and_unknown_device_is_null() {
    let gateway = spawn_gateway().await;
    let name = gateway.sim.state(|state| {
        let device = state.devices().next().expect("devices").host_name.clone();
        if let Some(device) = state.device_mut(&device) {
            device.last_session = String::new();
            device.comments = String::new();
        }
        device
    });
    let response = gateway
        .gql(
            "query($name: String!) { device(name: $name) { lastSessionAt lastSessionRaw comment }
                                     missing: device(name: \"NO-SUCH-PC\") { name } }",
            json!({ "name": name }),
        )
        .await;
    assert_eq!(
        response["data"],
        json!({ "device": { "lastSessionAt": null, "lastSessionRaw": null, "comment": null }, "missing": null })
    );
}

#[tokio::test]
async fn user_lookup_ignores_case_and_users_page_backwards() {
    let gateway = spawn_gateway().await;
    let username = gateway.some_user();
    let response = gateway
        .gql(
            "query($u: String!) { user(username: $u) { username firstName lastName } }",
            json!({ "u": username.to_uppercase() }),
        )
        .await;
    assert_eq!(response["data"]["user"]["username"], username.as_str());

    let all = gateway
        .gql(
            "{ users(first: 100) { totalCount edges { node { username } } } }",
            json!({}),
        )
        .await;
    let usernames: Vec<&str> = all["data"]["users"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(|edge| edge["node"]["username"].as_str())
        .collect();
    assert_eq!(all["data"]["users"]["totalCount"], 20);
    assert_eq!(usernames.len(), 20);

    let tail = gateway
        .gql(
            "{ users(last: 3) { pageInfo { hasPreviousPage hasNextPage } edges { node { username } } } }",
            json!({}),
        )
        .await;
    let tail_names: Vec<&str> = tail["data"]["users"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(|edge| edge["node"]["username"].as_str())
        .collect();
    assert_eq!(tail_names, usernames[17..]);
    assert_eq!(tail["data"]["users"]["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(tail["data"]["users"]["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn bad_paging_arguments_name_the_argument() {
    let gateway = spawn_gateway().await;
    let too_many = gateway
        .gql("{ devices(first: 501) { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&too_many), "BAD_USER_INPUT");
    assert_eq!(
        violations(&too_many),
        [("first".to_owned(), "must be between 0 and 500".to_owned())]
    );

    let bad_cursor = gateway
        .gql("{ devices(after: \"bm9wZQ\") { totalCount } }", json!({}))
        .await;
    assert_eq!(violations(&bad_cursor)[0].0, "after");

    let both = gateway
        .gql("{ users(first: 1, last: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(violations(&both)[0].0, "last");
}
