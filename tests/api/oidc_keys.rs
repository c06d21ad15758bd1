//! Idempotency keys belong to the caller: two people of one role sending
//! the same key each get their own write and their own audit record, never
//! the other's recorded answer.

use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::oidc::{Idp, claims, gateway_trusting, sign};

#[tokio::test]
async fn two_people_of_one_role_never_share_an_idempotency_key() {
    let idp = Idp::start(&["rsa-1"]).await;
    let gateway = gateway_trusting(&idp).await;
    let host = gateway.devices_by_status(true)[0].clone();
    let mutation = format!(
        r#"mutation {{ addComputerComment(input: {{ computerName: "{host}", comment: "checked once each" }}) {{ comment }} }}"#
    );
    let body = json!({ "query": mutation }).to_string();
    for (person, expected_calls) in [("ann", 1), ("ann", 1), ("ben", 2)] {
        let token = sign("rsa-1", &claims(&idp, person, &["helpdesk"], |_| {}));
        let authorization = format!("Bearer {token}");
        let headers = [
            ("authorization", authorization.as_str()),
            ("idempotency-key", "shared-key-1"),
        ];
        let (status, text) = gateway.send(&body, &headers).await;
        assert_eq!(status, 200, "{person}: {text}");
        let answer: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            answer["data"],
            json!({ "addComputerComment": { "comment": "checked once each" } })
        );
        assert_eq!(
            gateway.calls(Endpoint::CommentAdd),
            expected_calls,
            "{person}: a repeat by the same person is replayed, another person's runs"
        );
    }
    let audit = gateway
        .gql(
            "{ auditLog { nodes { operation actor { subject } } } }",
            json!({}),
        )
        .await;
    let mut subjects: Vec<&str> = audit["data"]["auditLog"]["nodes"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|record| record["actor"]["subject"].as_str())
        .collect();
    subjects.sort_unstable();
    assert_eq!(subjects, ["ann", "ben"], "{audit}");
}
