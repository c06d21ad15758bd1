//! A subscriber that stops reading is told why it is dropped: once the
//! gateway gives up on it (a ping unanswered behind changes it was sent,
//! or a message that waited `live.send_timeout`), what was queued to it
//! is followed by a `SLOW_CONSUMER` error and close 4009, which it reads
//! when it resumes, not close 4008 or a reset.
//! And a client's close is echoed, so browsers see a clean close.

use std::time::Duration;

use remotepc_gateway::simulator::SimulatorConfig;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, READER_TOKEN, eventually, metrics, spawn_gateway_with, team};
use crate::live::{DEVICE_CHANGES, polled_often, until_listening};
use crate::live_client::{Received, WsClient};

/// A team of its own: metrics are the process's, shared by every test.
const SLOWPOKE_TOKEN: &str = "slowpoke-team-token-0123456789";

fn dropped_as_slow(page: &str) -> u64 {
    page.lines()
        .find(|line| {
            line.starts_with("gateway_live_dropped_total{")
                && line.contains("team=\"slowpoke\"")
                && line.contains("reason=\"slow_consumer\"")
        })
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_gets_slow_consumer_and_4009_when_it_resumes() {
    let config = SimulatorConfig {
        devices: 2_400,
        ..SimulatorConfig::default()
    };
    let gateway = spawn_gateway_with(config, |settings| {
        polled_often(settings);
        let slowpoke = team(SLOWPOKE_TOKEN, &["read"]);
        settings.teams.insert("slowpoke".to_owned(), slowpoke);
        // Pings every 200 ms: one left unanswered for a second while
        // changes go out waits behind them, unread.
        settings.live.keep_alive = Duration::from_millis(200);
        settings.live.client_timeout = Duration::from_secs(1);
    })
    .await;
    let warm = gateway
        .gql("{ devices(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(warm["data"]["devices"]["totalCount"], 2_400, "{warm}");
    let mut reader = WsClient::connect_narrow(&gateway.url, SLOWPOKE_TOKEN, 2_048).await;
    reader.subscribe("s", DEVICE_CHANGES, json!({})).await;
    let offline = gateway.devices_by_status(false);
    until_listening(&gateway, &mut reader, "s", &offline[0]).await;

    // The reader stops reading while a thousand removals are told.
    let remove = "mutation($names: [String!]!) { removeComputers(input: { computerNames: $names }) { removedCount } }";
    let names: Vec<&String> = offline.iter().skip(1).take(1_000).collect();
    let removed = gateway
        .gql_as(ADMIN_TOKEN, remove, json!({ "names": names }))
        .await;
    assert_eq!(
        removed["data"]["removeComputers"]["removedCount"], 1_000,
        "{removed}"
    );
    let url = gateway.url.clone();
    eventually(
        "the gateway to give up on the reader",
        Duration::from_secs(30),
        || async { (dropped_as_slow(&metrics(&url).await) >= 1).then_some(()) },
    )
    .await;

    // Resuming, it reads what was queued, then why it ends.
    let mut last: Option<Value> = None;
    let (code, reason) = loop {
        match reader.receive("the backlog, the error and the close").await {
            Received::Json(message) => last = Some(message),
            Received::Closed(code, reason) => break (code, reason),
        }
    };
    let last = last.expect("messages before the close");
    assert_eq!(
        (last["id"].as_str(), last["type"].as_str()),
        (Some("s"), Some("error")),
        "{last}"
    );
    assert_eq!(
        last["payload"][0]["extensions"]["code"], "SLOW_CONSUMER",
        "{last}"
    );
    assert_eq!(code, 4009, "{reason}");
    assert!(reason.contains("too slow"), "{reason}");
}

#[tokio::test]
async fn a_clients_close_is_echoed() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |_| {}).await;
    let mut client = WsClient::connect(&gateway.url, READER_TOKEN).await;
    client.close(1000).await;
    let (code, _) = client.closed("the echo of the close").await;
    assert_eq!(
        code, 1000,
        "an echoed close, not a dropped connection (1006)"
    );
}
