//! How the person is reached: a 2026-07-28 client that elicits URLs sends
//! them to the approval page (and its own "accept" decides nothing), and
//! the page signs them in at the configured provider only.

use remotepc_gateway::settings::OidcSettings;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{TestGateway, spawn_gateway_with};
use crate::mcp_approvals::{decide, gateway, person, read_request};
use crate::oidc::{AUDIENCE, Idp, role};

/// A `tools/call` as a 2026-07-28 client that can elicit URLs sends it.
async fn call_eliciting(gateway: &TestGateway, token: &str, params: Value) -> Value {
    let url = gateway.url.replace("/graphql", "/mcp");
    let body = json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params });
    let answer = (gateway.http.post(url).bearer_auth(token))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", params["name"].as_str().unwrap_or_default())
        .body(body.to_string())
        .send()
        .await
        .expect("an answer");
    let status = answer.status().as_u16();
    let text = answer.text().await.expect("a body");
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("JSON")
}

fn eliciting_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { "name": "test", "version": "1" },
        "io.modelcontextprotocol/clientCapabilities": { "elicitation": { "url": {} } },
    })
}

#[tokio::test]
async fn a_client_that_elicits_urls_sends_the_person_to_the_page_and_its_accept_decides_nothing() {
    let idp = Idp::start(&["rsa-1"]).await;
    let gateway = gateway(&idp).await;
    let alice = person(&idp, "alice");
    let offline = gateway.devices_by_status(false);
    let arguments = json!({ "computerNames": [offline[0]] });
    let asked = call_eliciting(
        &gateway,
        &alice,
        json!({ "name": "remove_computers", "arguments": arguments, "_meta": eliciting_meta() }),
    )
    .await;
    let result = &asked["result"];
    assert_eq!(result["resultType"], "input_required", "{asked}");
    let id = result["requestState"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let elicitation = &result["inputRequests"]["approval"];
    assert_eq!(elicitation["method"], "elicitation/create", "{asked}");
    assert_eq!(elicitation["params"]["mode"], "url");
    assert_eq!(elicitation["params"]["elicitationId"], id.as_str());
    let url = elicitation["params"]["url"].as_str().unwrap_or_default();
    assert!(url.ends_with(&format!("/approve/{id}")), "{asked}");

    // The client says the person accepted; the person did not.
    let retry = json!({ "name": "remove_computers", "arguments": arguments, "_meta": eliciting_meta(),
        "requestState": id, "inputResponses": { "approval": { "action": "accept" } } });
    let told = call_eliciting(&gateway, &alice, retry.clone()).await;
    assert_eq!(
        told["result"]["structuredContent"]["status"], "pending",
        "{told}"
    );
    assert_eq!(gateway.calls(Endpoint::ComputerRemove), 0);

    let (_, request) = read_request(&gateway, &id, &alice).await;
    let (status, _) = decide(
        &gateway,
        &id,
        &alice,
        true,
        request["digest"].as_str().unwrap_or_default(),
    )
    .await;
    assert_eq!(status, 200);
    let told = call_eliciting(&gateway, &alice, retry).await;
    assert_eq!(
        told["result"]["structuredContent"]["status"], "approved",
        "{told}"
    );
    assert_eq!(gateway.calls(Endpoint::ComputerRemove), 1);
}

#[tokio::test]
async fn the_page_names_where_people_sign_in_and_may_reach_only_that_provider() {
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
        settings.auth.oidc.insert("corp".to_owned(), provider);
        settings.mcp.sign_in_provider = Some("corp".to_owned());
        settings.mcp.sign_in_client_id = Some("remotepc-approvals".to_owned());
    })
    .await;
    let base = gateway.url.replace("/graphql", "");
    let config: Value = (gateway
        .http
        .get(format!("{base}/approve/sign-in"))
        .send()
        .await)
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        config,
        json!({ "issuer": idp.issuer(), "clientId": "remotepc-approvals", "scope": "openid profile" })
    );
    for path in [
        "/approve/signed-in",
        &format!("/approve/{}", "a".repeat(32)),
    ] {
        let page = gateway
            .http
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("the page");
        let policy = (page.headers().get("content-security-policy"))
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            policy.contains(&format!("connect-src 'self' {};", idp.issuer())),
            "{policy}"
        );
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    }

    let without =
        spawn_gateway_with(Default::default(), |settings| settings.mcp.enabled = true).await;
    let base = without.url.replace("/graphql", "");
    let answer = without
        .http
        .get(format!("{base}/approve/sign-in"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status().as_u16(), 404);
    let page = without
        .http
        .get(format!("{base}/approve/signed-in"))
        .send()
        .await
        .expect("the page");
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(policy.contains("connect-src 'self';"), "{policy}");
}
