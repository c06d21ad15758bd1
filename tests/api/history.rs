//! The history of observed changes: kept in the store across restarts,
//! listed and filtered, pruned by retention, and answering
//! `offlineSince` where RemotePC has no such field.

use std::time::Duration;

use remotepc_gateway::App;
use remotepc_gateway::clock::Clock;
use remotepc_gateway::settings::Settings;
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, eventually, remove_store, temp_store_path, test_settings};

/// A gateway process over `sim` that can be stopped.
pub(crate) struct Running {
    pub(crate) url: String,
    pub(crate) clock: Clock,
    stop: tokio::sync::oneshot::Sender<()>,
    stopped: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub(crate) async fn start(
    sim: &Simulator,
    store: &std::path::Path,
    tweak: impl FnOnce(&mut Settings),
) -> Running {
    let mut settings = test_settings(sim, store);
    settings.cache.min_refresh_interval = Duration::from_secs(1);
    tweak(&mut settings);
    let clock = Clock::adjustable();
    let app = App::build_with_clock(settings, clock.clone())
        .await
        .expect("gateway starts");
    let url = format!("http://{}/graphql", app.addr());
    let (stop, signal) = tokio::sync::oneshot::channel::<()>();
    let stopped = tokio::spawn(app.run_until_stopped(async move {
        let _ = signal.await;
    }));
    Running {
        url,
        clock,
        stop,
        stopped,
    }
}

impl Running {
    pub(crate) async fn gql(&self, query: &str, variables: Value) -> Value {
        reqwest::Client::new()
            .post(&self.url)
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("answered")
            .json()
            .await
            .expect("JSON")
    }

    /// Reads RemotePC anew, so the gateway observes what changed there.
    pub(crate) async fn observe(&self) {
        self.clock.advance(Duration::from_secs(2));
        let read = self
            .gql(
                "{ devices(first: 1, refresh: true) { totalCount } }",
                json!({}),
            )
            .await;
        assert!(read["errors"].is_null(), "{read}");
    }

    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let stopped = tokio::time::timeout(Duration::from_secs(20), self.stopped).await;
        assert!(
            matches!(stopped, Ok(Ok(Ok(())))),
            "the gateway stops cleanly"
        );
    }

    /// `device(name).history` once it holds `count` entries.
    async fn history(&self, name: &str, count: usize) -> Vec<Value> {
        let query = "query($name: String!) { device(name: $name) { history(first: 10) { edges { node { kind from to at deviceName } } } } }";
        eventually(
            "the history to be written",
            Duration::from_secs(10),
            || async {
                let response = self.gql(query, json!({"name": name})).await;
                let edges = response["data"]["device"]["history"]["edges"]
                    .as_array()?
                    .clone();
                (edges.len() >= count)
                    .then(|| edges.into_iter().map(|edge| edge["node"].clone()).collect())
            },
        )
        .await
    }
}

async fn simulator_and_store() -> (Simulator, std::path::PathBuf) {
    let sim = Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    (sim, temp_store_path())
}

fn online_device(sim: &Simulator) -> String {
    sim.state(|state| {
        state
            .devices()
            .find(|device| device.online)
            .map(|device| device.host_name.clone())
    })
    .expect("an online device")
}

#[tokio::test]
async fn observed_changes_are_kept_across_a_restart() {
    let (sim, store) = simulator_and_store().await;
    let first = start(&sim, &store, |_| {}).await;
    first.observe().await;
    let name = online_device(&sim);
    sim.state(|state| state.set_online(&name, false));
    first.observe().await;
    sim.state(|state| state.set_comment(&name, "Back from repair"));
    first.observe().await;
    let history = first.history(&name, 2).await;
    assert_eq!(
        history[0]["kind"], "COMMENT_CHANGED",
        "newest first: {history:?}"
    );
    assert_eq!(history[0]["to"], "Back from repair");
    assert_eq!(history[1]["kind"], "STATUS_CHANGED");
    assert_eq!(
        (history[1]["from"].as_str(), history[1]["to"].as_str()),
        (Some("ONLINE"), Some("OFFLINE"))
    );
    first.stop().await;

    let second = start(&sim, &store, |_| {}).await;
    assert_eq!(
        second.history(&name, 2).await,
        history,
        "the same history after a restart"
    );
    second.stop().await;
    remove_store(&store);
}

