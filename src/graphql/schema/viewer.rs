//! `viewer`: who is calling and what they may do, so a frontend can hide
//! what the person may not use. Works for team tokens too.

use async_graphql::{Context, Object, Result, SimpleObject};

use super::audit::ActorKind;
use super::cache_report::not_reusable;
use crate::auth::{self, Caller};

/// `viewer`.
#[derive(Default)]
pub(crate) struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// The caller of this request: a person signed in through an identity
    /// provider, or a team token. Needs no scope.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        // Personal: a response holding it is never kept for others of the
        // same scopes and account.
        not_reusable(ctx);
        Ok(Viewer(ctx.data::<Caller>()?.clone()))
    }
}

/// Who is calling and what they may do.
pub(crate) struct Viewer(Caller);

/// A caller's quota.
#[derive(SimpleObject)]
pub(crate) struct QuotaState {
    /// Requests a minute, on average.
    limit: u32,
    /// Requests at once after a quiet spell.
    burst: u32,
    /// Requests left right after this one.
    remaining: u32,
    /// Milliseconds until the whole burst is available again.
    reset_ms: u64,
}

#[Object]
impl Viewer {
    /// Person or team.
    async fn kind(&self) -> ActorKind {
        match self.0.actor.kind {
            auth::ActorKind::Person => ActorKind::Person,
            auth::ActorKind::Team => ActorKind::Team,
        }
    }

    /// The person's subject (`sub`), or the team's name.
    async fn subject(&self) -> &str {
        &self.0.actor.subject
    }

    /// Display name or email, when the person's token has one.
    async fn name(&self) -> Option<&str> {
        self.0.actor.name.as_deref()
    }

    /// The role (`<provider>/<claim value>`) or team the caller acts through.
    async fn via(&self) -> &str {
        &self.0.actor.via
    }

    /// What the caller may do, e.g. `read`, `computers:write`.
    async fn scopes(&self) -> Vec<&'static str> {
        self.0.scopes.iter().map(|scope| scope.as_str()).collect()
    }

    /// The RemotePC account the caller acts on.
    async fn account(&self) -> &str {
        &self.0.account
    }

    /// Every account the caller may act on. A person whose roles name
    /// several chooses one per request with the `RemotePC-Account` header
    /// (`account` in `connection_init`); without it, the first by name.
    /// Scopes, quota and trusted documents come from the roles of the
    /// account acted on alone.
    async fn accounts(&self) -> Vec<&str> {
        self.0.accounts.iter().map(String::as_str).collect()
    }

    /// The caller's quota (a person's own, in their role).
    async fn quota(&self) -> QuotaState {
        let quota = self.0.quota;
        QuotaState {
            limit: quota.per_minute,
            burst: quota.burst,
            remaining: quota.remaining.unwrap_or(quota.burst),
            reset_ms: u64::try_from(quota.full_in().as_millis()).unwrap_or(u64::MAX),
        }
    }
}
