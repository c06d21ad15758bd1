//! `Group`: the groups this gateway knows (RemotePC cannot list them),
//! and the queries that read them.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::ser::SerializeStruct;

use super::cache_report::not_reusable;
use super::device::Device;
use super::error::catalog_error;
use super::fleet;
use super::guard::{RequireScope, Root};
use super::id::{NodeKind, global_id};
use super::timestamp::Timestamp;
use crate::catalog::KnownGroup;

/// A group of computers, as known to this gateway: RemotePC offers no way to
/// list groups, so the gateway knows the groups it created or moved
/// computers into.
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) computer_names: Vec<String>,
    pub(crate) first_seen: Option<(DateTime<Utc>, String)>,
}

impl From<KnownGroup> for Group {
    fn from(group: KnownGroup) -> Self {
        Self {
            name: group.name,
            computer_names: group.members,
            first_seen: Some((group.first_seen, group.first_seen_by)),
        }
    }
}

impl Serialize for Group {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut group = serializer.serialize_struct("Group", 2)?;
        group.serialize_field("name", &self.name)?;
        group.serialize_field("computerNames", &self.computer_names)?;
        group.end()
    }
}

/// Queries on groups.
#[derive(Default)]
pub(crate) struct GroupQuery;

#[Object]
impl GroupQuery {
    /// Groups known to this gateway: the ones it created or moved computers
    /// into (RemotePC offers no way to list groups), by name.
    #[graphql(guard = "const { RequireScope::of(Root::Query, \"groups\") }")]
    async fn groups(&self, ctx: &Context<'_>) -> Result<Vec<Group>> {
        not_reusable(ctx);
        let groups = fleet(ctx)?.known_groups().await.map_err(catalog_error)?;
        Ok(groups.into_iter().map(Group::from).collect())
    }

    /// One group known to this gateway; null when it knows none by that name.
    #[graphql(guard = "const { RequireScope::of(Root::Query, \"group\") }")]
    async fn group(&self, ctx: &Context<'_>, name: String) -> Result<Option<Group>> {
        not_reusable(ctx);
        let groups = fleet(ctx)?.known_groups().await.map_err(catalog_error)?;
        Ok(groups
            .into_iter()
            .find(|group| group.name == name.trim())
            .map(Group::from))
    }
}

#[Object]
impl Group {
    /// A global id (`Node`).
    pub(crate) async fn id(&self) -> ID {
        global_id(NodeKind::Group, &self.name)
    }

    /// The group's name.
    async fn name(&self) -> &str {
        &self.name
    }

    /// Host names of the computers this gateway put in the group (and did
    /// not see removed or moved elsewhere since).
    async fn computer_names(&self) -> &[String] {
        &self.computer_names
    }

    /// When this gateway first created the group or moved computers into it.
    async fn first_seen_at(&self) -> Option<Timestamp> {
        self.first_seen.as_ref().map(|(at, _)| Timestamp::utc(*at))
    }

    /// The team that did so.
    async fn first_seen_by(&self) -> Option<&str> {
        self.first_seen.as_ref().map(|(_, team)| team.as_str())
    }

    /// The computers this gateway put in the group that still exist.
    async fn devices(&self, ctx: &Context<'_>) -> Result<Vec<Device>> {
        Device::named(ctx, &self.computer_names).await
    }
}
