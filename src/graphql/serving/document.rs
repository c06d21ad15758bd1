//! Reading a document's raw text, once, with one set of rules: GraphQL's
//! lexical grammar cut down to what the gateway needs before (or instead
//! of) parsing. Ignored: white space, commas, comments. Strings (`"…"` and
//! `"""…"""`, escapes honoured) are one piece each; names and numbers are
//! words; every other byte is a punctuator. The nesting check, the token
//! count and the normalization that keys the response cache all read the
//! text through `Pieces`, so they agree on what a token is.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;

use super::operation_name::only_operation_name;

/// One lexical piece of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// A name, a number, `...`, or anything not ASCII (invalid outside
    /// strings; kept whole so that normalization never merges it).
    Word(&'a str),
    /// A string or block string, quotes included, verbatim.
    Str(&'a str),
    /// One punctuator byte: `{`, `(`, `:`, `$`, …
    Punct(u8),
}

/// The pieces of a document, each with whether ignored text came before it.
pub(crate) struct Pieces<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Pieces<'a> {
    pub(crate) fn of(text: &'a str) -> Self {
        Self { text, at: 0 }
    }
}

impl<'a> Iterator for Pieces<'a> {
    /// Whether white space, a comma or a comment came before, and the piece.
    type Item = (bool, Piece<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        self.at = skip_ignored(bytes, self.at);
        let separated = self.at > start;
        let first = *bytes.get(self.at)?;
        let begin = self.at;
        let piece = if first == b'"' {
            self.at = string_end(bytes, begin);
            Piece::Str(&self.text[begin..self.at])
        } else if is_word_byte(first) {
            self.at += bytes[begin..]
                .iter()
                .take_while(|byte| is_word_byte(**byte))
                .count();
            Piece::Word(&self.text[begin..self.at])
        } else {
            self.at += 1;
            Piece::Punct(first)
        };
        Some((separated, piece))
    }
}

fn is_word_byte(byte: u8) -> bool {
    !byte.is_ascii() || byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-' | b'+')
}

/// Past white space, commas and comments from `at`.
fn skip_ignored(bytes: &[u8], mut at: usize) -> usize {
    while let Some(byte) = bytes.get(at) {
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => at += 1,
            b'#' => {
                while at < bytes.len() && !matches!(bytes[at], b'\n' | b'\r') {
                    at += 1;
                }
            }
            _ => break,
        }
    }
    at
}

/// Where the string starting at `start` (a `"`) ends: after its closing
/// quote; at a line end for an unterminated one-line string (GraphQL
/// strings cannot span lines); at the end of the text otherwise.
fn string_end(bytes: &[u8], start: usize) -> usize {
    if bytes[start..].starts_with(b"\"\"\"") {
        let mut index = start + 3;
        while index < bytes.len() {
            if bytes[index..].starts_with(b"\\\"\"\"") {
                index += 4;
            } else if bytes[index..].starts_with(b"\"\"\"") {
                return index + 3;
            } else {
                index += 1;
            }
        }
        return bytes.len();
    }
    let mut index = start + 1;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 2,
            b'"' => return index + 1,
            b'\n' | b'\r' => return index,
            _ => index += 1,
        }
    }
    bytes.len()
}

