//! JSON string text, for answers and log lines alike: whether a text can
//! go between quotes as it is, which nearly every name, id and date can.

/// Whether `bytes` holds no control character, quote or backslash; eight
/// bytes at a time with the usual SWAR tests for a zero byte and a byte
/// below a bound.
pub fn needs_no_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS != 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_ne_bytes(word);
        let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
        if below_space
            || has_zero(word ^ (ONES * u64::from(b'"')))
            || has_zero(word ^ (ONES * u64::from(b'\\')))
        {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&byte| byte >= 0x20 && byte != b'"' && byte != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

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
