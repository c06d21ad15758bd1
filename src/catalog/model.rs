//! Domain types built from the wire types: what the gateway knows about a
//! user or a device, independent of how RemotePC or GraphQL spell it.

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::cache::Keyed;
use crate::upstream::wire::{WireDevice, WireUser};

/// An active user of a RemotePC account.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct User {
    /// Email, the user's key.
    pub username: String,
    /// First name, when RemotePC gave one.
    pub first_name: Option<String>,
    /// Last name, when RemotePC gave one.
    pub last_name: Option<String>,
}

impl User {
    /// A wire user, or `None` when it has no username to key it by.
    pub fn from_wire(wire: WireUser) -> Option<Self> {
        let username = non_blank(wire.username)?;
        Some(Self {
            username,
            first_name: non_blank(wire.firstname),
            last_name: non_blank(wire.lastname),
        })
    }
}

/// Whether a computer is reachable now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DeviceStatus {
    /// RemotePC reports it online.
    Online,
    /// RemotePC reports it offline; only offline computers can be removed.
    Offline,
    /// RemotePC gave no status, or one this gateway does not know.
    Unknown,
}

/// A computer of a RemotePC account. Serialized only between replicas
/// (`cluster`), never to clients.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Device {
    /// Host name, the device's key in every RemotePC call.
    pub name: String,
    /// RemotePC's machine id.
    pub machine_id: Option<String>,
    /// OS family, e.g. `Windows`.
    pub os: Option<String>,
    /// OS version, e.g. `10.0`.
    pub os_version: Option<String>,
    /// Last known IP address.
    pub ip: Option<String>,
    /// Free-text comment.
    pub comment: Option<String>,
    /// Online, offline or unknown.
    pub status: DeviceStatus,
    /// Last viewer session as RemotePC wrote it (no time zone).
    pub last_session_raw: Option<String>,
    /// `last_session_raw` parsed, when it could be, with the offset of the
    /// account's time zone at that time.
    pub last_session_at: Option<DateTime<FixedOffset>>,
}

impl Device {
    /// The last session as the account's wall-clock time, which filters
    /// and the session order compare.
    pub fn session_local(&self) -> Option<NaiveDateTime> {
        self.last_session_at.map(|at| at.naive_local())
    }

    /// A wire device of an account whose local times are in `zone`, or
    /// `None` when it has no host name to key it by.
    pub fn from_wire(wire: WireDevice, zone: Tz) -> Option<Self> {
        let name = non_blank(wire.host_name)?;
        let last_session_raw = non_blank(wire.viewer_last_session_time);
        let last_session_at = last_session_raw
            .as_deref()
            .and_then(parse_session_time)
            .map(|at| local_instant(zone, at).with_timezone(&zone).fixed_offset());
        let status = match wire.host_status_text.as_deref().map(str::trim) {
            Some(status) if status.eq_ignore_ascii_case("online") => DeviceStatus::Online,
            Some(status) if status.eq_ignore_ascii_case("offline") => DeviceStatus::Offline,
            _ => DeviceStatus::Unknown,
        };
        Some(Self {
            name,
            machine_id: non_blank(wire.machine_id),
            os: non_blank(wire.host_os_text),
            os_version: non_blank(wire.host_os_version),
            ip: non_blank(wire.host_ip),
            comment: non_blank(wire.comments),
            status,
            last_session_raw,
            last_session_at,
        })
    }
}

/// The instant of a wall-clock time of `zone`: the earlier one when the
/// clock went back; when it skipped forward, the time read with the offset
/// from before the change (so 02:30 on a spring-forward night is 03:30).
pub fn local_instant(zone: Tz, at: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&at) {
        LocalResult::Single(found) | LocalResult::Ambiguous(found, _) => found.to_utc(),
        LocalResult::None => {
            let before = zone.offset_from_utc_datetime(&(at - TimeDelta::days(1)));
            let offset = chrono::Offset::fix(&before).local_minus_utc();
            (at - TimeDelta::seconds(i64::from(offset))).and_utc()
        }
    }
}

fn non_blank(value: Option<String>) -> Option<String> {
    value
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
}

/// `YYYY-MM-DD hh:mm:ss` (RemotePC's format) read directly, being on every
/// device of every snapshot; other layouts go through chrono's parser.
fn parse_session_time(raw: &str) -> Option<NaiveDateTime> {
    if let Some(parsed) = parse_vendor_time(raw.as_bytes()) {
        return Some(parsed);
    }
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
}

