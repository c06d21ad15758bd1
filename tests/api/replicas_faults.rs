//! Replicas when Redis fails: they keep answering (each enforcing 1/N of
//! every limit and reading RemotePC itself), writes are still audited and
//! run once, `/readyz` says so, and shared mode comes back by itself. The
//! test runs its own `redis-server` on a free port, so it can stop it.

use std::process::Stdio;
use std::time::Duration;

use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::eventually;
use crate::replicas::{COMMENT, Replicas};

/// A `redis-server` of the test's own, keeping nothing on disk.
struct OwnRedis {
    process: tokio::process::Child,
    port: u16,
}

impl OwnRedis {
    /// Starts one on `port` (a free one when `None`); `None` when Debian's
    /// `redis-server` is not installed.
    async fn start(port: Option<u16>) -> Option<Self> {
        let port = match port {
            Some(port) => port,
            None => std::net::TcpListener::bind("127.0.0.1:0")
                .ok()?
                .local_addr()
                .ok()?
                .port(),
        };
        let process = tokio::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let Ok(process) = process else {
            eprintln!("redis-server is not installed: skipping a test that stops Redis");
            return None;
        };
        let url = format!("redis://127.0.0.1:{port}/0");
        eventually(
            "the test's redis-server to answer",
            Duration::from_secs(10),
            || async {
                let client = redis::Client::open(url.as_str()).ok()?;
                let mut connection = client.get_multiplexed_async_connection().await.ok()?;
                redis::cmd("PING")
                    .query_async::<String>(&mut connection)
                    .await
                    .ok()
            },
        )
        .await;
        Some(Self { process, port })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    async fn stop(mut self) -> u16 {
        let _ = self.process.kill().await;
        self.port
    }
}

async fn readyz(url: &str) -> Value {
    reqwest::get(url.replace("/graphql", "/readyz"))
        .await
        .expect("readyz answers")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn replicas_keep_serving_without_redis_and_share_again_when_it_is_back() {
    crate::replicas::test_redis();
    let redis = OwnRedis::start(None)
        .await
        .expect("redis-server installed (Debian's package), as beside the Redis the suite uses");
    let settings = [("GATEWAY__CLUSTER__COMMAND_TIMEOUT", "100ms")];
    let replicas = Replicas::start(&redis.url(), 2, 50, &settings).await;
    let count = "{ devices(first: 1) { totalCount } }";
    for index in 0..2 {
        let answer = replicas.gql(index, count, json!({})).await;
        assert_eq!(answer["data"]["devices"]["totalCount"], 50, "{answer}");
    }
    assert_eq!(readyz(&replicas.urls[0]).await["cluster"]["mode"], "shared");

    let port = redis.stop().await;
    for index in 0..2 {
        let answer = replicas.gql(index, count, json!({})).await;
        assert_eq!(answer["data"]["devices"]["totalCount"], 50, "{answer}");
    }
    let name = replicas.first_device();
    let text = format!("without redis {:08x}", rand::random::<u32>());
    let written = replicas
        .gql(0, COMMENT, json!({"n": name, "c": text}))
        .await;
    assert!(written["errors"].is_null(), "{written}");
    assert_eq!(replicas.sim.calls(Endpoint::CommentAdd), 1, "sent once");
    // The store may be shared with other tests: find this write's record.
    let audit = replicas
        .gql(
            1,
            "{ auditLog(first: 100) { edges { node { operation outcome input } } } }",
            json!({}),
        )
        .await;
    let recorded = audit["data"]["auditLog"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{audit}"))
        .iter()
        .any(|edge| {
            edge["node"]["operation"] == "addComputerComment"
                && edge["node"]["input"].to_string().contains(&text)
        });
    assert!(recorded, "the write is in the audit log: {audit}");
    let report = readyz(&replicas.urls[0]).await;
    assert_eq!(
        (
            report["status"].as_str(),
            report["cluster"]["mode"].as_str()
        ),
        (Some("degraded"), Some("fallback")),
        "{report}"
    );

    let _back = OwnRedis::start(Some(port))
        .await
        .expect("redis starts again");
    eventually("shared mode to resume", Duration::from_secs(20), || async {
        (readyz(&replicas.urls[0]).await["cluster"]["mode"] == "shared").then_some(())
    })
    .await;
    let answer = replicas.gql(1, count, json!({})).await;
    assert_eq!(answer["data"]["devices"]["totalCount"], 50, "{answer}");
}
