//! A person approves every destructive change an assistant asks for: the
//! flow end to end, and the ways around it that must fail (another
//! person, changed arguments, a replay, a team token, the client's own
//! "accept", an expired request).

use std::time::Duration;

use remotepc_gateway::settings::OidcSettings;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestGateway, spawn_gateway_with};
use crate::mcp::{call_tool, tool_names};
use crate::oidc::{AUDIENCE, Idp, claims, role, sign};

/// A gateway with `/mcp` trusting `idp`: role `helpdesk` reads and
/// changes computers; approvals wait 10 minutes.
pub(crate) async fn gateway(idp: &Idp) -> TestGateway {
    let provider = OidcSettings {
        roles_claim: "groups".to_owned(),
        roles: [(
            "helpdesk".to_owned(),
            role(&["read", "computers:write"], 600, 60),
        )]
        .into(),
        ..OidcSettings::new(idp.issuer(), &[AUDIENCE])
    };
    spawn_gateway_with(Default::default(), move |settings| {
        settings.mcp.enabled = true;
        settings.mcp.approval_ttl = Duration::from_secs(600);
        settings.auth.oidc.insert("corp".to_owned(), provider);
    })
    .await
}

pub(crate) fn person(idp: &Idp, subject: &str) -> String {
    sign("rsa-1", &claims(idp, subject, &["helpdesk"], |_| {}))
}

/// The approval's id and its page's path, from a tool's answer.
fn approval_of(answer: &Value) -> (String, String) {
    assert_eq!(answer["status"], "approval_required", "{answer}");
    let id = answer["approvalId"].as_str().unwrap_or_default().to_owned();
    let url = answer["approvalUrl"].as_str().unwrap_or_default();
    assert!(url.ends_with(&format!("/approve/{id}")), "{answer}");
    (id.clone(), format!("/approve/{id}"))
}

/// `GET /approve/<id>/request` with `token`.
pub(crate) async fn read_request(gateway: &TestGateway, id: &str, token: &str) -> (u16, Value) {
    let url = gateway
        .url
        .replace("/graphql", &format!("/approve/{id}/request"));
    let answer = gateway
        .http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("an answer");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// `POST /approve/<id>/decision` with `token`.
pub(crate) async fn decide(
    gateway: &TestGateway,
    id: &str,
    token: &str,
    approve: bool,
    digest: &str,
) -> (u16, Value) {
    let url = gateway
        .url
        .replace("/graphql", &format!("/approve/{id}/decision"));
    let body = json!({ "approve": approve, "digest": digest });
    let answer = gateway
        .http
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("an answer");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn an_approved_removal_runs_once_as_the_person_and_is_audited_with_the_approval() {
    let idp = Idp::start(&["rsa-1"]).await;
    let gateway = gateway(&idp).await;
    let alice = person(&idp, "alice");
    let offline = gateway.devices_by_status(false);
    let names = json!([offline[0], offline[1]]);
    assert!(
        tool_names(&gateway, &alice)
            .await
            .contains(&"remove_computers".to_owned())
    );

    let (asked, is_error) = call_tool(
        &gateway,
        &alice,
        "remove_computers",
        json!({ "computerNames": names }),
    )
    .await;
    assert!(!is_error, "{asked}");
    let (id, page) = approval_of(&asked);
    assert_eq!(
        gateway.calls(Endpoint::ComputerRemove),
        0,
        "nothing sent before the person decides"
    );

    let page_html = gateway
        .http
        .get(gateway.url.replace("/graphql", &page))
        .send()
        .await
        .expect("the page");
    assert_eq!(page_html.status().as_u16(), 200);
    let csp = page_html
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );

    let (status, request) = read_request(&gateway, &id, &alice).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(request["tool"], "remove_computers");
    assert_eq!(request["state"], "pending");
    assert_eq!(request["arguments"], json!({ "computerNames": names }));
    let shown: Vec<Value> = (request["devices"].as_array().into_iter().flatten())
        .map(|device| json!([device["name"], device["found"], device["status"]]))
        .collect();
    assert_eq!(
        shown,
        vec![
            json!([offline[0], true, "OFFLINE"]),
            json!([offline[1], true, "OFFLINE"])
        ]
    );

    let digest = request["digest"].as_str().unwrap_or_default();
    let (status, decided) = decide(&gateway, &id, &alice, true, digest).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["status"], "approved");
    assert_eq!(
        decided["result"]["data"]["removeComputers"]["removedCount"], 2,
        "{decided}"
    );
    assert!(
        gateway.sim.state(
            |state| state.device(&offline[0]).is_none() && state.device(&offline[1]).is_none()
        )
    );

    // The assistant learns the outcome by calling again with the approval.
    let again = json!({ "computerNames": names, "approvalId": id });
    let (outcome, _) = call_tool(&gateway, &alice, "remove_computers", again.clone()).await;
    assert_eq!(outcome["status"], "approved", "{outcome}");
    assert_eq!(outcome["result"], decided["result"]);
    // Neither that call nor a second decision sends anything again.
    let (status, replayed) = decide(&gateway, &id, &alice, true, digest).await;
    assert_eq!((status, code(&replayed)), (409, "CONFLICT"), "{replayed}");
    call_tool(&gateway, &alice, "remove_computers", again).await;
    assert_eq!(
        gateway.calls(Endpoint::ComputerRemove),
        1,
        "the write ran once"
    );

    let audit = gateway
        .gql("{ auditLog(first: 5) { nodes { operation outcome team actor { kind subject via approval } } } }", json!({}))
        .await;
    assert_eq!(
        audit["data"]["auditLog"]["nodes"],
        json!([{ "operation": "removeComputers", "outcome": "OK", "team": "corp/helpdesk",
                 "actor": { "kind": "PERSON", "subject": "alice", "via": "mcp", "approval": id } }])
    );
}

