//! The invitations RemotePC cannot list, as far as they went through this
//! gateway (the other relations it cannot list are fields of `Device` and
//! `User`, read through `relations_of`). Never answered from the response
//! cache: they change without a new snapshot.

use async_graphql::{Context, Object, Result};

use super::cache_report::not_reusable;
use super::caller;
use super::error::catalog_error;
use super::guard::{RequireScope, Root};
use super::timestamp::Timestamp;
use crate::catalog::{Catalog, Invitation as Pending};

/// An invitation sent through this gateway that RemotePC's user list does
/// not show as a user yet.
pub(crate) struct Invitation(Pending);

#[Object]
impl Invitation {
    /// The email invited.
    async fn email(&self) -> &str {
        &self.0.email
    }

    /// When the gateway sent it.
    async fn invited_at(&self) -> Timestamp {
        Timestamp::utc(self.0.invited_at)
    }

    /// The team (or identity provider role) that sent it.
    async fn invited_by(&self) -> &str {
        &self.0.invited_by
    }
}

/// Queries on invitations.
#[derive(Default)]
pub(crate) struct InvitationQuery;

#[Object]
impl InvitationQuery {
    /// Invitations sent through this gateway and still pending, oldest
    /// first. RemotePC cannot list invitations: one sent another way is not
    /// here; one is dropped once its user appears in RemotePC's user list,
    /// is deleted, or after `live.history_retention`.
    #[graphql(guard = "const { RequireScope::of(Root::Query, \"invitations\") }")]
    async fn invitations(&self, ctx: &Context<'_>) -> Result<Vec<Invitation>> {
        not_reusable(ctx);
        let account = &caller(ctx)?.account;
        let pending = ctx
            .data::<Catalog>()?
            .invitations(account)
            .await
            .map_err(catalog_error)?;
        Ok(pending.into_iter().map(Invitation).collect())
    }
}
