//! What a subscriber can meet besides changes: refusals (scope, limits,
//! origin), keep-alive, the close of a silent or slow client, and the
//! catch-up of one that fell behind the feed.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, READER_TOKEN, team};
use crate::live::{DEVICE_CHANGES, until_listening, warm_gateway};
use crate::live_client::WsClient;

#[tokio::test]
async fn a_caller_without_read_is_refused_and_a_bad_token_never_connects() {
    let gateway = warm_gateway(|settings| {
        let writer = team("writer-test-token-000111222", &["users:write"]);
        settings.teams.insert("writer".to_owned(), writer);
    })
    .await;
    let mut client = WsClient::connect(&gateway.url, "writer-test-token-000111222").await;
    client.subscribe("w", DEVICE_CHANGES, json!({})).await;
    let message = client.message("the refusal").await;
    assert_eq!(message["type"], "error", "{message}");
    assert_eq!(
        message["payload"][0]["extensions"]["code"], "FORBIDDEN",
        "{message}"
    );

    let mut stranger = WsClient::open_with(&gateway.url, "graphql-transport-ws", None).await;
    stranger
        .send(
            json!({"type": "connection_init", "payload": {"authorization": "Bearer not-a-token"}}),
        )
        .await;
    let (code, reason) = stranger.closed("the refusal").await;
    assert_eq!(code, 4403, "{reason}");
    assert!(!reason.contains("not-a-token"), "{reason}");
}

#[tokio::test]
async fn subscriptions_over_a_limit_are_refused_naming_the_setting() {
    let gateway = warm_gateway(|settings| {
        settings.live.max_subscriptions_per_connection = 2;
        settings.live.max_subscriptions_per_team = 3;
    })
    .await;
    let mut first = WsClient::connect(&gateway.url, READER_TOKEN).await;
    first.subscribe("a", DEVICE_CHANGES, json!({})).await;
    first.subscribe("b", DEVICE_CHANGES, json!({})).await;
    first.subscribe("c", DEVICE_CHANGES, json!({})).await;
    let refused = first.message("the per-connection refusal").await;
    assert_eq!(
        (refused["id"].as_str(), refused["type"].as_str()),
        (Some("c"), Some("error"))
    );
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "TOO_MANY_SUBSCRIPTIONS"
    );
    let text = refused["payload"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.contains("live.max_subscriptions_per_connection"),
        "{text}"
    );

    let mut second = WsClient::connect(&gateway.url, READER_TOKEN).await;
    second.subscribe("d", DEVICE_CHANGES, json!({})).await;
    second.subscribe("e", DEVICE_CHANGES, json!({})).await;
    let refused = second.message("the per-team refusal").await;
    assert_eq!(refused["id"], "e", "{refused}");
    let text = refused["payload"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("live.max_subscriptions_per_team"), "{text}");

    // Another team has its own allowance.
    let mut admin = WsClient::connect(&gateway.url, ADMIN_TOKEN).await;
    admin.subscribe("f", DEVICE_CHANGES, json!({})).await;
    first.send(json!({"id": "a", "type": "complete"})).await;
    second
        .subscribe("g", "{ devices(first: 1) { totalCount } }", json!({}))
        .await;
    let answer = second
        .until("a query once a slot is free", |message| {
            message["id"] == "g"
        })
        .await;
    assert_eq!(
        answer["payload"]["data"]["devices"]["totalCount"], 50,
        "{answer}"
    );
}

#[tokio::test]
async fn a_client_that_sends_nothing_or_answers_no_ping_is_dropped() {
    let gateway = warm_gateway(|settings| {
        settings.live.keep_alive = Duration::from_millis(100);
        settings.live.client_timeout = Duration::from_millis(300);
    })
    .await;
    let mut mute = WsClient::open_with(&gateway.url, "graphql-transport-ws", None).await;
    assert_eq!(mute.closed("the init timeout").await.0, 4408);

    let mut silent = WsClient::connect(&gateway.url, READER_TOKEN).await;
    silent.answer_pings = false;
    silent.subscribe("s", DEVICE_CHANGES, json!({})).await;
    let (code, reason) = silent.closed("the silent client's close").await;
    assert_eq!(code, 4008, "{reason}");
    assert!(reason.contains("live.client_timeout"), "{reason}");

    let mut live = WsClient::connect(&gateway.url, READER_TOKEN).await;
    live.subscribe("q", "{ devices(first: 1) { totalCount } }", json!({}))
        .await;
    let answered = live
        .until("an answer after pings", |message| {
            message["type"] == "complete"
        })
        .await;
    assert_eq!(answered["id"], "q");
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_the_buffer_catches_up_from_the_log() {
    let gateway = warm_gateway(|settings| settings.live.event_buffer = 1).await;
    let mut client = WsClient::connect(&gateway.url, READER_TOKEN).await;
    client.subscribe("behind", DEVICE_CHANGES, json!({})).await;
    let offline = gateway.devices_by_status(false);
    until_listening(&gateway, &mut client, "behind", &offline[0]).await;
    // Three removals in one write: three events at once, one buffered.
    let remove = "mutation($names: [String!]!) { removeComputers(input: { computerNames: $names }) { removedCount } }";
    let removed = gateway.gql(remove, json!({"names": offline[1..4]})).await;
    assert_eq!(
        removed["data"]["removeComputers"]["removedCount"], 3,
        "{removed}"
    );
    let mut told = Vec::new();
    while told.len() < 3 {
        let message = client
            .until("the removals, read again from the log", |message| {
                message["type"] == "error"
                    || message["payload"]["data"]["deviceChanges"]["kind"] == "REMOVED"
            })
            .await;
        assert_eq!(message["type"], "next", "no error: {message}");
        told.push(message["payload"]["data"]["deviceChanges"]["device"]["name"].clone());
    }
    let mut expected: Vec<Value> = offline[1..4].iter().map(|name| json!(name)).collect();
    expected.sort_by_key(|name| name.to_string());
    told.sort_by_key(|name| name.to_string());
    assert_eq!(told, expected, "each removal once");
}

#[tokio::test]
async fn a_websocket_from_an_unlisted_origin_is_refused() {
    let gateway = warm_gateway(|settings| {
        settings.server.cors_origins = vec!["https://helpdesk.example".to_owned()];
    })
    .await;
    let request = reqwest::Client::new()
        .get(&gateway.url)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-protocol", "graphql-transport-ws")
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("answered");
    assert_eq!(request.status(), 403);
    let listed = WsClient::open_with(
        &gateway.url,
        "graphql-transport-ws",
        Some("https://helpdesk.example"),
    )
    .await;
    drop(listed);
}

#[tokio::test]
async fn a_persons_subscription_ends_when_their_token_expires() {
    use crate::oidc::{Idp, claims, gateway_trusting, now, sign};
    let idp = Idp::start(&["rsa-1"]).await;
    let gateway = gateway_trusting(&idp).await;
    let token = sign(
        "rsa-1",
        &claims(&idp, "alice", &["viewers"], |claims| {
            claims["exp"] = json!(now() + 2);
        }),
    );
    let mut client = WsClient::connect(&gateway.url, &token).await;
    client.subscribe("p", DEVICE_CHANGES, json!({})).await;
    let (code, reason) = client.closed("the close at the token's expiry").await;
    assert_eq!(code, 4403, "{reason}");
    assert!(reason.contains("expired"), "{reason}");
}
