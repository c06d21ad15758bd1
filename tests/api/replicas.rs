//! Several gateway processes (the real binary) sharing Redis and the store
//! act as one: one RemotePC read per page for all, writes visible on every
//! replica, one quota. Needs Redis: `#[ignore]`d, so `cargo test` lists
//! them as ignored; `.ci/run` sets `GATEWAY_TEST_REDIS_URL` and runs them. The store is
//! PostgreSQL (in a schema of their own) when `GATEWAY_TEST_POSTGRES_URL` is set, else one SQLite file.

use std::time::Duration;

use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{remove_store, temp_store_path};
use crate::process::start_binary_with;

/// Three replicas over one simulator.
pub(crate) struct Replicas {
    pub(crate) sim: Simulator,
    pub(crate) urls: Vec<String>,
    pub(crate) processes: Vec<tokio::process::Child>,
    pub(crate) token: String,
    /// Every Redis key and channel of these replicas starts with it.
    pub(crate) prefix: String,
    store_path: std::path::PathBuf,
    secret_path: std::path::PathBuf,
    /// The PostgreSQL schema these replicas' store lives in, if any.
    postgres: Option<PrivateSchema>,
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.start_kill();
        }
        if let Some(schema) = self.postgres.take() {
            schema.drop_all();
        }
        remove_store(&self.store_path);
        let _ = std::fs::remove_file(&self.secret_path);
    }
}

/// A PostgreSQL schema of one set of replicas. The database outlives the
/// test and other tests share it under the same account name (`default`):
/// in one schema, their change logs would be one log, and a subscriber
/// would hear another test's churn.
struct PrivateSchema {
    server: String,
    name: String,
}

impl PrivateSchema {
    /// Creates the schema `name` on the PostgreSQL at `server`, and the
    /// store URL whose connections use it.
    async fn create(server: &str, name: &str) -> (Self, String) {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(server)
            .await
            .expect("the test PostgreSQL answers");
        sqlx::query(&format!("CREATE SCHEMA \"{name}\""))
            .execute(&pool)
            .await
            .expect("a schema of the replicas' own");
        pool.close().await;
        let joiner = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{joiner}options[search_path]={name}");
        let schema = Self {
            server: server.to_owned(),
            name: name.to_owned(),
        };
        (schema, url)
    }

    /// Drops the schema and its tables, from a thread of its own: `Drop`
    /// cannot await, and may run inside the test's runtime.
    fn drop_all(self) {
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the schema");
            runtime.block_on(async {
                let pool = sqlx::AnyPool::connect(&self.server).await?;
                let statement = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
                sqlx::query(&statement).execute(&pool).await?;
                pool.close().await;
                Ok::<_, sqlx::Error>(())
            })
        });
        if let Ok(Err(error)) = dropped.join() {
            eprintln!("the replicas' schema {name} stays: {error}");
        }
    }
}

/// Redis for the tests: these are `#[ignore]`d unless run on purpose
/// (`.ci/run` sets the URL and runs them), so a missing URL is a failure.
pub(crate) fn test_redis() -> String {
    std::env::var("GATEWAY_TEST_REDIS_URL").expect(
        "GATEWAY_TEST_REDIS_URL names the Redis these tests share (redis://127.0.0.1:6379/0)",
    )
}

