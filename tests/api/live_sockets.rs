//! WebSocket connections count against `server.max_connections` for as
//! long as they live, not only for their upgrade request; and sockets that
//! have not authenticated may take only a tenth of the bound.

use std::time::Duration;

use remotepc_gateway::simulator::SimulatorConfig;
use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, spawn_gateway_with};
use crate::live_client::WsClient;

/// A WebSocket upgrade offering graphql-transport-ws, as a raw request:
/// its status.
async fn upgrade_status(url: &str) -> u16 {
    reqwest::Client::new()
        .get(url)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-protocol", "graphql-transport-ws")
        .send()
        .await
        .expect("answered")
        .status()
        .as_u16()
}

#[tokio::test]
async fn sockets_that_never_authenticate_take_a_tenth_of_the_connections_at_most() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.server.max_connections = 20;
    })
    .await;
    let silent_one = WsClient::open_with(&gateway.url, "graphql-transport-ws", None).await;
    let silent_two = WsClient::open_with(&gateway.url, "graphql-transport-ws", None).await;
    assert_eq!(
        upgrade_status(&gateway.url).await,
        503,
        "a third silent socket is refused"
    );
    let answer = gateway.gql("{ __typename }", json!({})).await;
    assert_eq!(
        answer["data"]["__typename"], "Query",
        "other requests go on: {answer}"
    );
    drop(silent_one);
    let freed = crate::helpers::eventually(
        "a silent socket's place to be freed",
        Duration::from_secs(10),
        || async { (upgrade_status(&gateway.url).await == 101).then_some(()) },
    )
    .await;
    let _ = (freed, silent_two);
}

#[tokio::test]
async fn live_sockets_hold_their_connection_place_until_they_close() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.server.max_connections = 3;
    })
    .await;
    let first = WsClient::connect(&gateway.url, ADMIN_TOKEN).await;
    let _second = WsClient::connect(&gateway.url, ADMIN_TOKEN).await;
    let _third = WsClient::connect(&gateway.url, ADMIN_TOKEN).await;
    // All three places are taken by live sockets: a new request waits.
    let url = gateway.url.clone();
    let waiting = tokio::spawn(async move {
        reqwest::Client::new()
            .post(&url)
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .map(|response| response.status().as_u16())
    });
    let mut waiting = waiting;
    let early = tokio::time::timeout(Duration::from_millis(300), &mut waiting).await;
    assert!(
        early.is_err(),
        "no place was left for the request while three sockets live"
    );
    drop(first);
    let status = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("answered once a socket closed")
        .expect("task")
        .expect("request");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_malformed_upgrade_is_refused_naming_what_it_lacks() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |_| {}).await;
    let upgrade = |connection: &'static str, with_key: bool| {
        let request = reqwest::Client::new()
            .get(&gateway.url)
            .header("connection", connection)
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-protocol", "graphql-transport-ws");
        let request = if with_key {
            request.header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        } else {
            request
        };
        async move {
            let answer = request.send().await.expect("answered");
            let status = answer.status().as_u16();
            (
                status,
                answer
                    .json::<serde_json::Value>()
                    .await
                    .expect("a JSON body"),
            )
        }
    };
    let refusal = |message: &str| json!({"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]});
    assert_eq!(
        upgrade("upgrade", false).await,
        (
            400,
            refusal(
                "a WebSocket upgrade needs `Sec-WebSocket-Key` and `Sec-WebSocket-Version: 13`"
            )
        )
    );
    assert_eq!(
        upgrade("keep-alive", true).await,
        (
            400,
            refusal("a WebSocket upgrade needs `Connection: Upgrade`")
        )
    );
    assert_eq!(
        upgrade_status(&gateway.url).await,
        101,
        "a whole upgrade is taken"
    );
}
