//! The audit trail's write side: each mutation's record is committed as
//! `STARTED` before it can call RemotePC, and completed with its outcome
//! before its response is sent, whatever the outcome. `AuditTrail` notes
//! which root fields recorded themselves, so that execution records a
//! refusal for the others.

use std::sync::Arc;

use async_graphql::{Context, Result};
use chrono::Utc;
use rand::distr::{Alphanumeric, SampleString};
use serde::Serialize;
use serde_json::{Value, json};

use super::error::{ErrorCode, coded, error_code};
use crate::auth::Caller;
use crate::catalog::{AuditActor, AuditLog, AuditRecord};
use crate::graphql::RequestIds;

/// Runs a mutation's `work`, recorded with its `input` (serialized before
/// `work` consumes it): the record is committed as `STARTED` before `work`
/// can call RemotePC, and completed with the outcome before the response.
/// When the record cannot be written, `work` does not run.
pub(crate) async fn audited<P: Serialize>(
    ctx: &Context<'_>,
    operation: &'static str,
    input: Value,
    work: impl Future<Output = Result<P>>,
) -> Result<P> {
    let audit_log = ctx.data::<AuditLog>()?;
    let record = new_record(ctx, operation, input)?;
    if let Err(error) = audit_log.begin(&record).await {
        tracing::error!(error = %error, operation, "audit record not written; mutation not run");
        return Err(coded(
            ErrorCode::StoreUnavailable,
            "nothing was sent to RemotePC: the audit record could not be written; retry later",
        ));
    }
    if let Ok(trail) = ctx.data::<Arc<AuditTrail>>() {
        trail.mark(ctx.item.node.response_key().node.as_str());
    }
    let outcome = work.await;
    let (code, result) = match &outcome {
        Ok(payload) => (
            "OK".to_owned(),
            serde_json::to_value(payload).unwrap_or(Value::Null),
        ),
        Err(error) => (error_outcome(error), error_result(error)),
    };
    if let Err(error) = audit_log.finish(&record.id, &code, &result).await {
        // Kept by the audit log and written when the store takes it again.
        tracing::warn!(error = %error, operation, "audit record completed later: the store refused it now");
    }
    outcome
}

/// A new record of `operation` by the request's caller, outcome `STARTED`.
fn new_record(ctx: &Context<'_>, operation: &str, input: Value) -> Result<AuditRecord> {
    let caller = ctx.data::<Caller>()?;
    let ids = ctx.data::<RequestIds>().cloned().unwrap_or_default();
    Ok(AuditRecord::started(caller, &ids, operation, input))
}

impl AuditRecord {
    /// A record of `operation`, begun now by `caller` in the request `ids`.
    pub(crate) fn started(
        caller: &Caller,
        ids: &RequestIds,
        operation: &str,
        input: Value,
    ) -> AuditRecord {
        AuditRecord {
            id: Alphanumeric.sample_string(&mut rand::rng(), 24),
            at: Utc::now(),
            team: caller.team.clone(),
            actor: AuditActor {
                kind: caller.actor.kind.as_str().to_owned(),
                subject: caller.actor.subject.clone(),
                name: caller.actor.name.clone(),
                issuer: caller.actor.issuer.clone(),
                via: caller.actor.via.clone(),
                approval: caller.actor.approval.clone(),
            },
            account: caller.account.clone(),
            request_id: ids.id.clone(),
            client_request_id: ids.client.clone(),
            operation: operation.to_owned(),
            input,
            outcome: crate::catalog::STARTED.to_owned(),
            result: Value::Null,
        }
    }
}

/// An error's code as an audit outcome.
pub(crate) fn error_outcome(error: &async_graphql::Error) -> String {
    error_code(error.extensions.as_ref()).unwrap_or_else(|| ErrorCode::Internal.as_str().to_owned())
}

/// An error as an audit result: its message and extensions.
pub(crate) fn error_result(error: &async_graphql::Error) -> Value {
    let extensions = error
        .extensions
        .as_ref()
        .and_then(|extensions| serde_json::to_value(extensions).ok())
        .unwrap_or(Value::Null);
    json!({ "message": error.message, "extensions": extensions })
}

/// A mutation input as recorded: its JSON, secrets redacted by their
/// `serialize_with`.
pub(crate) fn recorded(input: &impl Serialize) -> Value {
    serde_json::to_value(input).unwrap_or(Value::Null)
}

/// Serializes a secret as `[redacted]`.
pub(crate) fn redacted<S: serde::Serializer>(_: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str("[redacted]")
}

/// The root fields of one operation that recorded themselves through
/// `audited`; the others get a refusal record after execution.
#[derive(Debug, Default)]
pub(crate) struct AuditTrail {
    /// std `Mutex`: never held across `.await`.
    marked: std::sync::Mutex<Vec<String>>,
}

impl AuditTrail {
    /// Notes that the root field `response_key` recorded itself.
    pub(crate) fn mark(&self, response_key: &str) {
        self.lock().push(response_key.to_owned());
    }

    /// Whether the root field `response_key` recorded itself.
    pub(crate) fn has(&self, response_key: &str) -> bool {
        self.lock().iter().any(|marked| marked == response_key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.marked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
