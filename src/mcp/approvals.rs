//! A person's approval of an assistant's destructive change. The tool
//! call records a request bound to the person (issuer and `sub`), the
//! account, the tool, its arguments and an idempotency key, and answers
//! with the approval page's link. Only that person, signed in, decides
//! it, once, before it expires; approving runs the write once, under the
//! key, audited with `actor.via = "mcp"` and the approval's id. Nothing
//! the MCP client says decides anything.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{Map, Value, json};

use super::Mcp;
use super::answers::{self, ToolAnswer, ToolOperation};
use super::handler::without_approval;
use super::offer::Offered;
use crate::admission::Refusal;
use crate::auth::{ActorKind, Caller, Credential};
use crate::catalog::{Approval, ApprovalRequest, ApprovalState, StoreError};
use crate::graphql::{ErrorCode, RequestIds};

/// A new unguessable id (about 190 bits).
pub(super) fn new_id() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

/// The arguments a request is bound to, as one text: keys sorted at every
/// level, `approvalId` left out.
pub(super) fn bound_arguments(arguments: Map<String, Value>) -> String {
    fn sorted(value: Value) -> Value {
        match value {
            Value::Object(object) => {
                let mut entries: Vec<_> = object.into_iter().collect();
                entries.sort_by(|(a, _), (b, _)| a.cmp(b));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(key, value)| (key, sorted(value)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
            other => other,
        }
    }
    sorted(Value::Object(without_approval(arguments))).to_string()
}

/// What the page shows and posts back: the digest of the bound arguments.
pub(super) fn digest(approval: &Approval) -> String {
    crate::digest::sha256_hex(approval.request.arguments.as_bytes())
}

fn expires_at(approval: &ApprovalRequest) -> String {
    DateTime::<Utc>::from_timestamp_millis(approval.expires_ms)
        .unwrap_or_default()
        .to_rfc3339()
}

/// A tool call from a person: a new approval request, or (with
/// `approvalId`) where the one it names stands.
pub(super) async fn ask_or_report(
    mcp: &Mcp,
    caller: &Caller,
    tool: &Offered,
    arguments: Map<String, Value>,
    base: &str,
) -> ToolAnswer {
    let named = arguments
        .get("approvalId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let bound = bound_arguments(arguments);
    let url = |id: &str| format!("{base}/approve/{id}");
    let result = match named {
        Some(id) => report(mcp, caller, tool, &bound, &id).await.map(|(approval, status)| {
            let mut answer = json!({
                "status": status,
                "approvalId": approval.request.id,
                "approvalUrl": url(&approval.request.id),
                "expiresAt": expires_at(&approval.request),
            });
            if let ApprovalState::Approved(Some(outcome)) = &approval.state {
                answer["result"] = serde_json::from_str(outcome).unwrap_or(Value::Null);
            }
            answer
        }),
        None => ask(mcp, caller, tool, bound).await.map(|request| {
            json!({
                "status": "approval_required",
                "approvalId": request.id,
                "approvalUrl": url(&request.id),
                "expiresAt": expires_at(&request),
                "message": format!("Nothing has changed yet. Ask the person to open approvalUrl, review exactly what `{}` will change and approve or decline it; then call `{}` again with the same arguments and approvalId to learn the outcome.", tool.name, tool.name),
            })
        }),
    };
    match result {
        Ok(structured) => ToolAnswer {
            structured,
            is_error: false,
        },
        Err(refused) => answers::refusal_answer(&refused),
    }
}

async fn ask(
    mcp: &Mcp,
    caller: &Caller,
    tool: &Offered,
    arguments: String,
) -> Result<ApprovalRequest, Refusal> {
    let settings = &mcp.0.settings;
    let ttl = i64::try_from(settings.approval_ttl.as_millis()).unwrap_or(i64::MAX);
    let request = ApprovalRequest {
        id: new_id(),
        account: caller.account.clone(),
        issuer: caller.actor.issuer.clone().unwrap_or_default(),
        subject: caller.actor.subject.clone(),
        tool: tool.name.clone(),
        arguments,
        idempotency_key: new_id(),
        expires_ms: mcp.0.catalog.now().timestamp_millis().saturating_add(ttl),
    };
    let max = u64::try_from(settings.max_pending_approvals).unwrap_or(u64::MAX);
    match mcp.0.catalog.approvals().request(&request, max).await {
        Ok(true) => Ok(request),
        Ok(false) => Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "too many approvals are waiting (mcp.max_pending_approvals); try again once some are decided or expired",
        )),
        Err(error) => Err(store_refusal(&error)),
    }
}

/// Where the approval `id` stands, for the person who asked for it and the
/// same tool and arguments only.
async fn report(
    mcp: &Mcp,
    caller: &Caller,
    tool: &Offered,
    bound: &str,
    id: &str,
) -> Result<(Approval, &'static str), Refusal> {
    let approval = owned_by(caller, find(mcp, id).await)?;
    if approval.request.tool != tool.name || approval.request.arguments != bound {
        return Err(conflict(
            "these arguments are not the ones the approval was asked for: nothing ran; call without approvalId to ask for a new approval",
        ));
    }
    let expired = approval.request.expires_ms <= mcp.0.catalog.now().timestamp_millis();
    let status = match (&approval.state, expired) {
        (ApprovalState::Pending, false) => "pending",
        (ApprovalState::Pending, true) => "expired",
        (ApprovalState::Declined, _) => "declined",
        (ApprovalState::Approved(Some(_)), _) => "approved",
        (ApprovalState::Approved(None), _) => "running",
    };
    Ok((approval, status))
}

/// The approval `id` as stored; not found when malformed or absent.
pub(super) async fn find(mcp: &Mcp, id: &str) -> Result<Approval, Refusal> {
    let not_found = || {
        Refusal::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such approval (it may have expired)",
        )
    };
    if id.len() != 32 || !id.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
        return Err(not_found());
    }
    (mcp.0.catalog.approvals().get(id).await)
        .map_err(|error| store_refusal(&error))?
        .ok_or_else(not_found)
}

