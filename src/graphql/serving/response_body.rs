//! A response body written once and served many times: the part every
//! answer of one response shares (its `data`), the part each answer writes
//! (the snapshots' ages), and the entity tag that says which snapshot
//! versions it shows.

use std::time::Duration;

use bytes::Bytes;

use super::entity_tag::EntityTag;
use crate::catalog::Collection;
use crate::graphql::schema::cache_report::{Staleness, write_extension};

/// A response body without errors, byte for byte as async-graphql
/// serializes it, in two parts: `head`, the same for every answer of one
/// response (`{"data":…,"extensions":{"cache":`), shared rather than
/// copied; and `tail`, this answer's snapshot ages and closing braces.
#[derive(Debug, Clone)]
pub struct ResponseBody {
    /// `data` and the start of `extensions`.
    pub head: Bytes,
    /// `extensions.cache` and the end of the body.
    pub tail: Vec<u8>,
    /// Which snapshot versions it shows, for `ETag`.
    pub tag: Option<EntityTag>,
}

impl ResponseBody {
    /// The body with one more `extensions` entry, after `cache`.
    pub fn with_extension(mut self, name: &str, value: &serde_json::Value) -> Self {
        let closing = self.tail.len().saturating_sub(2);
        let entry = format!(",{}:{value}", serde_json::Value::from(name));
        self.tail.splice(closing..closing, entry.into_bytes());
        self
    }

    /// The body, tagged with `tag`.
    pub(crate) fn tagged(mut self, tag: EntityTag) -> Self {
        self.tag = Some(tag);
        self
    }
}

/// What a body's head starts with, before `data`.
pub(crate) const HEAD_OPEN: &[u8] = b"{\"data\":";
/// What a body's head ends with, after `data`.
pub(crate) const HEAD_EXTENSIONS: &[u8] = b",\"extensions\":{\"cache\":";

/// The head of a body whose `data` serialized to `data`.
pub(crate) fn head(data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(HEAD_OPEN.len() + data.len() + HEAD_EXTENSIONS.len());
    out.extend_from_slice(HEAD_OPEN);
    out.extend_from_slice(data);
    out.extend_from_slice(HEAD_EXTENSIONS);
    Bytes::from(out)
}

/// The body starting with `head` for snapshots read at these ages.
pub(crate) fn body(
    head: Bytes,
    reads: impl IntoIterator<Item = (Collection, Duration, Staleness)>,
) -> ResponseBody {
    let mut tail = Vec::with_capacity(96);
    write_extension(reads, &mut tail);
    tail.extend_from_slice(b"}}");
    ResponseBody {
        head,
        tail,
        tag: None,
    }
}
