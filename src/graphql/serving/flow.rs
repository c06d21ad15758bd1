//! Whose RemotePC calls an operation makes: the flow the account's fair
//! scheduler queues them in (the team, or the person within their role,
//! with the team's or role's `upstream_weight`).

use std::sync::Arc;

use crate::auth::{ActorKind, Caller};
use crate::catalog::Flow;

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
