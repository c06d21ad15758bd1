//! Teams: authentication, scopes, accounts, quotas and introspection.

use remotepc_gateway::settings::AccountSettings;
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{READER_TOKEN, error_code, spawn_gateway, spawn_gateway_with, team};

const COUNT: &str = "{ devices(first: 1) { totalCount } }";

fn body(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

#[tokio::test]
async fn missing_and_wrong_tokens_get_401_before_any_graphql_work() {
    let gateway = spawn_gateway().await;
    let query = json!({ "query": COUNT }).to_string();
    let (status, missing) = gateway.send(&query, &[]).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&body(&missing)), "UNAUTHENTICATED");
    assert!(missing.contains("missing bearer token"), "{missing}");

    let (status, wrong) = gateway
        .send(&query, &[("authorization", "Bearer not-a-team-token")])
        .await;
    assert_eq!(status, 401);
    assert!(wrong.contains("invalid bearer token"), "{wrong}");
    assert!(!wrong.contains("not-a-team-token"));

    let (status, _) = gateway
        .send("this is not JSON", &[("authorization", "Basic abc")])
        .await;
    assert_eq!(status, 401, "authentication comes before parsing");
    assert_eq!(gateway.sim.total_calls(), 0);
}

#[tokio::test]
async fn a_team_without_read_may_list_nothing_and_nothing_is_fetched() {
    const WRITER_TOKEN: &str = "writer-test-token-4444444444";
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings
            .teams
            .insert("writer".to_owned(), team(WRITER_TOKEN, &["users:write"]));
    })
    .await;
    // The connections are non-null, so their error nulls `data`; `device`
    // is nullable, so it alone is null (the specification's propagation).
    for (query, data) in [
        ("{ devices(first: 1) { totalCount } }", Value::Null),
        ("{ users(first: 1) { totalCount } }", Value::Null),
        (
            "{ device(name: \"WIN-000000\") { name } }",
            json!({ "device": null }),
        ),
    ] {
        // Twice: neither a kept response nor a compiled plan may answer it.
        for _ in 0..2 {
            let refused = gateway.gql_as(WRITER_TOKEN, query, json!({})).await;
            assert_eq!(error_code(&refused), "FORBIDDEN", "{query}: {refused}");
            assert_eq!(refused["errors"][0]["extensions"]["requiredScope"], "read");
            assert_eq!(refused["data"], data, "{refused}");
        }
    }
    assert_eq!(gateway.sim.total_calls(), 0);
    let allowed = gateway.gql_as(READER_TOKEN, COUNT, json!({})).await;
    assert_eq!(allowed["data"]["devices"]["totalCount"], 50);
}

#[tokio::test]
async fn a_read_only_team_may_read_but_not_write_and_nothing_is_sent() {
    let gateway = spawn_gateway().await;
    let read = gateway.gql_as(READER_TOKEN, COUNT, json!({})).await;
    assert_eq!(read["data"]["devices"]["totalCount"], 50);

    let write = gateway
        .gql_as(
            READER_TOKEN,
            "mutation { createGroup(input: { name: \"Ops\" }) { group { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&write), "FORBIDDEN");
    assert_eq!(
        write["errors"][0]["extensions"]["requiredScope"],
        "groups:write"
    );
    assert!(
        write
            .to_string()
            .contains("team `reader` lacks the scope `groups:write`"),
        "{write}"
    );
    assert_eq!(gateway.calls(Endpoint::GroupCreate), 0);

    let audit = gateway
        .gql_as(READER_TOKEN, "{ auditLog { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&audit), "FORBIDDEN");
}

#[tokio::test]
async fn a_team_only_ever_sees_its_own_accounts_data() {
    let other = Simulator::start(SimulatorConfig {
        devices: 7,
        api_key: "other-account-key".to_owned(),
        ..SimulatorConfig::default()
    })
    .await
    .expect("second simulator");
    let other_url = other.base_url();
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.accounts.insert(
            "acme".to_owned(),
            AccountSettings::with_inline_key(&other_url, "other-account-key"),
        );
        let mut acme = team("acme-token-000000000000", &["read", "groups:write"]);
        acme.account = "acme".to_owned();
        settings.teams.insert("acme".to_owned(), acme);
    })
    .await;

    let mine = gateway.gql(COUNT, json!({})).await;
    let theirs = gateway
        .gql_as("acme-token-000000000000", COUNT, json!({}))
        .await;
    assert_eq!(mine["data"]["devices"]["totalCount"], 50);
    assert_eq!(theirs["data"]["devices"]["totalCount"], 7);

    let name = other
        .state(|state| {
            state
                .devices()
                .next()
                .map(|device| device.host_name.clone())
        })
        .expect("device");
    gateway
        .gql_as(
            "acme-token-000000000000",
            "mutation($n: String!) { createGroup(input: { name: \"Acme lab\", computerNames: [$n] }) { group { name } } }",
            json!({ "n": name }),
        )
        .await;
    let groups = gateway.gql("{ groups { name } }", json!({})).await;
    assert_eq!(
        groups["data"]["groups"],
        json!([]),
        "account A does not see account B's groups"
    );
    assert_eq!(other.calls(Endpoint::GroupCreate), 1);
    assert_eq!(gateway.calls(Endpoint::GroupCreate), 0);
}

