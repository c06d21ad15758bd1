//! Connections are bounded: headers must arrive within
//! `server.header_read_timeout`, a silent connection is closed after
//! `server.idle_timeout` (a busy one is not: `http::serve`'s unit tests,
//! on paused time), and at most `server.max_connections` are served.

use std::time::Duration;

use remotepc_gateway::simulator::SimulatorConfig;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{ADMIN_TOKEN, TestGateway, spawn_gateway_with};

fn address(gateway: &TestGateway) -> String {
    gateway
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/graphql")
        .to_owned()
}

/// Reads until the server closes the connection; the bytes it sent.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut received))
        .await
        .expect("the server closed the connection in time")
        .ok();
    received
}

#[tokio::test]
async fn half_sent_headers_are_dropped_after_the_header_read_timeout() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.server.header_read_timeout = Duration::from_millis(300);
    })
    .await;
    let mut stream = TcpStream::connect(address(&gateway))
        .await
        .expect("connects");
    stream
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: app")
        .await
        .expect("sent");
    read_until_closed(&mut stream, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.server.idle_timeout = Duration::from_millis(300);
    })
    .await;
    let mut stream = TcpStream::connect(address(&gateway))
        .await
        .expect("connects");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        .await
        .expect("sent");
    let answered = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(
        String::from_utf8_lossy(&answered).starts_with("HTTP/1.1 200"),
        "served, then closed once idle"
    );
}

#[tokio::test]
async fn connections_past_the_cap_wait_for_a_free_one() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.server.max_connections = 2;
    })
    .await;
    let held: Vec<TcpStream> =
        futures::future::join_all((0..2).map(|_| TcpStream::connect(address(&gateway))))
            .await
            .into_iter()
            .map(|stream| stream.expect("connects"))
            .collect();
    let query = json!({ "query": "{ __typename }" });
    let waiting = reqwest::Client::new()
        .post(&gateway.url)
        .bearer_auth(ADMIN_TOKEN)
        .timeout(Duration::from_millis(500))
        .json(&query)
        .send()
        .await;
    assert!(waiting.is_err(), "a third connection is not served");
    drop(held);
    let served = reqwest::Client::new()
        .post(&gateway.url)
        .bearer_auth(ADMIN_TOKEN)
        .timeout(Duration::from_secs(10))
        .json(&query)
        .send()
        .await
        .expect("served once a connection is free");
    assert_eq!(served.status(), 200);
}
