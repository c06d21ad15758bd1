//! The `DateTime` scalar. Out: RFC 3339 with the offset always written
//! (`Z` for UTC), what `new Date(…)` reads without guessing a zone. In:
//! also what browsers produce (an `<input type=datetime-local>` value
//! without seconds, a date), read in the account's time zone.

use async_graphql::{Error, InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use chrono_tz::Tz;

use super::error::{ErrorCode, coded};
use crate::catalog::local_instant;

/// The forms a `DateTime` argument accepts, for error messages.
pub(crate) const ACCEPTED_FORMS: &str = "RFC 3339 with an offset or `Z` (2026-03-01T09:30:00Z, 2026-03-01T09:30:00+01:00), a date-time without offset, seconds optional (2026-03-01T09:30), read in the account's time zone, or a date (2026-03-01), its start in the account's time zone";

/// A point in time as a client sent it or the gateway answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timestamp {
    /// With an offset: one instant everywhere.
    Instant(DateTime<FixedOffset>),
    /// A wall-clock time of the account's time zone.
    Local(NaiveDateTime),
    /// The start of a day in the account's time zone.
    Date(NaiveDate),
    /// A string in none of the accepted forms. Refused by the resolver
    /// that reads it, which can name the argument; a parse error could
    /// only name the input type.
    Unreadable,
}

/// A date-time as RFC 3339 with its offset (`Z` for UTC), e.g.
/// `2026-03-01T09:30:00Z`. Arguments also accept a date-time without
/// offset (seconds optional) or a date, both read in the account's time
/// zone (`accounts.<id>.time_zone`).
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://scalars.graphql.org/andimarek/date-time"
)]
impl ScalarType for Timestamp {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(text) = &value else {
            return Err(InputValueError::custom(format!(
                "expected a string: {ACCEPTED_FORMS}"
            )));
        };
        Ok(Timestamp::read(text).unwrap_or(Timestamp::Unreadable))
    }

    fn to_value(&self) -> Value {
        Value::String(match self {
            Timestamp::Instant(at) => at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            Timestamp::Local(at) => at.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
            Timestamp::Date(day) => day.to_string(),
            Timestamp::Unreadable => String::new(),
        })
    }
}

impl Timestamp {
    /// An instant of the gateway's own records.
    pub(crate) fn utc(at: DateTime<Utc>) -> Self {
        Timestamp::Instant(at.fixed_offset())
    }

    /// `text` in one of the accepted forms.
    fn read(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Some(at) = local_written_out(text) {
            return Some(Timestamp::Local(at));
        }
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Some(Timestamp::Instant(at));
        }
        for format in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
        ] {
            if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
                return Some(Timestamp::Local(at));
            }
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .map(Timestamp::Date)
    }

    /// The wall-clock time of `zone` this names; `BAD_USER_INPUT` naming
    /// `argument` when it was unreadable.
    pub(crate) fn local_in(self, zone: Tz, argument: &str) -> Result<NaiveDateTime, Error> {
        match self {
            Timestamp::Instant(at) => Ok(at.with_timezone(&zone).naive_local()),
            Timestamp::Local(at) => Ok(at),
            Timestamp::Date(day) => Ok(day.and_time(NaiveTime::MIN)),
            Timestamp::Unreadable => Err(coded(
                ErrorCode::BadUserInput,
                format!("`{argument}` is not a date-time; send {ACCEPTED_FORMS}"),
            )),
        }
    }

    /// The instant this names, local forms read in `zone`.
    pub(crate) fn instant_in(self, zone: Tz, argument: &str) -> Result<DateTime<Utc>, Error> {
        match self {
            Timestamp::Instant(at) => Ok(at.to_utc()),
            local => Ok(local_instant(zone, local.local_in(zone, argument)?)),
        }
    }
}

