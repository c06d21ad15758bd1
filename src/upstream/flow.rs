//! Whose a RemotePC call is. Every call is queued by the account's fair
//! scheduler in a flow: a team, or a person of a role (people of one role
//! share the role's weight), each weighted by its settings. A call made
//! with no flow in scope is the gateway's own work (a refresh readers are
//! already served stale for, live polling), queued in the background
//! lane. The flow travels with the request's task (`on_behalf_of`), so no
//! layer between the request and the call has to carry it, and so does
//! the tally of what the request's calls cost it (`extensions.upstream`).

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;

/// Whose calls a flow carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Calls someone waits for: a team's, or a person's within their role.
    Interactive,
    /// The gateway's own reads: refreshes readers are served stale for,
    /// live polling.
    Background,
}

impl Lane {
    /// As metrics and `extensions.upstream` name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Interactive => "interactive",
            Lane::Background => "background",
        }
    }
}

/// How the background lane is named where a flow's name goes.
pub(super) const BACKGROUND: &str = "background";

/// One flow of calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// The team, or `<provider>/<role>`: flows share its weight.
    pub group: Arc<str>,
    /// The team again, or the person (`sub`) within the role: members of
    /// a group take turns.
    pub member: Arc<str>,
    /// `teams.<name>.upstream_weight` or the role's.
    pub weight: u32,
}

impl Flow {
    /// How refusals and metrics name it: the group, never the person.
    pub fn label(&self) -> &str {
        &self.group
    }
}

/// What one piece of work's RemotePC calls cost it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUse {
    /// The flow they were queued in (its label).
    pub flow: Arc<str>,
    /// Calls that were given a place and sent.
    pub calls: u32,
    /// Time spent waiting for places, over all its calls.
    pub queued: Duration,
}

impl UpstreamUse {
    /// As `extensions.upstream` shows it (a request's calls are in the
    /// interactive lane: someone waits for them).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "flow": &*self.flow,
            "lane": Lane::Interactive.as_str(),
            "queuedMs": u64::try_from(self.queued.as_millis()).unwrap_or(u64::MAX),
            "calls": self.calls,
        })
    }
}

/// The flow in scope and what its calls cost so far: plain cells, read
/// and written only by the task that holds the scope.
#[derive(Debug)]
struct InScope {
    flow: Flow,
    calls: Cell<u32>,
    queued_micros: Cell<u64>,
}

tokio::task_local! {
    static CURRENT: InScope;
}

/// Runs `work` with its RemotePC calls queued in `flow`, and says what
/// they cost it.
///
/// No `async` wrapper: an `async fn` or block keeps a place for `work`
/// beside the place it awaits it in, and the whole is copied into the box
/// of every answer. `map` holds `work` once.
pub fn on_behalf_of<F: Future>(
    flow: Flow,
    work: F,
) -> impl Future<Output = (F::Output, UpstreamUse)> {
    let scope = InScope {
        flow,
        calls: Cell::new(0),
        queued_micros: Cell::new(0),
    };
    // Read as the work completes, inside the scope: nothing is shared
    // beyond the task, so nothing is allocated for it.
    let measured = work.map(|output| {
        let used = CURRENT.with(|scope| UpstreamUse {
            flow: Arc::clone(&scope.flow.group),
            calls: scope.calls.get(),
            queued: Duration::from_micros(scope.queued_micros.get()),
        });
        (output, used)
    });
    CURRENT.scope(scope, measured)
}

/// The flow in scope, if any (none: the background lane).
pub(super) fn current() -> Option<Flow> {
    CURRENT.try_with(|scope| scope.flow.clone()).ok()
}

/// Counts a call of the work in scope: how long it waited for its place,
/// and whether it was sent.
pub(super) fn record(waited: Duration, sent: bool) {
    let _ = CURRENT.try_with(|scope| {
        let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        let queued = scope.queued_micros.get().saturating_add(micros);
        scope.queued_micros.set(queued);
        if sent {
            scope.calls.set(scope.calls.get().saturating_add(1));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(name: &str) -> Flow {
        Flow {
            group: Arc::from(name),
            member: Arc::from(name),
            weight: 1,
        }
    }

    #[tokio::test]
    async fn the_work_in_scope_is_tallied_and_nothing_outside_it() {
        record(Duration::from_millis(500), true);
        let ((), used) = on_behalf_of(team("helpdesk"), async {
            assert_eq!(current(), Some(team("helpdesk")));
            record(Duration::from_millis(30), true);
            record(Duration::from_millis(12), false);
            record(Duration::from_millis(8), true);
        })
        .await;
        assert_eq!(
            used.to_json(),
            serde_json::json!({ "flow": "helpdesk", "lane": "interactive", "queuedMs": 50, "calls": 2 })
        );
        assert_eq!(current(), None);
    }
}
