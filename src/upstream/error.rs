//! What can go wrong talking to RemotePC. Messages name the endpoint and the
//! failure; they never contain the key or a request body.

use std::time::Duration;

use super::Endpoint;

/// A failed upstream call.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// RemotePC understood the call and refused it (4xx, or an error envelope).
    #[error("RemotePC refused {endpoint} (HTTP {http_status}): {}", descriptions.join("; "))]
    Rejected {
        /// The endpoint called.
        endpoint: Endpoint,
        /// The HTTP status of the answer.
        http_status: u16,
        /// The envelope's `code`, when it had one.
        code: Option<u16>,
        /// The envelope's error descriptions, trimmed.
        descriptions: Vec<String>,
    },
    /// RemotePC failed (5xx, or an envelope saying so).
    #[error("RemotePC failed on {endpoint} (HTTP {http_status})")]
    ServerError {
        /// The endpoint called.
        endpoint: Endpoint,
        /// The HTTP status of the answer.
        http_status: u16,
        /// The envelope's `code`, when it had one.
        code: Option<u16>,
        /// The envelope's error descriptions, trimmed.
        descriptions: Vec<String>,
    },
    /// The answer cannot be understood (HTML page, empty body, wrong shape,
    /// contradictory envelope).
    #[error("RemotePC gave an unusable answer on {endpoint} (HTTP {http_status}): {reason}")]
    Malformed {
        /// The endpoint called.
        endpoint: Endpoint,
        /// The HTTP status of the answer.
        http_status: u16,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No complete answer within the configured time.
    #[error("RemotePC did not answer {endpoint} within {}ms", timeout.as_millis())]
    Timeout {
        /// The endpoint called.
        endpoint: Endpoint,
        /// The limit that ran out.
        timeout: Duration,
    },
    /// The connection failed or was cut.
    #[error("cannot reach RemotePC for {endpoint}")]
    Transport {
        /// The endpoint called.
        endpoint: Endpoint,
        /// Whether the request is known not to have been sent (connect
        /// failed), which makes even a write safe to repeat.
        not_sent: bool,
        /// The underlying error, with its URL removed.
        #[source]
        source: reqwest::Error,
    },
    /// The call found its flow's queue full, or waited its whole
    /// `upstream.queue_timeout` for a place, and was not sent.
    #[error("too many calls to RemotePC in flow `{flow}`: {endpoint} was not sent after waiting {}ms ({setting})", waited.as_millis())]
    Throttled {
        /// The endpoint not called.
        endpoint: Endpoint,
        /// How long it waited.
        waited: Duration,
        /// The flow it waited in: its team or role, or `background`.
        flow: String,
        /// The setting that refused it.
        setting: &'static str,
    },
    /// The account's circuit breaker is open after repeated failures; the
    /// call was not sent.
    #[error("RemotePC is failing; {endpoint} not sent, next attempt in {}ms", retry_in.as_millis())]
    CircuitOpen {
        /// The endpoint not called.
        endpoint: Endpoint,
        /// Time until a probe call is let through.
        retry_in: Duration,
    },
    /// The answer was larger than `upstream.max_response_bytes`.
    #[error("RemotePC's answer to {endpoint} exceeded {limit} bytes")]
    TooLarge {
        /// The endpoint called.
        endpoint: Endpoint,
        /// The configured limit.
        limit: usize,
    },
}

impl UpstreamError {
    /// The endpoint the failed call went to.
    pub fn endpoint(&self) -> Endpoint {
        match self {
            UpstreamError::Rejected { endpoint, .. }
            | UpstreamError::ServerError { endpoint, .. }
            | UpstreamError::Malformed { endpoint, .. }
            | UpstreamError::Timeout { endpoint, .. }
            | UpstreamError::Transport { endpoint, .. }
            | UpstreamError::Throttled { endpoint, .. }
            | UpstreamError::CircuitOpen { endpoint, .. }
            | UpstreamError::TooLarge { endpoint, .. } => *endpoint,
        }
    }

    /// Whether RemotePC refused because a computer, user or group it was
    /// asked about does not exist: a 404, or a refusal saying so
    /// (`User not found`, `Computer(s) not found`, `Group name does not
    /// exists`).
    pub fn names_missing(&self) -> bool {
        let UpstreamError::Rejected {
            http_status,
            code,
            descriptions,
            ..
        } = self
        else {
            return false;
        };
        *http_status == 404
            || *code == Some(404)
            || descriptions.iter().any(|description| {
                let description = description.to_ascii_lowercase();
                description.contains("not found") || description.contains("does not exist")
            })
    }

    /// Whether a write may have taken effect although it failed: the caller
    /// must check before trying again.
    pub fn outcome_unknown(&self) -> bool {
        if self.endpoint().is_read() {
            return false;
        }
        match self {
            UpstreamError::Rejected { .. }
            | UpstreamError::Throttled { .. }
            | UpstreamError::CircuitOpen { .. } => false,
            UpstreamError::Transport { not_sent, .. } => !not_sent,
            UpstreamError::ServerError { .. }
            | UpstreamError::Malformed { .. }
            | UpstreamError::Timeout { .. }
            | UpstreamError::TooLarge { .. } => true,
        }
    }

    /// A short, fixed name of the failure, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            UpstreamError::Rejected { .. } => "rejected",
            UpstreamError::ServerError { .. } => "server_error",
            UpstreamError::Malformed { .. } => "malformed",
            UpstreamError::Timeout { .. } => "timeout",
            UpstreamError::Transport { .. } => "transport",
            UpstreamError::Throttled { .. } => "throttled",
            UpstreamError::CircuitOpen { .. } => "circuit_open",
            UpstreamError::TooLarge { .. } => "too_large",
        }
    }

    /// Whether the failure says RemotePC is unhealthy (counts toward the
    /// breaker); a refusal is a healthy answer, and an unsent call says
    /// nothing.
    pub fn is_upstream_failure(&self) -> bool {
        matches!(
            self,
            UpstreamError::ServerError { .. }
                | UpstreamError::Malformed { .. }
                | UpstreamError::Timeout { .. }
                | UpstreamError::Transport { .. }
                | UpstreamError::TooLarge { .. }
        )
    }

    /// The upstream's answer, where there was one: HTTP status, envelope
    /// code and descriptions.
    pub fn answer(&self) -> Option<(u16, Option<u16>, &[String])> {
        match self {
            UpstreamError::Rejected {
                http_status,
                code,
                descriptions,
                ..
            }
            | UpstreamError::ServerError {
                http_status,
                code,
                descriptions,
                ..
            } => Some((*http_status, *code, descriptions)),
            UpstreamError::Malformed { http_status, .. } => Some((*http_status, None, &[])),
            _ => None,
        }
    }
}
