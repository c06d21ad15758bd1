//! Admission: the one path by which every transport (POST and GET on
//! `/graphql`, WebSocket, Server-Sent Events, and later MCP) lets an
//! operation in. From the caller and what it sent, `Admission` gives an
//! admitted operation or one [`Refusal`], having settled, in this order:
//! quota (local and shared, one charge), the batch bound, trusted
//! documents, persisted queries, the write profile (read from the document
//! execution then uses), and the idempotency key. It then runs what it
//! admitted: writes detached from the transport, under the idempotency
//! ledger. Transports keep their wire formats, media types and sockets.

mod idempotency;
mod persisted;
mod quota;
mod refusal;
mod running;
mod slots;
mod trusted;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::Request;
use axum::http::{StatusCode, header};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Credential;
use crate::catalog::{Catalog, IdempotencyLedger};
use crate::graphql::{ErrorCode, Operation, OperationRunner, RequestIds};
use crate::settings::Settings;

pub use idempotency::{IDEMPOTENCY_KEY, parse_key};
use quota::charge;
pub use quota::{StreamQuota, charge_all};
pub use refusal::{Refusal, unknown_outcome_body, whole_seconds};
pub use running::{Admitted, Finished};
pub use slots::Slot;
pub use trusted::{DOCUMENT_ID, TrustedSet};

/// How an operation arrived: what it may be (GET reads only; a stream runs
/// no mutation) follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `POST /graphql`.
    Post,
    /// `GET /graphql` with the operation in the query string.
    Get,
    /// A `graphql-transport-ws` subscription or a `graphql-sse` stream.
    Stream,
    /// An assistant's tool call on the MCP endpoint: audited with
    /// `actor.via = "mcp"`.
    Mcp,
}

/// The requests one submission carried.
#[derive(Debug)]
pub struct Batch {
    /// The operations, in order.
    pub requests: Vec<Request>,
    /// Sent as a JSON array: answered with an array of as many answers,
    /// in order, even when it holds one (clients map answers by index).
    pub is_array: bool,
}

/// What a caller sent, as its transport read it. Whatever the transport
/// found wrong is reported after the first unit of quota is taken, as
/// every malformed request is: a caller over its quota learns that first.
pub struct Submission {
    /// How it came.
    pub transport: Transport,
    /// The ids of the request it came in.
    pub ids: RequestIds,
    /// Its operations, or why they could not be read.
    pub batch: Result<Batch, String>,
    /// What the transport itself refuses (an `Accept` it cannot answer).
    pub refused_by_transport: Option<Refusal>,
    /// Its `Idempotency-Key`, if it sent one (see [`parse_key`]).
    pub idempotency_key: Result<Option<String>, &'static str>,
    /// When the transport received it.
    pub started: Instant,
    /// The approval a person gave the write (an assistant's tool call).
    pub approval: Option<String>,
}

/// The services and limits admission applies. Cheap to clone.
#[derive(Clone)]
pub struct Admission(Arc<Inner>);

struct Inner {
    operations: OperationRunner,
    trusted: TrustedSet,
    persisted: persisted::PersistedQueries,
    idempotency: IdempotencyLedger,
    subscriptions: slots::SubscriptionSlots,
    /// Requests that write run here, detached from their transport.
    writes: TaskTracker,
    /// Cancelled when the shutdown grace ends: clients of writes still
    /// running are answered "outcome unknown" before connections close.
    grace_over: CancellationToken,
    max_batch: usize,
    remove_batch: usize,
    request_timeout: Duration,
}

