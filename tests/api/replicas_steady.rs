//! Under steady writes the shared snapshot is still renewed: a refresh
//! that a write overlapped publishes what it read with the write's patch
//! (from the patch log) applied over it, so what changed in RemotePC
//! meanwhile reaches every replica. (Before, such a refresh was never
//! published, and under writes every 0.5 s replicas served data far older
//! than `cache.ttl`.) Needs Redis (`GATEWAY_TEST_REDIS_URL`).

use std::time::Duration;

use redis::AsyncCommands;
use remotepc_gateway::simulator::Fault;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::eventually;
use crate::replicas::{COMMENT, COUNT, Replicas, test_redis};

/// The shared snapshot's item named `name`.
fn shared_item(stored: &[u8], name: &str) -> Value {
    let snapshot: Value = serde_json::from_slice(&stored[32..]).expect("a signed snapshot");
    snapshot["items"]
        .as_array()
        .and_then(|items| items.iter().find(|item| item["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("{name} in the shared snapshot"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn a_refresh_overlapping_a_write_still_renews_the_shared_snapshot() {
    let url = test_redis();
    let settings = [("GATEWAY__CACHE__MIN_REFRESH_INTERVAL", "0s")];
    let replicas = Replicas::start(&url, 2, 50, &settings).await;
    let online: Vec<String> = replicas.sim.state(|state| {
        state
            .devices()
            .filter(|device| device.online)
            .map(|device| device.host_name.clone())
            .collect()
    });
    let (changed, written) = (online[0].clone(), online[1].clone());
    let warm = replicas.gql(0, COUNT, json!({})).await;
    assert_eq!(warm["data"]["devices"]["totalCount"], 50, "{warm}");
    let reads = replicas.sim.calls(Endpoint::ComputerList);

    // RemotePC changes on its own; the next read is slow, and a write
    // through the reading replica lands while it runs.
    replicas
        .sim
        .state(|state| state.set_online(&changed, false));
    replicas.sim.fail_next(
        Endpoint::ComputerList,
        Fault::Latency(Duration::from_secs(2)),
    );
    let refresh = {
        let (url, token) = (replicas.urls[0].clone(), replicas.token.clone());
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "query": "{ devices(refresh: true) { totalCount } }" }))
                .send()
                .await
                .expect("answered")
                .status()
        })
    };
    eventually("the refresh's read", Duration::from_secs(10), || async {
        (replicas.sim.calls(Endpoint::ComputerList) > reads).then_some(())
    })
    .await;
    let wrote = replicas
        .gql(
            0,
            COMMENT,
            json!({ "n": written, "c": "written during a refresh" }),
        )
        .await;
    assert!(wrote["errors"].is_null(), "{wrote}");
    assert_eq!(refresh.await.expect("the refresh ran"), 200);

    let mut redis = redis::Client::open(url.as_str())
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let key = format!("{}:snap:default:devices", replicas.prefix);
    let stored: Vec<u8> = redis.get(&key).await.expect("the shared snapshot");
    assert_eq!(
        shared_item(&stored, &changed)["status"],
        "Offline",
        "the refresh was published: RemotePC's change is shared"
    );
    assert_eq!(
        shared_item(&stored, &written)["comment"],
        "written during a refresh",
        "with the write applied over it"
    );
    let read = replicas
        .gql(
            1,
            "query($n: String!) { device(name: $n) { status } }",
            json!({ "n": changed }),
        )
        .await;
    assert_eq!(read["data"]["device"]["status"], "OFFLINE", "{read}");
}
