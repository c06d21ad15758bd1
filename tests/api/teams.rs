//! Teams: authentication, scopes, accounts, quotas, introspection, query
//! limits, idempotency keys, known groups and the audit log.

use std::time::Duration;

use remotepc_gateway::settings::AccountSettings;
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_TOKEN, READER_TOKEN, TestGateway, error_code, spawn_gateway, spawn_gateway_with, team,
};

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
    for query in [
        "{ devices(first: 1) { totalCount } }",
        "{ users(first: 1) { totalCount } }",
        "{ device(name: \"WIN-000000\") { name } }",
    ] {
        // Twice: neither a kept response nor a compiled plan may answer it.
        for _ in 0..2 {
            let refused = gateway.gql_as(WRITER_TOKEN, query, json!({})).await;
            assert_eq!(error_code(&refused), "FORBIDDEN", "{query}: {refused}");
            assert_eq!(refused["errors"][0]["extensions"]["requiredScope"], "read");
            assert_eq!(refused["data"], Value::Null, "{refused}");
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
    assert_eq!(open["data"]["__schema"]["queryType"]["name"], "QueryRoot");
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

/// Sends a hostile body and expects a refusal containing `expected`, in
/// bounded time, then checks the gateway still answers.
async fn refused_quickly(gateway: &TestGateway, request: String, expected: &str) {
    let (status, text) = tokio::time::timeout(Duration::from_secs(20), gateway.post(&request))
        .await
        .expect("refused, not left running");
    assert!(
        text.contains(expected),
        "status {status}: {}",
        &text[..text.len().min(400)]
    );
    let healthy = gateway.gql(COUNT, json!({})).await;
    assert_eq!(healthy["data"]["devices"]["totalCount"], 50);
}

fn query(document: &str) -> String {
    json!({ "query": document }).to_string()
}

// Two workers: should a refusal ever turn into a busy loop, the client's
// timeout still fires instead of the test hanging with the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_limit_refuses_with_a_message_naming_it() {
    let gateway = spawn_gateway().await;
    refused_quickly(
        &gateway,
        query(&format!("{{ {} }}", "__typename ".repeat(10_001))),
        "graphql.max_tokens",
    )
    .await;

    let mut doubling = String::from("{ ...F0 }");
    for level in 0..30 {
        doubling.push_str(&format!(
            " fragment F{level} on QueryRoot {{ ...F{next} ...F{next} }}",
            next = level + 1
        ));
    }
    doubling.push_str(" fragment F30 on QueryRoot { __typename }");
    refused_quickly(&gateway, query(&doubling), "graphql.max_fields").await;

    let aliases: String = (0..51)
        .map(|index| format!("a{index}: __typename "))
        .collect();
    refused_quickly(
        &gateway,
        query(&format!("{{ {aliases} }}")),
        "graphql.max_aliases",
    )
    .await;
    refused_quickly(
        &gateway,
        query(&format!("{{ {} }}", "__typename ".repeat(21))),
        "graphql.max_root_fields",
    )
    .await;

    // 23 levels inside introspection; graphql.max_introspection_depth is 20.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {}name{} }} }} }} }} }}",
        "ofType { ".repeat(18),
        " }".repeat(18)
    );
    refused_quickly(&gateway, query(&deep), "graphql.max_introspection_depth").await;

    let heavy: String = (0..4)
        .map(|index| format!("d{index}: devices(first: 500) {{ edges {{ node {{ name machineId status os osVersion ip comment lastSessionAt lastSessionRaw }} }} }} "))
        .collect();
    refused_quickly(&gateway, query(&format!("{{ {heavy} }}")), "too complex").await;

    let batch = |size: usize| {
        serde_json::to_string(&vec![json!({ "query": "{ __typename }" }); size]).expect("JSON")
    };
    refused_quickly(&gateway, batch(11), "graphql.max_batch").await;
    refused_quickly(&gateway, batch(5_000), "graphql.max_batch").await;
    let (status, _) = gateway.post(&batch(3)).await;
    assert_eq!(status, 200, "a small batch is served");

    assert_eq!(
        announced_body_status(&gateway, 5 * 1024 * 1024).await,
        413,
        "bodies over server.body_limit_bytes are refused on their length alone"
    );
    assert_eq!(
        gateway.sim.total_calls(),
        1,
        "only the health queries reached RemotePC"
    );
}

const COMMENT: &str = "mutation($n: String!, $c: String!) { addComputerComment(input: { computerName: $n, comment: $c }) { computerName comment } }";

#[tokio::test]
async fn the_same_idempotency_key_twice_makes_one_upstream_call() {
    let gateway = spawn_gateway().await;
    let name = gateway.devices_by_status(true)[0].clone();
    let request =
        json!({ "query": COMMENT, "variables": { "n": name, "c": "Replaced the keyboard" } })
            .to_string();
    let headers = [
        ("authorization", &*format!("Bearer {ADMIN_TOKEN}")),
        ("idempotency-key", "order-1234"),
    ];

    let (first_status, first) = gateway.send(&request, &headers).await;
    let (second_status, second) = gateway.send(&request, &headers).await;
    assert_eq!((first_status, second_status), (200, 200));
    assert_eq!(first, second);
    assert_eq!(
        body(&first)["data"]["addComputerComment"]["comment"],
        "Replaced the keyboard"
    );
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 1);

    let other =
        json!({ "query": COMMENT, "variables": { "n": name, "c": "Something else entirely" } })
            .to_string();
    let (status, mismatch) = gateway.send(&other, &headers).await;
    assert_eq!(status, 422);
    assert!(mismatch.contains("different request"), "{mismatch}");
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 1);
}

