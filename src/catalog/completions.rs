//! Completions the store refused: when an audit record or an idempotency
//! key cannot be completed (the store failed mid-write), the known outcome
//! waits here, bounded, and is written when the store takes it again. A
//! write's known outcome is so never left recorded as `STARTED`, nor its
//! key as "still running". Shutdown writes what it can before it records
//! what is left of the open rows as outcome unknown.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;

use crate::store::{Store, StoreError};

/// At most this many completions wait; beyond it, the oldest known
/// outcome is given up (logged), and shutdown or the idempotency sweep
/// records the row as unknown.
const MAX_PENDING: usize = 10_000;
/// The first retry comes this soon after a failure, doubling up to
/// `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A completion that the store refused.
#[derive(Debug, Clone)]
pub(super) enum Completion {
    Audit {
        id: String,
        outcome: String,
        result: Value,
    },
    Idempotency {
        team: String,
        key: String,
        response: String,
        outcome_unknown: bool,
    },
}

/// The waiting completions, and what wakes their writer.
#[derive(Debug, Default)]
pub(super) struct PendingCompletions {
    queue: Mutex<VecDeque<Completion>>,
    added: Notify,
    /// Whether the store's last write failed (a full disk, a lost
    /// connection): `/readyz` reports it.
    failing: AtomicBool,
}

impl PendingCompletions {
    /// Notes how a write to the store went, and passes `result` on.
    pub(super) fn noted<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        self.failing.store(result.is_err(), Ordering::Relaxed);
        result
    }

    /// Whether the store's last write failed.
    pub(super) fn writes_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Keeps `completion` for a later write.
    pub(super) fn push(&self, completion: Completion) {
        let mut queue = self.lock();
        if queue.len() >= MAX_PENDING
            && let Some(dropped) = queue.pop_front()
        {
            tracing::error!(completion = ?kind(&dropped), "too many completions wait for the store; the oldest is given up");
        }
        queue.push_back(completion);
        drop(queue);
        self.added.notify_one();
    }

    /// How many wait.
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Writes waiting completions in order until the store refuses one;
    /// says whether all were written.
    pub(super) async fn write_all(&self, store: &Store) -> bool {
        loop {
            let Some(next) = self.lock().front().cloned() else {
                return true;
            };
            if let Err(error) = self.noted(write(store, &next).await) {
                tracing::warn!(error = %error, waiting = self.len(), "the store still refuses completions; retrying");
                return false;
            }
            self.lock().pop_front();
        }
    }

    /// Retries for ever, backing off while the store refuses.
    pub(super) async fn run(self: Arc<Self>, store: Store) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            if self.len() == 0 {
                self.added.notified().await;
            }
            tokio::time::sleep(backoff).await;
            if self.write_all(&store).await {
                backoff = FIRST_BACKOFF;
            } else {
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Completion>> {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(super) async fn write(store: &Store, completion: &Completion) -> Result<(), StoreError> {
    match completion {
        Completion::Audit {
            id,
            outcome,
            result,
        } => store.finish_audit(id, outcome, result).await,
        Completion::Idempotency {
            team,
            key,
            response,
            outcome_unknown,
        } => {
            store
                .complete_idempotency(team, key, response, *outcome_unknown)
                .await
        }
    }
}

fn kind(completion: &Completion) -> &'static str {
    match completion {
        Completion::Audit { .. } => "audit",
        Completion::Idempotency { .. } => "idempotency",
    }
}
