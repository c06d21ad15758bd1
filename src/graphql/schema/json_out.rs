//! Writing JSON values byte for byte as async-graphql serializes them, for
//! the paths that write responses without building async-graphql values
//! (compiled plans and the fields they write).

use async_graphql::ScalarType;
use async_graphql_value::ConstValue;

/// `at` as async-graphql writes a `NaiveDateTime` (chrono's
/// `%Y-%m-%dT%H:%M:%S%.f`), without chrono's format interpreter, which was
/// a tenth of a planned page's CPU. Unusual years and leap seconds go
/// through chrono.
pub(crate) fn write_date_time(at: chrono::NaiveDateTime, out: &mut Vec<u8>) {
    use chrono::{Datelike, Timelike};
    let nanos = at.nanosecond();
    if !(0..=9999).contains(&at.year()) || nanos >= 1_000_000_000 {
        if let ConstValue::String(text) = ScalarType::to_value(&at) {
            write_str(&text, out);
        }
        return;
    }
    out.push(b'"');
    write_padded(at.year() as u32, 4, out);
    for (separator, value) in [
        (b'-', at.month()),
        (b'-', at.day()),
        (b'T', at.hour()),
        (b':', at.minute()),
        (b':', at.second()),
    ] {
        out.push(separator);
        write_padded(value, 2, out);
    }
    // `%.f`: nothing for whole seconds, else 3, 6 or 9 digits.
    if nanos != 0 {
        out.push(b'.');
        if nanos.is_multiple_of(1_000_000) {
            write_padded(nanos / 1_000_000, 3, out);
        } else if nanos.is_multiple_of(1_000) {
            write_padded(nanos / 1_000, 6, out);
        } else {
            write_padded(nanos, 9, out);
        }
    }
    out.push(b'"');
}

/// `value` in decimal, left-padded with zeros to `width` digits.
fn write_padded(value: u32, width: usize, out: &mut Vec<u8>) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(value).as_bytes();
    out.extend(std::iter::repeat_n(
        b'0',
        width.saturating_sub(digits.len()),
    ));
    out.extend_from_slice(digits);
}

pub(crate) fn write_str(text: &str, out: &mut Vec<u8>) {
    // serde_json escapes as it does when async-graphql's values are
    // serialized; writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

pub(crate) fn write_optional(text: Option<&str>, out: &mut Vec<u8>) {
    match text {
        Some(text) => write_str(text, out),
        None => out.extend_from_slice(b"null"),
    }
}

pub(crate) fn write_bool(value: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, NaiveDate};

    use super::*;

    #[test]
    fn date_times_are_written_as_async_graphql_writes_them() {
        let start = NaiveDate::from_ymd_opt(2026, 1, 1)
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .expect("a date");
        let mut at = start;
        let steps = [
            Duration::seconds(1),
            Duration::milliseconds(1),
            Duration::microseconds(7),
            Duration::nanoseconds(3),
            Duration::days(37) + Duration::seconds(3_671),
        ];
        let mut others = vec![
            NaiveDate::from_ymd_opt(7, 3, 9).and_then(|day| day.and_hms_opt(1, 2, 3)),
            NaiveDate::from_ymd_opt(-44, 3, 15).and_then(|day| day.and_hms_opt(12, 0, 0)),
            NaiveDate::from_ymd_opt(12_345, 1, 1).and_then(|day| day.and_hms_opt(0, 0, 0)),
            NaiveDate::from_ymd_opt(2016, 12, 31)
                .and_then(|day| day.and_hms_nano_opt(23, 59, 59, 1_500_000_000)),
        ];
        for index in 0..2_000 {
            at += steps[index % steps.len()];
            others.push(Some(at));
        }
        for at in others.into_iter().flatten() {
            let mut written = Vec::new();
            write_date_time(at, &mut written);
            let expected = serde_json::to_vec(&ScalarType::to_value(&at)).expect("JSON");
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
        }
    }
}
