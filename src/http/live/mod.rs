//! Subscriptions' transports on `/graphql`: GraphQL over WebSocket
//! (`graphql-transport-ws`, the npm `graphql-ws` client) and over
//! Server-Sent Events (`graphql-sse`, distinct connections mode). Both
//! admit an operation as `POST /graphql` does (trusted documents,
//! persisted queries, quota), refuse mutations (they are audited and run
//! once, over POST), and hold a subscription slot while it runs.

mod protocol;
mod slots;
mod sse;
mod ws;

use async_graphql::{ErrorExtensionValues, Request, ServerError};

use slots::Slot;
pub(crate) use slots::SubscriptionSlots;
pub(super) use sse::{respond as sse_respond, wants_event_stream};
pub(super) use ws::upgrade;

use super::AppState;
use super::refusal::Refusal;
use crate::auth::{Caller, Credential, Settlement};
use crate::graphql::{ErrorCode, Operation, RequestIds, write_profile};

/// Why an operation may not run on a stream.
#[derive(Debug)]
pub(super) struct Refused {
    code: ErrorCode,
    message: String,
}

impl Refused {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// As a GraphQL error.
    fn into_error(self) -> ServerError {
        let mut error = ServerError::new(self.message, None);
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", self.code.as_str());
        error.extensions = Some(extensions);
        error
    }
}

impl From<Box<Refusal>> for Refused {
    fn from(refusal: Box<Refusal>) -> Self {
        Self::new(refusal.code, refusal.message())
    }
}

/// Runs the checks `POST /graphql` runs on one operation, takes one unit
/// of quota and a subscription slot; the operation comes back ready to run.
pub(super) fn admit(
    state: &AppState,
    credential: &Credential<'_>,
    ids: RequestIds,
    mut request: Request,
) -> Result<(Operation, Slot), Refused> {
    credential.take_quota_units(1).map_err(|refused| {
        Refused::from(Box::new(Refusal::over_quota(credential.caller(), refused)))
    })?;
    let caller = credential.caller();
    let narrowed = super::trusted::admit_audited(state, caller, &ids, &mut request)?;
    let registration = state
        .persisted
        .resolve(&credential.caller().account, &mut request)
        .map_err(|error| {
            let code = match error {
                super::persisted::PersistedError::NotFound => ErrorCode::PersistedQueryNotFound,
                _ => ErrorCode::BadUserInput,
            };
            Refused::new(code, error.message())
        })?;
    if request.query.trim().is_empty() {
        return Err(Refused::new(
            ErrorCode::BadUserInput,
            "`query` is missing or empty",
        ));
    }
    if write_profile(&request, state.max_nesting, state.remove_batch).mutation {
        return Err(Refused::new(
            ErrorCode::BadUserInput,
            "a mutation is answered as one response, not a stream: send it with POST /graphql preferring application/graphql-response+json (Accept), where it is audited and run once",
        ));
    }
    let slot = state
        .subscriptions
        .take(credential.caller())
        .map_err(|message| Refused::new(ErrorCode::TooManySubscriptions, message))?;
    if let Some(registration) = registration {
        state.persisted.register(registration);
    }
    let operation = Operation {
        request,
        caller: credential.charged_caller().narrowed(narrowed),
        ids,
        introspection: credential.introspection(),
    };
    Ok((operation, slot))
}

/// Takes the units a streamed operation was counted from the quota the
/// replicas share (nothing to do without replicas).
async fn settle(settlement: Option<Settlement>, caller: &Caller) -> Result<(), Refused> {
    let Some(settlement) = settlement else {
        return Ok(());
    };
    settlement
        .settle()
        .await
        .map(drop)
        .map_err(|refused| Refused::from(Box::new(Refusal::over_quota(caller, refused))))
}

/// Completes when a credential valid for `valid_for` runs out; never for
/// one that does not expire (a team token).
async fn expiry(valid_for: Option<std::time::Duration>) {
    match valid_for {
        Some(left) => tokio::time::sleep(left).await,
        None => std::future::pending().await,
    }
}

/// Whether `response` ends its stream because the subscriber fell behind.
fn too_slow(response: &async_graphql::Response) -> bool {
    response.errors.iter().any(|error| {
        crate::graphql::error_code(error.extensions.as_ref()).as_deref()
            == Some(ErrorCode::SlowConsumer.as_str())
    })
}
