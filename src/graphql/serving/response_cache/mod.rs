//! Responses to repeated identical queries, answered without executing them
//! again. An entry is keyed by account, scopes, introspection, the
//! normalized document, the operation name and the variables, and holds the
//! versions of the snapshots its response was computed from. It is served
//! only while each of them is still the current, fresh snapshot, so it never
//! gives older data than executing the query again would; a write (which
//! patches a snapshot) or a refresh makes it unreachable at once. Only
//! queries whose root fields all read snapshots are kept.

mod doorkeeper;
mod reusable;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use async_graphql::Request;
use bytes::Bytes;
use doorkeeper::Doorkeeper;
pub(crate) use reusable::{reads_only_snapshots, selected_operation};

use super::document::normalized;
use super::entity_tag::{EntityTag, Tagger};
use super::response_body::{ResponseBody, body};
use crate::auth::Caller;
use crate::catalog::{Catalog, Collection};
use crate::content_coding::{Coding, Compressor, Ending, Profile};
use crate::graphql::schema::cache_report::{SnapshotRead, Staleness};

/// What makes two requests the same query for the same audience.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ResponseKey {
    account: String,
    /// One bit per scope held: guards decide on scopes.
    scopes: u8,
    introspection: bool,
    operation: Option<String>,
    document: Arc<str>,
    /// Top-level variables in name order, as JSON.
    variables: String,
}

impl ResponseKey {
    /// The key of `request` sent by `caller`.
    pub(crate) fn new(caller: &Caller, introspection: bool, request: &Request) -> Self {
        let mut variables: Vec<_> = request.variables.iter().collect();
        variables.sort_unstable_by_key(|(name, _)| *name);
        Self {
            account: caller.account.clone(),
            scopes: caller.scope_bits(),
            introspection,
            operation: request.operation_name.clone(),
            document: normalized(&request.query),
            variables: serde_json::to_string(&variables).unwrap_or_default(),
        }
    }

    /// Bytes of document text the key holds.
    pub(crate) fn document_len(&self) -> usize {
        self.document.len()
    }

    /// The key of the plan for this query: the same document for the same
    /// audience, any account, any variables.
    pub(crate) fn plan_key(&self) -> PlanKey {
        PlanKey {
            scopes: self.scopes,
            introspection: self.introspection,
            operation: self.operation.clone(),
            document: self.document.clone(),
        }
    }

    fn weight(&self) -> usize {
        self.account.len()
            + self.operation.as_ref().map_or(0, String::len)
            + self.document.len()
            + self.variables.len()
    }
}

/// What makes two requests the same operation for the same scopes: the
/// key of compiled plans.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PlanKey {
    scopes: u8,
    introspection: bool,
    operation: Option<String>,
    document: Arc<str>,
}

impl PlanKey {
    /// Bytes this key and a plan compiled from its document hold, roughly:
    /// a plan keeps the document's arguments, variables and aliases
    /// parsed, which take about twice their text.
    pub(crate) fn weight(&self, planned: bool) -> u32 {
        let text = self.document.len() + self.operation.as_ref().map_or(0, String::len);
        let plan = if planned {
            2 * self.document.len() + 512
        } else {
            0
        };
        u32::try_from(64 + text + plan).unwrap_or(u32::MAX)
    }
}

struct CachedResponse {
    /// Its key, to weigh it again once it holds a compressed form.
    key: Arc<ResponseKey>,
    /// The account whose snapshots it read.
    account: String,
    /// The start of its body, `data` included.
    head: Bytes,
    /// The snapshots it was computed from.
    reads: Vec<(Collection, u64)>,
    /// Which query it answers, for whom, from which snapshot versions.
    tag: EntityTag,
    /// `head` compressed in each coding ([`Coding::index`]), on first
    /// demand; `None` inside if its codec failed.
    encoded: [OnceLock<Option<EncodedHead>>; 3],
}

/// A kept response's head compressed, and what ends it with an answer's
/// own tail, stored: a compressed hit costs no compression work.
#[derive(Clone)]
pub struct EncodedHead {
    /// `head` compressed, its stream left open at a block boundary.
    pub bytes: Bytes,
    /// What closes the stream after the tail.
    pub ending: Ending,
}

impl EncodedHead {
    /// `head` compressed in `coding`; `None` if its codec failed.
    pub fn compress(coding: Coding, head: &[u8]) -> Option<Self> {
        crate::telemetry::record_compression(coding.token());
        let mut compressor = Compressor::new(coding, Profile::Body).ok()?;
        let bytes = compressor.push(head).ok()?;
        let ending = compressor.ending().clone();
        Some(Self { bytes, ending })
    }
}

impl CachedResponse {
    /// Bytes it holds, as the cache weighs it: its key is weighed apart.
    fn weight(&self) -> usize {
        let encoded: usize = (self.encoded.iter())
            .filter_map(|slot| slot.get().and_then(Option::as_ref))
            .map(|head| head.bytes.len() + head.ending.weight())
            .sum();
        self.head.len() + encoded
    }

    /// The whole response body, if every snapshot it read is still the
    /// current, fresh one.
    fn body(&self, catalog: &Catalog) -> Option<ResponseBody> {
        let mut ages = Vec::with_capacity(self.reads.len());
        for (collection, version) in &self.reads {
            let current = catalog.peek(&self.account, *collection)?;
            if current.version != *version {
                return None;
            }
            ages.push((*collection, current.age, Staleness::Fresh));
        }
        Some(body(self.head.clone(), ages).tagged(self.tag))
    }
}

