//! Whose RemotePC calls an operation makes: the flow the account's fair
//! scheduler queues them in (the team, or the person within their role,
//! with the team's or role's `upstream_weight`), and what they cost it
//! (`extensions.upstream`).

use std::sync::Arc;

use crate::auth::{ActorKind, Caller};
use async_graphql::Response;

use crate::catalog::{Flow, UpstreamUse};

/// The flow of `caller`'s calls.
pub(crate) fn of(caller: &Caller) -> Flow {
    let member = match caller.actor.kind {
        ActorKind::Team => caller.team.as_str(),
        ActorKind::Person => caller.actor.subject.as_str(),
    };
    Flow {
        group: Arc::from(caller.team.as_str()),
        member: Arc::from(member),
        weight: caller.upstream_weight,
    }
}

/// `response` with `extensions.upstream` when its operation called
/// RemotePC (an answer from snapshots says nothing).
pub(super) fn report_upstream(mut response: Response, used: &UpstreamUse) -> Response {
    if used.calls > 0
        && let Ok(value) = async_graphql::Value::from_json(used.to_json())
    {
        response.extensions.insert("upstream".to_owned(), value);
    }
    response
}
