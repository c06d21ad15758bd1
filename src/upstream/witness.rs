//! What a request's writes did at RemotePC, as data: inside
//! `count_writes`, the client counts every write call that may have left
//! this host (sent, or its fate unknown; not one refused by the breaker,
//! the rate limit or a refused connection), and among them those whose
//! outcome is unknown (sent, and no answer says whether it applied). The
//! layers above tell "refused before anything was sent" from "maybe
//! applied" by these counts, never by reading error codes or bodies.

use std::cell::Cell;

/// The write calls of one piece of work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Writes {
    /// Calls that may have reached RemotePC: 0 means the work may be sent
    /// again.
    pub may_have_reached: u32,
    /// Of those, calls that failed with their outcome unknown.
    pub outcome_unknown: u32,
}

tokio::task_local! {
    static WRITES: Cell<Writes>;
}

/// Runs `work` and counts the write calls it made that may have reached
/// RemotePC. Writes run in the task that awaits them, so the count sees
/// every one.
pub async fn count_writes<F: Future>(work: F) -> (F::Output, Writes) {
    WRITES
        .scope(Cell::default(), async {
            let output = work.await;
            (output, WRITES.with(Cell::get))
        })
        .await
}

/// Counts one write call that may have reached RemotePC, and whether its
/// outcome is unknown; outside `count_writes`, nothing.
pub(super) fn may_have_reached(outcome_unknown: bool) {
    let _ = WRITES.try_with(|count| {
        let Writes {
            may_have_reached,
            outcome_unknown: unknown,
        } = count.get();
        count.set(Writes {
            may_have_reached: may_have_reached.saturating_add(1),
            outcome_unknown: unknown.saturating_add(u32::from(outcome_unknown)),
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_inside_the_scope_only() {
        may_have_reached(true);
        let ((), count) = count_writes(async {
            may_have_reached(false);
            tokio::task::yield_now().await;
            may_have_reached(true);
        })
        .await;
        let expected = Writes {
            may_have_reached: 2,
            outcome_unknown: 1,
        };
        assert_eq!(count, expected);
    }
}
