//! The audit trail of mutations: each one's record is committed before its
//! response is sent, whatever the outcome; and the `auditLog` query.

use std::sync::Arc;

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Context, ID, InputObject, Json, Object, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::distr::{Alphanumeric, SampleString};
use serde::Serialize;
use serde_json::{Value, json};

use super::cache_report::not_reusable;
use super::connection::ConnectionTotals;
use super::error::{ErrorCode, coded, error_code};
use super::guard::RequireScope;
use super::node::{NodeKind, global_id};
use super::timestamp::Timestamp;
use crate::graphql::RequestIds;

use crate::auth::{Caller, Scope};
use crate::catalog::{AuditActor, AuditFilter, AuditLog, AuditRecord, Catalog};
use crate::settings::GraphqlSettings;

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

/// One mutation, as recorded.
pub(crate) struct AuditEntry(pub(crate) AuditRecord);

#[Object]
impl AuditEntry {
    /// A global id (`Node`).
    pub(crate) async fn id(&self) -> ID {
        global_id(NodeKind::AuditEntry, &self.0.id)
    }

    /// The record's own id, as stored (what logs and the database show).
    async fn record_id(&self) -> &str {
        &self.0.id
    }

    /// When the gateway began the mutation.
    async fn at(&self) -> Timestamp {
        Timestamp::utc(self.0.at)
    }

    /// The team that ran it, or `<provider>/<role>` for a person.
    async fn team(&self) -> &str {
        &self.0.team
    }

    /// Who exactly ran it: a person signed in through an identity
    /// provider, or a team token.
    async fn actor(&self) -> AuditActorView<'_> {
        AuditActorView(&self.0.actor)
    }

    /// The id the gateway gave the HTTP request (the `x-request-id` it
    /// answered with).
    async fn request_id(&self) -> &str {
        &self.0.request_id
    }

    /// The `x-request-id` the client sent, if any: the client's word, kept
    /// for correlation, never used as the record's id.
    async fn client_request_id(&self) -> Option<&str> {
        self.0.client_request_id.as_deref()
    }

    /// The mutation, e.g. `inviteUsers`.
    async fn operation(&self) -> &str {
        &self.0.operation
    }

    /// Its input, passwords redacted.
    async fn input(&self) -> Json<&Value> {
        Json(&self.0.input)
    }

    /// `OK`, or the error code it failed or was refused with; `STARTED`
    /// while it runs; `OUTCOME_UNKNOWN` when the gateway stopped before
    /// RemotePC answered (a `STARTED` record that stays so belongs to a
    /// process that died: its outcome is unknown too).
    async fn outcome(&self) -> &str {
        &self.0.outcome
    }

    /// Its payload (per-item results), or its error.
    async fn result(&self) -> Json<&Value> {
        Json(&self.0.result)
    }
}

/// Which audit records to list.
#[derive(InputObject, Default)]
pub(crate) struct AuditLogFilter {
    /// Only this team's (or `<provider>/<role>`'s).
    pub(crate) team: Option<String>,
    /// Only this actor's: a person's subject (`sub`) or a team's name.
    pub(crate) actor: Option<String>,
    /// Only this mutation's, e.g. `createUser`.
    pub(crate) operation: Option<String>,
    /// Only at or after this time.
    pub(crate) since: Option<Timestamp>,
    /// Only before this time.
    pub(crate) until: Option<Timestamp>,
}

/// A position in the audit log: a record's time and id.
pub(crate) struct AuditCursor(DateTime<Utc>, String);

impl CursorType for AuditCursor {
    type Error = &'static str;

    fn decode_cursor(encoded: &str) -> Result<Self, Self::Error> {
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| "not a cursor")?;
        let (millis, id): (i64, String) =
            serde_json::from_slice(&bytes).map_err(|_| "not a cursor")?;
        let at = DateTime::from_timestamp_millis(millis).ok_or("not a cursor")?;
        Ok(Self(at, id))
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&(self.0.timestamp_millis(), &self.1)).unwrap_or_default())
    }
}

