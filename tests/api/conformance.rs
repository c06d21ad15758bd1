//! The specification's validation and variable coercion over HTTP: what
//! async-graphql let through is a request error (HTTP 400 without `data`
//! in the GraphQL media type), what it refused though valid is answered.
//! `scripts/conformance` holds the gateway to graphql-js on a generated
//! corpus in `.ci/run`.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestGateway, spawn_gateway};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

async fn ask(gateway: &TestGateway, query: &str, variables: Value) -> (u16, Value) {
    let response = gateway
        .http
        .post(&gateway.url)
        .bearer_auth(ADMIN_TOKEN)
        .header("accept", GRAPHQL_RESPONSE)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

fn assert_request_error(answer: &(u16, Value), about: &str) {
    let (status, body) = answer;
    assert_eq!(*status, 400, "{about}: {body}");
    assert!(body.get("data").is_none(), "{about}: no data entry: {body}");
    let errors = body["errors"].as_array().expect("errors");
    assert!(!errors.is_empty(), "{about}: {body}");
    for error in errors {
        assert_eq!(
            error["extensions"]["code"], "BAD_USER_INPUT",
            "{about}: {body}"
        );
        assert!(error.get("path").is_none(), "{about}: {body}");
    }
}

#[tokio::test]
async fn documents_the_specification_refuses_are_request_errors() {
    let gateway = spawn_gateway().await;
    for query in [
        "{ __typename @nope }",
        "{ __typename @skip }",
        "{ __typename(x: 1) }",
        "query Q { __typename @include(if: $u) }",
        "{ __typename @include(if: \"yes\") }",
        "query Q($n: String) { device(name: $n) { name } }",
        "{ devices(filter: { status: \"ONLINE\" }) { totalCount } }",
        "{ devices(filter: { os: \"a\", os: \"b\" }) { totalCount } }",
        "{ devices(first: 1) { x: totalCount x: nodes { name } } }",
        // Several operations and no `operationName`: none can be chosen.
        "query A { __typename } query B { __typename }",
    ] {
        // Twice: the verdict is kept, and a refusal is never cached as data.
        for _ in 0..2 {
            assert_request_error(&ask(&gateway, query, json!({})).await, query);
        }
    }
    let (_, body) = ask(
        &gateway,
        "{\n  devices(filter: { os: \"a\", os: \"b\" }) { totalCount }\n}",
        json!({}),
    )
    .await;
    assert_eq!(
        body["errors"],
        json!([{
            "message": "there can be only one input field named `os`",
            "locations": [{ "line": 2, "column": 21 }, { "line": 2, "column": 30 }],
            "extensions": { "code": "BAD_USER_INPUT" }
        }])
    );
}

#[tokio::test]
async fn variables_that_do_not_coerce_are_request_errors_naming_the_variable() {
    let gateway = spawn_gateway().await;
    let query = "query D($n: String!) { device(name: $n) { name } }";
    for (variables, about) in [
        (json!({}), "missing"),
        (json!({ "n": null }), "null"),
        (json!({ "n": 7 }), "a number for a String"),
    ] {
        let answer = ask(&gateway, query, variables).await;
        assert_request_error(&answer, about);
        let message = answer.1["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            message.contains("variable") && message.contains('n'),
            "{about}: {message}"
        );
    }
}

#[tokio::test]
async fn a_valid_directive_on_typename_is_answered() {
    let gateway = spawn_gateway().await;
    let query = "query Q($s: Boolean!) { __typename @skip(if: $s) viewer { kind } }";
    let (status, body) = ask(&gateway, query, json!({ "s": false })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "data": { "__typename": "Query", "viewer": { "kind": "TEAM" } } })
    );
    let (status, body) = ask(&gateway, query, json!({ "s": true })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "data": { "viewer": { "kind": "TEAM" } } }));
}

/// The body as text: key order is what is checked, and a parsed
/// `serde_json::Value` sorts keys.
async fn ask_text(gateway: &TestGateway, query: &str) -> String {
    let (_, text) = gateway
        .send(
            &json!({ "query": query }).to_string(),
            &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        )
        .await;
    text
}

