//! `[server]`: where the gateway listens, its HTTP limits and timeouts,
//! which browser origins may call it, and how answers are compressed.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

/// HTTP server settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address and port to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Time after which a request is answered (504 with a GraphQL error for
    /// `/graphql`); a write still running then goes on and is audited.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Time a client has to send a request's headers.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A connection with no bytes read or written for this long is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Most client connections open at once; later ones wait to be accepted.
    pub max_connections: usize,
    /// A second address serving `/metrics` and `/readyz` only (they name
    /// teams and accounts); when set, the main address no longer serves
    /// them.
    pub admin_listen: Option<SocketAddr>,
    /// How long in-flight requests may run after a shutdown signal.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Browser origins (`https://app.example.com`) allowed to call the
    /// gateway; empty: no cross-origin access. From the environment:
    /// comma-separated.
    pub cors_origins: Vec<String>,
    /// Request headers browsers may send besides the standard ones
    /// (authorization, content-type, accept, idempotency-key, x-request-id,
    /// Apollo's client-awareness and operation-name headers, W3C trace
    /// context). From the environment: comma-separated.
    pub cors_allow_headers: Vec<String>,
    /// Also allow `http://localhost:<any port>` and `http://127.0.0.1:<any
    /// port>`: development servers (Vite, Next) pick their port. Meant for
    /// the demo and a developer's machine, never production.
    pub cors_allow_loopback_dev: bool,
    /// Compress answers (brotli, zstd or gzip) for clients whose
    /// `Accept-Encoding` allows it, and WebSocket messages (deflate) for
    /// clients that offer permessage-deflate.
    pub compression: bool,
    /// Answers and WebSocket messages shorter than this are sent as they
    /// are: their framing would cost more than compression saves.
    pub compression_min_bytes: usize,
    /// Event streams compressed at once: each keeps its compressor (up to
    /// ~450 KiB) while open; later streams are sent uncompressed.
    pub compression_max_streams: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            admin_listen: None,
            shutdown_grace: Duration::from_secs(10),
            cors_origins: Vec::new(),
            cors_allow_headers: Vec::new(),
            cors_allow_loopback_dev: false,
            compression: true,
            compression_min_bytes: 1024,
            compression_max_streams: 256,
        }
    }
}
