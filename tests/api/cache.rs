//! Snapshots: coalesced cold fetches, TTL, stale-while-revalidate,
//! stale-if-error, read-your-writes, stable cursors, bounded refresh.

use std::collections::HashSet;
use std::time::Duration;

use remotepc_gateway::simulator::{Fault, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{TestGateway, error_code, eventually, spawn_gateway, spawn_gateway_with};

const COUNT: &str = "{ devices(first: 1) { totalCount } }";

async fn wait_for_calls(gateway: &TestGateway, endpoint: Endpoint, calls: u64) {
    let what = format!("{calls} calls of {endpoint}");
    eventually(&what, Duration::from_secs(5), || async {
        (gateway.calls(endpoint) >= calls).then_some(())
    })
    .await;
}

#[tokio::test]
async fn two_hundred_concurrent_queries_on_a_cold_cache_fetch_each_page_once() {
    let gateway = spawn_gateway_with(
        SimulatorConfig {
            devices: 10_000,
            latency: Duration::from_millis(20),
            ..SimulatorConfig::default()
        },
        |_| {},
    )
    .await;

    let responses =
        futures::future::join_all((0..200).map(|_| gateway.gql(COUNT, json!({})))).await;

    assert!(
        responses
            .iter()
            .all(|response| response["data"]["devices"]["totalCount"] == 10_000)
    );
    let mut pages: Vec<u64> = gateway
        .sim
        .requests(Endpoint::ComputerList)
        .iter()
        .filter_map(|call| call.body["pageIndex"].as_u64())
        .collect();
    pages.sort_unstable();
    assert_eq!(pages, (1..=20).collect::<Vec<_>>());
}

#[tokio::test]
async fn within_the_ttl_no_upstream_call_then_one_background_refresh() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.cache.ttl = Duration::from_millis(300);
    })
    .await;

    let first = gateway.gql(COUNT, json!({})).await;
    assert_eq!(first["extensions"]["cache"]["devices"]["stale"], false);
    for _ in 0..5 {
        gateway.gql(COUNT, json!({})).await;
    }
    assert_eq!(gateway.calls(Endpoint::ComputerList), 1);

    gateway.clock.advance(Duration::from_millis(350));
    let stale = gateway.gql(COUNT, json!({})).await;
    assert_eq!(
        stale["extensions"]["cache"]["devices"]["stale"], true,
        "{stale}"
    );
    assert!(stale["extensions"]["cache"]["devices"]["ageMs"].as_u64() >= Some(300));
    wait_for_calls(&gateway, Endpoint::ComputerList, 2).await;

    let fresh = gateway.gql(COUNT, json!({})).await;
    assert_eq!(
        fresh["extensions"]["cache"]["devices"]["stale"], false,
        "{fresh}"
    );
    assert_eq!(gateway.calls(Endpoint::ComputerList), 2);
}

#[tokio::test]
async fn a_failing_upstream_gets_stale_data_then_unavailable_then_recovery() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.cache.ttl = Duration::from_millis(200);
        settings.cache.max_stale = Duration::from_millis(600);
        settings.cache.min_refresh_interval = Duration::from_millis(50);
        settings.upstream.breaker_cooldown = Duration::from_millis(100);
    })
    .await;
    gateway.gql(COUNT, json!({})).await;
    gateway.sim.set_outage(Some(Fault::Status(503)));

    gateway.clock.advance(Duration::from_millis(250));
    for _ in 0..3 {
        let stale = gateway.gql(COUNT, json!({})).await;
        assert_eq!(stale["data"]["devices"]["totalCount"], 50, "{stale}");
        assert_eq!(stale["extensions"]["cache"]["devices"]["stale"], true);
        // Past min_refresh_interval, so the next read may try again.
        gateway.clock.advance(Duration::from_millis(60));
    }
    // Refreshes were tried, in the background.
    wait_for_calls(&gateway, Endpoint::ComputerList, 2).await;

    gateway.clock.advance(Duration::from_millis(700));
    let unavailable = gateway.gql(COUNT, json!({})).await;
    assert_eq!(
        error_code(&unavailable),
        "UPSTREAM_UNAVAILABLE",
        "{unavailable}"
    );

    // The breaker opened during the outage; once RemotePC answers again the
    // gateway finds out by itself within a cool-down.
    gateway.sim.set_outage(None);
    gateway.clock.advance(Duration::from_millis(100));
    let recovered = gateway.gql(COUNT, json!({})).await;
    assert_eq!(
        recovered["data"]["devices"]["totalCount"], 50,
        "{recovered}"
    );
    assert_eq!(recovered["extensions"]["cache"]["devices"]["stale"], false);
}

