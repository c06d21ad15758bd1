//! Approvals of assistants' destructive tool calls: requested for one
//! person, one account, one tool and its arguments; decided once, by that
//! person, before they expire; kept a day after, so a late look says what
//! happened rather than "unknown".

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, failed};

/// Decided approvals are kept this long after they expire.
const KEPT_AFTER_EXPIRY_MS: i64 = 86_400_000;

/// An approval as requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRequest {
    /// Its id: unguessable, the last part of its page's URL.
    pub id: String,
    /// The RemotePC account the write acts on.
    pub account: String,
    /// The person: their provider's `iss` and their `sub`.
    pub issuer: String,
    /// The person's `sub`.
    pub subject: String,
    /// The tool, e.g. `remove_computers`.
    pub tool: String,
    /// Its arguments, as canonical JSON.
    pub arguments: String,
    /// The idempotency key the write runs under.
    pub idempotency_key: String,
    /// When it stops waiting (ms since the Unix epoch).
    pub expires_ms: i64,
}

/// Where an approval stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalState {
    /// Waiting for the person.
    Pending,
    /// Approved: the write ran (or is running); its answer, once known.
    Approved(Option<String>),
    /// Declined: nothing was sent.
    Declined,
}

/// An approval and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// What was asked.
    pub request: ApprovalRequest,
    /// Its state.
    pub state: ApprovalState,
}

impl Store {
    /// Records `request` as pending, unless `max_open` approvals are open
    /// already (not yet expired): `Ok(false)`.
    pub async fn request_approval(
        &self,
        request: &ApprovalRequest,
        max_open: u64,
    ) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let open: i64 = sqlx::query("SELECT COUNT(*) FROM mcp_approvals WHERE expires_ms > $1")
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(failed("counting open approvals"))?;
        if u64::try_from(open).unwrap_or(0) >= max_open {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO mcp_approvals (id, account, issuer, subject, tool, arguments, idem_key, created_ms, expires_ms, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending')",
        )
        .bind(&request.id)
        .bind(&request.account)
        .bind(&request.issuer)
        .bind(&request.subject)
        .bind(&request.tool)
        .bind(&request.arguments)
        .bind(&request.idempotency_key)
        .bind(now)
        .bind(request.expires_ms)
        .execute(&self.pool)
        .await
        .map_err(failed("recording an approval request"))?;
        Ok(true)
    }

    /// The approval `id`, if it exists.
    pub async fn approval(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        let row = sqlx::query(
            "SELECT id, account, issuer, subject, tool, arguments, idem_key, expires_ms, state, outcome
             FROM mcp_approvals WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(failed("reading an approval"))?;
        row.map(|row| approval_from_row(&row))
            .transpose()
            .map_err(failed("reading an approval"))
    }

    /// Decides the pending, unexpired approval `id` (approved or not):
    /// `false` when it was decided before, or expired. Only one decision
    /// ever wins, on any replica.
    pub async fn decide_approval(&self, id: &str, approved: bool) -> Result<bool, StoreError> {
        let state = if approved { "approved" } else { "declined" };
        let now = self.now_ms();
        sqlx::query(
            "UPDATE mcp_approvals SET state = $1, decided_ms = $2
             WHERE id = $3 AND state = 'pending' AND expires_ms > $2",
        )
        .bind(state)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await
        .map(|done| done.rows_affected() == 1)
        .map_err(failed("deciding an approval"))
    }

    /// Keeps the answer of the write approval `id` ran.
    pub async fn complete_approval(&self, id: &str, outcome: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE mcp_approvals SET outcome = $1 WHERE id = $2")
            .bind(outcome)
            .bind(id)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(failed("completing an approval"))
    }

    /// Removes approvals expired more than a day ago.
    pub async fn sweep_approvals(&self) -> Result<u64, StoreError> {
        sqlx::query("DELETE FROM mcp_approvals WHERE expires_ms <= $1")
            .bind(self.now_ms().saturating_sub(KEPT_AFTER_EXPIRY_MS))
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(failed("sweeping approvals"))
    }
}

fn approval_from_row(row: &AnyRow) -> Result<Approval, sqlx::Error> {
    let state: String = row.try_get("state")?;
    let outcome: Option<String> = row.try_get("outcome")?;
    Ok(Approval {
        request: ApprovalRequest {
            id: row.try_get("id")?,
            account: row.try_get("account")?,
            issuer: row.try_get("issuer")?,
            subject: row.try_get("subject")?,
            tool: row.try_get("tool")?,
            arguments: row.try_get("arguments")?,
            idempotency_key: row.try_get("idem_key")?,
            expires_ms: row.try_get("expires_ms")?,
        },
        state: match state.as_str() {
            "approved" => ApprovalState::Approved(outcome),
            "declined" => ApprovalState::Declined,
            _ => ApprovalState::Pending,
        },
    })
}
