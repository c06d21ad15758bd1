//! `spawn_gateway()` and the helpers every test uses.

use remotepc_gateway::App;
use remotepc_gateway::settings::{AccountSettings, Settings};
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

/// A running gateway in front of its own simulator. Both stop with the test.
pub(crate) struct TestGateway {
    pub(crate) url: String,
    pub(crate) sim: Simulator,
    http: reqwest::Client,
}

/// A gateway over a simulator with 20 users and 50 devices.
pub(crate) async fn spawn_gateway() -> TestGateway {
    spawn_gateway_with(SimulatorConfig::default(), |_| {}).await
}

/// A gateway over a simulator started with `sim_config`, with settings
/// adjusted by `tweak` after the account is set.
pub(crate) async fn spawn_gateway_with(
    sim_config: SimulatorConfig,
    tweak: impl FnOnce(&mut Settings),
) -> TestGateway {
    let sim = Simulator::start(sim_config)
        .await
        .expect("simulator starts");
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".parse().expect("address");
    settings.accounts.insert(
        "default".to_owned(),
        AccountSettings::with_inline_key(&sim.base_url(), &sim.api_key()),
    );
    tweak(&mut settings);
    let app = App::build(settings).await.expect("gateway starts");
    let url = format!("http://{}/graphql", app.addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestGateway {
        url,
        sim,
        http: reqwest::Client::new(),
    }
}

impl TestGateway {
    /// Runs an operation and returns the whole response body.
    pub(crate) async fn gql(&self, query: &str, variables: Value) -> Value {
        let (_, body) = self
            .post(&json!({ "query": query, "variables": variables }).to_string())
            .await;
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("response is not JSON: {body}"))
    }

    /// Posts a raw body; returns the status and body text.
    pub(crate) async fn post(&self, body: &str) -> (u16, String) {
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("gateway answers");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Calls the simulator saw on `endpoint`.
    pub(crate) fn calls(&self, endpoint: Endpoint) -> u64 {
        self.sim.calls(endpoint)
    }

    /// Host names of simulated devices that are online (`true`) or offline.
    pub(crate) fn devices_by_status(&self, online: bool) -> Vec<String> {
        self.sim.state(|state| {
            state
                .devices()
                .filter(|device| device.online == online)
                .map(|device| device.host_name.clone())
                .collect()
        })
    }

    /// Some seeded user's email.
    pub(crate) fn some_user(&self) -> String {
        self.sim
            .state(|state| state.users().next().map(|user| user.username.clone()))
            .expect("seeded users")
    }
}

/// The `extensions.code` of the first error.
pub(crate) fn error_code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {response}"))
}

/// The first error's violations as (field, rule) pairs.
pub(crate) fn violations(response: &Value) -> Vec<(String, String)> {
    response["errors"][0]["extensions"]["violations"]
        .as_array()
        .unwrap_or_else(|| panic!("no violations in {response}"))
        .iter()
        .map(|violation| {
            (
                violation["field"].as_str().unwrap_or_default().to_owned(),
                violation["rule"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The upstream descriptions of the first error.
pub(crate) fn upstream_descriptions(response: &Value) -> Vec<String> {
    response["errors"][0]["extensions"]["upstream"]["descriptions"]
        .as_array()
        .unwrap_or_else(|| panic!("no upstream descriptions in {response}"))
        .iter()
        .filter_map(|text| text.as_str().map(str::to_owned))
        .collect()
}
