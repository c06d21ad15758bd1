//! The real binary: the demo serves sample data; bad settings stop the start.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_remotepc-gateway");

/// What the demo's banner says.
#[derive(Default)]
struct Banner {
    graphql: Option<String>,
    graphiql: Option<String>,
    store: Option<String>,
    viewer: Option<String>,
    person: Option<String>,
    cors: Option<String>,
}

/// Starts the demo with its folder at `dir` (and `extra` arguments); the
/// process and what its banner said.
async fn start_demo(dir: &std::path::Path, extra: &[&str]) -> (tokio::process::Child, Banner) {
    let mut demo = Command::new(BINARY)
        .args(["--demo", "--listen", "127.0.0.1:0", "--demo-dir"])
        .arg(dir)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let mut lines = BufReader::new(demo.stdout.take().expect("stdout")).lines();
    let banner = tokio::time::timeout(Duration::from_secs(30), async {
        let mut banner = Banner::default();
        let first_word = |rest: &str| rest.split_whitespace().next().map(str::to_owned);
        while let Some(line) = lines.next_line().await.expect("stdout readable") {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("GraphQL:") {
                banner.graphql = first_word(rest);
            } else if let Some(rest) = line.strip_prefix("GraphiQL:") {
                banner.graphiql = first_word(rest);
            } else if let Some(rest) = line.strip_prefix("store:") {
                banner.store = first_word(rest);
            } else if line.contains("viewer (read)") {
                banner.viewer = line.rsplit(' ').next().map(str::to_owned);
            } else if let Some(token) = line.strip_prefix("token ") {
                banner.person = Some(token.trim().to_owned());
            } else if let Some(rest) = line.strip_prefix("CORS:") {
                banner.cors = Some(rest.trim().to_owned());
                return banner;
            }
        }
        banner
    })
    .await
    .expect("demo prints its banner in time");
    // Keep reading stdout so the demo never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (demo, banner)
}

/// Stops the demo as Ctrl-C or SIGTERM would.
async fn stop_demo(mut demo: tokio::process::Child) {
    let pid = demo.id().expect("running").to_string();
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(stopped.expect("kill runs").success());
    tokio::time::timeout(Duration::from_secs(20), demo.wait())
        .await
        .expect("the demo stops on SIGTERM")
        .expect("reaped");
}

