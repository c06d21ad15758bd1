//! GraphQL over HTTP: GET for queries only, content negotiation, and the
//! status codes the specification gives for each media type.

use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, spawn_gateway, upstream_reported};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

#[tokio::test]
async fn get_runs_queries_and_refuses_mutations() {
    let gateway = spawn_gateway().await;
    let client = reqwest::Client::new();
    let get = |query: &str| {
        client
            .get(&gateway.url)
            .bearer_auth(ADMIN_TOKEN)
            .query(&[("query", query), ("variables", "{\"n\":1}")])
            .send()
    };
    let query = get("query($n: Int) { devices(first: $n) { totalCount } }")
        .await
        .expect("answered");
    assert_eq!(query.status(), 200);
    assert!(
        query.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with("application/json")
    );
    let body: Value = query.json().await.expect("JSON");
    assert_eq!(body["data"]["devices"]["totalCount"], 50);

    let mutation = get("mutation { createGroup(input: { name: \"Via GET\" }) { group { name } } }")
        .await
        .expect("answered");
    assert_eq!(mutation.status(), 405);
    assert_eq!(mutation.headers()["allow"], "POST");
    assert_eq!(gateway.calls(Endpoint::GroupCreate), 0);
}

#[tokio::test]
async fn the_response_media_type_follows_accept() {
    let gateway = spawn_gateway().await;
    let client = reqwest::Client::new();
    let post = |accept: &'static str, query: &'static str| {
        client
            .post(&gateway.url)
            .bearer_auth(ADMIN_TOKEN)
            .header("accept", accept)
            .json(&json!({ "query": query }))
            .send()
    };
    let modern = post(GRAPHQL_RESPONSE, "{ __typename }")
        .await
        .expect("answered");
    assert_eq!(modern.status(), 200);
    assert!(
        modern.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with(GRAPHQL_RESPONSE)
    );

    let invalid_modern = post(GRAPHQL_RESPONSE, "{ nope }").await.expect("answered");
    assert_eq!(
        invalid_modern.status(),
        400,
        "a request error is a 400 in the GraphQL media type"
    );
    let body: Value = invalid_modern.json().await.expect("JSON");
    assert!(body.get("data").is_none(), "and has no data entry: {body}");

    let invalid_legacy = post("application/json", "{ nope }")
        .await
        .expect("answered");
    assert_eq!(
        invalid_legacy.status(),
        200,
        "application/json keeps 200 for well-formed responses"
    );
    assert!(
        invalid_legacy.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with("application/json")
    );
    let body: Value = invalid_legacy.json().await.expect("JSON");
    assert_eq!(
        body.get("data"),
        None,
        "a request error has no data entry in either type: {body}"
    );

    let field_error = post(
        GRAPHQL_RESPONSE,
        "mutation { addComputerComment(input: { computerName: \"NO-SUCH-PC\", comment: \"Long enough\" }) { comment } }",
    )
    .await
    .expect("answered");
    assert_eq!(
        field_error.status(),
        200,
        "a field error is not a request error"
    );

    let html_only = post("text/html", "{ __typename }").await.expect("answered");
    assert_eq!(html_only.status(), 406);
}

#[tokio::test]
async fn post_bodies_must_be_json() {
    let gateway = spawn_gateway().await;
    let response = reqwest::Client::new()
        .post(&gateway.url)
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "text/plain")
        .body("{ __typename }")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 415);
    let missing_query = gateway
        .send("{}", &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))])
        .await;
    assert_eq!(missing_query.0, 400);
}

fn sha256_hex(text: &str) -> String {
    remotepc_gateway::auth::hash_token(text)
}

#[tokio::test]
async fn persisted_queries_travel_as_hashes_and_meet_every_check() {
    let gateway = spawn_gateway().await;
    let query = "{ devices(first: 1) { totalCount } }";
    let hash = sha256_hex(query);
    let persisted = |hash: &str| json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });

    let unknown = gateway.gql_apq(None, persisted(&hash)).await;
    assert_eq!(unknown["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(
        unknown["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );

    let registered = gateway.gql_apq(Some(query), persisted(&hash)).await;
    assert_eq!(registered["data"]["devices"]["totalCount"], 50);
    let by_hash = gateway.gql_apq(None, persisted(&hash)).await;
    assert_eq!(by_hash["data"]["devices"]["totalCount"], 50);

    let wrong = gateway
        .gql_apq(Some("{ __typename }"), persisted(&hash))
        .await;
    assert!(
        wrong["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("does not match"))
    );

    let deep = format!(
        "{{ devices(after: {}1{}) {{ totalCount }} }}",
        "{a:".repeat(300),
        "}".repeat(300)
    );
    let refused = gateway
        .gql_apq(Some(&deep), persisted(&sha256_hex(&deep)))
        .await;
    assert!(
        refused.to_string().contains("graphql.max_document_nesting"),
        "{refused}"
    );
    let replayed = gateway.gql_apq(None, persisted(&sha256_hex(&deep))).await;
    assert!(
        replayed
            .to_string()
            .contains("graphql.max_document_nesting"),
        "a stored text is checked again: {replayed}"
    );
}

/// urql's default `Accept`: the JSON types first, an event stream after.
const URQL_ACCEPT: &str = "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed";

#[tokio::test]
async fn urqls_default_accept_gets_json_answers_and_its_mutations_run() {
    let gateway = spawn_gateway().await;
    let host = gateway.devices_by_status(true)[0].clone();
    let post = |query: String| {
        gateway
            .http
            .post(&gateway.url)
            .bearer_auth(ADMIN_TOKEN)
            .header("accept", URQL_ACCEPT)
            .json(&json!({ "query": query }))
            .send()
    };
    let mutation = format!(
        r#"mutation {{ addComputerComment(input: {{ computerName: "{host}", comment: "set through urql" }}) {{ computerName comment }} }}"#
    );
    let answer = post(mutation).await.expect("answered");
    assert_eq!(answer.status(), 200);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with(GRAPHQL_RESPONSE)
    );
    let body: Value = answer.json().await.expect("JSON");
    assert_eq!(
        upstream_reported(body, "admin", 1),
        json!({ "data": { "addComputerComment": { "computerName": host, "comment": "set through urql" } } })
    );
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 1);

    // A query keeps the response cache: kept when seen twice, then a hit.
    for expected in ["miss", "miss", "hit"] {
        let answer = post("{ devices(first: 1) { totalCount } }".to_owned())
            .await
            .expect("answered");
        assert_eq!(answer.headers()["x-response-cache"], expected);
        let body: Value = answer.json().await.expect("JSON");
        assert_eq!(body["data"], json!({ "devices": { "totalCount": 50 } }));
    }
}

#[tokio::test]
async fn an_event_stream_refused_by_quality_is_never_sent() {
    let gateway = spawn_gateway().await;
    let answer = gateway
        .http
        .post(&gateway.url)
        .bearer_auth(ADMIN_TOKEN)
        .header("accept", "text/event-stream;q=0, application/json")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("answered");
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with("application/json")
    );
    let body: Value = answer.json().await.expect("JSON");
    assert_eq!(body, json!({ "data": { "__typename": "Query" } }));
}