#[tokio::test]
async fn a_team_over_quota_is_refused_while_another_is_served() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        let mut tiny = team("tiny-token-0000000000000", &["read"]);
        tiny.requests_per_minute = 1;
        tiny.burst = 2;
        settings.teams.insert("tiny".to_owned(), tiny);
    })
    .await;
    for _ in 0..2 {
        let ok = gateway
            .gql_as("tiny-token-0000000000000", COUNT, json!({}))
            .await;
        assert!(ok["errors"].is_null(), "{ok}");
    }
    let query = json!({ "query": COUNT }).to_string();
    let (status, refused) = gateway
        .send(
            &query,
            &[("authorization", "Bearer tiny-token-0000000000000")],
        )
        .await;
    assert_eq!(status, 429);
    let refused = body(&refused);
    assert_eq!(error_code(&refused), "RATE_LIMITED");
    assert!(
        refused["errors"][0]["extensions"]["retryAfterMs"].as_u64() > Some(1_000),
        "{refused}"
    );
    for _ in 0..5 {
        let other = gateway.gql(COUNT, json!({})).await;
        assert_eq!(other["data"]["devices"]["totalCount"], 50);
    }
}

#[tokio::test]
async fn introspection_can_be_turned_off_per_team() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        let mut closed = team("closed-token-00000000000", &["read"]);
        closed.introspection = false;
        settings.teams.insert("closed".to_owned(), closed);
    })
    .await;
    let introspection = "{ __schema { queryType { name } } }";
    let open = gateway.gql(introspection, json!({})).await;
    assert_eq!(open["data"]["__schema"]["queryType"]["name"], "Query");
    let closed = gateway
        .gql_as("closed-token-00000000000", introspection, json!({}))
        .await;
    assert_eq!(error_code(&closed), "FORBIDDEN", "{closed}");
    assert!(closed.to_string().contains("introspection is off"));
    let data = gateway
        .gql_as("closed-token-00000000000", COUNT, json!({}))
        .await;
    assert_eq!(
        data["data"]["devices"]["totalCount"], 50,
        "other queries still work"
    );
}

#[tokio::test]
async fn a_quota_refusal_names_its_policy_in_the_ietf_ratelimit_headers() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        let mut tiny = team("tiny-token-0000000000000", &["read"]);
        tiny.requests_per_minute = 1;
        tiny.burst = 2;
        settings.teams.insert("tiny".to_owned(), tiny);
    })
    .await;
    let ask = || {
        gateway
            .http
            .post(gateway.url.clone())
            .bearer_auth("tiny-token-0000000000000")
            .json(&json!({ "query": COUNT }))
            .send()
    };
    for _ in 0..2 {
        let served = ask().await.expect("answered");
        assert_eq!(served.status(), 200);
    }
    let refused = ask().await.expect("answered");
    assert_eq!(refused.status(), 429);
    let header = |name: &str| refused.headers()[name].to_str().expect("ASCII").to_owned();
    let retry_after: u64 = header("retry-after").parse().expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Two requests at once, refilled in 120 s: the burst and its window.
    assert_eq!(
        (header("ratelimit-policy"), header("ratelimit")),
        (
            "\"quota\";q=2;w=120".to_owned(),
            format!("\"quota\";r=0;t={retry_after}")
        )
    );
}