#[tokio::test]
async fn device_events_filter_by_kind_name_and_time_and_page_by_cursor() {
    let (sim, store) = simulator_and_store().await;
    let gateway = start(&sim, &store, |_| {}).await;
    gateway.observe().await;
    let names: Vec<String> = sim.state(|state| {
        state
            .devices()
            .take(3)
            .map(|device| device.host_name.clone())
            .collect()
    });
    for name in &names {
        sim.state(|state| state.set_comment(name, "inventoried"));
    }
    sim.state(|state| {
        let online = state.device(&names[0]).is_some_and(|device| device.online);
        state.set_online(&names[0], !online)
    });
    gateway.observe().await;
    let query = "query($filter: DeviceEventFilter, $after: String) { deviceEvents(filter: $filter, first: 2, after: $after) { edges { cursor node { kind deviceName } } pageInfo { hasNextPage endCursor } } }";
    let comments = json!({"kinds": ["COMMENT_CHANGED"]});
    let page = eventually(
        "the events to be written",
        Duration::from_secs(10),
        || async {
            let page = gateway.gql(query, json!({"filter": comments})).await;
            (page["data"]["deviceEvents"]["pageInfo"]["hasNextPage"] == true).then_some(page)
        },
    )
    .await;
    let cursor = page["data"]["deviceEvents"]["pageInfo"]["endCursor"].clone();
    let rest = gateway
        .gql(query, json!({"filter": comments, "after": cursor}))
        .await;
    let listed: Vec<Value> = [&page, &rest]
        .iter()
        .flat_map(|page| {
            page["data"]["deviceEvents"]["edges"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|edge| edge["node"]["deviceName"].clone())
        .collect();
    let mut listed: Vec<String> = listed
        .iter()
        .filter_map(|name| name.as_str().map(str::to_owned))
        .collect();
    listed.sort();
    assert_eq!(listed, names, "every comment change once, over two pages");

    let one = json!({"nameContains": names[0].to_lowercase(), "kinds": ["STATUS_CHANGED"]});
    let only = gateway.gql(query, json!({"filter": one})).await;
    assert_eq!(
        only["data"]["deviceEvents"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{only}"
    );
    let later = json!({"since": "2999-01-01T00:00:00Z"});
    let none = gateway.gql(query, json!({"filter": later})).await;
    assert_eq!(none["data"]["deviceEvents"]["edges"], json!([]), "{none}");
    let bad = gateway.gql(query, json!({"after": "not-a-cursor"})).await;
    assert_eq!(
        bad["errors"][0]["extensions"]["code"], "CURSOR_EXPIRED",
        "{bad}"
    );
    let too_many = gateway
        .gql(
            "{ deviceEvents(first: 501) { edges { cursor } } }",
            json!({}),
        )
        .await;
    let violation = &too_many["errors"][0]["extensions"]["violations"][0];
    assert_eq!(violation["field"], "first", "{too_many}");
    gateway.stop().await;
    remove_store(&store);
}

#[tokio::test]
async fn history_past_its_retention_is_pruned() {
    let (sim, store) = simulator_and_store().await;
    let gateway = start(&sim, &store, |settings| {
        settings.live.history_retention = Duration::from_secs(3600);
        settings.store.sweep_interval = Duration::from_millis(50);
    })
    .await;
    gateway.observe().await;
    let name = sim
        .state(|state| {
            state
                .devices()
                .next()
                .map(|device| device.host_name.clone())
        })
        .expect("a device");
    sim.state(|state| state.set_comment(&name, "soon forgotten"));
    gateway.observe().await;
    gateway.history(&name, 1).await;
    gateway.clock.advance(Duration::from_secs(2 * 3600));
    let query = "{ deviceEvents(first: 5) { edges { node { kind } } } }";
    eventually(
        "the pruning of old history",
        Duration::from_secs(10),
        || async {
            let events = gateway.gql(query, json!({})).await;
            (events["data"]["deviceEvents"]["edges"] == json!([])).then_some(())
        },
    )
    .await;
    gateway.stop().await;
    remove_store(&store);
}

#[tokio::test]
async fn offline_since_uses_the_change_seen_else_the_last_session() {
    let (sim, store) = simulator_and_store().await;
    let gateway = start(&sim, &store, |_| {}).await;
    gateway.observe().await;
    let name = online_device(&sim);
    sim.state(|state| state.set_online(&name, false));
    gateway.observe().await;
    gateway.history(&name, 1).await;

    let query = "query($since: DateTime!) { devices(first: 500, filter: { offlineSince: $since }) { edges { node { name } } } }";
    let names = |response: &Value| -> Vec<String> {
        response["data"]["devices"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{response}"))
            .iter()
            .filter_map(|edge| edge["node"]["name"].as_str().map(str::to_owned))
            .collect()
    };
    let week_ago = (chrono::Utc::now() - chrono::Duration::days(7))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let listed = names(&gateway.gql(query, json!({"since": week_ago})).await);
    // By hand: offline, and its last session (UTC here) a week ago or more,
    // except the device seen going offline just now.
    let limit = chrono::Utc::now().naive_utc() - chrono::Duration::days(7);
    let expected: Vec<String> = sim.state(|state| {
        state
            .devices()
            .filter(|device| !device.online && device.host_name != name)
            .filter(|device| {
                chrono::NaiveDateTime::parse_from_str(&device.last_session, "%Y-%m-%d %H:%M:%S")
                    .is_ok_and(|at| at <= limit)
            })
            .map(|device| device.host_name.clone())
            .collect()
    });
    assert_eq!(listed, expected);
    assert!(
        !expected.is_empty(),
        "the sample data has long-offline devices"
    );

    let soon = (chrono::Utc::now() + chrono::Duration::minutes(5))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let recent = names(&gateway.gql(query, json!({"since": soon})).await);
    assert!(
        recent.contains(&name),
        "seen offline since just now: {recent:?}"
    );
    gateway.stop().await;
    remove_store(&store);
}
