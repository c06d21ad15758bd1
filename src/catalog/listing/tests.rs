use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::devices::session_sort_key;
use super::*;
use crate::catalog::{Device, DeviceStatus, StatusSince};

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
        last_session_at: rng.random_bool(0.8).then_some(at.and_utc().fixed_offset()),
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
            .is_none_or(|before| device.session_local().is_some_and(|at| at < before))
        && filter
            .last_session_after
            .is_none_or(|after| device.session_local().is_some_and(|at| at > after))
}

/// A status change the gateway saw: device, new status, when.
type SeenChange = (String, DeviceStatus, DateTime<Utc>);

/// `offlineSince`/`onlineSince` as documented, from every change seen:
/// the device's latest change, if it led to its current status; else, for
/// offline devices, its last session.
fn held_reference(held: &StatusHeld, seen: &[SeenChange], device: &Device) -> bool {
    if device.status != held.status {
        return false;
    }
    let latest = seen
        .iter()
        .filter(|(name, _, _)| *name == device.name)
        .max_by_key(|(_, _, at)| *at);
    let since = match latest {
        Some((_, status, at)) if *status == device.status => Some(*at),
        _ if held.status == DeviceStatus::Offline => device.last_session_at.map(|at| at.to_utc()),
        _ => None,
    };
    since.is_some_and(|since| since <= held.at_or_before)
}

fn random_changes(rng: &mut StdRng, devices: &[Device]) -> Vec<SeenChange> {
    let start = DateTime::from_timestamp(1_767_225_600, 0).expect("2026-01-01");
    // One change per device and instant, as the store keeps them.
    (0..400)
        .map(|index| {
            let device = &devices[rng.random_range(0..devices.len())];
            let status = [DeviceStatus::Online, DeviceStatus::Offline][rng.random_range(0..2)];
            let at =
                start + Duration::seconds(rng.random_range(0..60)) + Duration::microseconds(index);
            (device.name.clone(), status, at)
        })
        .collect()
}

#[test]
fn status_held_since_agrees_with_every_change_seen() {
    let mut rng = StdRng::seed_from_u64(29);
    let devices: Vec<Device> = (0..200).map(|index| device(&mut rng, index)).collect();
    let snapshot = Arc::new(Snapshot::new(devices.clone()));
    for round in 0..200 {
        let seen = random_changes(&mut rng, &devices);
        let since = Arc::new(StatusSince::from_changes(seen.clone()));
        let start = DateTime::from_timestamp(1_767_225_600, 0).expect("2026-01-01");
        let mut held = Vec::new();
        for status in [DeviceStatus::Offline, DeviceStatus::Online] {
            if rng.random_bool(0.6) {
                held.push(StatusHeld {
                    status,
                    at_or_before: start + Duration::seconds(rng.random_range(-5..65)),
                    seen: Arc::clone(&since),
                });
            }
        }
        let filter = DeviceFilter {
            held: held.clone(),
            ..DeviceFilter::default()
        };
        let order = [DeviceOrder::Name, DeviceOrder::LastSession][round % 2];
        let listing = Listing::select(
            Arc::clone(&snapshot),
            &order,
            false,
            filter.selection(order),
        );
        let mut listed: Vec<&str> = (0..listing.len())
            .map(|index| listing.entry(index).1)
            .collect();
        listed.sort_unstable();
        let expected: Vec<&str> = devices
            .iter()
            .filter(|device| held.iter().all(|held| held_reference(held, &seen, device)))
            .map(|device| device.name.as_str())
            .collect();
        assert_eq!(listed, expected, "round {round}: {held:?}");
    }
}

#[test]
fn indexed_selections_equal_filtering_every_device() {
    let mut rng = StdRng::seed_from_u64(11);
    let devices: Vec<Device> = (0..300).map(|index| device(&mut rng, index)).collect();
    let snapshot = Arc::new(Snapshot::new(devices.clone()));
    let times: Vec<NaiveDateTime> = devices.iter().filter_map(|d| d.session_local()).collect();
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
            held: Vec::new(),
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
        // Cursors are kept per view entry across listings of every filter
        // and direction: each must still be its own item's.
        for index in 0..listing.len() {
            let (sort_key, key, item) = listing.entry(index);
            let encode =
                |order: &str, sort_key: &str, key: &str| format!("{order}|{sort_key}|{key}");
            let cursor = listing.cursor(index, encode);
            assert_eq!(cursor, format!("{}|{sort_key}|{key}", order.name()));
            assert!(Arc::ptr_eq(
                item,
                &snapshot.items()[listing.position(index)]
            ));
        }
    }
}

#[test]
fn session_keys_order_like_the_times_they_encode() {
    let at =
        |text: &str| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").expect("a time");
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

#[test]
fn session_keys_are_written_as_chrono_formats_them() {
    let mut rng = StdRng::seed_from_u64(29);
    let start = NaiveDate::from_ymd_opt(0, 1, 1).and_then(|day| day.and_hms_opt(0, 0, 0));
    let start = start.expect("a date");
    let mut times: Vec<NaiveDateTime> = (0..2000)
        .map(|_| {
            start
                + Duration::days(rng.random_range(0..3_652_000))
                + Duration::nanoseconds(rng.random_range(0..86_400_000_000_000))
        })
        .collect();
    let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
        .and_then(|day| day.and_hms_nano_opt(23, 59, 59, 1_500_000_000));
    let far = NaiveDate::from_ymd_opt(12_345, 6, 7).and_then(|day| day.and_hms_opt(8, 9, 10));
    let before = NaiveDate::from_ymd_opt(-1, 12, 31).and_then(|day| day.and_hms_opt(0, 0, 0));
    times.extend([leap, far, before].into_iter().flatten());
    for time in times {
        let expected = time.format("%Y-%m-%dT%H:%M:%S%.9f").to_string();
        assert_eq!(session_sort_key(time), expected, "{time:?}");
    }
}
