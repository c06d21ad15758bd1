//! Admission of calls to one account: breaker, rate limit, then a cap on
//! calls in flight, each waited for at most `queue_timeout` in all. With
//! replicas the rate limit is one GCRA in Redis for all of them, and this
//! replica's own limiter (1/N of the rate) decides while Redis fails.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::breaker::Breaker;
use super::{Endpoint, UpstreamError};
use crate::clock::Clock;
use crate::cluster::{Cluster, Limit, LimitAnswer};
use crate::settings::UpstreamSettings;

/// What a call must pass before it is sent.
#[derive(Debug)]
pub(super) struct Gate {
    pub(super) breaker: Breaker,
    limiter: DefaultDirectRateLimiter,
    /// The rate every replica shares, under its key.
    shared: Option<(Cluster, String, Limit)>,
    slots: Arc<Semaphore>,
    queue_timeout: Duration,
}

impl Gate {
    pub(super) fn new(
        settings: &UpstreamSettings,
        clock: Clock,
        cluster: Option<(Cluster, &str)>,
    ) -> Self {
        let share = cluster
            .as_ref()
            .map_or(1, |(cluster, _)| cluster.replicas().max(1));
        let part = |value: u32| NonZeroU32::new(value / share).unwrap_or(NonZeroU32::MIN);
        let shared = cluster.map(|(cluster, account)| {
            let limit = Limit {
                per_period: settings.rate_per_second,
                period: Duration::from_secs(1),
                burst: settings.burst,
            };
            (cluster, format!("upstream:{account}"), limit)
        });
        Self {
            breaker: Breaker::new(settings.breaker_failures, settings.breaker_cooldown, clock),
            limiter: RateLimiter::direct(
                Quota::per_second(part(settings.rate_per_second)).allow_burst(part(settings.burst)),
            ),
            shared,
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
        tokio::time::timeout_at(deadline, self.rate_limit(deadline))
            .await
            .map_err(|_| throttled())?
            .map_err(|()| throttled())?;
        match tokio::time::timeout_at(deadline, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; both cases mean no slot in time.
            Ok(Err(_)) | Err(_) => Err(throttled()),
        }
    }

    /// Waits for the rate limit: the one replicas share, else this
    /// replica's. `Err` when the shared one would open after `deadline`.
    async fn rate_limit(&self, deadline: Instant) -> Result<(), ()> {
        let Some((cluster, key, limit)) = &self.shared else {
            self.limiter.until_ready().await;
            return Ok(());
        };
        loop {
            match cluster.take(key, *limit, 1).await {
                Some(LimitAnswer::Allowed { .. }) => return Ok(()),
                Some(LimitAnswer::Denied { retry_after }) => {
                    if Instant::now() + retry_after > deadline {
                        return Err(());
                    }
                    tokio::time::sleep(retry_after).await;
                }
                None => {
                    self.limiter.until_ready().await;
                    return Ok(());
                }
            }
        }
    }
}
