//! A role restricted to its trusted documents lends its scopes to those
//! documents alone, whatever other roles the person holds; a refused
//! mutation is audited; a manifest change reaches the raw-request lane at
//! once; documents a normalized cache decorates with `__typename` still
//! match their manifest entry.

use std::time::Duration;

use remotepc_gateway::settings::{OidcSettings, RoleSettings};
use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{TestGateway, audit_log, error_code, eventually, spawn_gateway_with};
use crate::oidc::{Idp, claims, sign};
use crate::trusted::{
    FRONT_TOKEN, codegen_manifest, devices_count, document, gateway, post, write_manifest,
};

fn role(scopes: &[&str], manifest: Option<std::path::PathBuf>) -> RoleSettings {
    RoleSettings {
        scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
        account: "default".to_owned(),
        requests_per_minute: 600,
        burst: 60,
        introspection: false,
        only_trusted_documents: manifest.is_some(),
        upstream_weight: 1,
        trusted_documents: manifest,
    }
}

/// Roles `a-reader` (read, anything) and `b-writer` (read and
/// computers:write, the Codegen manifest only): `a-reader` sorts first,
/// as in the review's reproduction.
async fn two_roles(idp: &Idp) -> TestGateway {
    let manifest = crate::helpers::temp_store_path().with_extension("roles.json");
    write_manifest(&manifest, &codegen_manifest());
    let provider = OidcSettings {
        algorithms: vec!["RS256".to_owned()],
        leeway: Duration::from_secs(5),
        roles_claim: "groups".to_owned(),
        roles: [
            ("a-reader".to_owned(), role(&["read"], None)),
            (
                "b-writer".to_owned(),
                role(&["read", "computers:write"], Some(manifest)),
            ),
        ]
        .into(),
        ..OidcSettings::new(idp.issuer(), &["helpdesk-web"])
    };
    spawn_gateway_with(SimulatorConfig::default(), move |settings| {
        settings.auth.oidc.insert("corp".to_owned(), provider);
    })
    .await
}

#[tokio::test]
async fn a_restricted_roles_scopes_reach_only_the_documents_of_its_manifest() {
    let idp = Idp::start(&["rsa-1"]).await;
    let gateway = two_roles(&idp).await;
    let token = sign(
        "rsa-1",
        &claims(&idp, "pat", &["a-reader", "b-writer"], |_| {}),
    );
    let host = gateway.devices_by_status(true)[0].clone();
    let ad_hoc = format!(
        r#"mutation {{ addComputerComment(input: {{ computerName: "{host}", comment: "ad hoc" }}) {{ comment }} }}"#
    );

    // Not in b-writer's manifest: a-reader admits it, with `read` alone.
    let (status, body) = post(&gateway, &token, json!({ "query": ad_hoc })).await;
    assert_eq!(
        (status, error_code(&body), &body["data"]),
        (200, "OPERATION_NOT_TRUSTED", &Value::Null),
        "{body}"
    );
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 0, "nothing was sent");

    // Ad-hoc reads keep a-reader's `read`.
    let (status, body) = post(
        &gateway,
        &token,
        json!({ "query": "{ users { totalCount } }" }),
    )
    .await;
    assert_eq!(
        (status, &body["data"]),
        (200, &json!({ "users": { "totalCount": 20 } })),
        "{body}"
    );
    assert!(body["errors"].is_null(), "{body}");

    // The manifest's own mutation writes, with b-writer's scopes.
    let (id, _) = document(&codegen_manifest(), "AddComment");
    let variables = json!({ "name": host, "comment": "from the manifest" });
    let (status, body) = post(
        &gateway,
        &token,
        json!({ "documentId": id, "variables": variables }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        body["data"]["addComputerComment"]["device"]["comment"],
        "from the manifest"
    );
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 1);

    // The refusal is on the audit trail, under the person.
    let records = audit_log(&gateway).await;
    let outcomes: Vec<(&str, &str)> = records
        .iter()
        .map(|record| {
            (
                record["operation"].as_str().unwrap_or(""),
                record["outcome"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("addComputerComment", "OK"),
            ("addComputerComment", "OPERATION_NOT_TRUSTED")
        ]
    );
}

#[tokio::test]
async fn a_mutation_outside_the_manifest_is_refused_and_audited() {
    let (gateway, _) = gateway().await;
    let host = gateway.devices_by_status(true)[0].clone();
    let stolen = format!(
        r#"mutation Steal($pw: String!) {{ a: addComputerComment(input: {{ computerName: "{host}", comment: "x" }}) {{ comment }} b: createUser(input: {{ email: "mallory@example.com", password: $pw }}) {{ user {{ email }} }} }}"#
    );
    let body = json!({ "query": stolen, "variables": { "pw": "hunter2hunter2" } });
    let (status, answer) = post(&gateway, FRONT_TOKEN, body).await;
    assert_eq!(
        (status, error_code(&answer)),
        (400, "OPERATION_NOT_TRUSTED"),
        "{answer}"
    );
    let records = eventually("two refused records", Duration::from_secs(10), || async {
        let records = audit_log(&gateway).await;
        (records.len() >= 2).then_some(records)
    })
    .await;
    let mut seen: Vec<(String, String, String)> = records
        .iter()
        .map(|record| {
            let text = |key: &str| record[key].as_str().unwrap_or_default().to_owned();
            (text("operation"), text("outcome"), text("team"))
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "addComputerComment".to_owned(),
                "OPERATION_NOT_TRUSTED".to_owned(),
                "front".to_owned()
            ),
            (
                "createUser".to_owned(),
                "OPERATION_NOT_TRUSTED".to_owned(),
                "front".to_owned()
            ),
        ]
    );
    let inputs = serde_json::to_string(&records).unwrap_or_default();
    assert!(
        !inputs.contains("hunter2hunter2"),
        "the password is redacted: {inputs}"
    );
    assert_eq!(
        gateway.calls(Endpoint::CommentAdd) + gateway.calls(Endpoint::UserCreate),
        0
    );
}

