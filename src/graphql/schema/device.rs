//! The output type `Device` and its `DeviceStatus`, wrapping the
//! catalog's device, and the table compiled plans write it by.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, Result};
use serde::Serialize;

use super::groups::Group;
use super::history::{DeviceEventConnection, device_history};
use super::id::{NodeKind, global_id, write_global_id};
use super::json_out::{write_date_time, write_optional, write_str};
use super::planned::{FieldWriter, PlannedNode};
use super::timestamp::Timestamp;
use super::user::User;
use crate::catalog as domain;

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
    #[graphql(complexity = "super::connection::page_complexity(first, child_complexity)")]
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
        let relations = super::relations_of(ctx).await?;
        User::all_named(ctx, relations.users_of(&self.0.name)).await
    }

    /// The group this gateway last moved the computer into; null when it
    /// moved it into none (RemotePC cannot list groups).
    async fn group(&self, ctx: &Context<'_>) -> Result<Option<Group>> {
        let relations = super::relations_of(ctx).await?;
        Ok(relations.group_of(&self.0.name).cloned().map(Group::from))
    }
}

impl Device {
    /// The devices of the caller's account with these names, in order, as
    /// the snapshot (patched by the caller's own writes) has them; names no
    /// longer there are left out.
    pub(crate) async fn named(ctx: &Context<'_>, names: &[String]) -> Result<Vec<Device>> {
        let found = super::named(ctx, names).await?;
        Ok(found.into_iter().map(Device).collect())
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_plan_table_covers_every_field_of_device() {
        let leave = ["history", "assignedUsers", "group"];
        super::super::planned::check_table::<super::domain::Device>("Device", &leave);
    }

    #[test]
    fn a_written_device_holds_each_field_as_its_writer_writes_it() {
        use chrono::{FixedOffset, TimeZone};
        let zone = FixedOffset::west_opt(5 * 3600).expect("an offset");
        let mut device = super::domain::Device {
            name: "PC \"quoted\" \\ ünï".to_owned(),
            machine_id: Some(String::new()),
            os: None,
            os_version: Some("10.0\u{1f}".to_owned()),
            ip: Some("10.0.0.1".to_owned()),
            comment: Some("a\nb".to_owned()),
            status: super::domain::DeviceStatus::Offline,
            last_session_raw: Some("2026-03-01 10:00:00".to_owned()),
            last_session_at: zone.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).single(),
        };
        super::super::planned::check_written_form(&device);
        device.last_session_at = None;
        device.comment = None;
        super::super::planned::check_written_form(&device);
    }
}
