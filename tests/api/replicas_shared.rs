//! What replicas share besides snapshots: one quota and one upstream rate
//! for all, persisted queries, and subscribers hearing writes made
//! through another replica.

use std::time::Duration;

use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::replicas::{COMMENT, COUNT, Replicas, test_redis};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn a_subscriber_on_one_replica_hears_a_write_through_another() {
    use crate::live_client::{WAIT, WsClient};
    let redis = test_redis();
    let replicas = Replicas::start(&redis, 2, 50, &[]).await;
    for index in 0..2 {
        replicas.gql(index, COUNT, json!({})).await;
    }
    let mut client = WsClient::connect(&replicas.urls[1], &replicas.token).await;
    client
        .subscribe(
            "r",
            "subscription { deviceChanges { kind to device { name } } }",
            json!({}),
        )
        .await;
    let name = replicas.first_device();
    // Written through replica 0 until replica 1's subscriber hears one
    // (a subscribe has no acknowledgement).
    let deadline = tokio::time::Instant::now() + WAIT;
    for probe in 0.. {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {WAIT:?} for the event on the other replica"
        );
        let text = format!("through replica 0, probe {probe}");
        let written = replicas
            .gql(0, COMMENT, json!({"n": name, "c": text}))
            .await;
        assert!(written["errors"].is_null(), "{written}");
        let heard = client
            .within(Duration::from_millis(300), |message| {
                message["id"] == "r" && message["type"] == "next"
            })
            .await;
        if let Some(heard) = heard {
            let change = &heard["payload"]["data"]["deviceChanges"];
            assert_eq!(change["kind"], "COMMENT_CHANGED", "{heard}");
            assert_eq!(change["device"]["name"], name.as_str(), "{heard}");
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn a_persisted_query_registered_on_one_replica_is_known_to_the_others() {
    use sha2::{Digest, Sha256};
    let redis = test_redis();
    let replicas = Replicas::start(&redis, 2, 50, &[]).await;
    let query = format!(
        "{{ devices(first: 2) {{ totalCount }} }} # {}",
        replicas.token.len()
    );
    let hash: String = Sha256::digest(query.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}});
    let send = |index: usize, body: Value| {
        reqwest::Client::new()
            .post(&replicas.urls[index])
            .bearer_auth(&replicas.token)
            .json(&body)
            .send()
    };
    let unknown: Value = send(1, json!({"extensions": extensions}))
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        unknown["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND",
        "{unknown}"
    );
    let registered: Value = send(0, json!({"query": query, "extensions": extensions}))
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        registered["data"]["devices"]["totalCount"], 50,
        "{registered}"
    );
    crate::helpers::eventually(
        "the hash to be known on replica 1",
        Duration::from_secs(10),
        || async {
            let answer: Value = send(1, json!({"extensions": extensions}))
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (answer["data"]["devices"]["totalCount"] == 50).then_some(())
        },
    )
    .await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn the_accounts_upstream_rate_holds_across_replicas() {
    let redis = test_redis();
    let settings = [
        ("GATEWAY__UPSTREAM__RATE_PER_SECOND", "4"),
        ("GATEWAY__UPSTREAM__BURST", "4"),
        ("GATEWAY__UPSTREAM__QUEUE_TIMEOUT", "30s"),
        ("GATEWAY__SERVER__REQUEST_TIMEOUT", "60s"),
    ];
    let replicas = Replicas::start(&redis, 3, 50, &settings).await;
    let names: Vec<String> = replicas.sim.state(|state| {
        state
            .devices()
            .take(24)
            .map(|device| device.host_name.clone())
            .collect()
    });
    let comment = "mutation($n: String!) { addComputerComment(input: { computerName: $n, comment: \"rate limited\" }) { comment } }";
    let started = std::time::Instant::now();
    let writes = names
        .iter()
        .enumerate()
        .map(|(index, name)| replicas.gql(index % 3, comment, json!({"n": name})));
    for written in futures::future::join_all(writes).await {
        assert!(written["errors"].is_null(), "{written}");
    }
    let elapsed = started.elapsed();
    assert_eq!(replicas.sim.calls(Endpoint::CommentAdd), 24);
    // 24 calls at 4 a second after a burst of 4 take 5 s for the account;
    // three replicas each allowed 4 a second would have taken 1 s.
    assert!(
        elapsed >= Duration::from_millis(4_500),
        "24 calls in {elapsed:?}: faster than the account's rate allows"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn a_teams_quota_holds_across_replicas_within_one_burst() {
    let redis = test_redis();
    let settings = [
        ("GATEWAY__TEAMS__OPS__BURST", "10"),
        ("GATEWAY__TEAMS__OPS__REQUESTS_PER_MINUTE", "1"),
    ];
    let replicas = Replicas::start(&redis, 3, 50, &settings).await;
    let mut statuses = Vec::new();
    for index in 0..30 {
        let response = reqwest::Client::new()
            .post(&replicas.urls[index % 3])
            .bearer_auth(&replicas.token)
            .json(&json!({"query": COUNT}))
            .send()
            .await
            .expect("answered");
        statuses.push(response.status().as_u16());
    }
    let allowed = statuses.iter().filter(|status| **status == 200).count();
    let refused = statuses.iter().filter(|status| **status == 429).count();
    assert_eq!(
        (allowed, refused),
        (10, 20),
        "one burst of 10 for the team over three replicas: {statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn subscribers_on_two_replicas_cost_one_poll_between_them() {
    use crate::live_client::WsClient;
    let redis = test_redis();
    let settings = [
        ("GATEWAY__CACHE__MIN_REFRESH_INTERVAL", "100ms"),
        ("GATEWAY__LIVE__POLL_INTERVAL", "500ms"),
    ];
    let replicas = Replicas::start(&redis, 2, 50, &settings).await;
    let subscription = "subscription { deviceChanges { kind device { name } } }";
    let mut clients = Vec::new();
    for index in 0..2 {
        let mut client = WsClient::connect(&replicas.urls[index], &replicas.token).await;
        client.subscribe("s", subscription, json!({})).await;
        clients.push(client);
    }
    let started = std::time::Instant::now();
    let before = replicas.sim.calls(Endpoint::ComputerList);
    let name = replicas.first_device();
    // Changes until both replicas' subscribers have heard one: both poll.
    for client in &mut clients {
        loop {
            replicas.sim.state(|state| {
                let online = state.device(&name).is_some_and(|device| device.online);
                state.set_online(&name, !online)
            });
            let heard = client
                .within(Duration::from_millis(1_500), |message| {
                    message["type"] == "next"
                })
                .await;
            if heard.is_some() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no event in 20 s"
            );
        }
    }
    let reads = replicas.sim.calls(Endpoint::ComputerList) - before;
    let intervals = started.elapsed().as_millis() as u64 / 500 + 2;
    assert!(
        reads <= intervals,
        "{reads} list reads in {intervals} poll intervals for two replicas polling"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn weights_hold_between_teams_on_different_replicas() {
    use crate::helpers::eventually;
    use crate::process::second_team_token;
    let redis = test_redis();
    let settings = [
        ("GATEWAY__UPSTREAM__RATE_PER_SECOND", "10"),
        ("GATEWAY__UPSTREAM__BURST", "1"),
        ("GATEWAY__UPSTREAM__QUEUE_TIMEOUT", "30s"),
        ("GATEWAY__SERVER__REQUEST_TIMEOUT", "60s"),
        ("GATEWAY__TEAMS__OPS__UPSTREAM_WEIGHT", "2"),
        ("GATEWAY__TEAMS__SECOND__BURST", "100000"),
        ("GATEWAY__TEAMS__SECOND__REQUESTS_PER_MINUTE", "600000"),
    ];
    let replicas = Replicas::start(&redis, 2, 100, &settings).await;
    let names: Vec<String> = replicas.sim.state(|state| {
        state
            .devices()
            .take(40)
            .map(|device| device.host_name.clone())
            .collect()
    });
    let second = second_team_token(&replicas.token);
    // `ops` (weight 2) writes through replica 0, `second` (weight 1)
    // through replica 1, both always with calls waiting.
    let mut writers = Vec::new();
    for (index, name) in names.iter().enumerate() {
        for (replica, token, team) in [(0, &replicas.token, "ops"), (1, &second, "second")] {
            let (url, token) = (replicas.urls[replica].clone(), token.clone());
            let body = json!({ "query": COMMENT, "variables": { "n": name, "c": format!("{team} {index}") } });
            writers.push(tokio::spawn(async move {
                let _ = reqwest::Client::new()
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await;
            }));
        }
    }
    let comments = || {
        replicas
            .sim
            .requests(Endpoint::CommentAdd)
            .iter()
            .map(|call| call.body.to_string())
            .collect::<Vec<_>>()
    };
    let sent = eventually("45 comments sent", Duration::from_secs(30), || async {
        let sent = comments();
        (sent.len() >= 45).then_some(sent)
    })
    .await;
    // The first calls go before the replicas have exchanged demand.
    let settled = &sent[15..45];
    let ops = settled.iter().filter(|body| body.contains("ops ")).count();
    assert!(
        (17..=23).contains(&ops),
        "ops (weight 2) got {ops} of 30 calls beside second (weight 1), not about 20"
    );
    for writer in writers {
        writer.abort();
    }
}
