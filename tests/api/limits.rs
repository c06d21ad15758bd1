//! Hostile documents are refused before they can hurt the process, and
//! every query limit names its setting.

use std::time::Duration;

use remotepc_gateway::upstream::Endpoint;
use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, TestGateway, error_code, spawn_gateway};

const COUNT: &str = "{ devices(first: 1) { totalCount } }";

#[tokio::test]
async fn documents_nested_10000_levels_deep_are_refused_and_the_gateway_keeps_serving() {
    let gateway = spawn_gateway().await;
    // Without the guard, an object value 300 levels deep already aborts the
    // process (stack overflow past the parser); 10,000 is the issue's figure.
    let documents = [300, 10_000].into_iter().flat_map(|depth| {
        [
            format!(
                "{{ devices(after: {}{}) {{ totalCount }} }}",
                "[".repeat(depth),
                "]".repeat(depth)
            ),
            format!(
                "{{ devices(after: {}1{}) {{ totalCount }} }}",
                "{a:".repeat(depth),
                "}".repeat(depth)
            ),
            format!("{}{}", "{ a ".repeat(depth), "}".repeat(depth)),
        ]
    });
    for document in documents {
        let response = gateway.gql(&document, json!({})).await;
        assert_eq!(error_code(&response), "BAD_USER_INPUT");
        assert!(
            response["errors"][0]["message"]
                .as_str()
                .is_some_and(|message| message.contains("graphql.max_document_nesting")),
            "{response}"
        );
    }
    assert_eq!(gateway.sim.total_calls(), 0);
    let healthy = gateway
        .gql("{ users(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(healthy["data"]["users"]["totalCount"], 20);
}

#[tokio::test]
async fn deeply_nested_variables_are_refused_with_400() {
    let gateway = spawn_gateway().await;
    let depth = 10_000;
    let body = format!(
        r#"{{"query":"query($v: String) {{ devices(after: $v) {{ totalCount }} }}","variables":{{"v":{}1{}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let (status, _) = gateway.post(&body).await;
    assert_eq!(status, 400);
    let healthy = gateway
        .gql("{ devices(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(healthy["data"]["devices"]["totalCount"], 50);
    assert_eq!(gateway.calls(Endpoint::ComputerList), 1);
}

#[tokio::test]
async fn parse_and_validation_errors_carry_bad_user_input() {
    let gateway = spawn_gateway().await;
    let unparsable = gateway.gql("{ devices(first: ", json!({})).await;
    assert_eq!(error_code(&unparsable), "BAD_USER_INPUT");
    let unknown_field = gateway.gql("{ devices { nope } }", json!({})).await;
    assert_eq!(error_code(&unknown_field), "BAD_USER_INPUT");
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
            " fragment F{level} on Query {{ ...F{next} ...F{next} }}",
            next = level + 1
        ));
    }
    doubling.push_str(" fragment F30 on Query { __typename }");
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
