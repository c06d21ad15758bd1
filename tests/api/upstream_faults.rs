//! Every malformed or failed upstream answer becomes a typed GraphQL error,
//! and the gateway keeps serving.

use std::time::Duration;

use remotepc_gateway::settings::AccountSettings;
use remotepc_gateway::simulator::{Fault, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;
use serde_json::json;

use crate::helpers::{error_code, spawn_gateway_with, upstream_descriptions};

/// Forces a read of RemotePC, so each query meets the fault queued for it.
const DEVICES: &str = "{ devices(first: 1, refresh: true) { totalCount } }";

#[tokio::test]
async fn each_broken_answer_is_a_typed_error_and_the_next_query_works() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.upstream.request_timeout = Duration::from_millis(300);
        settings.upstream.retry_attempts = 1;
        settings.cache.min_refresh_interval = Duration::ZERO;
    })
    .await;
    let cases = [
        (Fault::Html(502), "UPSTREAM_UNAVAILABLE"),
        (Fault::Html(200), "UPSTREAM_UNAVAILABLE"),
        (Fault::EmptyBody, "UPSTREAM_UNAVAILABLE"),
        (Fault::Truncated, "UPSTREAM_UNAVAILABLE"),
        (Fault::NotOkStatus, "UPSTREAM_UNAVAILABLE"),
        (Fault::CodeMismatch, "UPSTREAM_UNAVAILABLE"),
        (Fault::Status(500), "UPSTREAM_UNAVAILABLE"),
        (Fault::Reset, "UPSTREAM_UNAVAILABLE"),
        (Fault::Hang, "UPSTREAM_TIMEOUT"),
        (
            Fault::Reject {
                status: 403,
                description: "Invalid user plan".into(),
            },
            "UPSTREAM_REJECTED",
        ),
    ];
    let mut bodies = Vec::new();
    for (fault, code) in cases {
        gateway.sim.fail_next(Endpoint::ComputerList, fault.clone());
        let failed = gateway.gql(DEVICES, json!({})).await;
        assert_eq!(error_code(&failed), code, "{fault:?}: {failed}");
        assert_eq!(failed["data"], serde_json::Value::Null);
        assert_eq!(
            failed["errors"][0]["extensions"]["upstream"]["endpoint"], "computer/list",
            "{fault:?}"
        );
        let recovered = gateway.gql(DEVICES, json!({})).await;
        assert_eq!(
            recovered["data"]["devices"]["totalCount"], 50,
            "after {fault:?}: {recovered}"
        );
        bodies.push(failed.to_string());
    }
    let key = gateway.sim.api_key();
    assert!(
        bodies.iter().all(|body| !body.contains(&key)),
        "the API key leaked"
    );
}

#[tokio::test]
async fn a_mutation_that_times_out_is_sent_once_and_reported_as_unknown() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.upstream.request_timeout = Duration::from_millis(300);
    })
    .await;
    gateway.sim.fail_next(Endpoint::GroupCreate, Fault::Hang);
    let response = gateway
        .gql(
            "mutation { createGroup(input: { name: \"Ops\" }) { group { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&response), "UPSTREAM_TIMEOUT");
    assert_eq!(response["errors"][0]["extensions"]["outcomeUnknown"], true);
    assert!(
        response["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("may or may not have been applied")),
        "{response}"
    );
    assert_eq!(gateway.calls(Endpoint::GroupCreate), 1);
}

#[tokio::test]
async fn a_wrong_api_key_is_reported_as_an_upstream_refusal_without_the_key() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        let base_url = settings.accounts["default"].base_url.clone();
        settings.accounts.insert(
            "default".to_owned(),
            AccountSettings::with_inline_key(&base_url, "wrong-key-0123456789"),
        );
    })
    .await;
    let response = gateway.gql(DEVICES, json!({})).await;
    assert_eq!(error_code(&response), "UPSTREAM_REJECTED");
    assert_eq!(
        response["errors"][0]["extensions"]["upstream"]["httpStatus"],
        401
    );
    assert_eq!(upstream_descriptions(&response), ["Invalid user"]);
    assert!(!response.to_string().contains("wrong-key-0123456789"));
    assert!(
        gateway
            .sim
            .requests(Endpoint::ComputerList)
            .iter()
            .all(|call| !call.authorized)
    );
}

