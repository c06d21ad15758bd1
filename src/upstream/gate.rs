//! Admission of calls to one account: breaker, rate limit, then a cap on
//! calls in flight, each waited for at most `queue_timeout` in all.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::breaker::Breaker;
use super::{Endpoint, UpstreamError};
use crate::clock::Clock;
use crate::settings::UpstreamSettings;

/// What a call must pass before it is sent.
#[derive(Debug)]
pub(super) struct Gate {
    pub(super) breaker: Breaker,
    limiter: DefaultDirectRateLimiter,
    slots: Arc<Semaphore>,
    queue_timeout: Duration,
}

impl Gate {
    pub(super) fn new(settings: &UpstreamSettings, clock: Clock) -> Self {
        let per_second = NonZeroU32::new(settings.rate_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.burst).unwrap_or(NonZeroU32::MIN);
        Self {
            breaker: Breaker::new(settings.breaker_failures, settings.breaker_cooldown, clock),
            limiter: RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst)),
            slots: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
            queue_timeout: settings.queue_timeout,
        }
    }

    /// Waits for the call's turn; the permit holds its slot until dropped.
    pub(super) async fn admit(
        &self,
        endpoint: Endpoint,
    ) -> Result<OwnedSemaphorePermit, UpstreamError> {
        self.breaker
            .admit()
            .map_err(|retry_in| UpstreamError::CircuitOpen { endpoint, retry_in })?;
        let started = Instant::now();
        let deadline = started + self.queue_timeout;
        let throttled = || UpstreamError::Throttled {
            endpoint,
            waited: started.elapsed(),
        };
        tokio::time::timeout_at(deadline, self.limiter.until_ready())
            .await
            .map_err(|_| throttled())?;
        match tokio::time::timeout_at(deadline, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; both cases mean no slot in time.
            Ok(Err(_)) | Err(_) => Err(throttled()),
        }
    }
}
