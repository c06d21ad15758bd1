//! The real binary as its own process: starting it, and probes that need a
//! process of their own (its metrics registry, its connections).

use std::process::Stdio;
use std::time::Duration;

use remotepc_gateway::simulator::Simulator;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The real binary serving `sim` with a SQLite store at `store_url`, and
/// the address it logged.
pub(crate) async fn start_binary(
    sim: &Simulator,
    store_url: &str,
    token: &str,
) -> (tokio::process::Child, String) {
    start_binary_with(sim, store_url, token, &[]).await
}

/// As `start_binary`, with settings layered over its config by `GATEWAY__…`
/// environment variables.
pub(crate) async fn start_binary_with(
    sim: &Simulator,
    store_url: &str,
    token: &str,
    settings: &[(&str, &str)],
) -> (tokio::process::Child, String) {
    let (gateway, addr, _) = start_binary_logging(sim, store_url, token, settings).await;
    (gateway, addr)
}

/// The token of the config's second team (`second`), beside `ops`.
pub(crate) fn second_team_token(token: &str) -> String {
    format!("{token}-second")
}

/// As `start_binary_with`, with the log lines written after `listening`.
/// The address a `listening` line names, as a JSON line or a pretty one
/// (`… listening addr=127.0.0.1:1234`).
fn listening_addr(line: &str) -> Option<String> {
    if let Ok(event) = serde_json::from_str::<serde_json::Value>(line) {
        return (event["message"] == "listening")
            .then(|| event["addr"].as_str().map(str::to_owned))
            .flatten();
    }
    let (_, fields) = line.split_once(" listening ")?;
    let addr = fields
        .split_whitespace()
        .find_map(|field| field.strip_prefix("addr="))?;
    Some(addr.trim_matches('"').to_owned())
}

pub(crate) async fn start_binary_logging(
    sim: &Simulator,
    store_url: &str,
    token: &str,
    settings: &[(&str, &str)],
) -> (
    tokio::process::Child,
    String,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    // One file per start: two tests may start binaries with one token.
    static STARTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let start = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let config = std::env::temp_dir().join(format!(
        "gateway-binary-{}-{start}.toml",
        std::process::id(),
    ));
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[log]\nformat = \"json\"\nfilter = \"info\"\n\
             [store]\nurl = \"{store_url}\"\n\
             [accounts.default]\nbase_url = \"{}\"\napi_key_env = \"DURABILITY_TEST_KEY\"\n\
             [teams.ops]\ntoken_sha256 = \"{}\"\nscopes = [\"read\", \"computers:write\", \"audit:read\"]\n\
             [teams.second]\ntoken_sha256 = \"{}\"\nscopes = [\"read\", \"computers:write\"]\n",
            sim.base_url(),
            remotepc_gateway::auth::hash_token(token),
            remotepc_gateway::auth::hash_token(&second_team_token(token)),
        ),
    )
    .expect("config");
    let mut gateway = Command::new(env!("CARGO_BIN_EXE_remotepc-gateway"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("DURABILITY_TEST_KEY", sim.api_key())
        .envs(settings.iter().copied())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("gateway starts");
    let mut lines = BufReader::new(gateway.stdout.take().expect("stdout")).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("stdout") {
            if let Some(addr) = listening_addr(&line) {
                return Some(addr);
            }
        }
        None
    })
    .await
    .expect("listening in time")
    .expect("logs its address");
    let _ = std::fs::remove_file(&config);
    // Keep reading stdout so the gateway never blocks on a full pipe.
    let (sender, logged) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = sender.send(line);
        }
    });
    (gateway, addr, logged)
}

/// The value of an unlabelled gauge on a `/metrics` page.
fn gauge(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no {name} in {page}"))
}

#[tokio::test]
async fn compiled_plans_are_bounded_in_bytes_however_large_the_documents() {
    let sim = Simulator::start(remotepc_gateway::simulator::SimulatorConfig::default())
        .await
        .expect("simulator");
    let store_path = crate::helpers::temp_store_path();
    let store_url = format!("sqlite://{}?mode=rwc", store_path.display());
    let token = "plan-bytes-token-0000000000";
    let limit = 64 * 1024;
    let settings = [
        ("GATEWAY__CACHE__PLAN_CACHE_BYTES", "65536"),
        ("GATEWAY__TEAMS__OPS__BURST", "1000"),
    ];
    let (_gateway, addr) = start_binary_with(&sim, &store_url, token, &settings).await;
    let client = reqwest::Client::new();
    for index in 0..60 {
        // A ~8 KiB alias: under the 16 KiB a document may have and still
        // get a plan; 60 of them weigh far more than the limit.
        let alias = format!("a{index}{}", "x".repeat(8 * 1024));
        let query = format!("{{ {alias}: devices(first: 1) {{ totalCount }} }}");
        for _ in 0..2 {
            let answer: serde_json::Value = client
                .post(format!("http://{addr}/graphql"))
                .bearer_auth(token)
                .json(&serde_json::json!({ "query": query }))
                .send()
                .await
                .expect("answered")
                .json()
                .await
                .expect("JSON");
            assert_eq!(answer["data"][&alias]["totalCount"], 50, "{answer}");
        }
    }
    let page = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let held = gauge(&page, "gateway_plan_cache_bytes");
    assert!(held > 0.0, "plans were kept");
    assert!(
        held <= f64::from(limit),
        "{held} bytes of plans, limit {limit}"
    );
    crate::helpers::remove_store(&store_path);
}

/// The next JSON line of `logged` that `wanted` accepts, within 10 s;
/// every line read on the way is checked not to carry `secret`.
pub(crate) async fn line_where(
    logged: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    secret: &str,
    what: &str,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let next = async {
        while let Some(line) = logged.recv().await {
            assert!(!line.contains(secret), "a secret is never logged: {line}");
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if wanted(&value) {
                return value;
            }
        }
        panic!("the log ended before {what}");
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), next)
        .await
        .unwrap_or_else(|_| panic!("waited 10 s for {what}"))
}
