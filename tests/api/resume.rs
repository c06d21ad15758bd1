//! Changes never missed: every change has a cursor; a subscriber that
//! reconnects with its last one (WebSocket `after`, SSE `Last-Event-ID`)
//! gets what it missed, then live, with nothing repeated; a list's
//! `changeCursor` starts a subscription exactly where the list stands;
//! what changed while no gateway watched is logged at its next start; a
//! cursor the log cannot resume from ends with `CURSOR_EXPIRED`.

use std::time::Duration;

use remotepc_gateway::settings::StoreSettings;
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::store::Store;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_TOKEN, READER_TOKEN, TestGateway, eventually, remove_store, temp_store_path,
};
use crate::history::start;
use crate::live::{COMMENT, polled_often, warm_gateway};
use crate::live_client::{SseStream, WsClient, sse, sse_with};

const CHANGES_AFTER: &str = "subscription($after: String) { deviceChanges(after: $after) { cursor kind to device { name comment } } }";

async fn comment(gateway: &TestGateway, device: &str, text: &str) {
    let input = json!({"input": {"computerName": device, "comment": text}});
    let written = gateway.gql(COMMENT, input).await;
    assert!(written["errors"].is_null(), "{written}");
}

/// The next `deviceChanges` event of subscription `id` that is a comment.
async fn next_comment(client: &mut WsClient, id: &str) -> Value {
    let message = client
        .until("a comment change", |message| {
            message["id"] == id
                && (message["type"] != "next"
                    || message["payload"]["data"]["deviceChanges"]["kind"] == "COMMENT_CHANGED")
        })
        .await;
    assert_eq!(message["type"], "next", "{message}");
    message["payload"]["data"]["deviceChanges"].clone()
}

/// Comments `device` until subscription `id` tells of it; returns that
/// event's cursor.
async fn listening_cursor(gateway: &TestGateway, client: &mut WsClient, id: &str) -> String {
    let device = gateway.devices_by_status(false)[0].clone();
    comment(gateway, &device, "probe 0").await;
    let change = next_comment(client, id).await;
    assert_eq!(change["to"], "probe 0", "{change}");
    change["cursor"].as_str().expect("a cursor").to_owned()
}

#[tokio::test]
async fn a_websocket_subscriber_resumes_after_its_last_cursor_with_nothing_lost_or_repeated() {
    let gateway = warm_gateway(polled_often).await;
    let devices = gateway.devices_by_status(true);
    let mut client = WsClient::connect(&gateway.url, READER_TOKEN).await;
    client.subscribe("a", CHANGES_AFTER, json!({})).await;
    let last = listening_cursor(&gateway, &mut client, "a").await;
    client.close(1000).await;

    for (index, device) in devices.iter().take(3).enumerate() {
        comment(&gateway, device, &format!("while away {index}")).await;
    }
    let mut client = WsClient::connect(&gateway.url, READER_TOKEN).await;
    client
        .subscribe("b", CHANGES_AFTER, json!({"after": last}))
        .await;
    let mut cursors = vec![last];
    for (index, device) in devices.iter().take(3).enumerate() {
        let change = next_comment(&mut client, "b").await;
        assert_eq!(change["to"], format!("while away {index}"), "{change}");
        assert_eq!(change["device"]["name"], device.as_str());
        cursors.push(change["cursor"].as_str().expect("a cursor").to_owned());
    }
    comment(&gateway, &devices[3], "live again").await;
    let live = next_comment(&mut client, "b").await;
    assert_eq!(live["to"], "live again", "the seam repeats nothing: {live}");
    cursors.push(live["cursor"].as_str().expect("a cursor").to_owned());
    cursors.dedup();
    assert_eq!(cursors.len(), 5, "every change has its own cursor");
}