/// Audit queries.
#[derive(Default)]
pub(crate) struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Mutations made on the caller's RemotePC account, newest first.
    #[graphql(guard = "RequireScope(Scope::AuditRead)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditLogFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<AuditCursor, AuditEntry, ConnectionTotals>> {
        // The log grows without any snapshot changing: never kept.
        not_reusable(ctx);
        let caller = ctx.data::<Caller>()?;
        let audit_log = ctx.data::<AuditLog>()?;
        let zone = ctx.data::<Catalog>()?.time_zone(&caller.account);
        let filter = filter.unwrap_or_default();
        let filter = AuditFilter {
            account: Some(caller.account.clone()),
            team: filter.team,
            actor: filter.actor,
            operation: filter.operation,
            since: (filter.since)
                .map(|at| at.instant_in(zone, "filter.since"))
                .transpose()?,
            until: (filter.until)
                .map(|at| at.instant_in(zone, "filter.until"))
                .transpose()?,
            ..AuditFilter::default()
        };
        let (first, after) = audit_page(ctx.data::<GraphqlSettings>()?, first, after)?;
        let has_previous = after.is_some();
        let mut records = audit_log
            .page(&filter, after.map(|cursor| (cursor.0, cursor.1)), first + 1)
            .await
            .map_err(unreadable)?;
        let total_count = audit_log.count(&filter).await.map_err(unreadable)? as usize;
        let has_next = records.len() > first;
        records.truncate(first);
        let mut connection = Connection::with_additional_fields(
            has_previous,
            has_next,
            ConnectionTotals { total_count },
        );
        connection.edges = records
            .into_iter()
            .map(|record| {
                Edge::new(
                    AuditCursor(record.at, record.id.clone()),
                    AuditEntry(record),
                )
            })
            .collect();
        Ok(connection)
    }
}

/// `first` and `after` of an `auditLog` page; `first` defaults to
/// `graphql.default_page_size` and is at most `graphql.max_page_size`, as
/// for the other connections.
fn audit_page(
    limits: &GraphqlSettings,
    first: Option<i32>,
    after: Option<String>,
) -> Result<(usize, Option<AuditCursor>)> {
    let first = match first.map(usize::try_from) {
        None => limits.default_page_size,
        Some(Ok(first)) if first <= limits.max_page_size => first,
        Some(_) => {
            let message = format!(
                "first: must be between 0 and {} (graphql.max_page_size)",
                limits.max_page_size
            );
            return Err(coded(ErrorCode::BadUserInput, message));
        }
    };
    let after = match after.as_deref().map(AuditCursor::decode_cursor) {
        None => None,
        Some(Ok(cursor)) => Some(cursor),
        Some(Err(_)) => {
            let message = "after: not a cursor returned by auditLog";
            return Err(coded(ErrorCode::BadUserInput, message));
        }
    };
    Ok((first, after))
}

/// The root fields of one operation that recorded themselves through
/// `audited`; the others get a refusal record after execution.
#[derive(Debug, Default)]
pub(crate) struct AuditTrail {
    /// std `Mutex`: never held across `.await`.
    marked: std::sync::Mutex<Vec<String>>,
}

impl AuditTrail {
    pub(crate) fn mark(&self, response_key: &str) {
        self.lock().push(response_key.to_owned());
    }

    pub(crate) fn has(&self, response_key: &str) -> bool {
        self.lock().iter().any(|marked| marked == response_key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.marked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The audit log could not be read: logged here, `INTERNAL` to the client.
pub(crate) fn unreadable(error: crate::catalog::StoreError) -> async_graphql::Error {
    tracing::error!(error = %error, "audit log unreadable");
    coded(ErrorCode::Internal, "internal error")
}

/// Who ran a mutation.
pub(crate) struct AuditActorView<'a>(&'a AuditActor);

/// Whether a person or a team acted.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActorKind {
    /// A person signed in through an identity provider.
    Person,
    /// A team token: a service or a script.
    Team,
}

#[Object(name = "Actor")]
impl AuditActorView<'_> {
    /// Person or team.
    async fn kind(&self) -> ActorKind {
        if self.0.kind == "PERSON" {
            ActorKind::Person
        } else {
            ActorKind::Team
        }
    }

    /// The person's subject (`sub` of their token), or the team's name.
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The person's display name or email, when their token had one.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// The person's identity provider (`iss`).
    async fn issuer(&self) -> Option<&str> {
        self.0.issuer.as_deref()
    }

    /// The role (`<provider>/<claim value>`) or team it acted through.
    async fn via(&self) -> &str {
        &self.0.via
    }
}
