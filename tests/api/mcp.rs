//! `/mcp`: who may call, the tools each caller sees, read tools answered
//! from the snapshots through the same admission as `/graphql`.

use serde_json::{Value, json};

use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;

use crate::helpers::{ADMIN_TOKEN, READER_TOKEN, TestGateway, spawn_gateway_with};

/// A JSON-RPC call to `/mcp` with `token`: the status, the headers and
/// the body.
pub(crate) async fn mcp_call(
    gateway: &TestGateway,
    token: Option<&str>,
    method: &str,
    params: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let url = gateway.url.replace("/graphql", "/mcp");
    let mut request = gateway
        .http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string());
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

pub(crate) async fn mcp_gateway() -> TestGateway {
    spawn_gateway_with(Default::default(), |settings| {
        settings.mcp.enabled = true;
    })
    .await
}

/// The structured content of a `tools/call` answer, and whether it is an
/// error; panics on a protocol error.
pub(crate) async fn call_tool(
    gateway: &TestGateway,
    token: &str,
    tool: &str,
    arguments: Value,
) -> (Value, bool) {
    let params = json!({ "name": tool, "arguments": arguments });
    let (status, _, body) = mcp_call(gateway, Some(token), "tools/call", params).await;
    assert_eq!(status, 200, "{body}");
    let result = &body["result"];
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    let structured = result["structuredContent"].clone();
    assert_eq!(
        serde_json::from_str::<Value>(text).ok(),
        Some(structured.clone()),
        "the text block carries the same JSON: {body}"
    );
    (structured, result["isError"] == true)
}

/// The names of the tools `token` is offered.
pub(crate) async fn tool_names(gateway: &TestGateway, token: &str) -> Vec<String> {
    let (status, _, body) = mcp_call(gateway, Some(token), "tools/list", json!({})).await;
    assert_eq!(status, 200, "{body}");
    (body["result"]["tools"].as_array().into_iter().flatten())
        .filter_map(|tool| tool["name"].as_str().map(str::to_owned))
        .collect()
}

const READ_TOOLS: [&str; 6] = [
    "search_devices",
    "search_users",
    "get_device",
    "get_user",
    "fleet_summary",
    "device_history",
];

#[tokio::test]
async fn mcp_is_served_only_when_enabled() {
    let gateway = spawn_gateway_with(Default::default(), |_| {}).await;
    let (status, _, _) = mcp_call(&gateway, Some(ADMIN_TOKEN), "tools/list", json!({})).await;
    assert_eq!(status, 404);
    let metadata = gateway
        .url
        .replace("/graphql", "/.well-known/oauth-protected-resource");
    let answer = gateway.http.get(metadata).send().await.expect("an answer");
    assert_eq!(answer.status().as_u16(), 404);
}

#[tokio::test]
async fn a_call_without_valid_credentials_is_told_where_people_sign_in() {
    let gateway = spawn_gateway_with(Default::default(), |settings| {
        settings.mcp.enabled = true;
        let provider = remotepc_gateway::settings::OidcSettings::new(
            "https://login.example.com/realms/corp",
            &["helpdesk-web"],
        );
        settings.auth.oidc.insert("corp".to_owned(), provider);
    })
    .await;
    let base = gateway.url.replace("/graphql", "");
    let metadata_url = format!("{base}/.well-known/oauth-protected-resource/mcp");
    for token in [None, Some("not-a-team-token-0000000000")] {
        let (status, headers, body) = mcp_call(&gateway, token, "tools/list", json!({})).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(
            headers
                .get("www-authenticate")
                .and_then(|value| value.to_str().ok()),
            Some(format!("Bearer resource_metadata=\"{metadata_url}\"").as_str())
        );
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{body}"
        );
    }
    for url in [
        metadata_url.clone(),
        format!("{base}/.well-known/oauth-protected-resource"),
    ] {
        let metadata: Value = gateway
            .http
            .get(url)
            .send()
            .await
            .expect("metadata")
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            metadata,
            json!({
                "resource": format!("{base}/mcp"),
                "authorization_servers": ["https://login.example.com/realms/corp"],
                "bearer_methods_supported": ["header"],
                "scopes_supported": ["read", "users:write", "computers:write", "groups:write", "audit:read"],
                "resource_name": "remotepc-gateway",
                "resource_documentation": format!("{base}/graphiql"),
            })
        );
    }
}