/// A kept response, as a handle that does not keep it alive: the cache's
/// bound alone decides what stays in memory. Lets a caller that recognised
/// the same request (by its bytes) serve it again without the key.
#[derive(Debug, Clone)]
pub struct KeptResponse(Weak<CachedResponse>);

impl std::fmt::Debug for CachedResponse {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (formatter.debug_struct("CachedResponse"))
            .field("account", &self.account)
            .field("bytes", &self.weight())
            .finish_non_exhaustive()
    }
}

impl KeptResponse {
    /// The response body, if the response is still kept and every snapshot
    /// it read is still the current, fresh one.
    pub(crate) fn body(&self, catalog: &Catalog) -> Option<ResponseBody> {
        self.0.upgrade()?.body(catalog)
    }
}

/// How response and plan keys are hashed: foldhash, seeded per process,
/// as the raw lane's keys are. A key holds the whole normalized document
/// and its variables, and is hashed three times on every query a plan
/// answers (doorkeeper, responses, plans): SipHash of those was 3% of a
/// filtered page's work. A collision costs a comparison or, in the
/// doorkeeper, one more execution; never a wrong answer.
pub(crate) type KeyHasher = foldhash::fast::RandomState;

/// Kept responses, bounded in bytes.
pub(crate) struct ResponseCache {
    entries: Option<moka::sync::Cache<Arc<ResponseKey>, Arc<CachedResponse>, KeyHasher>>,
    doorkeeper: Doorkeeper,
    tagger: Tagger,
}

impl ResponseCache {
    /// Keeps up to `max_bytes` of responses, none longer than `ttl` (after
    /// which no snapshot it read can still be fresh). 0 bytes: off.
    pub(crate) fn new(max_bytes: u64, ttl: Duration) -> Self {
        let entries = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|key: &Arc<ResponseKey>, value: &Arc<CachedResponse>| {
                    u32::try_from(key.weight() + value.weight()).unwrap_or(u32::MAX)
                })
                .time_to_live(ttl)
                .build_with_hasher(KeyHasher::default())
        });
        Self {
            entries,
            doorkeeper: Doorkeeper::new(),
            tagger: Tagger::new(),
        }
    }

    /// The entity tag of the answer to `key` computed from `reads`.
    pub(crate) fn tag(
        &self,
        key: &ResponseKey,
        reads: &BTreeMap<Collection, SnapshotRead>,
    ) -> EntityTag {
        let versions = reads
            .iter()
            .map(|(collection, read)| (*collection, read.version));
        self.tagger.tag(key, versions)
    }

    /// Bytes of responses kept, as weighed.
    pub(crate) fn weighted_size(&self) -> u64 {
        self.entries.as_ref().map_or(0, |entries| {
            entries.run_pending_tasks();
            entries.weighted_size()
        })
    }

    /// Whether responses are kept at all.
    pub(crate) fn enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// The whole response body for `key`, and a handle on the response,
    /// if one is kept whose snapshots are all still current and fresh.
    pub(crate) fn answer(
        &self,
        key: &ResponseKey,
        catalog: &Catalog,
    ) -> Option<(ResponseBody, KeptResponse)> {
        let cached = self.entries.as_ref()?.get(key)?;
        let body = cached.body(catalog)?;
        Some((body, KeptResponse(Arc::downgrade(&cached))))
    }

    /// Keeps a response whose body starts with `head`, computed from the
    /// fresh snapshots in `reads`, if its key was seen before; a handle on
    /// it when it was kept.
    pub(crate) fn keep(
        &self,
        key: ResponseKey,
        (head, tag): (Bytes, EntityTag),
        reads: &BTreeMap<Collection, SnapshotRead>,
    ) -> Option<KeptResponse> {
        if !self.doorkeeper.seen_before(&key) {
            return None;
        }
        let entries = self.entries.as_ref()?;
        let reads = reads
            .iter()
            .map(|(collection, read)| (*collection, read.version))
            .collect();
        let key = Arc::new(key);
        let cached = Arc::new(CachedResponse {
            key: Arc::clone(&key),
            account: key.account.clone(),
            head,
            reads,
            tag,
            encoded: Default::default(),
        });
        let kept = KeptResponse(Arc::downgrade(&cached));
        entries.insert(key, cached);
        Some(kept)
    }

    /// The head of `kept` compressed in `coding`: compressed on first
    /// demand, then kept with it and counted in its weight.
    pub(crate) fn encoded(&self, kept: &KeptResponse, coding: Coding) -> Option<EncodedHead> {
        let cached = kept.0.upgrade()?;
        let slot = &cached.encoded[coding.index()];
        if let Some(done) = slot.get() {
            return done.clone();
        }
        let mut compressed_here = false;
        let encoded = slot.get_or_init(|| {
            compressed_here = true;
            EncodedHead::compress(coding, &cached.head)
        });
        if compressed_here && let Some(entries) = &self.entries {
            // Weighed again by inserting it again, if it is still the
            // entry: a newer response for the key stays (were it replaced
            // in between, the older one fails its version check).
            let current = entries.get(&*cached.key);
            if current.is_some_and(|current| Arc::ptr_eq(&current, &cached)) {
                entries.insert(Arc::clone(&cached.key), Arc::clone(&cached));
            }
        }
        encoded.clone()
    }
}
