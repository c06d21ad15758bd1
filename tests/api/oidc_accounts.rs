//! A person whose roles name several accounts acts on one per request, and
//! a scope applies only on the account of the role that grants it. The
//! case the review reproduced: `a-reader` may read account `acme`, and
//! `b-writer` may change computers on `default`; writing on `acme` must be
//! refused, and the audit must name the role that granted the write.

use std::time::Duration;

use remotepc_gateway::settings::{AccountSettings, OidcSettings, RoleSettings};
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{TestGateway, error_code, spawn_gateway_with, upstream_reported};
use crate::oidc::{Idp, claims, sign};

const ACME_KEY: &str = "acme-account-key";

fn role(scopes: &[&str], account: &str) -> RoleSettings {
    RoleSettings {
        scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
        account: account.to_owned(),
        requests_per_minute: 600,
        burst: 60,
        introspection: true,
        trusted_documents: None,
        only_trusted_documents: false,
        upstream_weight: 1,
    }
}

/// A gateway on `default` (its own simulator) and `acme` (the returned
/// one), trusting `idp` with roles `a-reader` (acme, read) and `b-writer`
/// (default, read and computers:write).
async fn two_accounts(idp: &Idp) -> (TestGateway, Simulator) {
    let acme = Simulator::start(SimulatorConfig {
        devices: 7,
        api_key: ACME_KEY.to_owned(),
        ..SimulatorConfig::default()
    })
    .await
    .expect("acme's simulator");
    let acme_url = acme.base_url();
    let provider = OidcSettings {
        algorithms: vec!["RS256".to_owned()],
        leeway: Duration::from_secs(5),
        roles_claim: "groups".to_owned(),
        roles: [
            ("a-reader".to_owned(), role(&["read"], "acme")),
            (
                "b-writer".to_owned(),
                role(&["read", "computers:write", "audit:read"], "default"),
            ),
        ]
        .into(),
        ..OidcSettings::new(idp.issuer(), &["helpdesk-web"])
    };
    let gateway = spawn_gateway_with(SimulatorConfig::default(), move |settings| {
        settings.accounts.insert(
            "acme".to_owned(),
            AccountSettings::with_inline_key(&acme_url, ACME_KEY),
        );
        settings.auth.oidc.insert("corp".to_owned(), provider);
    })
    .await;
    (gateway, acme)
}

async fn ask(
    gateway: &TestGateway,
    token: &str,
    account: Option<&str>,
    query: &str,
) -> (u16, Value) {
    let authorization = format!("Bearer {token}");
    let mut headers = vec![("authorization", authorization.as_str())];
    if let Some(account) = account {
        headers.push(("remotepc-account", account));
    }
    let body = json!({ "query": query }).to_string();
    let (status, text) = gateway.send(&body, &headers).await;
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, value)
}

fn comment_on(host: &str) -> String {
    format!(
        r#"mutation {{ addComputerComment(input: {{ computerName: "{host}", comment: "written across accounts" }}) {{ comment }} }}"#
    )
}

#[tokio::test]
async fn a_scope_applies_only_on_the_account_of_the_role_that_grants_it() {
    let idp = Idp::start(&["rsa-1"]).await;
    let (gateway, acme) = two_accounts(&idp).await;
    let token = sign(
        "rsa-1",
        &claims(&idp, "pat", &["a-reader", "b-writer"], |_| {}),
    );
    let viewer = "{ viewer { account accounts scopes via } }";

    // Without a choice: the first account by name, with its roles alone.
    let (status, body) = ask(&gateway, &token, None, viewer).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["viewer"],
        json!({ "account": "acme", "accounts": ["acme", "default"], "scopes": ["read"], "via": "corp/a-reader" })
    );

    // Writing on acme: refused, nothing sent there.
    let acme_host = acme.state(|state| {
        state
            .devices()
            .next()
            .map(|device| device.host_name.clone())
            .expect("a device")
    });
    let (status, body) = ask(&gateway, &token, Some("acme"), &comment_on(&acme_host)).await;
    assert_eq!((status, error_code(&body)), (200, "FORBIDDEN"), "{body}");
    assert_eq!(acme.calls(Endpoint::CommentAdd), 0, "nothing reached acme");

    // On default, the writer role writes, and is the one audited.
    let (status, body) = ask(&gateway, &token, Some("default"), viewer).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["viewer"],
        json!({ "account": "default", "accounts": ["acme", "default"], "scopes": ["audit:read", "computers:write", "read"], "via": "corp/b-writer" })
    );
    let host = gateway.devices_by_status(true)[0].clone();
    let (status, body) = ask(&gateway, &token, Some("default"), &comment_on(&host)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        upstream_reported(body, "corp/b-writer", 1),
        json!({ "data": { "addComputerComment": { "comment": "written across accounts" } } })
    );
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 1);
    let audit =
        "{ auditLog(filter: { actor: \"pat\" }) { nodes { operation team actor { via } } } }";
    let (_, body) = ask(&gateway, &token, Some("default"), audit).await;
    assert_eq!(
        body["data"]["auditLog"]["nodes"],
        json!([{ "operation": "addComputerComment", "team": "corp/b-writer", "actor": { "via": "corp/b-writer" } }])
    );
    // audit:read does not cross to acme either.
    let (_, body) = ask(&gateway, &token, Some("acme"), audit).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
}

#[tokio::test]
async fn an_account_no_role_grants_is_refused_for_people_and_teams() {
    let idp = Idp::start(&["rsa-1"]).await;
    let (gateway, _acme) = two_accounts(&idp).await;
    let reader = sign("rsa-1", &claims(&idp, "rita", &["a-reader"], |_| {}));
    let (status, body) = ask(&gateway, &reader, Some("default"), "{ __typename }").await;
    assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("account `default`"), "{message}");

    let admin = crate::helpers::ADMIN_TOKEN;
    let (status, body) = ask(&gateway, admin, Some("acme"), "{ __typename }").await;
    assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"), "{body}");
    let (status, body) = ask(&gateway, admin, Some("default"), "{ viewer { accounts } }").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "data": { "viewer": { "accounts": ["default"] } } })
    );
}
