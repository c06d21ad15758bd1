//! RemotePC's own limits: an answer 429 (or 503 with `Retry-After`) slows
//! the account's calls at once (the rate in force halves, and no call goes
//! before the `Retry-After`), and each success brings the rate back a
//! little (2 % of the configured rate), so the gateway settles under the
//! vendor's limit instead of hammering it.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The least fraction of the configured rate kept in force.
const FLOOR: f64 = 0.02;
/// Each success gives back this fraction of the configured rate.
const RECOVERY: f64 = 0.02;
/// How long to hold off when a 429 names no `Retry-After`.
const DEFAULT_PAUSE: Duration = Duration::from_secs(1);
/// The longest `Retry-After` obeyed.
const LONGEST_PAUSE: Duration = Duration::from_secs(60);

/// The pace calls go out at, under the configured rate.
#[derive(Debug)]
pub(super) struct Pacing {
    /// Calls per second configured (this replica's part).
    rate: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The fraction of `rate` in force.
    factor: f64,
    /// No call before this (the vendor's `Retry-After`).
    paused_until: Option<Instant>,
    /// When the last place was handed out.
    last: Option<Instant>,
    /// With replicas: this replica's part of the account's rate, in calls
    /// per second (`sharing`), in place of the configured rate.
    allowance: Option<f64>,
}

impl Pacing {
    pub(super) fn new(rate: u32) -> Self {
        Self {
            rate: f64::from(rate.max(1)),
            state: Mutex::new(State {
                factor: 1.0,
                paused_until: None,
                last: None,
                allowance: None,
            }),
        }
    }

    /// Calls per second configured.
    pub(super) fn configured(&self) -> u32 {
        self.rate as u32
    }

    /// Calls per second in force now.
    pub(super) fn in_force(&self) -> f64 {
        let state = self.lock();
        state.allowance.unwrap_or(self.rate) * state.factor
    }

    /// Paces at `allowance` calls per second (before RemotePC's own
    /// slowing); `None`: the configured rate, left to the rate limiter.
    pub(super) fn allow(&self, allowance: Option<f64>) {
        self.lock().allowance = allowance;
    }

    /// Waits until the next call may go at the pace in force.
    pub(super) async fn wait_turn(&self) {
        let due = {
            let mut state = self.lock();
            let now = Instant::now();
            let pace = state.allowance.unwrap_or(self.rate) * state.factor;
            let spacing = (state.factor < 1.0 || state.allowance.is_some())
                .then(|| Duration::from_secs_f64(1.0 / pace.max(0.01)));
            let paced = match (state.last, spacing) {
                (Some(last), Some(spacing)) => last + spacing,
                _ => now,
            };
            let due = paced.max(state.paused_until.unwrap_or(now)).max(now);
            state.last = Some(due);
            due
        };
        tokio::time::sleep_until(due).await;
    }

    /// RemotePC said slow down: halve the rate in force, and hold off for
    /// `retry_after` (a second when it gave none).
    pub(super) fn throttled(&self, retry_after: Option<Duration>) {
        let pause = retry_after.unwrap_or(DEFAULT_PAUSE).min(LONGEST_PAUSE);
        let mut state = self.lock();
        state.factor = (state.factor / 2.0).max(FLOOR);
        state.paused_until = Some(Instant::now() + pause);
        drop(state);
        tracing::warn!(
            rate_in_force = self.in_force(),
            pause_ms = pause.as_millis() as u64,
            "RemotePC asked to slow down"
        );
    }

    /// A call went through: give back a little of the rate.
    pub(super) fn succeeded(&self) {
        let mut state = self.lock();
        state.factor = (state.factor + RECOVERY).min(1.0);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_429_halves_the_pace_and_holds_off_then_successes_bring_it_back() {
        let pacing = Pacing::new(20);
        assert_eq!(pacing.in_force(), 20.0);
        pacing.throttled(Some(Duration::from_secs(2)));
        assert_eq!(pacing.in_force(), 10.0);
        let start = Instant::now();
        pacing.wait_turn().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "the Retry-After is obeyed"
        );
        pacing.wait_turn().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(2_100),
            "then one call every 1/10 s"
        );
        for _ in 0..10 {
            pacing.throttled(None);
        }
        assert!(
            (pacing.in_force() - 0.4).abs() < 1e-9,
            "never below 2 %: {}",
            pacing.in_force()
        );
        for _ in 0..100 {
            pacing.succeeded();
        }
        assert_eq!(pacing.in_force(), 20.0, "back to the configured rate");
    }
}