#[tokio::test]
async fn demo_prints_its_urls_and_serves_the_sample_data_without_running_out_of_quota() {
    let dir = std::env::temp_dir().join(format!("gateway-demo-test-{}", std::process::id()));
    let (demo, banner) = start_demo(&dir, &[]).await;
    let (Some(url), Some(graphiql), Some(store), Some(token), Some(cors)) = (
        banner.graphql,
        banner.graphiql,
        banner.store,
        banner.viewer,
        banner.cors,
    ) else {
        panic!("the banner names GraphQL, GraphiQL, the store, a token and CORS");
    };
    assert!(cors.contains("http://localhost:<any port>"), "{cors}");
    let person = banner.person.expect("the banner prints a person token");

    let client = reqwest::Client::new();
    let page = client
        .get(&graphiql)
        .send()
        .await
        .expect("GraphiQL answers");
    assert_eq!(page.status(), 200);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&store)
            .expect("the store folder exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{store} is private to its owner");
    }
    // The old demo quota (burst 60) refused a tool's 61st request at once.
    let query = json!({ "query": "{ devices(first: 1) { totalCount } users { totalCount } }" });
    for _ in 0..200 {
        let response: serde_json::Value = client
            .post(&url)
            .bearer_auth(&token)
            .json(&query)
            .send()
            .await
            .expect("demo answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            response["data"],
            json!({ "devices": { "totalCount": 1000 }, "users": { "totalCount": 200 } }),
            "{response}"
        );
    }
    let me: serde_json::Value = client
        .post(&url)
        .bearer_auth(&person)
        .json(&json!({ "query": "{ viewer { kind name via } }" }))
        .send()
        .await
        .expect("demo answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        me["data"]["viewer"],
        json!({ "kind": "PERSON", "name": "Dana Demo", "via": "demo/helpdesk" }),
        "the demo's person token signs in through its built-in issuer: {me}"
    );
    stop_demo(demo).await;

    let (again, banner) = start_demo(&dir, &[]).await;
    assert_eq!(
        banner.viewer.as_deref(),
        Some(token.as_str()),
        "tokens survive a restart"
    );
    stop_demo(again).await;
    let (reset, banner) = start_demo(&dir, &["--demo-reset"]).await;
    let new_token = banner.viewer.expect("a token");
    assert_ne!(new_token, token, "--demo-reset makes new tokens");
    stop_demo(reset).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_account_without_key_source_stops_the_start_naming_the_setting() {
    let config = std::env::temp_dir().join(format!("gateway-no-key-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        "[accounts.default]\nbase_url = \"http://127.0.0.1:9/\"\n",
    )
    .expect("temp file");
    let output = Command::new(BINARY)
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_BACKTRACE", "1")
        .output()
        .await
        .expect("binary runs");
    let _ = std::fs::remove_file(&config);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("accounts.default.api_key_env"), "{stderr}");
    assert_eq!(
        stderr.matches("accounts.default.api_key_env").count(),
        1,
        "said once, as one line, without a backtrace even with RUST_BACKTRACE=1: {stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[tokio::test]
async fn hash_token_reads_the_token_from_stdin_never_from_an_argument() {
    use tokio::io::AsyncWriteExt;
    let mut child = Command::new(BINARY)
        .args(["hash-token", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("binary runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"chosen-token-0123\n")
        .await
        .expect("written");
    drop(stdin);
    let output = child.wait_with_output().await.expect("exits");
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        remotepc_gateway::auth::hash_token("chosen-token-0123")
    );

    let refused = Command::new(BINARY)
        .args(["hash-token", "chosen-token-0123"])
        .output()
        .await
        .expect("binary runs");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("standard input"), "{stderr}");
    assert!(
        !stderr.contains("chosen-token-0123"),
        "the token is not echoed: {stderr}"
    );
}

#[tokio::test]
async fn environment_variables_layer_over_the_config_file() {
    let config =
        std::env::temp_dir().join(format!("gateway-env-layer-{}.toml", std::process::id()));
    let team = format!(
        "[teams.ops]\ntoken_sha256 = \"{}\"\nscopes = [\"read\"]\n",
        remotepc_gateway::auth::hash_token("ops-token")
    );
    std::fs::write(&config, team).expect("temp file");
    let output = Command::new(BINARY)
        .args(["serve", "--config"])
        .arg(&config)
        .env(
            "GATEWAY__ACCOUNTS__DEFAULT__API_KEY_ENV",
            "GATEWAY_TEST_UNSET_KEY_VARIABLE",
        )
        .env_remove("GATEWAY_TEST_UNSET_KEY_VARIABLE")
        .output()
        .await
        .expect("binary runs");
    let _ = std::fs::remove_file(&config);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("GATEWAY_TEST_UNSET_KEY_VARIABLE")
            && stderr.contains("accounts.default.api_key_env"),
        "the account came from the environment and its key variable is named: {stderr}"
    );
}

#[tokio::test]
async fn healthcheck_exits_zero_only_when_the_gateway_answers() {
    let gateway = crate::helpers::spawn_gateway().await;
    let healthz = gateway.url.replace("/graphql", "/healthz");
    let up = Command::new(BINARY)
        .args(["healthcheck", &healthz])
        .output()
        .await
        .expect("runs");
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let down = Command::new(BINARY)
        .args(["healthcheck", "http://127.0.0.1:9/healthz"])
        .output()
        .await
        .expect("runs");
    assert!(!down.status.success());
}

#[tokio::test]
async fn the_demo_fleet_is_live_and_sigterm_completes_open_streams() {
    use crate::live_client::{SseStream, WsClient, sse};
    let dir = std::env::temp_dir().join(format!("gateway-demo-live-{}", std::process::id()));
    let (demo, banner) = start_demo(&dir, &["--demo-reset"]).await;
    let (Some(url), Some(token)) = (banner.graphql, banner.viewer) else {
        panic!("the banner names GraphQL and a token");
    };
    let query = "subscription { deviceChanges { kind device { name } } }";
    let mut client = WsClient::connect(&url, &token).await;
    client.subscribe("live", query, json!({})).await;
    // The demo churns every 5 s and polls as often while anyone listens.
    let event = client
        .until("a change of the demo's churning fleet", |message| {
            message["id"] == "live" && message["type"] == "next"
        })
        .await;
    assert!(
        event["payload"]["data"]["deviceChanges"]["kind"].is_string(),
        "{event}"
    );
    let mut stream = SseStream::new(sse(&url, Some(&token), query).await);

    stop_demo(demo).await;
    let completed = client
        .until("the subscription's complete", |message| {
            message["type"] == "complete"
        })
        .await;
    assert_eq!(completed["id"], "live");
    let (code, _) = client.closed("the close at shutdown").await;
    assert_eq!(code, 1001);
    let mut last = None;
    while let Some((name, _)) = stream.event("the stream's end").await {
        last = Some(name);
    }
    assert_eq!(
        last.as_deref(),
        Some("complete"),
        "the event stream ends with complete"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn no_token_reaches_the_log_even_at_trace_level() {
    use crate::live_client::WsClient;
    let sim = remotepc_gateway::simulator::Simulator::start(Default::default())
        .await
        .expect("simulator");
    let token = "trace-level-team-token-0123456789";
    let config = std::env::temp_dir().join(format!("gateway-trace-{}.toml", std::process::id()));
    let store = crate::helpers::temp_store_path();
    std::fs::write(
        &config,
        format!(
            "[accounts.default]\nbase_url = \"{}\"\napi_key_env = \"GATEWAY_TRACE_TEST_KEY\"\n[teams.ops]\ntoken_sha256 = \"{}\"\nscopes = [\"read\"]\n[store]\nurl = \"sqlite://{}?mode=rwc\"\n",
            sim.base_url(),
            remotepc_gateway::auth::hash_token(token),
            store.display()
        ),
    )
    .expect("temp file");
    let mut gateway = Command::new(BINARY)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("GATEWAY_TRACE_TEST_KEY", sim.api_key())
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let mut lines = BufReader::new(gateway.stdout.take().expect("stdout")).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("stdout readable") {
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if entry["message"] == "listening" {
                return entry["addr"].as_str().map(str::to_owned);
            }
        }
        None
    })
    .await
    .expect("the gateway says where it listens")
    .expect("an address");
    let logged = tokio::spawn(async move {
        let mut text = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let url = format!("http://{addr}/graphql");
    let mut client = WsClient::connect(&url, token).await;
    client
        .subscribe("one", "subscription { deviceChanges { kind } }", json!({}))
        .await;
    let answer = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token)
        .json(&json!({ "query": "{ devices(first: 1) { totalCount } }" }))
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), 200);
    drop(client);
    let pid = gateway.id().expect("running").to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    tokio::time::timeout(Duration::from_secs(20), gateway.wait())
        .await
        .expect("stops on SIGTERM")
        .expect("reaped");
    let log = logged.await.expect("log read");
    let _ = std::fs::remove_file(&config);
    crate::helpers::remove_store(&store);
    assert!(
        log.contains("\"level\":\"TRACE\""),
        "the log is at trace level: {log}"
    );
    assert!(!log.contains(token), "the team token reached the log");
    assert!(!log.contains(&sim.api_key()), "the API key reached the log");
}
