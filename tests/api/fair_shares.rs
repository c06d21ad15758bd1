//! The egress is shared fairly: one team's burst of writes does not make
//! another team's single write wait behind it, and a flow's queue is
//! bounded, its refusal naming the flow and the setting with nothing sent.

use std::time::Duration;

use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{TestGateway, eventually, spawn_gateway_with, team, upstream_reported};

const BULK: &str = "bulk-team-token-0123456789";
const HELPDESK: &str = "helpdesk-team-token-0123456789";

fn comment(host: &str, text: &str) -> String {
    json!({ "query": format!(r#"mutation {{ addComputerComment(input: {{ computerName: "{host}", comment: "{text}" }}) {{ comment }} }}"#) }).to_string()
}

async fn slow_egress(queued_per_flow: usize) -> TestGateway {
    spawn_gateway_with(SimulatorConfig::default(), move |settings| {
        settings.upstream.rate_per_second = 4;
        settings.upstream.burst = 1;
        settings.upstream.queue_timeout = Duration::from_secs(30);
        settings.upstream.max_queued_per_flow = queued_per_flow;
        settings.server.request_timeout = Duration::from_secs(60);
        for (name, token) in [("bulk", BULK), ("helpdesk", HELPDESK)] {
            settings
                .teams
                .insert(name.to_owned(), team(token, &["read", "computers:write"]));
        }
    })
    .await
}

fn spawn_comment(
    gateway: &TestGateway,
    token: &str,
    host: &str,
    text: &str,
) -> tokio::task::JoinHandle<Value> {
    let (http, url) = (gateway.http.clone(), gateway.url.clone());
    let (body, token) = (comment(host, text), token.to_owned());
    tokio::spawn(async move {
        http.post(url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("answered")
            .json()
            .await
            .expect("JSON")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_write_goes_next_beside_another_teams_backlog() {
    let gateway = slow_egress(200).await;
    let hosts = gateway.devices_by_status(true);
    let bulk: Vec<_> = (0..12)
        .map(|index| {
            spawn_comment(
                &gateway,
                BULK,
                &hosts[index % hosts.len()],
                &format!("bulk {index}"),
            )
        })
        .collect();
    eventually(
        "the bulk team's first call",
        Duration::from_secs(10),
        || async { (gateway.calls(Endpoint::CommentAdd) >= 1).then_some(()) },
    )
    .await;
    let helpdesk = spawn_comment(&gateway, HELPDESK, &hosts[0], "helpdesk");
    let answered = tokio::time::timeout(Duration::from_secs(20), helpdesk)
        .await
        .expect("the helpdesk write is answered")
        .expect("task");
    assert_eq!(
        upstream_reported(answered, "helpdesk", 1),
        json!({ "data": { "addComputerComment": { "comment": "helpdesk" } } })
    );
    let order: Vec<String> = gateway
        .sim
        .requests(Endpoint::CommentAdd)
        .iter()
        .map(|call| call.body.to_string())
        .collect();
    let at = order.iter().position(|body| body.contains("\"helpdesk\""));
    assert!(
        at.is_some_and(|at| at <= 3),
        "the helpdesk write went in place {at:?} of {order:?}"
    );
    for task in bulk {
        let body = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("bulk answered")
            .expect("task");
        assert!(body["errors"].is_null(), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_flow_queue_refuses_naming_the_flow_and_the_setting_with_nothing_sent() {
    let gateway = slow_egress(2).await;
    let hosts = gateway.devices_by_status(true);
    let queued: Vec<_> = (0..3)
        .map(|index| spawn_comment(&gateway, BULK, &hosts[index], &format!("queued {index}")))
        .collect();
    eventually("the first call", Duration::from_secs(10), || async {
        (gateway.calls(Endpoint::CommentAdd) >= 1).then_some(())
    })
    .await;
    // Eight more at once: with one call going and two waiting, at least
    // one finds the flow's queue full.
    let burst: Vec<_> = (0..8)
        .map(|attempt| spawn_comment(&gateway, BULK, &hosts[5 + attempt], "one too many"))
        .collect();
    let (mut refused, mut refusals) = (None, 0);
    for task in burst {
        let body = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("answered")
            .expect("task");
        if body["errors"][0]["extensions"]["code"] == "RATE_LIMITED" {
            refusals += 1;
            refused.get_or_insert(body);
        }
    }
    let refused = refused.expect("a call past upstream.max_queued_per_flow is refused");
    let extensions = &refused["errors"][0]["extensions"];
    assert_eq!(
        (
            &extensions["flow"],
            &extensions["setting"],
            &extensions["retryAfterMs"]
        ),
        (
            &json!("bulk"),
            &json!("upstream.max_queued_per_flow"),
            &json!(1000)
        ),
        "{refused}"
    );
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`bulk`") && message.contains("upstream.max_queued_per_flow"),
        "{message}"
    );
    let sent: Vec<String> = gateway
        .sim
        .requests(Endpoint::CommentAdd)
        .iter()
        .map(|call| call.body.to_string())
        .collect();
    let accepted = sent
        .iter()
        .filter(|body| body.contains("one too many"))
        .count();
    assert_eq!(
        accepted,
        8 - refusals,
        "the refused ones were not sent: {sent:?}"
    );
    for task in queued {
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
}

#[tokio::test]
async fn answers_say_what_their_remotepc_calls_cost_and_snapshot_answers_say_nothing() {
    let gateway = slow_egress(200).await;
    let ask = |token: &'static str, query: &'static str| {
        let (http, url) = (gateway.http.clone(), gateway.url.clone());
        async move {
            let answer = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "query": query }))
                .send()
                .await
                .expect("answered");
            answer.json::<Value>().await.expect("JSON")
        }
    };
    let query = "{ devices(first: 1) { totalCount } }";
    let cold = ask(HELPDESK, query).await;
    let pages = gateway.calls(Endpoint::ComputerList) as u64;
    assert!(pages >= 1, "the first query loaded the snapshot");
    assert_eq!(
        cold["extensions"]["upstream"],
        json!({ "flow": "helpdesk", "lane": "interactive", "queuedMs": cold["extensions"]["upstream"]["queuedMs"], "calls": pages }),
        "{cold}"
    );
    assert!(
        cold["extensions"]["upstream"]["queuedMs"].is_u64(),
        "{cold}"
    );
    let warm = ask(BULK, query).await;
    assert_eq!(warm["data"], cold["data"]);
    assert!(warm["extensions"]["cache"].is_object(), "{warm}");
    assert!(
        warm["extensions"].get("upstream").is_none(),
        "no RemotePC call, nothing to say: {warm}"
    );
    assert_eq!(gateway.calls(Endpoint::ComputerList) as u64, pages);
}
