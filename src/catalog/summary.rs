//! Fleet summaries: how many of a selection of devices there are by
//! status, OS family, group and how long ago each was last seen, counted
//! from the snapshot (no RemotePC call). Assistants ask "how many are
//! offline for a week" far more often than they need the list.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::{Device, DeviceStatus, KnownGroup, Listing, Relations};

/// At most this many OS families and groups are named; the rest are
/// counted together, so that a summary stays small whatever the fleet.
pub const SUMMARY_NAMED_MAX: usize = 50;

/// How long ago a device was last seen: online now, else by the start of
/// its last session (RemotePC keeps no other trace of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LastSeen {
    /// Online now.
    Online,
    /// Within the last 24 hours.
    WithinDay,
    /// One to seven days ago.
    WithinWeek,
    /// Seven to thirty days ago.
    WithinMonth,
    /// More than thirty days ago.
    OverMonth,
    /// Not online, and no session RemotePC recorded (or could be read).
    Never,
}

impl LastSeen {
    /// Every bucket, most recent first.
    pub const ALL: [Self; 6] = [
        Self::Online,
        Self::WithinDay,
        Self::WithinWeek,
        Self::WithinMonth,
        Self::OverMonth,
        Self::Never,
    ];

    /// The bucket of `device` at `now`.
    pub fn of(device: &Device, now: DateTime<Utc>) -> Self {
        if device.status == DeviceStatus::Online {
            return Self::Online;
        }
        let Some(at) = device.last_session_at else {
            return Self::Never;
        };
        let ago = now.signed_duration_since(at.with_timezone(&Utc));
        if ago <= TimeDelta::days(1) {
            Self::WithinDay
        } else if ago <= TimeDelta::days(7) {
            Self::WithinWeek
        } else if ago <= TimeDelta::days(30) {
            Self::WithinMonth
        } else {
            Self::OverMonth
        }
    }
}

/// Counts of one selection of devices.
#[derive(Debug, Clone)]
pub struct FleetSummary {
    /// Devices selected.
    pub total: usize,
    /// Every status, in `DeviceStatus` order, zeros included.
    pub by_status: Vec<(DeviceStatus, usize)>,
    /// OS families, compared ignoring case and named by their first
    /// spelling in byte order (`None` when RemotePC gave none), largest
    /// first, at most [`SUMMARY_NAMED_MAX`].
    pub by_os: Vec<(Option<String>, usize)>,
    /// Devices of the OS families not named in `by_os`.
    pub other_os: usize,
    /// Groups the gateway moved devices into (`None`: in none it knows),
    /// largest first, at most [`SUMMARY_NAMED_MAX`].
    pub by_group: Vec<(Option<KnownGroup>, usize)>,
    /// Devices of the groups not named in `by_group`.
    pub other_groups: usize,
    /// Every bucket, in `LastSeen::ALL` order, zeros included.
    pub by_last_seen: Vec<(LastSeen, usize)>,
}

impl FleetSummary {
    /// Counts the devices of `listing`; groups from `relations`, ages at
    /// `now`.
    pub fn of(listing: &Listing<Device>, relations: &Relations, now: DateTime<Utc>) -> Self {
        let mut status = [0usize; 3];
        let mut last_seen = [0usize; LastSeen::ALL.len()];
        let mut os: HashMap<String, (Option<String>, usize)> = HashMap::new();
        let mut group: HashMap<Option<&str>, (Option<&KnownGroup>, usize)> = HashMap::new();
        for index in 0..listing.len() {
            let (_, _, device) = listing.entry(index);
            status[status_index(device.status)] += 1;
            let bucket = LastSeen::of(device, now);
            if let Some(slot) = LastSeen::ALL.iter().position(|seen| *seen == bucket) {
                last_seen[slot] += 1;
            }
            let family = device
                .os
                .as_deref()
                .map(str::trim)
                .filter(|os| !os.is_empty());
            let key = family.map(str::to_lowercase).unwrap_or_default();
            let (spelling, count) = os.entry(key).or_insert((None, 0));
            *count += 1;
            // One spelling whatever the selection or its order.
            if let Some(family) = family
                && spelling.as_deref().is_none_or(|kept| family < kept)
            {
                *spelling = Some(family.to_owned());
            }
            let known = relations.group_of(&device.name);
            let key = known.map(|known| known.name.as_str());
            group.entry(key).or_insert((known, 0)).1 += 1;
        }
        let (by_os, other_os) = largest(os.into_values());
        let (by_group, other_groups) =
            largest((group.into_values()).map(|(known, count)| (known.cloned(), count)));
        Self {
            total: listing.len(),
            by_status: [
                DeviceStatus::Online,
                DeviceStatus::Offline,
                DeviceStatus::Unknown,
            ]
            .into_iter()
            .map(|value| (value, status[status_index(value)]))
            .collect(),
            by_os,
            other_os,
            by_group,
            other_groups,
            by_last_seen: LastSeen::ALL.into_iter().zip(last_seen).collect(),
        }
    }
}

