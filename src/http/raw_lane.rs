//! The raw-request lane: a request whose exact bytes the same audience sent
//! before, and whose response the response cache still keeps, is answered
//! before its JSON is parsed or its document read. A hit is a hash, one
//! lookup, a byte comparison, the snapshot version check the response
//! cache makes, and a write. Entries hold the request's bytes and a handle
//! on the kept response that does not keep it alive, so the response
//! cache's bound and its version check decide everything served here.

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;

use super::media::MediaType;
use super::reading::Source;
use crate::admission::{IDEMPOTENCY_KEY, TrustedSet};
use crate::auth::{Caller, Credential};
use crate::graphql::KeptResponse;
use crate::telemetry::{self, CacheHitMeter};

/// Kept request keys, bounded in bytes; `None` when the response cache is
/// off.
pub(super) struct RawLane {
    entries: Option<moka::sync::Cache<u64, Arc<Entry>, RandomState>>,
    hasher: RandomState,
    marks: Marks,
}

/// foldhash, seeded per process: SipHash of each request's bytes was the
/// lane's largest cost, and a collision here costs a miss, never a wrong
/// answer (the bytes and audience are compared).
type RandomState = foldhash::fast::RandomState;

/// Everything an answer can depend on besides the request's bytes: whose
/// snapshots, which team's trusted documents (and the revision of the
/// manifests they were admitted under), which guards, which media type,
/// and whether the bytes are a body or a query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Audience<'a> {
    account: &'a str,
    team: &'a str,
    trusted_revision: u64,
    scopes: u8,
    introspection: bool,
    media: MediaType,
    via_get: bool,
}

/// A request answered from the response cache before.
pub(super) struct Entry {
    account: String,
    team: String,
    trusted_revision: u64,
    scopes: u8,
    introspection: bool,
    media: MediaType,
    via_get: bool,
    request: Box<[u8]>,
    kept: KeptResponse,
    meter: CacheHitMeter,
    /// The operation's label in metrics and spans.
    operation: String,
}

impl Entry {
    fn audience(&self) -> Audience<'_> {
        Audience {
            account: &self.account,
            team: &self.team,
            trusted_revision: self.trusted_revision,
            scopes: self.scopes,
            introspection: self.introspection,
            media: self.media,
            via_get: self.via_get,
        }
    }

    /// The response as the response cache keeps it.
    pub(super) fn kept(&self) -> &KeptResponse {
        &self.kept
    }

    /// The media type the request asked for.
    pub(super) fn media(&self) -> MediaType {
        self.media
    }

    /// Counts one answer given in `elapsed`, and names the operation in
    /// the request's span.
    pub(super) fn record(&self, elapsed: Duration) {
        self.meter.record(elapsed.as_secs_f64());
        telemetry::access::note_operation(&self.operation);
        if crate::telemetry::exporting() {
            let span = tracing::Span::current();
            span.record("graphql.operation.name", self.operation.as_str());
            span.record("graphql.operation.type", "query");
        }
    }

    fn weight(&self) -> u32 {
        let text = self.request.len() + self.account.len() + self.team.len() + self.operation.len();
        // The entry, its meter's handles and moka's own bookkeeping.
        u32::try_from(text + 256).unwrap_or(u32::MAX)
    }
}

/// What the lane says of a request.
pub(super) enum Lane {
    /// The same request from the same audience was answered from the
    /// response cache before; the ticket registers it again if that
    /// response is no longer current.
    Seen(Arc<Entry>, Ticket),
    /// Not seen: the ticket lets the request's answer be registered.
    Unseen(Ticket),
    /// Not for the lane (off, an Idempotency-Key, no acceptable media type).
    Closed,
}

/// A request that may be registered once its answer is known.
pub(super) struct Ticket {
    hash: u64,
    /// The hash of its bytes alone, for `Marks`.
    bytes_hash: u64,
    trusted_revision: u64,
    request: Bytes,
    media: MediaType,
    via_get: bool,
}