#[tokio::test]
async fn an_sse_subscriber_resumes_from_its_last_event_id() {
    let gateway = warm_gateway(polled_often).await;
    let devices = gateway.devices_by_status(false);
    let query = "subscription { deviceChanges { kind to device { name } } }";
    let mut stream = SseStream::new(sse(&gateway.url, Some(READER_TOKEN), query).await);
    // The stream listens once it tells of a write made after it opened.
    // Its first event is the first probe it saw: the stream has no
    // acknowledgement, so probes go on until one is told.
    let probing = async {
        for probe in 0.. {
            comment(&gateway, &devices[0], &format!("probe {probe}")).await;
        }
    };
    let told = tokio::select! {
        payload = stream.next_payload("a probe") => payload,
        () = probing => unreachable!("probes go on"),
    };
    let probe = told["data"]["deviceChanges"]["to"].clone();
    assert!(
        probe.as_str().is_some_and(|to| to.starts_with("probe")),
        "{told}"
    );
    let listening = stream.last_id.clone().expect("an event id");
    drop(stream);
    comment(&gateway, &devices[1], "missed 1").await;
    comment(&gateway, &devices[2], "missed 2").await;

    let headers = [("last-event-id", listening.as_str())];
    let response = sse_with(&gateway.url, Some(READER_TOKEN), query, &headers).await;
    let mut resumed = SseStream::new(response);
    // Probes made after the one it saw come first, each once.
    let mut told = Vec::new();
    while told.last().is_none_or(|to| to != "missed 2") {
        let payload = resumed.next_payload("the missed comments").await;
        let to = payload["data"]["deviceChanges"]["to"]
            .as_str()
            .unwrap_or_default();
        assert_ne!(json!(to), probe, "the event it had is not repeated");
        assert_ne!(resumed.last_id.as_deref(), Some(listening.as_str()));
        told.push(to.to_owned());
    }
    let missed: Vec<&String> = told.iter().filter(|to| !to.starts_with("probe")).collect();
    assert_eq!(missed, ["missed 1", "missed 2"], "{told:?}");
    let mut probes: Vec<&String> = told.iter().filter(|to| to.starts_with("probe")).collect();
    probes.dedup();
    assert_eq!(probes.len(), told.len() - 2, "each probe once: {told:?}");
}

#[tokio::test]
async fn a_change_between_the_list_and_the_subscription_is_delivered_exactly_once() {
    let gateway = warm_gateway(polled_often).await;
    let listed = gateway
        .gql(
            "{ devices(first: 5) { changeCursor nodes { name } } }",
            json!({}),
        )
        .await;
    let cursor = listed["data"]["devices"]["changeCursor"].clone();
    assert!(cursor.is_string(), "{listed}");
    let device = listed["data"]["devices"]["nodes"][0]["name"]
        .as_str()
        .expect("a device")
        .to_owned();
    comment(&gateway, &device, "between list and watch").await;

    let mut client = WsClient::connect(&gateway.url, READER_TOKEN).await;
    client
        .subscribe("w", CHANGES_AFTER, json!({"after": cursor}))
        .await;
    let first = next_comment(&mut client, "w").await;
    assert_eq!(first["to"], "between list and watch", "{first}");
    comment(&gateway, &device, "after the watch began").await;
    let second = next_comment(&mut client, "w").await;
    assert_eq!(
        second["to"], "after the watch began",
        "not repeated: {second}"
    );
}

