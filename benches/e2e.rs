//! End-to-end benchmark: the release gateway as its own process, on the
//! simulator, loaded over loopback by `wrk`, next to a bare axum server that
//! returns the very bytes the gateway returned, measured in the same run.
//!
//! `cargo bench --bench e2e` runs every scenario and prints a table;
//! `-- --quick` shortens each run, `-- --only A,C` picks scenarios,
//! `-- --duration 10s --warmup 3s --connections 64` tunes the load;
//! `-- --otel` has the gateway export every trace (ratio 1.0) to a
//! loopback OTLP sink, to measure the cost of export.
//! wrk is installed with apt-get when missing.
//!
//! Scenarios (see the README's "Performance" section):
//! - A: `devices(first: 50)` with every field, the same query repeated.
//! - B: OFFLINE devices before a random date, newest session first, first
//!   50: a different variable set on nearly every request.
//! - C: cold start: 1,000 identical queries at 100 connections on a fresh
//!   gateway; how many upstream calls the simulator counted.
//! - D: A and B over 1,000 / 10,000 / 100,000 devices and `first` 10 / 50 /
//!   500.
//! - E: the gateway's peak RSS (VmHWM) in each of them.
//! - Z: A with `Accept-Encoding: br` (and `-- --coding gzip` or `zstd`):
//!   kept answers served compressed, next to A in the same run; its body
//!   bytes are the compressed ones.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use remotepc_gateway::auth::{generate_token, hash_token};
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const USERS: usize = 10_000;
const API_KEY: &str = "bench-api-key";
const DEVICE_FIELDS: &str =
    "name machineId status os osVersion ip comment lastSessionAt lastSessionRaw";

struct Options {
    duration: Duration,
    warmup: Duration,
    connections: usize,
    only: Option<Vec<String>>,
    otel: bool,
    /// The coding scenario Z asks for.
    coding: String,
}

