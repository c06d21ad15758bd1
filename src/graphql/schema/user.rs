//! The output type `User`, wrapping the catalog's user, and the table
//! compiled plans write it by.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};
use serde::Serialize;
use serde::ser::SerializeStruct;

use super::device::Device;
use super::id::{NodeKind, global_id, write_global_id};
use super::json_out::{write_optional, write_str};
use super::planned::{FieldWriter, PlannedNode};
use crate::catalog as domain;

/// A user of the RemotePC account.
pub(crate) struct User(pub(crate) Arc<domain::User>);

// Serial: every field is a plain read, so running them one after another
// spares a FuturesUnordered per node (a tenth of a 50-node page's CPU).
#[Object(serial)]
impl User {
    /// A global id (`Node`).
    pub(crate) async fn id(&self) -> ID {
        global_id(NodeKind::User, &self.0.username)
    }

    /// The user's email; RemotePC calls it the username.
    async fn username(&self) -> &str {
        &self.0.username
    }

    /// First name.
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }

    /// Last name.
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }

    /// Computers assigned to this user through this gateway (RemotePC
    /// cannot list assignments; ones made elsewhere are not here).
    async fn devices(&self, ctx: &Context<'_>) -> Result<Vec<Device>> {
        let relations = super::relations_of(ctx).await?;
        Device::named(ctx, relations.devices_of(&self.0.username)).await
    }
}

impl User {
    /// The user of the caller's account with this username, as the
    /// snapshot has it.
    pub(crate) async fn named(ctx: &Context<'_>, username: &str) -> Result<Option<User>> {
        let found = super::named(ctx, &[username.to_owned()]).await?;
        Ok(found.into_iter().next().map(User))
    }

    /// The users of the caller's account with these usernames, in order;
    /// those no longer there are left out.
    pub(crate) async fn all_named(ctx: &Context<'_>, usernames: &[String]) -> Result<Vec<User>> {
        let found = super::named(ctx, usernames).await?;
        Ok(found.into_iter().map(User).collect())
    }
}

impl PlannedNode for domain::User {
    const TYPENAME: &'static str = "User";
    const FIELDS: &'static [FieldWriter<Self>] = &[
        ("id", |user, out| {
            write_global_id(NodeKind::User, &user.username, out)
        }),
        ("username", |user, out| write_str(&user.username, out)),
        ("firstName", |user, out| {
            write_optional(user.first_name.as_deref(), out)
        }),
        ("lastName", |user, out| {
            write_optional(user.last_name.as_deref(), out)
        }),
    ];
}

impl Serialize for User {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut user = serializer.serialize_struct("User", 3)?;
        user.serialize_field("username", &self.0.username)?;
        user.serialize_field("firstName", &self.0.first_name)?;
        user.serialize_field("lastName", &self.0.last_name)?;
        user.end()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_plan_table_covers_every_field_of_user() {
        super::super::planned::check_table::<super::domain::User>("User", &["devices"]);
    }

    #[test]
    fn a_written_user_holds_each_field_as_its_writer_writes_it() {
        super::super::planned::check_written_form(&super::domain::User {
            username: "ünï\"@x.io".to_owned(),
            first_name: None,
            last_name: Some("\u{7f}\\".to_owned()),
        });
    }
}
