//! What frontend teams' client libraries rely on: root type names, object
//! identity (`Node`, global ids, mutation payloads carrying the changed
//! objects), dates with offsets, and error codes on every refusal.

use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{READER_TOKEN, error_code, spawn_gateway, spawn_gateway_with};

#[tokio::test]
async fn every_object_has_a_global_id_that_node_finds_again() {
    let gateway = spawn_gateway().await;
    let listed = gateway
        .gql(
            "{ devices(first: 2) { nodes { id name } } users(first: 1) { nodes { id username } } }",
            json!({}),
        )
        .await;
    let device = &listed["data"]["devices"]["nodes"][0];
    let user = &listed["data"]["users"]["nodes"][0];
    let found = gateway
        .gql(
            "query($d: ID!, $u: ID!) { node(id: $d) { __typename id ... on Device { name } } user: node(id: $u) { __typename ... on User { username } } }",
            json!({ "d": device["id"], "u": user["id"] }),
        )
        .await;
    assert_eq!(found["data"]["node"]["__typename"], "Device", "{found}");
    assert_eq!(found["data"]["node"]["id"], device["id"]);
    assert_eq!(found["data"]["node"]["name"], device["name"]);
    assert_eq!(found["data"]["user"]["username"], user["username"]);

    let second = &listed["data"]["devices"]["nodes"][1];
    let many = gateway
        .gql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [second["id"], "bm90IGFuIGlk", device["id"]] }),
        )
        .await;
    assert_eq!(
        many["data"]["nodes"],
        json!([{ "id": second["id"] }, null, { "id": device["id"] }]),
        "in order, null for an id naming nothing"
    );
}

#[tokio::test]
async fn groups_and_audit_entries_are_nodes_behind_their_scopes() {
    let gateway = spawn_gateway().await;
    let name = gateway.devices_by_status(false)[0].clone();
    let created = gateway
        .gql(
            "mutation($n: [String!]!) { createGroup(input: { name: \"Front desk\", computerNames: $n }) { group { id name devices { id name } } } }",
            json!({ "n": [name] }),
        )
        .await;
    let group = &created["data"]["createGroup"]["group"];
    assert_eq!(group["devices"][0]["name"], name.as_str(), "{created}");
    let entries = gateway
        .gql(
            "{ auditLog(first: 1) { nodes { id recordId operation } } }",
            json!({}),
        )
        .await;
    let entry = &entries["data"]["auditLog"]["nodes"][0];
    assert_eq!(entry["operation"], "createGroup");
    let query = "query($g: ID!, $a: ID!) { g: node(id: $g) { ... on Group { name } } a: node(id: $a) { ... on AuditEntry { recordId } } }";
    let variables = json!({ "g": group["id"], "a": entry["id"] });
    let found = gateway.gql(query, variables.clone()).await;
    assert_eq!(found["data"]["g"]["name"], "Front desk", "{found}");
    assert_eq!(found["data"]["a"]["recordId"], entry["recordId"]);

    // The reader may read groups but not the audit log.
    let as_reader = gateway.gql_as(READER_TOKEN, query, variables).await;
    assert_eq!(as_reader["data"]["g"]["name"], "Front desk", "{as_reader}");
    assert_eq!(as_reader["data"]["a"], Value::Null);
    assert_eq!(error_code(&as_reader), "FORBIDDEN");
    assert_eq!(
        as_reader["errors"][0]["extensions"]["requiredScope"],
        "audit:read"
    );
}

