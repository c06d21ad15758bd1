//! Subscribing: a listener joins its account's feed, and the first one
//! starts the poller that re-reads the collection every `poll_every`
//! through the cache's single refresh, until the last one leaves.

use std::time::Duration;

use super::{Changes, HistoryCursor, HistoryPage, HistorySelection, StatusSince};
use crate::catalog::{Catalog, CatalogError, Collection, Device, User};

impl Catalog {
    /// `account`'s device changes from now on; starts polling its devices
    /// if nobody did.
    pub fn device_changes(&self, account: &str) -> Result<Changes<Device>, CatalogError> {
        self.fleet(account)?;
        let (changes, start) = self.live.listen_devices(account);
        if start {
            tokio::spawn(self.clone().poll(account.to_owned(), Collection::Devices));
        }
        Ok(changes)
    }

    /// `account`'s user changes from now on; starts polling its users if
    /// nobody did.
    pub fn user_changes(&self, account: &str) -> Result<Changes<User>, CatalogError> {
        self.directory(account)?;
        let (changes, start) = self.live.listen_users(account);
        if start {
            tokio::spawn(self.clone().poll(account.to_owned(), Collection::Users));
        }
        Ok(changes)
    }

    /// Reads `account`'s `collection` whenever its snapshot is
    /// `poll_every` old, while anyone listens.
    async fn poll(self, account: String, collection: Collection) {
        tracing::debug!(
            account,
            collection = collection.as_str(),
            "live polling starts"
        );
        loop {
            let age = self.snapshot_age(&account, collection);
            let due = age.is_none_or(|age| age >= self.live.poll_every());
            if due {
                crate::telemetry::record_live_poll(&account, collection.as_str());
                if let Err(error) = self.read_anew(&account, collection).await {
                    tracing::debug!(account, error = %error, "live poll failed; retrying");
                }
            }
            let age = self.snapshot_age(&account, collection);
            let pause = self.live.next_poll_in(age, due);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.live.closed().cancelled() => {}
            }
            if !self.live.keep_polling(&account, collection) {
                tracing::debug!(
                    account,
                    collection = collection.as_str(),
                    "live polling stops"
                );
                return;
            }
        }
    }

    fn snapshot_age(&self, account: &str, collection: Collection) -> Option<Duration> {
        match collection {
            Collection::Devices => self.devices.age(account),
            Collection::Users => self.users.age(account),
        }
    }

    async fn read_anew(&self, account: &str, collection: Collection) -> Result<(), CatalogError> {
        match collection {
            Collection::Devices => self.fleet(account)?.devices_polled().await.map(drop),
            Collection::Users => self.directory(account)?.users_polled().await.map(drop),
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
