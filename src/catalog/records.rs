//! The gateway's own records, as services: the audit log of mutations,
//! the ledger of idempotency keys and the book of assistants' approvals. They hold the store so that `http` and
//! `graphql` do not; the record types are the store's, named here so that
//! callers import them from the service they use.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::completions::{Completion, PendingCompletions};
use crate::store::Store;
pub use crate::store::{
    Approval, ApprovalRequest, ApprovalState, AuditActor, AuditFilter, AuditRecord, Claim,
    OUTCOME_UNKNOWN, STARTED, StoreError,
};

/// The durable audit log: every mutation, begun before it can reach
/// RemotePC and finished after.
#[derive(Clone, Debug)]
pub struct AuditLog {
    store: Store,
    pending: Arc<PendingCompletions>,
}

impl AuditLog {
    pub(super) fn new(store: Store, pending: Arc<PendingCompletions>) -> Self {
        Self { store, pending }
    }

    /// Commits `record` as `STARTED`; nothing may be sent until it returns
    /// `Ok`.
    pub async fn begin(&self, record: &AuditRecord) -> Result<(), StoreError> {
        self.pending.noted(self.store.begin_audit(record).await)
    }

    /// Completes a begun record with its outcome and result. Should the
    /// store refuse, the outcome is kept and written when it takes it
    /// again; the error says it was not written yet.
    pub async fn finish(&self, id: &str, outcome: &str, result: &Value) -> Result<(), StoreError> {
        let written = self
            .pending
            .noted(self.store.finish_audit(id, outcome, result).await);
        if written.is_err() {
            self.pending.push(Completion::Audit {
                id: id.to_owned(),
                outcome: outcome.to_owned(),
                result: result.clone(),
            });
        }
        written
    }

    /// Writes a complete record of a mutation refused before it ran.
    pub async fn record_refused(&self, record: &AuditRecord) -> Result<(), StoreError> {
        self.pending.noted(self.store.record_audit(record).await)
    }

    /// Records matching `filter`, newest first, strictly older than
    /// `before`, at most `limit`.
    pub async fn page(
        &self,
        filter: &AuditFilter,
        before: Option<(DateTime<Utc>, String)>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.store.audit_records(filter, before, limit).await
    }

    /// How many records match `filter`.
    pub async fn count(&self, filter: &AuditFilter) -> Result<u64, StoreError> {
        self.store.count_audit(filter).await
    }
}

/// Which `Idempotency-Key` of which team ran which request, and what it
/// answered.
#[derive(Clone, Debug)]
pub struct IdempotencyLedger {
    store: Store,
    pending: Arc<PendingCompletions>,
}

impl IdempotencyLedger {
    pub(super) fn new(store: Store, pending: Arc<PendingCompletions>) -> Self {
        Self { store, pending }
    }

    /// Claims `key` of `team` for the request hashed as `request_hash`.
    pub async fn claim(
        &self,
        team: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<Claim, StoreError> {
        let claimed = self.store.claim_idempotency(team, key, request_hash).await;
        self.pending.noted(claimed)
    }

    /// Stores the response of a claimed key; an unknown outcome is kept for
    /// a shorter time. Should the store refuse, the response is kept and
    /// written when it takes it again; the error says it was not yet.
    pub async fn complete(
        &self,
        team: &str,
        key: &str,
        response: &str,
        outcome_unknown: bool,
    ) -> Result<(), StoreError> {
        let written = self
            .store
            .complete_idempotency(team, key, response, outcome_unknown)
            .await;
        let written = self.pending.noted(written);
        if written.is_err() {
            self.pending.push(Completion::Idempotency {
                team: team.to_owned(),
                key: key.to_owned(),
                response: response.to_owned(),
                outcome_unknown,
            });
        }
        written
    }

    /// Gives a claimed key back: nothing reached RemotePC.
    pub async fn release(&self, team: &str, key: &str) -> Result<(), StoreError> {
        self.pending
            .noted(self.store.release_idempotency(team, key).await)
    }
}

/// Approvals of assistants' destructive tool calls (`mcp`): requested,
/// decided once, completed with the write's answer.
#[derive(Clone, Debug)]
pub struct ApprovalBook {
    store: Store,
}

impl ApprovalBook {
    pub(super) fn new(store: Store) -> Self {
        Self { store }
    }

    /// Records `request` as pending, unless `max_open` are open already.
    pub async fn request(
        &self,
        request: &ApprovalRequest,
        max_open: u64,
    ) -> Result<bool, StoreError> {
        self.store.request_approval(request, max_open).await
    }

    /// The approval `id`, if it exists.
    pub async fn get(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        self.store.approval(id).await
    }

    /// Decides the pending, unexpired approval `id`; `false` when another
    /// decision won, or it expired.
    pub async fn decide(&self, id: &str, approved: bool) -> Result<bool, StoreError> {
        self.store.decide_approval(id, approved).await
    }

    /// Keeps the answer of the write approval `id` ran.
    pub async fn complete(&self, id: &str, outcome: &str) -> Result<(), StoreError> {
        self.store.complete_approval(id, outcome).await
    }
}
