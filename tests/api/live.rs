//! Subscriptions: device and user changes over graphql-transport-ws and
//! graphql-sse, from the simulator's own churn and from writes made
//! through the gateway, with the limits and closes a client can meet.

use std::time::Duration;

use remotepc_gateway::settings::Settings;
use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, READER_TOKEN, TestGateway, spawn_gateway_with};
use crate::live_client::{SseStream, WAIT, WsClient, sse};

pub(crate) const DEVICE_CHANGES: &str = "subscription { deviceChanges { kind at previousStatus from to device { name status comment } } }";
pub(crate) const COMMENT: &str = "mutation($input: AddComputerCommentInput!) {
  addComputerComment(input: $input) { computerName comment } }";

/// Polls every 200 ms while anyone subscribes.
pub(crate) fn polled_often(settings: &mut Settings) {
    settings.cache.min_refresh_interval = Duration::from_millis(100);
    settings.live.poll_interval = Some(Duration::from_millis(200));
}

/// A gateway whose devices snapshot is loaded, so that the next change
/// the simulator makes is seen as a change.
pub(crate) async fn warm_gateway(tweak: impl FnOnce(&mut Settings)) -> TestGateway {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), tweak).await;
    let warm = gateway
        .gql("{ devices(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(warm["data"]["devices"]["totalCount"], 50, "{warm}");
    gateway
}

/// Comments `device` until subscription `id` tells of it: from then on
/// the subscription surely listens (a subscribe has no acknowledgement).
pub(crate) async fn until_listening(
    gateway: &TestGateway,
    client: &mut WsClient,
    id: &str,
    device: &str,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    for probe in 0.. {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {WAIT:?} for {id} to listen"
        );
        let comment =
            json!({"input": {"computerName": device, "comment": format!("probe {probe}")}});
        gateway.gql(COMMENT, comment).await;
        let told = |message: &Value| {
            change_of(message, id).is_some_and(|change| change["kind"] == "COMMENT_CHANGED")
        };
        if client
            .within(Duration::from_millis(250), told)
            .await
            .is_some()
        {
            return;
        }
    }
}

fn change_of<'v>(message: &'v Value, id: &str) -> Option<&'v Value> {
    (message["id"] == id && message["type"] == "next")
        .then(|| &message["payload"]["data"]["deviceChanges"])
}

#[tokio::test]
async fn a_status_change_in_remotepc_reaches_a_websocket_subscriber() {
    let gateway = warm_gateway(polled_often).await;
    let mut client = WsClient::connect(&gateway.url, READER_TOKEN).await;
    client.subscribe("1", DEVICE_CHANGES, json!({})).await;
    let name = gateway.devices_by_status(true)[0].clone();
    gateway.sim.state(|state| state.set_online(&name, false));

    let message = client
        .until("the status change", |message| {
            change_of(message, "1").is_some_and(|change| change["device"]["name"] == name.as_str())
        })
        .await;
    let change = change_of(&message, "1").expect("a change");
    assert_eq!(change["kind"], "STATUS_CHANGED");
    assert_eq!(change["previousStatus"], "ONLINE");
    assert_eq!(
        (change["from"].as_str(), change["to"].as_str()),
        (Some("ONLINE"), Some("OFFLINE"))
    );
    assert_eq!(change["device"]["status"], "OFFLINE");
    assert!(
        change["at"].as_str().is_some_and(|at| at.ends_with('Z')),
        "{change}"
    );
}

