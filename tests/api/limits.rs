//! Hostile documents are refused before they can hurt the process.

use remotepc_gateway::upstream::Endpoint;
use serde_json::json;

use crate::helpers::{error_code, spawn_gateway};

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
