//! The response cache: repeated queries answered without executing them,
//! never with data older than their snapshots, never across audiences.

use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, READER_TOKEN, TestGateway, spawn_gateway, spawn_gateway_with};

const PAGE: &str = "query Page($first: Int) { devices(first: $first) { totalCount edges { node { status name comment } } } }";

/// A query's `x-response-cache` header, parsed body and raw text.
struct Answered {
    cache: Option<String>,
    body: Value,
    text: String,
}

async fn ask(gateway: &TestGateway, token: &str, query: &str, variables: Value) -> Answered {
    let (cache, text) = gateway
        .gql_with_header(token, query, &variables, "x-response-cache")
        .await;
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    Answered { cache, body, text }
}

/// Asks twice: a response is kept the second time its query is seen, so
/// that one-off queries are never stored. Returns the first answer.
async fn kept(gateway: &TestGateway, token: &str, query: &str, variables: Value) -> Answered {
    let first = ask(gateway, token, query, variables.clone()).await;
    assert_eq!(first.cache.as_deref(), Some("miss"), "{}", first.text);
    let second = ask(gateway, token, query, variables).await;
    assert_eq!(second.cache.as_deref(), Some("miss"), "{}", second.text);
    first
}

#[tokio::test]
async fn a_repeated_query_is_answered_from_the_cache_with_its_current_age() {
    let gateway = spawn_gateway().await;
    let first = kept(&gateway, ADMIN_TOKEN, PAGE, json!({ "first": 3 })).await;
    gateway.clock.advance(std::time::Duration::from_millis(30));
    let again = ask(&gateway, ADMIN_TOKEN, PAGE, json!({ "first": 3 })).await;
    let relaid = ask(
        &gateway,
        ADMIN_TOKEN,
        "# the same query, laid out differently\nquery Page($first: Int) {\n  devices(first: $first) {\n    totalCount,\n    edges { node { status, name, comment } }\n  }\n}",
        json!({ "first": 3 }),
    )
    .await;

    assert_eq!(first.cache.as_deref(), Some("miss"));
    assert_eq!(again.cache.as_deref(), Some("hit"));
    assert_eq!(relaid.cache.as_deref(), Some("hit"));
    assert_eq!(again.body["data"], first.body["data"]);
    assert_eq!(
        first.body["data"]["devices"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let age =
        |answered: &Answered| answered.body["extensions"]["cache"]["devices"]["ageMs"].as_u64();
    assert!(
        age(&again) >= Some(age(&first).unwrap_or_default() + 30),
        "the age is recomputed: {} then {}",
        first.text,
        again.text
    );
    assert_eq!(again.body["extensions"]["cache"]["devices"]["stale"], false);
    assert_eq!(gateway.calls(Endpoint::ComputerList), 1);
}

#[tokio::test]
async fn fields_come_in_the_order_they_were_selected_executed_or_cached() {
    let gateway = spawn_gateway().await;
    for expected in ["miss", "miss", "hit"] {
        let answered = ask(&gateway, ADMIN_TOKEN, PAGE, json!({ "first": 1 })).await;
        assert_eq!(answered.cache.as_deref(), Some(expected));
        let position = |needle: &str| {
            answered
                .text
                .find(needle)
                .unwrap_or_else(|| panic!("{needle} in {}", answered.text))
        };
        assert!(
            position("\"totalCount\"") < position("\"edges\""),
            "{}",
            answered.text
        );
        assert!(
            position("\"status\"") < position("\"name\""),
            "{}",
            answered.text
        );
        assert!(
            position("\"name\"") < position("\"comment\""),
            "{}",
            answered.text
        );
        assert!(
            position("\"data\"") < position("\"extensions\""),
            "{}",
            answered.text
        );
    }
}

#[tokio::test]
async fn a_write_through_the_gateway_is_seen_by_the_next_identical_query() {
    let gateway = spawn_gateway().await;
    let name = gateway.devices_by_status(true)[0].clone();
    let query = "query One($name: String!) { device(name: $name) { name comment } }";
    let before = kept(&gateway, ADMIN_TOKEN, query, json!({ "name": name })).await;
    assert_eq!(
        ask(&gateway, ADMIN_TOKEN, query, json!({ "name": name }))
            .await
            .cache
            .as_deref(),
        Some("hit")
    );

    let comment = gateway
        .gql(
            "mutation($input: AddComputerCommentInput!) { addComputerComment(input: $input) { comment } }",
            json!({ "input": { "computerName": name, "comment": "Moved to room 4" } }),
        )
        .await;
    assert_eq!(
        comment["data"]["addComputerComment"]["comment"],
        "Moved to room 4"
    );
    let after = ask(&gateway, ADMIN_TOKEN, query, json!({ "name": name })).await;

    assert_ne!(before.body["data"]["device"]["comment"], "Moved to room 4");
    assert_eq!(after.cache.as_deref(), Some("miss"));
    assert_eq!(after.body["data"]["device"]["comment"], "Moved to room 4");
}

#[tokio::test]
async fn a_refresh_makes_responses_kept_from_the_old_snapshot_unreachable() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.cache.min_refresh_interval = std::time::Duration::ZERO;
    })
    .await;
    let name = gateway.devices_by_status(false)[0].clone();
    let query = format!("{{ device(name: \"{name}\") {{ comment }} }}");
    let comment = |answered: &Answered| answered.body["data"]["device"]["comment"].clone();
    let before = kept(&gateway, ADMIN_TOKEN, &query, json!({})).await;
    assert_eq!(
        ask(&gateway, ADMIN_TOKEN, &query, json!({}))
            .await
            .cache
            .as_deref(),
        Some("hit")
    );

    // Changed in the RemotePC console, not through the gateway.
    gateway.sim.state(|state| {
        if let Some(device) = state.device_mut(&name) {
            device.comments = "Changed in the console".to_owned();
        }
    });
    let refreshed = ask(
        &gateway,
        ADMIN_TOKEN,
        "{ devices(first: 0, refresh: true) { totalCount } }",
        json!({}),
    )
    .await;
    let after = ask(&gateway, ADMIN_TOKEN, &query, json!({})).await;

    assert_eq!(refreshed.cache, None, "a forced refresh is never kept");
    assert_ne!(comment(&before), "Changed in the console");
    assert_eq!(after.cache.as_deref(), Some("miss"));
    assert_eq!(comment(&after), "Changed in the console");
    assert_eq!(gateway.calls(Endpoint::ComputerList), 2);
}