#[tokio::test]
async fn keys_come_in_selection_order_every_time() {
    let gateway = spawn_gateway().await;
    let query = "{ b: users(first: 1) { totalCount } a: devices(first: 1) { totalCount } c: __typename v: viewer { kind } }";
    // Executed, kept, then answered by plan and by the response cache.
    for _ in 0..4 {
        let text = ask_text(&gateway, query).await;
        assert!(
            text.starts_with(r#"{"data":{"b":{"totalCount":20},"a":{"totalCount":50},"c":"Query","v":{"kind":"TEAM"}}"#),
            "{text}"
        );
    }
    let fragments = "{ ...F c: __typename } fragment F on Query { z: __typename a: devices(first: 1) { totalCount } }";
    let text = ask_text(&gateway, fragments).await;
    assert!(
        text.starts_with(r#"{"data":{"z":"Query","a":{"totalCount":50},"c":"Query"}"#),
        "fragments expand in place: {text}"
    );
}

#[tokio::test]
async fn a_non_null_fields_error_nulls_its_parents_up_to_data() {
    let gateway = spawn_gateway().await;
    let (status, body) = ask(
        &gateway,
        "{ a: __typename b: devices(first: -5) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"],
        Value::Null,
        "devices is DeviceConnection!: {body}"
    );
    assert_eq!(body["errors"][0]["path"], json!(["b"]));
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1));

    let nested = "{ devices(first: 2) { nodes { name h: history(first: -5) { pageInfo { hasNextPage } } } } }";
    let (_, body) = ask(&gateway, nested, json!({})).await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(
        body["errors"][0]["path"],
        json!(["devices", "nodes", 0, "h"]),
        "{body}"
    );
}

#[tokio::test]
async fn a_selection_whose_fields_are_all_skipped_is_an_empty_object() {
    let gateway = spawn_gateway().await;
    let text = ask_text(&gateway, "{ viewer { kind @skip(if: true) } }").await;
    assert_eq!(text, r#"{"data":{"viewer":{}}}"#);
}

#[tokio::test]
async fn a_malformed_persisted_query_extension_is_a_request_error() {
    let gateway = spawn_gateway().await;
    for (persisted, about) in [
        (
            json!({ "version": 2, "sha256Hash": "a".repeat(64) }),
            "another version",
        ),
        (json!({ "version": 1 }), "no hash"),
        (json!("abc"), "not an object"),
    ] {
        let response = gateway
            .http
            .post(&gateway.url)
            .bearer_auth(ADMIN_TOKEN)
            .header("accept", GRAPHQL_RESPONSE)
            .json(&json!({ "query": "{ __typename }", "extensions": { "persistedQuery": persisted } }))
            .send()
            .await
            .expect("answered");
        let answer = (
            response.status().as_u16(),
            response.json().await.expect("JSON"),
        );
        assert_request_error(&answer, about);
    }
}

#[tokio::test]
async fn an_interfaces_interfaces_are_an_empty_list_not_null() {
    let gateway = spawn_gateway().await;
    let query = r#"{ node: __type(name: "Node") { kind interfaces { name } } device: __type(name: "Device") { interfaces { name } } }"#;
    let (status, body) = ask(&gateway, query, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["node"],
        json!({ "kind": "INTERFACE", "interfaces": [] })
    );
    assert_eq!(
        body["data"]["device"]["interfaces"],
        json!([{ "name": "Node" }])
    );
}

#[tokio::test]
async fn braced_unicode_escapes_and_surrogate_pairs_are_read_as_graphql_js_reads_them() {
    let gateway = spawn_gateway().await;
    let query =
        r#"{ a: __type(name: "\u{51}uery") { name } b: __type(name: "Qu\u0065ry") { name } }"#;
    let (status, body) = ask(&gateway, query, json!({})).await;
    assert_eq!(
        (status, &body),
        (
            200,
            &json!({ "data": { "a": { "name": "Query" }, "b": { "name": "Query" } } })
        )
    );
    let pair = r#"{ __type(name: "\uD83D\uDE00") { name } }"#;
    let (status, body) = ask(&gateway, pair, json!({})).await;
    assert_eq!(
        (status, &body),
        (200, &json!({ "data": { "__type": null } }))
    );
    let lone = r#"{ __type(name: "\uD83D") { name } }"#;
    assert_request_error(&ask(&gateway, lone, json!({})).await, "a lone surrogate");
}
