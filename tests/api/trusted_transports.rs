//! Every transport reads trusted documents the same way: a `documentId`
//! sent over `graphql-transport-ws` or `graphql-sse` runs as it does over
//! `POST /graphql`, and an unknown one is refused on each.

use serde_json::json;

use crate::live_client::{SseStream, WAIT, WsClient};
use crate::trusted::{FRONT_TOKEN, codegen_manifest, document, gateway};

#[tokio::test]
async fn a_document_id_runs_over_websocket_and_event_streams_as_over_post() {
    let (gateway, _) = gateway().await;
    let (id, _) = document(&codegen_manifest(), "Devices");
    let variables = json!({ "first": 2 });

    let mut socket = WsClient::connect(&gateway.url, FRONT_TOKEN).await;
    socket
        .send(json!({ "id": "1", "type": "subscribe", "payload": { "documentId": id, "variables": variables } }))
        .await;
    let next = socket.message("the document's result").await;
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(
        next["payload"]["data"]["devices"]["totalCount"], 50,
        "{next}"
    );
    socket
        .send(
            json!({ "id": "2", "type": "subscribe", "payload": { "documentId": "0".repeat(64) } }),
        )
        .await;
    let refused = socket
        .until("the unknown id's error", |message| message["id"] == "2")
        .await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "OPERATION_NOT_TRUSTED"
    );

    let response = tokio::time::timeout(
        WAIT,
        reqwest::Client::new()
            .post(&gateway.url)
            .header("accept", "text/event-stream")
            .bearer_auth(FRONT_TOKEN)
            .json(&json!({ "documentId": id, "variables": variables }))
            .send(),
    )
    .await
    .expect("the stream is answered in time")
    .expect("the gateway answers");
    let mut stream = SseStream::new(response);
    let payload = stream.next_payload("the document's result over SSE").await;
    assert_eq!(payload["data"]["devices"]["totalCount"], 50, "{payload}");
}
