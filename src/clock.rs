//! Time as the gateway reads it for its own rules (snapshot freshness,
//! refresh back-off, the breaker's cool-down, idempotency expiry): the
//! system's, or in tests one that can be moved forward, so a test of a
//! 30-second TTL neither sleeps 30 seconds nor races a short one. A leaf:
//! it reads no other module.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// The system's time, plus however far a test moved it. Cheap to clone;
/// clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Nanoseconds added to the system's time; `None` for the system clock.
    offset: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// The system's time, unchanged.
    pub fn system() -> Self {
        Self::default()
    }

    /// The system's time, which `advance` moves forward.
    pub fn adjustable() -> Self {
        Self {
            offset: Some(Arc::default()),
        }
    }

    /// Moves an adjustable clock forward by `by`, as if that time had
    /// passed; does nothing to the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(offset) = &self.offset {
            let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
            offset.fetch_add(nanos, Ordering::SeqCst);
        }
    }

    fn offset(&self) -> Duration {
        self.offset.as_ref().map_or(Duration::ZERO, |offset| {
            Duration::from_nanos(offset.load(Ordering::SeqCst))
        })
    }

    /// Now, for measuring ages and deadlines.
    pub fn now(&self) -> Instant {
        Instant::now() + self.offset()
    }

    /// Now as milliseconds since the Unix epoch, for what is stored.
    pub fn unix_ms(&self) -> i64 {
        let offset = i64::try_from(self.offset().as_millis()).unwrap_or(i64::MAX);
        chrono::Utc::now().timestamp_millis().saturating_add(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adjustable_clock_moves_forward_and_the_system_clock_does_not() {
        let system = Clock::system();
        system.advance(Duration::from_secs(3600));
        assert!(system.now() < Instant::now() + Duration::from_secs(60));

        let adjustable = Clock::adjustable();
        let shared = adjustable.clone();
        let before = adjustable.unix_ms();
        shared.advance(Duration::from_secs(3600));
        assert!(adjustable.now() >= Instant::now() + Duration::from_secs(3599));
        assert!(adjustable.unix_ms() >= before + 3_600_000);
    }
}
