//! Fair shares of the egress, measured: gateways in process on the
//! simulator at 100 ms per RemotePC call.
//!
//! `cargo bench --bench fairness` runs every case and prints a table;
//! `-- --quick` shortens them. The replicas case needs Redis
//! (`GATEWAY_TEST_REDIS_URL`, default `redis://127.0.0.1:6379/0`) and says
//! so when it is not answering.
//! - Light beside heavy (`shares`): one team keeps 20 writes in flight
//!   (10x its share); another writes one comment every 500 ms (a fifth of
//!   the budget), at `rate_per_second` 10. The light team's queue wait, the
//!   calls each team got, and the budget used; in one process, and across
//!   three replicas (heavy on two, light on the third).
//! - Weights (`shares`): three teams weighted 1:2:1, each keeping 10
//!   writes in flight: each one's share of the calls.
//! - Background (`pressure`): a 100,000-device snapshot refreshes (200
//!   list calls) at default limits while a person writes every 500 ms.
//! - Vendor 429 (`pressure`): the simulator limits at 8 calls a second,
//!   the gateway is set to 20.

mod pressure;
mod shares;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use remotepc_gateway::App;
use remotepc_gateway::auth::hash_token;
use remotepc_gateway::settings::{AccountSettings, Settings, TeamSettings};
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;

/// RemotePC's latency in every case.
const LATENCY: Duration = Duration::from_millis(100);

/// What a case runs on.
struct Setup {
    devices: usize,
    /// `upstream.rate_per_second` (burst 1); `None`: the defaults.
    rate: Option<u32>,
    teams: Vec<(&'static str, u32)>,
    /// Gateways sharing Redis at this URL; `None`: one, alone.
    replicas: Option<(usize, String)>,
    cache_ttl: Option<Duration>,
}

/// The simulator and each gateway's GraphQL URL.
struct Gateways {
    sim: Simulator,
    urls: Vec<String>,
}

fn team(name: &str, weight: u32) -> TeamSettings {
    TeamSettings {
        token_sha256: hash_token(&token(name)),
        scopes: vec![
            "read".to_owned(),
            "computers:write".to_owned(),
            "audit:read".to_owned(),
        ],
        account: "default".to_owned(),
        requests_per_minute: 600_000,
        burst: 100_000,
        introspection: true,
        trusted_documents: None,
        only_trusted_documents: false,
        upstream_weight: weight,
    }
}

fn token(team: &str) -> String {
    format!("{team}-bench-token-0123456789")
}

impl Setup {
    fn settings(&self, sim: &Simulator, prefix: &str) -> Settings {
        let mut settings = Settings::default();
        settings.server.listen = "127.0.0.1:0".parse().expect("address");
        settings.server.request_timeout = Duration::from_secs(120);
        settings.accounts.insert(
            "default".to_owned(),
            AccountSettings::with_inline_key(&sim.base_url(), &sim.api_key()),
        );
        let store = std::env::temp_dir().join(format!("fairness-{prefix}.db"));
        settings.store.url = format!("sqlite://{}?mode=rwc", store.display());
        if let Some(rate) = self.rate {
            settings.upstream.rate_per_second = rate;
            settings.upstream.burst = 1;
            settings.upstream.queue_timeout = Duration::from_secs(60);
            settings.upstream.max_queued_per_flow = 1_000;
        }
        if let Some(ttl) = self.cache_ttl {
            settings.cache.ttl = ttl;
        }
        settings.log.access = false;
        for (name, weight) in &self.teams {
            settings
                .teams
                .insert((*name).to_owned(), team(name, *weight));
        }
        settings
    }

    async fn start(&self) -> Gateways {
        let sim = Simulator::start(SimulatorConfig {
            devices: self.devices,
            latency: LATENCY,
            ..SimulatorConfig::default()
        })
        .await
        .expect("simulator");
        let prefix = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
        let mut urls = Vec::new();
        let count = self.replicas.as_ref().map_or(1, |(count, _)| *count);
        let secret = std::env::temp_dir().join(format!("fairness-{prefix}.secret"));
        std::fs::write(&secret, format!("{prefix}{}", "s".repeat(48))).expect("secret");
        for replica in 0..count {
            let mut settings = self.settings(&sim, &format!("{prefix}-{replica}"));
            if let Some((count, redis)) = &self.replicas {
                settings.cluster.redis_url = Some(redis.clone());
                settings.cluster.secret_file = Some(secret.clone());
                settings.cluster.key_prefix = format!("fairness-{prefix}");
                settings.cluster.replicas = *count as u32;
            }
            let app = App::build(settings).await.expect("gateway");
            urls.push(format!("http://{}/graphql", app.addr()));
            tokio::spawn(app.run_until_stopped(std::future::pending()));
        }
        Gateways { sim, urls }
    }
}

impl Gateways {
    fn hosts(&self) -> Arc<Vec<String>> {
        Arc::new(self.sim.state(|state| {
            state
                .devices()
                .take(500)
                .map(|device| device.host_name.clone())
                .collect()
        }))
    }

