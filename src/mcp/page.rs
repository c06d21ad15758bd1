//! The approval page, `/approve/<id>`: the gateway's own page (the same
//! Content-Security-Policy as GraphiQL), where the signed-in person sees
//! exactly what the assistant's change would do, by name from the
//! snapshot, and approves or declines it. The page holds no data itself:
//! its script reads the request and posts the decision with the person's
//! bearer token, so no cookie can decide for them.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Mcp;
use super::approvals::{self, digest};
use super::tools::built_in;
use crate::admission::Refusal;
use crate::catalog::{Approval, ApprovalState};
use crate::catalog::{Device, User};
use crate::graphql::RequestIds;

const PAGE: &str = include_str!("approve.html");
const SCRIPT: &str = include_str!("approve.js");

/// GraphiQL's policy: the gateway's own script, talking to the gateway
/// only, never framed (an approve button in a frame is a clickjacking
/// target). With sign-in, the page may also talk to the identity
/// provider (its discovery document and token endpoint).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// Where the approval page signs people in.
pub(super) struct SignIn {
    body: Value,
    policy: String,
}

impl SignIn {
    pub(super) fn from_settings(settings: &crate::settings::Settings) -> Option<Self> {
        let mcp = &settings.mcp;
        let provider = settings.auth.oidc.get(mcp.sign_in_provider.as_deref()?)?;
        let issuer = provider.issuer.trim_end_matches('/');
        let origin = issuer.split('/').take(3).collect::<Vec<_>>().join("/");
        let body = json!({ "issuer": issuer, "clientId": mcp.sign_in_client_id, "scope": mcp.sign_in_scope });
        let policy = CONTENT_SECURITY_POLICY.replace(
            "connect-src 'self'",
            &format!("connect-src 'self' {origin}"),
        );
        Some(Self { body, policy })
    }
}

/// The provider, client id and scope the page signs people in with.
pub(super) async fn sign_in(State(mcp): State<Mcp>) -> Response {
    super::json_answer(match &mcp.0.sign_in {
        Some(sign_in) => Ok(sign_in.body.clone()),
        None => Err(Refusal::new(
            axum::http::StatusCode::NOT_FOUND,
            crate::graphql::ErrorCode::NotFound,
            "no sign-in is configured (mcp.sign_in_provider): paste a token",
        )),
    })
}

pub(super) async fn page(State(mcp): State<Mcp>) -> Response {
    let policy =
        (mcp.0.sign_in.as_ref()).map_or(CONTENT_SECURITY_POLICY, |sign_in| sign_in.policy.as_str());
    (
        [
            (header::CONTENT_SECURITY_POLICY, policy),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(PAGE),
    )
        .into_response()
}

pub(super) async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// What the approval asks, for the person it was asked for: the tool, its
/// arguments, and every device or user it names as the snapshot has them.
pub(super) async fn request(
    State(mcp): State<Mcp>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let answer = async {
        let found = approvals::find(&mcp, &id).await;
        let credential = mcp.authenticate(&on_account(&headers, &found)).await?;
        let approval = approvals::owned_by(credential.caller(), found)?;
        Ok::<_, Refusal>(described(&mcp, &approval).await)
    };
    super::json_answer(answer.await)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Decision {
    approve: bool,
    /// The digest of the arguments the page showed.
    digest: String,
}

/// The person's decision; approving runs the write and answers its result.
pub(super) async fn decide(
    State(mcp): State<Mcp>,
    Path(id): Path<String>,
    Extension(ids): Extension<RequestIds>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let answer = async {
        let decision: Decision = serde_json::from_slice(&body)
            .map_err(|_| Refusal::bad_request("the body must be JSON: {\"approve\": true|false, \"digest\": \"<the page's digest>\"}"))?;
        let found = approvals::find(&mcp, &id).await;
        let mut credential = mcp.authenticate(&on_account(&headers, &found)).await?;
        let decided = approvals::decide(
            &mcp,
            &mut credential,
            (found, decision.approve, &decision.digest),
            ids,
        )
        .await?;
        Ok::<_, Refusal>(json!({
            "status": if decided.approved { "approved" } else { "declined" },
            "result": decided.result,
        }))
    };
    super::json_answer(answer.await)
}

/// `headers`, naming the account the approval `found` acts on: a person
/// whose roles name several accounts decides on that one, whichever the
/// page would otherwise default to.
fn on_account(headers: &HeaderMap, found: &Result<Approval, Refusal>) -> HeaderMap {
    let mut headers = headers.clone();
    if let Ok(approval) = found
        && let Ok(account) = HeaderValue::from_str(&approval.request.account)
    {
        headers.insert(super::ACCOUNT_HEADER, account);
    }
    headers
}

async fn described(mcp: &Mcp, approval: &Approval) -> Value {
    let request = &approval.request;
    let arguments: Value = serde_json::from_str(&request.arguments).unwrap_or(Value::Null);
    let names = |key: &str| -> Vec<String> {
        (arguments[key].as_array().into_iter().flatten())
            .filter_map(|name| name.as_str().map(str::to_owned))
            .collect()
    };
    let catalog = &mcp.0.catalog;
    let devices = match catalog.fleet(&request.account) {
        Ok(fleet) => fleet
            .devices(false)
            .await
            .ok()
            .map(|served| served.snapshot),
        Err(_) => None,
    };
    let users = match catalog.directory(&request.account) {
        Ok(directory) => directory
            .users(false)
            .await
            .ok()
            .map(|served| served.snapshot),
        Err(_) => None,
    };
    let device = |name: &String| match devices.as_ref().and_then(|snapshot| snapshot.get(name)) {
        Some(device) => device_view(device),
        None => json!({ "name": name, "found": false }),
    };
    let user = |email: &String| match users.as_ref().and_then(|snapshot| snapshot.get(email)) {
        Some(user) => user_view(user),
        None => json!({ "username": email, "found": false }),
    };
    let state = match &approval.state {
        ApprovalState::Pending if request.expires_ms <= catalog.now().timestamp_millis() => {
            "expired"
        }
        ApprovalState::Pending => "pending",
        ApprovalState::Approved(_) => "approved",
        ApprovalState::Declined => "declined",
    };
    let username: Vec<String> = arguments["username"]
        .as_str()
        .map(str::to_owned)
        .into_iter()
        .collect();
    let users_named = [names("activeUsers"), names("invitedUsers"), username].concat();
    json!({
        "id": request.id,
        "tool": request.tool,
        "title": built_in(&request.tool).map_or(request.tool.as_str(), |tool| tool.title),
        "account": request.account,
        "state": state,
        "expiresAt": chrono::DateTime::<chrono::Utc>::from_timestamp_millis(request.expires_ms).map(|at| at.to_rfc3339()),
        "arguments": arguments,
        "digest": digest(approval),
        "devices": names("computerNames").iter().map(device).collect::<Vec<_>>(),
        "users": users_named.iter().map(user).collect::<Vec<_>>(),
        "group": arguments.get("groupName"),
    })
}

fn device_view(device: &Arc<Device>) -> Value {
    json!({
        "name": device.name,
        "found": true,
        "status": format!("{:?}", device.status).to_uppercase(),
        "os": device.os,
        "comment": device.comment,
        "lastSessionAt": device.last_session_at.map(|at| at.to_rfc3339()),
    })
}

fn user_view(user: &Arc<User>) -> Value {
    json!({
        "username": user.username,
        "found": true,
        "firstName": user.first_name,
        "lastName": user.last_name,
    })
}