#[tokio::test]
async fn refresh_is_bounded_by_the_minimum_interval() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.cache.min_refresh_interval = Duration::from_millis(300);
    })
    .await;
    let refresh = "{ devices(first: 1, refresh: true) { totalCount } }";
    gateway.gql(refresh, json!({})).await;
    gateway.gql(refresh, json!({})).await;
    assert_eq!(
        gateway.calls(Endpoint::ComputerList),
        1,
        "too soon to refresh again"
    );
    gateway.clock.advance(Duration::from_millis(350));
    gateway.gql(refresh, json!({})).await;
    assert_eq!(gateway.calls(Endpoint::ComputerList), 2);
}

#[tokio::test]
async fn every_write_is_visible_to_the_next_query() {
    let gateway = spawn_gateway().await;
    let device_query = "query($n: String!) { device(name: $n) { comment } devices { totalCount } }";
    let user_query = "query($u: String!) { user(username: $u) { username } users { totalCount } }";
    let offline = gateway.devices_by_status(false);
    let user = gateway.some_user();
    gateway.gql(device_query, json!({ "n": offline[0] })).await;
    gateway.gql(user_query, json!({ "u": user })).await;
    let list_calls = || gateway.calls(Endpoint::ComputerList) + gateway.calls(Endpoint::UserList);
    assert_eq!(list_calls(), 2);

    gateway
        .gql(
            "mutation($n: String!) { addComputerComment(input: { computerName: $n, comment: \"Moved to lab\" }) { comment } }",
            json!({ "n": offline[0] }),
        )
        .await;
    let commented = gateway.gql(device_query, json!({ "n": offline[0] })).await;
    assert_eq!(commented["data"]["device"]["comment"], "Moved to lab");

    gateway
        .gql(
            "mutation($n: [String!]!) { removeComputers(input: { computerNames: $n }) { removedCount } }",
            json!({ "n": [offline[0]] }),
        )
        .await;
    let removed = gateway.gql(device_query, json!({ "n": offline[0] })).await;
    assert_eq!(
        removed["data"],
        json!({ "device": null, "devices": { "totalCount": 49 } })
    );

    gateway
        .gql(
            "mutation { createUser(input: { firstName: \"Alan\", lastName: \"Turing\", email: \"alan@example.com\", password: \"Enigma!42\" }) { user { username } } }",
            json!({}),
        )
        .await;
    let created = gateway
        .gql(user_query, json!({ "u": "alan@example.com" }))
        .await;
    assert_eq!(
        created["data"],
        json!({ "user": { "username": "alan@example.com" }, "users": { "totalCount": 21 } })
    );

    gateway
        .gql(
            "mutation($u: String!) { deleteUsers(input: { activeUsers: [$u] }) { deletedCount } }",
            json!({ "u": user }),
        )
        .await;
    let deleted = gateway.gql(user_query, json!({ "u": user })).await;
    assert_eq!(
        deleted["data"],
        json!({ "user": null, "users": { "totalCount": 20 } })
    );
    assert_eq!(list_calls(), 2, "patched, not fetched again");

    gateway
        .gql(
            "mutation { inviteUsers(input: { emails: [\"new@example.com\"] }) { invited } }",
            json!({}),
        )
        .await;
    gateway.gql(user_query, json!({ "u": user })).await;
    assert_eq!(
        gateway.calls(Endpoint::UserList),
        2,
        "an invitation's effect is read anew"
    );
}

const WALK: &str = "query($after: String) {
  devices(first: 500, after: $after, filter: { status: OFFLINE }, orderBy: { field: LAST_SESSION, direction: DESC }) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } }";

