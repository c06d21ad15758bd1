//! JSON string text, for answers and log lines alike: whether a text can
//! go between quotes as it is, which nearly every name, id and date can;
//! and the writers log lines are made with (strings escaped, numbers as
//! serde_json writes them). Answers are written as bytes by
//! `graphql::schema::json_out`.

use std::fmt::{self, Write};

/// Whether `bytes` holds no control character, quote or backslash; eight
/// bytes at a time with the usual SWAR tests for a zero byte and a byte
/// below a bound. No byte is tested alone: a longer text's tail is the
/// word ending it, overlapping the last whole one, and a shorter one is
/// read as two overlapping halves (or as its three bytes at most). Names, ids
/// and dates are mostly under sixteen bytes, and a byte loop over their
/// tails was most of the test's cost.
pub fn needs_no_escape(bytes: &[u8]) -> bool {
    let length = bytes.len();
    if length >= 8 {
        let mut words = bytes.chunks_exact(8);
        let word = |bytes: &[u8]| u64::from_ne_bytes(load(bytes));
        return words.all(|chunk| plain(word(chunk)))
            && (words.remainder().is_empty() || plain(word(&bytes[length - 8..])));
    }
    if length >= 4 {
        let half = |bytes: &[u8]| u64::from(u32::from_ne_bytes(load(bytes)));
        return plain(half(bytes) | half(&bytes[length - 4..]) << 32);
    }
    // Up to three bytes, the rest of the word spaces (which need no escape).
    let byte = |index: usize| bytes.get(index).copied().unwrap_or(b' ');
    let [first, second, third] = [0, 1, 2].map(byte);
    plain(u64::from_ne_bytes([
        first, second, third, b' ', b' ', b' ', b' ', b' ',
    ]))
}

/// Whether no byte of `word` is a control character, quote or backslash.
fn plain(word: u64) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS != 0;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
    !(below_space
        || has_zero(word ^ (ONES * u64::from(b'"')))
        || has_zero(word ^ (ONES * u64::from(b'\\'))))
}

/// The first `N` bytes of `bytes` (which holds at least `N`), in one load.
/// Each byte is tested on its own lane of the word, so where it lands in
/// the word does not matter.
fn load<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut word = [0; N];
    word.copy_from_slice(&bytes[..N]);
    word
}

/// `"name":`.
pub(crate) fn write_key(out: &mut String, name: &str) -> fmt::Result {
    write_json_str(out, name)?;
    out.push(':');
    Ok(())
}

pub(crate) fn write_i64(out: &mut String, value: i64) {
    out.push_str(itoa::Buffer::new().format(value));
}

pub(crate) fn write_u64(out: &mut String, value: u64) {
    out.push_str(itoa::Buffer::new().format(value));
}

pub(crate) fn write_bool(out: &mut String, value: bool) {
    out.push_str(if value { "true" } else { "false" });
}

/// As serde_json writes it: the shortest text that reads back the same,
/// and `null` for what JSON has no number for.
pub(crate) fn write_f64(out: &mut String, value: f64) {
    if value.is_finite() {
        out.push_str(ryu::Buffer::new().format_finite(value));
    } else {
        out.push_str("null");
    }
}

/// `text` as a JSON string.
pub(crate) fn write_json_str(out: &mut String, text: &str) -> fmt::Result {
    out.push('"');
    write_escaped(out, text)?;
    out.push('"');
    Ok(())
}

/// `text` escaped for the inside of a JSON string. Nearly every text (ids,
/// paths, names) needs nothing escaped: that is checked over the whole
/// text first, eight bytes at a time, and the text written in one piece.
/// Otherwise it is scanned by byte: every character JSON escapes is ASCII,
/// so a byte that needs it is a whole character and the runs between them
/// are valid UTF-8.
pub(crate) fn write_escaped(out: &mut impl Write, text: &str) -> fmt::Result {
    if needs_no_escape(text.as_bytes()) {
        return out.write_str(text);
    }
    let mut run = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.write_str(text.get(run..index).unwrap_or_default())?;
        if escape.is_empty() {
            write!(out, "\\u{byte:04x}")?;
        } else {
            out.write_str(escape)?;
        }
        run = index + 1;
    }
    out.write_str(text.get(run..).unwrap_or_default())
}

/// Escapes what is written through it, so that a `Debug` or `Display`
/// value goes into a JSON string without a string of its own.
pub(crate) struct Escaping<'a, W: Write>(pub(crate) &'a mut W);

impl<W: Write> Write for Escaping<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        write_escaped(self.0, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_json_reads_them_back() {
        for text in [
            "plain",
            "quote \" and \\ back",
            "line\nfeed\r\t",
            "\u{1}\u{1f}bell",
            "héllo → 😀",
            "",
        ] {
            let mut written = String::new();
            write_json_str(&mut written, text).expect("written");
            let read: String = serde_json::from_str(&written).expect("a JSON string");
            assert_eq!(read, text, "{written}");
        }
    }

    #[test]
    fn a_text_is_plain_unless_json_escapes_a_byte_of_it() {
        for plain in [
            "",
            "abc",
            "an id of twenty chars",
            "héllo → 😀 and more than eight bytes",
        ] {
            assert!(needs_no_escape(plain.as_bytes()), "{plain}");
        }
        // Every length around the word's, every position, every kind of
        // byte JSON escapes (and the bytes beside the bounds that it does
        // not).
        for length in 0..=33 {
            let text = vec![b'a'; length];
            assert!(needs_no_escape(&text), "{length}");
            for at in 0..length {
                for (byte, escaped) in [
                    (b'"', true),
                    (b'\\', true),
                    (b'\n', true),
                    (0x00, true),
                    (0x1f, true),
                    (b' ', false),
                    (b'!', false),
                    (b'#', false),
                    (b'[', false),
                    (b']', false),
                    (0x7f, false),
                    (0xc3, false),
                ] {
                    let mut text = text.clone();
                    text[at] = byte;
                    assert_eq!(needs_no_escape(&text), !escaped, "{text:?}");
                }
            }
        }
    }
}
