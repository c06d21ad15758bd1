//! A bounded fault soak: readers and writers against a RemotePC that fails
//! one call in three (20 % errors, 5 % resets, 5 % malformed answers, 2 %
//! hangs). Queries must be answered with data (≥ 99 %), no write may reach
//! RemotePC twice, and every write that reached it must be audited. Runs
//! `GATEWAY_SOAK_SECONDS` (default 5; the review's soak was 180).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use remotepc_gateway::settings::StoreSettings;
use remotepc_gateway::simulator::{FaultMix, SimulatorConfig};
use remotepc_gateway::store::{AuditFilter, Store};
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::helpers::{ADMIN_TOKEN, TestGateway, eventually, spawn_gateway_with};

#[derive(Default)]
struct Tally {
    queries: AtomicU64,
    answered: AtomicU64,
    writes: AtomicU64,
    retries: AtomicU64,
}

async fn post(gateway: &TestGateway, body: &Value, key: Option<&str>) -> Option<Value> {
    let mut request = reqwest::Client::new()
        .post(&gateway.url)
        .bearer_auth(ADMIN_TOKEN)
        .timeout(Duration::from_secs(10))
        .json(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.ok()?.json().await.ok()
}

async fn read_until(gateway: &TestGateway, until: Instant, tally: &Tally, reader: usize) {
    let queries = [
        "{ devices(first: 5) { totalCount edges { node { name status } } } }",
        "{ users(first: 5) { totalCount edges { node { username } } } }",
        "{ devices(first: 3, filter: { status: OFFLINE }) { totalCount } }",
    ];
    let mut turn = reader;
    while Instant::now() < until {
        turn += 1;
        let answer = post(
            gateway,
            &json!({ "query": queries[turn % queries.len()] }),
            None,
        )
        .await;
        tally.queries.fetch_add(1, Ordering::Relaxed);
        let data = answer.as_ref().map(|answer| &answer["data"]);
        if data.is_some_and(|data| data["devices"].is_object() || data["users"].is_object()) {
            tally.answered.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Comments devices until `until`; a write whose answer is missing or says
/// the outcome is unknown is sent again under its key, as a client would.
async fn write_until(
    gateway: &TestGateway,
    until: Instant,
    tally: &Tally,
    writer: usize,
    names: &[String],
) {
    let mut count = 0;
    while Instant::now() < until {
        count += 1;
        let comment = format!("Soak write {writer}-{count}");
        let body = json!({
            "query": "mutation($n: String!, $c: String!) { addComputerComment(input: { computerName: $n, comment: $c }) { comment } }",
            "variables": { "n": names[count % names.len()], "c": comment },
        });
        let key = format!("soak-{writer}-{count}");
        tally.writes.fetch_add(1, Ordering::Relaxed);
        for attempt in 0..3 {
            let answer = post(gateway, &body, Some(&key)).await;
            let settled = answer.as_ref().is_some_and(|answer| {
                answer["errors"][0]["extensions"]["outcomeUnknown"] != true
                    && answer["errors"][0]["extensions"]["code"] != "CONFLICT"
            });
            if settled {
                break;
            }
            if attempt < 2 {
                tally.retries.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn soak_seconds() -> u64 {
    std::env::var("GATEWAY_SOAK_SECONDS")
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or(5)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_upstream_faults_queries_are_answered_and_no_write_is_lost_or_repeated() {
    let gateway = Arc::new(
        spawn_gateway_with(
            SimulatorConfig {
                devices: 200,
                ..SimulatorConfig::default()
            },
            |settings| {
                settings.upstream.request_timeout = Duration::from_millis(400);
                settings.upstream.queue_timeout = Duration::from_millis(200);
                settings.upstream.retry_initial_backoff = Duration::from_millis(20);
                settings.upstream.retry_max_elapsed = Duration::from_millis(500);
                settings.upstream.breaker_cooldown = Duration::from_millis(500);
                settings.server.request_timeout = Duration::from_secs(3);
                settings.cache.ttl = Duration::from_millis(300);
                settings.cache.min_refresh_interval = Duration::from_millis(50);
            },
        )
        .await,
    );
    let warm =
        json!({ "query": "{ devices(first: 1) { totalCount } users(first: 1) { totalCount } }" });
    eventually("a first snapshot", Duration::from_secs(10), || async {
        post(&gateway, &warm, None)
            .await
            .filter(|answer| answer["errors"].is_null())
    })
    .await;
    let names: Vec<String> = gateway.devices_by_status(true);
    gateway.sim.set_fault_mix(Some(FaultMix {
        server_errors: 0.20,
        resets: 0.05,
        malformed: 0.05,
        hangs: 0.02,
    }));

    let seconds = soak_seconds();
    let until = Instant::now() + Duration::from_secs(seconds);
    let tally = Arc::new(Tally::default());
    let mut tasks = Vec::new();
    for reader in 0..6 {
        let (gateway, tally) = (Arc::clone(&gateway), Arc::clone(&tally));
        tasks.push(tokio::spawn(async move {
            read_until(&gateway, until, &tally, reader).await
        }));
    }
    for writer in 0..2 {
        let (gateway, tally, names) = (Arc::clone(&gateway), Arc::clone(&tally), names.clone());
        tasks.push(tokio::spawn(async move {
            write_until(&gateway, until, &tally, writer, &names).await
        }));
    }
    for task in tasks {
        task.await.expect("soak task");
    }
    gateway.sim.set_fault_mix(None);

    let store = Store::open(&StoreSettings {
        url: format!("sqlite://{}?mode=rwc", gateway.store_path.display()),
        ..StoreSettings::default()
    })
    .await
    .expect("the store opens beside the gateway");
    let records = eventually("every write to finish", Duration::from_secs(20), || async {
        let records = store
            .audit_records(&AuditFilter::default(), None, 100_000)
            .await
            .ok()?;
        records
            .iter()
            .all(|record| record.outcome != "STARTED")
            .then_some(records)
    })
    .await;
    let audited: std::collections::HashSet<&str> = records
        .iter()
        .filter_map(|record| record.input["comment"].as_str())
        .collect();
    let mut sent: HashMap<String, u32> = HashMap::new();
    for call in gateway.sim.requests(Endpoint::CommentAdd) {
        let comment = call.body["comment_desc"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        *sent.entry(comment).or_default() += 1;
    }
    let duplicated = sent.values().filter(|count| **count > 1).count();
    let unaudited = sent
        .keys()
        .filter(|comment| !audited.contains(comment.as_str()))
        .count();
    let (queries, answered) = (
        tally.queries.load(Ordering::Relaxed),
        tally.answered.load(Ordering::Relaxed),
    );
    let ratio = answered as f64 / queries.max(1) as f64;
    eprintln!(
        "fault soak, {seconds} s: {answered} of {queries} queries answered with data ({:.2} %); {} writes, {} client retries, {} reached RemotePC; duplicated writes {duplicated}; unaudited upstream writes {unaudited}",
        ratio * 100.0,
        tally.writes.load(Ordering::Relaxed),
        tally.retries.load(Ordering::Relaxed),
        sent.len(),
    );
    store.close().await;
    assert!(queries > 50, "the soak ran: {queries} queries");
    assert!(ratio >= 0.99, "{answered} of {queries} answered with data");
    assert_eq!(duplicated, 0, "a write reached RemotePC twice");
    assert_eq!(
        unaudited, 0,
        "a write reached RemotePC without an audit record"
    );
}
