//! Cursors across replicas sharing PostgreSQL and Redis: a subscriber
//! watching replica A during churn drops, and resumes on replica B with
//! its last cursor; the fleet it builds equals RemotePC's, with no
//! position told twice. Needs Redis (and PostgreSQL for the shared log
//! `.ci/run` gives it): `#[ignore]`d, run by `.ci/run`.

use std::time::Duration;

use serde_json::json;

use crate::live_client::WsClient;
use crate::replicas::{Replicas, test_redis};
use crate::resume_churn::{CHANGES, Fleet, churn, listed, remotepc, watch_ws};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set GATEWAY_TEST_REDIS_URL (.ci/run does, and runs it)"]
async fn a_subscriber_that_drops_from_one_replica_resumes_on_another() {
    let settings = [
        ("GATEWAY__LIVE__POLL_INTERVAL", "200ms"),
        ("GATEWAY__CACHE__MIN_REFRESH_INTERVAL", "100ms"),
    ];
    let replicas = Replicas::start(&test_redis(), 2, 50, &settings).await;
    let (a, b) = (&replicas.urls[0], &replicas.urls[1]);
    let token = &replicas.token;
    let (mut fleet, after) = listed(a, token).await;
    let subscription = format!("subscription($after: String) {{ {CHANGES} }}");
    let mut client = WsClient::connect(a, token).await;
    client
        .subscribe("w", &subscription, json!({"after": after}))
        .await;
    let never = |_: &Fleet| false;
    let watching = Duration::from_secs(3);
    tokio::join!(
        churn(&replicas.sim, 30),
        watch_ws(&mut client, &mut fleet, watching, never),
    );
    client.close(1000).await;
    // Replica A goes on watching for another frontend while this one is
    // away; B holds no listener until it comes back.
    let mut bystander = WsClient::connect(a, token).await;
    bystander.subscribe("b", &subscription, json!({})).await;
    let mut ignored = Fleet::default();
    tokio::join!(
        churn(&replicas.sim, 40),
        watch_ws(&mut bystander, &mut ignored, Duration::from_secs(4), never),
    );
    assert!(!ignored.positions.is_empty(), "replica A watched meanwhile");

    let resume = fleet.last.clone().unwrap_or(after);
    let mut client = WsClient::connect(b, token).await;
    client
        .subscribe("w", &subscription, json!({"after": resume}))
        .await;
    tokio::join!(
        churn(&replicas.sim, 30),
        watch_ws(&mut client, &mut fleet, watching, never),
    );
    let expected = remotepc(&replicas.sim);
    let complete = |fleet: &Fleet| fleet.devices == expected;
    watch_ws(&mut client, &mut fleet, Duration::from_secs(8), complete).await;
    let differing: Vec<_> = fleet
        .differences(&expected)
        .into_iter()
        .map(|name| {
            (
                fleet.devices.get(&name).cloned(),
                expected.get(&name).cloned(),
                name,
            )
        })
        .collect();
    assert_eq!(differing, Vec::new(), "(shown, RemotePC's, name)");
}
