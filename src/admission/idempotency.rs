//! `Idempotency-Key`: a mutation sent again with the same key and the same
//! request gets the recorded response, without a second upstream call. A
//! key is never run twice by the gateway: while its first request runs, a
//! repeat gets 409 `CONFLICT`; one whose process died gets "outcome
//! unknown".

use std::time::Duration;

use async_graphql::Request;
use axum::http::{HeaderName, StatusCode};
use sha2::{Digest, Sha256};

use super::running::Finished;
use super::{Admission, Refusal, unknown_outcome_body};
use crate::auth::Caller;
use crate::catalog::Claim;
use crate::graphql::{Answer, ErrorCode, Operation, outcome};

/// The header that carries the key (a name made once: looked up by text,
/// it was parsed again on every request).
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// A key as sent: 1 to 255 printable ASCII characters (`None` for a
/// value that is not text at all).
pub fn parse_key(value: Option<&[u8]>) -> Result<Option<String>, &'static str> {
    let Some(value) = value else {
        return Ok(None);
    };
    std::str::from_utf8(value)
        .ok()
        .filter(|key| {
            (1..=255).contains(&key.len()) && key.bytes().all(|byte| byte.is_ascii_graphic())
        })
        .map(|key| Some(key.to_owned()))
        .ok_or("Idempotency-Key must be 1 to 255 printable ASCII characters")
}

/// One keyed request of one owner (a team, or a person).
pub(super) struct Idempotent<'a> {
    admission: &'a Admission,
    owner: String,
    key: String,
}

impl<'a> Idempotent<'a> {
    pub(super) fn new(admission: &'a Admission, caller: &Caller, key: String) -> Self {
        let owner = caller.idempotency_owner();
        Self {
            admission,
            owner,
            key,
        }
    }

    /// Runs `operation` at most once per key; a query (`mutation` false, as
    /// admission read the document) runs as usual. Returns how it ended and
    /// its outcome for metrics (`replayed` for a replay).
    pub(super) async fn run(self, operation: Operation, mutation: bool) -> (Finished, String) {
        let inner = &self.admission.0;
        if !mutation {
            let response = inner.operations.execute(operation).await;
            let code = outcome(&response);
            return (Finished::One(Answer::Executed(response)), code);
        }
        let hash = request_hash(&operation.request);
        let ledger = &inner.idempotency;
        let (owner, key) = (self.owner.as_str(), self.key.as_str());
        match ledger.claim(owner, key, &hash).await {
            Ok(Claim::Claimed) => {}
            Ok(Claim::Replay(body)) => return replayed(body),
            Ok(Claim::Abandoned) => {
                let body = unknown_outcome_body();
                if let Err(error) = ledger.complete(owner, key, &body, true).await {
                    tracing::error!(error = %error, "cannot record an abandoned idempotent write");
                }
                return replayed(body);
            }
            Ok(Claim::Mismatch) => {
                let message = "this Idempotency-Key was already used for a different request";
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                return refused(Refusal::new(status, ErrorCode::BadUserInput, message));
            }
            Ok(Claim::InProgress) => {
                let message = "a request with this Idempotency-Key is still running; retry later to get its response";
                let refusal = Refusal::new(StatusCode::CONFLICT, ErrorCode::Conflict, message);
                return refused(refusal.retry_after(Duration::from_secs(1)));
            }
            Err(error) => {
                tracing::error!(error = %error, "idempotency store failed");
                let message = "nothing was sent to RemotePC: the gateway cannot record this Idempotency-Key now; retry with the same key later";
                let status = StatusCode::SERVICE_UNAVAILABLE;
                let refusal = Refusal::new(status, ErrorCode::StoreUnavailable, message);
                return refused(refusal.retry_after(Duration::from_secs(5)));
            }
        }
        self.execute_claimed(operation).await
    }

    async fn execute_claimed(self, operation: Operation) -> (Finished, String) {
        let inner = &self.admission.0;
        let (response, writes) = inner.operations.execute_counting_writes(operation).await;
        let code = outcome(&response);
        let (ledger, owner, key) = (&inner.idempotency, &self.owner, &self.key);
        if writes.may_have_reached == 0 {
            // Refused before reaching RemotePC: the caller may fix the
            // request and send it again under the same key. Nothing is
            // kept, so it is answered as any response is (a request
            // error without `data`, a 400 in the GraphQL media type).
            if let Err(error) = ledger.release(owner, key).await {
                tracing::error!(error = %error, "cannot release an idempotency key");
            }
            return (Finished::One(Answer::Executed(response)), code);
        }
        let body = match serde_json::to_string(&response) {
            Ok(body) => body,
            Err(_) => {
                let message = "the response could not be written; check before retrying";
                let status = StatusCode::INTERNAL_SERVER_ERROR;
                return refused(Refusal::new(status, ErrorCode::Internal, message));
            }
        };
        let unknown = writes.outcome_unknown > 0;
        if let Err(error) = ledger.complete(owner, key, &body, unknown).await {
            tracing::error!(error = %error, "cannot record an idempotent response");
        }
        let finished = Finished::Keyed {
            body,
            replayed: false,
        };
        (finished, code)
    }
}

fn replayed(body: String) -> (Finished, String) {
    let finished = Finished::Keyed {
        body,
        replayed: true,
    };
    (finished, "replayed".to_owned())
}

/// A refusal and its code, for metrics.
fn refused(refusal: Refusal) -> (Finished, String) {
    let code = refusal.code().as_str().to_owned();
    (Finished::Refused(refusal), code)
}

fn request_hash(request: &Request) -> String {
    let mut hasher = Sha256::new();
    hasher.update(request.query.as_bytes());
    hasher.update([0]);
    hasher.update(
        request
            .operation_name
            .as_deref()
            .unwrap_or_default()
            .as_bytes(),
    );
    hasher.update([0]);
    hasher.update(serde_json::to_vec(&request.variables).unwrap_or_default());
    crate::digest::hex(&hasher.finalize())
}
