//! An in-process RemotePC simulator: a real HTTP server on loopback with the
//! vendor's envelopes, rules, limits and quirks, seeded sample data, fault
//! injection and per-endpoint call counters. The demo and every test run
//! against it; it never calls out.

mod churn;
mod faults;
mod pages;
mod seed;
mod server;
mod state;
mod vendor_rules;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use churn::Churned;
pub use faults::{Fault, FaultMix};
pub use state::{SimDevice, SimState, SimUser};

use crate::upstream::Endpoint;

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The only API key accepted.
    pub api_key: String,
    /// Users to seed.
    pub users: usize,
    /// Devices to seed.
    pub devices: usize,
    /// Delay added to every call.
    pub latency: Duration,
    /// Fraction of calls (0–1) answered with a 500.
    pub error_rate: f64,
    /// Seed of the sample data.
    pub seed: u64,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_key: "simulator-api-key".to_owned(),
            users: 20,
            devices: 50,
            latency: Duration::ZERO,
            error_rate: 0.0,
            seed: 7,
        }
    }
}

/// One request as the simulator received it.
#[derive(Debug, Clone)]
pub struct RecordedCall {
    /// Endpoint called.
    pub endpoint: Endpoint,
    /// Where the request came from.
    pub peer: SocketAddr,
    /// The raw query string.
    pub query: Option<String>,
    /// The JSON body (`null` when empty or not JSON).
    pub body: serde_json::Value,
    /// Whether it carried the right key.
    pub authorized: bool,
    /// The `Host` header: the upstream a proxy was asked to reach.
    pub host: Option<String>,
    /// The W3C `traceparent` header, if the caller sent one.
    pub traceparent: Option<String>,
}

/// A running simulator. Stops when dropped.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The task `churn_every` started; stopped with the simulator.
    churning: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// State shared by the handle and the server.
struct Shared {
    /// std `Mutex`: never held across `.await`.
    api_key: Mutex<String>,
    /// std `Mutex`: never held across `.await`.
    state: Mutex<SimState>,
    faults: Mutex<FaultPlan>,
    recorded: Mutex<Vec<RecordedCall>>,
    calls: [AtomicU64; Endpoint::ALL.len()],
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    latency_ms: AtomicU64,
    /// Error rate in millionths, so it fits an atomic.
    error_rate_ppm: AtomicU64,
    /// Draws of `churn`, seeded from the config.
    churn_rng: Mutex<rand::rngs::StdRng>,
    /// RemotePC's own rate limit, when set: calls per second, and the
    /// current one-second window's start and count.
    rate_limit: Mutex<Option<RateLimit>>,
}

/// A fixed-window limit, as the vendor's gateway answers 429 past it.
struct RateLimit {
    per_second: u32,
    window: std::time::Instant,
    calls: u32,
}

impl Shared {
    /// Whether a call now is over the account's rate limit.
    fn over_rate_limit(&self) -> bool {
        let mut limit = lock(&self.rate_limit);
        let Some(limit) = limit.as_mut() else {
            return false;
        };
        let now = std::time::Instant::now();
        if now.duration_since(limit.window) >= Duration::from_secs(1) {
            limit.window = now;
            limit.calls = 0;
        }
        limit.calls += 1;
        limit.calls > limit.per_second
    }
}

#[derive(Default)]
struct FaultPlan {
    queued: HashMap<Endpoint, VecDeque<Fault>>,
    outage: Option<Fault>,
    mix: Option<FaultMix>,
}