#[tokio::test]
async fn a_forged_cursor_and_another_accounts_cursor_end_with_cursor_expired() {
    let gateway = warm_gateway(polled_often).await;
    let others = remotepc_gateway::catalog::ChangeCursor::at(1).encode("another-account");
    let future = remotepc_gateway::catalog::ChangeCursor::at(1 << 40).encode("default");
    for (what, cursor) in [
        ("forged", "bm90IGEgY3Vyc29y".to_owned()),
        ("another account's", others),
        ("past the end", future),
    ] {
        let mut client = WsClient::connect(&gateway.url, READER_TOKEN).await;
        client
            .subscribe("x", CHANGES_AFTER, json!({"after": cursor}))
            .await;
        let told = client
            .until("the refusal", |message| message["id"] == "x")
            .await;
        assert_eq!(told["type"], "error", "{what}: {told}");
        assert_eq!(
            told["payload"][0]["extensions"]["code"], "CURSOR_EXPIRED",
            "{what}: {told}"
        );
        let polled = gateway
            .gql_as(
                ADMIN_TOKEN,
                "query($after: String!) { deviceChangesSince(after: $after) { cursor } }",
                json!({"after": cursor}),
            )
            .await;
        assert_eq!(
            polled["errors"][0]["extensions"]["code"], "CURSOR_EXPIRED",
            "{what}: {polled}"
        );
    }
}

