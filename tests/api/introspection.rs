//! Tooling can read the schema: every introspection query graphql-js 16
//! writes (`getIntrospectionQuery()`, with default and with all options;
//! the texts in tests/fixtures were printed by graphql 16.15.0) is
//! answered, while a fan-out through nested member lists stays refused and
//! depth errors name their setting.

use serde_json::json;

use crate::helpers::{error_code, spawn_gateway};

#[tokio::test]
async fn every_standard_introspection_query_of_graphql_js_16_is_answered() {
    let gateway = spawn_gateway().await;
    for query in [
        include_str!("../fixtures/introspection-graphql-js-16-default.graphql"),
        include_str!("../fixtures/introspection-graphql-js-16-all-options.graphql"),
    ] {
        let answer = gateway.gql(query, json!({})).await;
        assert!(answer["errors"].is_null(), "{answer}");
        let types = answer["data"]["__schema"]["types"]
            .as_array()
            .expect("types");
        assert!(types.iter().any(|ty| ty["name"] == "Device"));
    }
}

#[tokio::test]
async fn introspection_that_fans_out_through_member_lists_is_refused() {
    let gateway = spawn_gateway().await;
    let answer = gateway
        .gql(
            "{ __type(name: \"Query\") { fields { type { fields { type { fields { name } } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&answer), "BAD_USER_INPUT");
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("fields, inputFields")),
        "{answer}"
    );
}

#[tokio::test]
async fn depth_errors_name_their_setting() {
    let gateway = spawn_gateway().await;
    // 13 levels; the default graphql.max_depth is 12. Depth is checked
    // before validation, so the unknown fields do not matter.
    let too_deep = "{ a { b { c { d { e { f { g { h { i { j { k { l { m } } } } } } } } } } } } }";
    let answer = gateway.gql(too_deep, json!({})).await;
    assert_eq!(error_code(&answer), "BAD_USER_INPUT");
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("graphql.max_depth")),
        "{answer}"
    );
}
