//! Filtering and ordering of snapshots: what the list calls of RemotePC
//! cannot do. A `Listing` is the selected items of one snapshot in one order.

use std::ops::{Bound, Range};
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

/// A test of one item.
pub type Predicate<'a, T> = Box<dyn Fn(&T) -> bool + 'a>;

/// How a listing picks its items: a facet (index) of the snapshot to read,
/// a range of sort keys within it, and a test for what those leave open.
/// The facet and the range cost a lookup and two binary searches; only
/// `rest` looks at items one by one.
pub struct Selection<'a, T> {
    /// Read only the items of this facet: its name and membership test.
    pub facet: Option<(&'static str, Predicate<'a, T>)>,
    /// Lowest and highest sort key of the selected items.
    pub sort_keys: (Bound<String>, Bound<String>),
    /// Every other condition; `None` keeps every item of the range.
    pub rest: Option<Predicate<'a, T>>,
}

impl<T> Default for Selection<'_, T> {
    fn default() -> Self {
        Self {
            facet: None,
            sort_keys: (Bound::Unbounded, Bound::Unbounded),
            rest: None,
        }
    }
}

/// Selected items of a snapshot, in order.
pub struct Listing<T> {
    /// The snapshot the items come from.
    pub snapshot: Arc<Snapshot<T>>,
    view: Arc<SortedView>,
    /// The range of `view.entries` within the selection's sort keys.
    range: Range<usize>,
    /// Indexes into `view.entries` that `rest` accepted, ascending; `None`
    /// when the whole range is selected.
    accepted: Option<Vec<u32>>,
    /// The ordering's name.
    pub order: &'static str,
    /// Whether the listing runs from the greatest sort key down.
    pub descending: bool,
}

impl<T: Keyed> Listing<T> {
    /// The items of `snapshot` that `selection` picks, ordered by `order`.
    pub fn select(
        snapshot: Arc<Snapshot<T>>,
        order: &impl SortOrder<T>,
        descending: bool,
        selection: Selection<'_, T>,
    ) -> Self {
        let sort_key = |item: &T| order.sort_key(item);
        let view = match &selection.facet {
            Some((facet, keep)) => snapshot.facet_view(order.name(), facet, keep, sort_key),
            None => snapshot.view(order.name(), sort_key),
        };
        let entries = &view.entries;
        let after_low = |bound: &Bound<String>| match bound {
            Bound::Included(low) => entries.partition_point(|(key, _)| key < low),
            Bound::Excluded(low) => entries.partition_point(|(key, _)| key <= low),
            Bound::Unbounded => 0,
        };
        let until_high = |bound: &Bound<String>| match bound {
            Bound::Included(high) => entries.partition_point(|(key, _)| key <= high),
            Bound::Excluded(high) => entries.partition_point(|(key, _)| key < high),
            Bound::Unbounded => entries.len(),
        };
        let start = after_low(&selection.sort_keys.0);
        let range = start..until_high(&selection.sort_keys.1).max(start);
        let items = snapshot.items();
        let accepted = selection.rest.map(|keep| {
            range
                .clone()
                .filter(|index| keep(&items[entries[*index].1 as usize]))
                .map(|index| index as u32)
                .collect()
        });
        Self {
            snapshot,
            view,
            range,
            accepted,
            order: order.name(),
            descending,
        }
    }

    /// How many items were selected.
    pub fn len(&self) -> usize {
        self.accepted
            .as_ref()
            .map_or(self.range.len(), |accepted| accepted.len())
    }

    /// Whether nothing was selected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `index`-th item's sort key, key and value.
    pub fn entry(&self, index: usize) -> (&str, &str, &Arc<T>) {
        let ascending = if self.descending {
            self.len() - 1 - index
        } else {
            index
        };
        let in_view = match &self.accepted {
            Some(accepted) => accepted[ascending] as usize,
            None => self.range.start + ascending,
        };
        let (sort_key, position) = &self.view.entries[in_view];
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
        let (mut low, mut high) = (0, self.len());
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
                .map(session_sort_key)
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
/// order to the nanosecond and a time range is a range of keys.
fn session_sort_key(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.9f").to_string()
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
        let name = self.name_contains.as_deref().map(Needle::new);
        let comment = self.comment_contains.as_deref().map(Needle::new);
        let os = self.os.as_deref();
        let (before, after) = match by_session {
            true => (None, None),
            false => (self.last_session_before, self.last_session_after),
        };
        let rest_needed = name.is_some()
            || comment.is_some()
            || os.is_some()
            || before.is_some()
            || after.is_some();
        let rest: Option<Predicate<'_, Device>> = rest_needed.then(|| {
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
                        .is_none_or(|before| device.last_session_at.is_some_and(|at| at < before))
                    && after.is_none_or(|after| device.last_session_at.is_some_and(|at| at > after))
            }) as Predicate<'_, Device>
        });
        Selection {
            facet,
            sort_keys,
            rest,
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
    /// The selection of these users: the search is tested user by user.
    pub fn selection(&self) -> Selection<'_, User> {
        let Some(search) = self.search.as_deref().map(Needle::new) else {
            return Selection::default();
        };
        Selection {
            rest: Some(Box::new(move |user: &User| {
                if search.found_in(&user.username) {
                    return true;
                }
                let full_name = format!(
                    "{} {}",
                    user.first_name.as_deref().unwrap_or_default(),
                    user.last_name.as_deref().unwrap_or_default()
                );
                search.found_in(&full_name)
            })),
            ..Selection::default()
        }
    }
}