#[tokio::test]
async fn mutation_payloads_carry_the_changed_objects() {
    let gateway = spawn_gateway().await;
    let name = gateway.devices_by_status(true)[0].clone();
    let before = gateway
        .gql(
            "query($n: String!) { device(name: $n) { id comment } }",
            json!({ "n": name }),
        )
        .await;
    let commented = gateway
        .gql(
            "mutation($n: String!) { addComputerComment(input: { computerName: $n, comment: \"Front desk PC\" }) { device { id comment } } }",
            json!({ "n": name }),
        )
        .await;
    let device = &commented["data"]["addComputerComment"]["device"];
    assert_eq!(device["id"], before["data"]["device"]["id"], "{commented}");
    assert_eq!(device["comment"], "Front desk PC");

    let user = gateway.some_user();
    let assigned = gateway
        .gql(
            "mutation($u: String!, $n: [String!]!) { assignComputers(input: { username: $u, computerNames: $n }) { user { username } devices { name } } }",
            json!({ "u": user, "n": [name] }),
        )
        .await;
    let payload = &assigned["data"]["assignComputers"];
    assert_eq!(payload["user"]["username"], user.as_str(), "{assigned}");
    assert_eq!(payload["devices"], json!([{ "name": name }]));

    let offline = gateway.devices_by_status(false)[0].clone();
    let removed = gateway
        .gql(
            "mutation($n: [String!]!) { removeComputers(input: { computerNames: $n }) { removedIds } }",
            json!({ "n": [offline] }),
        )
        .await;
    let removed_id = removed["data"]["removeComputers"]["removedIds"][0].clone();
    let gone = gateway
        .gql(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": removed_id }),
        )
        .await;
    assert_eq!(gone["data"]["node"], Value::Null, "{removed} then {gone}");
    assert_eq!(gateway.calls(Endpoint::ComputerRemove), 1);
}

#[tokio::test]
async fn dates_carry_the_account_offset_and_accept_browser_forms() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        if let Some(account) = settings.accounts.get_mut("default") {
            account.time_zone = "Europe/Paris".parse().expect("zone");
        }
    })
    .await;
    let (name, raw) = gateway.sim.state(|state| {
        let device = state
            .devices()
            .find(|device| !device.last_session.is_empty())
            .expect("a device with a session");
        (device.host_name.clone(), device.last_session.clone())
    });
    let found = gateway
        .gql(
            "query($n: String!) { device(name: $n) { lastSessionAt lastSessionRaw } }",
            json!({ "n": name }),
        )
        .await;
    let at = found["data"]["device"]["lastSessionAt"]
        .as_str()
        .unwrap_or_default();
    assert!(at.starts_with(&raw.replace(' ', "T")), "{found}");
    assert!(
        at.ends_with("+01:00") || at.ends_with("+02:00"),
        "Paris offset in {at}"
    );

    let count = |filter: Value| {
        let gateway = &gateway;
        async move {
            let response = gateway
                .gql(
                    "query($f: DeviceFilter) { devices(filter: $f) { totalCount } }",
                    json!({ "f": filter }),
                )
                .await;
            response["data"]["devices"]["totalCount"].as_u64()
        }
    };
    // The same instant, as a browser may send it.
    let forms = [
        "2026-06-15T09:00",
        "2026-06-15T09:00:00",
        "2026-06-15T07:00:00Z",
        "2026-06-15T09:00:00+02:00",
    ];
    let mut counts = Vec::new();
    for form in forms {
        counts.push(count(json!({ "lastSessionBefore": form })).await);
    }
    let total = count(json!({})).await.unwrap_or_default();
    let before = counts[0].unwrap_or_default();
    assert!(
        before > 0 && before < total,
        "a June date splits the fleet: {counts:?} of {total}"
    );
    assert!(counts.iter().all(|found| *found == counts[0]), "{counts:?}");
    let midnight = count(json!({ "lastSessionBefore": "2026-06-15T00:00" })).await;
    assert_eq!(
        count(json!({ "lastSessionBefore": "2026-06-15" })).await,
        midnight
    );

    let refused = gateway
        .gql(
            "{ devices(filter: { lastSessionBefore: \"yesterday\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("lastSessionBefore") && message.contains("RFC 3339"),
        "{message}"
    );
}

#[tokio::test]
async fn every_argument_coercion_error_has_a_code() {
    let gateway = spawn_gateway().await;
    for query in [
        "{ devices(filter: { lastSessionBefore: 5 }) { totalCount } }",
        "{ auditLog(filter: { since: \"soon\" }) { totalCount } }",
        "{ devices(first: \"ten\") { totalCount } }",
        "{ devices(orderBy: { field: COLOR }) { totalCount } }",
        "query($f: DeviceFilter) { devices(filter: $f) { totalCount } }",
    ] {
        let variables = json!({ "f": { "status": "SLEEPING" } });
        let response = gateway.gql(query, variables).await;
        assert_eq!(
            error_code(&response),
            "BAD_USER_INPUT",
            "{query}: {response}"
        );
    }
}

