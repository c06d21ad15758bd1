//! Trusted documents: a team whose frontend was built ahead of time runs
//! only the operations of its manifest, sent by id or as text. The Codegen
//! manifest is the one GraphQL Codegen's client preset wrote for
//! examples/helpdesk-web (`npm run persisted` there rewrites it).

use remotepc_gateway::App;
use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestGateway, error_code, spawn_gateway_with, team, temp_store_path};

pub(crate) const FRONT_TOKEN: &str = "front-team-token-trusted-0123456789";
const APOLLO_TOKEN: &str = "apollo-team-token-trusted-0123456789";

pub(crate) fn codegen_manifest() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/trusted/codegen-persisted-documents.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON")
}

/// The manifest's id and text of the operation named `name`.
pub(crate) fn document(manifest: &Value, name: &str) -> (String, String) {
    let entries = manifest.as_object().expect("an object");
    entries
        .iter()
        .find(|(_, body)| {
            body.as_str()
                .is_some_and(|body| body.contains(&format!(" {name}(")))
        })
        .map(|(id, body)| (id.clone(), body.as_str().unwrap_or_default().to_owned()))
        .expect("the operation is in the manifest")
}

pub(crate) fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

pub(crate) fn write_manifest(path: &std::path::Path, manifest: &Value) {
    std::fs::write(path, manifest.to_string()).expect("manifest written");
}

/// A gateway where team `front` runs only the Codegen manifest's
/// documents, team `apollo` only those of an Apollo-format manifest, and
/// `admin` anything.
pub(crate) async fn gateway() -> (TestGateway, std::path::PathBuf) {
    let codegen = temp_store_path().with_extension("codegen.json");
    write_manifest(&codegen, &codegen_manifest());
    let apollo = temp_store_path().with_extension("apollo.json");
    let (_, devices) = document(&codegen_manifest(), "Devices");
    write_manifest(
        &apollo,
        &json!({
            "format": "apollo-persisted-query-manifest", "version": 1,
            "operations": [{ "id": sha256(&devices), "name": "Devices", "type": "query", "body": devices }],
        }),
    );
    let (codegen_path, apollo_path) = (codegen.clone(), apollo);
    let gateway = spawn_gateway_with(SimulatorConfig::default(), move |settings| {
        let mut front = team(FRONT_TOKEN, &["read", "computers:write"]);
        front.trusted_documents = Some(codegen_path);
        front.only_trusted_documents = true;
        settings.teams.insert("front".to_owned(), front);
        let mut apollo_team = team(APOLLO_TOKEN, &["read"]);
        apollo_team.trusted_documents = Some(apollo_path);
        apollo_team.only_trusted_documents = true;
        settings.teams.insert("apollo".to_owned(), apollo_team);
    })
    .await;
    (gateway, codegen)
}

pub(crate) async fn post(gateway: &TestGateway, token: &str, body: Value) -> (u16, Value) {
    let authorization = format!("Bearer {token}");
    let (status, text) = gateway
        .send(&body.to_string(), &[("authorization", &authorization)])
        .await;
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

pub(crate) fn devices_count(body: &Value) -> Option<u64> {
    body["data"]["devices"]["totalCount"].as_u64()
}

#[tokio::test]
async fn listed_documents_run_by_id_hash_or_text() {
    let (gateway, _) = gateway().await;
    let (id, text) = document(&codegen_manifest(), "Devices");
    let variables = json!({ "first": 3 });
    let cases = [
        json!({ "documentId": id, "variables": variables }),
        json!({ "documentId": format!("sha256:{id}"), "variables": variables }),
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": id } }, "variables": variables }),
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": format!("sha256:{id}") } }, "variables": variables }),
        json!({ "query": text, "variables": variables }),
        // The source text as the page has it: other layout, other order.
        json!({ "query": "query Devices($filter: DeviceFilter, $first: Int!, $after: String) {\n  devices(first: $first, after: $after, filter: $filter, orderBy: { field: NAME, direction: ASC }) {\n    totalCount\n    edges { cursor node { id name status os lastSessionAt } }\n    pageInfo { hasNextPage endCursor }\n  }\n}", "variables": variables }),
    ];
    for body in cases {
        let (status, answer) = post(&gateway, FRONT_TOKEN, body.clone()).await;
        assert_eq!(
            (status, devices_count(&answer)),
            (200, Some(50)),
            "{body}: {answer}"
        );
    }
    let url = format!(
        "{}?documentId={id}&variables=%7B%22first%22%3A1%7D",
        gateway.url
    );
    let answer: Value = reqwest::Client::new()
        .get(url)
        .bearer_auth(FRONT_TOKEN)
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        devices_count(&answer),
        Some(50),
        "GET by documentId: {answer}"
    );
    let (status, answer) = post(
        &gateway,
        APOLLO_TOKEN,
        json!({ "documentId": sha256(&text), "variables": variables }),
    )
    .await;
    assert_eq!(
        (status, devices_count(&answer)),
        (200, Some(50)),
        "Apollo manifest: {answer}"
    );
}