#[tokio::test]
async fn a_declined_or_expired_approval_changes_nothing() {
    let idp = Idp::start(&["rsa-1"]).await;
    let gateway = gateway(&idp).await;
    let alice = person(&idp, "alice");
    let offline = gateway.devices_by_status(false);
    let arguments = json!({ "computerNames": [offline[0]] });

    let (asked, _) = call_tool(&gateway, &alice, "remove_computers", arguments.clone()).await;
    let (declined_id, _) = approval_of(&asked);
    let (_, request) = read_request(&gateway, &declined_id, &alice).await;
    let (status, declined) = decide(
        &gateway,
        &declined_id,
        &alice,
        false,
        request["digest"].as_str().unwrap_or_default(),
    )
    .await;
    assert_eq!(
        (status, declined),
        (200, json!({ "status": "declined", "result": null }))
    );
    let mut again = arguments.clone();
    again["approvalId"] = json!(declined_id);
    let (outcome, _) = call_tool(&gateway, &alice, "remove_computers", again).await;
    assert_eq!(outcome["status"], "declined", "{outcome}");

    let (asked, _) = call_tool(&gateway, &alice, "remove_computers", arguments.clone()).await;
    let (expired_id, _) = approval_of(&asked);
    let (_, request) = read_request(&gateway, &expired_id, &alice).await;
    gateway.clock.advance(Duration::from_secs(601));
    let (status, late) = decide(
        &gateway,
        &expired_id,
        &alice,
        true,
        request["digest"].as_str().unwrap_or_default(),
    )
    .await;
    assert_eq!((status, code(&late)), (409, "CONFLICT"), "{late}");
    let (_, request) = read_request(&gateway, &expired_id, &alice).await;
    assert_eq!(request["state"], "expired");
    let mut again = arguments;
    again["approvalId"] = json!(expired_id);
    let (outcome, _) = call_tool(&gateway, &alice, "remove_computers", again).await;
    assert_eq!(outcome["status"], "expired", "{outcome}");

    assert_eq!(gateway.calls(Endpoint::ComputerRemove), 0);
    assert!(
        gateway
            .sim
            .state(|state| state.device(&offline[0]).is_some())
    );
}

