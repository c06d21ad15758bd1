//! Devices: their orderings, and filters as facets, key ranges and
//! per-device conditions.

use std::ops::Bound;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::{Needle, Predicate, Selection, SortOrder};
use crate::catalog::{Device, DeviceStatus, StatusSince};

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
                .map(|at| session_sort_key(at.naive_local()))
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

/// A session time as a sort key: fixed width, so that text order is time
/// order to the nanosecond and a time range is a range of keys. Written
/// digit by digit rather than through chrono's format interpreter: each
/// filtered request makes one or two, and a view 10,000. Years outside
/// 0–9999 and leap seconds are left to chrono.
pub(super) fn session_sort_key(at: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.9f";
    let (year, nanos) = (at.year(), at.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return at.format(FORMAT).to_string();
    }
    let mut key = String::with_capacity(29);
    let fields = [
        (year as u32, 4, ""),
        (at.month(), 2, "-"),
        (at.day(), 2, "-"),
        (at.hour(), 2, "T"),
        (at.minute(), 2, ":"),
        (at.second(), 2, ":"),
        (nanos, 9, "."),
    ];
    for (value, width, separator) in fields {
        key.push_str(separator);
        for place in (0..width).rev() {
            let digit = value / 10u32.pow(place) % 10;
            key.push(char::from(b'0' + digit as u8));
        }
    }
    key
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
    /// Last session strictly before this wall-clock time of the account.
    pub last_session_before: Option<NaiveDateTime>,
    /// Last session strictly after this wall-clock time of the account.
    pub last_session_after: Option<NaiveDateTime>,
    /// In a status since at least a given time (`offlineSince`,
    /// `onlineSince`).
    pub held: Vec<StatusHeld>,
}

/// Devices in `status` since `at_or_before` or earlier: by the status
/// changes the gateway saw, else (offline only) by the last session, which
/// ended before the device went offline.
#[derive(Debug, Clone)]
pub struct StatusHeld {
    /// The status the device is in.
    pub status: DeviceStatus,
    /// It entered it at or before this instant.
    pub at_or_before: DateTime<Utc>,
    /// The status changes the gateway saw.
    pub seen: Arc<StatusSince>,
}

impl StatusHeld {
    /// When `device` entered its status, as far as known.
    pub fn since(&self, device: &Device) -> Option<DateTime<Utc>> {
        if device.status != self.status {
            return None;
        }
        self.seen.since(&device.name, self.status).or_else(|| {
            (self.status == DeviceStatus::Offline).then_some(device.last_session_at?.to_utc())
        })
    }

    fn holds(&self, device: &Device) -> bool {
        self.since(device)
            .is_some_and(|since| since <= self.at_or_before)
    }
}

impl DeviceFilter {
    /// The selection of these devices in `order`: the status is a facet,
    /// and in last-session order the session bounds are a key range; the
    /// other conditions are tested item by item.
    pub fn selection(&self, order: DeviceOrder) -> Selection<'_, Device> {
        let facet = self.status.map(|status| {
            let name = match status {
                DeviceStatus::Online => "status=ONLINE",
                DeviceStatus::Offline => "status=OFFLINE",
                DeviceStatus::Unknown => "status=UNKNOWN",
            };
            let keep: Box<dyn Fn(&Device) -> bool> =
                Box::new(move |device| device.status == status);
            (name, keep)
        });
        let by_session = order == DeviceOrder::LastSession;
        let mut sort_keys = (Bound::Unbounded, Bound::Unbounded);
        if by_session {
            // Devices without a session have the empty key: any session
            // bound leaves them out, as the filter does.
            if let Some(after) = self.last_session_after {
                sort_keys.0 = Bound::Excluded(session_sort_key(after));
            } else if self.last_session_before.is_some() {
                sort_keys.0 = Bound::Excluded(String::new());
            }
            if let Some(before) = self.last_session_before {
                sort_keys.1 = Bound::Excluded(session_sort_key(before));
            }
        }
        Selection {
            facet,
            sort_keys,
            rest: self.rest(by_session),
        }
    }

    /// The conditions tested device by device: all but the status, and
    /// but the session bounds when the order turns them into a key range.
    fn rest(&self, sessions_in_keys: bool) -> Option<Predicate<'_, Device>> {
        let name = self.name_contains.as_deref().map(Needle::new);
        let comment = self.comment_contains.as_deref().map(Needle::new);
        let os = self.os.as_deref();
        let (before, after) = match sessions_in_keys {
            true => (None, None),
            false => (self.last_session_before, self.last_session_after),
        };
        let held = &self.held;
        let rest_needed = name.is_some()
            || !held.is_empty()
            || comment.is_some()
            || os.is_some()
            || before.is_some()
            || after.is_some();
        rest_needed.then(|| {
            Box::new(move |device: &Device| {
                name.as_ref().is_none_or(|name| name.found_in(&device.name))
                    && comment.as_ref().is_none_or(|comment| {
                        device
                            .comment
                            .as_deref()
                            .is_some_and(|text| comment.found_in(text))
                    })
                    && os.is_none_or(|os| {
                        device
                            .os
                            .as_deref()
                            .is_some_and(|own| own.eq_ignore_ascii_case(os))
                    })
                    && before
                        .is_none_or(|before| device.session_local().is_some_and(|at| at < before))
                    && after.is_none_or(|after| device.session_local().is_some_and(|at| at > after))
                    && held.iter().all(|held| held.holds(device))
            }) as Predicate<'_, Device>
        })
    }
}
