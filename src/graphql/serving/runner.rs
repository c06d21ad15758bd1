//! Runs admitted operations: holds each document to the limits,
//! executes it with its caller, reports snapshot ages in
//! `extensions.cache`, and answers repeated queries from the response cache.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_graphql::{Request, Response};
use futures::stream::{self, BoxStream, StreamExt};

use super::limits::{DocumentGuard, classify_request_errors};
use super::plan::Plan;
use super::refusals::{mutation_fields, record_refusals};
use super::response_body::{ResponseBody, body, head};
use super::response_cache::{
    EncodedHead, KeptResponse, KeyHasher, PlanKey, ResponseCache, ResponseKey, reads_only_snapshots,
};
use super::validation::SpecValidator;
use super::writes::{ReadAhead, WriteProfile, read_ahead};
use crate::auth::Caller;
use crate::catalog::{AuditLog, Catalog, Collection, Writes, on_behalf_of};
use crate::content_coding::Coding;
use crate::graphql::RequestIds;
use crate::graphql::schema::cache_report::{CacheReport, SnapshotRead};
use crate::graphql::schema::{GatewaySchema, audit_trail::AuditTrail, error::ErrorCode};
use crate::settings::{CacheSettings, GraphqlSettings};

/// One operation and who sends it.
pub struct Operation {
    /// The GraphQL request (persisted queries already resolved).
    pub request: Request,
    /// The authenticated caller.
    pub caller: Caller,
    /// The HTTP request's ids, for audit records.
    pub ids: RequestIds,
    /// Whether the caller may query the schema.
    pub introspection: bool,
    /// Its document, when admission had to read it (a mutation's write
    /// profile): execution does not read the text again.
    pub read_ahead: Option<ReadAhead>,
}

/// The schema with the checks and caches around it. Cheap to clone.
#[derive(Clone)]
pub struct OperationRunner {
    inner: Arc<Inner>,
}

struct Inner {
    schema: GatewaySchema,
    guard: DocumentGuard,
    validator: SpecValidator,
    catalog: Catalog,
    audit_log: AuditLog,
    limits: GraphqlSettings,
    responses: ResponseCache,
    /// Compiled plans by document and audience; `None` where the operation
    /// has a shape plans do not cover. Weighed in bytes.
    plans: moka::sync::Cache<PlanKey, Option<Arc<Plan>>, KeyHasher>,
}

/// Documents longer than this never get a plan: frontends' queries are a
/// few hundred bytes, and a plan holds its document's parts.
const MAX_PLANNED_DOCUMENT: usize = 16 * 1024;

