//! The audit log: one record per mutation. A mutation that may reach
//! RemotePC is recorded twice: `STARTED` before its first upstream call, then
//! completed with its outcome, so a crash leaves "started, outcome unknown"
//! rather than nothing. Records still open when the process stops are
//! completed as `OUTCOME_UNKNOWN`.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, failed, locked};

/// What one mutation did, for whom.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Unique id.
    pub id: String,
    /// When the gateway began the mutation.
    pub at: DateTime<Utc>,
    /// The calling team, or `<provider>/<role>` for a person.
    pub team: String,
    /// Who exactly acted.
    pub actor: AuditActor,
    /// The RemotePC account it acted on.
    pub account: String,
    /// The id the gateway gave the HTTP request (its `x-request-id` answer).
    pub request_id: String,
    /// The `x-request-id` the client sent, if any; never trusted as an id.
    pub client_request_id: Option<String>,
    /// The mutation's name, e.g. `inviteUsers`.
    pub operation: String,
    /// Its input, with passwords redacted.
    pub input: Value,
    /// `STARTED` while it runs, then `OK` or the error code it failed with;
    /// `OUTCOME_UNKNOWN` when the process stopped before it finished.
    pub outcome: String,
    /// The payload (per-item results) or the error.
    pub result: Value,
}

/// Who acted, as stored beside a record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditActor {
    /// `PERSON` or `TEAM`.
    pub kind: String,
    /// The person's `sub`, or the team's name.
    pub subject: String,
    /// The person's display name or email, if their token had one.
    pub name: Option<String>,
    /// The person's identity provider (`iss`).
    pub issuer: Option<String>,
    /// The role or team it acted through; `mcp` for a write an assistant
    /// asked for and a person approved.
    pub via: String,
    /// The approval the write ran under (an assistant's tool call).
    pub approval: Option<String>,
}

/// Which records to list; all conditions given must hold.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only the record with this id.
    pub id: Option<String>,
    /// Only this actor's (a person's `sub` or a team's name).
    pub actor: Option<String>,
    /// Only this account's.
    pub account: Option<String>,
    /// Only this team's.
    pub team: Option<String>,
    /// Only this operation's.
    pub operation: Option<String>,
    /// Only at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only before this time.
    pub until: Option<DateTime<Utc>>,
}

enum Bind {
    Text(String),
    Int(i64),
}

impl AuditFilter {
    /// `WHERE …` with `$n` placeholders numbered from 1, and its values.
    fn clause(&self) -> (String, Vec<Bind>) {
        let mut conditions = Vec::new();
        let mut binds = Vec::new();
        let mut add = |condition: &str, bind: Bind| {
            binds.push(bind);
            conditions.push(condition.replace('?', &format!("${}", binds.len())));
        };
        if let Some(id) = &self.id {
            add("id = ?", Bind::Text(id.clone()));
        }
        if let Some(actor) = &self.actor {
            add("actor_subject = ?", Bind::Text(actor.clone()));
        }
        if let Some(account) = &self.account {
            add("account = ?", Bind::Text(account.clone()));
        }
        if let Some(team) = &self.team {
            add("team = ?", Bind::Text(team.clone()));
        }
        if let Some(operation) = &self.operation {
            add("operation = ?", Bind::Text(operation.clone()));
        }
        if let Some(since) = self.since {
            add("at_ms >= ?", Bind::Int(since.timestamp_millis()));
        }
        if let Some(until) = self.until {
            add("at_ms < ?", Bind::Int(until.timestamp_millis()));
        }
        let clause = if conditions.is_empty() {
            "1 = 1".to_owned()
        } else {
            conditions.join(" AND ")
        };
        (clause, binds)
    }
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: Vec<Bind>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for bind in binds {
        query = match bind {
            Bind::Text(text) => query.bind(text),
            Bind::Int(number) => query.bind(number),
        };
    }
    query
}

/// The outcome of a record whose mutation is still running.
pub const STARTED: &str = "STARTED";
/// The outcome of a record the process could not complete.
pub const OUTCOME_UNKNOWN: &str = "OUTCOME_UNKNOWN";

