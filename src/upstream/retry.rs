//! When a failed call is tried again: list calls (safe to repeat) on
//! connection errors, timeouts and 5xx; writes only when they are known not
//! to have been sent. Exponential backoff with jitter, bounded in attempts
//! and in time.

use std::time::Duration;

use rand::Rng;

use super::{Endpoint, UpstreamError};
use crate::settings::UpstreamSettings;

#[derive(Debug, Clone, Copy)]
pub(super) struct RetryPolicy {
    attempts: u32,
    initial_backoff: Duration,
    max_elapsed: Duration,
}

impl RetryPolicy {
    pub(super) fn new(settings: &UpstreamSettings) -> Self {
        Self {
            attempts: settings.retry_attempts.max(1),
            initial_backoff: settings.retry_initial_backoff,
            max_elapsed: settings.retry_max_elapsed,
        }
    }

    /// The pause before attempt `failed_attempt + 1`, or `None` to give up.
    pub(super) fn next_delay(
        &self,
        endpoint: Endpoint,
        error: &UpstreamError,
        failed_attempt: u32,
        elapsed: Duration,
    ) -> Option<Duration> {
        if failed_attempt >= self.attempts || !Self::retryable(endpoint, error) {
            return None;
        }
        let ceiling = self
            .initial_backoff
            .saturating_mul(1 << (failed_attempt - 1).min(16));
        // "Equal jitter": half fixed, half random, so retries of many callers
        // spread out but none comes back at once.
        let delay = ceiling / 2 + ceiling.mul_f64(rand::rng().random_range(0.0..0.5));
        (elapsed + delay <= self.max_elapsed).then_some(delay)
    }

    fn retryable(endpoint: Endpoint, error: &UpstreamError) -> bool {
        match error {
            UpstreamError::Transport { not_sent: true, .. } => true,
            UpstreamError::Transport { .. }
            | UpstreamError::Timeout { .. }
            | UpstreamError::ServerError { .. } => endpoint.is_read(),
            // RemotePC's own rate limit: the pace slows, a read goes again
            // after its Retry-After; a write is left to its client.
            UpstreamError::Rejected {
                http_status: 429, ..
            } => endpoint.is_read(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_elapsed: Duration::from_secs(1),
        }
    }

    fn server_error(endpoint: Endpoint) -> UpstreamError {
        UpstreamError::ServerError {
            endpoint,
            http_status: 503,
            code: None,
            descriptions: Vec::new(),
        }
    }

    #[test]
    fn reads_retry_with_growing_jittered_backoff_within_bounds() {
        let error = server_error(Endpoint::UserList);
        let first = policy().next_delay(Endpoint::UserList, &error, 1, Duration::ZERO);
        assert!(
            first.is_some_and(|delay| (50..=100).contains(&delay.as_millis())),
            "{first:?}"
        );
        let second = policy().next_delay(Endpoint::UserList, &error, 2, Duration::ZERO);
        assert!(
            second.is_some_and(|delay| (100..=200).contains(&delay.as_millis())),
            "{second:?}"
        );
        assert_eq!(
            policy().next_delay(Endpoint::UserList, &error, 3, Duration::ZERO),
            None
        );
        assert_eq!(
            policy().next_delay(Endpoint::UserList, &error, 1, Duration::from_millis(990)),
            None
        );
    }

    #[test]
    fn writes_are_not_retried_once_they_may_have_been_sent() {
        let timeout = UpstreamError::Timeout {
            endpoint: Endpoint::UserInvite,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(
            policy().next_delay(Endpoint::UserInvite, &timeout, 1, Duration::ZERO),
            None
        );
        let error = server_error(Endpoint::UserInvite);
        assert_eq!(
            policy().next_delay(Endpoint::UserInvite, &error, 1, Duration::ZERO),
            None
        );
        let rejected = UpstreamError::Rejected {
            endpoint: Endpoint::UserList,
            http_status: 400,
            code: None,
            descriptions: Vec::new(),
        };
        assert_eq!(
            policy().next_delay(Endpoint::UserList, &rejected, 1, Duration::ZERO),
            None
        );
    }
}
