//! Reading a whole collection: page 1 tells how many pages there are, the
//! rest are fetched concurrently, at most `page_fanout` at a time.

use futures::{StreamExt, TryStreamExt};
use tracing::Instrument;

use super::wire::{PageRequest, Pagination, WireDevice, WireUser};
use super::{Endpoint, RemotePcClient, UpstreamError};

impl RemotePcClient {
    /// Every user of the account, all pages.
    pub async fn all_users(&self) -> Result<Vec<WireUser>, UpstreamError> {
        self.all_pages(Endpoint::UserList, |client, page| async move {
            let page = client.user_page(page).await?;
            Ok((page.pagination, page.users))
        })
        .await
    }

    /// Every device of the account, all pages.
    pub async fn all_devices(&self) -> Result<Vec<WireDevice>, UpstreamError> {
        self.all_pages(Endpoint::ComputerList, |client, page| async move {
            let page = client.device_page(page).await?;
            Ok((page.pagination, page.devices))
        })
        .await
    }

    async fn all_pages<T, F, Fut>(
        &self,
        endpoint: Endpoint,
        fetch: F,
    ) -> Result<Vec<T>, UpstreamError>
    where
        T: Send + 'static,
        F: Fn(RemotePcClient, PageRequest) -> Fut,
        Fut: Future<Output = Result<(Pagination, Vec<T>), UpstreamError>> + Send + 'static,
    {
        let request = |page_index| PageRequest {
            page_index,
            record_per_page: self.page_size(),
        };
        let (pagination, mut items) = fetch(self.clone(), request(1)).await?;
        // Trust the page count only within what the record count allows, so a
        // wrong `total_page_count` cannot make us fetch endlessly.
        let by_records = pagination
            .total_records
            .div_ceil(u64::from(self.page_size().max(1)));
        let pages = pagination
            .total_page_count
            .min(by_records.max(1))
            .min(u64::from(u32::MAX));
        // Each page is its own task so that pages are parsed on every core,
        // not one after another inside this future.
        let rest: Vec<Vec<T>> = futures::stream::iter(2..=pages as u32)
            .map(|page| tokio::spawn(fetch(self.clone(), request(page)).in_current_span()))
            .buffered(self.page_fanout())
            .map(|joined| match joined {
                Ok(page) => page.map(|(_, page_items)| page_items),
                Err(join_error) => match join_error.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    Err(_) => Err(UpstreamError::Malformed {
                        endpoint,
                        http_status: 0,
                        reason: "page fetch cancelled during shutdown",
                    }),
                },
            })
            .try_collect()
            .await?;
        items.extend(rest.into_iter().flatten());
        Ok(items)
    }
}