impl Replicas {
    /// `count` replicas of a gateway over a simulator of `devices` devices,
    /// sharing `redis`, with `settings` as extra `GATEWAY__…` variables.
    pub(crate) async fn start(
        redis: &str,
        count: usize,
        devices: usize,
        settings: &[(&str, &str)],
    ) -> Self {
        let sim = Simulator::start(SimulatorConfig {
            devices,
            latency: Duration::from_millis(5),
            ..SimulatorConfig::default()
        })
        .await
        .expect("simulator");
        let store_path = temp_store_path();
        let prefix = format!(
            "gateway-test-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let (postgres, store_url) = match std::env::var("GATEWAY_TEST_POSTGRES_URL") {
            Ok(server) => {
                let (schema, url) = PrivateSchema::create(&server, &prefix.replace('-', "_")).await;
                (Some(schema), url)
            }
            Err(_) => (None, format!("sqlite://{}?mode=rwc", store_path.display())),
        };
        let token = format!("replica-token-{prefix}");
        let replicas = count.to_string();
        let secret_path = store_path.with_extension("secret");
        let secret: String = (0..64)
            .map(|_| char::from(b"0123456789abcdef"[rand::random::<u8>() as usize % 16]))
            .collect();
        std::fs::write(&secret_path, secret).expect("the replicas' secret is written");
        let secret_file = secret_path.display().to_string();
        let mut all: Vec<(&str, &str)> = vec![
            ("GATEWAY__CLUSTER__REDIS_URL", redis),
            ("GATEWAY__CLUSTER__SECRET_FILE", &secret_file),
            ("GATEWAY__CLUSTER__KEY_PREFIX", &prefix),
            ("GATEWAY__CLUSTER__REPLICAS", &replicas),
            ("GATEWAY__CLUSTER__LEASE", "1s"),
            ("GATEWAY__TEAMS__OPS__BURST", "100000"),
            ("GATEWAY__TEAMS__OPS__REQUESTS_PER_MINUTE", "600000"),
        ];
        all.extend_from_slice(settings);
        let (mut urls, mut processes) = (Vec::new(), Vec::new());
        for _ in 0..count {
            let (process, addr) = start_binary_with(&sim, &store_url, &token, &all).await;
            urls.push(format!("http://{addr}/graphql"));
            processes.push(process);
        }
        Self {
            sim,
            urls,
            processes,
            token,
            prefix,
            store_path,
            secret_path,
            postgres,
        }
    }

    /// The first device's host name.
    pub(crate) fn first_device(&self) -> String {
        self.sim
            .state(|state| {
                state
                    .devices()
                    .next()
                    .map(|device| device.host_name.clone())
            })
            .expect("a device")
    }

    /// Runs `query` on replica `index`.
    pub(crate) async fn gql(&self, index: usize, query: &str, variables: Value) -> Value {
        reqwest::Client::new()
            .post(&self.urls[index])
            .bearer_auth(&self.token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("answered")
            .json()
            .await
            .expect("JSON")
    }
}

/// Sets `$n`'s comment to `$c`.
pub(crate) const COMMENT: &str = "mutation($n: String!, $c: String!) { addComputerComment(input: { computerName: $n, comment: $c }) { comment } }";

pub(crate) const COUNT: &str = "{ devices(first: 1) { totalCount } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn three_replicas_read_each_page_once_between_them() {
    let redis = test_redis();
    let replicas = Replicas::start(&redis, 3, 1_200, &[("GATEWAY__CACHE__TTL", "5s")]).await;
    let pages = 3; // 1,200 devices, 500 a page
    let client = reqwest::Client::new();
    let mut queries = Vec::new();
    for index in 0..300 {
        let request = client
            .post(&replicas.urls[index % 3])
            .bearer_auth(&replicas.token)
            .json(&json!({"query": COUNT}))
            .send();
        queries.push(request);
    }
    for answer in futures::future::join_all(queries).await {
        let body: Value = answer.expect("answered").json().await.expect("JSON");
        assert_eq!(body["data"]["devices"]["totalCount"], 1_200, "{body}");
    }
    assert_eq!(
        replicas.sim.calls(Endpoint::ComputerList),
        pages,
        "one read per page for 300 queries on 3 replicas"
    );

