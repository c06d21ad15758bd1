//! `Idempotency-Key`: a mutation sent again with the same key and the same
//! request gets the recorded response, without a second upstream call. A
//! key is never run twice by the gateway: while its first request runs, a
//! repeat gets 409 `CONFLICT`; one whose process died gets "outcome
//! unknown".

use async_graphql::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::AppState;
use super::media::MediaType;
use super::refusal::{Refusal, unknown_outcome_body};
use crate::catalog::Claim;
use crate::graphql::{ErrorCode, Operation, outcome};

pub(super) const HEADER: &str = "idempotency-key";

/// The request's key, if it sent one: 1 to 255 printable ASCII characters.
pub(super) fn key(headers: &HeaderMap) -> Result<Option<String>, &'static str> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|key| {
            (1..=255).contains(&key.len()) && key.bytes().all(|byte| byte.is_ascii_graphic())
        })
        .map(|key| Some(key.to_owned()))
        .ok_or("Idempotency-Key must be 1 to 255 printable ASCII characters")
}

/// One keyed request of one team.
pub(super) struct Idempotent<'a> {
    state: &'a AppState,
    team: &'a str,
    key: String,
}

impl<'a> Idempotent<'a> {
    pub(super) fn new(state: &'a AppState, team: &'a str, key: String) -> Self {
        Self { state, team, key }
    }

    /// Runs `operation` at most once per key; a query (`mutation` false, as
    /// admission read the document) runs as usual. Returns the response and
    /// its outcome for metrics (`replayed` for a replay).
    pub(super) async fn run(
        self,
        operation: Operation,
        media: MediaType,
        mutation: bool,
    ) -> (Response, String) {
        if !mutation {
            let response = self.state.operations.execute(operation).await;
            return (media.response(&response), outcome(&response));
        }
        let hash = request_hash(&operation.request);
        let ledger = &self.state.idempotency;
        match ledger.claim(self.team, &self.key, &hash).await {
            Ok(Claim::Claimed) => {}
            Ok(Claim::Replay(body)) => return replayed(media, body),
            Ok(Claim::Abandoned) => {
                let body = unknown_outcome_body();
                if let Err(error) = ledger.complete(self.team, &self.key, &body, true).await {
                    tracing::error!(error = %error, "cannot record an abandoned idempotent write");
                }
                return replayed(media, body);
            }
            Ok(Claim::Mismatch) => {
                let message = "this Idempotency-Key was already used for a different request";
                return refused(
                    media,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::BadUserInput,
                    message,
                    None,
                );
            }
            Ok(Claim::InProgress) => {
                let message = "a request with this Idempotency-Key is still running; retry later to get its response";
                let retry = Some(std::time::Duration::from_secs(1));
                return refused(
                    media,
                    StatusCode::CONFLICT,
                    ErrorCode::Conflict,
                    message,
                    retry,
                );
            }
            Err(error) => {
                tracing::error!(error = %error, "idempotency store failed");
                let message = "nothing was sent to RemotePC: the gateway cannot record this Idempotency-Key now; retry with the same key later";
                return refused(
                    media,
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::StoreUnavailable,
                    message,
                    Some(std::time::Duration::from_secs(5)),
                );
            }
        }
        self.execute_claimed(operation, media).await
    }

    async fn execute_claimed(self, operation: Operation, media: MediaType) -> (Response, String) {
        let (response, may_have_reached) = self
            .state
            .operations
            .execute_counting_writes(operation)
            .await;
        let code = outcome(&response);
        let body = match serde_json::to_string(&response) {
            Ok(body) => body,
            Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR.into_response(), code),
        };
        let ledger = &self.state.idempotency;
        let stored = if may_have_reached == 0 {
            // Refused before reaching RemotePC: the caller may fix the
            // request and send it again under the same key.
            ledger.release(self.team, &self.key).await
        } else {
            let unknown = body.contains("\"outcomeUnknown\":true");
            ledger.complete(self.team, &self.key, &body, unknown).await
        };
        if let Err(error) = stored {
            tracing::error!(error = %error, "cannot record an idempotent response");
        }
        (media.respond(StatusCode::OK, body), code)
    }
}

fn replayed(media: MediaType, body: String) -> (Response, String) {
    let mut response = media.respond(StatusCode::OK, body);
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    (response, "replayed".to_owned())
}

/// A refusal and its code, for metrics.
fn refused(
    media: MediaType,
    status: StatusCode,
    code: ErrorCode,
    message: &str,
    retry_after: Option<std::time::Duration>,
) -> (Response, String) {
    let mut refusal = Refusal::new(status, code, message).in_media(media);
    if let Some(wait) = retry_after {
        refusal = refusal.retry_after(wait);
    }
    (refusal.into_response(), code.as_str().to_owned())
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
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