fn parse_vendor_time(raw: &[u8]) -> Option<NaiveDateTime> {
    let [
        y1,
        y2,
        y3,
        y4,
        b'-',
        m1,
        m2,
        b'-',
        d1,
        d2,
        b' ',
        h1,
        h2,
        b':',
        n1,
        n2,
        b':',
        s1,
        s2,
    ] = *raw
    else {
        return None;
    };
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |value, digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u32::from(digit - b'0'))
        })
    };
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(number(&[y1, y2, y3, y4])?).ok()?,
        number(&[m1, m2])?,
        number(&[d1, d2])?,
    )?;
    date.and_hms_opt(number(&[h1, h2])?, number(&[n1, n2])?, number(&[s1, s2])?)
}

impl Keyed for User {
    fn key(&self) -> &str {
        &self.username
    }

    /// Emails compare case-insensitively.
    fn comparable(key: &str) -> Cow<'_, str> {
        if key.bytes().any(|byte| byte.is_ascii_uppercase()) {
            Cow::Owned(key.to_ascii_lowercase())
        } else {
            Cow::Borrowed(key)
        }
    }
}

impl Keyed for Device {
    fn key(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_time_is_parsed_and_the_raw_text_kept() {
        let device = Device::from_wire(
            WireDevice {
                host_name: Some("A".into()),
                viewer_last_session_time: Some("2023-02-24 11:07:11".into()),
                host_status_text: Some("OFFLINE".into()),
                ..WireDevice::default()
            },
            Tz::UTC,
        )
        .expect("has a name");
        assert_eq!(
            device.last_session_raw.as_deref(),
            Some("2023-02-24 11:07:11")
        );
        assert_eq!(
            device.last_session_at.map(|at| at.to_rfc3339()).as_deref(),
            Some("2023-02-24T11:07:11+00:00")
        );
        assert_eq!(device.status, DeviceStatus::Offline);
    }

    #[test]
    fn session_times_carry_the_account_zone_offset() {
        let at = |raw: &str| {
            Device::from_wire(
                WireDevice {
                    host_name: Some("A".into()),
                    viewer_last_session_time: Some(raw.into()),
                    ..WireDevice::default()
                },
                "Europe/Paris".parse().expect("zone"),
            )
            .and_then(|device| device.last_session_at)
            .map(|at| at.to_rfc3339())
        };
        assert_eq!(
            at("2026-01-15 09:00:00").as_deref(),
            Some("2026-01-15T09:00:00+01:00")
        );
        assert_eq!(
            at("2026-07-15 09:00:00").as_deref(),
            Some("2026-07-15T09:00:00+02:00")
        );
        // Clocks went from 02:00 to 03:00 on 2026-03-29: 02:30 never was.
        assert_eq!(
            at("2026-03-29 02:30:00").as_deref(),
            Some("2026-03-29T03:30:00+02:00")
        );
        // And from 03:00 back to 02:00 on 2026-10-25: the first 02:30.
        assert_eq!(
            at("2026-10-25 02:30:00").as_deref(),
            Some("2026-10-25T02:30:00+02:00")
        );
    }

    #[test]
    fn session_times_parse_strictly() {
        assert_eq!(
            parse_session_time("2023-12-31 23:59:59")
                .map(|at| at.to_string())
                .as_deref(),
            Some("2023-12-31 23:59:59")
        );
        assert_eq!(
            parse_session_time("2023-02-24T11:07:11")
                .map(|at| at.to_string())
                .as_deref(),
            Some("2023-02-24 11:07:11")
        );
        for bad in [
            "2023-02-30 11:07:11",
            "2023-13-01 00:00:00",
            "2023-01-01 24:00:00",
            "2023-01-01 0a:00:00",
        ] {
            assert_eq!(parse_session_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn odd_session_text_is_kept_unparsed_and_empty_is_absent() {
        let odd = Device::from_wire(
            WireDevice {
                host_name: Some("A".into()),
                viewer_last_session_time: Some("yesterday".into()),
                ..WireDevice::default()
            },
            Tz::UTC,
        )
        .expect("has a name");
        assert_eq!(odd.last_session_raw.as_deref(), Some("yesterday"));
        assert_eq!(odd.last_session_at, None);
        assert_eq!(odd.status, DeviceStatus::Unknown);
        let empty = Device::from_wire(
            WireDevice {
                host_name: Some("B".into()),
                viewer_last_session_time: Some(String::new()),
                ..WireDevice::default()
            },
            Tz::UTC,
        )
        .expect("has a name");
        assert_eq!(empty.last_session_raw, None);
    }

    #[test]
    fn records_without_a_key_are_skipped() {
        assert!(Device::from_wire(WireDevice::default(), Tz::UTC).is_none());
        assert!(User::from_wire(WireUser::default()).is_none());
    }
}
