//! Idempotency keys from the client's side: one upstream call per key, and
//! a key refused before sending can be used again.

use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, error_code, spawn_gateway};

fn body(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"))
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

/// A request error under a key is answered as any request error: in the
/// GraphQL media type a 400 without `data`; in JSON a 200 without `data`.
/// Nothing was kept, so the key is free for the fixed request.
#[tokio::test]
async fn a_request_error_under_a_key_is_a_request_error_in_either_media_type() {
    let gateway = spawn_gateway().await;
    let name = gateway.devices_by_status(true)[0].clone();
    let authorization = format!("Bearer {ADMIN_TOKEN}");
    let not_a_string =
        json!({ "query": COMMENT, "variables": { "n": 42, "c": "Long enough now" } }).to_string();
    for (accept, status) in [
        ("application/graphql-response+json", 400),
        ("application/json", 200),
    ] {
        let headers = [
            ("authorization", authorization.as_str()),
            ("idempotency-key", "typed-wrong"),
            ("accept", accept),
        ];
        let (answered, refused) = gateway.send(&not_a_string, &headers).await;
        let refused = body(&refused);
        assert_eq!(answered, status, "{accept}: {refused}");
        assert_eq!(refused.get("data"), None, "{accept}: {refused}");
        assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");
    }
    let fixed =
        json!({ "query": COMMENT, "variables": { "n": name, "c": "Long enough now" } }).to_string();
    let headers = [
        ("authorization", authorization.as_str()),
        ("idempotency-key", "typed-wrong"),
    ];
    let (status, done) = gateway.send(&fixed, &headers).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        body(&done)["data"]["addComputerComment"],
        json!({ "computerName": name, "comment": "Long enough now" })
    );
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 1);
}

#[tokio::test]
async fn a_key_whose_write_never_left_is_free_and_one_that_may_have_landed_is_not() {
    let gateway = crate::helpers::spawn_gateway_with(Default::default(), |settings| {
        settings.upstream.breaker_failures = 1;
        settings.upstream.breaker_cooldown = std::time::Duration::from_secs(30);
    })
    .await;
    let name = gateway.devices_by_status(true)[0].clone();
    let send = |key: &'static str| {
        let request = json!({ "query": COMMENT, "variables": { "n": name, "c": "Breaker test" } });
        let authorization = format!("Bearer {ADMIN_TOKEN}");
        let gateway = &gateway;
        async move {
            let headers = [
                ("authorization", authorization.as_str()),
                ("idempotency-key", key),
            ];
            let (_, text) = gateway.send(&request.to_string(), &headers).await;
            body(&text)
        }
    };
    gateway
        .sim
        .set_outage(Some(remotepc_gateway::simulator::Fault::Status(500)));
    let landed = send("reached-remotepc").await;
    assert_eq!(
        landed["errors"][0]["extensions"]["outcomeUnknown"], true,
        "{landed}"
    );
    let refused = send("never-left").await;
    assert_eq!(
        error_code(&refused),
        "UPSTREAM_UNAVAILABLE",
        "the breaker is open: {refused}"
    );
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 1);

    gateway.sim.set_outage(None);
    gateway.clock.advance(std::time::Duration::from_secs(31));
    let retried = send("never-left").await;
    assert!(
        retried["errors"].is_null(),
        "a key whose write never left runs: {retried}"
    );
    let replayed = send("reached-remotepc").await;
    assert_eq!(
        replayed, landed,
        "a key whose write may have landed replays its answer"
    );
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 2);
}

#[tokio::test]
async fn a_write_whose_outcome_is_unknown_is_kept_for_the_longer_ttl() {
    let gateway = crate::helpers::spawn_gateway_with(Default::default(), |settings| {
        settings.store.idempotency_ttl = std::time::Duration::from_secs(1);
        settings.store.idempotency_unknown_ttl = std::time::Duration::from_secs(300);
        settings.upstream.breaker_failures = 100;
    })
    .await;
    let name = gateway.devices_by_status(true)[0].clone();
    let send = |key: &'static str, comment: &'static str| {
        let request = json!({ "query": COMMENT, "variables": { "n": name, "c": comment } });
        let authorization = format!("Bearer {ADMIN_TOKEN}");
        let gateway = &gateway;
        async move {
            let headers = [
                ("authorization", authorization.as_str()),
                ("idempotency-key", key),
            ];
            let (_, text) = gateway.send(&request.to_string(), &headers).await;
            body(&text)
        }
    };
    gateway
        .sim
        .set_outage(Some(remotepc_gateway::simulator::Fault::Status(500)));
    let unknown = send("maybe-applied", "Fate unknown").await;
    assert_eq!(
        unknown["errors"][0]["extensions"]["outcomeUnknown"], true,
        "{unknown}"
    );
    gateway.sim.set_outage(None);
    let known = send("applied", "Fate known").await;
    assert_eq!(
        known["data"]["addComputerComment"]["comment"], "Fate known",
        "{known}"
    );
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 2);

    gateway.clock.advance(std::time::Duration::from_secs(2));
    assert_eq!(
        send("maybe-applied", "Fate unknown").await,
        unknown,
        "an outcome unknown is kept for store.idempotency_unknown_ttl and replayed"
    );
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 2);
    let again = send("applied", "Fate known").await;
    assert_eq!(again["data"]["addComputerComment"]["comment"], "Fate known");
    assert_eq!(
        gateway.calls(Endpoint::CommentAdd),
        3,
        "a known outcome expires after store.idempotency_ttl: the key runs again"
    );
}
