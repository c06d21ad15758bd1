//! Protecting RemotePC and the key: concurrency cap, rate limit, retries,
//! breaker, egress, key rotation, bounded answers, no secret in any output.

use std::time::Duration;

use remotepc_gateway::settings::AccountSettings;
use remotepc_gateway::simulator::{Fault, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{
    LogCapture, TestGateway, error_code, eventually, spawn_gateway_with, temp_store_path,
};

const REFRESH: &str = "{ devices(first: 1, refresh: true) { totalCount } }";

async fn readyz(gateway: &TestGateway) -> Value {
    let url = gateway.url.replace("/graphql", "/readyz");
    reqwest::get(url)
        .await
        .expect("readyz answers")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test]
async fn a_burst_of_500_cold_queries_never_has_more_than_4_calls_in_flight() {
    let gateway = spawn_gateway_with(
        SimulatorConfig {
            users: 2_000,
            devices: 10_000,
            latency: Duration::from_millis(20),
            ..SimulatorConfig::default()
        },
        |settings| settings.upstream.max_concurrent = 4,
    )
    .await;
    let queries = (0..500).map(|index| {
        let query = if index % 2 == 0 {
            "{ devices(first: 1) { totalCount } }"
        } else {
            "{ users(first: 1) { totalCount } }"
        };
        gateway.gql(query, json!({}))
    });
    let responses = futures::future::join_all(queries).await;
    assert!(
        responses
            .iter()
            .all(|response| response["errors"].is_null()),
        "{:?}",
        responses[0]
    );
    assert_eq!(
        gateway.sim.max_in_flight(),
        4,
        "the cap was reached and held"
    );
    assert_eq!(
        gateway.calls(Endpoint::ComputerList) + gateway.calls(Endpoint::UserList),
        24
    );
}

#[tokio::test]
async fn calls_over_the_rate_limit_fail_unsent_with_rate_limited() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.upstream.rate_per_second = 1;
        settings.upstream.burst = 1;
        settings.upstream.queue_timeout = Duration::from_millis(100);
    })
    .await;
    let comment = "mutation($n: String!) { addComputerComment(input: { computerName: $n, comment: \"Rate limited\" }) { comment } }";
    let name = gateway.devices_by_status(true)[0].clone();
    let first = gateway.gql(comment, json!({ "n": name })).await;
    assert!(first["errors"].is_null(), "{first}");
    let second = gateway.gql(comment, json!({ "n": name })).await;
    assert_eq!(error_code(&second), "RATE_LIMITED", "{second}");
    assert_eq!(second["errors"][0]["extensions"]["outcomeUnknown"], false);
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 1);
}

#[tokio::test]
async fn a_list_call_answered_500_is_retried_and_succeeds() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.upstream.retry_initial_backoff = Duration::from_millis(10);
    })
    .await;
    gateway
        .sim
        .fail_next(Endpoint::ComputerList, Fault::Status(500));
    gateway.sim.fail_next(Endpoint::ComputerList, Fault::Reset);
    let response = gateway
        .gql("{ devices(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(response["data"]["devices"]["totalCount"], 50, "{response}");
    assert_eq!(gateway.calls(Endpoint::ComputerList), 3);
}

#[tokio::test]
async fn the_breaker_opens_after_repeated_failures_and_closes_after_recovery() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.upstream.retry_attempts = 1;
        settings.upstream.breaker_failures = 3;
        settings.upstream.breaker_cooldown = Duration::from_millis(300);
        settings.cache.min_refresh_interval = Duration::ZERO;
    })
    .await;
    assert_eq!(
        readyz(&gateway).await["accounts"]["default"]["breaker"],
        "closed"
    );
    gateway.sim.set_outage(Some(Fault::Status(503)));
    for _ in 0..3 {
        let failed = gateway.gql(REFRESH, json!({})).await;
        assert_eq!(error_code(&failed), "UPSTREAM_UNAVAILABLE");
    }
    let fast = gateway.gql(REFRESH, json!({})).await;
    assert_eq!(error_code(&fast), "UPSTREAM_UNAVAILABLE");
    assert!(fast.to_string().contains("not sent"), "{fast}");
    assert!(
        fast["errors"][0]["extensions"]["retryAfterMs"].as_u64() <= Some(300),
        "{fast}"
    );
    assert_eq!(
        gateway.calls(Endpoint::ComputerList),
        3,
        "the open breaker sent nothing"
    );
    let ready = readyz(&gateway).await;
    assert_eq!(ready["status"], "degraded");
    assert_eq!(ready["accounts"]["default"]["breaker"], "open");

    gateway.sim.set_outage(None);
    gateway.clock.advance(Duration::from_millis(350));
    let recovered = gateway.gql(REFRESH, json!({})).await;
    assert_eq!(
        recovered["data"]["devices"]["totalCount"], 50,
        "{recovered}"
    );
    let ready = readyz(&gateway).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["accounts"]["default"]["breaker"], "closed");
}

