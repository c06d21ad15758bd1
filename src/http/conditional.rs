//! Conditional GETs (RFC 9110 §13): a tagged answer's `ETag` and
//! `Cache-Control`, and whether the request's `If-None-Match` names the
//! tag, so that it is answered `304` with no body.

use axum::http::{HeaderMap, HeaderValue, header};

use super::reading::Source;
use crate::graphql::{EntityTag, ResponseBody};

/// Every tagged answer is checked with the gateway on each use: a browser
/// revalidates it (and gets a `304` while nothing changed), and no shared
/// cache keeps what one audience was answered.
const REVALIDATE: &str = "private, no-cache";

/// Whether an answer may be tagged and answered `304`: only a GET's (a
/// POST is not cacheable), with the `If-None-Match` it sent.
#[derive(Debug, Clone, Copy)]
pub(super) struct Conditional<'h> {
    tags: bool,
    if_none_match: Option<&'h HeaderValue>,
}

impl<'h> Conditional<'h> {
    /// A GET (a query string) is tagged and may be revalidated; a POST is
    /// neither.
    pub(super) fn of(source: &Source, headers: &'h HeaderMap) -> Self {
        match source {
            Source::Query(_) => Self {
                tags: true,
                if_none_match: headers.get(header::IF_NONE_MATCH),
            },
            Source::Body(_) => Self {
                tags: false,
                if_none_match: None,
            },
        }
    }

    /// The tag `body` is sent with, if any.
    pub(super) fn tag(self, body: &ResponseBody) -> Option<EntityTag> {
        body.tag.filter(|_| self.tags)
    }

    /// Whether `If-None-Match` names `tag`: nothing changed.
    pub(super) fn unchanged(self, tag: EntityTag) -> bool {
        self.if_none_match
            .is_some_and(|value| names(value.as_bytes(), tag))
    }
}

/// `ETag` and `Cache-Control` for an answer tagged `tag`.
pub(super) fn insert_tag(headers: &mut HeaderMap, tag: EntityTag) {
    if let Ok(value) = HeaderValue::from_str(&format!("W/{}", opaque(tag))) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
}

/// The tag's opaque-tag: 16 lowercase hexadecimal digits in quotes.
fn opaque(tag: EntityTag) -> String {
    format!("\"{:016x}\"", tag.value())
}

/// Whether an `If-None-Match` value names `tag` (weak comparison, RFC 9110
/// §13.1.2): `*`, or a list of entity-tags one of which is `tag`'s, with or
/// without `W/`. A malformed member matches nothing.
fn names(if_none_match: &[u8], tag: EntityTag) -> bool {
    let Ok(text) = std::str::from_utf8(if_none_match) else {
        return false;
    };
    if text.trim() == "*" {
        return true;
    }
    let own = opaque(tag);
    text.split(',').any(|member| {
        let member = member.trim();
        member.strip_prefix("W/").unwrap_or(member) == own
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_reads_lists_and_the_star() {
        let tag = EntityTag::from_value(0xab);
        let mut headers = HeaderMap::new();
        insert_tag(&mut headers, tag);
        let own = headers[header::ETAG].to_str().expect("ASCII").to_owned();
        assert_eq!(own, "W/\"00000000000000ab\"");
        for matching in [
            own.as_str(),
            "\"00000000000000ab\"",
            "\"1\", W/\"00000000000000ab\"",
            " * ",
        ] {
            assert!(names(matching.as_bytes(), tag), "{matching}");
        }
        for other in [
            "",
            "W/\"00000000000000ac\"",
            "00000000000000ab",
            "W/\"00000000000000AB\"",
            "\"00000000000000ab",
        ] {
            assert!(!names(other.as_bytes(), tag), "{other}");
        }
        assert!(!names(b"\xff\"00000000000000ab\"", tag));
    }
}