/// Most recorded calls kept, so a long demo does not grow without bound.
const RECORD_LIMIT: usize = 10_000;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these structures
    // half-updated in a way later calls would trip on.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Simulator {
    /// Seeds the data and starts serving.
    pub async fn start(config: SimulatorConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            api_key: Mutex::new(config.api_key.clone()),
            state: Mutex::new(seed::seed(config.users, config.devices, config.seed)),
            faults: Mutex::default(),
            recorded: Mutex::default(),
            calls: Default::default(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            latency_ms: AtomicU64::new(config.latency.as_millis() as u64),
            error_rate_ppm: AtomicU64::new((config.error_rate.clamp(0.0, 1.0) * 1e6) as u64),
            churn_rng: Mutex::new(rand::SeedableRng::seed_from_u64(config.seed ^ 0xC4_u64)),
            rate_limit: Mutex::new(None),
        });
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let (shutdown, stop) = tokio::sync::oneshot::channel();
        tokio::spawn(server::serve(listener, Arc::clone(&shared), stop));
        Ok(Self {
            addr,
            shared,
            shutdown: Some(shutdown),
            churning: Mutex::default(),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to configure as an account's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}{}/", self.addr, server::BASE_PATH)
    }

    /// The key it accepts.
    pub fn api_key(&self) -> String {
        lock(&self.shared.api_key).clone()
    }

    /// Accepts only `key` from now on, as after a rotation in the console.
    pub fn set_api_key(&self, key: &str) {
        *lock(&self.shared.api_key) = key.to_owned();
    }

    /// Calls received on an endpoint, rejected or not.
    pub fn calls(&self, endpoint: Endpoint) -> u64 {
        self.shared.calls[endpoint as usize].load(Ordering::SeqCst)
    }

    /// Calls received on all endpoints.
    pub fn total_calls(&self) -> u64 {
        Endpoint::ALL
            .iter()
            .map(|endpoint| self.calls(*endpoint))
            .sum()
    }

    /// The most calls that were ever being handled at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// The calls received on an endpoint, oldest first.
    pub fn requests(&self, endpoint: Endpoint) -> Vec<RecordedCall> {
        lock(&self.shared.recorded)
            .iter()
            .filter(|call| call.endpoint == endpoint)
            .cloned()
            .collect()
    }

    /// Applies `fault` to the next call of `endpoint` (faults queue up).
    pub fn fail_next(&self, endpoint: Endpoint, fault: Fault) {
        lock(&self.shared.faults)
            .queued
            .entry(endpoint)
            .or_default()
            .push_back(fault);
    }

    /// Applies `fault` to every call until cleared with `None`.
    pub fn set_outage(&self, fault: Option<Fault>) {
        lock(&self.shared.faults).outage = fault;
    }

    /// Meets calls with random faults from `mix` until cleared with `None`
    /// (after queued faults and an outage).
    pub fn set_fault_mix(&self, mix: Option<FaultMix>) {
        lock(&self.shared.faults).mix = mix;
    }

    /// Reads or changes the simulated account.
    pub fn state<R>(&self, f: impl FnOnce(&mut SimState) -> R) -> R {
        f(&mut lock(&self.shared.state))
    }

    /// Changes the delay added to every call from now on.
    /// Answers calls past `per_second` in any one second with 429 and
    /// `Retry-After: 1`, as RemotePC's gateway does; `None` lifts it.
    pub fn limit_rate(&self, per_second: Option<u32>) {
        *lock(&self.shared.rate_limit) = per_second.map(|per_second| RateLimit {
            per_second,
            window: std::time::Instant::now(),
            calls: 0,
        });
    }

    /// Sets the delay added to every call.
    pub fn set_latency(&self, latency: Duration) {
        let millis = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.shared.latency_ms.store(millis, Ordering::Relaxed);
    }

    /// Makes about `changes` random changes to the account (see
    /// `SimState::churn`), as its computers and console users would.
    pub fn churn(&self, changes: usize) -> Churned {
        self.shared.churn(changes)
    }

    /// Churns `changes` every `interval` until the simulator stops (the
    /// demo's fleet lives).
    pub fn churn_every(&self, interval: Duration, changes: usize) {
        let shared = Arc::clone(&self.shared);
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                shared.churn(changes);
            }
        });
        if let Some(previous) = lock(&self.churning).replace(task) {
            previous.abort();
        }
    }
}

impl Shared {
    fn churn(&self, changes: usize) -> Churned {
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        let mut rng = lock(&self.churn_rng);
        lock(&self.state).churn(&mut rng, changes, &now)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(churning) = lock(&self.churning).take() {
            churning.abort();
        }
    }
}
