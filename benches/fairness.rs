//! Fair shares of the egress, measured: the gateway in process on the
//! simulator at 100 ms per RemotePC call and `upstream.rate_per_second` 10.
//!
//! `cargo bench --bench fairness` runs both cases and prints a table;
//! `-- --quick` shortens them.
//! - Light beside heavy: one team keeps 20 writes in flight (10x its
//!   share); another writes one comment every 500 ms (a fifth of the
//!   budget). The light team's answers (p50, p99, minus RemotePC's 100 ms),
//!   the calls each team got, and the budget used.
//! - Weights: three teams with weights 1:2:1, each keeping 10 writes in
//!   flight: each one's share of the calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use remotepc_gateway::App;
use remotepc_gateway::auth::hash_token;
use remotepc_gateway::settings::{AccountSettings, Settings, TeamSettings};
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;

const RATE: u32 = 10;

fn team(token: &str, weight: u32) -> TeamSettings {
    TeamSettings {
        token_sha256: hash_token(token),
        scopes: vec!["read".to_owned(), "computers:write".to_owned()],
        account: "default".to_owned(),
        requests_per_minute: 600_000,
        burst: 100_000,
        introspection: true,
        trusted_documents: None,
        only_trusted_documents: false,
        upstream_weight: weight,
    }
}