#[tokio::test]
async fn each_caller_sees_the_tools_its_scopes_allow() {
    let gateway = spawn_gateway_with(Default::default(), |settings| {
        settings.mcp.enabled = true;
        settings.teams.insert(
            "agent".to_owned(),
            crate::helpers::team("agent-test-token-000000000", &["read", "computers:write"]),
        );
        settings.mcp.allow_unapproved_writes_for = vec!["agent".to_owned()];
    })
    .await;
    assert_eq!(tool_names(&gateway, READER_TOKEN).await, READ_TOOLS);
    // A team token has no person to approve a destructive change.
    assert_eq!(tool_names(&gateway, ADMIN_TOKEN).await, READ_TOOLS);
    let mut agent = READ_TOOLS.to_vec();
    agent.extend(["remove_computers", "unassign_computers"]);
    assert_eq!(
        tool_names(&gateway, "agent-test-token-000000000").await,
        agent
    );
    let (refused, is_error) = (
        mcp_call(
            &gateway,
            Some(ADMIN_TOKEN),
            "tools/call",
            json!({ "name": "remove_computers", "arguments": { "computerNames": ["X"] } }),
        )
        .await,
        true,
    );
    assert!(is_error);
    assert_eq!(
        refused.2["error"]["message"], "no tool named `remove_computers` for this caller",
        "{:?}",
        refused.2
    );
    assert_eq!(gateway.calls(Endpoint::ComputerRemove), 0);
}