impl Admission {
    /// Admits operations for `operations` under `settings`; writes run on
    /// `writes`, which shutdown waits for, until `grace_over`.
    pub fn new(
        operations: OperationRunner,
        catalog: &Catalog,
        trusted: TrustedSet,
        (writes, grace_over): (TaskTracker, CancellationToken),
        settings: &Settings,
    ) -> Self {
        let limits = &settings.graphql;
        let cluster = catalog.cluster().cloned();
        Self(Arc::new(Inner {
            operations,
            trusted,
            persisted: persisted::PersistedQueries::new(limits.persisted_queries_bytes, cluster),
            idempotency: catalog.idempotency_ledger(),
            subscriptions: slots::SubscriptionSlots::new(&settings.live),
            writes,
            grace_over,
            max_batch: limits.max_batch,
            remove_batch: settings.upstream.remove_batch_size,
            request_timeout: settings.server.request_timeout,
        }))
    }

    /// The trusted documents (the raw lane keys answers by their revision).
    pub fn trusted(&self) -> &TrustedSet {
        &self.0.trusted
    }

    /// Admits `submission` from `credential`'s caller: every check, then
    /// the quota it counted taken from what replicas share. Nothing is
    /// stored (persisted texts) unless it is admitted.
    pub async fn admit(
        &self,
        credential: &mut Credential<'_>,
        submission: Submission,
    ) -> Result<Admitted, Refusal> {
        if let Ok(batch) = &submission.batch {
            let account = &credential.caller().account;
            self.0.persisted.prefetch(account, &batch.requests).await;
        }
        let admitted = self.check(credential, submission);
        let settled = quota::settle(credential.settlement()).await;
        let mut admitted = quota::settled_as(credential, settled, admitted)?;
        admitted.quota_left(credential.quota_left());
        admitted.note();
        Ok(admitted)
    }

    /// The checks, in the order that is safe: quota and the batch bound
    /// before anything is stored (persisted texts are registered last).
    fn check(
        &self,
        credential: &Credential<'_>,
        submission: Submission,
    ) -> Result<Admitted, Refusal> {
        let inner = &self.0;
        let Submission {
            transport,
            ids,
            batch,
            refused_by_transport,
            idempotency_key,
            started,
            approval,
        } = submission;
        charge(credential, 1)?;
        if let Some(refusal) = refused_by_transport {
            return Err(refusal);
        }
        let Batch {
            mut requests,
            is_array,
        } = batch.map_err(Refusal::bad_request)?;
        if requests.is_empty() || requests.len() > inner.max_batch {
            return Err(Refusal::bad_request(format!(
                "a batch of {} operations; send 1 to {} (graphql.max_batch)",
                requests.len(),
                inner.max_batch
            )));
        }
        // A batch spends one unit per operation: batching cannot dodge
        // the quota.
        charge(
            credential,
            u32::try_from(requests.len() - 1).unwrap_or(u32::MAX),
        )?;
        let mut resolved = Vec::with_capacity(requests.len());
        let mut registrations = Vec::new();
        for request in &mut requests {
            let (narrowed, registration) = self.resolve(credential, &ids, request)?;
            resolved.push(narrowed);
            registrations.extend(registration);
        }
        let (writes, read_ahead) = self.charge_writes(credential, &requests, transport)?;
        let key = idempotency_key.map_err(Refusal::bad_request)?;
        if key.is_some() && is_array {
            return Err(Refusal::bad_request(
                "Idempotency-Key applies to one operation sent alone: do not send it in an array",
            ));
        }
        let slot = match transport {
            Transport::Stream => Some(
                (inner.subscriptions.take(credential.caller()))
                    .map_err(Refusal::too_many_subscriptions)?,
            ),
            _ => None,
        };
        for registration in registrations {
            inner.persisted.register(registration);
        }
        let mut caller = credential.caller().clone();
        caller.quota.remaining = credential.quota_left();
        if transport == Transport::Mcp {
            caller.actor.via = "mcp".to_owned();
            caller.actor.approval = approval;
        }
        let operations = requests
            .into_iter()
            .zip(resolved)
            .zip(read_ahead)
            .map(|((request, narrowed), read_ahead)| Operation {
                request,
                caller: caller.narrowed(narrowed),
                ids: ids.clone(),
                introspection: credential.introspection(),
                read_ahead,
            })
            .collect();
        Ok(Admitted::new(
            self.clone(),
            operations,
            running::Shape {
                is_array,
                writes,
                key,
                started,
                slot,
            },
        ))
    }