async fn gateway(teams: &[(&str, u32)]) -> (Simulator, String) {
    let sim = Simulator::start(SimulatorConfig {
        devices: 200,
        latency: Duration::from_millis(100),
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator");
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".parse().expect("address");
    settings.server.request_timeout = Duration::from_secs(120);
    settings.accounts.insert(
        "default".to_owned(),
        AccountSettings::with_inline_key(&sim.base_url(), &sim.api_key()),
    );
    let store = std::env::temp_dir().join(format!(
        "fairness-{}-{}.db",
        std::process::id(),
        teams.len()
    ));
    settings.store.url = format!("sqlite://{}?mode=rwc", store.display());
    settings.upstream.rate_per_second = RATE;
    settings.upstream.burst = 1;
    settings.upstream.queue_timeout = Duration::from_secs(60);
    settings.upstream.max_queued_per_flow = 1_000;
    settings.log.access = false;
    for (name, weight) in teams {
        settings.teams.insert(
            (*name).to_owned(),
            team(&format!("{name}-bench-token-0123456789"), *weight),
        );
    }
    let app = App::build(settings).await.expect("gateway");
    let url = format!("http://{}/graphql", app.addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    (sim, url)
}

/// One comment by `team`; how long it took.
async fn comment(
    http: &reqwest::Client,
    url: &str,
    team: &str,
    host: &str,
    text: &str,
) -> Duration {
    let body = serde_json::json!({ "query": format!(r#"mutation {{ addComputerComment(input: {{ computerName: "{host}", comment: "{text}" }}) {{ comment }} }}"#) });
    let started = Instant::now();
    let answered = http
        .post(url)
        .bearer_auth(format!("{team}-bench-token-0123456789"))
        .json(&body)
        .send()
        .await
        .and_then(|response| response.error_for_status());
    if answered.is_err() {
        eprintln!("a write of {team} failed");
    }
    started.elapsed()
}

/// Keeps `in_flight` comments of `team` going until `stop`.
fn keep_busy(
    http: &reqwest::Client,
    url: &str,
    team: &'static str,
    hosts: Arc<Vec<String>>,
    in_flight: usize,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..in_flight)
        .map(|worker| {
            let (http, url, hosts, stop) = (
                http.clone(),
                url.to_owned(),
                Arc::clone(&hosts),
                Arc::clone(&stop),
            );
            tokio::spawn(async move {
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) {
                    let host = &hosts[(worker + round) % hosts.len()];
                    comment(&http, &url, team, host, &format!("{team} {worker} {round}")).await;
                    round += 1;
                }
            })
        })
        .collect()
}

/// Waits until RemotePC has seen `count` comments, polling every 50 ms;
/// panics after ten times the time the budget needs.
async fn until_calls(sim: &Simulator, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10 * count as u64 / u64::from(RATE) + 10);
    while (sim.calls(Endpoint::CommentAdd) as usize) < count {
        assert!(
            Instant::now() < deadline,
            "waited for {count} calls to reach RemotePC"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn calls_of(sim: &Simulator, team: &str) -> usize {
    let prefix = format!("\"{team} ");
    sim.requests(Endpoint::CommentAdd)
        .iter()
        .filter(|call| call.body.to_string().contains(&prefix))
        .count()
}

fn percentile(sorted: &[Duration], at: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * at).round() as usize]
}

async fn light_beside_heavy(seconds: u64) {
    let (sim, url) = gateway(&[("heavy", 1), ("light", 1)]).await;
    let http = reqwest::Client::new();
    let hosts: Arc<Vec<String>> = Arc::new(sim.state(|state| {
        state
            .devices()
            .map(|device| device.host_name.clone())
            .collect()
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let heavy = keep_busy(
        &http,
        &url,
        "heavy",
        Arc::clone(&hosts),
        20,
        Arc::clone(&stop),
    );
    // The heavy team's backlog is built once RemotePC has seen its calls.
    until_calls(&sim, 2 * RATE as usize).await;
    let started = Instant::now();
    let before = sim.calls(Endpoint::CommentAdd);
    let mut light = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    while started.elapsed() < Duration::from_secs(seconds) {
        ticker.tick().await;
        let (http, url, host) = (
            http.clone(),
            url.clone(),
            hosts[light.len() % hosts.len()].clone(),
        );
        let index = light.len();
        light.push(tokio::spawn(async move {
            comment(&http, &url, "light", &host, &format!("light {index}")).await
        }));
    }
    let mut waits = Vec::new();
    for task in light {
        waits.push(task.await.expect("task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let used = (sim.calls(Endpoint::CommentAdd) - before) as f64 / (f64::from(RATE) * elapsed);
    stop.store(true, Ordering::Relaxed);
    waits.sort();
    let rpc = Duration::from_millis(100);
    println!(
        "| light beside heavy ({seconds} s) | light p50 {:?}, p99 {:?} (queue, RemotePC's 100 ms taken off) | light {} calls, heavy {} | budget used {:.0} % |",
        percentile(&waits, 0.5).saturating_sub(rpc),
        percentile(&waits, 0.99).saturating_sub(rpc),
        calls_of(&sim, "light"),
        calls_of(&sim, "heavy"),
        used * 100.0
    );
    for task in heavy {
        task.abort();
    }
}

async fn weights(seconds: u64) {
    let (sim, url) = gateway(&[("one", 1), ("two", 2), ("three", 1)]).await;
    let http = reqwest::Client::new();
    let hosts: Arc<Vec<String>> = Arc::new(sim.state(|state| {
        state
            .devices()
            .map(|device| device.host_name.clone())
            .collect()
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for team in ["one", "two", "three"] {
        tasks.extend(keep_busy(
            &http,
            &url,
            team,
            Arc::clone(&hosts),
            10,
            Arc::clone(&stop),
        ));
    }
    // The window is counted in calls: the budget of `seconds`.
    until_calls(&sim, seconds as usize * RATE as usize).await;
    stop.store(true, Ordering::Relaxed);
    let counts = [
        calls_of(&sim, "one"),
        calls_of(&sim, "two"),
        calls_of(&sim, "three"),
    ];
    let total: usize = counts.iter().sum();
    let share = |count: usize| count as f64 * 100.0 / total.max(1) as f64;
    println!(
        "| weights 1:2:1 ({seconds} s) | {:.1} % / {:.1} % / {:.1} % of {total} calls | | |",
        share(counts[0]),
        share(counts[1]),
        share(counts[2])
    );
    for task in tasks {
        task.abort();
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|argument| argument == "--quick");
    let seconds = if quick { 8 } else { 30 };
    println!("| case | figure | calls | budget |\n|---|---|---|---|");
    light_beside_heavy(seconds).await;
    weights(seconds).await;
}
