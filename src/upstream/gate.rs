//! Admission of calls to one account: the breaker, then the account's fair
//! scheduler (`scheduler`), which hands out places: a token of the rate
//! limit and a slot under `upstream.max_concurrent`. With replicas the rate
//! limit is one GCRA in Redis for all of them, this replica paces at its
//! fair part of it (`sharing`), and its own limiter (1/N of the rate)
//! decides while Redis fails.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::breaker::Breaker;
use super::flow::{self, Flow};
use super::scheduler::{Background, Scheduler, UpstreamBudget};
use super::sharing;
use super::{Endpoint, UpstreamError};
use crate::clock::Clock;
use crate::cluster::{Cluster, Limit, LimitAnswer};
use crate::settings::UpstreamSettings;

/// What a call must pass before it is sent.
#[derive(Debug)]
pub(super) struct Gate {
    pub(super) breaker: Breaker,
    places: Arc<Places>,
    scheduler: Arc<Scheduler>,
    /// The dispatcher and, with replicas, the demand exchange: started
    /// with the first call (a runtime is needed).
    tasks: OnceLock<Vec<tokio::task::JoinHandle<()>>>,
    queue_timeout: Duration,
}

/// What a place is made of: a token of the rate, a free slot, and the
/// pace RemotePC's own answers allow.
#[derive(Debug)]
struct Places {
    pacing: super::pacing::Pacing,
    limiter: DefaultDirectRateLimiter,
    /// The rate every replica shares, under its key.
    shared: Option<(Cluster, String, Limit)>,
    slots: Arc<Semaphore>,
    max_concurrent: usize,
    /// With replicas, while this one asks for more than its share and
    /// another asks for less: after the shared limit refused it, it asks
    /// again a twentieth of a place later than the limit said, so the
    /// replica within its share, asking on time, gets the next place.
    yields: AtomicBool,
}

impl Drop for Gate {
    fn drop(&mut self) {
        for task in self.tasks.get().into_iter().flatten() {
            task.abort();
        }
    }
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
            places: Arc::new(Places {
                pacing: super::pacing::Pacing::new(part(settings.rate_per_second).get()),
                limiter: RateLimiter::direct(
                    Quota::per_second(part(settings.rate_per_second))
                        .allow_burst(part(settings.burst)),
                ),
                shared,
                slots: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
                max_concurrent: settings.max_concurrent.max(1),
                yields: AtomicBool::new(false),
            }),
            scheduler: Scheduler::new(
                settings.max_queued_per_flow,
                Background {
                    floor: settings.background_floor,
                    weight: settings.background_weight,
                },
            ),
            tasks: OnceLock::new(),
            queue_timeout: settings.queue_timeout,
        }
    }

    /// RemotePC answered 429 (or 503 with `Retry-After`): slow down.
    pub(super) fn vendor_throttled(&self, retry_after: Option<Duration>) {
        self.places.pacing.throttled(retry_after);
    }

    /// RemotePC answered: the pace may recover a little.
    pub(super) fn vendor_answered(&self) {
        self.places.pacing.succeeded();
    }

    /// Calls per second in force now (this replica's).
    pub(super) fn rate_in_force(&self) -> f64 {
        self.places.pacing.in_force()
    }

    /// The budget and each flow's part of it, the background lane first.
    pub(super) fn budget(&self) -> UpstreamBudget {
        let places = &self.places;
        let in_flight = places.max_concurrent - places.slots.available_permits();
        let count = |value: usize| u32::try_from(value).unwrap_or(u32::MAX);
        UpstreamBudget {
            rate_per_second: places.pacing.configured(),
            rate_in_force: places.pacing.in_force(),
            max_concurrent: count(places.max_concurrent),
            in_flight: count(in_flight),
            flows: self.scheduler.budget(),
        }
    }

    /// Waits for the call's turn in its flow (the request's, or the
    /// background lane); the permit holds its slot until dropped.
    pub(super) async fn admit(
        &self,
        endpoint: Endpoint,
    ) -> Result<OwnedSemaphorePermit, UpstreamError> {
        self.breaker
            .admit()
            .map_err(|retry_in| UpstreamError::CircuitOpen { endpoint, retry_in })?;
        self.tasks.get_or_init(|| self.start());
        let started = Instant::now();
        let flow: Option<Flow> = flow::current();
        self.scheduler
            .queue(flow.as_ref(), started + self.queue_timeout)
            .await
            .map_err(|refused| UpstreamError::Throttled {
                endpoint,
                waited: started.elapsed(),
                flow: flow
                    .as_ref()
                    .map_or(flow::BACKGROUND, Flow::label)
                    .to_owned(),
                setting: refused.setting(),
            })
    }
}

impl Gate {
    /// Spawns the dispatcher, and with replicas the demand exchange.
    fn start(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let places = Arc::clone(&self.places);
        let scheduler = Arc::clone(&self.scheduler);
        let mut tasks = vec![tokio::spawn(scheduler.dispatch(move || {
            let places = Arc::clone(&places);
            async move { places.take().await }
        }))];
        if let Some((cluster, key, limit)) = &self.places.shared {
            let places = Arc::clone(&self.places);
            tasks.push(tokio::spawn(sharing::share_across_replicas(
                cluster.clone(),
                key.clone(),
                f64::from(limit.per_period) / limit.period.as_secs_f64(),
                Arc::clone(&self.scheduler),
                move |allowance, yields| {
                    places.pacing.allow(allowance);
                    places.yields.store(yields, Ordering::Relaxed);
                },
            )));
        }
        tasks
    }
}

impl Places {
    /// A free slot, then a token of the rate: the one replicas share, else
    /// this replica's.
    async fn take(&self) -> OwnedSemaphorePermit {
        let slot = loop {
            // The semaphore is never closed.
            if let Ok(slot) = Arc::clone(&self.slots).acquire_owned().await {
                break slot;
            }
        };
        self.pacing.wait_turn().await;
        let Some((cluster, key, limit)) = &self.shared else {
            self.limiter.until_ready().await;
            return slot;
        };
        loop {
            match cluster.take(key, *limit, 1).await {
                Some(LimitAnswer::Allowed { .. }) => return slot,
                Some(LimitAnswer::Denied { retry_after }) => {
                    let behind = if self.yields.load(Ordering::Relaxed) {
                        limit.period / limit.per_period.max(1) / 20
                    } else {
                        Duration::ZERO
                    };
                    tokio::time::sleep(retry_after + behind).await;
                }
                None => {
                    self.limiter.until_ready().await;
                    return slot;
                }
            }
        }
    }
}