#[tokio::test]
async fn calls_leave_from_the_configured_local_address() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        if let Some(account) = settings.accounts.get_mut("default") {
            account.egress_address = "127.0.0.2".parse().ok();
        }
    })
    .await;
    let response = gateway
        .gql("{ devices(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(response["data"]["devices"]["totalCount"], 50, "{response}");
    let peers: Vec<String> = gateway
        .sim
        .requests(Endpoint::ComputerList)
        .iter()
        .map(|call| call.peer.ip().to_string())
        .collect();
    assert_eq!(peers, ["127.0.0.2"]);
    assert_eq!(
        readyz(&gateway).await["accounts"]["default"]["egress"]["localAddress"],
        "127.0.0.2"
    );
}

#[tokio::test]
async fn calls_go_through_the_configured_proxy() {
    // The simulator plays the proxy: the base URL names a loopback host
    // where nothing listens, so the call only arrives through the proxy.
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        if let Some(account) = settings.accounts.get_mut("default") {
            let proxy = account
                .base_url
                .replace("/rpcnew/api/msp/", "")
                .replace("http://", "http://ops:hunter2@");
            account.base_url = "http://remotepc.localhost/rpcnew/api/msp/".to_owned();
            account.proxy = Some(proxy);
        }
    })
    .await;
    let response = gateway
        .gql("{ devices(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(response["data"]["devices"]["totalCount"], 50, "{response}");
    let hosts: Vec<Option<String>> = gateway
        .sim
        .requests(Endpoint::ComputerList)
        .into_iter()
        .map(|call| call.host)
        .collect();
    assert_eq!(hosts, [Some("remotepc.localhost".to_owned())]);
    let proxy = readyz(&gateway).await["accounts"]["default"]["egress"]["proxy"].clone();
    assert!(
        proxy
            .as_str()
            .is_some_and(|proxy| proxy.starts_with("http://127.0.0.1:")),
        "{proxy}"
    );
    assert!(!proxy.to_string().contains("hunter2"));
}

/// A gateway whose key comes from a file holding the simulator's key,
/// re-read every `reload`; the file's folder, to remove at the end.
async fn key_file_gateway(
    reload: Duration,
) -> (TestGateway, std::path::PathBuf, std::path::PathBuf) {
    let directory = temp_store_path().with_extension("keys");
    std::fs::create_dir_all(&directory).expect("temp dir");
    let key_file = directory.join("remotepc.key");
    std::fs::write(&key_file, "simulator-api-key\n").expect("key file");
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        let account = settings.accounts.get_mut("default").expect("account");
        account.api_key_inline = None;
        account.api_key_file = Some(key_file.clone());
        settings.upstream.key_reload_interval = reload;
        settings.upstream.retry_attempts = 1;
        settings.cache.min_refresh_interval = Duration::ZERO;
    })
    .await;
    (gateway, key_file, directory)
}

/// Retries a forced refresh until it succeeds (the new key is picked up
/// from its file); returns that response.
async fn refresh_until_served(gateway: &TestGateway) -> Value {
    eventually(
        "the new key to be picked up",
        Duration::from_secs(5),
        || async {
            let response = gateway.gql(REFRESH, json!({})).await;
            response["errors"].is_null().then_some(response)
        },
    )
    .await
}

