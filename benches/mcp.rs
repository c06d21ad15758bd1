//! The MCP endpoint, in process over the simulator (SQLite), over
//! loopback: what a cached read tool (`search_devices`) costs above the
//! same GraphQL operation sent to `/graphql` (p50 and p99 of 2,000
//! sequential calls each, interleaved), and the largest answer of every
//! read tool over 100,000 devices against `mcp.max_result_tokens`.
//!
//!   cargo bench --bench mcp

use std::time::{Duration, Instant};

use remotepc_gateway::App;
use remotepc_gateway::auth::hash_token;
use remotepc_gateway::clock::Clock;
use remotepc_gateway::settings::{AccountSettings, SCOPES, Settings, TeamSettings};
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use serde_json::{Value, json};

const TOKEN: &str = "mcp-bench-token-0123456789";
const CALLS: usize = 2_000;
const SEARCH: &str = "query McpSearchDevices($filter: DeviceFilter, $orderBy: DeviceOrder, $first: Int = 25, $after: String) { devices(filter: $filter, orderBy: $orderBy, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { name status os osVersion ip comment lastSessionAt group { name } } } } }";

fn settings(sim: &Simulator, store: &std::path::Path) -> anyhow::Result<Settings> {
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".parse()?;
    settings.accounts.insert(
        "default".to_owned(),
        AccountSettings::with_inline_key(&sim.base_url(), &sim.api_key()),
    );
    let team = TeamSettings {
        token_sha256: hash_token(TOKEN),
        scopes: SCOPES.iter().map(|scope| (*scope).to_owned()).collect(),
        account: "default".to_owned(),
        requests_per_minute: 1_000_000,
        burst: 100_000,
        introspection: true,
        trusted_documents: None,
        only_trusted_documents: false,
        upstream_weight: 1,
    };
    settings.teams.insert("bench".to_owned(), team);
    settings.store.url = format!("sqlite://{}?mode=rwc", store.display());
    settings.cache.ttl = Duration::from_secs(3600);
    settings.cache.max_stale = Duration::from_secs(3600);
    settings.log.access = false;
    settings.mcp.enabled = true;
    Ok(settings)
}

struct Gateway {
    base: String,
    http: reqwest::Client,
}

impl Gateway {
    async fn graphql(&self, variables: &Value) -> anyhow::Result<Value> {
        let body = json!({ "query": SEARCH, "variables": variables });
        let response = self
            .http
            .post(format!("{}/graphql", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await?;
        Ok(response.json().await?)
    }

    async fn tool(&self, name: &str, arguments: &Value) -> anyhow::Result<Value> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": { "name": name, "arguments": arguments } });
        let response = (self
            .http
            .post(format!("{}/mcp", self.base))
            .bearer_auth(TOKEN))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&body)
        .send()
        .await?;
        Ok(response.json().await?)
    }
}

fn percentile(samples: &mut [Duration], share: f64) -> Duration {
    samples.sort_unstable();
    let index = ((samples.len() as f64 - 1.0) * share).round() as usize;
    samples.get(index).copied().unwrap_or_default()
}

async fn start(devices: usize) -> anyhow::Result<(Gateway, Simulator, std::path::PathBuf)> {
    let sim = Simulator::start(SimulatorConfig {
        devices,
        users: 1_000,
        ..SimulatorConfig::default()
    })
    .await?;
    let store = std::env::temp_dir().join(format!("mcp-bench-{}-{devices}.db", std::process::id()));
    let app = App::build_with_clock(settings(&sim, &store)?, Clock::system()).await?;
    let base = format!("http://{}", app.addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    Ok((
        Gateway {
            base,
            http: reqwest::Client::new(),
        },
        sim,
        store,
    ))
}

/// p50 and p99 of `search_devices` and of the same GraphQL operation,
/// interleaved so that both see the same machine.
async fn overhead() -> anyhow::Result<()> {
    let (gateway, _sim, store) = start(1_000).await?;
    let arguments = json!({ "filter": { "status": "OFFLINE" }, "first": 25 });
    // Warm: the snapshot, the response cache, the connection.
    gateway.graphql(&arguments).await?;
    gateway.tool("search_devices", &arguments).await?;
    let (mut graphql, mut tool) = (Vec::with_capacity(CALLS), Vec::with_capacity(CALLS));
    for _ in 0..CALLS {
        let started = Instant::now();
        let answer = gateway.graphql(&arguments).await?;
        graphql.push(started.elapsed());
        anyhow::ensure!(
            answer["data"]["devices"]["totalCount"].is_number(),
            "{answer}"
        );
        let started = Instant::now();
        let answer = gateway.tool("search_devices", &arguments).await?;
        tool.push(started.elapsed());
        anyhow::ensure!(
            answer["result"]["structuredContent"]["totalCount"].is_number(),
            "{answer}"
        );
    }
    let (graphql_p50, tool_p50) = (percentile(&mut graphql, 0.5), percentile(&mut tool, 0.5));
    let (graphql_p99, tool_p99) = (percentile(&mut graphql, 0.99), percentile(&mut tool, 0.99));
    println!(
        "search_devices (25 offline devices of 1,000), {CALLS} calls each, sequential, interleaved:"
    );
    println!(
        "  GraphQL /graphql   p50 {:>8.3} ms   p99 {:>8.3} ms",
        ms(graphql_p50),
        ms(graphql_p99)
    );
    println!(
        "  MCP tools/call     p50 {:>8.3} ms   p99 {:>8.3} ms",
        ms(tool_p50),
        ms(tool_p99)
    );
    println!(
        "  MCP above GraphQL  p50 {:>8.3} ms",
        ms(tool_p50) - ms(graphql_p50)
    );
    let _ = std::fs::remove_file(store);
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// The largest answer of each read tool over 100,000 devices.
async fn largest_answers() -> anyhow::Result<()> {
    let (gateway, sim, store) = start(100_000).await?;
    let device = sim
        .state(|state| state.devices().next().map(|d| d.host_name.clone()))
        .unwrap_or_default();
    let user = sim
        .state(|state| state.users().next().map(|u| u.username.clone()))
        .unwrap_or_default();
    let calls = [
        ("search_devices", json!({ "first": 100 })),
        (
            "search_devices",
            json!({ "first": 100, "filter": { "status": "OFFLINE" }, "orderBy": { "field": "LAST_SESSION", "direction": "DESC" } }),
        ),
        ("search_users", json!({ "first": 100 })),
        ("get_device", json!({ "name": device })),
        ("get_user", json!({ "username": user })),
        ("fleet_summary", json!({})),
        ("device_history", json!({ "name": device, "first": 100 })),
    ];
    let budget = 20_000;
    println!(
        "\nLargest answers over 100,000 devices (mcp.max_result_tokens = {budget}, 4 bytes a token):"
    );
    let mut largest = 0;
    for (tool, arguments) in calls {
        let answer = gateway.tool(tool, &arguments).await?;
        let result = &answer["result"];
        anyhow::ensure!(result["isError"] == false, "{tool}: {answer}");
        let tokens = result.to_string().len().div_ceil(4);
        largest = largest.max(tokens);
        let cut = result["structuredContent"]["cutToFit"] == true;
        println!(
            "  {tool:<16} {tokens:>6} tokens{}",
            if cut { "  (cut to fit)" } else { "" }
        );
    }
    anyhow::ensure!(
        largest <= budget,
        "an answer of {largest} tokens is over the budget"
    );
    println!("  largest: {largest} tokens, within {budget}");
    let _ = std::fs::remove_file(store);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    overhead().await?;
    largest_answers().await
}
