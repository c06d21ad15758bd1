//! Devices, as `computer/list` lists them: a status, comment or session
//! that moved is a change of its own.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{Collection, Collections, Kept, Listed};
use crate::catalog::Device;
use crate::catalog::live::{Change, ChangeKind, status_name};
use crate::upstream::wire::{DevicePage, WireDevice};

impl Listed for Device {
    const COLLECTION: Collection = Collection::Devices;
    type Page = DevicePage;

    fn from_record(record: WireDevice, zone: Tz) -> Option<Self> {
        Device::from_wire(record, zone)
    }

    fn changes(old: &Self, new: &Arc<Self>, at: DateTime<Utc>) -> Vec<Change<Self>> {
        let mut changes = Vec::new();
        if old.status != new.status {
            changes.push(
                Change::new(ChangeKind::StatusChanged, new, at)
                    .between(Some(status_name(old.status)), Some(status_name(new.status))),
            );
        }
        if old.comment != new.comment {
            changes.push(
                Change::new(ChangeKind::CommentChanged, new, at)
                    .between(old.comment.as_deref(), new.comment.as_deref()),
            );
        }
        if old.last_session_raw != new.last_session_raw {
            changes.push(Change::new(ChangeKind::Session, new, at).between(
                old.last_session_raw.as_deref(),
                new.last_session_raw.as_deref(),
            ));
        }
        changes
    }

    fn kept(collections: &Collections) -> &Kept<Self> {
        &collections.devices
    }
}
