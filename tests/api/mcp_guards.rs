//! `/mcp` under the same guards as `/graphql`: one quota, writes audited
//! as an assistant's, and no secret in what it logs or answers.

use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, READER_TOKEN, spawn_gateway_with};
use crate::mcp::{call_tool, mcp_call};

#[tokio::test]
async fn tool_calls_spend_the_callers_quota_as_graphql_requests_do() {
    let gateway = spawn_gateway_with(Default::default(), |settings| {
        settings.mcp.enabled = true;
        if let Some(reader) = settings.teams.get_mut("reader") {
            reader.burst = 2;
            reader.requests_per_minute = 1;
        }
    })
    .await;
    for _ in 0..2 {
        let (answer, is_error) =
            call_tool(&gateway, READER_TOKEN, "fleet_summary", json!({})).await;
        assert!(!is_error, "{answer}");
    }
    let (refused, is_error) = call_tool(&gateway, READER_TOKEN, "fleet_summary", json!({})).await;
    assert!(is_error);
    assert_eq!(refused["errors"][0]["code"], "RATE_LIMITED", "{refused}");
    let graphql = gateway
        .gql_as(READER_TOKEN, "{ fleetSummary { total } }", json!({}))
        .await;
    assert_eq!(
        graphql["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "one quota: {graphql}"
    );
}

#[tokio::test]
async fn a_team_allowed_unapproved_writes_runs_them_audited_as_mcp() {
    let gateway = spawn_gateway_with(Default::default(), |settings| {
        settings.mcp.enabled = true;
        settings.mcp.allow_unapproved_writes_for = vec!["admin".to_owned()];
    })
    .await;
    let offline = gateway.devices_by_status(false);
    let (removed, is_error) = call_tool(
        &gateway,
        ADMIN_TOKEN,
        "remove_computers",
        json!({ "computerNames": [offline[0]] }),
    )
    .await;
    assert!(!is_error, "{removed}");
    assert_eq!(removed["removeComputers"]["removedCount"], 1, "{removed}");
    assert!(
        gateway
            .sim
            .state(|state| state.device(&offline[0]).is_none())
    );
    let audit = gateway
        .gql("{ auditLog(first: 5) { nodes { operation outcome team actor { kind subject via approval } } } }", json!({}))
        .await;
    assert_eq!(
        audit["data"]["auditLog"]["nodes"],
        json!([{ "operation": "removeComputers", "outcome": "OK", "team": "admin", "actor": { "kind": "TEAM", "subject": "admin", "via": "mcp", "approval": null } }])
    );
}

#[tokio::test]
async fn no_token_or_key_appears_in_what_mcp_logs_or_answers() {
    let capture = crate::helpers::LogCapture::start();
    let gateway = spawn_gateway_with(Default::default(), |settings| {
        settings.mcp.enabled = true;
        settings.mcp.allow_unapproved_writes_for = vec!["admin".to_owned()];
    })
    .await;
    let wrong = "wrong-token-that-must-not-leak-42";
    let mut answers = Vec::new();
    for token in [Some(ADMIN_TOKEN), Some(READER_TOKEN), Some(wrong), None] {
        answers.push(mcp_call(&gateway, token, "tools/list", json!({})).await.2);
    }
    answers.push(
        call_tool(
            &gateway,
            ADMIN_TOKEN,
            "search_devices",
            json!({ "first": "x" }),
        )
        .await
        .0,
    );
    answers.push(
        call_tool(
            &gateway,
            ADMIN_TOKEN,
            "remove_computers",
            json!({ "computerNames": ["NO-SUCH-PC"] }),
        )
        .await
        .0,
    );
    let logs = capture.text();
    assert!(
        logs.contains("/mcp"),
        "the calls were logged: {}",
        &logs[..logs.len().min(2000)]
    );
    for secret in [
        ADMIN_TOKEN,
        READER_TOKEN,
        wrong,
        gateway.sim.api_key().as_str(),
    ] {
        assert!(!logs.contains(secret), "a secret in the logs");
        for answer in &answers {
            assert!(!answer.to_string().contains(secret), "a secret in {answer}");
        }
    }
}
