//! `spawn_gateway()` and the helpers every test uses.

use remotepc_gateway::App;
use remotepc_gateway::auth::hash_token;
use remotepc_gateway::clock::Clock;
use remotepc_gateway::settings::{AccountSettings, SCOPES, Settings, TeamSettings};
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

/// Token of the test team `admin`, which holds every scope.
pub(crate) const ADMIN_TOKEN: &str = "admin-test-token-0123456789";
/// Token of the test team `reader`, which may only read.
pub(crate) const READER_TOKEN: &str = "reader-test-token-9876543210";

/// A running gateway in front of its own simulator, with its own SQLite
/// store. Both stop with the test; the store file is removed on drop.
pub(crate) struct TestGateway {
    pub(crate) url: String,
    pub(crate) sim: Simulator,
    pub(crate) store_path: std::path::PathBuf,
    /// The gateway's clock: `advance` it instead of sleeping through a TTL
    /// or a cool-down.
    pub(crate) clock: Clock,
    pub(crate) http: reqwest::Client,
    /// The gateway's routes, to ask without a socket (`plans::ask`).
    pub(crate) router: remotepc_gateway::http::Front,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        remove_store(&self.store_path);
    }
}

/// Removes a SQLite store file and its WAL companions.
pub(crate) fn remove_store(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Settings of a test gateway over `sim`: a random port, the teams
/// `admin` and `reader`, a SQLite store at `store_path`.
pub(crate) fn test_settings(sim: &Simulator, store_path: &std::path::Path) -> Settings {
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".parse().expect("address");
    settings.accounts.insert(
        "default".to_owned(),
        AccountSettings::with_inline_key(&sim.base_url(), &sim.api_key()),
    );
    settings
        .teams
        .insert("admin".to_owned(), team(ADMIN_TOKEN, &SCOPES));
    settings
        .teams
        .insert("reader".to_owned(), team(READER_TOKEN, &["read"]));
    settings.store.url = format!("sqlite://{}?mode=rwc", store_path.display());
    settings
}

/// A store file no other test uses.
pub(crate) fn temp_store_path() -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let index = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    std::env::temp_dir().join(format!("gateway-test-{}-{index}.db", std::process::id()))
}

/// A team with `scopes` whose token is `token`.
pub(crate) fn team(token: &str, scopes: &[&str]) -> TeamSettings {
    TeamSettings {
        token_sha256: hash_token(token),
        scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
        account: "default".to_owned(),
        requests_per_minute: 60_000,
        burst: 10_000,
        introspection: true,
        trusted_documents: None,
        only_trusted_documents: false,
        upstream_weight: 1,
    }
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
    let store_path = temp_store_path();
    let mut settings = test_settings(&sim, &store_path);
    tweak(&mut settings);
    let clock = Clock::adjustable();
    let app = App::build_with_clock(settings, clock.clone())
        .await
        .expect("gateway starts");
    let url = format!("http://{}/graphql", app.addr());
    let router = app.router();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestGateway {
        url,
        sim,
        store_path,
        clock,
        http: reqwest::Client::new(),
        router,
    }
}