#[tokio::test]
async fn a_key_refused_before_sending_can_be_used_again_once_fixed() {
    let gateway = spawn_gateway().await;
    let name = gateway.devices_by_status(true)[0].clone();
    let headers = [
        ("authorization", &*format!("Bearer {ADMIN_TOKEN}")),
        ("idempotency-key", "fix-and-retry"),
    ];
    let too_short =
        json!({ "query": COMMENT, "variables": { "n": name, "c": "short" } }).to_string();
    let (_, refused) = gateway.send(&too_short, &headers).await;
    assert_eq!(error_code(&body(&refused)), "BAD_USER_INPUT");

    let fixed =
        json!({ "query": COMMENT, "variables": { "n": name, "c": "Long enough now" } }).to_string();
    let (_, done) = gateway.send(&fixed, &headers).await;
    assert_eq!(
        body(&done)["data"]["addComputerComment"]["comment"],
        "Long enough now"
    );
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 1);
}

#[tokio::test]
async fn groups_show_what_this_gateway_created_and_moved() {
    let gateway = spawn_gateway().await;
    let names = gateway.devices_by_status(false);
    gateway
        .gql(
            "mutation($n: [String!]!) { createGroup(input: { name: \"Front office\", computerNames: $n }) { group { name } } }",
            json!({ "n": [names[0]] }),
        )
        .await;
    gateway
        .gql(
            "mutation($n: [String!]!) { moveComputersToGroup(input: { groupName: \"Front office\", computerNames: $n }) { group { name } } }",
            json!({ "n": [names[1], names[2]] }),
        )
        .await;
    let groups = gateway
        .gql("{ groups { name computerNames firstSeenBy devices { name } } group(name: \"Front office\") { name } }", json!({}))
        .await;
    let mut expected = vec![names[0].clone(), names[1].clone(), names[2].clone()];
    expected.sort();
    assert_eq!(
        groups["data"]["groups"],
        json!([{
            "name": "Front office",
            "computerNames": expected,
            "firstSeenBy": "admin",
            "devices": expected.iter().map(|name| json!({ "name": name })).collect::<Vec<_>>(),
        }])
    );
    assert_eq!(groups["data"]["group"]["name"], "Front office");
}

#[tokio::test]
async fn every_mutation_is_audited_with_its_team_request_id_and_redacted_input() {
    let gateway = spawn_gateway().await;
    let create = json!({
        "query": "mutation { createUser(input: { firstName: \"Ada\", lastName: \"King\", email: \"ada.king@example.com\", password: \"Sup3r-secret!\" }) { user { username } } }"
    })
    .to_string();
    let headers = [
        ("authorization", &*format!("Bearer {ADMIN_TOKEN}")),
        ("x-request-id", "req-audit-42"),
    ];
    let (_, created) = gateway.send(&create, &headers).await;
    assert!(body(&created)["errors"].is_null(), "{created}");
    gateway
        .gql("mutation { addComputerComment(input: { computerName: \"X\", comment: \"no\" }) { comment } }", json!({}))
        .await;

    let log = gateway
        .gql(
            "{ auditLog { totalCount edges { node { team requestId clientRequestId operation input outcome result } } }
               creates: auditLog(filter: { operation: \"createUser\", team: \"admin\" }) { totalCount }
               nobody: auditLog(filter: { team: \"reader\" }) { totalCount } }",
            json!({}),
        )
        .await;
    let data = &log["data"];
    assert_eq!(data["auditLog"]["totalCount"], 2, "{log}");
    assert_eq!(data["creates"]["totalCount"], 1);
    assert_eq!(data["nobody"]["totalCount"], 0);
    let newest = &data["auditLog"]["edges"][0]["node"];
    assert_eq!(newest["operation"], "addComputerComment");
    assert_eq!(newest["outcome"], "BAD_USER_INPUT");
    let created = &data["auditLog"]["edges"][1]["node"];
    assert_eq!(created["team"], "admin");
    assert_eq!(created["clientRequestId"], "req-audit-42");
    assert_ne!(created["requestId"], "req-audit-42", "the gateway's own id");
    assert_eq!(created["outcome"], "OK");
    assert_eq!(created["input"]["password"], "[redacted]");
    assert_eq!(
        created["result"]["user"]["username"],
        "ada.king@example.com"
    );

    let stored = std::fs::read(&gateway.store_path).unwrap_or_default();
    let wal = std::fs::read(format!("{}-wal", gateway.store_path.display())).unwrap_or_default();
    let needle = b"Sup3r-secret!";
    assert!(
        !stored
            .windows(needle.len())
            .chain(wal.windows(needle.len()))
            .any(|window| window == needle)
    );
}

/// Announces a body of `length` bytes and reads the status line without
/// sending it: the gateway must refuse on `Content-Length` alone (sending
/// the body races the server closing the connection).
async fn announced_body_status(gateway: &TestGateway, length: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = gateway
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/graphql")
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connects");
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head sent");
    let mut answer = vec![0; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("answered without the body")
        .expect("readable");
    let status_line = String::from_utf8_lossy(&answer[..read]).into_owned();
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {status_line}"))
}
