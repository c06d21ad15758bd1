//! Compiled plans answer exactly as async-graphql does: every case is asked
//! of a gateway that always executes with async-graphql (response cache
//! off) and of one that answers by plan, over identically seeded
//! simulators, and the bodies must be the same bytes.

use remotepc_gateway::settings::{SCOPES, Settings};
use remotepc_gateway::simulator::SimulatorConfig;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestGateway, spawn_gateway_with, team};

/// A team like `admin` on a second account over the same simulator: its
/// requests miss the response cache that `admin`'s filled, so they reach
/// the plan `admin`'s first request compiled.
pub(crate) const TWIN_TOKEN: &str = "twin-test-token-5555555555";

const DEVICE_FIELDS: &str =
    "id name machineId status os osVersion ip comment lastSessionAt lastSessionRaw";

pub(crate) async fn gateways() -> (TestGateway, TestGateway) {
    gateways_with(|_| {}).await
}

/// As `gateways`, both with `tweak` applied to their settings.
async fn gateways_with(tweak: impl Fn(&mut Settings)) -> (TestGateway, TestGateway) {
    let config = SimulatorConfig {
        devices: 120,
        users: 40,
        ..SimulatorConfig::default()
    };
    // A zone with daylight saving time, so offsets differ across the year.
    let zone: chrono_tz::Tz = "America/New_York".parse().expect("zone");
    let reference = spawn_gateway_with(config.clone(), |settings| {
        tweak(settings);
        settings.cache.response_cache_bytes = 0;
        if let Some(account) = settings.accounts.get_mut("default") {
            account.time_zone = zone;
        }
    })
    .await;
    let planned = spawn_gateway_with(config, |settings| {
        tweak(settings);
        if let Some(account) = settings.accounts.get_mut("default") {
            account.time_zone = zone;
        }
        let account = settings.accounts["default"].clone();
        settings.accounts.insert("second".to_owned(), account);
        let mut twin = team(TWIN_TOKEN, &SCOPES);
        twin.account = "second".to_owned();
        settings.teams.insert("twin".to_owned(), twin);
    })
    .await;
    for gateway in [&reference, &planned] {
        let name = gateway.devices_by_status(false)[3].clone();
        gateway.sim.state(|state| {
            if let Some(device) = state.device_mut(&name) {
                device.comments = "Said \"hi\" \\ ünïcode\ttab".to_owned();
            }
            let odd = ["</script>", "\u{1}control", "emoji 🚀", "  spaced  "];
            let names: Vec<String> = state
                .devices()
                .take(odd.len())
                .map(|d| d.host_name.clone())
                .collect();
            for (name, comment) in names.iter().zip(odd) {
                if let Some(device) = state.device_mut(name) {
                    device.comments = comment.to_owned();
                }
            }
        });
    }
    (reference, planned)
}

/// Over HTTP: the body up to its extensions (whose ages differ), and what
/// answered.
pub(crate) async fn ask(
    gateway: &TestGateway,
    token: &str,
    query: &str,
    variables: &Value,
) -> (String, String) {
    let (timing, text) = gateway
        .gql_with_header(token, query, variables, "server-timing")
        .await;
    compared(timing.as_deref(), &text)
}

/// As `ask`, below HTTP: the request goes to the gateway's router as a
/// connection's service would hand it over, with no socket and no client.
/// Its bytes are what the socket would carry (`the_router_answers_…`
/// checks it), at a fraction of a debug build's cost per request.
pub(crate) async fn ask_in_process(
    gateway: &TestGateway,
    token: &str,
    query: &str,
    variables: &Value,
) -> (String, String) {
    let body = json!({ "query": query, "variables": variables }).to_string();
    let request = axum::http::Request::post("/graphql")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(body))
        .expect("a request");
    let response = tower::ServiceExt::oneshot(gateway.router.clone(), request)
        .await
        .expect("the router is infallible");
    let timing = response.headers().get("server-timing").cloned();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the body is read");
    let text = String::from_utf8(bytes.to_vec()).expect("the body is UTF-8");
    compared(timing.as_ref().and_then(|value| value.to_str().ok()), &text)
}