impl OperationRunner {
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
                validator: SpecValidator::new(cache.plan_cache_bytes),
                audit_log: catalog.audit_log(),
                catalog,
                limits: limits.clone(),
                responses: ResponseCache::new(cache.response_bytes(), cache.ttl),
                plans: moka::sync::Cache::builder()
                    .max_capacity(cache.plan_cache_bytes)
                    .weigher(|key: &PlanKey, plan: &Option<Arc<Plan>>| key.weight(plan.is_some()))
                    .build_with_hasher(KeyHasher::default()),
            }),
        }
    }

    /// What `request` will write, read before it runs; the document read
    /// for it, if any, goes with the operation (`Operation::read_ahead`).
    pub fn write_profile(
        &self,
        request: &Request,
        introspection: bool,
        remove_batch: usize,
    ) -> (WriteProfile, Option<ReadAhead>) {
        read_ahead(&self.inner.guard, request, introspection, remove_batch)
    }

    /// Bytes held by compiled plans and by kept responses, as weighed.
    pub fn cache_bytes(&self) -> (u64, u64) {
        self.inner.plans.run_pending_tasks();
        (
            self.inner.plans.weighted_size(),
            self.inner.responses.weighted_size(),
        )
    }

    /// Executes `operation` as `execute` does, and says what its write
    /// calls did: how many may have reached RemotePC (0: it is safe to send
    /// again), and how many of those have their outcome unknown.
    pub async fn execute_counting_writes(&self, operation: Operation) -> (Response, Writes) {
        crate::catalog::count_writes(self.execute(operation)).await
    }

    /// Audits the mutations of `operation`, refused before it was read for
    /// execution (an untrusted document, say); nothing for a query.
    pub async fn record_refused(&self, operation: &Operation, code: ErrorCode, message: &str) {
        let Ok(document) = self.inner.guard.check(&operation.request.query, false) else {
            return;
        };
        let audit_log = &self.inner.audit_log;
        super::refusals::record_refused(audit_log, &document, operation, code, message).await;
    }

    /// Executes `operation`; never answers from the response cache nor
    /// keeps its response (mutations, batches). Its RemotePC calls are
    /// queued in its caller's flow, and reported in `extensions.upstream`.
    pub async fn execute(&self, operation: Operation) -> Response {
        let flow = super::flow::of(&operation.caller);
        let (executed, used) = on_behalf_of(flow, self.run(operation, None)).await;
        super::flow::report_upstream(executed.into_response(), &used)
    }

    /// Answers `operation`: from the response cache when a response to the
    /// same query is kept and every snapshot it read is still current; else
    /// by its compiled plan if it has one; else by the schema. Its RemotePC
    /// calls are queued in its caller's flow, and reported in
    /// `extensions.upstream`.
    pub async fn answer(&self, operation: Operation) -> Answer {
        let flow = super::flow::of(&operation.caller);
        let (answer, used) = Box::pin(on_behalf_of(flow, self.answer_in_flow(operation))).await;
        match answer {
            Answer::Written { body, via, kept } if used.calls > 0 => Answer::Written {
                body: body.with_extension("upstream", &used.to_json()),
                via,
                kept,
            },
            Answer::Executed(response) => {
                Answer::Executed(super::flow::report_upstream(response, &used))
            }
            written => written,
        }
    }

    async fn answer_in_flow(&self, operation: Operation) -> Answer {
        let inner = &self.inner;
        if !inner.responses.enabled() {
            // Boxed like execution below: awaited in place, its 5 KB
            // future would be part of every answer's, cached or not.
            let executed = Box::pin(self.run(operation, None)).await;
            return Answer::Executed(executed.into_response());
        }
        let key = ResponseKey::new(
            &operation.caller,
            operation.introspection,
            &operation.request,
        );
        if let Some((body, kept)) = inner.responses.answer(&key, &inner.catalog) {
            crate::telemetry::record_response_cache("hit");
            return Answer::Written {
                body,
                via: Via::Cache,
                kept: Some(kept),
            };
        }
        let plan_key = (key.document_len() <= MAX_PLANNED_DOCUMENT).then(|| key.plan_key());
        let planned = plan_key
            .as_ref()
            .and_then(|plan_key| inner.plans.get(plan_key));
        if let Some(Some(plan)) = planned {
            let planned = plan
                .run(
                    &operation.request,
                    &operation.caller,
                    &inner.catalog,
                    &inner.limits,
                )
                .await;
            crate::telemetry::record_plan(planned.is_some());
            if let Some((head, reads)) = planned {
                let (body, kept) = self.written(key, head, &reads);
                return Answer::Written {
                    body,
                    via: Via::Plan,
                    kept,
                };
            }
        }
        // Boxed: execution's future is large, and would otherwise be part
        // of (and moved with) every answer's, cached or planned.
        let executed = Box::pin(self.run(operation, plan_key)).await;
        if executed.reusable
            && let Ok(data) = serde_json::to_vec(&executed.response.data)
        {
            let (body, kept) = self.written(key, head(&data), &executed.reads);
            return Answer::Written {
                body,
                via: Via::Schema,
                kept,
            };
        }
        crate::telemetry::record_response_cache("not_reusable");
        Answer::Executed(executed.into_response())
    }

    /// The body of a response to `key` computed from `reads`, tagged with
    /// their versions; and the response kept, unless a snapshot was stale
    /// (kept answers are served only while fresh) or the query is new.
    fn written(
        &self,
        key: ResponseKey,
        head: bytes::Bytes,
        reads: &BTreeMap<Collection, SnapshotRead>,
    ) -> (ResponseBody, Option<KeptResponse>) {
        let responses = &self.inner.responses;
        let tag = responses.tag(&key, reads);
        let body = body(head.clone(), ages(reads)).tagged(tag);
        let kept = reads
            .values()
            .all(|read| !read.stale)
            .then(|| responses.keep(key, (head, tag), reads))
            .flatten();
        let outcome = if kept.is_some() { "kept" } else { "miss" };
        crate::telemetry::record_response_cache(outcome);
        (body, kept)
    }

    /// The body of a response the response cache handed out before, if it
    /// is still kept and every snapshot it read is current and fresh.
    pub fn replay(&self, kept: &KeptResponse) -> Option<ResponseBody> {
        kept.body(&self.inner.catalog)
    }

    /// The head of `kept` in `coding`, compressed once and kept with it.
    pub fn encoded(&self, kept: &KeptResponse, coding: Coding) -> Option<EncodedHead> {
        self.inner.responses.encoded(kept, coding)
    }

    /// Checks `operation` as `execute` does and runs it as a stream: a
    /// subscription yields a response per event, anything else one
    /// response. Never cached; admission refuses mutations on streams.
    pub fn subscribe(&self, operation: Operation) -> BoxStream<'static, Response> {
        let Operation {
            mut request,
            caller,
            ids,
            introspection,
            read_ahead,
        } = operation;
        let checked = self.check(&request, introspection, read_ahead);
        let document = match checked {
            Ok(document) => document,
            Err(rejected) => {
                let (_, errors) = *rejected;
                return stream::once(async { Response::from_errors(errors) }).boxed();
            }
        };
        request.set_parsed_query(document);
        let (report, trail) = (Arc::default(), Arc::default());
        let request = with_context(request, caller, ids, introspection, report, trail);
        self.inner
            .schema
            .execute_stream(request)
            .map(|mut response| {
                classify_request_errors(&mut response);
                response
            })
            .boxed()
    }

    /// Holds `request`'s document to the limits, parses it, validates it
    /// by the specification's rules (the verdict kept per document) and
    /// coerces its variables. Refused: the errors, with the parsed
    /// document when it got that far.
    fn check(
        &self,
        request: &Request,
        introspection: bool,
        read_ahead: Option<ReadAhead>,
    ) -> Result<ParsedDocument, Rejected> {
        let read = match read_ahead {
            Some(ReadAhead(read)) => read,
            None => self.inner.guard.check(&request.query, !introspection),
        };
        let document = read.map_err(|error| Box::new((None, vec![error])))?;
        match self.inner.validator.check(request) {
            Ok(()) => Ok(document),
            Err(errors) => Err(Box::new((Some(document), errors))),
        }
    }

    /// Checks and executes `operation`. With a `plan_key`, also says
    /// whether its response may be reused and, when it may, keeps its plan.
    async fn run(&self, operation: Operation, plan_key: Option<PlanKey>) -> Executed {
        let Operation {
            mut request,
            caller,
            ids,
            introspection,
            read_ahead,
        } = operation;
        let checked = tracing::debug_span!("graphql.validate")
            .in_scope(|| self.check(&request, introspection, read_ahead));
        let document = match checked {
            Ok(document) => document,
            Err(rejected) => {
                let (parsed, errors) = *rejected;
                let refused = Executed::refused(errors);
                // A mutation refused as invalid is audited as any refusal.
                if let Some(document) = parsed {
                    let operation_name = request.operation_name.as_deref();
                    let writes = mutation_fields(&document, operation_name, &request.variables);
                    let (audit_log, trail) = (&self.inner.audit_log, AuditTrail::default());
                    let response = &refused.response;
                    record_refusals(audit_log, &caller, &ids, &writes, &trail, response).await;
                }
                return refused;
            }
        };
        let operation_name = request.operation_name.as_deref();
        let plan_key = plan_key.filter(|_| reads_only_snapshots(&document, operation_name));
        let plan = plan_key
            .as_ref()
            .map(|_| Plan::compile(&document, operation_name).map(Arc::new));
        let writes = mutation_fields(&document, operation_name, &request.variables);
        request.set_parsed_query(document);
        let report = Arc::new(CacheReport::default());
        let trail = Arc::new(AuditTrail::default());
        let request = with_context(
            request,
            caller.clone(),
            ids.clone(),
            introspection,
            Arc::clone(&report),
            Arc::clone(&trail),
        );
        let mut response = self.inner.schema.execute(request).await;
        classify_request_errors(&mut response);
        if !writes.is_empty() {
            let audit_log = &self.inner.audit_log;
            record_refusals(audit_log, &caller, &ids, &writes, &trail, &response).await;
        }
        let (reads, reusable) = report.take();
        let reusable =
            plan_key.is_some() && reusable && response.errors.is_empty() && !reads.is_empty();
        // Only an operation the schema accepted for this audience gets a
        // plan: validation and guards have passed for its document.
        if reusable && let (Some(plan_key), Some(plan)) = (plan_key, plan) {
            self.inner.plans.insert(plan_key, plan);
        }
        Executed {
            response,
            reads,
            reusable,
        }
    }
}

/// `request` with what resolvers read from its context: the caller, the
/// HTTP request's ids, where snapshot reads and audit steps are noted.
fn with_context(
    request: Request,
    caller: Caller,
    ids: RequestIds,
    introspection: bool,
    report: Arc<CacheReport>,
    trail: Arc<AuditTrail>,
) -> Request {
    let request = request.data(caller).data(ids).data(report).data(trail);
    if introspection {
        request
    } else {
        request.disable_introspection()
    }
}

type ParsedDocument = async_graphql::parser::types::ExecutableDocument;

/// Why a document may not run: its errors, and the document when it
/// parsed (admission's `Refusal` is what a refused request is answered).
type Rejected = Box<(Option<ParsedDocument>, Vec<async_graphql::ServerError>)>;

mod answer;
mod executed;
pub use answer::{Answer, Via};
use executed::{Executed, ages};
