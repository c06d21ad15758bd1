//! The store failing under a running gateway, as a full disk does: pings
//! still answer, writes fail. SQLite triggers that abort writes stand in
//! for the disk. A keyed write refused because its key cannot be recorded
//! is a 503 that says nothing was sent; `/readyz` reports the store until
//! it takes writes again; and a write whose records could not be
//! completed has them completed once the store recovers.

use std::time::Duration;

use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_TOKEN, TestGateway, audit_log, eventually, spawn_gateway_with, upstream_reported,
};

async fn store_of(gateway: &TestGateway) -> sqlx::SqlitePool {
    let url = format!("sqlite://{}", gateway.store_path.display());
    sqlx::SqlitePool::connect(&url)
        .await
        .expect("the store file opens")
}

/// Makes every `action` (INSERT, UPDATE) on `table` fail, as a full disk.
async fn break_writes(pool: &sqlx::SqlitePool, table: &str, action: &str) {
    let name = format!("fail_{table}_{}", action.to_lowercase());
    let trigger = format!(
        "CREATE TRIGGER {name} BEFORE {action} ON {table} BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    );
    sqlx::query(&trigger)
        .execute(pool)
        .await
        .expect("trigger created");
}

async fn mend(pool: &sqlx::SqlitePool) {
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'fail_%'",
    )
    .fetch_all(pool)
    .await
    .expect("triggers listed");
    for (name,) in names {
        sqlx::query(&format!("DROP TRIGGER {name}"))
            .execute(pool)
            .await
            .expect("dropped");
    }
}

async fn keyed_comment(gateway: &TestGateway, key: &str, host: &str) -> reqwest::Response {
    let body = json!({
        "query": "mutation($input: AddComputerCommentInput!) { addComputerComment(input: $input) { comment } }",
        "variables": { "input": { "computerName": host, "comment": "kept through a full disk" } },
    });
    gateway
        .http
        .post(&gateway.url)
        .bearer_auth(ADMIN_TOKEN)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .expect("answered")
}

async fn readyz(gateway: &TestGateway) -> (u16, Value) {
    let response = reqwest::get(gateway.url.replace("/graphql", "/readyz"))
        .await
        .expect("readyz");
    (
        response.status().as_u16(),
        response.json().await.expect("JSON"),
    )
}

#[tokio::test]
async fn a_keyed_write_the_store_cannot_record_is_a_503_and_readyz_says_so_until_it_recovers() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |_| {}).await;
    let pool = store_of(&gateway).await;
    break_writes(&pool, "idempotency_keys", "INSERT").await;
    let host = gateway.devices_by_status(true)[0].clone();
    let refused = keyed_comment(&gateway, "full-disk-1", &host).await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "STORE_UNAVAILABLE",
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("nothing was sent"), "{message}");
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 0);

    let (status, report) = readyz(&gateway).await;
    assert_eq!(
        (status, &report["store"]),
        (503, &json!("writes failing")),
        "{report}"
    );
    mend(&pool).await;
    let (status, report) = readyz(&gateway).await;
    assert_eq!((status, &report["store"]), (200, &json!("ok")), "{report}");
}

#[tokio::test]
async fn records_the_store_refused_to_complete_are_completed_when_it_recovers() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |_| {}).await;
    let pool = store_of(&gateway).await;
    break_writes(&pool, "audit_log", "UPDATE").await;
    break_writes(&pool, "idempotency_keys", "UPDATE").await;
    let host = gateway.devices_by_status(true)[0].clone();
    let answered = keyed_comment(&gateway, "full-disk-2", &host).await;
    assert_eq!(answered.status(), 200);
    let body: Value = answered.json().await.expect("JSON");
    assert_eq!(
        upstream_reported(body, "admin", 1),
        json!({ "data": { "addComputerComment": { "comment": "kept through a full disk" } } }),
        "the write was made: the client is told so"
    );
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 1);

    mend(&pool).await;
    let record = eventually(
        "the audit record to be completed",
        Duration::from_secs(30),
        || async {
            let records = audit_log(&gateway).await;
            records
                .into_iter()
                .find(|record| record["outcome"] != "STARTED")
        },
    )
    .await;
    assert_eq!(
        (&record["operation"], &record["outcome"]),
        (&json!("addComputerComment"), &json!("OK"))
    );
    let replay = eventually(
        "the key to replay its answer",
        Duration::from_secs(30),
        || async {
            let again = keyed_comment(&gateway, "full-disk-2", &host).await;
            let replayed = again.headers().contains_key("idempotent-replayed");
            let body: Value = again.json().await.ok()?;
            replayed.then_some(body)
        },
    )
    .await;
    assert_eq!(
        replay["data"]["addComputerComment"]["comment"],
        "kept through a full disk"
    );
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 1, "never sent twice");
}
