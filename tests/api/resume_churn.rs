//! The real binary under churn: a subscriber lists the fleet, watches it
//! from the list's `changeCursor`, is cut off while RemotePC keeps
//! changing (statuses, comments, sessions, computers added and removed)
//! and another frontend keeps watching, and reconnects with its last
//! cursor, over WebSocket and over SSE. The
//! fleet each builds from its events equals RemotePC's: nothing lost,
//! nothing told twice.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use serde_json::{Value, json};

use crate::helpers::{remove_store, temp_store_path};
use crate::live_client::{SseStream, WsClient, sse_with};
use crate::process::start_binary_with;

const TOKEN: &str = "churn-test-token-0123456789";
pub(crate) const CHANGES: &str =
    "deviceChanges(after: $after) { cursor kind device { name status comment } }";

/// A device as a frontend shows it: status and comment.
pub(crate) type Shown = (String, String);

/// The fleet a frontend builds: a list, then every change applied.
#[derive(Default)]
pub(crate) struct Fleet {
    pub(crate) devices: BTreeMap<String, Shown>,
    pub(crate) positions: HashSet<String>,
    pub(crate) last: Option<String>,
}

fn shown(device: &Value) -> Shown {
    let status = device["status"].as_str().unwrap_or_default().to_owned();
    let comment = device["comment"].as_str().unwrap_or_default().to_owned();
    (status, comment)
}

impl Fleet {
    /// The devices this fleet shows otherwise than `expected`.
    pub(crate) fn differences(&self, expected: &BTreeMap<String, Shown>) -> Vec<String> {
        let differs = expected
            .iter()
            .filter(|(name, shown)| self.devices.get(*name) != Some(shown));
        let extra = self
            .devices
            .keys()
            .filter(|name| !expected.contains_key(*name));
        differs
            .map(|(name, _)| name.clone())
            .chain(extra.cloned())
            .collect()
    }

    fn apply(&mut self, change: &Value) {
        let cursor = change["cursor"].as_str().expect("a cursor").to_owned();
        assert!(
            self.positions.insert(cursor.clone()),
            "told twice: {change}"
        );
        self.last = Some(cursor);
        let name = change["device"]["name"]
            .as_str()
            .expect("a name")
            .to_owned();
        if change["kind"] == "REMOVED" {
            self.devices.remove(&name);
        } else {
            self.devices.insert(name, shown(&change["device"]));
        }
    }
}

/// RemotePC's fleet, as the gateway would show it.
pub(crate) fn remotepc(sim: &Simulator) -> BTreeMap<String, Shown> {
    sim.state(|state| {
        state
            .devices()
            .map(|device| {
                let status = if device.online { "ONLINE" } else { "OFFLINE" };
                let shown = (status.to_owned(), device.comments.clone());
                (device.host_name.clone(), shown)
            })
            .collect()
    })
}

pub(crate) async fn listed(url: &str, token: &str) -> (Fleet, String) {
    let answer: Value = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .json(&json!({"query": "{ devices(first: 500) { changeCursor nodes { name status comment } } }"}))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON");
    let devices = &answer["data"]["devices"];
    let mut fleet = Fleet::default();
    for device in devices["nodes"].as_array().expect("a list") {
        let name = device["name"].as_str().unwrap_or_default().to_owned();
        fleet.devices.insert(name, shown(device));
    }
    let cursor = devices["changeCursor"].as_str().expect("a changeCursor");
    (fleet, cursor.to_owned())
}

/// `steps` churns of RemotePC, one every 100 ms.
pub(crate) async fn churn(sim: &Simulator, steps: usize) {
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    for _ in 0..steps {
        ticks.tick().await;
        sim.churn(2);
    }
}

/// Applies what `client` tells until `done` says the fleet is complete,
/// or `phase` ends.
pub(crate) async fn watch_ws(
    client: &mut WsClient,
    fleet: &mut Fleet,
    phase: Duration,
    done: impl Fn(&Fleet) -> bool,
) {
    let deadline = tokio::time::Instant::now() + phase;
    while !done(fleet) {
        let Ok(message) = tokio::time::timeout_at(deadline, client.message("a change")).await
        else {
            return;
        };
        assert_eq!(message["type"], "next", "{message}");
        fleet.apply(&message["payload"]["data"]["deviceChanges"]);
    }
}