    // Past the TTL, every replica refreshes: still one read per page.
    crate::helpers::eventually(
        "a refresh past the TTL",
        Duration::from_secs(20),
        || async {
            for index in 0..3 {
                let body = replicas.gql(index, COUNT, json!({})).await;
                assert_eq!(body["data"]["devices"]["totalCount"], 1_200, "{body}");
            }
            (replicas.sim.calls(Endpoint::ComputerList) >= 2 * pages).then_some(())
        },
    )
    .await;
    for _ in 0..2 {
        for index in 0..3 {
            replicas.gql(index, COUNT, json!({})).await;
        }
    }
    assert_eq!(
        replicas.sim.calls(Endpoint::ComputerList),
        2 * pages,
        "the second round is one read per page too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn a_write_through_one_replica_shows_on_the_others_next_query() {
    let redis = test_redis();
    let replicas = Replicas::start(&redis, 3, 50, &[]).await;
    let query = "query($n: String!) { device(name: $n) { comment } }";
    let name = replicas.first_device();
    for index in 0..3 {
        replicas.gql(index, query, json!({"n": name})).await;
    }
    for writer in 0..3 {
        let text = format!("written through replica {writer}");
        let written = replicas
            .gql(writer, COMMENT, json!({"n": name, "c": text}))
            .await;
        assert!(written["errors"].is_null(), "{written}");
        for reader in 0..3 {
            let read = replicas.gql(reader, query, json!({"n": name})).await;
            assert_eq!(
                read["data"]["device"]["comment"],
                text.as_str(),
                "replica {reader} after a write through {writer}"
            );
        }
    }
    assert_eq!(
        replicas.sim.calls(Endpoint::ComputerList),
        1,
        "no replica read RemotePC again to see the writes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn one_idempotency_key_sent_to_two_replicas_at_once_runs_once() {
    let redis = test_redis();
    let replicas = Replicas::start(&redis, 2, 50, &[]).await;
    let name = replicas.first_device();
    let body = json!({
        "query": "mutation($n: String!) { addComputerComment(input: { computerName: $n, comment: \"written once\" }) { comment } }",
        "variables": {"n": name},
    });
    // The store may be a PostgreSQL that outlives the test: a key of its own.
    let key = format!("replicated-{}", replicas.token);
    let send = |index: usize| {
        reqwest::Client::new()
            .post(&replicas.urls[index])
            .bearer_auth(&replicas.token)
            .header("idempotency-key", key.as_str())
            .json(&body)
            .send()
    };
    let (first, second) = tokio::join!(send(0), send(1));
    let (first, second) = (first.expect("answered"), second.expect("answered"));
    let statuses = [first.status().as_u16(), second.status().as_u16()];
    let bodies = [
        first.text().await.unwrap_or_default(),
        second.text().await.unwrap_or_default(),
    ];
    assert!(statuses.contains(&200), "{statuses:?} {bodies:?}");
    assert!(
        statuses.iter().all(|status| [200, 409].contains(status)),
        "{statuses:?}"
    );
    assert_eq!(
        replicas.sim.calls(Endpoint::CommentAdd),
        1,
        "the write ran once: {bodies:?}"
    );
    // A replay on the other replica answers the recorded response.
    let replay = send(1).await.expect("answered");
    assert_eq!(
        replay
            .headers()
            .get("idempotent-replayed")
            .map(|value| value.as_bytes()),
        Some(&b"true"[..])
    );
    assert_eq!(replicas.sim.calls(Endpoint::CommentAdd), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn a_lease_holder_killed_mid_refresh_is_replaced_and_no_query_fails() {
    let redis = test_redis();
    let mut replicas = Replicas::start(&redis, 3, 50, &[]).await;
    replicas.sim.set_latency(Duration::from_millis(1_500));
    let ask = |index: usize| {
        let (url, token) = (replicas.urls[index].clone(), replicas.token.clone());
        tokio::spawn(async move {
            let sent = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&json!({"query": COUNT}))
                .send()
                .await;
            match sent {
                Ok(response) => response.json::<Value>().await.ok(),
                Err(_) => None,
            }
        })
    };
    let holder = ask(0);
    crate::helpers::until_called(&replicas.sim, Endpoint::ComputerList).await;
    let waiting = [ask(1), ask(2)];
    replicas.processes[0]
        .start_kill()
        .expect("kill -9 the lease holder");
    let _ = holder.await;
    replicas.sim.set_latency(Duration::from_millis(5));
    let answers = tokio::time::timeout(Duration::from_secs(20), futures::future::join_all(waiting))
        .await
        .expect("the other replicas answer after the lease expires");
    for answer in answers {
        let answer = answer.expect("task").expect("an answer");
        assert_eq!(answer["data"]["devices"]["totalCount"], 50, "{answer}");
    }
    assert_eq!(
        replicas.sim.calls(Endpoint::ComputerList),
        2,
        "the dead holder's read, then one more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn a_write_through_a_replica_holding_no_snapshot_is_still_seen_elsewhere() {
    let redis = test_redis();
    let replicas = Replicas::start(&redis, 2, 50, &[]).await;
    let query = "query($n: String!) { device(name: $n) { comment } }";
    let name = replicas.first_device();
    // Only replica 1 has read the devices; replica 0 writes blind.
    replicas.gql(1, query, json!({"n": name})).await;
    let written = replicas
        .gql(0, COMMENT, json!({"n": name, "c": "written blind"}))
        .await;
    assert!(written["errors"].is_null(), "{written}");
    crate::helpers::eventually(
        "the write to show on replica 1",
        Duration::from_secs(10),
        || async {
            let read = replicas.gql(1, query, json!({"n": name})).await;
            (read["data"]["device"]["comment"] == "written blind").then_some(())
        },
    )
    .await;
}