#[tokio::test]
async fn nobody_but_the_person_decides_and_nothing_but_what_they_saw_runs() {
    let idp = Idp::start(&["rsa-1"]).await;
    let gateway = gateway(&idp).await;
    let (alice, bob) = (person(&idp, "alice"), person(&idp, "bob"));
    let offline = gateway.devices_by_status(false);
    let arguments = json!({ "computerNames": [offline[0]] });
    let (asked, _) = call_tool(&gateway, &alice, "remove_computers", arguments.clone()).await;
    let (id, _) = approval_of(&asked);
    let (_, request) = read_request(&gateway, &id, &alice).await;
    let digest = request["digest"].as_str().unwrap_or_default().to_owned();

    // Another person of the same role can neither see nor decide it.
    let (status, seen) = read_request(&gateway, &id, &bob).await;
    assert_eq!((status, code(&seen)), (403, "FORBIDDEN"), "{seen}");
    let (status, refused) = decide(&gateway, &id, &bob, true, &digest).await;
    assert_eq!((status, code(&refused)), (403, "FORBIDDEN"), "{refused}");
    assert_eq!(
        refused["errors"][0]["message"],
        "this approval was asked for another person"
    );
    // A team token, whatever its scopes, cannot approve.
    let (status, refused) = decide(&gateway, &id, ADMIN_TOKEN, true, &digest).await;
    assert_eq!((status, code(&refused)), (403, "FORBIDDEN"), "{refused}");
    // Nor can an unknown id, or a page that showed other arguments.
    let (status, _) = decide(&gateway, &"x".repeat(32), &alice, true, &digest).await;
    assert_eq!(status, 404);
    let (status, refused) = decide(&gateway, &id, &alice, true, &"0".repeat(64)).await;
    assert_eq!((status, code(&refused)), (409, "CONFLICT"), "{refused}");

    // The MCP client's own word decides nothing: calling again with the
    // approval (and anything that claims acceptance) while it waits.
    let forged = json!({ "name": "remove_computers",
        "arguments": { "computerNames": [offline[0]], "approvalId": id },
        "inputResponses": { "approval": { "action": "accept" } } });
    let (status, _, body) =
        crate::mcp::mcp_call(&gateway, Some(&alice), "tools/call", forged).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"]["structuredContent"]["status"], "pending",
        "{body}"
    );
    // Nor does reusing the approval for other arguments, or another person.
    let changed = json!({ "computerNames": [offline[1]], "approvalId": id });
    let (refused, is_error) = call_tool(&gateway, &alice, "remove_computers", changed).await;
    assert!(is_error);
    assert_eq!(refused["errors"][0]["code"], "CONFLICT", "{refused}");
    let mut as_bob = arguments.clone();
    as_bob["approvalId"] = json!(id);
    let (refused, _) = call_tool(&gateway, &bob, "remove_computers", as_bob).await;
    assert_eq!(refused["errors"][0]["code"], "FORBIDDEN", "{refused}");

    assert_eq!(
        gateway.calls(Endpoint::ComputerRemove),
        0,
        "0 destructive calls without the person's approval"
    );
    // Alice can still approve what she saw.
    let (status, decided) = decide(&gateway, &id, &alice, true, &digest).await;
    assert_eq!(
        (status, decided["status"].clone()),
        (200, json!("approved")),
        "{decided}"
    );
    assert_eq!(gateway.calls(Endpoint::ComputerRemove), 1);
}

#[tokio::test]
async fn approvals_are_bounded() {
    let idp = Idp::start(&["rsa-1"]).await;
    let provider = OidcSettings {
        roles_claim: "groups".to_owned(),
        roles: [(
            "helpdesk".to_owned(),
            role(&["read", "computers:write"], 600, 60),
        )]
        .into(),
        ..OidcSettings::new(idp.issuer(), &[AUDIENCE])
    };
    let gateway = spawn_gateway_with(Default::default(), move |settings| {
        settings.mcp.enabled = true;
        settings.mcp.max_pending_approvals = 2;
        settings.auth.oidc.insert("corp".to_owned(), provider);
    })
    .await;
    let alice = person(&idp, "alice");
    let arguments = json!({ "computerNames": ["PC-1"] });
    for _ in 0..2 {
        let (asked, _) = call_tool(&gateway, &alice, "remove_computers", arguments.clone()).await;
        approval_of(&asked);
    }
    let (refused, is_error) = call_tool(&gateway, &alice, "remove_computers", arguments).await;
    assert!(is_error);
    assert_eq!(refused["errors"][0]["code"], "RATE_LIMITED", "{refused}");
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("mcp.max_pending_approvals"), "{refused}");
}
