//! The change log's one writer: snapshots' changes arrive in order through
//! a bounded queue, are appended (each gets its position), then sent to
//! listeners, so that every change a listener is sent is in the log first.
//! An append that fails leaves the account's log behind its snapshots
//! until a resync levels them, with a gap.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::task::JoinHandle;

use super::{ChangeKind, Live};
use crate::cache::LogPosition;
use crate::catalog::Collection;
use crate::catalog::relations::RelationCache;
use crate::store::{Append, Store, StoreError};

/// Transitions taken from the queue at once.
const BATCH: usize = 64;

/// What the log must say of one new snapshot of an account's collection.
pub(super) struct Transition {
    pub(super) collection: Collection,
    pub(super) append: Append,
    /// The new snapshot's position, told once its changes are logged.
    pub(super) position: Arc<LogPosition>,
    /// Who is sent the account's changes once they are logged.
    pub(super) target: Arc<dyn Deliver>,
    /// Levels the log with the snapshot (after a loss, or at a first
    /// snapshot): written even while the account's log is behind.
    pub(super) resync: bool,
}

/// The typed side of a feed, for the untyped writer.
pub(super) trait Deliver: Send + Sync {
    /// Sends listeners what the log got for `account`.
    fn deliver<'a>(&'a self, store: &'a Store, account: &'a str) -> BoxFuture<'a, ()>;
    /// An append of `account` failed: its next snapshot starts a resync.
    fn lost(&self, account: &str);
}

impl Live {
    /// Appends queued transitions and sends them to listeners, and
    /// forgets the relations they end (a computer removed, a user deleted
    /// or joined); after `finish_history`, writes what is still queued and
    /// ends. `None` when already started.
    pub(in crate::catalog) fn write_history(
        &self,
        relations: Arc<RelationCache>,
    ) -> Option<JoinHandle<()>> {
        let mut unwritten = self
            .inner
            .unwritten
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()?;
        let closed = self.inner.history_closed.clone();
        let mut writer = Writer {
            store: self.store().clone(),
            relations,
            heads: HashMap::new(),
            behind: HashSet::new(),
        };
        Some(tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            loop {
                let closing = tokio::select! {
                    received = unwritten.recv_many(&mut batch, BATCH) => received == 0,
                    () = closed.cancelled() => true,
                };
                if closing {
                    while let Ok(transition) = unwritten.try_recv() {
                        batch.push(transition);
                    }
                }
                for transition in batch.drain(..) {
                    writer.write(transition).await;
                }
                if closing {
                    return;
                }
            }
        }))
    }
}

struct Writer {
    store: Store,
    relations: Arc<RelationCache>,
    /// Each account's log head after this writer's last append.
    heads: HashMap<String, u64>,
    /// Accounts' collections whose last append failed.
    behind: HashSet<(String, Collection)>,
}

impl Writer {
    async fn write(&mut self, transition: Transition) {
        let account = transition.append.account.clone();
        let key = (account.clone(), transition.collection);
        let empty = transition.append.changes.is_empty()
            && transition.append.states.is_empty()
            && transition.append.gap_at_ms.is_none();
        if empty || (self.behind.contains(&key) && !transition.resync) {
            // Nothing to write, or nothing that could be written in order:
            // the resync to come logs it.
            let head = self.head(&account).await;
            transition.position.set(head);
            return;
        }
        match self.store.append_changes(&transition.append).await {
            Ok(head) => {
                let head = u64::try_from(head).unwrap_or_default();
                self.heads.insert(account.clone(), head);
                self.behind.remove(&key);
                transition.position.set(head);
                transition.target.deliver(&self.store, &account).await;
                self.forget_ended(&transition).await;
            }
            Err(error) => {
                tracing::warn!(account, error = %error, "changes not logged; the log resyncs with a gap");
                crate::telemetry::record_history_dropped(transition.append.changes.len());
                self.behind.insert(key);
                transition.target.lost(&account);
                let head = self.heads.get(&account).copied().unwrap_or_default();
                transition.position.set(head);
            }
        }
    }

    /// The account's head as this writer last saw it, else as the store
    /// says (0 when it cannot).
    async fn head(&mut self, account: &str) -> u64 {
        if let Some(head) = self.heads.get(account) {
            return *head;
        }
        match self.store.log_bounds(account).await {
            Ok(bounds) => {
                let head = u64::try_from(bounds.head).unwrap_or_default();
                self.heads.insert(account.to_owned(), head);
                head
            }
            Err(error) => {
                tracing::warn!(account, error = %error, "change log head unread");
                0
            }
        }
    }

    /// Forgets the relations the transition's changes end: assignments
    /// and group membership of removed computers, assignments of removed
    /// users, invitations of users who appeared.
    async fn forget_ended(&self, transition: &Transition) {
        let account = &transition.append.account;
        let subjects = |kind: ChangeKind| -> Vec<String> {
            let changes = transition.append.changes.iter();
            changes
                .filter(|change| change.kind == kind.as_str())
                .map(|change| change.subject.clone())
                .collect()
        };
        let (removed, added) = (subjects(ChangeKind::Removed), subjects(ChangeKind::Added));
        match transition.collection {
            Collection::Devices if !removed.is_empty() => {
                log_failure(self.store.forget_devices(account, &removed).await);
                self.relations.changed(account);
            }
            Collection::Users => {
                if !removed.is_empty() {
                    log_failure(self.store.forget_users(account, &removed).await);
                    self.relations.changed(account);
                }
                if !added.is_empty() {
                    log_failure(self.store.forget_invitations(account, &added).await);
                }
            }
            Collection::Devices => {}
        }
    }
}

fn log_failure(result: Result<(), StoreError>) {
    if let Err(error) = result {
        tracing::warn!(error = %error, "relations ended by an observed change not forgotten");
    }
}
