//! Whether a request's writes may have reached RemotePC, as data: inside
//! `count_writes`, the client counts every write call that may have left
//! this host (sent, or its fate unknown; not one refused by the breaker,
//! the rate limit or a refused connection). The layers above tell "refused
//! before anything was sent" from "maybe applied" by this count, never by
//! reading error codes.

use std::cell::Cell;

tokio::task_local! {
    static MAY_HAVE_REACHED: Cell<u32>;
}

/// Runs `work` and counts the write calls it made that may have reached
/// RemotePC. Writes run in the task that awaits them, so the count sees
/// every one.
pub async fn count_writes<F: Future>(work: F) -> (F::Output, u32) {
    MAY_HAVE_REACHED
        .scope(Cell::new(0), async {
            let output = work.await;
            (output, MAY_HAVE_REACHED.with(Cell::get))
        })
        .await
}

/// Counts one write call that may have reached RemotePC; outside
/// `count_writes`, nothing.
pub(super) fn may_have_reached() {
    let _ = MAY_HAVE_REACHED.try_with(|count| count.set(count.get().saturating_add(1)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_inside_the_scope_only() {
        may_have_reached();
        let ((), count) = count_writes(async {
            may_have_reached();
            tokio::task::yield_now().await;
            may_have_reached();
        })
        .await;
        assert_eq!(count, 2);
    }
}
