//! Filtering and ordering of snapshots: what the list calls of RemotePC
//! cannot do. A `Listing` is the selected items of one snapshot in one order.

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::{Device, DeviceStatus, User};
use crate::cache::{Keyed, Snapshot, SortedView};

/// An ordering of a collection.
pub trait SortOrder<T> {
    /// A stable name, written into cursors.
    fn name(&self) -> &'static str;
    /// The value items are ordered by (ties fall back to the item key).
    fn sort_key(&self, item: &T) -> String;
}

/// Selected items of a snapshot, in order.
pub struct Listing<T> {
    /// The snapshot the items come from.
    pub snapshot: Arc<Snapshot<T>>,
    view: Arc<SortedView>,
    /// Indexes into `view.entries`, in listing order.
    selected: Vec<u32>,
    /// The ordering's name.
    pub order: &'static str,
    /// Whether the listing runs from the greatest sort key down.
    pub descending: bool,
}

impl<T: Keyed> Listing<T> {
    /// The items of `snapshot` that `keep` accepts, ordered by `order`.
    pub fn select(
        snapshot: Arc<Snapshot<T>>,
        order: &impl SortOrder<T>,
        descending: bool,
        keep: impl Fn(&T) -> bool,
    ) -> Self {
        let view = snapshot.view(order.name(), |item| order.sort_key(item));
        let items = snapshot.items();
        let mut selected: Vec<u32> = view
            .entries
            .iter()
            .enumerate()
            .filter(|(_, (_, position))| keep(&items[*position as usize]))
            .map(|(index, _)| index as u32)
            .collect();
        if descending {
            selected.reverse();
        }
        Self {
            snapshot,
            view,
            selected,
            order: order.name(),
            descending,
        }
    }

    /// How many items were selected.
    pub fn len(&self) -> usize {
        self.selected.len()
    }

    /// Whether nothing was selected.
    pub fn is_empty(&self) -> bool {
        self.selected.is_empty()
    }

    /// The `index`-th item's sort key, key and value.
    pub fn entry(&self, index: usize) -> (&str, &str, &Arc<T>) {
        let (sort_key, position) = &self.view.entries[self.selected[index] as usize];
        let position = *position as usize;
        (
            sort_key,
            &self.snapshot.keys()[position],
            &self.snapshot.items()[position],
        )
    }

    /// How many items come at or before `(sort_key, key)` in listing order,
    /// i.e. where the items strictly after it start.
    pub fn position_after(&self, sort_key: &str, key: &str) -> usize {
        self.partition(|entry| {
            if self.descending {
                entry >= (sort_key, key)
            } else {
                entry <= (sort_key, key)
            }
        })
    }

    /// How many items come strictly before `(sort_key, key)` in listing order.
    pub fn position_before(&self, sort_key: &str, key: &str) -> usize {
        self.partition(|entry| {
            if self.descending {
                entry > (sort_key, key)
            } else {
                entry < (sort_key, key)
            }
        })
    }

    fn partition(&self, before: impl Fn((&str, &str)) -> bool) -> usize {
        let (mut low, mut high) = (0, self.selected.len());
        while low < high {
            let middle = (low + high) / 2;
            let (sort_key, key, _) = self.entry(middle);
            if before((sort_key, key)) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }
}

/// How devices can be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceOrder {
    /// By host name.
    #[default]
    Name,
    /// By last session time; devices without one come first.
    LastSession,
    /// Online, then offline, then unknown.
    Status,
    /// By OS family, case-insensitively.
    Os,
}

impl SortOrder<Device> for DeviceOrder {
    fn name(&self) -> &'static str {
        match self {
            DeviceOrder::Name => "name",
            DeviceOrder::LastSession => "lastSession",
            DeviceOrder::Status => "status",
            DeviceOrder::Os => "os",
        }
    }

    fn sort_key(&self, device: &Device) -> String {
        match self {
            DeviceOrder::Name => device.name.clone(),
            DeviceOrder::LastSession => device
                .last_session_at
                .map(|at| at.format("%Y-%m-%dT%H:%M:%S").to_string())
                .unwrap_or_default(),
            DeviceOrder::Status => match device.status {
                DeviceStatus::Online => "0",
                DeviceStatus::Offline => "1",
                DeviceStatus::Unknown => "2",
            }
            .to_owned(),
            DeviceOrder::Os => device.os.as_deref().unwrap_or_default().to_lowercase(),
        }
    }
}

/// Which devices to select; every condition set must hold.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    /// Host name contains this, ignoring case.
    pub name_contains: Option<String>,
    /// Status is this.
    pub status: Option<DeviceStatus>,
    /// OS family is this, ignoring case.
    pub os: Option<String>,
    /// Comment contains this, ignoring case.
    pub comment_contains: Option<String>,
    /// Last session strictly before this.
    pub last_session_before: Option<NaiveDateTime>,
    /// Last session strictly after this.
    pub last_session_after: Option<NaiveDateTime>,
}

impl DeviceFilter {
    /// A predicate with its needles lowered once.
    pub fn matcher(&self) -> impl Fn(&Device) -> bool + '_ {
        let name = self.name_contains.as_deref().map(str::to_lowercase);
        let comment = self.comment_contains.as_deref().map(str::to_lowercase);
        move |device: &Device| {
            contains(Some(&device.name), name.as_deref())
                && self.status.is_none_or(|status| device.status == status)
                && self.os.as_deref().is_none_or(|os| {
                    device
                        .os
                        .as_deref()
                        .is_some_and(|own| own.eq_ignore_ascii_case(os))
                })
                && contains(device.comment.as_deref(), comment.as_deref())
                && self
                    .last_session_before
                    .is_none_or(|before| device.last_session_at.is_some_and(|at| at < before))
                && self
                    .last_session_after
                    .is_none_or(|after| device.last_session_at.is_some_and(|at| at > after))
        }
    }
}

/// How users can be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserOrder {
    /// By username (email).
    #[default]
    Username,
    /// By first name, case-insensitively.
    FirstName,
    /// By last name, case-insensitively.
    LastName,
}

impl SortOrder<User> for UserOrder {
    fn name(&self) -> &'static str {
        match self {
            UserOrder::Username => "username",
            UserOrder::FirstName => "firstName",
            UserOrder::LastName => "lastName",
        }
    }

    fn sort_key(&self, user: &User) -> String {
        match self {
            UserOrder::Username => user.username.to_ascii_lowercase(),
            UserOrder::FirstName => user
                .first_name
                .as_deref()
                .unwrap_or_default()
                .to_lowercase(),
            UserOrder::LastName => user.last_name.as_deref().unwrap_or_default().to_lowercase(),
        }
    }
}

/// Which users to select.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Username, first name, last name or full name contains this, ignoring
    /// case.
    pub search: Option<String>,
}

impl UserFilter {
    /// A predicate with its needle lowered once.
    pub fn matcher(&self) -> impl Fn(&User) -> bool + '_ {
        let search = self.search.as_deref().map(str::to_lowercase);
        move |user: &User| {
            let Some(search) = search.as_deref() else {
                return true;
            };
            let full_name = format!(
                "{} {}",
                user.first_name.as_deref().unwrap_or_default(),
                user.last_name.as_deref().unwrap_or_default()
            );
            contains(Some(&user.username), Some(search)) || contains(Some(&full_name), Some(search))
        }
    }
}

fn contains(haystack: Option<&str>, needle: Option<&str>) -> bool {
    match needle {
        None => true,
        Some(needle) => haystack.is_some_and(|haystack| haystack.to_lowercase().contains(needle)),
    }
}