/// Posts `body` with `headers`; returns status, content type and JSON body.
async fn refusal(url: &str, body: &str, headers: &[(&str, &str)]) -> (u16, String, Value) {
    let mut request = reqwest::Client::new().post(url).body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("gateway answers");
    let status = response.status().as_u16();
    let media = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, media, body)
}

#[tokio::test]
async fn refusals_answer_in_the_media_type_the_client_asked_for() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        if let Some(reader) = settings.teams.get_mut("reader") {
            reader.requests_per_minute = 1;
            reader.burst = 1;
        }
        settings.server.body_limit_bytes = 4_096;
    })
    .await;
    let graphql = "application/graphql-response+json";
    let json_body = "application/json";
    let query = r#"{"query":"{ devices { totalCount } }"}"#;
    let reader = format!("Bearer {READER_TOKEN}");
    let admin = format!("Bearer {}", crate::helpers::ADMIN_TOKEN);
    let big = format!(
        r#"{{"query":"{{ devices {{ totalCount }} }}","x":"{}"}}"#,
        "y".repeat(5_000)
    );
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: [Case; 5] = [
        (
            query,
            vec![("content-type", json_body)],
            401,
            "UNAUTHENTICATED",
        ),
        (
            query,
            vec![
                ("content-type", json_body),
                ("authorization", "Bearer wrong"),
            ],
            401,
            "UNAUTHENTICATED",
        ),
        (
            query,
            vec![("content-type", "text/plain"), ("authorization", &admin)],
            415,
            "BAD_USER_INPUT",
        ),
        (
            &big,
            vec![("content-type", json_body), ("authorization", &admin)],
            413,
            "BAD_USER_INPUT",
        ),
        (
            "[]",
            vec![("content-type", json_body), ("authorization", &admin)],
            400,
            "BAD_USER_INPUT",
        ),
    ];
    for (body, mut headers, status, code) in cases {
        headers.push(("accept", graphql));
        let (got, media, answer) = refusal(&gateway.url, body, &headers).await;
        assert_eq!(
            (got, answer["errors"][0]["extensions"]["code"].as_str()),
            (status, Some(code)),
            "{answer}"
        );
        assert!(media.starts_with(graphql), "{status}: {media}");
        assert!(
            answer.get("data").is_none(),
            "a request error has no data: {answer}"
        );
    }
    let headers = [
        ("content-type", json_body),
        ("authorization", reader.as_str()),
        ("accept", graphql),
    ];
    let _ = refusal(&gateway.url, query, &headers).await;
    let (status, media, answer) = refusal(&gateway.url, query, &headers).await;
    assert_eq!(
        (status, error_code(&answer)),
        (429, "RATE_LIMITED"),
        "{answer}"
    );
    assert!(media.starts_with(graphql), "{media}");
    // A legacy client still gets application/json.
    let (_, media, _) = refusal(&gateway.url, query, &[("content-type", json_body)]).await;
    assert!(media.starts_with(json_body), "{media}");
}

#[tokio::test]
async fn the_schema_file_is_served_for_codegen_behind_the_token() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        if let Some(reader) = settings.teams.get_mut("reader") {
            reader.introspection = false;
        }
    })
    .await;
    let url = gateway.url.replace("/graphql", "/schema.graphql");
    let fetch = |token: Option<&'static str>| {
        let mut request = reqwest::Client::new().get(&url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.expect("answered");
            let status = response.status().as_u16();
            (status, response.text().await.expect("body"))
        }
    };
    let (status, sdl) = fetch(Some(crate::helpers::ADMIN_TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(sdl, remotepc_gateway::graphql::sdl(), "the served schema");
    assert!(sdl.contains("type Query {") && sdl.contains("interface Node"));
    assert_eq!(fetch(None).await.0, 401);
    assert_eq!(fetch(Some(READER_TOKEN)).await.0, 403, "introspection off");
}