#[tokio::test]
async fn a_write_through_the_gateway_is_told_at_once_without_polling() {
    // Polled once an hour: only the write itself can produce the event.
    let gateway =
        warm_gateway(|settings| settings.live.poll_interval = Some(Duration::from_secs(3600)))
            .await;
    let mut client = WsClient::connect(&gateway.url, READER_TOKEN).await;
    client.subscribe("c", DEVICE_CHANGES, json!({})).await;
    let lists_before = gateway.calls(Endpoint::ComputerList);
    let name = gateway.devices_by_status(false)[0].clone();
    until_listening(&gateway, &mut client, "c", &name).await;
    let written = gateway
        .gql(
            COMMENT,
            json!({"input": {"computerName": name, "comment": "Moved to room 12"}}),
        )
        .await;
    assert!(written["errors"].is_null(), "{written}");

    let message = client
        .until("the comment's event", |message| {
            change_of(message, "c").is_some_and(|change| change["to"] == "Moved to room 12")
        })
        .await;
    let change = change_of(&message, "c").expect("a change");
    assert_eq!(change["kind"], "COMMENT_CHANGED");
    assert_eq!(change["device"]["name"], name.as_str());
    assert_eq!(change["to"], "Moved to room 12");
    assert_eq!(
        gateway.calls(Endpoint::ComputerList),
        lists_before,
        "no list read for it"
    );
}

#[tokio::test]
async fn the_filter_is_tested_on_each_change() {
    let gateway = warm_gateway(polled_often).await;
    let online = gateway.devices_by_status(true);
    let (watched, other) = (online[0].clone(), online[1].clone());
    let mut client = WsClient::connect(&gateway.url, READER_TOKEN).await;
    let query = "subscription($filter: DeviceFilter) { deviceChanges(filter: $filter) { kind device { name } } }";
    client
        .subscribe("f", query, json!({"filter": {"nameContains": watched}}))
        .await;
    gateway.sim.state(|state| {
        state.set_online(&other, false);
        state.set_online(&watched, false);
    });
    let message = client
        .until("the watched device's change", |message| {
            message["id"] == "f"
        })
        .await;
    assert_eq!(
        message["payload"]["data"]["deviceChanges"]["device"]["name"],
        watched.as_str(),
        "{message}"
    );
}

#[tokio::test]
async fn a_hundred_subscribers_cost_one_list_read_per_page_per_interval() {
    let gateway = spawn_gateway_with(
        SimulatorConfig {
            devices: 1_200,
            ..SimulatorConfig::default()
        },
        |settings| {
            polled_often(settings);
            settings.live.poll_interval = Some(Duration::from_millis(400));
        },
    )
    .await;
    let pages = 3; // 1,200 devices, 500 a page
    let mut clients = Vec::new();
    for connection in 0..5 {
        let mut client = WsClient::connect(&gateway.url, READER_TOKEN).await;
        for index in 0..20 {
            client
                .subscribe(&format!("{connection}-{index}"), DEVICE_CHANGES, json!({}))
                .await;
        }
        clients.push(client);
    }
    let started = tokio::time::Instant::now();
    let before = gateway.calls(Endpoint::ComputerList);
    // A change every subscriber must see proves every one is listening.
    let name = gateway
        .sim
        .state(|state| {
            state
                .devices()
                .next()
                .map(|device| device.host_name.clone())
        })
        .expect("a device");
    crate::helpers::eventually(
        "the first poll's snapshot",
        Duration::from_secs(10),
        || async { (gateway.calls(Endpoint::ComputerList) >= before + pages).then_some(()) },
    )
    .await;
    gateway
        .sim
        .state(|state| state.set_comment(&name, "seen by a hundred"));
    for client in &mut clients {
        for _ in 0..20 {
            client
                .until("the comment change", |message| message["type"] == "next")
                .await;
        }
    }
    // A poll may be reading its pages right now: counted between polls,
    // reads come in whole snapshots.
    let reads = crate::helpers::eventually(
        "a count between two polls",
        Duration::from_secs(10),
        || async {
            let reads = gateway.calls(Endpoint::ComputerList) - before;
            (reads % pages == 0).then_some(reads)
        },
    )
    .await;
    let intervals = started.elapsed().as_millis() as u64 / 400 + 2;
    assert!(
        reads / pages <= intervals,
        "{reads} list reads in {intervals} intervals for 100 subscribers"
    );
}