#[tokio::test]
async fn responses_are_not_shared_across_scopes_or_variables() {
    let gateway = spawn_gateway().await;
    kept(&gateway, ADMIN_TOKEN, PAGE, json!({ "first": 2 })).await;
    kept(&gateway, READER_TOKEN, PAGE, json!({ "first": 2 })).await;
    assert_eq!(
        ask(&gateway, READER_TOKEN, PAGE, json!({ "first": 2 }))
            .await
            .cache
            .as_deref(),
        Some("hit")
    );
    let other = ask(&gateway, ADMIN_TOKEN, PAGE, json!({ "first": 1 })).await;
    assert_eq!(other.cache.as_deref(), Some("miss"), "other variables");
    assert_eq!(
        other.body["data"]["devices"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn errors_the_store_and_the_audit_log_are_never_kept() {
    let gateway = spawn_gateway().await;
    for query in [
        "{ groups { name } }",
        "{ auditLog(first: 1) { totalCount } }",
        "{ devices(first: 1) { totalCount } groups { name } }",
        "{ devices(first: 501) { totalCount } }",
        "{ devices(first: 1) { nope } }",
    ] {
        for _ in 0..2 {
            let answered = ask(&gateway, ADMIN_TOKEN, query, json!({})).await;
            assert_eq!(answered.cache, None, "{query}: {}", answered.text);
        }
    }
}

#[tokio::test]
async fn with_no_bytes_allowed_every_query_executes() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.cache.response_cache_bytes = 0;
    })
    .await;
    for _ in 0..2 {
        let answered = ask(&gateway, ADMIN_TOKEN, PAGE, json!({ "first": 1 })).await;
        assert_eq!(answered.cache, None);
        assert_eq!(
            answered.body["data"]["devices"]["edges"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        assert!(answered.body["extensions"]["cache"]["devices"]["ageMs"].is_u64());
    }
}
