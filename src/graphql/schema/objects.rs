//! The output types `User` and `Device`, wrapping catalog types, and the
//! tables compiled plans write them by.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, Result};
use serde::Serialize;
use serde::ser::SerializeStruct;

use super::cache_report::record;
use super::error::catalog_error;
use super::groups::Group;
use super::history::{DeviceEventConnection, device_history};
use super::json_out::{write_date_time, write_optional, write_str};
use super::node::{NodeKind, global_id, write_global_id};
use super::relations;
use super::timestamp::Timestamp;
use crate::catalog::{self as domain, Collection};

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
        relations::devices_of(ctx, &self.0.username).await
    }
}

/// Whether a computer is reachable now.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum DeviceStatus {
    /// Online.
    Online,
    /// Offline; only offline computers can be removed.
    Offline,
    /// RemotePC gave no status, or one the gateway does not know.
    Unknown,
}

impl From<DeviceStatus> for domain::DeviceStatus {
    fn from(status: DeviceStatus) -> Self {
        match status {
            DeviceStatus::Online => domain::DeviceStatus::Online,
            DeviceStatus::Offline => domain::DeviceStatus::Offline,
            DeviceStatus::Unknown => domain::DeviceStatus::Unknown,
        }
    }
}

impl From<domain::DeviceStatus> for DeviceStatus {
    fn from(status: domain::DeviceStatus) -> Self {
        match status {
            domain::DeviceStatus::Online => DeviceStatus::Online,
            domain::DeviceStatus::Offline => DeviceStatus::Offline,
            domain::DeviceStatus::Unknown => DeviceStatus::Unknown,
        }
    }
}

/// A computer of the RemotePC account.
pub(crate) struct Device(pub(crate) Arc<domain::Device>);

#[Object(serial)]
impl Device {
    /// A global id (`Node`).
    pub(crate) async fn id(&self) -> ID {
        global_id(NodeKind::Device, &self.0.name)
    }

    /// Host name: how every RemotePC call addresses the computer.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// RemotePC's machine id.
    async fn machine_id(&self) -> Option<&str> {
        self.0.machine_id.as_deref()
    }

    /// Online, offline, or unknown.
    async fn status(&self) -> DeviceStatus {
        self.0.status.into()
    }

    /// Operating system family, e.g. `Windows`.
    async fn os(&self) -> Option<&str> {
        self.0.os.as_deref()
    }

    /// Operating system version, e.g. `10.0`.
    async fn os_version(&self) -> Option<&str> {
        self.0.os_version.as_deref()
    }

    /// Last known IP address.
    async fn ip(&self) -> Option<&str> {
        self.0.ip.as_deref()
    }

    /// The computer's comment.
    async fn comment(&self) -> Option<&str> {
        self.0.comment.as_deref()
    }

    /// Start of the last viewer session, with the offset of the account's
    /// time zone (`accounts.<id>.time_zone`: RemotePC writes local times
    /// without one); null when absent or unreadable.
    async fn last_session_at(&self) -> Option<Timestamp> {
        self.0.last_session_at.map(Timestamp::Instant)
    }

    /// The last session time exactly as RemotePC wrote it.
    async fn last_session_raw(&self) -> Option<&str> {
        self.0.last_session_raw.as_deref()
    }

    /// Changes of this device the gateway observed, newest first (see
    /// `deviceEvents`): RemotePC keeps no history, so this holds what the
    /// gateway saw while it ran.
    #[graphql(
        complexity = "first.map_or(super::connection::UNSIZED_PAGE_COMPLEXITY, |n| n.max(0) as usize) * child_complexity + 1"
    )]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<DeviceEventConnection> {
        device_history(ctx, &self.0.name, first, after).await
    }

    /// Users this computer was assigned to through this gateway (RemotePC
    /// cannot list assignments; ones made elsewhere are not here).
    async fn assigned_users(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        relations::assigned_users(ctx, &self.0.name).await
    }

    /// The group this gateway last moved the computer into; null when it
    /// moved it into none (RemotePC cannot list groups).
    async fn group(&self, ctx: &Context<'_>) -> Result<Option<Group>> {
        relations::group_of(ctx, &self.0.name).await
    }
}

