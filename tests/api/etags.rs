//! Pollers revalidate with `If-None-Match`: a GET answered from snapshots
//! carries a weak `ETag` and `Cache-Control: private, no-cache`, and the
//! same tag sent back answers `304` with no body while the snapshots it
//! read, the document, the variables and the audience are the same; only
//! after authentication and quota.

use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, READER_TOKEN, TestGateway, spawn_gateway, spawn_gateway_with};

const FLEET: &str =
    "query Fleet($first: Int) { devices(first: $first) { totalCount nodes { name comment } } }";

/// What a GET of `FLEET` answered.
struct Answered {
    status: u16,
    tag: Option<String>,
    cache_control: Option<String>,
    body: String,
}

async fn get(
    gateway: &TestGateway,
    token: &str,
    variables: Value,
    if_none_match: Option<&str>,
) -> Answered {
    let mut request = gateway
        .http
        .get(&gateway.url)
        .bearer_auth(token)
        .query(&[("query", FLEET), ("variables", &variables.to_string())]);
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    let response = request.send().await.expect("gateway answers");
    let header = |name: &str| {
        (response.headers().get(name))
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    Answered {
        status: response.status().as_u16(),
        tag: header("etag"),
        cache_control: header("cache-control"),
        body: response.text().await.expect("a body"),
    }
}

fn data(answered: &Answered) -> Value {
    let body: Value = serde_json::from_str(&answered.body).expect("JSON");
    body["data"].clone()
}

#[tokio::test]
async fn a_poller_gets_304_with_no_body_until_a_write_changes_what_it_read() {
    let gateway = spawn_gateway().await;
    let first = get(&gateway, ADMIN_TOKEN, json!({ "first": 2 }), None).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let tag = first.tag.clone().expect("a GET from snapshots is tagged");
    assert!(
        tag.starts_with("W/\"") && tag.ends_with('"') && tag.len() == 20,
        "{tag}"
    );
    assert_eq!(first.cache_control.as_deref(), Some("private, no-cache"));
    let name = data(&first)["devices"]["nodes"][0]["name"]
        .as_str()
        .expect("a device")
        .to_owned();
    let lists = gateway.calls(Endpoint::ComputerList);

    // Executed, planned, then served from the response cache and the raw
    // lane: each way of answering revalidates the same.
    for round in 0..4 {
        let again = get(&gateway, ADMIN_TOKEN, json!({ "first": 2 }), Some(&tag)).await;
        assert_eq!(
            (again.status, again.body.as_str()),
            (304, ""),
            "round {round}"
        );
        assert_eq!(again.tag.as_deref(), Some(tag.as_str()), "round {round}");
        assert_eq!(again.cache_control.as_deref(), Some("private, no-cache"));
    }
    for if_none_match in [format!("W/\"0\", {tag}"), "*".to_owned()] {
        let listed = get(
            &gateway,
            ADMIN_TOKEN,
            json!({ "first": 2 }),
            Some(&if_none_match),
        )
        .await;
        assert_eq!(
            (listed.status, listed.body.as_str()),
            (304, ""),
            "{if_none_match}"
        );
    }
    assert_eq!(gateway.calls(Endpoint::ComputerList), lists);

    let comment = gateway
        .gql(
            "mutation($input: AddComputerCommentInput!) { addComputerComment(input: $input) { comment } }",
            json!({ "input": { "computerName": name, "comment": "Tagged anew" } }),
        )
        .await;
    assert_eq!(
        comment["data"]["addComputerComment"]["comment"], "Tagged anew",
        "{comment}"
    );
    let changed = get(&gateway, ADMIN_TOKEN, json!({ "first": 2 }), Some(&tag)).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(
        data(&changed)["devices"]["nodes"][0]["comment"],
        "Tagged anew"
    );
    let new_tag = changed.tag.expect("tagged");
    assert_ne!(new_tag, tag);
    let unchanged = get(&gateway, ADMIN_TOKEN, json!({ "first": 2 }), Some(&new_tag)).await;
    assert_eq!((unchanged.status, unchanged.body.as_str()), (304, ""));
}

#[tokio::test]
async fn a_tag_names_its_variables_and_audience_and_a_post_has_none() {
    let gateway = spawn_gateway().await;
    let two = get(&gateway, ADMIN_TOKEN, json!({ "first": 2 }), None).await;
    let tag = two.tag.expect("tagged");

    let three = get(&gateway, ADMIN_TOKEN, json!({ "first": 3 }), Some(&tag)).await;
    assert_eq!(three.status, 200);
    assert_eq!(
        data(&three)["devices"]["nodes"].as_array().map(Vec::len),
        Some(3)
    );
    assert_ne!(three.tag.as_deref(), Some(tag.as_str()));

    // Another team, other scopes: the same query is another answer.
    let reader = get(&gateway, READER_TOKEN, json!({ "first": 2 }), Some(&tag)).await;
    assert_eq!(reader.status, 200, "{}", reader.body);
    assert_eq!(
        data(&reader),
        data(&get(&gateway, ADMIN_TOKEN, json!({ "first": 2 }), None).await)
    );
    assert_ne!(reader.tag.as_deref(), Some(tag.as_str()));

    let posted = gateway
        .http
        .post(&gateway.url)
        .bearer_auth(ADMIN_TOKEN)
        .header("if-none-match", &tag)
        .json(&json!({ "query": FLEET, "variables": { "first": 2 } }))
        .send()
        .await
        .expect("gateway answers");
    assert_eq!(posted.status(), 200);
    assert!(posted.headers().get("etag").is_none());
    assert!(posted.headers().get("cache-control").is_none());
}

#[tokio::test]
async fn no_304_before_authentication_and_quota() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        if let Some(admin) = settings.teams.get_mut("admin") {
            admin.requests_per_minute = 1;
            admin.burst = 1;
        }
    })
    .await;
    let first = get(&gateway, ADMIN_TOKEN, json!({ "first": 2 }), None).await;
    let tag = first.tag.expect("tagged");

    let stranger = get(
        &gateway,
        "not-a-token-at-all-000000",
        json!({ "first": 2 }),
        Some(&tag),
    )
    .await;
    assert_eq!(stranger.status, 401, "{}", stranger.body);
    assert_eq!(stranger.tag, None);

    let over = get(&gateway, ADMIN_TOKEN, json!({ "first": 2 }), Some(&tag)).await;
    assert_eq!(over.status, 429, "{}", over.body);
    assert_eq!(over.tag, None);
    let body: Value = serde_json::from_str(&over.body).expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{body}"
    );
}
