//! Subscribing: a listener joins its account's feed, and the first one
//! starts the poller that re-reads the collection every `poll_every`
//! through the cache's single refresh, until the last one leaves.

use super::{Changes, HistoryCursor, HistoryPage, HistorySelection, StatusSince};
use crate::catalog::replication::Reading;
use crate::catalog::{Catalog, CatalogError, Collection, Listed};

impl Catalog {
    /// `account`'s changes of `T` from now on; starts polling them if
    /// nobody did.
    pub fn changes<T: Listed>(&self, account: &str) -> Result<Changes<T>, CatalogError> {
        self.client(account)?;
        let feed = &T::kept(&self.collections).feed;
        let (changes, start) = self.live.listen(feed, account);
        if start {
            tokio::spawn(self.clone().poll::<T>(account.to_owned()));
        }
        Ok(changes)
    }

    /// Reads `account`'s `T` whenever its snapshot is `poll_every` old,
    /// while anyone listens.
    async fn poll<T: Listed>(self, account: String) {
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

    /// A page of `account`'s device history, newest first.
    pub async fn device_history(
        &self,
        account: &str,
        selection: HistorySelection,
        first: usize,
        after: Option<&str>,
    ) -> Result<HistoryPage, CatalogError> {
        let after = after
            .map(|cursor| HistoryCursor::decode(cursor, "after"))
            .transpose()?;
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
