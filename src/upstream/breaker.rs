//! The circuit breaker of one account: after enough consecutive failures,
//! calls fail fast for a cool-down, then a single probe decides whether the
//! account is healthy again.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::clock::Clock;

/// Whether calls to an account go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls fail fast until the cool-down ends.
    Open,
    /// The cool-down ended; one probe call decides.
    HalfOpen,
}

impl BreakerState {
    /// Lower-case name, as readiness shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// The value of `gateway_upstream_breaker_state`: 0 closed, 0.5
    /// half-open, 1 open.
    pub fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 0.5,
            BreakerState::Open => 1.0,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    probe_started: Option<Instant>,
}

/// One account's breaker.
#[derive(Debug)]
pub(super) struct Breaker {
    failures_to_open: u32,
    cooldown: Duration,
    clock: Clock,
    /// std `Mutex`: never held across `.await`.
    inner: Mutex<Inner>,
}

impl Breaker {
    pub(super) fn new(failures_to_open: u32, cooldown: Duration, clock: Clock) -> Self {
        Self {
            failures_to_open: failures_to_open.max(1),
            cooldown,
            clock,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `Ok` when a call may go; else how long until one may.
    pub(super) fn admit(&self) -> Result<(), Duration> {
        let mut inner = self.lock();
        let Some(opened_at) = inner.opened_at else {
            return Ok(());
        };
        let now = self.clock.now();
        let open_for = now.saturating_duration_since(opened_at);
        if open_for < self.cooldown {
            return Err(self.cooldown - open_for);
        }
        // A probe whose call never reported back (cancelled) must not keep
        // the breaker half-open forever: after a cool-down, allow another.
        let probing = inner
            .probe_started
            .is_some_and(|started| now.saturating_duration_since(started) < self.cooldown);
        if probing {
            return Err(Duration::ZERO);
        }
        inner.probe_started = Some(now);
        Ok(())
    }

    pub(super) fn record_success(&self) {
        *self.lock() = Inner::default();
    }

    pub(super) fn record_failure(&self) {
        let mut inner = self.lock();
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        if inner.probe_started.take().is_some()
            || inner.consecutive_failures >= self.failures_to_open
        {
            inner.opened_at = Some(self.clock.now());
        }
    }

    pub(super) fn state(&self) -> BreakerState {
        let inner = self.lock();
        match inner.opened_at {
            None => BreakerState::Closed,
            Some(opened_at)
                if self.clock.now().saturating_duration_since(opened_at) < self.cooldown =>
            {
                BreakerState::Open
            }
            Some(_) => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_and_closes_after_a_good_probe() {
        let breaker = Breaker::new(3, Duration::from_secs(10), Clock::system());
        for _ in 0..2 {
            breaker.record_failure();
        }
        breaker.record_success();
        for _ in 0..2 {
            breaker.record_failure();
        }
        assert_eq!(breaker.admit(), Ok(()), "successes reset the count");
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(breaker.admit(), Err(Duration::from_secs(10)));

        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(breaker.admit(), Ok(()), "one probe");
        assert_eq!(breaker.admit(), Err(Duration::ZERO), "only one");
        breaker.record_failure();
        assert_eq!(
            breaker.state(),
            BreakerState::Open,
            "a failed probe reopens"
        );

        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(breaker.admit(), Ok(()));
        breaker.record_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }
}
