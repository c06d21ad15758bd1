//! Resuming from the change log, in process over the simulator (1,000
//! devices, SQLite): one WebSocket subscriber replaying 10,000 logged
//! changes, and 1,000 subscribers (50 connections of 20) resuming at once
//! after the gateway restarted, each 100 changes behind. Prints the time,
//! the change-log reads (`gateway_change_log_reads_total`) and the RemotePC
//! calls each made.
//!
//!   cargo bench --bench resume

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use remotepc_gateway::App;
use remotepc_gateway::auth::hash_token;
use remotepc_gateway::catalog::ChangeCursor;
use remotepc_gateway::clock::Clock;
use remotepc_gateway::settings::{AccountSettings, Settings, TeamSettings};
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::store::Store;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const TOKEN: &str = "resume-bench-token-0123456789";
const ACCOUNT: &str = "default";
const REPLAYED: u64 = 10_000;
const CONNECTIONS: usize = 50;
const PER_CONNECTION: usize = 20;
const BEHIND: u64 = 100;
const SUBSCRIPTION: &str = "subscription($after: String) { deviceChanges(after: $after) { cursor kind device { name status } } }";

fn settings(sim: &Simulator, store: &std::path::Path) -> anyhow::Result<Settings> {
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".parse()?;
    settings.accounts.insert(
        ACCOUNT.to_owned(),
        AccountSettings::with_inline_key(&sim.base_url(), &sim.api_key()),
    );
    let team = TeamSettings {
        token_sha256: hash_token(TOKEN),
        scopes: vec!["read".to_owned()],
        account: ACCOUNT.to_owned(),
        requests_per_minute: 1_000_000,
        burst: 100_000,
        introspection: true,
        trusted_documents: None,
        only_trusted_documents: false,
        upstream_weight: 1,
    };
    settings.teams.insert("bench".to_owned(), team);
    settings.store.url = format!("sqlite://{}?mode=rwc", store.display());
    // Snapshots stay fresh for the run: RemotePC is read only when the
    // bench asks (to make changes) or when nothing is cached.
    settings.cache.ttl = Duration::from_secs(3600);
    settings.cache.max_stale = Duration::from_secs(3600);
    settings.cache.min_refresh_interval = Duration::from_millis(1);
    settings.live.poll_interval = Some(Duration::from_secs(3600));
    settings.live.max_subscriptions_per_team = 10_000;
    Ok(settings)
}