impl RawLane {
    /// Keeps up to `max_bytes` of request keys, none longer than `ttl` (the
    /// responses they point to live no longer). 0 bytes: off.
    pub(super) fn new(max_bytes: u64, ttl: Duration) -> Self {
        let entries = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_: &u64, entry: &Arc<Entry>| entry.weight())
                .time_to_live(ttl)
                .build_with_hasher(RandomState::default())
        });
        Self {
            entries,
            hasher: RandomState::default(),
            marks: Marks::new(),
        }
    }

    /// Whether the lane may hold an entry for `source`'s bytes; `false`
    /// means it holds none, and the request need not be authenticated to
    /// ask.
    pub(super) fn may_hold(&self, source: &Source) -> bool {
        self.entries.is_some() && self.marks.marked(self.hasher.hash_one(source.bytes()))
    }

    /// Looks `source`, sent by `credential` with `headers`, up; entries
    /// registered under another revision of the caller's trusted
    /// documents are not served.
    pub(super) fn offer(
        &self,
        credential: &Credential<'_>,
        headers: &HeaderMap,
        source: &Source,
        trusted: &TrustedSet,
    ) -> Lane {
        let Some(entries) = &self.entries else {
            return Lane::Closed;
        };
        if headers.contains_key(IDEMPOTENCY_KEY) {
            return Lane::Closed;
        }
        let Some(media) = MediaType::negotiate(headers) else {
            return Lane::Closed;
        };
        let caller = credential.caller();
        let (request, via_get) = match source {
            Source::Body(body) => (body.clone(), false),
            Source::Query(query) => (Bytes::copy_from_slice(query.as_bytes()), true),
        };
        let trusted_revision = trusted.revision(caller);
        let audience = Audience {
            account: &caller.account,
            team: &caller.team,
            trusted_revision,
            scopes: caller.scope_bits(),
            introspection: credential.introspection(),
            media,
            via_get,
        };
        // The bytes are hashed once: the entry's key is their hash under
        // the audience (an entry still matches only its own bytes).
        let bytes_hash = self.hasher.hash_one(request.as_ref());
        let hash = self.hasher.hash_one((audience, bytes_hash));
        let ticket = Ticket {
            hash,
            bytes_hash,
            trusted_revision,
            request,
            media,
            via_get,
        };
        match entries.get(&hash) {
            Some(entry) if entry.audience() == audience && *entry.request == *ticket.request => {
                // Marks are cleared now and then: a hit the router found
                // marks its bytes again, for the service ahead of it.
                self.marks.mark_once(bytes_hash);
                Lane::Seen(entry, ticket)
            }
            _ => Lane::Unseen(ticket),
        }
    }

    /// Remembers that `ticket`'s request, sent by `caller`, was answered
    /// with `kept`; counted under `operation` when served again.
    pub(super) fn register(
        &self,
        ticket: Ticket,
        caller: &Caller,
        introspection: bool,
        kept: KeptResponse,
        operation: &str,
    ) {
        let Some(entries) = &self.entries else {
            return;
        };
        let entry = Entry {
            account: caller.account.clone(),
            team: caller.team.clone(),
            trusted_revision: ticket.trusted_revision,
            scopes: caller.scope_bits(),
            introspection,
            media: ticket.media,
            via_get: ticket.via_get,
            request: Box::from(ticket.request.as_ref()),
            kept,
            meter: CacheHitMeter::new(&caller.team, operation),
            operation: operation.to_owned(),
        };
        entries.insert(ticket.hash, Arc::new(entry));
        self.marks.mark_once(ticket.bytes_hash);
    }
}

/// Request bytes the lane may hold an entry for, by a hash of the bytes
/// alone. A request whose bytes are not marked cannot be a hit, so the
/// connection's service hands it to the router without authenticating it
/// first; the router authenticates it once, and asks the lane itself.
/// Lossy both ways: a mark outliving its entry costs that authentication,
/// as every miss cost before; a mark cleared costs a hit the router's
/// way, which marks it again.
struct Marks {
    words: Box<[AtomicU64]>,
    /// Marks set since the last clearing.
    set: AtomicUsize,
}

/// 8 KiB of marks.
const MARK_BITS: usize = 1 << 16;

/// Marks are cleared after this many: with at most one bit in sixteen
/// set, bytes never seen pass for marked at most one time in sixteen.
const MARKS_BEFORE_CLEARING: usize = MARK_BITS / 16;

impl Marks {
    fn new() -> Self {
        Self {
            words: (0..MARK_BITS / 64).map(|_| AtomicU64::new(0)).collect(),
            set: AtomicUsize::new(0),
        }
    }

    fn place(&self, hash: u64) -> (&AtomicU64, u64) {
        let bit = hash as usize % MARK_BITS;
        (&self.words[bit / 64], 1 << (bit % 64))
    }

    fn marked(&self, hash: u64) -> bool {
        let (word, bit) = self.place(hash);
        word.load(Ordering::Relaxed) & bit != 0
    }

    /// Marks `hash`, unless it is marked; clears every mark first when
    /// enough were set since the last clearing.
    fn mark_once(&self, hash: u64) {
        if self.marked(hash) {
            return;
        }
        if self.set.fetch_add(1, Ordering::Relaxed) >= MARKS_BEFORE_CLEARING {
            self.set.store(0, Ordering::Relaxed);
            for word in &self.words {
                word.store(0, Ordering::Relaxed);
            }
        }
        let (word, bit) = self.place(hash);
        word.fetch_or(bit, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_hold_what_was_marked_until_cleared_after_a_bounded_count() {
        let marks = Marks::new();
        assert!(!marks.marked(7));
        marks.mark_once(7);
        marks.mark_once(7);
        assert!(marks.marked(7));
        assert!(marks.marked(7 + MARK_BITS as u64), "one bit per place");
        assert_eq!(
            marks.set.load(Ordering::Relaxed),
            1,
            "a marked hash is not counted again"
        );
        for hash in 1..MARKS_BEFORE_CLEARING as u64 {
            marks.mark_once(hash * 16 + 8);
        }
        assert!(marks.marked(7), "{MARKS_BEFORE_CLEARING} marks are held");
        let ones: u32 = marks
            .words
            .iter()
            .map(|word| word.load(Ordering::Relaxed).count_ones())
            .sum();
        assert_eq!(ones as usize, MARKS_BEFORE_CLEARING);
        marks.mark_once(3);
        assert!(!marks.marked(7), "cleared before the next mark");
        assert!(marks.marked(3));
    }
}