#[tokio::test]
async fn a_poller_catches_up_with_device_changes_since_and_oldest_first_events() {
    let gateway = warm_gateway(polled_often).await;
    let listed = gateway
        .gql(
            "{ devices(first: 3) { changeCursor nodes { name } } }",
            json!({}),
        )
        .await;
    let start = listed["data"]["devices"]["changeCursor"].clone();
    let names: Vec<String> = (0..3)
        .map(|index| {
            listed["data"]["devices"]["nodes"][index]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    for (index, name) in names.iter().enumerate() {
        comment(&gateway, name, &format!("polled {index}")).await;
    }
    let since = "query($after: String!) { deviceChangesSince(after: $after, first: 2) { cursor hasMore changes { kind to cursor device { name } } } }";
    // The log takes a write a moment after the write answers.
    let all = "query($after: String!) { deviceChangesSince(after: $after, first: 10) { changes { to } } }";
    eventually(
        "the three comments to be logged",
        Duration::from_secs(10),
        || async {
            let read = gateway.gql(all, json!({"after": start})).await;
            let changes = read["data"]["deviceChangesSince"]["changes"]
                .as_array()?
                .len();
            (changes == 3).then_some(())
        },
    )
    .await;
    let first = gateway.gql(since, json!({"after": start})).await;
    let batch = &first["data"]["deviceChangesSince"];
    assert_eq!(batch["hasMore"], true, "{first}");
    let tos: Vec<&Value> = batch["changes"]
        .as_array()
        .map(|changes| changes.iter().map(|change| &change["to"]).collect())
        .unwrap_or_default();
    assert_eq!(tos, [&json!("polled 0"), &json!("polled 1")], "{first}");
    assert_eq!(batch["cursor"], batch["changes"][1]["cursor"], "{first}");
    let rest = gateway.gql(since, json!({"after": batch["cursor"]})).await;
    let batch = &rest["data"]["deviceChangesSince"];
    assert_eq!(batch["hasMore"], false, "{rest}");
    assert_eq!(batch["changes"][0]["to"], "polled 2", "{rest}");
    assert_eq!(batch["changes"].as_array().map(Vec::len), Some(1), "{rest}");
    let nothing = gateway.gql(since, json!({"after": batch["cursor"]})).await;
    assert_eq!(
        nothing["data"]["deviceChangesSince"]["changes"],
        json!([]),
        "{nothing}"
    );

    let events = "query($after: String) { deviceEvents(order: OLDEST_FIRST, after: $after, first: 10, filter: { kinds: [COMMENT_CHANGED] }) { edges { cursor node { cursor to } } } }";
    let page = gateway.gql(events, json!({"after": start})).await;
    let edges = page["data"]["deviceEvents"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let tos: Vec<Value> = edges
        .iter()
        .map(|edge| edge["node"]["to"].clone())
        .collect();
    assert_eq!(
        tos,
        [json!("polled 0"), json!("polled 1"), json!("polled 2")],
        "{page}"
    );
    assert!(
        edges
            .iter()
            .all(|edge| edge["cursor"] == edge["node"]["cursor"]),
        "{page}"
    );
}

#[tokio::test]
async fn a_change_made_while_the_gateway_was_down_is_resumed_after_its_restart() {
    let sim = Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    let store = temp_store_path();
    let first = start(&sim, &store, |_| {}).await;
    let listed = first
        .gql(
            "{ devices(first: 1) { changeCursor nodes { name } } }",
            json!({}),
        )
        .await;
    let cursor = listed["data"]["devices"]["changeCursor"].clone();
    let name = listed["data"]["devices"]["nodes"][0]["name"].clone();
    assert!(cursor.is_string() && name.is_string(), "{listed}");
    first.stop().await;

    let host = name.as_str().unwrap_or_default().to_owned();
    sim.state(|state| state.set_comment(&host, "changed while down"));
    let second = start(&sim, &store, |_| {}).await;
    second.observe().await;
    let since = "query($after: String!) { deviceChangesSince(after: $after) { changes { kind to device { name } } } }";
    let changes = eventually(
        "the change to be logged at the first read",
        Duration::from_secs(10),
        || async {
            let read = second.gql(since, json!({"after": cursor})).await;
            let changes = read["data"]["deviceChangesSince"]["changes"].clone();
            (changes
                .as_array()
                .is_some_and(|changes| !changes.is_empty()))
            .then_some(changes)
        },
    )
    .await;
    assert_eq!(
        changes,
        json!([{"kind": "COMMENT_CHANGED", "to": "changed while down", "device": {"name": name}}])
    );
    second.stop().await;
    remove_store(&store);
}

#[tokio::test]
async fn a_cursor_older_than_what_is_kept_ends_with_cursor_expired() {
    let gateway = warm_gateway(polled_often).await;
    let listed = gateway
        .gql(
            "{ devices(first: 1) { changeCursor nodes { name } } }",
            json!({}),
        )
        .await;
    let old = listed["data"]["devices"]["changeCursor"].clone();
    let device = listed["data"]["devices"]["nodes"][0]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    comment(&gateway, &device, "soon pruned").await;
    let since = "query($after: String!) { deviceChangesSince(after: $after) { changes { to } } }";
    eventually(
        "the comment to be logged",
        Duration::from_secs(10),
        || async {
            let read = gateway.gql(since, json!({"after": old})).await;
            let changes = read["data"]["deviceChangesSince"]["changes"]
                .as_array()?
                .len();
            (changes == 1).then_some(())
        },
    )
    .await;

    // Retention passes: everything logged so far is pruned.
    let settings = StoreSettings {
        url: format!("sqlite://{}?mode=rwc", gateway.store_path.display()),
        ..StoreSettings::default()
    };
    let store = Store::open(&settings).await.expect("the gateway's store");
    let pruned = store
        .prune_history(i64::MAX, u64::MAX)
        .await
        .expect("pruned");
    assert!(pruned >= 1, "the comment was pruned");

    let polled = gateway.gql(since, json!({"after": old})).await;
    assert_eq!(
        polled["errors"][0]["extensions"]["code"], "CURSOR_EXPIRED",
        "{polled}"
    );
    let message = polled["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("live.history_retention"), "{message}");
    let mut client = WsClient::connect(&gateway.url, READER_TOKEN).await;
    client
        .subscribe("old", CHANGES_AFTER, json!({"after": old}))
        .await;
    let told = client
        .until("the refusal", |message| message["id"] == "old")
        .await;
    assert_eq!(
        told["payload"][0]["extensions"]["code"], "CURSOR_EXPIRED",
        "{told}"
    );
    // A fresh list gives a cursor that resumes.
    let fresh = gateway
        .gql("{ devices(first: 1) { changeCursor } }", json!({}))
        .await;
    let resumed = gateway
        .gql(
            since,
            json!({"after": fresh["data"]["devices"]["changeCursor"]}),
        )
        .await;
    assert_eq!(
        resumed["data"]["deviceChangesSince"]["changes"],
        json!([]),
        "{resumed}"
    );
}
