//! JSON log lines' timestamps, exactly as tracing-subscriber's `SystemTime`
//! writes them (RFC 3339 in UTC with microseconds), with the date and time
//! of day worked out once a second per thread: through `fmt`, they were
//! about 2,000 instructions of every access line.

use std::cell::Cell;
use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// The time of each line, in UTC to the microsecond.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct UtcMicros;

impl FormatTime for UtcMicros {
    fn format_time(&self, writer: &mut Writer<'_>) -> fmt::Result {
        match second_of(SystemTime::now()) {
            Some((second, micros)) => write_time(writer, &second, micros),
            // Before 1970 or after 9999: rare enough for the general path.
            None => tracing_subscriber::fmt::time::SystemTime.format_time(writer),
        }
    }
}

/// The time now, as `UtcMicros` writes it.
pub(super) fn write_now(out: &mut String) -> fmt::Result {
    UtcMicros.format_time(&mut Writer::new(out))
}

/// `YYYY-MM-DDTHH:MM:SS.`
type Second = [u8; 20];

/// The second `at` falls in, and the microseconds past it.
fn second_of(at: SystemTime) -> Option<(Second, u32)> {
    thread_local! {
        static LAST: Cell<(u64, Second)> = const { Cell::new((u64::MAX, [0; 20])) };
    }
    let since = at.duration_since(UNIX_EPOCH).ok()?;
    let (seconds, micros) = (since.as_secs(), since.subsec_micros());
    let (last, text) = LAST.get();
    if last == seconds {
        return Some((text, micros));
    }
    let text = second_text(seconds)?;
    LAST.set((seconds, text));
    Some((text, micros))
}

fn write_time(out: &mut impl Write, second: &Second, micros: u32) -> fmt::Result {
    let mut fraction = *b"000000Z";
    let mut left = micros;
    for digit in fraction[..6].iter_mut().rev() {
        *digit = b'0' + (left % 10) as u8;
        left /= 10;
    }
    out.write_str(std::str::from_utf8(second).map_err(|_| fmt::Error)?)?;
    out.write_str(std::str::from_utf8(&fraction).map_err(|_| fmt::Error)?)
}

/// `seconds` since 1970 as `YYYY-MM-DDTHH:MM:SS.` (the calendar is
/// chrono's; this runs once a second); `None` past year 9999.
fn second_text(seconds: u64) -> Option<Second> {
    use chrono::{Datelike, Timelike};
    let at = chrono::DateTime::from_timestamp(i64::try_from(seconds).ok()?, 0)?;
    let year = u64::try_from(at.year()).ok().filter(|year| *year <= 9999)?;
    let mut text = *b"0000-00-00T00:00:00.";
    let mut put = |at: usize, width: usize, mut value: u64| {
        for digit in text[at..at + width].iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, u64::from(at.month()));
    put(8, 2, u64::from(at.day()));
    put(11, 2, u64::from(at.hour()));
    put(14, 2, u64::from(at.minute()));
    put(17, 2, u64::from(at.second()));
    Some(text)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{DateTime, SecondsFormat, Utc};
    use rand::{Rng, SeedableRng};

    use super::*;

    fn written(at: SystemTime) -> String {
        let (second, micros) = second_of(at).expect("within 1970–9999");
        let mut text = String::new();
        write_time(&mut text, &second, micros).expect("written");
        text
    }

    #[test]
    fn times_are_written_as_rfc_3339_with_microseconds_in_utc() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut instants: Vec<u64> = vec![0, 951_782_400, 4_107_542_399, 253_402_300_799];
        instants.extend((0..2_000).map(|_| rng.random_range(0..253_402_300_800_u64)));
        for seconds in instants {
            let at = UNIX_EPOCH + Duration::new(seconds, rng.random_range(0..1_000_000_000));
            let expected = DateTime::<Utc>::from(at).to_rfc3339_opts(SecondsFormat::Micros, true);
            assert_eq!(written(at), expected, "{seconds}");
        }
    }

    #[test]
    fn a_second_is_reused_only_within_itself() {
        let at = UNIX_EPOCH + Duration::new(1_796_601_599, 999_999_000);
        assert_eq!(written(at), "2026-12-06T23:59:59.999999Z");
        let next = at + Duration::from_micros(1);
        assert_eq!(written(next), "2026-12-07T00:00:00.000000Z");
        assert_eq!(written(at), "2026-12-06T23:59:59.999999Z");
    }
}