/// Text searched for ignoring case, lowered once.
struct Needle {
    lowered: String,
}

impl Needle {
    fn new(text: &str) -> Self {
        Self {
            lowered: text.to_lowercase(),
        }
    }

    /// Whether `haystack` contains the needle, ignoring case; without
    /// allocating when both are ASCII.
    fn found_in(&self, haystack: &str) -> bool {
        let needle = self.lowered.as_bytes();
        if haystack.is_ascii() && self.lowered.is_ascii() {
            return needle.is_empty()
                || haystack
                    .as_bytes()
                    .windows(needle.len())
                    .any(|window| window.eq_ignore_ascii_case(needle));
        }
        haystack.to_lowercase().contains(&self.lowered)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, NaiveDate};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn device(rng: &mut StdRng, index: usize) -> Device {
        let start = NaiveDate::from_ymd_opt(2026, 1, 1)
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .expect("a date");
        // Few distinct seconds, some with fractions: ties and sub-second
        // order both occur.
        let at = start
            + Duration::seconds(rng.random_range(0..40))
            + Duration::milliseconds(if rng.random_bool(0.3) { 500 } else { 0 });
        Device {
            name: format!("PC-{index:03}"),
            machine_id: None,
            os: Some(["Windows", "macOS", "Linux"][index % 3].to_owned()),
            os_version: None,
            ip: None,
            comment: rng.random_bool(0.5).then(|| format!("Desk {}", index % 7)),
            status: [
                DeviceStatus::Online,
                DeviceStatus::Offline,
                DeviceStatus::Unknown,
            ][rng.random_range(0..3)],
            last_session_raw: None,
            last_session_at: rng.random_bool(0.8).then_some(at),
        }
    }

    /// The filter as written in the schema, tested on every device.
    fn reference(filter: &DeviceFilter, device: &Device) -> bool {
        let contains = |text: Option<&str>, needle: &Option<String>| {
            needle.as_ref().is_none_or(|needle| {
                text.is_some_and(|text| text.to_lowercase().contains(&needle.to_lowercase()))
            })
        };
        contains(Some(&device.name), &filter.name_contains)
            && contains(device.comment.as_deref(), &filter.comment_contains)
            && filter.status.is_none_or(|status| device.status == status)
            && filter.os.as_ref().is_none_or(|os| {
                device
                    .os
                    .as_deref()
                    .is_some_and(|own| own.eq_ignore_ascii_case(os))
            })
            && filter
                .last_session_before
                .is_none_or(|before| device.last_session_at.is_some_and(|at| at < before))
            && filter
                .last_session_after
                .is_none_or(|after| device.last_session_at.is_some_and(|at| at > after))
    }

    #[test]
    fn indexed_selections_equal_filtering_every_device() {
        let mut rng = StdRng::seed_from_u64(11);
        let devices: Vec<Device> = (0..300).map(|index| device(&mut rng, index)).collect();
        let snapshot = Arc::new(Snapshot::new(devices.clone()));
        let times: Vec<NaiveDateTime> = devices.iter().filter_map(|d| d.last_session_at).collect();
        let orders = [
            DeviceOrder::Name,
            DeviceOrder::LastSession,
            DeviceOrder::Status,
            DeviceOrder::Os,
        ];
        for round in 0..400 {
            let pick_time = |rng: &mut StdRng| {
                rng.random_bool(0.5).then(|| {
                    let at = times[rng.random_range(0..times.len())];
                    at + Duration::milliseconds([0, 250, -250][rng.random_range(0..3)])
                })
            };
            let filter = DeviceFilter {
                status: rng.random_bool(0.6).then(|| {
                    [
                        DeviceStatus::Online,
                        DeviceStatus::Offline,
                        DeviceStatus::Unknown,
                    ][rng.random_range(0..3)]
                }),
                last_session_before: pick_time(&mut rng),
                last_session_after: pick_time(&mut rng),
                name_contains: rng.random_bool(0.2).then(|| "pc-1".to_owned()),
                comment_contains: rng.random_bool(0.2).then(|| "DESK 3".to_owned()),
                os: rng.random_bool(0.2).then(|| "windows".to_owned()),
            };
            let order = orders[round % orders.len()];
            let descending = rng.random_bool(0.5);
            let listing = Listing::select(
                Arc::clone(&snapshot),
                &order,
                descending,
                filter.selection(order),
            );

            let mut expected: Vec<(String, &str)> = devices
                .iter()
                .filter(|device| reference(&filter, device))
                .map(|device| (order.sort_key(device), device.name.as_str()))
                .collect();
            expected.sort();
            if descending {
                expected.reverse();
            }
            let listed: Vec<&str> = (0..listing.len())
                .map(|index| listing.entry(index).1)
                .collect();
            let expected: Vec<&str> = expected.into_iter().map(|(_, name)| name).collect();
            assert_eq!(
                listed, expected,
                "{filter:?} by {order:?}, descending {descending}"
            );
        }
    }

    #[test]
    fn session_keys_order_like_the_times_they_encode() {
        let at = |text: &str| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").expect("a time")
        };
        let times = [
            at("2026-01-01 09:59:59.999"),
            at("2026-01-01 10:00:00"),
            at("2026-01-01 10:00:00.000000001"),
            at("2026-01-01 10:00:00.5"),
            at("2026-01-01 10:00:01"),
        ];
        let keys: Vec<String> = times.iter().map(|time| session_sort_key(*time)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert!(keys.iter().all(|key| key.len() == keys[0].len()));
    }
}