#[tokio::test]
async fn a_sorted_filtered_walk_over_10000_devices_survives_a_refresh() {
    let gateway = spawn_gateway_with(
        SimulatorConfig {
            devices: 10_000,
            ..SimulatorConfig::default()
        },
        |settings| settings.cache.min_refresh_interval = Duration::ZERO,
    )
    .await;
    let mut expected: Vec<(String, String)> = gateway.sim.state(|state| {
        state
            .devices()
            .filter(|device| !device.online)
            .map(|device| {
                (
                    device.last_session.replace(' ', "T"),
                    device.host_name.clone(),
                )
            })
            .collect()
    });
    expected.sort();
    expected.reverse();
    let expected: Vec<String> = expected.into_iter().map(|(_, name)| name).collect();

    let mut walked = Vec::new();
    let mut after = Value::Null;
    for page in 0.. {
        if page == 3 {
            let refreshed = gateway
                .gql(
                    "{ devices(first: 0, refresh: true) { totalCount } }",
                    json!({}),
                )
                .await;
            assert_eq!(refreshed["extensions"]["cache"]["devices"]["ageMs"], 0);
        }
        let response = gateway.gql(WALK, json!({ "after": after })).await;
        let connection = &response["data"]["devices"];
        assert_eq!(
            connection["totalCount"].as_u64(),
            Some(expected.len() as u64),
            "{response}"
        );
        walked.extend(
            connection["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .filter_map(|edge| edge["node"]["name"].as_str().map(str::to_owned)),
        );
        if connection["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(
        gateway.calls(Endpoint::ComputerList),
        40,
        "two full reads: cold and refresh"
    );
    assert_eq!(
        walked.iter().collect::<HashSet<_>>().len(),
        walked.len(),
        "no duplicates"
    );
    assert_eq!(walked, expected);
}

#[tokio::test]
async fn filters_and_orderings_select_what_they_say() {
    let gateway = spawn_gateway_with(
        SimulatorConfig {
            devices: 200,
            ..SimulatorConfig::default()
        },
        |_| {},
    )
    .await;
    let response = gateway
        .gql(
            "{ mac: devices(filter: { os: \"macos\" }, first: 500) { totalCount edges { node { os } } }
               tagged: devices(filter: { commentContains: \"ASSET TAG\", nameContains: \"win-\" }) { totalCount }
               old: devices(filter: { lastSessionBefore: \"2026-03-01T00:00:00\" }, orderBy: { field: LAST_SESSION }, first: 500) {
                 edges { node { lastSessionAt } } }
               byFirstName: users(orderBy: { field: FIRST_NAME, direction: DESC }, first: 1) { edges { node { firstName } } }
               search: users(filter: { search: \"ada LOVE\" }) { totalCount } }",
            json!({}),
        )
        .await;
    let data = &response["data"];
    let (mac, tagged, before_march) = gateway.sim.state(|state| {
        let devices: Vec<_> = state.devices().collect();
        (
            devices.iter().filter(|device| device.os == "macOS").count(),
            devices
                .iter()
                .filter(|device| {
                    device.host_name.starts_with("WIN-") && device.comments.starts_with("Asset tag")
                })
                .count(),
            devices
                .iter()
                .filter(|device| {
                    !device.last_session.is_empty() && device.last_session.as_str() < "2026-03-01"
                })
                .count(),
        )
    });
    assert_eq!(data["mac"]["totalCount"], mac, "{response}");
    assert!(
        data["mac"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .all(|edge| edge["node"]["os"] == "macOS")
    );
    assert_eq!(data["tagged"]["totalCount"], tagged);
    let sessions: Vec<&str> = data["old"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(|edge| edge["node"]["lastSessionAt"].as_str())
        .collect();
    assert_eq!(sessions.len(), before_march);
    assert!(
        sessions.windows(2).all(|pair| pair[0] <= pair[1]),
        "ascending"
    );
    assert_eq!(data["byFirstName"]["edges"][0]["node"]["firstName"], "Lena");
    let lovelaces = gateway.sim.state(|state| {
        state
            .users()
            .filter(|user| {
                format!("{} {}", user.firstname, user.lastname)
                    .to_lowercase()
                    .contains("ada love")
            })
            .count()
    });
    assert!(lovelaces > 0);
    assert_eq!(data["search"]["totalCount"], lovelaces);
}

#[tokio::test]
async fn a_cursor_from_another_ordering_is_refused() {
    let gateway = spawn_gateway().await;
    let page = gateway
        .gql(
            "{ devices(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let cursor = page["data"]["devices"]["pageInfo"]["endCursor"].clone();
    let response = gateway
        .gql(
            "query($c: String) { devices(after: $c, orderBy: { field: OS }) { totalCount } }",
            json!({ "c": cursor }),
        )
        .await;
    assert_eq!(error_code(&response), "BAD_USER_INPUT");
    assert!(
        response.to_string().contains("another orderBy"),
        "{response}"
    );
}
