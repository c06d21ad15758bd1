//! Relations RemotePC cannot list, served as far as they went through this
//! gateway: a device's assigned users and group, a user's devices, and the
//! invitations still pending. Never answered from the response cache:
//! they change without a new snapshot.

use std::sync::Arc;

use async_graphql::{Context, Object, Result};

use super::cache_report::not_reusable;
use super::error::catalog_error;
use super::groups::{Group, devices_named};
use super::guard::RequireScope;
use super::objects::{Device, User};
use super::timestamp::Timestamp;
use super::{caller, directory};
use crate::auth::Scope;
use crate::catalog::{Catalog, Collection, Invitation as Pending, Relations};

async fn relations(ctx: &Context<'_>) -> Result<Arc<Relations>> {
    not_reusable(ctx);
    let account = &caller(ctx)?.account;
    ctx.data::<Catalog>()?
        .relations(account)
        .await
        .map_err(catalog_error)
}

/// `Device.assignedUsers`.
pub(crate) async fn assigned_users(ctx: &Context<'_>, device: &str) -> Result<Vec<User>> {
    let relations = relations(ctx).await?;
    let usernames = relations.users_of(device);
    if usernames.is_empty() {
        return Ok(Vec::new());
    }
    let served = directory(ctx)?.users(false).await.map_err(catalog_error)?;
    super::cache_report::record(ctx, Collection::Users, &served);
    Ok(usernames
        .iter()
        .filter_map(|username| served.snapshot.get(username))
        .map(|user| User(Arc::clone(user)))
        .collect())
}

/// `User.devices`.
pub(crate) async fn devices_of(ctx: &Context<'_>, username: &str) -> Result<Vec<Device>> {
    let relations = relations(ctx).await?;
    devices_named(ctx, relations.devices_of(username)).await
}

/// `Device.group`.
pub(crate) async fn group_of(ctx: &Context<'_>, device: &str) -> Result<Option<Group>> {
    let relations = relations(ctx).await?;
    Ok(relations.group_of(device).cloned().map(Group::from))
}

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
    #[graphql(guard = "RequireScope(Scope::Read)")]
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