/// The loopback OTLP sink gateways export to under `--otel`.
static OTEL_SINK: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Accepts OTLP/HTTP exports and drops them, answering as a collector does.
async fn start_otel_sink() -> anyhow::Result<String> {
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(|_: axum::body::Bytes| async {
            [(axum::http::header::CONTENT_TYPE, "application/x-protobuf")]
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

impl Options {
    fn parse() -> anyhow::Result<Self> {
        let mut options = Self {
            duration: Duration::from_secs(8),
            warmup: Duration::from_secs(2),
            connections: 64,
            only: None,
            otel: false,
            coding: "br".to_owned(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                // `cargo bench` passes this to every bench binary.
                "--bench" => {}
                "--quick" => {
                    options.duration = Duration::from_secs(3);
                    options.warmup = Duration::from_secs(1);
                }
                "--duration" => options.duration = humantime::parse_duration(&value()?)?,
                "--warmup" => options.warmup = humantime::parse_duration(&value()?)?,
                "--connections" => options.connections = value()?.parse()?,
                "--otel" => options.otel = true,
                "--coding" => options.coding = value()?,
                "--only" => {
                    options.only = Some(value()?.split(',').map(str::to_uppercase).collect());
                }
                other => bail!("unknown argument {other}"),
            }
        }
        Ok(options)
    }

    fn runs(&self, scenario: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|name| name == scenario))
    }
}

/// What one request of a load sends.
#[derive(Clone)]
enum Load {
    /// The same body every time.
    Fixed(serde_json::Value),
    /// Query B with a random `before` on each request.
    RandomBefore { query: String, first: usize },
}

impl Load {
    fn scenario_a(first: usize) -> Self {
        let query = format!(
            "query A {{ devices(first: {first}) {{ totalCount edges {{ cursor node {{ {DEVICE_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        Self::Fixed(serde_json::json!({ "query": query }))
    }

    fn scenario_b(first: usize) -> Self {
        let query = format!(
            "query B($before: DateTime!, $first: Int!) {{ devices(first: $first, filter: {{ status: OFFLINE, lastSessionBefore: $before }}, orderBy: {{ field: LAST_SESSION, direction: DESC }}) {{ totalCount edges {{ cursor node {{ {DEVICE_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        Self::RandomBefore { query, first }
    }

    /// One body, for the correctness check and the baseline's bytes.
    fn sample(&self) -> serde_json::Value {
        match self {
            Self::Fixed(body) => body.clone(),
            Self::RandomBefore { query, first } => serde_json::json!({
                "query": query,
                "variables": { "before": "2026-06-15T12:00:00", "first": first },
            }),
        }
    }

    /// The wrk script sending this load.
    fn wrk_script(&self, token: &str, coding: Option<&str>) -> String {
        let mut script = format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"
        );
        if let Some(coding) = coding {
            let _ = writeln!(script, "wrk.headers[\"Accept-Encoding\"] = \"{coding}\"");
        }
        match self {
            Self::Fixed(body) => {
                let _ = writeln!(script, "wrk.body = {}", lua_string(&body.to_string()));
            }
            Self::RandomBefore { query, first } => {
                let prefix = format!(
                    "{{\"query\":{},\"variables\":{{\"first\":{first},\"before\":\"",
                    serde_json::Value::from(query.as_str())
                );
                // Any second of 2026 up to December: ~29 million variable
                // sets, so repeats (and response-cache hits) are rare.
                let _ = write!(
                    script,
                    "local prefix = {}\nlocal start = os.time({{year=2026, month=1, day=1, hour=0}})\n\
                     local threads = 0\n\
                     setup = function(thread) threads = threads + 1; thread:set(\"id\", threads) end\n\
                     init = function(args) math.randomseed(os.time() * 31 + id) end\n\
                     request = function()\n  local at = start + math.random(0, 334 * 86400)\n  \
                     return wrk.format(nil, nil, nil, prefix .. os.date(\"%Y-%m-%dT%H:%M:%S\", at) .. \"\\\"}}}}\")\nend\n",
                    lua_string(&prefix)
                );
            }
        }
        script
    }
}

fn lua_string(text: &str) -> String {
    // Long brackets take the text as is, as long as it has no `]==]`.
    format!("[==[{text}]==]")
}

/// One gateway process on one simulator.
struct Gateway {
    child: Child,
    url: String,
    token: String,
}

impl Gateway {
    async fn start(simulator: &Simulator, work: &Path, name: &str) -> anyhow::Result<Self> {
        let token = generate_token();
        let store = work.join(format!("{name}.db"));
        let _ = std::fs::remove_file(&store);
        let config = format!(
            r#"
[server]
listen = "127.0.0.1:0"

[upstream]
# The whole of 100,000 devices is 200 pages; read them in seconds.
rate_per_second = 500
burst = 500

[accounts.default]
base_url = "{base_url}"
api_key_env = "BENCH_REMOTEPC_API_KEY"

[teams.bench]
token_sha256 = "{hash}"
scopes = ["read"]
account = "default"
# The load is one team's; its quota must not be what is measured.
requests_per_minute = 4000000000
burst = 1000000

[store]
url = "sqlite://{store}?mode=rwc"
"#,
            base_url = simulator.base_url(),
            hash = hash_token(&token),
            store = store.display(),
        );
        let config_path = work.join(format!("{name}.toml"));
        std::fs::write(&config_path, config)?;
        let mut child = Command::new(env!("CARGO_BIN_EXE_remotepc-gateway"))
            .arg("--config")
            .arg(&config_path)
            .env("BENCH_REMOTEPC_API_KEY", API_KEY)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .envs(
                OTEL_SINK
                    .get()
                    .map(|sink| ("OTEL_EXPORTER_OTLP_ENDPOINT", sink)),
            )
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the gateway")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if event["message"] == "listening"
                    && let Some(addr) = event["addr"].as_str()
                {
                    return Ok(addr.to_owned());
                }
            }
            bail!("the gateway exited before listening")
        })
        .await
        .context("the gateway did not start within 30 s")??;
        // Keep reading its log, so a full pipe never blocks it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            url: format!("http://{addr}/graphql"),
            token,
        })
    }

    /// Peak resident set size so far, in MiB.
    fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }

    async fn post(
        &self,
        client: &reqwest::Client,
        body: &serde_json::Value,
    ) -> anyhow::Result<Vec<u8>> {
        let response = client
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?.to_vec();
        ensure!(
            status.is_success(),
            "gateway answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        let parsed: serde_json::Value = serde_json::from_slice(&bytes)?;
        ensure!(
            parsed.get("errors").is_none(),
            "gateway answered errors: {parsed}"
        );
        Ok(bytes)
    }

    /// The length of the answer to `body` as sent in `coding`.
    async fn compressed_length(
        &self,
        client: &reqwest::Client,
        body: &serde_json::Value,
        coding: &str,
    ) -> anyhow::Result<usize> {
        let response = (client.post(&self.url))
            .bearer_auth(&self.token)
            .header("accept-encoding", coding)
            .json(body)
            .send()
            .await?;
        let sent = response.headers().get("content-encoding").cloned();
        ensure!(
            sent.is_some_and(|sent| sent == coding),
            "not sent in {coding}"
        );
        Ok(response.bytes().await?.len())
    }

    /// Requests the gateway counted that did not end `ok`, from /metrics.
    async fn failed_requests(&self, client: &reqwest::Client) -> anyhow::Result<u64> {
        let metrics_url = self.url.replace("/graphql", "/metrics");
        let page = client.get(metrics_url).send().await?.text().await?;
        Ok(page
            .lines()
            .filter(|line| {
                line.starts_with("gateway_graphql_requests_total{")
                    && !line.contains("outcome=\"ok\"")
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64)
    }
}

/// A bare axum server answering every POST with `body`.
struct Baseline {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Baseline {
    async fn start(body: Vec<u8>, content_type: String) -> anyhow::Result<Self> {
        let body = axum::body::Bytes::from(body);
        let app = axum::Router::new().route(
            "/graphql",
            axum::routing::post(move || {
                let body = body.clone();
                let content_type = content_type.clone();
                async move { ([(axum::http::header::CONTENT_TYPE, content_type)], body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/graphql", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            url,
            stop: Some(stop),
        })
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// What wrk measured.
#[derive(Debug, Clone, Copy)]
struct Measured {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
}

async fn wrk(
    options: &Options,
    url: &str,
    script: &Path,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let output = Command::new("wrk")
        .arg("-t2")
        .arg(format!("-c{}", options.connections))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .await
        .context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix).map(str::trim).map(str::to_owned))
    };
    let rps = field("Requests/sec:").context("no Requests/sec")?.parse()?;
    let p50_ms = latency_ms(&field("50%").context("no p50")?)?;
    let p99_ms = latency_ms(&field("99%").context("no p99")?)?;
    let non_2xx = field("Non-2xx or 3xx responses:").map_or(Ok(0), |count| count.parse())?;
    Ok(Measured {
        rps,
        p50_ms,
        p99_ms,
        non_2xx,
    })
}

fn latency_ms(text: &str) -> anyhow::Result<f64> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .context("no unit")?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse()?;
    Ok(match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        other => bail!("unknown unit {other}"),
    })
}

/// Warm-up, then the measured run.
async fn load(
    options: &Options,
    work: &Path,
    url: &str,
    script: &str,
    name: &str,
) -> anyhow::Result<Measured> {
    let path = work.join(format!("{name}.lua"));
    std::fs::write(&path, script)?;
    wrk(options, url, &path, options.warmup).await?;
    wrk(options, url, &path, options.duration).await
}

struct Row {
    scenario: String,
    devices: usize,
    first: usize,
    latency: Duration,
    gateway: Measured,
    baseline: Measured,
    failed: u64,
    peak_rss_mib: Option<f64>,
    response_bytes: usize,
}

struct Bench {
    options: Options,
    work: PathBuf,
    client: reqwest::Client,
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Bench {
    /// Scenario A or B: a fresh gateway, warmed, then loaded; then the
    /// baseline with the gateway's bytes.
    async fn throughput(
        &mut self,
        scenario: &str,
        simulator: &Simulator,
        latency: Duration,
        devices: usize,
        first: usize,
    ) -> anyhow::Result<()> {
        let load_kind = if scenario.ends_with('B') {
            Load::scenario_b(first)
        } else {
            Load::scenario_a(first)
        };
        let coding = scenario
            .ends_with('Z')
            .then_some(self.options.coding.clone());
        let name = format!(
            "{}-{devices}-{first}-{}ms",
            scenario.replace('/', ""),
            latency.as_millis()
        );
        eprintln!("running {name}");
        let gateway = Gateway::start(simulator, &self.work, &name).await?;
        let sample = gateway.post(&self.client, &load_kind.sample()).await?;
        let sent_bytes = match &coding {
            Some(coding) => {
                gateway
                    .compressed_length(&self.client, &load_kind.sample(), coding)
                    .await?
            }
            None => sample.len(),
        };
        let script = load_kind.wrk_script(&gateway.token, coding.as_deref());
        let measured = load(&self.options, &self.work, &gateway.url, &script, &name).await?;
        let failed = gateway.failed_requests(&self.client).await?;
        let peak_rss_mib = gateway.peak_rss_mib();
        drop(gateway);

        let baseline = Baseline::start(sample.clone(), "application/json".to_owned()).await?;
        let fixed = Load::Fixed(load_kind.sample()).wrk_script("baseline", None);
        let baseline_measured = load(
            &self.options,
            &self.work,
            &baseline.url,
            &fixed,
            &format!("{name}-baseline"),
        )
        .await?;
        drop(baseline);
        self.rows.push(Row {
            scenario: scenario.to_owned(),
            devices,
            first,
            latency,
            gateway: measured,
            baseline: baseline_measured,
            failed,
            peak_rss_mib,
            response_bytes: sent_bytes,
        });
        Ok(())
    }

    /// Scenario C: 1,000 identical queries at 100 connections on a gateway
    /// that has read nothing yet.
    async fn cold_start(
        &mut self,
        simulator: &Simulator,
        latency: Duration,
        devices: usize,
    ) -> anyhow::Result<()> {
        const REQUESTS: usize = 1_000;
        const CONNECTIONS: usize = 100;
        eprintln!("running C-{devices}-{}ms", latency.as_millis());
        let gateway = Arc::new(Gateway::start(simulator, &self.work, "C").await?);
        let before = simulator.calls(Endpoint::ComputerList);
        let body = Load::scenario_a(50).sample();
        let started = Instant::now();
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                let gateway = Arc::clone(&gateway);
                let body = body.clone();
                // One client per task: its own connection, like a load
                // generator's.
                let client = reqwest::Client::builder().pool_max_idle_per_host(1).build();
                tokio::spawn(async move {
                    let client = client?;
                    let mut latencies = Vec::with_capacity(REQUESTS / CONNECTIONS);
                    for _ in 0..REQUESTS / CONNECTIONS {
                        let sent = Instant::now();
                        gateway.post(&client, &body).await?;
                        latencies.push(sent.elapsed());
                    }
                    anyhow::Ok(latencies)
                })
            })
            .collect();
        let mut latencies = Vec::with_capacity(REQUESTS);
        for task in tasks {
            latencies.extend(task.await??);
        }
        let elapsed = started.elapsed();
        latencies.sort();
        let calls = simulator.calls(Endpoint::ComputerList) - before;
        let pages = devices.div_ceil(500);
        self.notes.push(format!(
            "C, {devices} devices, {} ms upstream: {REQUESTS} requests at {CONNECTIONS} connections, all answered without errors in {:.0} ms; \
             p50 {:.1} ms, p99 {:.1} ms; the simulator counted {calls} computer/list calls for {pages} pages \
             ({:.2} per page), {} user/list calls; peak RSS {:.1} MiB",
            latency.as_millis(),
            elapsed.as_secs_f64() * 1000.0,
            latencies[latencies.len() / 2].as_secs_f64() * 1000.0,
            latencies[latencies.len() * 99 / 100].as_secs_f64() * 1000.0,
            calls as f64 / pages as f64,
            simulator.calls(Endpoint::UserList),
            gateway.peak_rss_mib().unwrap_or(f64::NAN),
        ));
        ensure!(
            calls as usize == pages,
            "C: {calls} upstream calls for {pages} pages"
        );
        Ok(())
    }

    /// Peak RSS with both collections cached.
    async fn memory(&mut self, simulator: &Simulator, devices: usize) -> anyhow::Result<()> {
        eprintln!("running E-{devices}");
        let gateway = Gateway::start(simulator, &self.work, "E").await?;
        let users = serde_json::json!({ "query": "{ users(first: 50) { totalCount edges { node { username firstName lastName } } } }" });
        gateway.post(&self.client, &users).await?;
        gateway
            .post(&self.client, &Load::scenario_a(50).sample())
            .await?;
        gateway
            .post(&self.client, &Load::scenario_b(50).sample())
            .await?;
        self.notes.push(format!(
            "E, {devices} devices and {USERS} users cached (A's and B's views built): peak RSS {:.1} MiB",
            gateway.peak_rss_mib().unwrap_or(f64::NAN)
        ));
        Ok(())
    }

    fn print(&self) {
        let mut table = String::from(
            "| scenario | devices | first | upstream | gateway req/s | baseline req/s | ratio | gateway p50 / p99 ms | baseline p50 / p99 ms | peak RSS MiB | body bytes |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for row in &self.rows {
            let _ = writeln!(
                table,
                "| {} | {} | {} | {} ms | {:.0} | {:.0} | {:.0}% | {:.2} / {:.2} | {:.2} / {:.2} | {} | {} |",
                row.scenario,
                row.devices,
                row.first,
                row.latency.as_millis(),
                row.gateway.rps,
                row.baseline.rps,
                100.0 * row.gateway.rps / row.baseline.rps,
                row.gateway.p50_ms,
                row.gateway.p99_ms,
                row.baseline.p50_ms,
                row.baseline.p99_ms,
                row.peak_rss_mib
                    .map_or("?".to_owned(), |mib| format!("{mib:.1}")),
                row.response_bytes,
            );
        }
        println!("\n{table}");
        for row in &self.rows {
            if row.gateway.non_2xx + row.baseline.non_2xx + row.failed > 0 {
                println!(
                    "WARNING {} {} devices first {}: {} non-2xx, {} failed GraphQL requests",
                    row.scenario, row.devices, row.first, row.gateway.non_2xx, row.failed
                );
            }
        }
        for note in &self.notes {
            println!("- {note}");
        }
    }
}

fn ensure_wrk() -> anyhow::Result<()> {
    let found = || {
        std::process::Command::new("wrk")
            .arg("--version")
            .output()
            .is_ok()
    };
    if found() {
        return Ok(());
    }
    eprintln!("wrk not found; installing it with apt-get");
    let status = std::process::Command::new("apt-get")
        .args(["install", "-y", "wrk"])
        .status()
        .context("cannot run apt-get; install wrk")?;
    ensure!(status.success() && found(), "could not install wrk");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse()?;
    ensure_wrk()?;
    if options.otel {
        let _ = OTEL_SINK.set(start_otel_sink().await?);
    }
    let work = std::env::temp_dir().join(format!("remotepc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let mut bench = Bench {
        options,
        work: work.clone(),
        client: reqwest::Client::new(),
        rows: Vec::new(),
        notes: Vec::new(),
    };
    let result = run(&mut bench).await;
    bench.print();
    let _ = std::fs::remove_dir_all(&work);
    result
}

async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    for latency in [Duration::ZERO, Duration::from_millis(20)] {
        let simulator = simulator(10_000, latency).await?;
        for scenario in ["A", "Z", "B"] {
            if bench.options.runs(scenario) {
                bench
                    .throughput(scenario, &simulator, latency, 10_000, 50)
                    .await?;
            }
        }
        if bench.options.runs("C") {
            bench.cold_start(&simulator, latency, 10_000).await?;
        }
        if bench.options.runs("E") && latency.is_zero() {
            bench.memory(&simulator, 10_000).await?;
        }
    }
    if bench.options.runs("D") {
        for devices in [1_000, 10_000, 100_000] {
            let simulator = simulator(devices, Duration::ZERO).await?;
            for scenario in ["A", "B"] {
                for first in [10, 50, 500] {
                    bench
                        .throughput(
                            &format!("D/{scenario}"),
                            &simulator,
                            Duration::ZERO,
                            devices,
                            first,
                        )
                        .await?;
                }
            }
        }
    }
    Ok(())
}

async fn simulator(devices: usize, latency: Duration) -> anyhow::Result<Simulator> {
    Ok(Simulator::start(SimulatorConfig {
        api_key: API_KEY.to_owned(),
        users: USERS,
        devices,
        latency,
        ..SimulatorConfig::default()
    })
    .await?)
}
