//! Three gateway processes (the release binary) sharing Redis, over one
//! simulator: how many `computer/list` calls 1 and 3 replicas make for the
//! same cold burst, and how long a write through one replica takes to show
//! in another's queries (p50/p99). Needs Redis (`GATEWAY_TEST_REDIS_URL`,
//! default `redis://127.0.0.1:6379/0`).
//!
//!   cargo bench --bench replicas

use std::process::Stdio;
use std::time::{Duration, Instant};

use remotepc_gateway::auth::hash_token;
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const TOKEN: &str = "replicas-bench-token-0123456789";
const ROUNDS: usize = 200;

/// Starts one gateway process; its GraphQL URL.
async fn gateway(
    sim: &Simulator,
    redis: &str,
    prefix: &str,
    replicas: usize,
) -> anyhow::Result<(tokio::process::Child, String)> {
    let dir = std::env::temp_dir().join(format!("replicas-bench-{prefix}"));
    std::fs::create_dir_all(&dir)?;
    let config = dir.join(format!("{}.toml", rand::random::<u32>()));
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[log]\nformat = \"json\"\nfilter = \"info\"\n\
             [store]\nurl = \"sqlite://{}/store.db?mode=rwc\"\n\
             [cluster]\nredis_url = \"{redis}\"\nkey_prefix = \"{prefix}\"\nreplicas = {replicas}\n\
             [accounts.default]\nbase_url = \"{}\"\napi_key_env = \"BENCH_KEY\"\n\
             [teams.bench]\ntoken_sha256 = \"{}\"\nscopes = [\"read\", \"computers:write\"]\n\
             requests_per_minute = 1000000\nburst = 100000\n",
            dir.display(),
            sim.base_url(),
            hash_token(TOKEN)
        ),
    )?;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_remotepc-gateway"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("BENCH_KEY", sim.api_key())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(
        child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("stdout"))?,
    )
    .lines();
    while let Some(line) = lines.next_line().await? {
        let event: Value = serde_json::from_str(&line).unwrap_or_default();
        if event["message"] == "listening" {
            let addr = event["addr"].as_str().unwrap_or_default().to_owned();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok((child, format!("http://{addr}/graphql")));
        }
    }
    anyhow::bail!("the gateway did not start")
}

async fn gql(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    Ok(client
        .post(url)
        .bearer_auth(TOKEN)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await?
        .json()
        .await?)
}

/// `computer/list` calls for 300 cold queries spread over `count` replicas.
async fn cold_burst(redis: &str, count: usize) -> anyhow::Result<u64> {
    let sim = Simulator::start(SimulatorConfig {
        devices: 10_000,
        ..SimulatorConfig::default()
    })
    .await?;
    let prefix = format!("bench-{:08x}", rand::random::<u32>());
    let mut processes = Vec::new();
    for _ in 0..count {
        processes.push(gateway(&sim, redis, &prefix, count).await?);
    }
    let client = reqwest::Client::new();
    let queries = (0..300).map(|index| {
        let url = processes[index % count].1.clone();
        let client = client.clone();
        async move {
            gql(
                &client,
                &url,
                "{ devices(first: 1) { totalCount } }",
                json!({}),
            )
            .await
        }
    });
    for answer in futures::future::join_all(queries).await {
        anyhow::ensure!(
            answer?["data"]["devices"]["totalCount"] == 10_000,
            "an answer without data"
        );
    }
    Ok(sim.calls(Endpoint::ComputerList))
}

/// Milliseconds from a write's answer on replica A to the first query on
/// replica B that shows it, `ROUNDS` times.
async fn visibility(redis: &str) -> anyhow::Result<Vec<f64>> {
    let sim = Simulator::start(SimulatorConfig::default()).await?;
    let prefix = format!("bench-{:08x}", rand::random::<u32>());
    let (_a, writer) = gateway(&sim, redis, &prefix, 2).await?;
    let (_b, reader) = gateway(&sim, redis, &prefix, 2).await?;
    let client = reqwest::Client::new();
    let name = sim
        .state(|state| {
            state
                .devices()
                .next()
                .map(|device| device.host_name.clone())
        })
        .ok_or_else(|| anyhow::anyhow!("no device"))?;
    let read = "query($n: String!) { device(name: $n) { comment } }";
    // Both replicas serve queries, so both hold the snapshot.
    gql(&client, &writer, read, json!({"n": name})).await?;
    gql(&client, &reader, read, json!({"n": name})).await?;
    let write = "mutation($n: String!, $c: String!) { addComputerComment(input: { computerName: $n, comment: $c }) { comment } }";
    let mut times = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let text = format!("visibility round {round}");
        gql(&client, &writer, write, json!({"n": name, "c": text})).await?;
        let written = Instant::now();
        let deadline = written + Duration::from_secs(5);
        loop {
            let seen = gql(&client, &reader, read, json!({"n": name})).await?;
            if seen["data"]["device"]["comment"] == text.as_str() {
                times.push(written.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "round {round}: not visible in 5 s"
            );
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let redis = std::env::var("GATEWAY_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let one = cold_burst(&redis, 1).await?;
    let three = cold_burst(&redis, 3).await?;
    println!(
        "300 cold queries, 10,000 devices (20 pages): computer/list calls with 1 replica {one}, with 3 replicas {three}"
    );
    let times = visibility(&redis).await?;
    let at = |share: f64| times[((times.len() as f64 * share) as usize).min(times.len() - 1)];
    println!(
        "a write through replica A seen by replica B's queries, {ROUNDS} rounds: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    Ok(())
}