/// A date-time without offset written out in full, `YYYY-MM-DDTHH:MM`
/// with optional `:SS` and `.` and 1–9 fraction digits (a space for the
/// `T`), read digit by digit: the form filters send most, where chrono's
/// format interpreter was a tenth of a filtered page's planning. Anything
/// else (other widths, signs, leap seconds, invalid dates) is `None` and
/// left to chrono, which reads these forms to the same values.
fn local_written_out(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    let number = |at: usize, width: usize| -> Option<u32> {
        let digits = bytes.get(at..at + width)?;
        digits.iter().try_fold(0u32, |value, digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u32::from(digit - b'0'))
        })
    };
    let separator =
        |at: usize, expected: &[u8]| bytes.get(at).is_some_and(|byte| expected.contains(byte));
    let punctuated =
        separator(4, b"-") && separator(7, b"-") && separator(10, b"T ") && separator(13, b":");
    if !punctuated {
        return None;
    }
    let (second, nanosecond) = match bytes.len() {
        16 => (0, 0),
        19 if separator(16, b":") => (number(17, 2)?, 0),
        21..=29 if separator(16, b":") && separator(19, b".") => {
            let digits = bytes.len() - 20;
            (
                number(17, 2)?,
                number(20, digits)? * 10u32.pow(9 - digits as u32),
            )
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(number(0, 4)? as i32, number(5, 2)?, number(8, 2)?)?;
    if second > 59 {
        return None;
    }
    let time = NaiveTime::from_hms_nano_opt(number(11, 2)?, number(14, 2)?, second, nanosecond)?;
    Some(date.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Option<Timestamp> {
        Timestamp::parse(Value::String(text.to_owned())).ok()
    }

    #[test]
    fn browsers_forms_are_read_in_the_account_zone() {
        let paris: Tz = "Europe/Paris".parse().expect("zone");
        let winter_nine_utc = "2026-01-15T08:00:00Z"
            .parse::<DateTime<Utc>>()
            .expect("utc");
        for text in [
            "2026-01-15T08:00:00Z",
            "2026-01-15T09:00:00+01:00",
            "2026-01-15T09:00",
            "2026-01-15T09:00:00",
            "2026-01-15 09:00",
        ] {
            let at = read(text).unwrap_or_else(|| panic!("{text} is accepted"));
            assert_eq!(
                at.instant_in(paris, "at").ok(),
                Some(winter_nine_utc),
                "{text}"
            );
        }
        let day = read("2026-07-01").expect("a date is accepted");
        assert_eq!(
            day.instant_in(paris, "at").ok(),
            "2026-06-30T22:00:00Z".parse::<DateTime<Utc>>().ok()
        );
    }

    #[test]
    fn wrong_values_name_the_accepted_forms() {
        for text in [
            "yesterday",
            "2026-13-01",
            "2026-01-15T25:00",
            "",
            "2026-01-15Z",
        ] {
            let read = Timestamp::parse(Value::String(text.to_owned())).expect("a string");
            let error = read
                .local_in(Tz::UTC, "filter.lastSessionBefore")
                .err()
                .unwrap_or_else(|| panic!("{text} is refused"));
            assert!(
                error.message.contains("`filter.lastSessionBefore`"),
                "{}",
                error.message
            );
            assert!(error.message.contains("RFC 3339"), "{}", error.message);
        }
    }

    /// What chrono reads from `text` with the formats `read` tries.
    fn by_chrono(text: &str) -> Option<NaiveDateTime> {
        [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
        ]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    }

    #[test]
    fn written_out_local_times_are_read_as_chrono_reads_them() {
        let mut texts = vec![
            "2026-03-01T09:30".to_owned(),
            "2026-03-01 09:30".to_owned(),
            "2026-03-01T09:30:59".to_owned(),
            "0000-01-01T00:00:00".to_owned(),
            "9999-12-31T23:59:59.999999999".to_owned(),
            "2024-02-29T12:00".to_owned(),
        ];
        for digits in 1..=9 {
            texts.push(format!("2026-03-01T09:30:05.{}", &"123456789"[..digits]));
        }
        for (index, text) in texts.iter().enumerate() {
            let fast = local_written_out(text);
            assert!(fast.is_some(), "{text} is read digit by digit");
            assert_eq!(fast, by_chrono(text), "{text}");
            // Every byte changed to each byte that matters gives the same
            // answer, or is left to chrono.
            for position in 0..text.len() {
                for byte in *b"0159-: T.Zx+" {
                    let mut changed = text.clone().into_bytes();
                    changed[position] = byte;
                    let Ok(changed) = String::from_utf8(changed) else {
                        continue;
                    };
                    if let Some(at) = local_written_out(&changed) {
                        assert_eq!(Some(at), by_chrono(&changed), "{changed} (case {index})");
                    }
                }
            }
        }
        for text in [
            "2026-02-30T09:30",
            "2026-03-01T24:00",
            "2026-03-01T09:30:60",
            "2026-03-01T09:30:05.",
            "2026-03-01T09:30:05.1234567891",
            "+2026-03-01T09:30",
            "2026-3-01T09:30",
            "2026-03-01T09:30Z",
            "2026-03-01T09:30:00+01:00",
        ] {
            assert_eq!(local_written_out(text), None, "{text} is left to chrono");
        }
        let leap = "2016-12-31T23:59:60";
        assert_eq!(read(leap), by_chrono(leap).map(Timestamp::Local));
    }

    #[test]
    fn output_always_carries_the_offset() {
        let at = "2026-03-01T09:30:00.250Z"
            .parse::<DateTime<Utc>>()
            .expect("utc");
        assert_eq!(
            Timestamp::utc(at).to_value(),
            Value::String("2026-03-01T09:30:00.250Z".to_owned())
        );
    }
}