/// `found`, when `caller` is the person it was asked for, on the account
/// it acts on.
pub(super) fn owned_by(
    caller: &Caller,
    found: Result<Approval, Refusal>,
) -> Result<Approval, Refusal> {
    // Before what was found is told: a team token learns nothing of which
    // approvals exist.
    if caller.actor.kind != ActorKind::Person {
        return Err(forbidden(
            "a team token cannot approve: the person the assistant acts for must sign in",
        ));
    }
    let approval = found?;
    let request = &approval.request;
    let same_person = caller.actor.issuer.as_deref() == Some(request.issuer.as_str())
        && caller.actor.subject == request.subject;
    if !same_person {
        return Err(forbidden("this approval was asked for another person"));
    }
    if caller.account != request.account {
        return Err(forbidden(
            "this approval acts on another account: send its name in remotepc-account",
        ));
    }
    Ok(approval)
}

/// What the person decided, and what the write answered.
pub(super) struct Decided {
    pub(super) approved: bool,
    pub(super) result: Value,
}

/// The person's decision on `found`, made on the page whose arguments
/// hashed to `seen_digest`: approving runs the write once, as them.
pub(super) async fn decide(
    mcp: &Mcp,
    credential: &mut Credential<'_>,
    (found, approve, seen_digest): (Result<Approval, Refusal>, bool, &str),
    ids: RequestIds,
) -> Result<Decided, Refusal> {
    let caller = credential.caller().clone();
    let approval = owned_by(&caller, found)?;
    let id = approval.request.id.as_str();
    if digest(&approval) != seen_digest {
        return Err(conflict(
            "the request is not the one this page showed: reload it",
        ));
    }
    let tool = (mcp.find(&caller, &approval.request.tool))
        .ok_or_else(|| conflict("the approval names a tool this person is no longer offered"))?;
    let book = mcp.0.catalog.approvals();
    match book.decide(id, approve).await {
        Ok(true) => {}
        Ok(false) => return Err(conflict("this approval was already decided, or it expired")),
        Err(error) => return Err(store_refusal(&error)),
    }
    if !approve {
        return Ok(Decided {
            approved: false,
            result: Value::Null,
        });
    }
    let operation = ToolOperation {
        document: &tool.document,
        variables: serde_json::from_str(&approval.request.arguments).unwrap_or(Value::Null),
        ids,
        idempotency_key: Some(approval.request.idempotency_key.clone()),
        approval: Some(approval.request.id.clone()),
    };
    let result = match answers::run(&mcp.0.admission, credential, operation).await {
        Ok(response) => response,
        Err(refused) => {
            json!({ "errors": [{ "message": refused.message(), "extensions": { "code": refused.code().as_str() } }] })
        }
    };
    if let Err(error) = book.complete(id, &result.to_string()).await {
        tracing::warn!(error = %error, approval = id, "the approval's outcome was not kept; the audit log has it");
    }
    Ok(Decided {
        approved: true,
        result,
    })
}

fn forbidden(message: &str) -> Refusal {
    Refusal::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
}

fn conflict(message: &str) -> Refusal {
    Refusal::new(StatusCode::CONFLICT, ErrorCode::Conflict, message)
}

fn store_refusal(error: &StoreError) -> Refusal {
    tracing::warn!(error = %error, "approvals cannot be read or written");
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::StoreUnavailable,
        "the gateway's store cannot record approvals now; nothing was changed",
    )
}
