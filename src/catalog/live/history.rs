//! The history of observed changes: queued by the observer without
//! waiting, written to the store in batches, pruned by age and count, and
//! read back a page at a time with opaque cursors.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use super::{Change, ChangeKind, Live, status_named};
use crate::catalog::relations::RelationCache;
use crate::catalog::validation::{ValidationError, Violation};
use crate::catalog::{Collection, DeviceStatus, Listed};
use crate::store::{HistoryPosition, HistoryQuery, HistoryRow, Store, StoreError, StoredChange};

/// Rows written in one transaction.
const BATCH: usize = 500;

/// Which changes to read; every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct HistorySelection {
    /// Only this item (its exact key).
    pub subject: Option<String>,
    /// Only items whose key contains this, ignoring case.
    pub name_contains: Option<String>,
    /// Only these kinds; empty: all.
    pub kinds: Vec<ChangeKind>,
    /// Only changes observed at or after this.
    pub since: Option<DateTime<Utc>>,
}

/// One change read back, with the cursor that points at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The item's key.
    pub subject: String,
    /// What happened.
    pub kind: ChangeKind,
    /// When the gateway observed it.
    pub at: DateTime<Utc>,
    /// The value before.
    pub from: Option<String>,
    /// The value after.
    pub to: Option<String>,
    /// Where a page starting after this entry begins.
    pub cursor: HistoryCursor,
}

/// A page of history, newest first.
#[derive(Debug, Clone, Default)]
pub struct HistoryPage {
    /// The entries.
    pub entries: Vec<HistoryEntry>,
    /// Whether older entries follow.
    pub has_next_page: bool,
}

/// An opaque position in the history: stays valid while newer changes
/// arrive, because it names the entry, not an offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryCursor(HistoryPosition);

impl HistoryCursor {
    /// The cursor as clients see it.
    pub fn encode(&self) -> String {
        let text = format!("{}\n{}\n{}", self.0.at_ms, self.0.kind, self.0.subject);
        URL_SAFE_NO_PAD.encode(text)
    }

    /// Reads a cursor `encode` gave; `field` names the argument when not.
    pub fn decode(text: &str, field: &str) -> Result<Self, ValidationError> {
        let refused = || ValidationError {
            violations: vec![Violation {
                field: field.to_owned(),
                rule: "not a cursor of this history".to_owned(),
            }],
        };
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| refused())?;
        let text = String::from_utf8(bytes).map_err(|_| refused())?;
        let mut parts = text.splitn(3, '\n');
        let at_ms = parts
            .next()
            .and_then(|at| at.parse().ok())
            .ok_or_else(refused)?;
        let kind = parts
            .next()
            .and_then(ChangeKind::named)
            .ok_or_else(refused)?;
        let subject = parts.next().ok_or_else(refused)?.to_owned();
        Ok(Self(HistoryPosition {
            at_ms,
            subject,
            kind: kind.as_str().to_owned(),
        }))
    }
}

/// When each device's current status began, as far as the gateway saw it.
#[derive(Debug, Clone, Default)]
pub struct StatusSince {
    latest: HashMap<String, (DeviceStatus, DateTime<Utc>)>,
}

impl StatusSince {
    /// The latest of each device's status changes `(name, new status,
    /// when)`, given in any order.
    pub fn from_changes(
        changes: impl IntoIterator<Item = (String, DeviceStatus, DateTime<Utc>)>,
    ) -> Self {
        let mut latest: HashMap<String, (DeviceStatus, DateTime<Utc>)> = HashMap::new();
        for (name, status, at) in changes {
            match latest.get(&name) {
                Some((_, seen)) if *seen >= at => {}
                _ => {
                    latest.insert(name, (status, at));
                }
            }
        }
        Self { latest }
    }

    /// When the device entered `status`, if that is the last status change
    /// the gateway saw of it.
    pub fn since(&self, name: &str, status: DeviceStatus) -> Option<DateTime<Utc>> {
        self.latest
            .get(name)
            .filter(|(seen, _)| *seen == status)
            .map(|(_, at)| *at)
    }
}

impl Live {
    /// Queues `changes` for the history without waiting; when the queue is
    /// full they are dropped and counted.
    pub(super) fn queue_history<T: Listed>(&self, account: &str, changes: &[Arc<Change<T>>]) {
        let mut dropped = 0;
        for change in changes {
            let row = HistoryRow {
                account: account.to_owned(),
                collection: T::COLLECTION.as_str(),
                subject: change.item.key().to_owned(),
                kind: change.kind.as_str(),
                at_ms: change.at.timestamp_millis(),
                from: change.from.clone(),
                to: change.to.clone(),
            };
            if self.inner.history.try_send(row).is_err() {
                dropped += 1;
            }
        }
        if dropped > 0 {
            crate::telemetry::record_history_dropped(dropped);
            tracing::warn!(
                dropped,
                "history queue full (live.history_queue); changes not recorded"
            );
        }
    }

