//! Whose a RemotePC call is. Every call is queued by the account's fair
//! scheduler in a flow: a team, or a person of a role (people of one role
//! share the role's weight), each weighted by its settings. A call made
//! with no flow in scope is the gateway's own work (a refresh readers are
//! already served stale for, live polling), queued in the background
//! lane. The flow travels with the request's task (`on_behalf_of`), so no
//! layer between the request and the call has to carry it.

use std::sync::Arc;

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

tokio::task_local! {
    static CURRENT: Flow;
}

/// Runs `work` with its RemotePC calls queued in `flow`.
pub async fn on_behalf_of<F: Future>(flow: Flow, work: F) -> F::Output {
    CURRENT.scope(flow, work).await
}

/// The flow in scope, if any (none: the background lane).
pub(super) fn current() -> Option<Flow> {
    CURRENT.try_with(Clone::clone).ok()
}
