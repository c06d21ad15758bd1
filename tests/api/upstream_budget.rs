//! `upstreamBudget` shows how the account's RemotePC calls are shared out:
//! the rate in force, and per flow its weight, share, calls of the last
//! minute and calls waiting; only to callers with `audit:read`.

use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{TestGateway, spawn_gateway_with, team};

const BULK: &str = "bulk-team-token-0123456789";
const OPS: &str = "ops-team-token-0123456789ab";

const BUDGET: &str = "{ upstreamBudget { account ratePerSecond rateInForce maxConcurrent inFlight flows { flow lane weight share callsLastMinute waiting } } }";

async fn gateway() -> TestGateway {
    spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.upstream.rate_per_second = 50;
        settings.upstream.max_concurrent = 7;
        settings.upstream.background_floor = 0.2;
        let bulk = team(BULK, &["read", "computers:write"]);
        let mut ops = team(OPS, &["read", "computers:write", "audit:read"]);
        ops.upstream_weight = 3;
        settings.teams.insert("bulk".to_owned(), bulk);
        settings.teams.insert("ops".to_owned(), ops);
    })
    .await
}

async fn ask(gateway: &TestGateway, token: &str, query: &str) -> Value {
    let answer = gateway
        .http
        .post(gateway.url.clone())
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("answered");
    answer.json().await.expect("JSON")
}

async fn comment(gateway: &TestGateway, token: &str, host: &str) {
    let mutation = format!(
        r#"mutation {{ addComputerComment(input: {{ computerName: "{host}", comment: "budget" }}) {{ comment }} }}"#
    );
    let answer = ask(gateway, token, &mutation).await;
    assert_eq!(
        answer["data"]["addComputerComment"]["comment"], "budget",
        "{answer}"
    );
}

#[tokio::test]
async fn the_budget_shows_the_rate_and_each_flows_part() {
    let gateway = gateway().await;
    let hosts = gateway.devices_by_status(true);
    for host in &hosts[..3] {
        comment(&gateway, BULK, host).await;
    }
    comment(&gateway, OPS, &hosts[3]).await;
    let answer = ask(&gateway, OPS, BUDGET).await;
    assert!(answer["errors"].is_null(), "{answer}");
    let budget = &answer["data"]["upstreamBudget"];
    let background = &budget["flows"][0];
    let background_calls = background["callsLastMinute"].as_u64().expect("a count");
    let lists = gateway.calls(Endpoint::ComputerList) + gateway.calls(Endpoint::UserList);
    assert_eq!(
        background_calls, lists as u64,
        "the background lane's calls are the list calls"
    );
    let background_share = if background_calls > 0 { 0.2 } else { 0.0 };
    let interactive = 1.0 - background_share;
    assert_eq!(
        budget,
        &json!({
            "account": "default",
            "ratePerSecond": 50,
            "rateInForce": 50.0,
            "maxConcurrent": 7,
            "inFlight": 0,
            "flows": [
                { "flow": "background", "lane": "BACKGROUND", "weight": 0, "share": 0.2, "callsLastMinute": background_calls, "waiting": 0 },
                { "flow": "bulk", "lane": "INTERACTIVE", "weight": 1, "share": interactive * 0.25, "callsLastMinute": 3, "waiting": 0 },
                { "flow": "ops", "lane": "INTERACTIVE", "weight": 3, "share": interactive * 0.75, "callsLastMinute": 1, "waiting": 0 },
            ],
        })
    );
}

#[tokio::test]
async fn without_audit_read_the_budget_is_forbidden() {
    let gateway = gateway().await;
    let answer = ask(&gateway, BULK, BUDGET).await;
    assert_eq!(answer["data"], Value::Null, "{answer}");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{answer}"
    );
    assert_eq!(
        answer["errors"][0]["path"],
        json!(["upstreamBudget"]),
        "{answer}"
    );
}
