//! The audit log's read side: the `auditLog` query, `AuditEntry` and who
//! acted (`Actor`). Records are written by `audit_trail`.

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Context, ID, InputObject, Json, Object, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::cache_report::not_reusable;
use super::connection::ConnectionTotals;
use super::error::{ErrorCode, coded};
use super::guard::{RequireScope, Root};
use super::id::{NodeKind, global_id};
use super::timestamp::Timestamp;
use crate::auth::Caller;
use crate::catalog::{AuditActor, AuditFilter, AuditLog, AuditRecord, Catalog};
use crate::settings::GraphqlSettings;

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
    #[graphql(guard = "const { RequireScope::of(Root::Query, \"auditLog\") }")]
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

    /// The role (`<provider>/<claim value>`) or team it acted through;
    /// `mcp` when an assistant asked for it (the record's `team` still
    /// names the role or team).
    async fn via(&self) -> &str {
        &self.0.via
    }

    /// The approval the person gave the assistant's write (see
    /// `/approve/<id>`); null for any other write.
    async fn approval(&self) -> Option<&str> {
        self.0.approval.as_deref()
    }
}
