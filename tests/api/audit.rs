//! The audit log: every mutation recorded with its team, the gateway's
//! and the client's request ids and its redacted input, including those
//! refused before they ran.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, READER_TOKEN, audit_log, error_code, spawn_gateway};

fn body(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

#[tokio::test]
async fn every_mutation_is_audited_with_its_team_request_id_and_redacted_input() {
    let gateway = spawn_gateway().await;
    let create = json!({
        "query": "mutation { createUser(input: { firstName: \"Ada\", lastName: \"King\", email: \"ada.king@example.com\", password: \"Sup3r-secret!\" }) { user { username } } }"
    })
    .to_string();
    let headers = [
        ("authorization", &*format!("Bearer {ADMIN_TOKEN}")),
        ("x-request-id", "req-audit-42"),
    ];
    let (_, created) = gateway.send(&create, &headers).await;
    assert!(body(&created)["errors"].is_null(), "{created}");
    gateway
        .gql("mutation { addComputerComment(input: { computerName: \"X\", comment: \"no\" }) { comment } }", json!({}))
        .await;

    let log = gateway
        .gql(
            "{ auditLog { totalCount edges { node { team requestId clientRequestId operation input outcome result } } }
               creates: auditLog(filter: { operation: \"createUser\", team: \"admin\" }) { totalCount }
               nobody: auditLog(filter: { team: \"reader\" }) { totalCount } }",
            json!({}),
        )
        .await;
    let data = &log["data"];
    assert_eq!(data["auditLog"]["totalCount"], 2, "{log}");
    assert_eq!(data["creates"]["totalCount"], 1);
    assert_eq!(data["nobody"]["totalCount"], 0);
    let newest = &data["auditLog"]["edges"][0]["node"];
    assert_eq!(newest["operation"], "addComputerComment");
    assert_eq!(newest["outcome"], "BAD_USER_INPUT");
    let created = &data["auditLog"]["edges"][1]["node"];
    assert_eq!(created["team"], "admin");
    assert_eq!(created["clientRequestId"], "req-audit-42");
    assert_ne!(created["requestId"], "req-audit-42", "the gateway's own id");
    assert_eq!(created["outcome"], "OK");
    assert_eq!(created["input"]["password"], "[redacted]");
    assert_eq!(
        created["result"]["user"]["username"],
        "ada.king@example.com"
    );

    let stored = std::fs::read(&gateway.store_path).unwrap_or_default();
    let wal = std::fs::read(format!("{}-wal", gateway.store_path.display())).unwrap_or_default();
    let needle = b"Sup3r-secret!";
    assert!(
        !stored
            .windows(needle.len())
            .chain(wal.windows(needle.len()))
            .any(|window| window == needle)
    );
}

#[tokio::test]
async fn refused_mutations_are_audited_with_their_code_and_the_callers_ids() {
    let gateway = spawn_gateway().await;
    let comment = "mutation { addComputerComment(input: { computerName: \"PC\", comment: \"Refused by scope\" }) { comment } }";
    let forbidden = gateway.gql_as(READER_TOKEN, comment, json!({})).await;
    assert_eq!(error_code(&forbidden), "FORBIDDEN");
    let coerced = gateway
        .gql(
            "mutation { addComputerComment(input: { computerName: 5, comment: \"x\" }) { comment } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&coerced), "BAD_USER_INPUT");
    let variables = gateway
        .gql(
            "mutation($p: String!) { createUser(input: { firstName: \"A\", lastName: \"B\", email: 3, password: $p }) { user { email } } }",
            json!({ "p": "Sup3r-secret!" }),
        )
        .await;
    assert_eq!(error_code(&variables), "BAD_USER_INPUT");

    let log = audit_log(&gateway).await;
    let outcomes: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|record| {
            (
                record["operation"].as_str().unwrap_or_default(),
                record["outcome"].as_str().unwrap_or_default(),
                record["team"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("createUser", "BAD_USER_INPUT", "admin"),
            ("addComputerComment", "BAD_USER_INPUT", "admin"),
            ("addComputerComment", "FORBIDDEN", "reader"),
        ]
    );
    assert_eq!(log[0]["input"]["input"]["password"], "[redacted]");
    assert!(
        !log.iter()
            .any(|record| record.to_string().contains("Sup3r-secret!"))
    );
    assert_eq!(gateway.sim.total_calls(), 0, "none reached RemotePC");
}

#[tokio::test]
async fn the_audit_log_pages_by_the_same_settings_as_every_connection() {
    let gateway = crate::helpers::spawn_gateway_with(Default::default(), |settings| {
        settings.graphql.default_page_size = 2;
        settings.graphql.max_page_size = 5;
    })
    .await;
    let refused =
        "mutation { addComputerComment(input: { computerName: \"PC\", comment: 5 }) { comment } }";
    for _ in 0..3 {
        gateway.gql(refused, json!({})).await;
    }
    let page = gateway
        .gql("{ auditLog { totalCount edges { cursor } } }", json!({}))
        .await;
    assert_eq!(page["data"]["auditLog"]["totalCount"], 3, "{page}");
    assert_eq!(
        page["data"]["auditLog"]["edges"].as_array().map(Vec::len),
        Some(2),
        "graphql.default_page_size"
    );
    let too_many = gateway
        .gql("{ auditLog(first: 6) { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&too_many), "BAD_USER_INPUT");
    assert!(
        too_many["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("graphql.max_page_size")),
        "{too_many}"
    );
}
