//! `upstreamBudget`: how the caller's account's RemotePC calls are shared
//! out between flows right now, for whoever operates the egress (scope
//! `audit:read`).

use async_graphql::{Context, Enum, Object, Result, SimpleObject};

use super::cache_report::not_reusable;
use super::error::catalog_error;
use super::guard::{RequireScope, Root};
use crate::auth::Caller;
use crate::catalog::{Catalog, FlowBudget, Lane};

/// Whose calls a flow carries.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpstreamLane {
    /// Calls someone waits for: a team's, or a person's within their role.
    Interactive,
    /// The gateway's own reads: refreshes readers are served stale for,
    /// live polling.
    Background,
}

/// One flow's part of the budget.
#[derive(SimpleObject)]
pub(crate) struct UpstreamFlow {
    /// The team, the `<provider>/<role>`, or `background`.
    flow: String,
    lane: UpstreamLane,
    /// Its `upstream_weight` (`upstream.background_weight` for the
    /// background lane).
    weight: u32,
    /// The fraction of the calls it is due while every flow active in the
    /// last minute keeps asking (itself counted as active); alone, 1.
    share: f64,
    /// Calls it was given a place for in the last minute.
    calls_last_minute: u32,
    /// Calls waiting for a place now.
    waiting: u32,
}

/// An account's budget of RemotePC calls, as this gateway process shares
/// it out.
#[derive(SimpleObject)]
pub(crate) struct UpstreamBudget {
    account: String,
    /// `upstream.rate_per_second` (this process's part, with replicas).
    rate_per_second: u32,
    /// The rate in force: lower for a while after RemotePC answered 429.
    rate_in_force: f64,
    /// `upstream.max_concurrent`.
    max_concurrent: u32,
    /// Slots under `max_concurrent` taken: calls sent and not yet
    /// answered, and the one given its slot while it waits for the rate.
    in_flight: u32,
    /// The background lane, then every flow that has queued a call.
    flows: Vec<UpstreamFlow>,
}

impl From<FlowBudget> for UpstreamFlow {
    fn from(flow: FlowBudget) -> Self {
        Self {
            lane: match flow.lane {
                Lane::Background => UpstreamLane::Background,
                Lane::Interactive => UpstreamLane::Interactive,
            },
            flow: flow.flow,
            weight: flow.weight,
            share: flow.share,
            calls_last_minute: flow.calls_last_minute,
            waiting: flow.waiting,
        }
    }
}

/// The budget query.
#[derive(Default)]
pub(crate) struct BudgetQuery;

#[Object]
impl BudgetQuery {
    /// How the caller's account's RemotePC calls are shared between teams,
    /// people and the gateway's own reads now.
    #[graphql(guard = "const { RequireScope::of(Root::Query, \"upstreamBudget\") }")]
    async fn upstream_budget(&self, ctx: &Context<'_>) -> Result<UpstreamBudget> {
        // It moves with every call, not with snapshots: never kept.
        not_reusable(ctx);
        let caller = ctx.data::<Caller>()?;
        let budget = ctx
            .data::<Catalog>()?
            .upstream_budget(&caller.account)
            .map_err(catalog_error)?;
        Ok(UpstreamBudget {
            account: caller.account.clone(),
            rate_per_second: budget.rate_per_second,
            rate_in_force: budget.rate_in_force,
            max_concurrent: budget.max_concurrent,
            in_flight: budget.in_flight,
            flows: budget.flows.into_iter().map(UpstreamFlow::from).collect(),
        })
    }
}
