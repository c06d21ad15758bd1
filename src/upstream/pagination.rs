//! Reading a whole collection: page 1 tells how many pages there are, the
//! rest are fetched concurrently, at most `page_fanout` at a time. A list
//! claiming more than `max_collection_records` is refused after page 1;
//! reading stops at the first short or empty page, and page fetches stop
//! when nobody waits for the read any more.

use futures::StreamExt;
use tracing::Instrument;

use super::wire::{ListPage, PageRequest, Pagination};
use super::{Endpoint, RemotePcClient, UpstreamError};

impl RemotePcClient {
    /// Every record of a list call, all pages.
    pub async fn all<P: ListPage>(&self) -> Result<Vec<P::Record>, UpstreamError> {
        self.all_pages(P::ENDPOINT, |client, page| async move {
            Ok(client.page::<P>(page).await?.into_parts())
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "snapshot.read", skip_all, fields(%endpoint, pages = tracing::field::Empty, records = tracing::field::Empty, fanout = i64::try_from(self.page_fanout()).unwrap_or(i64::MAX)))]
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
        let page_size = self.page_size().max(1);
        let request = |page_index| PageRequest {
            page_index,
            record_per_page: page_size,
        };
        let (pagination, items) = fetch(self.clone(), request(1)).await?;
        let limit = self.max_collection_records();
        if pagination.total_records > limit {
            return Err(too_many(endpoint));
        }
        if items.len() < page_size as usize {
            return Ok(items);
        }
        // Trust the page count only within what the record count allows.
        let pages = pagination
            .total_page_count
            .min(
                pagination
                    .total_records
                    .div_ceil(u64::from(page_size))
                    .max(1),
            )
            .min(u64::from(u32::MAX));
        // OpenTelemetry takes signed integers; an unsigned one would be
        // sent as a string.
        tracing::Span::current().record("pages", i64::try_from(pages).unwrap_or(i64::MAX));
        let rest = (2..=pages as u32).map(|page| fetch(self.clone(), request(page)));
        let all = self.read_rest(endpoint, rest, items, limit).await;
        if let Ok(all) = &all {
            tracing::Span::current()
                .record("records", i64::try_from(all.len()).unwrap_or(i64::MAX));
        }
        all
    }

    /// Pages 2 and on, at most `page_fanout` at a time, appended in order to
    /// `items` until a short page or the record limit. Each page is its own
    /// task so that pages are parsed on every core, not one after another
    /// inside this future; a task is aborted when the read is dropped
    /// (nobody waits for it any more).
    async fn read_rest<T, Fut>(
        &self,
        endpoint: Endpoint,
        pages: impl Iterator<Item = Fut>,
        mut items: Vec<T>,
        limit: u64,
    ) -> Result<Vec<T>, UpstreamError>
    where
        T: Send + 'static,
        Fut: Future<Output = Result<(Pagination, Vec<T>), UpstreamError>> + Send + 'static,
    {
        let page_size = self.page_size().max(1) as usize;
        let mut rest = futures::stream::iter(pages)
            .map(|page| AbortOnDrop(tokio::spawn(page.in_current_span())))
            .buffered(self.page_fanout());
        while let Some(joined) = rest.next().await {
            let page = match joined {
                Ok(page) => page?.1,
                Err(join_error) => match join_error.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    Err(_) => {
                        return Err(UpstreamError::Malformed {
                            endpoint,
                            http_status: 0,
                            reason: "page fetch cancelled during shutdown",
                        });
                    }
                },
            };
            let short = page.len() < page_size;
            items.extend(page);
            if items.len() as u64 > limit {
                return Err(too_many(endpoint));
            }
            if short {
                break;
            }
        }
        Ok(items)
    }
}

fn too_many(endpoint: Endpoint) -> UpstreamError {
    UpstreamError::Malformed {
        endpoint,
        http_status: 200,
        reason: "the list holds more records than upstream.max_collection_records allows",
    }
}

/// A spawned page fetch that is aborted when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
