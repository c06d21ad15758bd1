//! A listener's changes: from a position in the log, first what the log
//! kept after it, then live, with no gap and no repeat at the seam (the
//! listener joins the feed before it reads the log, and skips what it
//! already had); one that falls behind the feed reads the log again.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::feed::{Listener, PAGE};
use super::{Change, ChangeCursor, CursorProblem, Delivery};
use crate::catalog::{Catalog, CatalogError, Listed};
use crate::store::{Store, StoreError};

/// What a listener reads next.
#[derive(Debug)]
pub enum Next<T> {
    /// A change.
    Change(Arc<Change<T>>),
    /// The changes cannot go on without a gap: list again.
    Expired(CursorProblem),
    /// The store could not be read to catch up.
    Unavailable(StoreError),
    /// The gateway is shutting down.
    Closed,
}

/// One listener's changes of one account's collection.
pub struct Changes<T> {
    receiver: broadcast::Receiver<Delivery<T>>,
    closed: CancellationToken,
    _listener: Listener<T>,
    store: Store,
    account: String,
    /// The last position read (or the one started after).
    last: u64,
    /// Whether the log has more than the feed sent since `last`.
    behind: bool,
    read: VecDeque<Delivery<T>>,
}

impl<T: Listed> Changes<T> {
    /// Where the listener is: the position of the last change read.
    pub fn cursor(&self) -> ChangeCursor {
        ChangeCursor::at(self.last)
    }

    /// The next change, or why there is none.
    pub async fn next(&mut self) -> Next<T> {
        loop {
            if let Some(delivery) = self.read.pop_front() {
                if delivery.position() <= self.last {
                    continue;
                }
                self.last = delivery.position();
                return match delivery {
                    Delivery::Change(change) => Next::Change(change),
                    Delivery::Gap(_) => Next::Expired(CursorProblem::Expired),
                };
            }
            if self.behind {
                if let Err(stop) = self.catch_up().await {
                    return stop;
                }
                continue;
            }
            tokio::select! {
                biased;
                () = self.closed.cancelled() => return Next::Closed,
                received = self.receiver.recv() => match received {
                    Ok(delivery) => self.read.push_back(delivery),
                    Err(broadcast::error::RecvError::Lagged(_)) => self.behind = true,
                    Err(broadcast::error::RecvError::Closed) => return Next::Closed,
                },
            }
        }
    }

    /// Reads a page of the log after `last`; once one comes back short, the
    /// feed has the rest. Pruning past `last` meanwhile is a gap.
    async fn catch_up(&mut self) -> Result<(), Next<T>> {
        let after = i64::try_from(self.last).unwrap_or(i64::MAX);
        crate::telemetry::record_change_log_read("resume");
        let rows = self
            .store
            .changes_after(&self.account, T::COLLECTION.as_str(), after, PAGE)
            .await
            .map_err(Next::Unavailable)?;
        let floor = self
            .store
            .log_bounds(&self.account)
            .await
            .map_err(Next::Unavailable)?
            .floor;
        if floor > after {
            return Err(Next::Expired(CursorProblem::Expired));
        }
        self.behind = rows.len() == PAGE;
        self.read.extend(rows.iter().map(Delivery::from_row));
        Ok(())
    }
}

/// A page of changes after a cursor, for pollers.
#[derive(Debug)]
pub struct ChangesSince<T> {
    /// The changes, oldest first.
    pub changes: Vec<Arc<Change<T>>>,
    /// Where the next page starts.
    pub cursor: ChangeCursor,
    /// Whether the log has more after `cursor` already.
    pub has_more: bool,
}

impl Catalog {
    /// `account`'s changes of `T` after `after` (from now on without
    /// one); starts polling them if nobody did.
    pub async fn changes<T: Listed>(
        &self,
        account: &str,
        after: Option<ChangeCursor>,
    ) -> Result<Changes<T>, CatalogError> {
        self.client(account)?;
        let bounds = self.store.log_bounds(account).await?;
        let head = u64::try_from(bounds.head).unwrap_or_default();
        let last = match after {
            Some(cursor) => resumable(cursor, bounds)?,
            None => head,
        };
        let feed = &T::kept(&self.collections).feed;
        let (receiver, listener, start) = feed.listen(account, head);
        if start {
            tokio::spawn(self.clone().poll::<T>(account.to_owned()));
        }
        Ok(Changes {
            receiver,
            closed: self.live.closed().clone(),
            _listener: listener,
            store: self.store.clone(),
            account: account.to_owned(),
            last,
            behind: after.is_some(),
            read: VecDeque::new(),
        })
    }

    /// Where `account`'s change log stands now.
    pub async fn change_head(&self, account: &str) -> Result<ChangeCursor, CatalogError> {
        let head = self.store.log_bounds(account).await?.head;
        Ok(ChangeCursor::at(u64::try_from(head).unwrap_or_default()))
    }

    /// Up to `first` of `account`'s changes of `T` after `after`.
    pub async fn changes_since<T: Listed>(
        &self,
        account: &str,
        after: ChangeCursor,
        first: usize,
    ) -> Result<ChangesSince<T>, CatalogError> {
        self.client(account)?;
        let bounds = self.store.log_bounds(account).await?;
        let mut last = resumable(after, bounds)?;
        crate::telemetry::record_change_log_read("since");
        let rows = self
            .store
            .changes_after(
                account,
                T::COLLECTION.as_str(),
                i64::try_from(last).unwrap_or(i64::MAX),
                first.saturating_add(1),
            )
            .await?;
        let has_more = rows.len() > first;
        let mut changes = Vec::with_capacity(rows.len().min(first));
        for row in rows.iter().take(first) {
            match Delivery::<T>::from_row(row) {
                Delivery::Change(change) => changes.push(change),
                Delivery::Gap(_) => {
                    return Err(CatalogError::CursorExpired(CursorProblem::Expired));
                }
            }
            last = u64::try_from(row.seq).unwrap_or(last);
        }
        // Pruned while read: what was read may have a hole.
        resumable(after, self.store.log_bounds(account).await?)?;
        if !has_more {
            // Nothing of this collection follows: the account's head is
            // where the next page starts, so other collections' changes are
            // not read again.
            last = last.max(u64::try_from(bounds.head).unwrap_or_default());
        }
        Ok(ChangesSince {
            changes,
            cursor: ChangeCursor::at(last),
            has_more,
        })
    }
}

/// Where a resume from `cursor` starts, if the log still holds every
/// change after it.
pub(super) fn resumable(
    cursor: ChangeCursor,
    bounds: crate::store::LogBounds,
) -> Result<u64, CatalogError> {
    let position = i64::try_from(cursor.position).unwrap_or(i64::MAX);
    if position > bounds.head {
        return Err(CatalogError::CursorExpired(CursorProblem::Unknown));
    }
    if position < bounds.floor {
        return Err(CatalogError::CursorExpired(CursorProblem::Expired));
    }
    Ok(cursor.position)
}
