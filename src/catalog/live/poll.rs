//! Polling while anyone listens: the first listener of an account's
//! collection starts the poller that re-reads it every `poll_every`
//! through the cache's single refresh, and sends listeners what other
//! replicas logged meanwhile, until the last one leaves. History reads.

use super::{ChangeCursor, HistoryPage, HistorySelection, StatusSince};
use crate::catalog::replication::Reading;
use crate::catalog::{Catalog, CatalogError, Collection, Listed};

impl Catalog {
    /// Reads `account`'s `T` whenever its snapshot is `poll_every` old,
    /// while anyone listens.
    pub(super) async fn poll<T: Listed>(self, account: String) {
        let collection = T::COLLECTION.as_str();
        tracing::debug!(account, collection, "live polling starts");
        let kept = T::kept(&self.collections);
        loop {
            let age = kept.cache.age(&account);
            let due = age.is_none_or(|age| age >= self.live.poll_every());
            if due {
                crate::telemetry::record_live_poll(&account, collection);
                if let Err(error) = self.read::<T>(&account, Reading::Poll).await {
                    tracing::debug!(account, error = %error, "live poll failed; retrying");
                }
            }
            self.live.deliver(&kept.feed, &account).await;
            let pause = self.live.next_poll_in(kept.cache.age(&account), due);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.live.closed().cancelled() => {}
            }
            if !self.live.keep_polling(&kept.feed, &account) {
                tracing::debug!(account, collection, "live polling stops");
                return;
            }
        }
    }

    /// A page of `account`'s device history after `after`, newest first
    /// unless `selection` says otherwise.
    pub async fn device_history(
        &self,
        account: &str,
        selection: HistorySelection,
        first: usize,
        after: Option<ChangeCursor>,
    ) -> Result<HistoryPage, CatalogError> {
        if let Some(cursor) = after.filter(|_| selection.oldest_first) {
            super::resume::resumable(cursor, self.store.log_bounds(account).await?)?;
        }
        let page = super::history::read_page(
            &self.store,
            account,
            Collection::Devices,
            selection,
            first,
            after,
        )
        .await?;
        Ok(page)
    }

    /// When each of `account`'s devices entered its status, where the
    /// gateway saw it happen.
    pub async fn status_since(&self, account: &str) -> Result<StatusSince, CatalogError> {
        Ok(super::history::status_since(&self.store, account).await?)
    }
}
