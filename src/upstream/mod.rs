//! The RemotePC MSP client: one per account, with typed requests and results
//! for the eleven endpoints, lenient envelope parsing and typed errors.
//!
//! This layer never sees GraphQL types, and the API key never leaves it: it is
//! only exposed where the `Authorization` header is set.

mod client;
mod endpoint;
mod envelope;
mod error;
mod key;
mod pagination;
pub mod wire;

pub use client::{ClientSetupError, RemotePcClient};
pub use endpoint::Endpoint;
pub use error::UpstreamError;
pub use key::{ApiKey, KeyError};

/// The vendor's production base URL, the default of `accounts.<id>.base_url`.
pub const VENDOR_BASE_URL: &str = "https://web1.remotepc.com/rpcnew/api/msp/";