    /// Writes queued changes to `store` in batches, and forgets the
    /// relations they end (a computer removed, a user deleted or joined);
    /// after `finish_history`, writes what is still queued and ends.
    /// `None` when already started.
    pub(in crate::catalog) fn write_history(
        &self,
        store: Store,
        relations: Arc<RelationCache>,
    ) -> Option<JoinHandle<()>> {
        let mut unwritten = self
            .inner
            .unwritten
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()?;
        let closed = self.inner.history_closed.clone();
        Some(tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            loop {
                let closing = tokio::select! {
                    received = unwritten.recv_many(&mut batch, BATCH) => received == 0,
                    () = closed.cancelled() => true,
                };
                if closing {
                    while let Ok(row) = unwritten.try_recv() {
                        batch.push(row);
                    }
                }
                for chunk in batch.chunks(BATCH) {
                    if let Err(error) = store.record_history(chunk).await {
                        tracing::warn!(error = %error, rows = chunk.len(), "history not recorded");
                    }
                    forget_ended(&store, &relations, chunk).await;
                }
                batch.clear();
                if closing {
                    return;
                }
            }
        }))
    }

    /// Prunes the history by `live.history_retention` and
    /// `live.history_max_rows` every `interval`.
    pub fn prune_history_every(&self, store: Store, interval: Duration) -> JoinHandle<()> {
        let live = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                match live.prune_history(&store).await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::debug!(pruned, "old history pruned"),
                    Err(error) => tracing::warn!(error = %error, "history pruning failed"),
                }
            }
        })
    }

    /// Deletes what is past the retention or over the row cap, now; also
    /// invitations older than the retention (never accepted).
    pub async fn prune_history(&self, store: &Store) -> Result<u64, StoreError> {
        let retention = i64::try_from(self.inner.retention.as_millis()).unwrap_or(i64::MAX);
        let cutoff = self.inner.clock.unix_ms().saturating_sub(retention);
        let invitations = store.prune_invitations(cutoff).await?;
        Ok(store.prune_history(cutoff, self.inner.max_rows).await? + invitations)
    }
}

/// Forgets the relations `rows` end: assignments and group membership of
/// removed computers, assignments of removed users, invitations of users
/// who appeared.
async fn forget_ended(store: &Store, relations: &RelationCache, rows: &[HistoryRow]) {
    let ended = |collection: Collection, kind: ChangeKind| {
        let mut by_account: HashMap<&str, Vec<String>> = HashMap::new();
        for row in rows {
            if row.collection == collection.as_str() && row.kind == kind.as_str() {
                by_account
                    .entry(&row.account)
                    .or_default()
                    .push(row.subject.clone());
            }
        }
        by_account
    };
    for (account, devices) in ended(Collection::Devices, ChangeKind::Removed) {
        log_failure(store.forget_devices(account, &devices).await);
        relations.changed(account);
    }
    for (account, users) in ended(Collection::Users, ChangeKind::Removed) {
        log_failure(store.forget_users(account, &users).await);
        relations.changed(account);
    }
    for (account, users) in ended(Collection::Users, ChangeKind::Added) {
        log_failure(store.forget_invitations(account, &users).await);
    }
}

fn log_failure(result: Result<(), StoreError>) {
    if let Err(error) = result {
        tracing::warn!(error = %error, "relations ended by an observed change not forgotten");
    }
}

/// A page of `account`'s `collection` history that `selection` picks.
pub(in crate::catalog) async fn read_page(
    store: &Store,
    account: &str,
    collection: Collection,
    selection: HistorySelection,
    first: usize,
    after: Option<HistoryCursor>,
) -> Result<HistoryPage, StoreError> {
    let query = HistoryQuery {
        subject: selection.subject,
        subject_contains: selection.name_contains.filter(|needle| !needle.is_empty()),
        kinds: selection.kinds.iter().map(|kind| kind.as_str()).collect(),
        since_ms: selection.since.map(|since| since.timestamp_millis()),
        after: after.map(|cursor| cursor.0),
    };
    let mut rows = store
        .history(
            account,
            collection.as_str(),
            &query,
            first.saturating_add(1),
        )
        .await?;
    let has_next_page = rows.len() > first;
    rows.truncate(first);
    Ok(HistoryPage {
        entries: rows.into_iter().filter_map(entry).collect(),
        has_next_page,
    })
}

/// The status changes of `account`'s devices the gateway has seen last.
pub(in crate::catalog) async fn status_since(
    store: &Store,
    account: &str,
) -> Result<StatusSince, StoreError> {
    let rows = store.latest_status_changes(account).await?;
    Ok(StatusSince::from_changes(rows.into_iter().filter_map(
        |row| {
            let status = status_named(row.to.as_deref()?)?;
            let at = DateTime::from_timestamp_millis(row.at_ms)?;
            Some((row.subject, status, at))
        },
    )))
}

fn entry(row: StoredChange) -> Option<HistoryEntry> {
    let kind = ChangeKind::named(&row.kind)?;
    let cursor = HistoryCursor(HistoryPosition {
        at_ms: row.at_ms,
        subject: row.subject.clone(),
        kind: row.kind,
    });
    Some(HistoryEntry {
        subject: row.subject,
        kind,
        at: DateTime::from_timestamp_millis(row.at_ms)?,
        from: row.from,
        to: row.to,
        cursor,
    })
}
