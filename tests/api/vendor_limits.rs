//! RemotePC's own rate limit: past it the vendor answers 429 with
//! `Retry-After`. The gateway slows the account at once (reported in
//! `/readyz` and metrics), never sends a write twice, tells the client of
//! a refused write `RATE_LIMITED`, and keeps serving queries from
//! snapshots meanwhile.

use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::spawn_gateway_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_429_slows_the_account_and_no_write_is_sent_twice() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |_| {}).await;
    let warm = gateway
        .gql("{ devices(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(warm["data"]["devices"]["totalCount"], 50, "{warm}");
    gateway.sim.limit_rate(Some(2));
    let hosts = gateway.devices_by_status(true);
    let writes = (0..8).map(|index| {
        let query = format!(
            r#"mutation {{ addComputerComment(input: {{ computerName: "{}", comment: "limited {index}" }}) {{ comment }} }}"#,
            hosts[index]
        );
        let gateway = &gateway;
        async move { gateway.gql(&query, json!({})).await }
    });
    let answers: Vec<Value> = futures::future::join_all(writes).await;
    let mut refused = 0;
    for (index, answer) in answers.iter().enumerate() {
        match answer["errors"][0]["extensions"]["code"].as_str() {
            None => assert_eq!(
                answer["data"]["addComputerComment"]["comment"],
                format!("limited {index}")
            ),
            Some("RATE_LIMITED") => refused += 1,
            Some(other) => panic!("write {index}: {other}: {answer}"),
        }
    }
    assert!(refused > 0, "the vendor refused some: {answers:?}");
    let sent = gateway.sim.requests(Endpoint::CommentAdd);
    for index in 0..8 {
        let text = format!("\"limited {index}\"");
        let times = sent
            .iter()
            .filter(|call| call.body.to_string().contains(&text))
            .count();
        assert_eq!(times, 1, "write {index} was sent once, never again");
    }

    let readyz: Value = reqwest::get(gateway.url.replace("/graphql", "/readyz"))
        .await
        .expect("readyz")
        .json()
        .await
        .expect("JSON");
    let rate = readyz["accounts"]["default"]["rateInForce"]
        .as_f64()
        .unwrap_or(f64::MAX);
    assert!(rate <= 10.0, "the rate in force fell from 20: {readyz}");
    let read = gateway
        .gql("{ devices(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(
        read["data"]["devices"]["totalCount"], 50,
        "queries are served from the snapshot: {read}"
    );
}
