//! Subscriptions' transports on `/graphql`: GraphQL over WebSocket
//! (`graphql-transport-ws`, the npm `graphql-ws` client) and over
//! Server-Sent Events (`graphql-sse`, distinct connections mode). Both
//! hand each operation to admission as a stream's (`admit_stream`: the
//! checks `POST /graphql` makes, mutations refused, a subscription slot
//! held while it runs) and send its refusals as GraphQL errors.

mod protocol;
mod sse;
mod ws;

pub(super) use sse::{respond as sse_respond, wants_event_stream};
pub(super) use ws::{SocketOptions, upgrade};

use super::AppState;
use crate::graphql::ErrorCode;

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