#[tokio::test]
async fn anything_else_is_refused_unparsed_and_other_teams_keep_ad_hoc_queries() {
    let (gateway, _) = gateway().await;
    for body in [
        json!({ "query": "{ users { totalCount } }" }),
        json!({ "documentId": "0".repeat(64) }),
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "f".repeat(64) } } }),
        json!({ "query": "{ users { totalCount } ".repeat(10_000) }),
    ] {
        let (status, answer) = post(&gateway, FRONT_TOKEN, body.clone()).await;
        assert_eq!(
            (status, error_code(&answer)),
            (400, "OPERATION_NOT_TRUSTED"),
            "{answer}"
        );
    }
    assert_eq!(
        gateway.calls(Endpoint::UserList),
        0,
        "nothing reached RemotePC"
    );
    let ad_hoc = gateway.gql("{ users { totalCount } }", json!({})).await;
    assert_eq!(
        ad_hoc["data"]["users"]["totalCount"], 20,
        "admin keeps ad-hoc queries: {ad_hoc}"
    );
}

#[tokio::test]
async fn a_manifest_rewritten_in_place_is_picked_up_and_a_half_written_one_keeps_the_last() {
    let (gateway, path) = gateway().await;
    let (id, _) = document(&codegen_manifest(), "Devices");
    let users = "query Users { users { totalCount } }";
    std::fs::write(&path, "{ \"half-written").expect("written");
    let (status, answer) = post(
        &gateway,
        FRONT_TOKEN,
        json!({ "documentId": id, "variables": { "first": 1 } }),
    )
    .await;
    assert_eq!(status, 200, "the last good list still serves: {answer}");
    let mut manifest = codegen_manifest();
    manifest[sha256(users)] = json!(users);
    write_manifest(&path, &manifest);
    let (status, answer) = post(
        &gateway,
        FRONT_TOKEN,
        json!({ "documentId": sha256(users) }),
    )
    .await;
    assert_eq!(
        (status, &answer["data"]["users"]["totalCount"]),
        (200, &json!(20)),
        "{answer}"
    );
}

#[tokio::test]
async fn only_trusted_documents_without_a_readable_manifest_stops_the_start() {
    let sim = remotepc_gateway::simulator::Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    let store = temp_store_path();
    let mut settings = crate::helpers::test_settings(&sim, &store);
    if let Some(admin) = settings.teams.get_mut("admin") {
        admin.only_trusted_documents = true;
    }
    let error = App::build(settings.clone())
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.contains("teams.admin.only_trusted_documents"),
        "{error}"
    );
    if let Some(admin) = settings.teams.get_mut("admin") {
        admin.trusted_documents = Some(store.with_extension("missing.json"));
    }
    let error = App::build(settings)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(error.contains("teams.admin.trusted_documents"), "{error}");
    crate::helpers::remove_store(&store);
}
