//! What the outside review of issue 11 found about shared resources, each
//! as a behaviour a team would notice: quota charged by the RemotePC calls
//! a request causes, persisted queries registered only once a request is
//! accepted and kept per account, metric names budgeted per team, metrics
//! served on their own address, expired idempotency keys swept.

use std::time::Duration;

use remotepc_gateway::App;
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{
    TestGateway, error_code, eventually, metrics, spawn_gateway_with, team, temp_store_path,
    test_settings,
};

async fn send_as(gateway: &TestGateway, token: &str, body: &Value) -> (u16, Value) {
    let authorization = format!("Bearer {token}");
    let (status, text) = gateway
        .send(&body.to_string(), &[("authorization", &authorization)])
        .await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn writes_are_charged_one_quota_unit_per_remotepc_call() {
    let token = "frugal-token-0000000000000";
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        let mut frugal = team(token, &["read", "computers:write"]);
        frugal.burst = 5;
        frugal.requests_per_minute = 1;
        settings.teams.insert("frugal".to_owned(), frugal);
        settings.upstream.remove_batch_size = 5;
    })
    .await;
    let names: Vec<String> = (0..20).map(|index| format!("Nowhere-{index}")).collect();
    let remove = |alias: &str| {
        format!("{alias}: removeComputers(input: {{ computerNames: $n }}) {{ removedCount }}")
    };
    let amplified = json!({
        "query": format!("mutation($n: [String!]!) {{ {} {} }}", remove("a"), remove("b")),
        "variables": { "n": names },
    });
    let (status, refused) = send_as(&gateway, token, &amplified).await;
    assert_eq!(status, 429, "8 calls never fit a burst of 5: {refused}");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("teams.frugal.burst"))
    );
    assert_eq!(gateway.calls(Endpoint::ComputerRemove), 0);

    let single = json!({ "query": format!("mutation($n: [String!]!) {{ {} }}", remove("a")), "variables": { "n": names } });
    let (status, _) = send_as(&gateway, token, &single).await;
    assert_eq!(status, 200, "4 calls fit");
    assert_eq!(gateway.calls(Endpoint::ComputerRemove), 4);
    let (status, again) = send_as(&gateway, token, &single).await;
    assert_eq!(
        (status, error_code(&again)),
        (429, "RATE_LIMITED"),
        "1 unit left, 4 needed"
    );
    assert_eq!(gateway.calls(Endpoint::ComputerRemove), 4);
}

fn persisted(query: &str) -> Value {
    let hash: String = Sha256::digest(query.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

#[tokio::test]
async fn persisted_queries_are_registered_after_the_checks_and_kept_per_account() {
    let (other, mine) = ("other-account-token-000000", "my-account-token-000000000");
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        let default = settings.accounts["default"].clone();
        settings.accounts.insert("elsewhere".to_owned(), default);
        let mut elsewhere = team(other, &["read"]);
        elsewhere.account = "elsewhere".to_owned();
        settings.teams.insert("elsewhere".to_owned(), elsewhere);
        settings
            .teams
            .insert("mine".to_owned(), team(mine, &["read"]));
    })
    .await;
    let queries: Vec<String> = (0..11)
        .map(|index| format!("query Q{index} {{ __typename }}"))
        .collect();
    let batch: Vec<Value> = queries
        .iter()
        .map(|query| json!({ "query": query, "extensions": persisted(query) }))
        .collect();
    let (status, _) = send_as(&gateway, mine, &Value::Array(batch)).await;
    assert_eq!(status, 400, "11 operations are over graphql.max_batch");
    let by_hash = json!({ "extensions": persisted(&queries[0]) });
    let (_, unknown) = send_as(&gateway, mine, &by_hash).await;
    assert_eq!(
        error_code(&unknown),
        "PERSISTED_QUERY_NOT_FOUND",
        "a refused batch registered nothing"
    );

    let registering = json!({ "query": queries[0], "extensions": persisted(&queries[0]) });
    let (status, _) = send_as(&gateway, mine, &registering).await;
    assert_eq!(status, 200);
    let (_, known) = send_as(&gateway, mine, &by_hash).await;
    assert!(known["data"]["__typename"].is_string(), "{known}");
    let (_, elsewhere) = send_as(&gateway, other, &by_hash).await;
    assert_eq!(
        error_code(&elsewhere),
        "PERSISTED_QUERY_NOT_FOUND",
        "another account cannot tell which queries this one sends"
    );
}