struct Running {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    stopped: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(sim: &Simulator, store: &std::path::Path) -> anyhow::Result<Running> {
    let app = App::build_with_clock(settings(sim, store)?, Clock::system()).await?;
    let url = format!("http://{}/graphql", app.addr());
    let (stop, signal) = tokio::sync::oneshot::channel::<()>();
    let stopped = tokio::spawn(app.run_until_stopped(async move {
        let _ = signal.await;
    }));
    Ok(Running { url, stop, stopped })
}

async fn gql(url: &str, query: &str) -> anyhow::Result<Value> {
    Ok(reqwest::Client::new()
        .post(url)
        .bearer_auth(TOKEN)
        .json(&json!({"query": query}))
        .send()
        .await?
        .json()
        .await?)
}

async fn log_reads(url: &str) -> anyhow::Result<u64> {
    let page = reqwest::get(url.replace("/graphql", "/metrics"))
        .await?
        .text()
        .await?;
    Ok(page
        .lines()
        .filter(|line| line.starts_with("gateway_change_log_reads_total{"))
        .filter(|line| line.contains("purpose=\"resume\"") || line.contains("purpose=\"feed\""))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, subscriptions: &[(String, String)]) -> anyhow::Result<Socket> {
    let mut request = url.replace("http", "ws").into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let init =
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {TOKEN}")}});
    socket.send(Message::text(init.to_string())).await?;
    for (id, after) in subscriptions {
        let subscribe = json!({"id": id, "type": "subscribe", "payload": {"query": SUBSCRIPTION, "variables": {"after": after}}});
        socket.send(Message::text(subscribe.to_string())).await?;
    }
    Ok(socket)
}

/// Reads `socket` until it has `wanted` change events; fails on an error.
async fn receive(socket: &mut Socket, wanted: u64) -> anyhow::Result<()> {
    let mut received = 0;
    while received < wanted {
        let message = tokio::time::timeout(Duration::from_secs(60), socket.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("closed after {received} events"))??;
        let Message::Text(text) = message else {
            continue;
        };
        let message: Value = serde_json::from_str(&text)?;
        match message["type"].as_str() {
            Some("next") => received += 1,
            Some("error") => anyhow::bail!("refused: {message}"),
            _ => {}
        }
    }
    Ok(())
}

/// Changes RemotePC until the log holds `count` more, and returns where
/// it started and ended.
async fn churn_logged(
    sim: &Simulator,
    url: &str,
    store: &Store,
    count: u64,
) -> anyhow::Result<(u64, u64)> {
    let head = || async { Ok::<u64, anyhow::Error>(store.log_bounds(ACCOUNT).await?.head as u64) };
    gql(url, "{ devices(first: 1) { totalCount } }").await?;
    let start = head().await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while head().await? < start + count {
        anyhow::ensure!(Instant::now() < deadline, "the log did not grow in time");
        sim.churn(500);
        gql(url, "{ devices(first: 1, refresh: true) { totalCount } }").await?;
        tokio::task::yield_now().await;
    }
    Ok((start, head().await?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sim = Simulator::start(SimulatorConfig {
        devices: 1_000,
        ..SimulatorConfig::default()
    })
    .await?;
    let path = std::env::temp_dir().join(format!("resume-bench-{}.db", std::process::id()));
    let gateway = start(&sim, &path).await?;
    let store = Store::open(&settings(&sim, &path)?.store).await?;
    let (start_at, head) = churn_logged(&sim, &gateway.url, &store, REPLAYED).await?;
    println!(
        "logged {} changes (positions {start_at}..{head})",
        head - start_at
    );

    let after = ChangeCursor::at(start_at).encode(ACCOUNT);
    let (reads, calls) = (
        log_reads(&gateway.url).await?,
        sim.calls(Endpoint::ComputerList),
    );
    let began = Instant::now();
    let mut socket = connect(&gateway.url, &[("r".to_owned(), after)]).await?;
    receive(&mut socket, head - start_at).await?;
    let took = began.elapsed();
    println!(
        "replay of {} changes to one subscriber: {:.0} ms ({:.0} changes/s), {} change-log reads, {} RemotePC calls",
        head - start_at,
        took.as_secs_f64() * 1e3,
        (head - start_at) as f64 / took.as_secs_f64(),
        log_reads(&gateway.url).await? - reads,
        sim.calls(Endpoint::ComputerList) - calls,
    );
    drop(socket);

    let _ = gateway.stop.send(());
    gateway.stopped.await??;
    let gateway = start(&sim, &path).await?;
    let after = ChangeCursor::at(head - BEHIND).encode(ACCOUNT);
    let (reads, calls) = (
        log_reads(&gateway.url).await?,
        sim.calls(Endpoint::ComputerList),
    );
    let began = Instant::now();
    let clients = (0..CONNECTIONS).map(|connection| {
        let (url, after) = (gateway.url.clone(), after.clone());
        tokio::spawn(async move {
            let subscriptions: Vec<(String, String)> = (0..PER_CONNECTION)
                .map(|index| (format!("{connection}-{index}"), after.clone()))
                .collect();
            let mut socket = connect(&url, &subscriptions).await?;
            receive(&mut socket, BEHIND * PER_CONNECTION as u64).await
        })
    });
    for client in futures::future::join_all(clients).await {
        client??;
    }
    let took = began.elapsed();
    println!(
        "{} subscribers resuming {BEHIND} changes each after a restart: {:.0} ms, {} change-log reads, {} RemotePC calls (the poller the first one starts reads the list once for all)",
        CONNECTIONS * PER_CONNECTION,
        took.as_secs_f64() * 1e3,
        log_reads(&gateway.url).await? - reads,
        sim.calls(Endpoint::ComputerList) - calls,
    );
    let _ = gateway.stop.send(());
    gateway.stopped.await??;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(())
}