#[tokio::test]
async fn server_sent_events_carry_changes_and_need_the_header() {
    let gateway = warm_gateway(polled_often).await;
    let refused = sse(&gateway.url, None, DEVICE_CHANGES).await;
    assert_eq!(refused.status(), 401);

    let mut stream = SseStream::new(sse(&gateway.url, Some(READER_TOKEN), DEVICE_CHANGES).await);
    let name = gateway.devices_by_status(false)[0].clone();
    // The stream listens once a write's event arrives on it.
    let deadline = tokio::time::Instant::now() + WAIT;
    for probe in 0.. {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {WAIT:?} for the stream to listen"
        );
        let comment =
            json!({"input": {"computerName": name, "comment": format!("via SSE {probe}")}});
        gateway.gql(COMMENT, comment).await;
        let told =
            tokio::time::timeout(Duration::from_millis(250), stream.next_payload("a comment"));
        if let Ok(payload) = told.await {
            assert_eq!(
                payload["data"]["deviceChanges"]["kind"], "COMMENT_CHANGED",
                "{payload}"
            );
            break;
        }
    }
    gateway.sim.state(|state| state.set_online(&name, true));
    let payload = stream.next_payload("the status event").await;
    assert_eq!(
        payload["data"]["deviceChanges"]["kind"], "STATUS_CHANGED",
        "{payload}"
    );

    let write = sse(
        &gateway.url,
        Some(ADMIN_TOKEN),
        "mutation { deleteUsers(input: {usernames: [\"a@example.com\"]}) { deletedCount } }",
    )
    .await;
    let mut write = SseStream::new(write);
    let payload = write.next_payload("the refusal").await;
    let message = payload["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("POST /graphql"), "{payload}");
    assert_eq!(
        write
            .event("the end")
            .await
            .map(|(name, _)| name)
            .as_deref(),
        Some("complete")
    );

    // An invalid document is reported in a `next` event on an accepted
    // stream (graphql-sse's protocol), as a request error: no `data`.
    let invalid = sse(&gateway.url, Some(READER_TOKEN), "subscription { nope }").await;
    let mut invalid = SseStream::new(invalid);
    let payload = invalid.next_payload("the validation error").await;
    assert_eq!(payload.get("data"), None, "{payload}");
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{payload}"
    );
    assert_eq!(
        invalid
            .event("the end")
            .await
            .map(|(name, _)| name)
            .as_deref(),
        Some("complete")
    );
}

#[tokio::test]
async fn users_added_and_deleted_through_the_gateway_are_told() {
    let gateway = warm_gateway(|_| {}).await;
    let users = gateway
        .gql("{ users(first: 1) { totalCount } }", json!({}))
        .await;
    assert!(users["errors"].is_null(), "{users}");
    let mut client = WsClient::connect(&gateway.url, READER_TOKEN).await;
    client
        .subscribe(
            "u",
            "subscription { userChanges { kind user { username } } }",
            json!({}),
        )
        .await;
    let create =
        "mutation($input: CreateUserInput!) { createUser(input: $input) { user { username } } }";
    let told = |message: &Value| message["id"] == "u" && message["type"] == "next";
    // Users are created until one is told: from then on it listens.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut created = Vec::new();
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {WAIT:?} for userChanges to listen"
        );
        let email = format!("probe{}@example.com", created.len());
        let input = json!({"firstName": "Probe", "lastName": "User", "email": email, "password": "C0bol!rules"});
        let made = gateway.gql(create, json!({"input": input})).await;
        assert!(made["errors"].is_null(), "{made}");
        created.push(email);
        if let Some(added) = client.within(Duration::from_millis(250), told).await {
            assert_eq!(
                added["payload"]["data"]["userChanges"]["kind"], "ADDED",
                "{added}"
            );
            break;
        }
    }
    let gone = created.last().cloned().unwrap_or_default();
    let delete =
        "mutation($e: [String!]!) { deleteUsers(input: { activeUsers: $e }) { deletedCount } }";
    let deleted = gateway.gql(delete, json!({"e": [gone]})).await;
    assert!(deleted["errors"].is_null(), "{deleted}");
    let removed = client.until("the removal", told).await;
    let change = &removed["payload"]["data"]["userChanges"];
    assert_eq!(
        (change["kind"].as_str(), change["user"]["username"].as_str()),
        (Some("REMOVED"), Some(gone.as_str()))
    );
}