#[tokio::test]
async fn search_devices_pages_with_the_count_first_and_graphqls_filter() {
    let gateway = mcp_gateway().await;
    let filter = json!({ "status": "OFFLINE", "os": "windows" });
    let graphql = gateway
        .gql(
            "query($f: DeviceFilter) { devices(filter: $f, first: 500) { totalCount nodes { name } } }",
            json!({ "f": filter }),
        )
        .await;
    let expected: Vec<Value> = graphql["data"]["devices"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(expected.len() > 4, "{graphql}");
    let (first, is_error) = call_tool(
        &gateway,
        READER_TOKEN,
        "search_devices",
        json!({ "filter": filter, "first": 3 }),
    )
    .await;
    assert!(!is_error, "{first}");
    assert_eq!(first["totalCount"], expected.len(), "{first}");
    assert_eq!(first["returned"], 3);
    assert_eq!(first["hasNextPage"], true);
    let names = |page: &Value| -> Vec<Value> {
        (page["items"].as_array().into_iter().flatten())
            .map(|item| json!({ "name": item["name"] }))
            .collect()
    };
    assert_eq!(names(&first), expected[..3]);
    assert_eq!(first["items"][0]["status"], "OFFLINE");
    let (second, _) = call_tool(
        &gateway,
        READER_TOKEN,
        "search_devices",
        json!({ "filter": filter, "first": 3, "after": first["nextCursor"] }),
    )
    .await;
    assert_eq!(names(&second), expected[3..6.min(expected.len())]);
}

#[tokio::test]
async fn read_tools_answer_what_graphql_answers() {
    let gateway = mcp_gateway().await;
    let (summary, _) = call_tool(
        &gateway,
        READER_TOKEN,
        "fleet_summary",
        json!({ "filter": { "status": "OFFLINE" } }),
    )
    .await;
    let graphql = gateway
        .gql("{ fleetSummary(filter: { status: OFFLINE }) { total byStatus { status count } byOs { os count } otherOsCount byGroup { group { name } count } otherGroupCount byLastSeen { bucket count } } }", json!({}))
        .await;
    assert_eq!(summary, graphql["data"]);
    let offline = gateway.devices_by_status(false).len();
    assert_eq!(summary["fleetSummary"]["total"], offline);

    let name = gateway.devices_by_status(true)[0].clone();
    let (device, _) = call_tool(
        &gateway,
        READER_TOKEN,
        "get_device",
        json!({ "name": name }),
    )
    .await;
    assert_eq!(device["device"]["name"], name.as_str());
    assert_eq!(device["device"]["status"], "ONLINE");
    let (missing, is_error) = call_tool(
        &gateway,
        READER_TOKEN,
        "get_device",
        json!({ "name": "NO-SUCH-PC" }),
    )
    .await;
    assert_eq!((missing, is_error), (json!({ "device": null }), false));

    let username = gateway
        .sim
        .state(|state| state.users().next().map(|user| user.username.clone()))
        .unwrap_or_default();
    let (user, _) = call_tool(
        &gateway,
        READER_TOKEN,
        "get_user",
        json!({ "username": username.to_uppercase() }),
    )
    .await;
    assert_eq!(user["user"]["username"], username.as_str());

    let (history, is_error) = call_tool(
        &gateway,
        READER_TOKEN,
        "device_history",
        json!({ "name": name }),
    )
    .await;
    assert!(!is_error, "{history}");
    assert_eq!(history["returned"], 0, "{history}");
    assert_eq!(history["items"], json!([]));
}

#[tokio::test]
async fn bad_arguments_are_refused_naming_the_field_and_nothing_is_fetched() {
    let gateway = mcp_gateway().await;
    let (refused, is_error) = call_tool(
        &gateway,
        READER_TOKEN,
        "search_devices",
        json!({ "first": "ten" }),
    )
    .await;
    assert!(is_error);
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("variable first"),
        "names the argument: {refused}"
    );
    assert_eq!(refused["errors"][0]["code"], "BAD_USER_INPUT", "{refused}");
    let (refused, is_error) = call_tool(
        &gateway,
        READER_TOKEN,
        "search_devices",
        json!({ "first": 101 }),
    )
    .await;
    assert!(is_error, "{refused}");
    assert_eq!(
        refused["errors"][0],
        json!({ "code": "BAD_USER_INPUT", "message": "`first` must be between 1 and 100 (a tool answer stays small: page with `after`)" })
    );
    assert_eq!(
        gateway.calls(Endpoint::ComputerList),
        0,
        "refused before RemotePC is asked"
    );
}

#[tokio::test]
async fn a_large_page_is_cut_to_fit_the_token_budget_and_goes_on_where_it_stopped() {
    let gateway = spawn_gateway_with(
        SimulatorConfig {
            devices: 300,
            ..SimulatorConfig::default()
        },
        |settings| {
            settings.mcp.enabled = true;
            settings.mcp.max_result_tokens = 2_000;
        },
    )
    .await;
    let (page, is_error) = call_tool(
        &gateway,
        READER_TOKEN,
        "search_devices",
        json!({ "first": 100 }),
    )
    .await;
    assert!(!is_error, "{page}");
    let kept = page["returned"].as_u64().unwrap_or_default() as usize;
    assert!(kept > 0 && kept < 100, "{page}");
    assert_eq!(
        (page["cutToFit"].clone(), page["hasNextPage"].clone()),
        (json!(true), json!(true))
    );
    assert!(
        page.to_string().len() / 4 <= 1_000,
        "half the budget per copy"
    );
    let (next, _) = call_tool(
        &gateway,
        READER_TOKEN,
        "search_devices",
        json!({ "first": 1, "after": page["nextCursor"] }),
    )
    .await;
    let graphql = gateway
        .gql("{ devices(first: 300) { nodes { name } } }", json!({}))
        .await;
    assert_eq!(
        next["items"][0]["name"],
        graphql["data"]["devices"]["nodes"][kept]["name"]
    );
}
