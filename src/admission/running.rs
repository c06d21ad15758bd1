//! Running what admission let in. A submission that writes runs as its own
//! task on the write tracker: the client leaving, `server.request_timeout`
//! or the shutdown grace cannot cut it short between two RemotePC calls,
//! so it always completes its audit record and idempotency key. Reads run
//! in the caller's task and are dropped with it.

use std::sync::Arc;
use std::time::Instant;

use async_graphql::Response;
use axum::http::StatusCode;
use tracing::Instrument;

use super::idempotency::Idempotent;
use super::{Admission, Refusal, Slot};
use crate::graphql::{
    Answer, ErrorCode, Operation, OperationKind, operation_kind, operation_name, outcome,
};
use crate::telemetry;

/// What admission read of a submission besides its operations.
pub(super) struct Shape {
    /// Sent as a JSON array: answered with an array, even of one.
    pub(super) is_array: bool,
    /// Whether its operations include a mutation.
    pub(super) writes: bool,
    pub(super) key: Option<String>,
    pub(super) started: Instant,
    /// A stream's subscription slot.
    pub(super) slot: Option<Slot>,
}

/// A submission that passed every check, owned, so that it can outlive
/// the connection it came on.
pub struct Admitted {
    admission: Admission,
    operations: Vec<Operation>,
    shape: Shape,
    /// Each operation's label in metrics, spans and the access line: the
    /// `operationName` sent, else the name of the document's one operation.
    labels: Vec<String>,
}

/// How a submission ended.
pub enum Finished {
    /// One operation sent alone, answered.
    One(Answer),
    /// The responses of a batch (or of an array of one), in order.
    Batch(Vec<Response>),
    /// A mutation sent with an `Idempotency-Key`: its response as the
    /// ledger recorded it (JSON), and whether this was a repeat of it.
    Keyed {
        /// The recorded response.
        body: String,
        /// Whether it was recorded by an earlier request.
        replayed: bool,
    },
    /// Refused or cut short: a conflicting key, a timeout, the shutdown.
    Refused(Refusal),
}

impl Admitted {
    pub(super) fn new(admission: Admission, operations: Vec<Operation>, shape: Shape) -> Self {
        let labels = operations
            .iter()
            .map(|operation| {
                let request = &operation.request;
                let team = &operation.caller.team;
                match &request.operation_name {
                    Some(sent) => telemetry::operation_label(team, Some(sent)),
                    None => {
                        let in_document = operation_name(&request.query);
                        telemetry::operation_label(team, in_document.as_deref())
                    }
                }
            })
            .collect();
        Self {
            admission,
            operations,
            shape,
            labels,
        }
    }

    /// Each operation's label (`team/operation`), computed once.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// What is left of the caller's quota once the replicas' share is
    /// settled (the `viewer` query shows it).
    pub(super) fn quota_left(&mut self, remaining: Option<u32>) {
        for operation in &mut self.operations {
            operation.caller.quota.remaining = remaining;
        }
    }

    /// A stream's one operation, and its subscription slot.
    pub(super) fn into_stream(mut self) -> Option<(Operation, Slot)> {
        self.note();
        let slot = self.shape.slot.take()?;
        let operation = self.operations.pop()?;
        self.operations.is_empty().then_some((operation, slot))
    }

    /// Runs within `server.request_timeout`. A submission that writes runs
    /// detached, and goes on after the answer if it must.
    pub async fn run(self) -> Finished {
        let inner = Arc::clone(&self.admission.0);
        let timeout = inner.request_timeout;
        if !self.shape.writes {
            return tokio::time::timeout(timeout, self.finish())
                .await
                .unwrap_or_else(|_| Finished::Refused(Refusal::timed_out(timeout, false)));
        }
        let grace_over = inner.grace_over.clone();
        let task = inner.writes.spawn(self.finish().in_current_span());
        let waited = tokio::select! {
            waited = tokio::time::timeout(timeout, task) => waited,
            () = grace_over.cancelled() => {
                return Finished::Refused(Refusal::stopped_before_write_finished());
            }
        };
        match waited {
            Ok(Ok(finished)) => finished,
            Ok(Err(_)) => {
                tracing::error!("a write task failed; its audit record says how far it got");
                let message = "the write failed inside the gateway; its audit record says how far it got; check before retrying";
                let status = StatusCode::INTERNAL_SERVER_ERROR;
                Finished::Refused(Refusal::new(status, ErrorCode::Internal, message))
            }
            Err(_) => Finished::Refused(Refusal::timed_out(timeout, true)),
        }
    }

