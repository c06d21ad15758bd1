//! String escapes the GraphQL specification has and async-graphql's
//! parser does not: a variable-width `\u{1F600}` and a surrogate pair
//! `\uD83D\uDE00` (as graphql-js reads them). They are written as the
//! characters they stand for before the document is parsed; everything
//! else (comments, block strings, other escapes) is left as it is, and an
//! escape that is not a character stays, so the parser refuses it.

use std::borrow::Cow;

/// `document` with those escapes in its strings replaced by their
/// characters; borrowed when it has none.
pub(crate) fn with_plain_unicode_escapes(document: &str) -> Cow<'_, str> {
    if !document.contains("\\u") {
        return Cow::Borrowed(document);
    }
    let bytes = document.as_bytes();
    let mut out = String::with_capacity(document.len());
    let (mut at, mut copied) = (0, 0);
    let mut in_string = false;
    while at < bytes.len() {
        match bytes[at] {
            b'#' if !in_string => at = line_end(bytes, at),
            b'"' if !in_string && bytes[at..].starts_with(b"\"\"\"") => {
                at = block_string_end(bytes, at + 3);
            }
            b'"' => {
                in_string = !in_string;
                at += 1;
            }
            b'\\' if in_string => match unicode_escape(&document[at..]) {
                Some((character, length)) => {
                    out.push_str(&document[copied..at]);
                    out.push(character);
                    at += length;
                    copied = at;
                }
                None => at += 2,
            },
            b'\n' | b'\r' => {
                in_string = false;
                at += 1;
            }
            _ => at += 1,
        }
    }
    if copied == 0 {
        return Cow::Borrowed(document);
    }
    out.push_str(&document[copied..]);
    Cow::Owned(out)
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|byte| matches!(byte, b'\n' | b'\r'))
        .map_or(bytes.len(), |offset| from + offset)
}

fn block_string_end(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() {
        if bytes[at..].starts_with(b"\\\"\"\"") {
            at += 4;
        } else if bytes[at..].starts_with(b"\"\"\"") {
            return at + 3;
        } else {
            at += 1;
        }
    }
    at
}

/// The character of a `\u{…}` escape or a surrogate pair at the start of
/// `text`, and the escape's length; `None` for any other escape.
fn unicode_escape(text: &str) -> Option<(char, usize)> {
    let rest = text.strip_prefix("\\u")?;
    if let Some(braced) = rest.strip_prefix('{') {
        let close = braced.find('}')?;
        let digits = &braced[..close];
        if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let character = char::from_u32(u32::from_str_radix(digits, 16).ok()?)?;
        return Some((character, 3 + close + 1));
    }
    let high = hex4(rest)?;
    if !(0xD800..0xDC00).contains(&high) {
        return None;
    }
    let low = hex4(rest.get(4..)?.strip_prefix("\\u")?)?;
    if !(0xDC00..0xE000).contains(&low) {
        return None;
    }
    let scalar = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
    Some((char::from_u32(scalar)?, 12))
}

fn hex4(text: &str) -> Option<u32> {
    let digits = text.get(..4)?;
    digits
        .bytes()
        .all(|byte| byte.is_ascii_hexdigit())
        .then(|| u32::from_str_radix(digits, 16).ok())?
}

#[cfg(test)]
mod tests {
    use super::with_plain_unicode_escapes as plain;

    #[test]
    fn braced_escapes_and_surrogate_pairs_become_characters_in_strings_only() {
        assert_eq!(plain(r#"{ a(s: "x\u{1F600}y") }"#), "{ a(s: \"x😀y\") }");
        assert_eq!(plain(r#"{ a(s: "\uD83D\uDE00") }"#), "{ a(s: \"😀\") }");
        assert_eq!(plain(r#"{ a(s: "\u00e9\n") }"#), r#"{ a(s: "\u00e9\n") }"#);
        assert_eq!(plain("# \\u{1F600}\n{ a }"), "# \\u{1F600}\n{ a }");
        let block = "{ a(s: \"\"\"\\u{1F600}\"\"\") }";
        assert_eq!(plain(block), block);
        assert_eq!(plain(r#"{ a(s: "\"\u{41}") }"#), "{ a(s: \"\\\"A\") }");
    }

    #[test]
    fn escapes_that_are_no_character_are_left_for_the_parser_to_refuse() {
        for text in [
            r#"{ a(s: "\u{D800}") }"#,
            r#"{ a(s: "\uD83D") }"#,
            r#"{ a(s: "\u{110000}") }"#,
            r#"{ a(s: "\uDE00\uD83D") }"#,
        ] {
            assert_eq!(plain(text), text);
        }
    }
}
