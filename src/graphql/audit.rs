//! The audit trail of mutations: each one's record is committed before its
//! response is sent, whatever the outcome; and the `auditLog` query.

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Context, InputObject, Json, Object, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::distr::{Alphanumeric, SampleString};
use serde::Serialize;
use serde_json::{Value, json};

use super::RequestId;
use super::connection::ConnectionTotals;
use super::error::{ErrorCode, coded, error_code};
use super::guard::RequireScope;
use crate::auth::{Caller, Scope};
use crate::store::{AuditFilter, AuditRecord, Store};

/// Runs a mutation's `work` and records it with its `input` (serialized
/// before `work` consumes it); returns the outcome once the record is
/// committed.
pub(crate) async fn audited<P: Serialize>(
    ctx: &Context<'_>,
    operation: &'static str,
    input: Value,
    work: impl Future<Output = Result<P>>,
) -> Result<P> {
    let outcome = work.await;
    let (code, result) = match &outcome {
        Ok(payload) => (
            "OK".to_owned(),
            serde_json::to_value(payload).unwrap_or(Value::Null),
        ),
        Err(error) => {
            let code = error_code(error.extensions.as_ref())
                .unwrap_or_else(|| ErrorCode::Internal.as_str().to_owned());
            let extensions = error
                .extensions
                .as_ref()
                .and_then(|extensions| serde_json::to_value(extensions).ok())
                .unwrap_or(Value::Null);
            (
                code,
                json!({ "message": error.message, "extensions": extensions }),
            )
        }
    };
    let caller = ctx.data::<Caller>()?;
    let record = AuditRecord {
        id: Alphanumeric.sample_string(&mut rand::rng(), 24),
        at: Utc::now(),
        team: caller.team.clone(),
        account: caller.account.clone(),
        request_id: ctx
            .data::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default(),
        operation: operation.to_owned(),
        input,
        outcome: code,
        result,
    };
    if let Err(error) = ctx.data::<Store>()?.record_audit(&record).await {
        tracing::error!(error = %error, operation, "audit record not written");
        if outcome.is_ok() {
            return Err(coded(
                ErrorCode::Internal,
                "the change was made, but its audit record could not be written",
            ));
        }
    }
    outcome
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
pub(crate) struct AuditEntry(AuditRecord);

#[Object]
impl AuditEntry {
    /// Unique id.
    async fn id(&self) -> &str {
        &self.0.id
    }

    /// When the mutation finished.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// The team that ran it.
    async fn team(&self) -> &str {
        &self.0.team
    }

    /// The HTTP request's `x-request-id`.
    async fn request_id(&self) -> &str {
        &self.0.request_id
    }

    /// The mutation, e.g. `inviteUsers`.
    async fn operation(&self) -> &str {
        &self.0.operation
    }

    /// Its input, passwords redacted.
    async fn input(&self) -> Json<&Value> {
        Json(&self.0.input)
    }

    /// `OK`, or the error code it failed with.
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
    /// Only this team's.
    pub(crate) team: Option<String>,
    /// Only this mutation's, e.g. `createUser`.
    pub(crate) operation: Option<String>,
    /// Only at or after this time.
    pub(crate) since: Option<DateTime<Utc>>,
    /// Only before this time.
    pub(crate) until: Option<DateTime<Utc>>,
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
        let caller = ctx.data::<Caller>()?;
        let store = ctx.data::<Store>()?;
        let filter = filter.unwrap_or_default();
        let filter = AuditFilter {
            account: Some(caller.account.clone()),
            team: filter.team,
            operation: filter.operation,
            since: filter.since,
            until: filter.until,
        };
        let first = match first {
            None => 50,
            Some(first @ 0..=500) => first as usize,
            Some(_) => {
                return Err(coded(
                    ErrorCode::BadUserInput,
                    "first: must be between 0 and 500",
                ));
            }
        };
        let after = match after.as_deref().map(AuditCursor::decode_cursor) {
            None => None,
            Some(Ok(cursor)) => Some((cursor.0, cursor.1)),
            Some(Err(_)) => {
                return Err(coded(
                    ErrorCode::BadUserInput,
                    "after: not a cursor returned by auditLog",
                ));
            }
        };
        let internal = |error: crate::store::StoreError| {
            tracing::error!(error = %error, "audit log unreadable");
            coded(ErrorCode::Internal, "internal error")
        };
        let has_previous = after.is_some();
        let mut records = store
            .audit_records(&filter, after, first + 1)
            .await
            .map_err(internal)?;
        let total_count = store.count_audit(&filter).await.map_err(internal)? as usize;
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
