//! The RemotePC MSP client: one per account, with typed requests and results
//! for the eleven endpoints, lenient envelope parsing and typed errors.
//!
//! Each account's calls pass a circuit breaker, a rate limit and a cap on
//! calls in flight; list calls are retried with backoff, writes never once
//! they may have been sent. The key is re-read when its file changes.
//!
//! This layer never sees GraphQL types, and the API key never leaves it: it is
//! only exposed where the `Authorization` header is set.

mod breaker;
mod client;
mod endpoint;
mod envelope;
mod error;
mod flow;
mod gate;
mod key;
mod pacing;
mod pagination;
mod retry;
mod scheduler;
mod sharing;
pub mod wire;
mod witness;

pub use breaker::BreakerState;
pub use client::{AccountHealth, ClientSetupError, Egress, RemotePcClient};
pub use endpoint::Endpoint;
pub use error::UpstreamError;
pub use flow::{Flow, Lane, UpstreamUse, on_behalf_of};
pub use key::{ApiKey, KeyError, KeyStatus};
pub use scheduler::{FlowBudget, UpstreamBudget};
pub use witness::{Writes, count_writes};

/// The vendor's production base URL, the default of `accounts.<id>.base_url`.
pub use crate::settings::VENDOR_BASE_URL;
