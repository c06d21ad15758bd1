//! The change log read back as history: pages newest first (or oldest
//! first, from a cursor), when each device entered its status, and pruning
//! by age and count.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use super::{ChangeCursor, ChangeKind, Live, status_named};
use crate::catalog::{Collection, DeviceStatus};
use crate::store::{HistoryQuery, Store, StoreError, StoredChange};

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
    /// Oldest first, from the cursor on; else newest first.
    pub oldest_first: bool,
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
    /// Its position in the change log: where a page after it begins.
    pub cursor: ChangeCursor,
}

/// A page of history.
#[derive(Debug, Clone, Default)]
pub struct HistoryPage {
    /// The entries.
    pub entries: Vec<HistoryEntry>,
    /// Whether more entries follow, in the page's order.
    pub has_next_page: bool,
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

/// A page of `account`'s `collection` history that `selection` picks.
pub(in crate::catalog) async fn read_page(
    store: &Store,
    account: &str,
    collection: Collection,
    selection: HistorySelection,
    first: usize,
    after: Option<ChangeCursor>,
) -> Result<HistoryPage, StoreError> {
    let query = HistoryQuery {
        subject: selection.subject,
        subject_contains: selection.name_contains.filter(|needle| !needle.is_empty()),
        kinds: selection.kinds.iter().map(|kind| kind.as_str()).collect(),
        since_ms: selection.since.map(|since| since.timestamp_millis()),
        after: after.map(|cursor| i64::try_from(cursor.position).unwrap_or(i64::MAX)),
        oldest_first: selection.oldest_first,
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
    let cursor = ChangeCursor::at(u64::try_from(row.seq).ok()?);
    Some(HistoryEntry {
        subject: row.subject,
        kind,
        at: DateTime::from_timestamp_millis(row.at_ms)?,
        from: row.from,
        to: row.to,
        cursor,
    })
}