fn status_index(status: DeviceStatus) -> usize {
    match status {
        DeviceStatus::Online => 0,
        DeviceStatus::Offline => 1,
        DeviceStatus::Unknown => 2,
    }
}

/// The [`SUMMARY_NAMED_MAX`] largest counts, largest first (ties by
/// name, `None` last), and the sum of the rest.
fn largest<K: Named>(counts: impl Iterator<Item = (K, usize)>) -> (Vec<(K, usize)>, usize) {
    let mut counts: Vec<_> = counts.collect();
    counts.sort_by(|(a, a_count), (b, b_count)| {
        (b_count.cmp(a_count)).then_with(|| match (a.name(), b.name()) {
            (Some(a), Some(b)) => a.cmp(b),
            (a, b) => b.is_some().cmp(&a.is_some()),
        })
    });
    let rest = counts
        .get(SUMMARY_NAMED_MAX..)
        .map_or(0, |rest| rest.iter().map(|(_, count)| count).sum());
    counts.truncate(SUMMARY_NAMED_MAX);
    (counts, rest)
}

trait Named {
    fn name(&self) -> Option<&str>;
}

impl Named for Option<String> {
    fn name(&self) -> Option<&str> {
        self.as_deref()
    }
}

impl Named for Option<KnownGroup> {
    fn name(&self) -> Option<&str> {
        self.as_ref().map(|group| group.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, TimeZone};

    use super::*;

    fn device(status: DeviceStatus, days_ago: Option<i64>, now: DateTime<Utc>) -> Device {
        Device {
            name: "pc".into(),
            machine_id: None,
            os: None,
            os_version: None,
            ip: None,
            comment: None,
            status,
            last_session_raw: None,
            last_session_at: days_ago.map(|days| {
                let at = now - TimeDelta::days(days) - TimeDelta::minutes(1);
                at.with_timezone(&FixedOffset::east_opt(3600).expect("a valid offset"))
            }),
        }
    }

    #[test]
    fn last_seen_buckets_online_first_then_by_the_last_session() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 6, 12, 0, 0)
            .single()
            .expect("a time");
        let cases = [
            (DeviceStatus::Online, Some(90), LastSeen::Online),
            (DeviceStatus::Offline, Some(0), LastSeen::WithinDay),
            (DeviceStatus::Offline, Some(1), LastSeen::WithinWeek),
            (DeviceStatus::Offline, Some(7), LastSeen::WithinMonth),
            (DeviceStatus::Unknown, Some(30), LastSeen::OverMonth),
            (DeviceStatus::Offline, None, LastSeen::Never),
        ];
        for (status, days_ago, bucket) in cases {
            let seen = LastSeen::of(&device(status, days_ago, now), now);
            assert_eq!(seen, bucket, "{status:?} {days_ago:?} days ago");
        }
    }

    #[test]
    fn only_the_largest_are_named_and_the_rest_are_counted_together() {
        let counts = (0..SUMMARY_NAMED_MAX + 3).map(|n| (Some(format!("os{n:03}")), n + 1));
        let (named, rest) = largest(counts.chain([(None, 1000)]));
        assert_eq!(named.len(), SUMMARY_NAMED_MAX);
        assert_eq!(named[0], (None, 1000));
        assert_eq!(named[1], (Some("os052".to_owned()), 53));
        // 54 counts, 50 named: the four smallest (1 to 4 devices) are not.
        assert_eq!(named.last(), Some(&(Some("os004".to_owned()), 5)));
        assert_eq!(rest, 1 + 2 + 3 + 4);
    }
}