impl TestGateway {
    /// Runs an operation as the `admin` team; returns the response body.
    pub(crate) async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_as(ADMIN_TOKEN, query, variables).await
    }

    /// Runs an operation with `token`; returns the response body.
    pub(crate) async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let authorization = format!("Bearer {token}");
        let (_, body) = self.send(&body, &[("authorization", &authorization)]).await;
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("response is not JSON: {body}"))
    }

    /// Runs an operation with `token`; returns the value of the response
    /// header `header` (if any) and the body text.
    pub(crate) async fn gql_with_header(
        &self,
        token: &str,
        query: &str,
        variables: &Value,
        header: &str,
    ) -> (Option<String>, String) {
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("gateway answers");
        let value = response
            .headers()
            .get(header)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        (value, response.text().await.expect("body"))
    }

    /// Sends an automatic persisted query (`query` absent: hash only) as
    /// `admin`; returns the response body.
    pub(crate) async fn gql_apq(&self, query: Option<&str>, extensions: Value) -> Value {
        let mut body = json!({ "extensions": extensions });
        if let Some(query) = query {
            body["query"] = json!(query);
        }
        let authorization = format!("Bearer {ADMIN_TOKEN}");
        let (_, text) = self
            .send(&body.to_string(), &[("authorization", &authorization)])
            .await;
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("response is not JSON: {text}"))
    }

    /// Posts a raw body as `admin`; returns the status and body text.
    pub(crate) async fn post(&self, body: &str) -> (u16, String) {
        let authorization = format!("Bearer {ADMIN_TOKEN}");
        self.send(body, &[("authorization", &authorization)]).await
    }

    /// Posts a raw body with exactly `headers`; returns status and body.
    pub(crate) async fn send(&self, body: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut request = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("gateway answers");
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

/// The log lines of one test, at TRACE and for every crate, from `start`
/// on: what the test's thread logs (its gateway and simulator run there,
/// on the test's current-thread runtime). Other tests log nothing, and
/// their lines never mix in. One global subscriber routes each event to
/// the buffer of the thread that emits it; its filter asks per event,
/// because a per-thread subscriber (`set_default`) loses events while
/// other tests run (callsite interest is cached process-wide).
pub(crate) struct LogCapture {
    lines: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

thread_local! {
    static CAPTURING: std::cell::RefCell<Option<std::sync::Arc<std::sync::Mutex<Vec<u8>>>>> =
        const { std::cell::RefCell::new(None) };
}

impl LogCapture {
    pub(crate) fn start() -> Self {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        use tracing_subscriber::{Layer, filter};

        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            let capturing = filter::dynamic_filter_fn(|_, _| {
                CAPTURING.with(|buffer| buffer.borrow().is_some())
            });
            let layer = tracing_subscriber::fmt::layer()
                .json()
                .with_span_list(true)
                .with_writer(|| ThreadSink)
                .with_filter(filter::LevelFilter::TRACE)
                .with_filter(capturing);
            let installed = tracing_subscriber::registry().with(layer).try_init();
            assert!(
                installed.is_ok(),
                "no other global subscriber in the test binary"
            );
        });
        let lines = std::sync::Arc::default();
        CAPTURING.with(|buffer| *buffer.borrow_mut() = Some(std::sync::Arc::clone(&lines)));
        Self { lines }
    }

    /// Everything logged so far.
    pub(crate) fn text(&self) -> String {
        let bytes = self
            .lines
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Drop for LogCapture {
    fn drop(&mut self) {
        CAPTURING.with(|buffer| *buffer.borrow_mut() = None);
    }
}

/// Writes to the capture of the current thread, if any.
struct ThreadSink;

impl std::io::Write for ThreadSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CAPTURING.with(|buffer| {
            if let Some(lines) = buffer.borrow().as_ref() {
                lines
                    .lock()
                    .map_err(|_| std::io::Error::other("poisoned"))?
                    .extend_from_slice(bytes);
            }
            Ok(bytes.len())
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Waits until `check` gives `Some`, polling every 10 ms; panics naming
/// `what` after `deadline`.
pub(crate) async fn eventually<T, F, Fut>(
    what: &str,
    deadline: std::time::Duration,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "waited {deadline:?} for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The audit log as `admin` sees it, newest first: each record's
/// operation, outcome, team and result.
pub(crate) async fn audit_log(gateway: &TestGateway) -> Vec<Value> {
    let log = gateway
        .gql(
            "{ auditLog(first: 100) { edges { node { operation outcome team requestId clientRequestId input result } } } }",
            json!({}),
        )
        .await;
    log["data"]["auditLog"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no audit log in {log}"))
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

/// Waits until the simulator has received a call on `endpoint`.
pub(crate) async fn until_called(sim: &Simulator, endpoint: Endpoint) {
    let what = format!("a call of {endpoint} to reach the simulator");
    eventually(&what, std::time::Duration::from_secs(10), || async {
        (sim.calls(endpoint) > 0).then_some(())
    })
    .await;
}

/// The `/metrics` page of the gateway whose GraphQL URL is `url`.
pub(crate) async fn metrics(url: &str) -> String {
    reqwest::get(url.replace("/graphql", "/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("text")
}

/// `body` with its `extensions.upstream` checked and taken out: the
/// operation made `calls` RemotePC calls, queued in `flow`'s interactive
/// lane.
pub(crate) fn upstream_reported(mut body: Value, flow: &str, calls: u64) -> Value {
    let Some(answer) = body.as_object_mut() else {
        panic!("not a GraphQL answer: {body}");
    };
    let mut extensions = answer.remove("extensions").unwrap_or_default();
    let upstream = extensions
        .as_object_mut()
        .and_then(|extensions| extensions.remove("upstream"))
        .unwrap_or_default();
    assert!(upstream["queuedMs"].is_u64(), "queuedMs: {upstream}");
    assert_eq!(
        (&upstream["flow"], &upstream["lane"], &upstream["calls"]),
        (&json!(flow), &json!("interactive"), &json!(calls)),
        "extensions.upstream: {upstream}"
    );
    if extensions.as_object().is_some_and(|rest| !rest.is_empty()) {
        answer.insert("extensions".to_owned(), extensions);
    }
    body
}