async fn watch_sse(
    stream: &mut SseStream,
    fleet: &mut Fleet,
    phase: Duration,
    done: impl Fn(&Fleet) -> bool,
) {
    let deadline = tokio::time::Instant::now() + phase;
    while !done(fleet) {
        let Ok(payload) = tokio::time::timeout_at(deadline, stream.next_payload("a change")).await
        else {
            return;
        };
        assert!(payload["errors"].is_null(), "{payload}");
        fleet.apply(&payload["data"]["deviceChanges"]);
        let id = stream.last_id.clone().expect("an event id");
        assert_eq!(fleet.last.as_ref(), Some(&id), "the id is the cursor");
    }
}

async fn open_sse(url: &str, after: &str, last_event_id: Option<&str>) -> SseStream {
    let after = CHANGES.replace("$after", &format!("{after:?}"));
    let query = format!("subscription {{ {after} }}");
    let headers: Vec<(&str, &str)> = last_event_id
        .map(|id| vec![("last-event-id", id)])
        .unwrap_or_default();
    SseStream::new(sse_with(url, Some(TOKEN), &query, &headers).await)
}

#[tokio::test]
async fn subscribers_cut_off_during_churn_resume_with_nothing_lost_or_repeated() {
    let sim = Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    let store = temp_store_path();
    let settings = [
        ("GATEWAY__LIVE__POLL_INTERVAL", "200ms"),
        ("GATEWAY__CACHE__MIN_REFRESH_INTERVAL", "100ms"),
    ];
    let store_url = format!("sqlite://{}?mode=rwc", store.display());
    let (_gateway, addr) = start_binary_with(&sim, &store_url, TOKEN, &settings).await;
    let url = format!("http://{addr}/graphql");

    let (mut over_ws, after) = listed(&url, TOKEN).await;
    let mut over_sse = Fleet {
        devices: over_ws.devices.clone(),
        ..Fleet::default()
    };
    let subscription = format!("subscription($after: String) {{ {CHANGES} }}");
    let mut client = WsClient::connect(&url, TOKEN).await;
    client
        .subscribe("w", &subscription, json!({"after": after}))
        .await;
    let mut stream = open_sse(&url, &after, None).await;

    // Ten seconds of churn: watched for three, cut off for four, watched
    // again for three.
    let watching = Duration::from_secs(3);
    let never = |_: &Fleet| false;
    tokio::join!(
        churn(&sim, 30),
        watch_ws(&mut client, &mut over_ws, watching, never),
        watch_sse(&mut stream, &mut over_sse, watching, never),
    );
    client.close(1000).await;
    drop(stream);
    // Another frontend stays: the gateway watches RemotePC meanwhile, and
    // the log moves on past what the two were told.
    let mut bystander = WsClient::connect(&url, TOKEN).await;
    bystander.subscribe("b", &subscription, json!({})).await;
    let mut ignored = Fleet::default();
    tokio::join!(
        churn(&sim, 40),
        watch_ws(&mut bystander, &mut ignored, Duration::from_secs(4), never),
    );
    assert!(
        !ignored.positions.is_empty(),
        "the gateway watched meanwhile"
    );
    let resume_ws = over_ws.last.clone().unwrap_or_else(|| after.clone());
    let resume_sse = over_sse.last.clone().unwrap_or_else(|| after.clone());
    let mut client = WsClient::connect(&url, TOKEN).await;
    client
        .subscribe("w", &subscription, json!({"after": resume_ws}))
        .await;
    let mut stream = open_sse(&url, &after, Some(&resume_sse)).await;
    tokio::join!(
        churn(&sim, 30),
        watch_ws(&mut client, &mut over_ws, watching, never),
        watch_sse(&mut stream, &mut over_sse, watching, never),
    );

    let expected = remotepc(&sim);
    let complete = |fleet: &Fleet| fleet.devices == expected;
    let settling = Duration::from_secs(8);
    tokio::join!(
        watch_ws(&mut client, &mut over_ws, settling, complete),
        watch_sse(&mut stream, &mut over_sse, settling, complete),
    );
    assert_eq!(
        over_ws.differences(&expected),
        Vec::<String>::new(),
        "over WebSocket"
    );
    assert_eq!(
        over_sse.differences(&expected),
        Vec::<String>::new(),
        "over SSE"
    );
    assert!(
        over_ws.positions.len() > 50,
        "churn was told: {}",
        over_ws.positions.len()
    );
    remove_store(&store);
}