/// How a compiled plan writes one field of a node: its name in the schema
/// and its JSON, as the object above resolves it. Declared beside the
/// objects so that adding a field touches one place; a test holds each
/// table to the schema.
pub(crate) type FieldWriter<T> = (&'static str, fn(&T, &mut Vec<u8>));

/// A node type compiled plans can write.
pub(crate) trait PlannedNode: Sized + 'static {
    /// Its name, for `__typename`.
    const TYPENAME: &'static str;
    /// Every field a plan may select, with how it is written.
    const FIELDS: &'static [FieldWriter<Self>];
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

impl PlannedNode for domain::Device {
    const TYPENAME: &'static str = "Device";
    const FIELDS: &'static [FieldWriter<Self>] = &[
        ("id", |device, out| {
            write_global_id(NodeKind::Device, &device.name, out)
        }),
        ("name", |device, out| write_str(&device.name, out)),
        ("machineId", |device, out| {
            write_optional(device.machine_id.as_deref(), out)
        }),
        ("status", |device, out| {
            write_str(status_name(device.status), out)
        }),
        ("os", |device, out| {
            write_optional(device.os.as_deref(), out)
        }),
        ("osVersion", |device, out| {
            write_optional(device.os_version.as_deref(), out)
        }),
        ("ip", |device, out| {
            write_optional(device.ip.as_deref(), out)
        }),
        ("comment", |device, out| {
            write_optional(device.comment.as_deref(), out)
        }),
        ("lastSessionAt", |device, out| {
            match device.last_session_at {
                Some(at) => write_date_time(at, out),
                None => out.extend_from_slice(b"null"),
            }
        }),
        ("lastSessionRaw", |device, out| {
            write_optional(device.last_session_raw.as_deref(), out)
        }),
    ];
}

/// A status as the schema's enum spells it.
fn status_name(status: domain::DeviceStatus) -> &'static str {
    match DeviceStatus::from(status) {
        DeviceStatus::Online => "ONLINE",
        DeviceStatus::Offline => "OFFLINE",
        DeviceStatus::Unknown => "UNKNOWN",
    }
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

/// The user of the caller's account with this username, as the snapshot
/// has it.
pub(crate) async fn user_named(ctx: &Context<'_>, username: &str) -> Result<Option<User>> {
    let served = super::directory(ctx)?
        .users(false)
        .await
        .map_err(catalog_error)?;
    record(ctx, Collection::Users, &served);
    Ok(served
        .snapshot
        .get(username)
        .map(|user| User(Arc::clone(user))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of `type NAME { … }` in the served schema.
    fn schema_fields(name: &str) -> Vec<String> {
        let sdl = crate::graphql::sdl();
        let start = sdl
            .find(&format!("type {name} {{"))
            .or_else(|| sdl.find(&format!("type {name} implements ")))
            .expect("type in the schema");
        let body = &sdl[start..];
        let body = &body[..body.find("\n}").expect("closing brace")];
        let mut in_description = false;
        body.lines()
            .skip(1)
            .map(str::trim)
            .filter(|line| {
                // Descriptions are `"""` blocks of their own lines, or one
                // `"…"` line.
                if *line == "\"\"\"" {
                    in_description = !in_description;
                    return false;
                }
                !in_description && !line.is_empty() && !line.starts_with('"')
            })
            .filter_map(|line| line.split([':', '(']).next().map(str::to_owned))
            .collect()
    }

    /// Every field of the object is in its plan table, or named here as
    /// one plans leave to async-graphql.
    fn check<T: PlannedNode>(name: &str, not_planned: &[&str]) {
        let planned: Vec<&str> = T::FIELDS.iter().map(|(field, _)| *field).collect();
        for field in schema_fields(name) {
            assert!(
                planned.contains(&field.as_str()) || not_planned.contains(&field.as_str()),
                "{name}.{field} is served but missing from its plan table"
            );
        }
        for field in planned {
            assert!(
                schema_fields(name).iter().any(|served| served == field),
                "{name}.{field} is not served"
            );
        }
    }

    #[test]
    fn the_plan_tables_cover_every_field_of_the_served_objects() {
        check::<domain::User>("User", &["devices"]);
        check::<domain::Device>("Device", &["history", "assignedUsers", "group"]);
    }
}