#[tokio::test]
async fn a_rotated_key_file_is_used_without_restart() {
    let (gateway, key_file, directory) = key_file_gateway(Duration::from_millis(50)).await;
    assert_eq!(
        gateway.gql(REFRESH, json!({})).await["data"]["devices"]["totalCount"],
        50
    );

    gateway.sim.set_api_key("rotated-key-0042");
    let refused = gateway.gql(REFRESH, json!({})).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["upstream"]["httpStatus"],
        401
    );
    assert_eq!(
        readyz(&gateway).await["accounts"]["default"]["key"],
        "rejected"
    );

    std::fs::write(&key_file, "rotated-key-0042\n").expect("rotate");
    let response = refresh_until_served(&gateway).await;
    assert_eq!(response["data"]["devices"]["totalCount"], 50, "{response}");
    assert!(
        gateway
            .sim
            .requests(Endpoint::ComputerList)
            .last()
            .is_some_and(|call| call.authorized)
    );
    assert_eq!(
        readyz(&gateway).await["accounts"]["default"]["key"],
        "accepted"
    );
    assert!(!readyz(&gateway).await.to_string().contains("rotated-key"));
    let _ = std::fs::remove_dir_all(&directory);
}

#[tokio::test]
async fn sighup_rereads_the_key_file_at_once() {
    let (gateway, key_file, directory) = key_file_gateway(Duration::from_secs(3600)).await;
    gateway.sim.set_api_key("after-sighup-7");
    std::fs::write(&key_file, "after-sighup-7").expect("rotate");
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let response = refresh_until_served(&gateway).await;
    assert_eq!(response["data"]["devices"]["totalCount"], 50, "{response}");
    let _ = std::fs::remove_dir_all(&directory);
}

#[tokio::test]
async fn an_oversized_answer_is_cut_off_with_a_clear_error() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.upstream.max_response_bytes = 2_048;
    })
    .await;
    let response = gateway
        .gql("{ devices(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&response), "UPSTREAM_UNAVAILABLE");
    assert!(
        response.to_string().contains("exceeded 2048 bytes"),
        "{response}"
    );
}

#[tokio::test]
async fn neither_the_key_nor_a_wrong_key_appears_in_any_log_line_or_response() {
    let capture = LogCapture::start();
    const KEY: &str = "sk-live-4f1c9a7e2b";
    const WRONG_KEY: &str = "sk-old-0d3b8e6a1c";
    let config = || SimulatorConfig {
        api_key: KEY.to_owned(),
        ..SimulatorConfig::default()
    };
    // The account is named so this test can tell its own log lines.
    let tweak = |settings: &mut remotepc_gateway::settings::Settings, key: &str| {
        settings.upstream.request_timeout = Duration::from_millis(200);
        settings.upstream.retry_initial_backoff = Duration::from_millis(5);
        settings.cache.min_refresh_interval = Duration::ZERO;
        let base_url = settings.accounts["default"].base_url.clone();
        settings.accounts.clear();
        settings.accounts.insert(
            "leak-check".to_owned(),
            AccountSettings::with_inline_key(&base_url, key),
        );
        for team in settings.teams.values_mut() {
            team.account = "leak-check".to_owned();
        }
    };
    let gateway = spawn_gateway_with(config(), |settings| tweak(settings, KEY)).await;
    let wrong = spawn_gateway_with(config(), |settings| tweak(settings, WRONG_KEY)).await;

    let mut bodies = Vec::new();
    for fault in [
        Fault::Status(500),
        Fault::Html(502),
        Fault::Hang,
        Fault::Truncated,
        Fault::Reset,
    ] {
        for _ in 0..3 {
            gateway.sim.fail_next(Endpoint::ComputerList, fault.clone());
        }
        bodies.push(gateway.gql(REFRESH, json!({})).await);
    }
    bodies.push(gateway.gql("mutation { createGroup(input: { name: \"x\", computerNames: [\"NOPE\"] }) { group { name } } }", json!({})).await);
    bodies.push(
        gateway
            .gql(
                "{ devices(first: 2) { edges { node { name } } } }",
                json!({}),
            )
            .await,
    );
    let refused = wrong.gql(REFRESH, json!({})).await;
    assert_eq!(error_code(&refused), "UPSTREAM_REJECTED");
    bodies.push(refused);
    bodies.push(readyz(&gateway).await);
    bodies.push(readyz(&wrong).await);

    let logs = capture.text();
    let mine = |line: &&str| line.contains("\"account\":\"leak-check\"");
    assert!(
        logs.lines()
            .filter(mine)
            .any(|line| line.contains("upstream call failed")),
        "this test's failures were logged"
    );
    assert!(
        logs.lines()
            .filter(mine)
            .any(|line| line.contains("retrying upstream call"))
    );
    for secret in [KEY, WRONG_KEY] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
        for body in &bodies {
            assert!(
                !body.to_string().contains(secret),
                "{secret} leaked into {body}"
            );
        }
    }
}