#[tokio::test]
async fn one_teams_junk_operation_names_do_not_crowd_out_anothers() {
    let (squatter, victim) = ("squatter-token-00000000000", "victim-token-0000000000000");
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings
            .teams
            .insert("squatter".to_owned(), team(squatter, &["read"]));
        settings
            .teams
            .insert("victim".to_owned(), team(victim, &["read"]));
    })
    .await;
    for index in 0..300 {
        let name = format!("Junk{index}");
        let body =
            json!({ "query": format!("query {name} {{ __typename }}"), "operationName": name });
        send_as(&gateway, squatter, &body).await;
    }
    let body = json!({ "query": "query VictimDashboard { __typename }", "operationName": "VictimDashboard" });
    send_as(&gateway, victim, &body).await;
    let page = metrics(&gateway.url).await;
    assert!(
        page.contains("operation=\"VictimDashboard\""),
        "the victim's name is its own"
    );
    assert!(page.contains("operation=\"Junk99\""));
    assert!(
        !page.contains("operation=\"Junk100\""),
        "100 names per team"
    );
}

#[tokio::test]
async fn metrics_and_readiness_can_be_served_on_their_own_address() {
    let sim = Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    let mut settings = test_settings(&sim, &temp_store_path());
    settings.server.admin_listen = Some("127.0.0.1:0".parse().expect("address"));
    let app = App::build(settings).await.expect("starts");
    let (main, admin) = (app.addr(), app.admin_addr().expect("admin address bound"));
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    for path in ["/metrics", "/readyz"] {
        let public = reqwest::get(format!("http://{main}{path}"))
            .await
            .expect("answers");
        assert_eq!(public.status(), 404, "{path} is not on the main address");
        let private = reqwest::get(format!("http://{admin}{path}"))
            .await
            .expect("answers");
        assert_eq!(private.status(), 200, "{path} is on the admin address");
    }
    let health = reqwest::get(format!("http://{main}/healthz"))
        .await
        .expect("answers");
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn expired_idempotency_keys_are_swept_in_the_background() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.store.idempotency_ttl = Duration::ZERO;
        settings.store.sweep_interval = Duration::from_millis(20);
    })
    .await;
    let name = gateway.devices_by_status(true)[0].clone();
    let body = json!({
        "query": "mutation($n: String!) { addComputerComment(input: { computerName: $n, comment: \"Swept away\" }) { comment } }",
        "variables": { "n": name },
    });
    let authorization = format!("Bearer {}", crate::helpers::ADMIN_TOKEN);
    let (status, _) = gateway
        .send(
            &body.to_string(),
            &[
                ("authorization", &authorization),
                ("idempotency-key", "sweep-me"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    let url = format!("sqlite://{}?mode=ro", gateway.store_path.display());
    eventually(
        "the expired key to be swept",
        Duration::from_secs(10),
        || async {
            let pool = sqlx::SqlitePool::connect(&url).await.ok()?;
            let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys")
                .fetch_one(&pool)
                .await
                .ok()?;
            pool.close().await;
            (rows == 0).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn the_breaker_gauge_says_half_open_as_soon_as_readiness_does() {
    let token = "breaker-probe-token-000000";
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        let default = settings.accounts["default"].clone();
        settings
            .accounts
            .insert("breaker-probe".to_owned(), default);
        let mut probe = team(token, &["read"]);
        probe.account = "breaker-probe".to_owned();
        settings.teams.insert("probe".to_owned(), probe);
        settings.upstream.breaker_failures = 1;
        settings.upstream.breaker_cooldown = Duration::from_millis(50);
        settings.upstream.retry_attempts = 1;
    })
    .await;
    gateway
        .sim
        .set_outage(Some(remotepc_gateway::simulator::Fault::Status(500)));
    let query = json!({ "query": "{ devices(first: 1) { totalCount } }" });
    let (_, failed) = send_as(&gateway, token, &query).await;
    assert_eq!(error_code(&failed), "UPSTREAM_UNAVAILABLE");
    let readyz = gateway.url.replace("/graphql", "/readyz");
    eventually(
        "readiness to say half-open",
        Duration::from_secs(10),
        || async {
            let ready: Value = reqwest::get(&readyz).await.ok()?.json().await.ok()?;
            (ready["accounts"]["breaker-probe"]["breaker"] == "half_open").then_some(())
        },
    )
    .await;
    let page = metrics(&gateway.url).await;
    assert!(
        page.lines().any(|line| line
            .starts_with("gateway_upstream_breaker_state{account=\"breaker-probe\"}")
            && line.ends_with(" 0.5")),
        "{}",
        page.lines()
            .filter(|line| line.contains("breaker_state"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