#[tokio::test]
async fn a_redirect_is_an_error_and_the_body_is_never_resent_elsewhere() {
    let elsewhere = remotepc_gateway::simulator::Simulator::start(SimulatorConfig::default())
        .await
        .expect("second simulator");
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |_| {}).await;
    let create = "mutation { createUser(input: { firstName: \"Ada\", lastName: \"King\", email: \"ada@example.com\", password: \"Sup3r-secret!\" }) { user { username } } }";
    for location in [
        format!("{}user/create", elsewhere.base_url()),
        format!("{}user/invite", gateway.sim.base_url()),
    ] {
        gateway.sim.fail_next(
            Endpoint::UserCreate,
            Fault::Redirect {
                status: 307,
                location,
            },
        );
        let answer = gateway.gql(create, json!({})).await;
        assert_eq!(error_code(&answer), "UPSTREAM_UNAVAILABLE", "{answer}");
        assert!(
            answer["errors"][0]["message"]
                .as_str()
                .is_some_and(|message| message.contains("redirect"))
        );
    }
    assert_eq!(
        elsewhere.total_calls(),
        0,
        "nothing followed the redirect off-site"
    );
    assert_eq!(gateway.calls(Endpoint::UserInvite), 0, "nor on-site");
    assert_eq!(gateway.calls(Endpoint::UserCreate), 2);
}

#[tokio::test]
async fn a_list_claiming_more_than_max_collection_records_is_refused_after_one_page() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |_| {}).await;
    gateway
        .sim
        .state(|state| state.claimed_total = Some(1_000_000_000_000));
    let answer = gateway.gql(DEVICES, json!({})).await;
    assert_eq!(error_code(&answer), "UPSTREAM_UNAVAILABLE", "{answer}");
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("upstream.max_collection_records")),
        "{answer}"
    );
    assert_eq!(gateway.calls(Endpoint::ComputerList), 1);
}

#[tokio::test]
async fn reading_stops_at_the_first_short_page_whatever_the_list_claims() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.upstream.page_size = 10;
        settings.upstream.page_fanout = 4;
    })
    .await;
    // 50 devices: pages 1–5 full, page 6 empty, though 100,000 are claimed.
    gateway
        .sim
        .state(|state| state.claimed_total = Some(100_000));
    let answer = gateway.gql(DEVICES, json!({})).await;
    assert_eq!(answer["data"]["devices"]["totalCount"], 50, "{answer}");
    let calls = gateway.calls(Endpoint::ComputerList);
    assert!(
        (6..=6 + 4).contains(&calls),
        "pages up to the empty one, plus at most the fan-out already in flight: {calls}"
    );
}

#[tokio::test]
async fn a_read_nobody_waits_for_starts_no_more_pages() {
    let gateway = spawn_gateway_with(
        SimulatorConfig {
            latency: Duration::from_millis(200),
            ..SimulatorConfig::default()
        },
        |settings| {
            // One device a page, 200 ms each (the simulator's latency).
            settings.upstream.page_size = 1;
            settings.upstream.page_fanout = 2;
        },
    )
    .await;
    // 50 pages of one device, 200 ms each, two at a time: 5 s to read all.
    let gone = reqwest::Client::new()
        .post(&gateway.url)
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .timeout(Duration::from_millis(500))
        .json(&json!({ "query": "{ devices(first: 1) { totalCount } }" }))
        .send()
        .await;
    assert!(gone.is_err(), "the client left before the read finished");
    let when_left = gateway.calls(Endpoint::ComputerList);
    // Pages already asked for may still be answered; none is started after.
    // "None started" is an absence, so it is watched over a window: longer
    // than one page's latency, a read that went on would show a new call in
    // it. Not a clock: a slow machine can only make this test pass late,
    // never fail wrongly, since pages in flight are allowed for.
    let page_latency = Duration::from_millis(200);
    let settled = crate::helpers::eventually(
        "pages in flight to finish",
        Duration::from_secs(5),
        || async {
            let before = gateway.calls(Endpoint::ComputerList);
            tokio::time::sleep(page_latency + Duration::from_millis(100)).await;
            (gateway.calls(Endpoint::ComputerList) == before).then_some(before)
        },
    )
    .await;
    assert!(
        settled <= when_left + 2,
        "{settled} list calls, {when_left} when the client left: the read went on"
    );
}
