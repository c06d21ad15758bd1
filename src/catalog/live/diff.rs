//! What changed between two snapshots of a collection: a merge of their
//! sorted keys, so 10,000 devices cost one pass, and items shared between
//! the two (a patched snapshot shares every untouched item) are skipped by
//! pointer.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Change, ChangeKind};
use crate::cache::Snapshot;
use crate::catalog::{DeviceStatus, Listed};

/// Every change from `old` to `new`, observed `at`, in key order.
pub(super) fn diff<T: Listed>(
    old: &Snapshot<T>,
    new: &Snapshot<T>,
    at: DateTime<Utc>,
) -> Vec<Change<T>> {
    let (old_keys, new_keys) = (old.keys(), new.keys());
    let (old_items, new_items) = (old.items(), new.items());
    let (mut left, mut right) = (0, 0);
    let mut changes = Vec::new();
    while left < old_keys.len() || right < new_keys.len() {
        let order = match (old_keys.get(left), new_keys.get(right)) {
            (Some(old_key), Some(new_key)) => old_key.cmp(new_key),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                changes.push(Change::new(ChangeKind::Removed, &old_items[left], at));
                left += 1;
            }
            std::cmp::Ordering::Greater => {
                changes.push(Change::new(ChangeKind::Added, &new_items[right], at));
                right += 1;
            }
            std::cmp::Ordering::Equal => {
                let (before, after) = (&old_items[left], &new_items[right]);
                if !Arc::ptr_eq(before, after) {
                    changes.extend(T::changes(before, after, at));
                }
                left += 1;
                right += 1;
            }
        }
    }
    changes
}

/// A status as history stores it and GraphQL spells it.
pub fn status_name(status: DeviceStatus) -> &'static str {
    match status {
        DeviceStatus::Online => "ONLINE",
        DeviceStatus::Offline => "OFFLINE",
        DeviceStatus::Unknown => "UNKNOWN",
    }
}

/// The status `status_name` spelled.
pub fn status_named(name: &str) -> Option<DeviceStatus> {
    match name {
        "ONLINE" => Some(DeviceStatus::Online),
        "OFFLINE" => Some(DeviceStatus::Offline),
        "UNKNOWN" => Some(DeviceStatus::Unknown),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Device;

    fn device(name: &str, status: DeviceStatus, comment: Option<&str>) -> Device {
        Device {
            name: name.to_owned(),
            machine_id: None,
            os: None,
            os_version: None,
            ip: None,
            comment: comment.map(str::to_owned),
            status,
            last_session_raw: None,
            last_session_at: None,
        }
    }

    #[test]
    fn each_kind_of_change_is_told_once_in_key_order() {
        let old = Snapshot::new([
            device("a", DeviceStatus::Online, None),
            device("b", DeviceStatus::Online, Some("x")),
            device("c", DeviceStatus::Offline, None),
        ]);
        let new = Snapshot::new([
            device("b", DeviceStatus::Offline, Some("y")),
            device("c", DeviceStatus::Offline, None),
            device("d", DeviceStatus::Online, None),
        ]);
        let seen: Vec<_> = diff(&old, &new, Utc::now())
            .into_iter()
            .map(|change| {
                (
                    change.item.name.clone(),
                    change.kind,
                    change.from.clone(),
                    change.to.clone(),
                )
            })
            .collect();
        let text = |value: &str| Some(value.to_owned());
        assert_eq!(
            seen,
            vec![
                ("a".into(), ChangeKind::Removed, None, None),
                (
                    "b".into(),
                    ChangeKind::StatusChanged,
                    text("ONLINE"),
                    text("OFFLINE")
                ),
                ("b".into(), ChangeKind::CommentChanged, text("x"), text("y")),
                ("d".into(), ChangeKind::Added, None, None),
            ]
        );
    }

    #[test]
    fn a_patched_snapshot_shares_untouched_items_and_shows_only_the_patch() {
        let old = Snapshot::new(
            (0..1000).map(|n| device(&format!("pc{n:04}"), DeviceStatus::Online, None)),
        );
        let new = old.with_changes(&["pc0500".to_owned()], []);
        let changes = diff(&old, &new, Utc::now());
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].kind, ChangeKind::Removed);
        assert_eq!(changes[0].item.name, "pc0500");
    }
}