fn compared(timing: Option<&str>, text: &str) -> (String, String) {
    let via = timing
        .and_then(|timing| timing.split("desc=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("none")
        .to_owned();
    let body = text
        .split(",\"extensions\":")
        .next()
        .unwrap_or_default()
        .to_owned();
    (body, via)
}

struct Case {
    query: String,
    /// Sent first by `admin`: the schema answers and the plan is compiled.
    warm: Value,
    /// Sent by `twin` and to the reference.
    asked: Value,
    via: &'static str,
}

fn case(query: impl Into<String>, warm: Value, asked: Value, via: &'static str) -> Case {
    Case {
        query: query.into(),
        warm,
        asked,
        via,
    }
}

#[tokio::test]
async fn plans_answer_byte_for_byte_as_the_schema_does() {
    let (reference, planned) = gateways().await;
    let page = format!(
        "query Page($first: Int, $after: String) {{ devices(first: $first, after: $after) {{ totalCount edges {{ cursor node {{ {DEVICE_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    let (first_page, _) = ask(&reference, ADMIN_TOKEN, &page, &json!({ "first": 7 })).await;
    let first_page: Value = serde_json::from_str(&format!("{first_page}}}")).expect("JSON");
    let cursor = first_page["data"]["devices"]["pageInfo"]["endCursor"].clone();
    assert!(cursor.is_string(), "{first_page}");

    let cases = [
        case(
            format!(
                "{{ devices(first: 50) {{ totalCount edges {{ cursor node {{ {DEVICE_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
            ),
            json!({}),
            json!({}),
            "plan",
        ),
        case(
            page.clone(),
            json!({ "first": 3 }),
            json!({ "first": 7, "after": cursor }),
            "plan",
        ),
        case(
            format!(
                "query B($before: DateTime!, $first: Int!) {{ devices(first: $first, filter: {{ status: OFFLINE, lastSessionBefore: $before }}, orderBy: {{ field: LAST_SESSION, direction: DESC }}) {{ totalCount edges {{ cursor node {{ {DEVICE_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
            ),
            json!({ "before": "2026-03-01T00:00:00", "first": 5 }),
            json!({ "before": "2026-08-15T12:30:00", "first": 40 }),
            "plan",
        ),
        case(
            "query Shapes($last: Int) { fleet: devices(last: $last, orderBy: { field: OS }, filter: { commentContains: \"hI\" }) { __typename count: totalCount pageInfo { __typename hasPreviousPage hasNextPage startCursor endCursor } edges { __typename c: cursor node { __typename n: name comment status } } nodes { name ip } } }",
            json!({ "last": 1 }),
            json!({ "last": 4 }),
            "plan",
        ),
        case(
            "query Nobody($name: String) { devices(filter: { nameContains: $name }) { totalCount pageInfo { startCursor endCursor hasPreviousPage } edges { cursor } } }",
            json!({ "name": "WIN" }),
            json!({ "name": "no such device" }),
            "plan",
        ),
        case(
            "query People($search: String, $first: Int = 6) { users(first: $first, filter: { search: $search }, orderBy: { field: LAST_NAME, direction: DESC }) { totalCount edges { cursor node { username firstName lastName __typename } } pageInfo { hasPreviousPage hasNextPage startCursor endCursor } } }",
            json!({ "search": "ada" }),
            json!({ "search": "LOVE" }),
            "plan",
        ),
        // What a plan leaves to async-graphql gives async-graphql's answer.
        case(
            page.clone(),
            json!({ "first": 2 }),
            json!({ "first": 501 }),
            "schema",
        ),
        case(
            page.clone(),
            json!({ "first": 2 }),
            json!({ "first": 2, "after": "bm9wZQ" }),
            "schema",
        ),
        case(
            "query Strict($first: Int!) { devices(first: $first) { totalCount } }",
            json!({ "first": 1 }),
            json!({}),
            "schema",
        ),
        case(
            "query Wrong($first: Int) { devices(first: $first) { totalCount } }",
            json!({ "first": 1 }),
            json!({ "first": "many" }),
            "schema",
        ),
        case(
            "query Spread { devices(first: 2) { ...Counted } } fragment Counted on DeviceConnection { totalCount }",
            json!({}),
            json!({}),
            "schema",
        ),
        case(
            "query Skipped($skip: Boolean!) { devices(first: 2) { totalCount @skip(if: $skip) } }",
            json!({ "skip": false }),
            json!({ "skip": true }),
            "schema",
        ),
    ];
    for case in cases {
        ask(&planned, ADMIN_TOKEN, &case.query, &case.warm).await;
        let (expected, _) = ask(&reference, ADMIN_TOKEN, &case.query, &case.asked).await;
        let (answered, via) = ask(&planned, TWIN_TOKEN, &case.query, &case.asked).await;
        assert_eq!(via, case.via, "{} with {}", case.query, case.asked);
        assert_eq!(answered, expected, "{} with {}", case.query, case.asked);
    }
}

#[tokio::test]
async fn a_plan_shows_a_write_made_through_the_gateway_at_once() {
    let (_, planned) = gateways().await;
    let name = planned.devices_by_status(true)[0].clone();
    let query = "query Named($name: String) { devices(filter: { nameContains: $name }) { edges { node { name comment } } } }";
    ask(&planned, ADMIN_TOKEN, query, &json!({ "name": "WIN" })).await;
    let (before, via) = ask(&planned, ADMIN_TOKEN, query, &json!({ "name": name })).await;
    assert_eq!(via, "plan");
    assert!(!before.contains("Rewired"), "{before}");

    planned
        .gql(
            "mutation($input: AddComputerCommentInput!) { addComputerComment(input: $input) { comment } }",
            json!({ "input": { "computerName": name, "comment": "Rewired" } }),
        )
        .await;
    let (after, via) = ask(&planned, ADMIN_TOKEN, query, &json!({ "name": name })).await;

    assert_eq!(via, "plan");
    assert!(after.contains("\"comment\":\"Rewired\""), "{after}");
}

#[tokio::test]
async fn a_plan_refuses_every_page_past_the_complexity_limit_as_the_schema_does() {
    // Six per item in each (an edge and its node, or a node, and their
    // fields): pages of ten fit, eleven do not. Fields in table order
    // under their own names are one copy for a plan, but each still counts.
    let (reference, planned) = gateways_with(|settings| settings.graphql.max_complexity = 61).await;
    let queries = [
        "query Run($first: Int) { devices(first: $first) { edges { node { name machineId status os } } } }",
        "query Mixed($first: Int) { devices(first: $first) { nodes { os status n: name ip comment } } }",
        "query People($first: Int) { users(first: $first) { edges { node { __typename username firstName lastName } } } }",
    ];
    for query in queries {
        ask(&planned, ADMIN_TOKEN, query, &json!({ "first": 1 })).await;
        let mut answered_by = Vec::new();
        for first in 8..=14 {
            let variables = json!({ "first": first });
            let (expected, _) = ask(&reference, ADMIN_TOKEN, query, &variables).await;
            let (answered, via) = ask(&planned, TWIN_TOKEN, query, &variables).await;
            assert_eq!(answered, expected, "{query} with first: {first}");
            answered_by.push(via);
        }
        assert_eq!(
            answered_by,
            [
                "plan", "plan", "plan", "schema", "schema", "schema", "schema"
            ],
            "{query}"
        );
    }
}
