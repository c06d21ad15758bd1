//! Compressed event streams: compressed event by event, each event
//! readable while the stream stays open, and at most
//! `server.compression_max_streams` compressed at once.

use remotepc_gateway::simulator::SimulatorConfig;
use serde_json::{Value, json};

use crate::compression::sent;
use crate::helpers::{ADMIN_TOKEN, spawn_gateway, spawn_gateway_with};

const PAGE: &str =
    "query Page { devices(first: 50) { totalCount edges { cursor node { id name } } } }";

#[tokio::test]
async fn an_event_stream_is_compressed_event_by_event() {
    let gateway = spawn_gateway().await;
    let request = (gateway.http.post(&gateway.url))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .header("accept-encoding", "gzip")
        .body(json!({ "query": PAGE }).to_string());
    let sent = sent(request).await;
    assert_eq!(sent.status, 200);
    assert_eq!(sent.header("content-encoding"), Some("gzip"));
    let text = String::from_utf8(sent.decoded()).expect("UTF-8 events");
    let (next, rest) = text.split_once("\n\n").expect("a first event");
    let data = next
        .strip_prefix("event: next\ndata: ")
        .expect("a next event");
    let answer: Value = serde_json::from_str(data).expect("JSON data");
    assert_eq!(answer["data"]["devices"]["totalCount"], 50, "{answer}");
    assert!(rest.starts_with("event: complete\n"), "{rest}");
}

#[tokio::test]
async fn a_subscription_over_a_compressed_event_stream_gets_each_event_as_it_happens() {
    use std::io::Write;
    let gateway = crate::live::warm_gateway(|settings| {
        settings.live.poll_interval = Some(std::time::Duration::from_secs(3600));
    })
    .await;
    let request = (gateway.http.post(&gateway.url))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .header("accept-encoding", "gzip")
        .body(json!({ "query": crate::live::DEVICE_CHANGES }).to_string());
    let mut stream = request.send().await.expect("the stream is answered");
    assert_eq!(stream.headers()["content-encoding"], "gzip");
    let mut decoded = flate2::write::GzDecoder::new(Vec::new());
    let device = gateway.devices_by_status(false)[0].clone();
    let deadline = tokio::time::Instant::now() + crate::live_client::WAIT;
    // A subscribe has no acknowledgement: comment until the stream tells
    // of one, reading whatever arrives in between.
    let mut probe = 0;
    let text = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no event told in time"
        );
        let comment =
            json!({"input": {"computerName": device, "comment": format!("probe {probe}")}});
        gateway.gql(crate::live::COMMENT, comment).await;
        probe += 1;
        let wait = std::time::Duration::from_millis(250);
        while let Ok(chunk) = tokio::time::timeout(wait, stream.chunk()).await {
            let chunk = chunk
                .expect("the stream reads")
                .expect("the stream stays open");
            decoded
                .write_all(&chunk)
                .expect("each chunk decodes as it comes");
        }
        let text = String::from_utf8_lossy(decoded.get_ref()).into_owned();
        if text.contains("COMMENT_CHANGED") {
            break text;
        }
    };
    assert!(
        text.starts_with("event: next\n") || text.starts_with(':'),
        "{text}"
    );
}

#[tokio::test]
async fn event_streams_beyond_the_bound_go_uncompressed() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.server.compression_max_streams = 1;
    })
    .await;
    let open = || {
        (gateway.http.post(&gateway.url))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .header("accept-encoding", "gzip")
            .body(json!({ "query": crate::live::DEVICE_CHANGES }).to_string())
            .send()
    };
    let first = open().await.expect("the first stream is answered");
    let second = open().await.expect("the second stream is answered");
    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 200);
    assert_eq!(
        first
            .headers()
            .get("content-encoding")
            .map(|value| value.as_bytes()),
        Some(&b"gzip"[..])
    );
    assert_eq!(second.headers().get("content-encoding"), None);
}
