//! Redis is shared with other clients, so what replicas hand each other
//! through it is signed under `cluster.secret_file`: a snapshot planted in
//! Redis, or a patch published there, by anyone without the secret is
//! dropped, never served. Needs Redis (`GATEWAY_TEST_REDIS_URL`).

use redis::AsyncCommands;
use serde_json::{Value, json};

use crate::replicas::{COMMENT, COUNT, Replicas, test_redis};

async fn redis_of(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers")
}

/// The shared snapshot's JSON, whether or not it is signed.
fn snapshot_json(stored: &[u8]) -> Value {
    let json = if stored.first() == Some(&b'{') {
        stored
    } else {
        &stored[32..]
    };
    serde_json::from_slice(json).expect("a snapshot")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn a_snapshot_planted_in_redis_is_not_served() {
    let url = test_redis();
    let replicas = Replicas::start(&url, 2, 50, &[("GATEWAY__CACHE__TTL", "60s")]).await;
    let warm = replicas.gql(0, COUNT, json!({})).await;
    assert_eq!(warm["data"]["devices"]["totalCount"], 50, "{warm}");
    let mut redis = redis_of(&url).await;
    let key = format!("{}:snap:default:devices", replicas.prefix);
    let stored: Vec<u8> = redis.get(&key).await.expect("the shared snapshot");
    let mut planted = snapshot_json(&stored);
    planted["items"].as_array_mut().expect("items").truncate(1);
    let _: () = redis.set(&key, planted.to_string()).await.expect("planted");

    let read = replicas.gql(1, COUNT, json!({})).await;
    assert_eq!(
        read["data"]["devices"]["totalCount"], 50,
        "the planted snapshot is dropped: {read}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn a_patch_published_by_another_redis_client_is_not_applied() {
    let url = test_redis();
    let replicas = Replicas::start(&url, 2, 50, &[("GATEWAY__CACHE__TTL", "60s")]).await;
    let name = replicas.first_device();
    for index in 0..2 {
        let warm = replicas.gql(index, COUNT, json!({})).await;
        assert_eq!(warm["data"]["devices"]["totalCount"], 50, "{warm}");
    }
    let mut redis = redis_of(&url).await;
    let forged = json!({ "origin": "mallory", "account": "default", "collection": "devices", "removed": [name], "upserted": [] });
    let channel = format!("{}:patches", replicas.prefix);
    let _: i64 = redis
        .publish(&channel, forged.to_string())
        .await
        .expect("published");

    // A real write through replica 1 reaches replica 0 after the forged
    // patch (one channel keeps its order): then the forgery was judged.
    let written = replicas
        .gql(1, COMMENT, json!({ "n": name, "c": "signed" }))
        .await;
    assert!(written["errors"].is_null(), "{written}");
    let query = "query($n: String!) { device(name: $n) { comment } }";
    crate::helpers::eventually(
        "the signed patch to reach replica 0",
        std::time::Duration::from_secs(10),
        || async {
            let read = replicas.gql(0, query, json!({ "n": name })).await;
            (read["data"]["device"]["comment"] == "signed").then_some(())
        },
    )
    .await;
    let count = replicas.gql(0, COUNT, json!({})).await;
    assert_eq!(
        count["data"]["devices"]["totalCount"], 50,
        "the forged removal is dropped: {count}"
    );
}
