//! People's keys: idempotency keys belong to the caller (two people of one
//! role sending the same key each get their own write and audit record),
//! and identity-provider keys rotated during an outage replace the old set
//! soon after the provider is back.

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

#[tokio::test]
async fn keys_rotated_during_an_outage_replace_the_old_set_soon_after_it() {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use crate::helpers::{eventually, spawn_gateway_with};
    use remotepc_gateway::settings::OidcSettings;

    let idp = Idp::start(&["rsa-1"]).await;
    let mut provider = OidcSettings {
        algorithms: vec!["RS256".to_owned()],
        jwks_refresh: Duration::from_secs(3_600),
        jwks_min_refresh: Duration::from_millis(200),
        roles_claim: "groups".to_owned(),
        ..OidcSettings::new(idp.issuer(), &["helpdesk-web"])
    };
    provider
        .roles
        .insert("viewers".to_owned(), crate::oidc::viewer_role());
    let gateway = spawn_gateway_with(Default::default(), move |settings| {
        settings.auth.oidc.insert("corp".to_owned(), provider);
    })
    .await;
    let ask = |token: String| {
        let gateway = &gateway;
        async move {
            let authorization = format!("Bearer {token}");
            let body = json!({ "query": "{ __typename }" }).to_string();
            gateway
                .send(&body, &[("authorization", &authorization)])
                .await
                .0
        }
    };
    let retired = sign("rsa-1", &claims(&idp, "ann", &["viewers"], |_| {}));
    assert_eq!(ask(retired.clone()).await, 200);

    // The provider goes down; a fetch fails; it rotates; it comes back.
    idp.up.store(false, Ordering::SeqCst);
    let unknown = sign("rsa-2", &claims(&idp, "ann", &["viewers"], |_| {}));
    assert_eq!(ask(unknown.clone()).await, 401, "no keys while it is down");
    idp.publish(&["rsa-2"]);
    idp.up.store(true, Ordering::SeqCst);

    eventually(
        "the retired key to be refused after the provider came back",
        Duration::from_secs(10),
        || async { (ask(retired.clone()).await == 401).then_some(()) },
    )
    .await;
    assert_eq!(ask(unknown).await, 200, "the new key works");
}
