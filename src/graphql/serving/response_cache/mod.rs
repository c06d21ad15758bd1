//! Responses to repeated identical queries, answered without executing them
//! again. An entry is keyed by account, scopes, introspection, the
//! normalized document, the operation name and the variables, and holds the
//! versions of the snapshots its response was computed from. It is served
//! only while each of them is still the current, fresh snapshot, so it never
//! gives older data than executing the query again would; a write (which
//! patches a snapshot) or a refresh makes it unreachable at once. Only
//! queries whose root fields all read snapshots are kept.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_graphql::Positioned;
use async_graphql::Request;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use bytes::Bytes;

use super::document::normalize;
use super::entity_tag::{EntityTag, Tagger};
use super::response_body::{ResponseBody, body};
use crate::auth::Caller;
use crate::catalog::{Catalog, Collection};
use crate::graphql::schema::cache_report::{SnapshotRead, Staleness};

/// Root fields whose responses depend on snapshots and nothing else.
const SNAPSHOT_ROOT_FIELDS: [&str; 5] = ["users", "user", "devices", "device", "__typename"];

/// What makes two requests the same query for the same audience.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ResponseKey {
    account: String,
    /// One bit per scope held: guards decide on scopes.
    scopes: u8,
    introspection: bool,
    operation: Option<String>,
    document: String,
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
            document: normalize(&request.query),
            variables: serde_json::to_string(&variables).unwrap_or_default(),
        }
    }

    /// The key of the plan for this query: the same document for the same
    /// audience, any account, any variables.
    /// Bytes of document text the key holds.
    pub(crate) fn document_len(&self) -> usize {
        self.document.len()
    }

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
    document: String,
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

#[derive(Debug)]
struct CachedResponse {
    /// The account whose snapshots it read.
    account: String,
    /// The start of its body, `data` included.
    head: Bytes,
    /// The snapshots it was computed from.
    reads: Vec<(Collection, u64)>,
    /// Which query it answers, for whom, from which snapshot versions.
    tag: EntityTag,
}

impl CachedResponse {
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

impl KeptResponse {
    /// The response body, if the response is still kept and every snapshot
    /// it read is still the current, fresh one.
    pub(crate) fn body(&self, catalog: &Catalog) -> Option<ResponseBody> {
        self.0.upgrade()?.body(catalog)
    }
}

/// Kept responses, bounded in bytes.
pub(crate) struct ResponseCache {
    entries: Option<moka::sync::Cache<ResponseKey, Arc<CachedResponse>>>,
    doorkeeper: Doorkeeper,
    tagger: Tagger,
}

/// Remembers, lossily, the keys asked recently: a response is kept only the
/// second time its key is seen, so one-off queries (a new date on every
/// request) neither pay for an insert nor push out the responses frontends
/// poll for. Scenario B of the benchmark kept ~8 MiB of responses nobody
/// asked for again without it.
struct Doorkeeper {
    /// Key hashes; 0 is an empty slot. A collision forgets a key, which
    /// costs one more execution, never a wrong answer.
    slots: Box<[AtomicU64]>,
    hasher: RandomState,
}

/// Keys remembered at once (512 KiB).
const DOORKEEPER_SLOTS: usize = 1 << 16;

impl Doorkeeper {
    fn new() -> Self {
        Self {
            slots: (0..DOORKEEPER_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hasher: RandomState::new(),
        }
    }

    /// Whether `key` was seen before (and remembers it).
    fn seen_before(&self, key: &ResponseKey) -> bool {
        let hash = self.hasher.hash_one(key) | 1;
        let slot = &self.slots[hash as usize % self.slots.len()];
        slot.swap(hash, Ordering::Relaxed) == hash
    }
}

impl ResponseCache {
    /// Keeps up to `max_bytes` of responses, none longer than `ttl` (after
    /// which no snapshot it read can still be fresh). 0 bytes: off.
    pub(crate) fn new(max_bytes: u64, ttl: Duration) -> Self {
        let entries = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|key: &ResponseKey, value: &Arc<CachedResponse>| {
                    u32::try_from(key.weight() + value.head.len()).unwrap_or(u32::MAX)
                })
                .time_to_live(ttl)
                .build()
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
        let account = key.account.clone();
        let cached = Arc::new(CachedResponse {
            account,
            head,
            reads,
            tag,
        });
        let kept = KeptResponse(Arc::downgrade(&cached));
        entries.insert(key, cached);
        Some(kept)
    }
}

/// Whether the operation `operation_name` picks is a query whose every root
/// field reads snapshots only (not the store, not the audit log).
pub(crate) fn reads_only_snapshots(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> bool {
    let Some(operation) = selected_operation(document, operation_name) else {
        return false;
    };
    operation.node.ty == OperationType::Query
        && root_fields_read_snapshots(document, &operation.node.selection_set.node, 0)
}

/// The operation a request with `operation_name` runs, if there is one.
pub(crate) fn selected_operation<'d>(
    document: &'d ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'d Positioned<OperationDefinition>> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
        // A lone named operation is stored as `Multiple` too.
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

fn root_fields_read_snapshots(
    document: &ExecutableDocument,
    set: &SelectionSet,
    depth: usize,
) -> bool {
    // Validated documents have no fragment cycles; the bound is a backstop.
    if depth > 16 {
        return false;
    }
    set.items.iter().all(|selection| match &selection.node {
        Selection::Field(field) => SNAPSHOT_ROOT_FIELDS.contains(&field.node.name.node.as_str()),
        Selection::InlineFragment(fragment) => {
            root_fields_read_snapshots(document, &fragment.node.selection_set.node, depth + 1)
        }
        Selection::FragmentSpread(spread) => document
            .fragments
            .get(&spread.node.fragment_name.node)
            .is_some_and(|fragment| {
                root_fields_read_snapshots(document, &fragment.node.selection_set.node, depth + 1)
            }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(document: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(document).expect("parses")
    }

    #[test]
    fn only_queries_on_snapshots_are_kept() {
        let reads =
            |document: &str, name: Option<&str>| reads_only_snapshots(&parsed(document), name);
        assert!(reads(
            "{ devices { totalCount } user(username: \"a\") { username } }",
            None
        ));
        assert!(reads(
            "query Q { ...F } fragment F on Query { devices { totalCount } }",
            None
        ));
        assert!(!reads("{ devices { totalCount } groups { name } }", None));
        assert!(!reads(
            "query Q { ... on Query { auditLog { totalCount } } }",
            None
        ));
        assert!(!reads(
            "mutation { deleteUsers(usernames: []) { ok } }",
            None
        ));
        assert!(reads(
            "query A { users { totalCount } } query B { groups { name } }",
            Some("A")
        ));
        assert!(!reads(
            "query A { users { totalCount } } query B { groups { name } }",
            Some("B")
        ));
        assert!(!reads(
            "query A { users { totalCount } } query B { groups { name } }",
            None
        ));
    }
}