impl Store {
    /// Writes a complete `record`; returns once it is committed.
    #[tracing::instrument(
        level = "debug",
        name = "store.write",
        skip_all,
        fields(table = "audit", step = "record")
    )]
    pub async fn record_audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (id, at_ms, team, account, request_id, client_request_id, operation, input, outcome, result,
                actor_kind, actor_subject, actor_name, actor_issuer, actor_via, actor_approval)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&record.id)
        .bind(record.at.timestamp_millis())
        .bind(&record.team)
        .bind(&record.account)
        .bind(&record.request_id)
        .bind(record.client_request_id.clone())
        .bind(&record.operation)
        .bind(record.input.to_string())
        .bind(&record.outcome)
        .bind(record.result.to_string())
        .bind(&record.actor.kind)
        .bind(&record.actor.subject)
        .bind(record.actor.name.clone())
        .bind(record.actor.issuer.clone())
        .bind(&record.actor.via)
        .bind(record.actor.approval.clone())
        .execute(&self.pool)
        .await
        .map(drop)
        .map_err(failed("writing an audit record"))
    }

    /// Writes `record` as `STARTED` before its mutation runs; it stays open
    /// until `finish_audit` (or the process stops: `abandon_open_audits`).
    #[tracing::instrument(
        level = "debug",
        name = "store.write",
        skip_all,
        fields(table = "audit", step = "begin")
    )]
    pub async fn begin_audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let started = AuditRecord {
            outcome: STARTED.to_owned(),
            result: Value::Null,
            ..record.clone()
        };
        locked(&self.open_audits).insert(record.id.clone());
        let written = self.record_audit(&started).await;
        if written.is_err() {
            locked(&self.open_audits).remove(&record.id);
        }
        written
    }

    /// Completes an open record with its outcome and result.
    #[tracing::instrument(
        level = "debug",
        name = "store.write",
        skip_all,
        fields(table = "audit", step = "finish")
    )]
    pub async fn finish_audit(
        &self,
        id: &str,
        outcome: &str,
        result: &Value,
    ) -> Result<(), StoreError> {
        let written = sqlx::query("UPDATE audit_log SET outcome = $1, result = $2 WHERE id = $3")
            .bind(outcome)
            .bind(result.to_string())
            .bind(id)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(failed("completing an audit record"));
        locked(&self.open_audits).remove(id);
        written
    }

    /// Completes every record still open as `OUTCOME_UNKNOWN` with `reason`:
    /// the process is stopping before their mutations finished.
    pub async fn abandon_open_audits(&self, reason: &str) -> usize {
        let open: Vec<String> = locked(&self.open_audits).iter().cloned().collect();
        let result = serde_json::json!({ "message": reason, "outcomeUnknown": true });
        for id in &open {
            if let Err(error) = self.finish_audit(id, OUTCOME_UNKNOWN, &result).await {
                tracing::error!(error = %error, audit_id = %id, "unfinished write not recorded as unknown");
            }
        }
        open.len()
    }

    /// Records matching `filter`, newest first, strictly older than
    /// `before` (a record's time and id), at most `limit`.
    pub async fn audit_records(
        &self,
        filter: &AuditFilter,
        before: Option<(DateTime<Utc>, String)>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let (mut clause, mut binds) = filter.clause();
        if let Some((at, id)) = before {
            let at_ms = at.timestamp_millis();
            clause.push_str(&format!(
                " AND (at_ms < ${0} OR (at_ms = ${0} AND id < ${1}))",
                binds.len() + 1,
                binds.len() + 2
            ));
            binds.push(Bind::Int(at_ms));
            binds.push(Bind::Text(id));
        }
        let sql = format!(
            "SELECT id, at_ms, team, account, request_id, client_request_id, operation, input, outcome, result,
                actor_kind, actor_subject, actor_name, actor_issuer, actor_via, actor_approval
             FROM audit_log WHERE {clause} ORDER BY at_ms DESC, id DESC LIMIT {limit}"
        );
        let rows = bind_all(sqlx::query(&sql), binds)
            .fetch_all(&self.pool)
            .await
            .map_err(failed("reading the audit log"))?;
        rows.iter().map(record_from_row).collect()
    }

    /// How many records match `filter`.
    pub async fn count_audit(&self, filter: &AuditFilter) -> Result<u64, StoreError> {
        let (clause, binds) = filter.clause();
        let sql = format!("SELECT COUNT(*) FROM audit_log WHERE {clause}");
        let row = bind_all(sqlx::query(&sql), binds)
            .fetch_one(&self.pool)
            .await
            .map_err(failed("counting audit records"))?;
        let count: i64 = row.try_get(0).map_err(failed("counting audit records"))?;
        Ok(count.max(0) as u64)
    }
}

fn record_from_row(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    let read = failed("reading the audit log");
    let text = |column: &str| row.try_get::<String, _>(column);
    let json = |column: &str| -> Result<Value, StoreError> {
        let raw = row
            .try_get::<String, _>(column)
            .map_err(failed("reading the audit log"))?;
        serde_json::from_str(&raw).map_err(|_| StoreError::Corrupt {
            what: "audit record",
        })
    };
    let at_ms: i64 = row
        .try_get("at_ms")
        .map_err(failed("reading the audit log"))?;
    Ok(AuditRecord {
        id: text("id").map_err(failed("reading the audit log"))?,
        at: DateTime::from_timestamp_millis(at_ms)
            .ok_or(StoreError::Corrupt { what: "audit time" })?,
        team: text("team").map_err(failed("reading the audit log"))?,
        actor: actor_from_row(row)?,
        account: text("account").map_err(failed("reading the audit log"))?,
        request_id: text("request_id").map_err(failed("reading the audit log"))?,
        client_request_id: row
            .try_get::<Option<String>, _>("client_request_id")
            .map_err(failed("reading the audit log"))?,
        operation: text("operation").map_err(failed("reading the audit log"))?,
        input: json("input")?,
        outcome: text("outcome").map_err(read)?,
        result: json("result")?,
    })
}

fn actor_from_row(row: &AnyRow) -> Result<AuditActor, StoreError> {
    let optional = |column: &str| {
        row.try_get::<Option<String>, _>(column)
            .map_err(failed("reading the audit log"))
    };
    Ok(AuditActor {
        kind: optional("actor_kind")?.unwrap_or_default(),
        subject: optional("actor_subject")?.unwrap_or_default(),
        name: optional("actor_name")?,
        issuer: optional("actor_issuer")?,
        via: optional("actor_via")?.unwrap_or_default(),
        approval: optional("actor_approval")?,
    })
}
