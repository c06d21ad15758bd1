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