    async fn finish(mut self) -> Finished {
        let (started, team) = (self.shape.started, self.caller_team());
        let record = |label: &str, outcome: &str| {
            telemetry::record_graphql(&team, label, outcome, started.elapsed().as_secs_f64());
        };
        let labels = std::mem::take(&mut self.labels);
        let operations = &self.admission.0.operations;
        // The length is checked before anything is taken out: a batch keeps
        // every operation, and an array of one stays an array.
        if !self.shape.is_array
            && self.operations.len() == 1
            && let (Some(operation), Some(label)) = (self.operations.pop(), labels.first())
        {
            let (finished, outcome) = match self.shape.key.take() {
                // Boxed, as execution is below: these futures are large
                // and a cached answer's should not carry them.
                Some(key) => {
                    let idempotent = Idempotent::new(&self.admission, &operation.caller, key);
                    Box::pin(idempotent.run(operation, self.shape.writes)).await
                }
                None => answer(operations, operation).await,
            };
            record(label, &outcome);
            return finished;
        }
        // One after the other, as async-graphql runs a batch.
        let mut responses = Vec::with_capacity(self.operations.len());
        for operation in std::mem::take(&mut self.operations) {
            responses.push(Box::pin(operations.execute(operation)).await);
        }
        for (response, label) in responses.iter().zip(&labels) {
            record(label, &outcome(response));
        }
        Finished::Batch(responses)
    }

    fn caller_team(&self) -> String {
        let first = self.operations.first();
        first.map_or_else(String::new, |operation| operation.caller.team.clone())
    }

    /// Names the operation, when there is one, in the request's access
    /// line, and its name and kind in the request's span when spans are
    /// exported. Called where it is admitted, inside the request (a
    /// WebSocket's operations come later, outside it, and name nothing).
    pub(super) fn note(&self) {
        if let [label] = self.labels.as_slice() {
            telemetry::access::note_operation(label);
        }
        if !telemetry::exporting() {
            return;
        }
        let current = tracing::Span::current();
        if let [label] = self.labels.as_slice() {
            current.record("graphql.operation.name", label.as_str());
        }
        let kind = match self.operations.as_slice() {
            _ if self.shape.writes => OperationKind::Mutation,
            [one] => {
                let request = &one.request;
                operation_kind(&request.query, request.operation_name.as_deref())
                    .unwrap_or(OperationKind::Query)
            }
            _ => OperationKind::Query,
        };
        current.record("graphql.operation.type", kind.as_str());
    }
}

/// One operation without an Idempotency-Key, and its outcome for metrics.
async fn answer(
    operations: &crate::graphql::OperationRunner,
    operation: Operation,
) -> (Finished, String) {
    let span = tracing::debug_span!(
        "graphql.answer",
        via = tracing::field::Empty,
        response_cache = tracing::field::Empty,
    );
    let answered = operations.answer(operation).instrument(span.clone()).await;
    let outcome = match &answered {
        Answer::Written { via, .. } => {
            span.record("via", via.as_str());
            let cache = if *via == crate::graphql::Via::Cache {
                "hit"
            } else {
                "miss"
            };
            span.record("response_cache", cache);
            "ok".to_owned()
        }
        Answer::Executed(response) => {
            span.record("via", crate::graphql::Via::Schema.as_str());
            outcome(response)
        }
    };
    (Finished::One(answered), outcome)
}