/// Whether `{`, `[` and `(` nest deeper than `max` outside strings and
/// comments. A loop, not recursion: it runs before the parser, which
/// recurses once per level.
pub(crate) fn nesting_exceeds(document: &str, max: usize) -> bool {
    let mut depth = 0usize;
    for (_, piece) in Pieces::of(document) {
        match piece {
            Piece::Punct(b'{' | b'[' | b'(') => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            Piece::Punct(b'}' | b']' | b')') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Lexical tokens in `document`: names and numbers, punctuators, strings.
pub(crate) fn token_count(document: &str) -> usize {
    Pieces::of(document).count()
}

/// `document` with its layout taken out: ignored text dropped where it
/// separates nothing and one space where it separates two words or
/// strings. Documents that differ only in layout give the same text;
/// documents with different tokens never do.
pub(crate) fn normalize(document: &str) -> String {
    let mut out = String::with_capacity(document.len());
    let mut previous_joins = false;
    for (separated, piece) in Pieces::of(document) {
        let (text, joins) = match piece {
            Piece::Word(text) | Piece::Str(text) => (text, true),
            Piece::Punct(byte) => {
                out.push(char::from(byte));
                previous_joins = false;
                continue;
            }
        };
        if separated && previous_joins {
            out.push(' ');
        }
        out.push_str(text);
        previous_joins = joins;
    }
    out
}

/// Documents each thread keeps with their normal form: frontends send the
/// same few documents all day, with new variables each time.
const NORMALIZED_KEPT: usize = 8;

/// Documents longer than this are normalized every time, not kept.
const NORMALIZED_MAX_LEN: usize = 16 * 1024;

/// What a document's text says before it is parsed, kept per document.
#[derive(Clone)]
struct Read {
    normal: Arc<str>,
    operation_name: Option<Arc<str>>,
}

impl Read {
    fn of(document: &str) -> Self {
        Self {
            normal: Arc::from(normalize(document)),
            operation_name: only_operation_name(document).map(Arc::from),
        }
    }
}

/// `normalize(document)`, shared: a document this thread read among its
/// last few gives the same text without reading it again (reading it was
/// 7% of a planned query's work).
pub(crate) fn normalized(document: &str) -> Arc<str> {
    match kept(document) {
        Some(read) => read.normal,
        None => Arc::from(normalize(document)),
    }
}

/// The name of `document`'s one operation (`only_operation_name`), kept
/// as its normal form is.
pub(crate) fn operation_name(document: &str) -> Option<Arc<str>> {
    match kept(document) {
        Some(read) => read.operation_name,
        None => only_operation_name(document).map(Arc::from),
    }
}

/// What was read of `document`, kept; `None` for a document too long to
/// keep, which each caller reads for just what it needs.
///
/// Each thread keeps at most `NORMALIZED_KEPT` documents of at most
/// `NORMALIZED_MAX_LEN` bytes, each with what was read of it: about
/// 256 KiB. The callers (admission and the response and plan keys) run on
/// the runtime's worker threads, one per core, never on its blocking
/// pool, so the whole is that times the cores.
fn kept(document: &str) -> Option<Read> {
    thread_local! {
        static RECENT: RefCell<VecDeque<(Box<str>, Read)>> = const {
            RefCell::new(VecDeque::new())
        };
    }
    if document.len() > NORMALIZED_MAX_LEN {
        return None;
    }
    Some(RECENT.with_borrow_mut(|recent| {
        if let Some((_, read)) = recent.iter().find(|(text, _)| **text == *document) {
            return read.clone();
        }
        let read = Read::of(document);
        if recent.len() == NORMALIZED_KEPT {
            recent.pop_back();
        }
        recent.push_front((Box::from(document), read.clone()));
        read
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_normalized_again_is_the_same_text_shared() {
        let documents: Vec<String> = (0..NORMALIZED_KEPT + 2)
            .map(|index| {
                format!("query Q{index} {{ devices ( first : {index} ) {{ totalCount }} }}")
            })
            .collect();
        let first: Vec<Arc<str>> = documents.iter().map(|text| normalized(text)).collect();
        for (text, normal) in documents.iter().zip(&first) {
            assert_eq!(**normal, normalize(text));
        }
        let last = documents.last().expect("documents");
        assert!(Arc::ptr_eq(&normalized(last), &first[first.len() - 1]));
        let oldest = normalized(&documents[0]);
        assert!(
            !Arc::ptr_eq(&oldest, &first[0]),
            "only the last few are kept"
        );
        assert_eq!(oldest, first[0]);
        let long = format!("{{ a }}{}", " ".repeat(NORMALIZED_MAX_LEN));
        assert_eq!(*normalized(&long), *"{a}");
        let named = format!("query Long {{ a }}{}", " ".repeat(NORMALIZED_MAX_LEN));
        assert_eq!(operation_name(&named).as_deref(), Some("Long"));
        assert_eq!(operation_name(&documents[1]).as_deref(), Some("Q1"));
    }

    #[test]
    fn tokens_are_counted_like_the_lexer() {
        assert_eq!(token_count("{ a(x: 1.5e3, y: \"s t\") { b } } # c d e"), 14);
        assert_eq!(token_count("query Q($v: [Int!]!) { f }"), 15);
    }

    #[test]
    fn counts_brackets_of_every_kind() {
        assert!(!nesting_exceeds("{ a(x: [1]) { b } }", 3));
        assert!(nesting_exceeds("{ a(x: [1]) { b } }", 2));
        assert!(nesting_exceeds(&"[".repeat(10_000), 64));
    }

    #[test]
    fn ignores_brackets_in_strings_and_comments() {
        let document = "{ a(x: \"[[[[\\\"[[\", y: \"\"\"{{{{\"\"\") # ((((\n }";
        assert!(!nesting_exceeds(document, 2));
    }

    #[test]
    fn unterminated_strings_do_not_panic() {
        for document in [
            "\"",
            "\"\"\"",
            "\"\\",
            "#",
            "{\"\"\"\\\"\"\"",
            "é\"",
            "\"\n{",
        ] {
            let _ = nesting_exceeds(document, 1);
            let _ = token_count(document);
            let _ = normalize(document);
        }
    }

    #[test]
    fn layout_does_not_change_the_key() {
        let compact = normalize("query A{devices(first:5){edges{node{name os}}}}");
        let spread_out = normalize(
            "query A {\n  # what the helpdesk sees\n  devices(first: 5) {\n    edges { node { name, os } }\n  }\n}\n",
        );
        assert_eq!(compact, spread_out);
        assert_eq!(compact, "query A{devices(first:5){edges{node{name os}}}}");
    }

    #[test]
    fn tokens_and_string_contents_do_change_it() {
        assert_ne!(normalize("{ a b }"), normalize("{ ab }"));
        assert_ne!(
            normalize(r#"{ a(s: "x  y") }"#),
            normalize(r#"{ a(s: "x y") }"#)
        );
        assert_ne!(
            normalize(r##"{ a(s: "# not a comment") }"##),
            normalize(r#"{ a(s: "") }"#)
        );
        assert_ne!(
            normalize("{ a(s: \"\"\"x ,\n\\\"\"\" y\"\"\") }"),
            normalize("{ a(s: \"\"\"x \\\"\"\" y\"\"\") }")
        );
        // `"" "x"` must not become the block string `"""x"`.
        assert_eq!(normalize(r#"{ a(l: ["" "x"]) }"#), r#"{a(l:["" "x"])}"#);
        assert_eq!(normalize("{ a(n: [1 2 -3]) }"), "{a(n:[1 2 -3])}");
    }

    #[test]
    fn unterminated_strings_and_non_ascii_do_not_panic() {
        assert_eq!(normalize("{ a(s: \"ü"), "{a(s:\"ü");
        assert_eq!(normalize("{ a(s: \"\"\"ü"), "{a(s:\"\"\"ü");
        assert_eq!(normalize("{ a(s: \"\\"), "{a(s:\"\\");
        assert_eq!(normalize("{ ü ö }"), "{ü ö}");
    }
}
