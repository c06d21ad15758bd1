//! Runs operations for the HTTP layer: holds each document to the limits,
//! executes it with its caller, reports snapshot ages in
//! `extensions.cache`, and answers repeated queries from the response cache.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_graphql::{Name, Request, Response, Value};

use super::cache_report::{CacheReport, SnapshotRead};
use super::limits::{DocumentGuard, classify_request_errors};
use super::response_cache::{ResponseCache, ResponseKey, body, reads_only_snapshots};
use super::{GatewaySchema, RequestId};
use crate::auth::Caller;
use crate::catalog::{Catalog, Collection};
use crate::settings::{CacheSettings, GraphqlSettings};

/// One operation and who sends it.
pub struct Operation {
    /// The GraphQL request (persisted queries already resolved).
    pub request: Request,
    /// The authenticated caller.
    pub caller: Caller,
    /// The HTTP request's id, for audit records.
    pub request_id: String,
    /// Whether the caller may query the schema.
    pub introspection: bool,
}

/// How an operation was answered.
pub enum Answer {
    /// A whole JSON body without errors (`data` and `extensions`), from the
    /// response cache (`hit`) or just computed and kept there.
    Body {
        /// The JSON text.
        body: Vec<u8>,
        /// Whether it came from the response cache.
        hit: bool,
    },
    /// A response to serialize.
    Response(Response),
}

/// The schema with the checks and caches around it. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    schema: GatewaySchema,
    guard: DocumentGuard,
    catalog: Catalog,
    responses: ResponseCache,
}

impl Engine {
    /// Runs `schema`'s operations under `limits`, keeping responses as
    /// `cache` says.
    pub fn new(
        schema: GatewaySchema,
        catalog: Catalog,
        limits: &GraphqlSettings,
        cache: &CacheSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                schema,
                guard: DocumentGuard::from(limits),
                catalog,
                responses: ResponseCache::new(cache.response_cache_bytes, cache.ttl),
            }),
        }
    }

    /// Executes `operation`; never answers from the response cache nor
    /// keeps its response (mutations, batches).
    pub async fn execute(&self, operation: Operation) -> Response {
        self.run(operation, false).await.into_response()
    }

    /// Answers `operation`, from the response cache when a response to the
    /// same query is kept and every snapshot it read is still current.
    pub async fn answer(&self, operation: Operation) -> Answer {
        let responses = &self.inner.responses;
        if !responses.enabled() {
            return Answer::Response(self.execute(operation).await);
        }
        let key = ResponseKey::new(
            &operation.caller,
            operation.introspection,
            &operation.request,
        );
        if let Some(body) = responses.answer(&key, &self.inner.catalog) {
            crate::telemetry::record_response_cache("hit");
            return Answer::Body { body, hit: true };
        }
        let executed = self.run(operation, true).await;
        if executed.reusable
            && let Ok(data) = serde_json::to_vec(&executed.response.data)
        {
            let body = body(&data, ages(&executed.reads));
            responses.keep(key, data, &executed.reads);
            crate::telemetry::record_response_cache("miss");
            return Answer::Body { body, hit: false };
        }
        crate::telemetry::record_response_cache("not_reusable");
        Answer::Response(executed.into_response())
    }

    /// Checks and executes `operation`; with `reuse`, also says whether its
    /// response may be kept.
    async fn run(&self, operation: Operation, reuse: bool) -> Executed {
        let Operation {
            mut request,
            caller,
            request_id,
            introspection,
        } = operation;
        let checked = match self.inner.guard.check(&request.query, !introspection) {
            Ok(checked) => checked,
            Err(error) => return Executed::refused(error),
        };
        let reuse =
            reuse && reads_only_snapshots(&checked.document, request.operation_name.as_deref());
        request.set_parsed_query(checked.document);
        let report = Arc::new(CacheReport::default());
        request = request
            .data(caller)
            .data(RequestId(request_id))
            .data(Arc::clone(&report));
        if !introspection {
            request = request.disable_introspection();
        }
        let mut response = self.inner.schema.execute(request).await;
        classify_request_errors(&mut response);
        let (reads, reusable) = report.take();
        // A response that read a stale snapshot could never be served
        // again: the cache only answers while its snapshots are fresh.
        let reusable = reuse
            && reusable
            && response.errors.is_empty()
            && !reads.is_empty()
            && reads.values().all(|read| !read.stale);
        Executed {
            response,
            reads,
            reusable,
        }
    }
}

/// An executed operation and what it read.
struct Executed {
    response: Response,
    reads: BTreeMap<Collection, SnapshotRead>,
    reusable: bool,
}

impl Executed {
    fn refused(error: async_graphql::ServerError) -> Self {
        Self {
            response: Response::from_errors(vec![error]),
            reads: BTreeMap::new(),
            reusable: false,
        }
    }

    /// The response with `extensions.cache` added.
    fn into_response(mut self) -> Response {
        if !self.reads.is_empty() {
            self.response
                .extensions
                .insert("cache".to_owned(), extension_value(&self.reads));
        }
        self.response
    }
}

fn ages(
    reads: &BTreeMap<Collection, SnapshotRead>,
) -> impl Iterator<Item = (Collection, std::time::Duration, bool)> + '_ {
    reads
        .iter()
        .map(|(collection, read)| (*collection, read.age, read.stale))
}

fn extension_value(reads: &BTreeMap<Collection, SnapshotRead>) -> Value {
    Value::Object(
        ages(reads)
            .map(|(collection, age, stale)| {
                let mut entry = async_graphql::indexmap::IndexMap::new();
                entry.insert(Name::new("ageMs"), Value::from(age.as_millis() as u64));
                entry.insert(Name::new("stale"), Value::from(stale));
                (Name::new(collection.as_str()), Value::Object(entry))
            })
            .collect(),
    )
}