    /// RemotePC's comment calls that carried `team`'s texts.
    fn calls_of(&self, team: &str) -> usize {
        let prefix = format!("\"{team} ");
        self.sim
            .requests(Endpoint::CommentAdd)
            .iter()
            .filter(|call| call.body.to_string().contains(&prefix))
            .count()
    }

    /// Waits until RemotePC has seen `count` comments, polling every 50 ms;
    /// panics after ten times what a budget of `rate` needs.
    async fn until_calls(&self, count: usize, rate: u32) {
        let deadline =
            Instant::now() + Duration::from_secs(10 * count as u64 / u64::from(rate) + 10);
        let mut every = tokio::time::interval(Duration::from_millis(50));
        while (self.sim.calls(Endpoint::CommentAdd) as usize) < count {
            assert!(
                Instant::now() < deadline,
                "waited for {count} calls to reach RemotePC"
            );
            every.tick().await;
        }
    }
}

/// One comment by `team` through `url`: how long it took, and whether it
/// was answered without errors.
async fn comment(
    http: &reqwest::Client,
    url: &str,
    team: &str,
    host: &str,
    text: &str,
) -> (Duration, bool) {
    let body = serde_json::json!({ "query": format!(r#"mutation {{ addComputerComment(input: {{ computerName: "{host}", comment: "{text}" }}) {{ comment }} }}"#) });
    let started = Instant::now();
    let answered = http
        .post(url)
        .bearer_auth(token(team))
        .json(&body)
        .send()
        .await;
    let ok = match answered {
        Ok(response) => response
            .json::<serde_json::Value>()
            .await
            .is_ok_and(|body| body["errors"].is_null()),
        Err(_) => false,
    };
    (started.elapsed(), ok)
}

/// Keeps `in_flight` comments of `team` going until `stop`, worker `w`
/// through `urls[w % urls.len()]`.
fn keep_busy(
    http: &reqwest::Client,
    urls: &[String],
    team: &'static str,
    hosts: Arc<Vec<String>>,
    in_flight: usize,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..in_flight)
        .map(|worker| {
            let url = urls[worker % urls.len()].clone();
            let (http, hosts, stop) = (http.clone(), Arc::clone(&hosts), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) {
                    let host = &hosts[(worker + round) % hosts.len()];
                    let text = format!("{team} {worker} {round}");
                    comment(&http, &url, team, host, &text).await;
                    round += 1;
                }
            })
        })
        .collect()
}

fn percentile(sorted: &[Duration], at: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * at).round() as usize]
}

/// The Redis the replicas case shares, if it answers.
async fn redis() -> Option<String> {
    let url = std::env::var("GATEWAY_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let client = redis::Client::open(url.as_str()).ok()?;
    let ping = async {
        let mut connection = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .ok()
    };
    tokio::time::timeout(Duration::from_secs(2), ping)
        .await
        .ok()
        .flatten()
        .map(|_| url)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let arguments: Vec<String> = std::env::args().collect();
    let quick = arguments.iter().any(|argument| argument == "--quick");
    // `-- replicas` (or any case's word) runs only the cases named.
    let named: Vec<&String> = arguments[1..]
        .iter()
        .filter(|argument| !argument.starts_with("--"))
        .collect();
    let runs = |case: &str| named.is_empty() || named.iter().any(|name| *name == case);
    let seconds = if quick { 8 } else { 30 };
    println!("| case | figure | calls | budget |\n|---|---|---|---|");
    if runs("light") {
        shares::light_beside_heavy(seconds, None).await;
    }
    if runs("replicas") {
        match redis().await {
            Some(redis) => shares::light_beside_heavy(seconds, Some(redis)).await,
            None => println!("| light beside heavy, 3 replicas | skipped: no Redis answers | | |"),
        }
    }
    if runs("weights") {
        shares::weights(seconds).await;
    }
    if runs("background") {
        pressure::background_refresh().await;
    }
    if runs("vendor") {
        pressure::vendor_limit(if quick { 12 } else { 20 }).await;
    }
}
