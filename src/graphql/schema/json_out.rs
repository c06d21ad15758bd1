//! Writing JSON values byte for byte as async-graphql serializes them, for
//! the paths that write responses without building async-graphql values
//! (compiled plans and the fields they write).

use async_graphql::ScalarType;
use async_graphql_value::ConstValue;
use chrono::{DateTime, FixedOffset};

use super::timestamp::Timestamp;

/// `at` as the `DateTime` scalar writes it (RFC 3339, sub-seconds as 0,
/// 3, 6 or 9 digits, `Z` for UTC), without chrono's format interpreter,
/// which was a tenth of a planned page's CPU. Unusual years, leap seconds
/// and offsets with seconds go through the scalar itself.
pub(crate) fn write_date_time(at: DateTime<FixedOffset>, out: &mut Vec<u8>) {
    use chrono::{Datelike, Timelike};
    let local = at.naive_local();
    let nanos = local.nanosecond();
    let offset = at.offset().local_minus_utc();
    if !(0..=9999).contains(&local.year()) || nanos >= 1_000_000_000 || offset % 60 != 0 {
        if let ConstValue::String(text) = ScalarType::to_value(&Timestamp::Instant(at)) {
            write_str(&text, out);
        }
        return;
    }
    out.push(b'"');
    write_padded(local.year() as u32, 4, out);
    for (separator, value) in [
        (b'-', local.month()),
        (b'-', local.day()),
        (b'T', local.hour()),
        (b':', local.minute()),
        (b':', local.second()),
    ] {
        out.push(separator);
        write_padded(value, 2, out);
    }
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
    write_offset(offset, out);
    out.push(b'"');
}

/// `Z`, or `+hh:mm` / `-hh:mm`, for an offset of whole minutes.
fn write_offset(seconds: i32, out: &mut Vec<u8>) {
    if seconds == 0 {
        out.push(b'Z');
        return;
    }
    out.push(if seconds < 0 { b'-' } else { b'+' });
    let minutes = seconds.unsigned_abs() / 60;
    write_padded(minutes / 60, 2, out);
    out.push(b':');
    write_padded(minutes % 60, 2, out);
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

/// `text` as a JSON string, escaped as serde_json escapes it (which is how
/// async-graphql's values are serialized).
pub(crate) fn write_str(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    // Names, ids and dates rarely hold anything serde_json escapes (a
    // control character, a quote, a backslash): copy those at once.
    // Escaping byte by byte was a quarter of a planned answer's work.
    let plain = crate::json_text::needs_no_escape(bytes);
    if plain {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    // Writing to a Vec cannot fail.
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
    fn strings_are_escaped_exactly_as_serde_json_escapes_them() {
        let samples = [
            "",
            "PC-0042",
            "quote \" inside",
            "back\\slash",
            "tab\tand\nnewline",
            "\u{1}\u{1f}\u{7f}",
            "é ü 東京 🖥️",
            "/slash/ and <html>",
            "eight ok",
            "sixteen bytes ok",
            "seventeen bytes \"",
            "ends in a control\u{1f}",
            "\u{7f}\u{80}\u{ff} high bytes in UTF-8: \u{a0}\u{100}",
            "0123456789abcdef\\",
        ];
        for sample in samples {
            let mut out = Vec::new();
            write_str(sample, &mut out);
            let expected = serde_json::to_vec(sample).expect("serializes");
            assert_eq!(out, expected, "{sample:?}");
        }
    }

    #[test]
    fn any_mix_of_plain_and_escaped_characters_matches_serde_json() {
        // Plain characters first: half the samples use only those.
        let alphabet = [
            'a', 'Z', '0', ' ', '~', '\u{7f}', 'é', '東', '"', '\\', '\n', '\u{1}', '\u{1f}',
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..5_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let length = (state % 40) as usize;
            let letters = if state & 1 == 0 { 8 } else { alphabet.len() };
            let sample: String = (0..length)
                .map(|index| alphabet[((state >> (index % 48)) as usize + index * 7) % letters])
                .collect();
            let mut out = Vec::new();
            write_str(&sample, &mut out);
            assert_eq!(
                out,
                serde_json::to_vec(&sample).expect("serializes"),
                "{sample:?}"
            );
        }
    }

    #[test]
    fn date_times_are_written_as_the_scalar_writes_them() {
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
        let offsets = [
            0,
            3_600,
            -3 * 3_600 - 1_800,
            5 * 3_600 + 2_700,
            14 * 3_600,
            37,
        ];
        for (index, at) in others.into_iter().flatten().enumerate() {
            let Some(offset) = FixedOffset::east_opt(offsets[index % offsets.len()]) else {
                continue;
            };
            let Some(at) = at.and_local_timezone(offset).single() else {
                continue;
            };
            let mut written = Vec::new();
            write_date_time(at, &mut written);
            let expected =
                serde_json::to_vec(&ScalarType::to_value(&Timestamp::Instant(at))).expect("JSON");
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
        }
    }
}