#[tokio::test]
async fn a_document_dropped_from_the_manifest_is_refused_at_once_even_from_the_raw_lane() {
    let (gateway, path) = gateway().await;
    let (_, text) = document(&codegen_manifest(), "Devices");
    let body = json!({ "query": text, "variables": { "first": 2 } });
    for round in 0..2 {
        let (status, answer) = post(&gateway, FRONT_TOKEN, body.clone()).await;
        assert_eq!(
            (status, devices_count(&answer)),
            (200, Some(50)),
            "round {round}: {answer}"
        );
    }
    let mut manifest = codegen_manifest();
    let (id, _) = document(&manifest, "Devices");
    manifest.as_object_mut().map(|entries| entries.remove(&id));
    write_manifest(&path, &manifest);
    let (status, answer) = post(&gateway, FRONT_TOKEN, body).await;
    assert_eq!(
        (status, error_code(&answer)),
        (400, "OPERATION_NOT_TRUSTED"),
        "{answer}"
    );
}

#[tokio::test]
async fn documents_decorated_with_typename_by_a_normalized_cache_match_their_entry() {
    let (gateway, _) = gateway().await;
    // Apollo Client's InMemoryCache adds `__typename` to every selection
    // below the root; urql's Graphcache does too, and to fragments.
    let apollo = "query Devices($after: String, $filter: DeviceFilter, $first: Int!) { devices( first: $first after: $after filter: $filter orderBy: {field: NAME, direction: ASC} ) { edges { cursor node { id lastSessionAt name os status __typename } __typename } pageInfo { endCursor hasNextPage __typename } totalCount __typename } }";
    let urql = "query Devices($after: String, $filter: DeviceFilter, $first: Int!) { devices( first: $first after: $after filter: $filter orderBy: {field: NAME, direction: ASC} ) { __typename edges { __typename cursor node { __typename id lastSessionAt name os status } } pageInfo { __typename endCursor hasNextPage } totalCount } }";
    for (client, text) in [("apollo", apollo), ("urql", urql)] {
        let body = json!({ "query": text, "variables": { "first": 1 } });
        let (status, answer) = post(&gateway, FRONT_TOKEN, body).await;
        assert_eq!(status, 200, "{client}: {answer}");
        let devices = &answer["data"]["devices"];
        assert_eq!(
            devices["__typename"], "DeviceConnection",
            "{client}: {answer}"
        );
        assert_eq!(
            devices["edges"][0]["node"]["__typename"], "Device",
            "{client}"
        );
        assert_eq!(devices["totalCount"], 50, "{client}");
    }
    // Anything more than a bare `__typename` is another document.
    let aliased = apollo.replace("status __typename", "status kind: __typename");
    let body = json!({ "query": aliased, "variables": { "first": 1 } });
    let (status, answer) = post(&gateway, FRONT_TOKEN, body).await;
    assert_eq!(
        (status, error_code(&answer)),
        (400, "OPERATION_NOT_TRUSTED"),
        "{answer}"
    );
}
