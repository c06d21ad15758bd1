//! Batches as clients that map answers by index rely on: an array of N
//! operations gets N answers in order, each the same as that operation
//! sent alone, and an array of one is an array of one. A seeded generator
//! mixes queries, failing fields and mutations; `GATEWAY_BATCH_SEED`
//! replays a run, and the seed is in every failure message.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{TestGateway, spawn_gateway};

/// The parts of an answer that depend on the operation alone (extensions
/// carry snapshot ages, which move with the wall clock).
fn essence(answer: &Value) -> Value {
    json!({ "data": answer.get("data"), "errors": answer.get("errors") })
}

async fn post_json(gateway: &TestGateway, body: &Value) -> (u16, Value) {
    let (status, text) = gateway.post(&body.to_string()).await;
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, value)
}

#[tokio::test]
async fn a_batch_of_two_gets_two_answers_in_order() {
    let gateway = spawn_gateway().await;
    let body = json!([
        { "query": "{ a1: __typename }" },
        { "query": "{ b1: __typename }" },
    ]);
    let (status, answer) = post_json(&gateway, &body).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!([{ "data": { "a1": "Query" } }, { "data": { "b1": "Query" } }])
    );
}

#[tokio::test]
async fn an_entry_that_cannot_run_is_a_request_error_without_data() {
    let gateway = spawn_gateway().await;
    let body = json!([
        { "query": "{ a1: __typename }" },
        { "query": "{ nope }" },
    ]);
    let (status, answer) = post_json(&gateway, &body).await;
    assert_eq!(status, 200);
    assert_eq!(answer[0], json!({ "data": { "a1": "Query" } }), "{answer}");
    assert_eq!(answer[1].get("data"), None, "{answer}");
    assert_eq!(
        answer[1]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{answer}"
    );
}

#[tokio::test]
async fn an_array_of_one_is_answered_with_an_array_of_one() {
    let gateway = spawn_gateway().await;
    let (status, answer) = post_json(&gateway, &json!([{ "query": "{ a1: __typename }" }])).await;
    assert_eq!(
        (status, answer),
        (200, json!([{ "data": { "a1": "Query" } }]))
    );
    let (status, answer) = post_json(&gateway, &json!({ "query": "{ a1: __typename }" })).await;
    assert_eq!(
        (status, answer),
        (200, json!({ "data": { "a1": "Query" } }))
    );
}

#[tokio::test]
async fn an_idempotency_key_is_refused_on_an_array_rather_than_ignored() {
    let gateway = spawn_gateway().await;
    let body = json!([{ "query": COMMENT_OK }]).to_string();
    let authorization = format!("Bearer {}", crate::helpers::ADMIN_TOKEN);
    let (status, text) = gateway
        .send(
            &body,
            &[
                ("authorization", &authorization),
                ("idempotency-key", "k-batch-1"),
            ],
        )
        .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("Idempotency-Key"), "{text}");
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 0, "nothing was sent");
}

const COMMENT_OK: &str = r#"mutation { addComputerComment(input: { computerName: "HOST", comment: "checked by the batch test" }) { computerName comment } }"#;

/// One generated operation: its text, and whether it writes a comment.
fn operation(rng: &mut StdRng, host: &str) -> (String, bool) {
    let first = rng.random_range(0..6);
    let queries = [
        format!("{{ t{}: __typename }}", rng.random_range(0..100)),
        format!("{{ devices(first: {first}) {{ totalCount nodes {{ name status }} }} }}"),
        format!("{{ users(first: {first}) {{ edges {{ node {{ username }} }} pageInfo {{ hasNextPage }} }} }}"),
        "{ devices(first: -5) { totalCount } }".to_owned(),
        "{ nope }".to_owned(),
        "query Named { viewer { kind subject account } }".to_owned(),
        r#"mutation { addComputerComment(input: { computerName: "x", comment: "short" }) { comment } }"#.to_owned(),
    ];
    if rng.random_range(0..100) < 20 {
        return (COMMENT_OK.replace("HOST", host), true);
    }
    let chosen = queries.choose(rng).expect("a non-empty pool").clone();
    (chosen, false)
}

#[tokio::test]
async fn generated_batches_answer_each_operation_as_it_is_answered_alone() {
    let seed: u64 = std::env::var("GATEWAY_BATCH_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    let gateway = spawn_gateway().await;
    let host = gateway.devices_by_status(true)[0].clone();
    let mut comments_sent = 0;
    for round in 0..25 {
        let size = rng.random_range(1..=10);
        let operations: Vec<(String, bool)> =
            (0..size).map(|_| operation(&mut rng, &host)).collect();
        let mut alone = Vec::with_capacity(size);
        for (query, writes) in &operations {
            let (_, answer) = post_json(&gateway, &json!({ "query": query })).await;
            alone.push(essence(&answer));
            comments_sent += u64::from(*writes);
        }
        let batch: Vec<Value> = operations
            .iter()
            .map(|(query, _)| json!({ "query": query }))
            .collect();
        let (status, answer) = post_json(&gateway, &Value::Array(batch)).await;
        comments_sent += operations.iter().filter(|(_, writes)| *writes).count() as u64;
        let context = format!("seed {seed}, round {round}, operations {operations:?}");
        assert_eq!(status, 200, "{context}");
        let answers = answer
            .as_array()
            .unwrap_or_else(|| panic!("an array answers an array: {answer} ({context})"));
        let batched: Vec<Value> = answers.iter().map(essence).collect();
        assert_eq!(batched, alone, "{context}");
    }
    assert_eq!(
        gateway.calls(Endpoint::CommentAdd),
        comments_sent,
        "every mutation of every batch ran once (seed {seed})"
    );
}