    /// Puts the request's document in place (trusted documents, then
    /// persisted queries): the scopes it runs with when only some of the
    /// caller's grants admit it, and a persisted text to keep once the
    /// request is admitted.
    fn resolve(
        &self,
        credential: &Credential<'_>,
        ids: &RequestIds,
        request: &mut Request,
    ) -> Result<(trusted::Narrowed, Option<persisted::Registration>), Refusal> {
        let caller = credential.caller();
        let narrowed = trusted::admit_audited(self, caller, ids, request)?;
        let registration = self
            .0
            .persisted
            .resolve(&caller.account, request)
            .map_err(persisted::PersistedError::refusal)?;
        if request.query.trim().is_empty() {
            return Err(Refusal::bad_request("`query` is missing or empty"));
        }
        Ok((narrowed, registration))
    }

    /// Whether the requests write, and each one's document when it was read
    /// for that. Mutations are refused over GET and on streams; each
    /// operation paid one unit, and every further RemotePC call a mutation
    /// may make costs one more.
    fn charge_writes(
        &self,
        credential: &Credential<'_>,
        requests: &[Request],
        transport: Transport,
    ) -> Result<(bool, Vec<Option<crate::graphql::ReadAhead>>), Refusal> {
        let introspection = credential.introspection();
        let (profiles, read_ahead): (Vec<_>, Vec<_>) = requests
            .iter()
            .map(|request| {
                let operations = &self.0.operations;
                operations.write_profile(request, introspection, self.0.remove_batch)
            })
            .unzip();
        let writes = profiles.iter().any(|profile| profile.mutation);
        match transport {
            Transport::Get if writes => {
                let message = "mutations are sent with POST (GET is for queries only)";
                let status = StatusCode::METHOD_NOT_ALLOWED;
                let refusal = Refusal::new(status, ErrorCode::BadUserInput, message);
                return Err(refusal.header(header::ALLOW, "POST"));
            }
            Transport::Stream if writes => {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadUserInput,
                    "a mutation is answered as one response, not a stream: send it with POST /graphql preferring application/graphql-response+json (Accept), where it is audited and run once",
                ));
            }
            _ => {}
        }
        let further_calls = profiles
            .iter()
            .map(|profile| profile.upstream_calls.saturating_sub(1))
            .sum();
        charge(credential, further_calls)?;
        Ok((writes, read_ahead))
    }

    /// Admits one operation of a stream (`Transport::Stream`): the checks
    /// `admit` makes, one unit of quota counted, and a subscription slot
    /// held while it runs. The unit is taken from what replicas share when
    /// the caller settles the [`StreamQuota`] (before the operation runs),
    /// or at once, in the background, when the operation is refused.
    pub fn admit_stream(
        &self,
        credential: &Credential<'_>,
        ids: RequestIds,
        request: Result<Request, String>,
    ) -> Result<(Operation, Slot, StreamQuota), Refusal> {
        let submission = Submission {
            transport: Transport::Stream,
            ids,
            batch: request.map(|request| Batch {
                requests: vec![request],
                is_array: false,
            }),
            refused_by_transport: None,
            idempotency_key: Ok(None),
            started: Instant::now(),
            approval: None,
        };
        let admitted = self.check(credential, submission).and_then(|admitted| {
            (admitted.into_stream())
                .ok_or_else(|| Refusal::bad_request("a stream carries one operation"))
        });
        match admitted {
            Ok((operation, slot)) => Ok((operation, slot, StreamQuota::of(credential))),
            Err(refused) => {
                quota::settle_refused(credential);
                Err(refused)
            }
        }
    }
}
