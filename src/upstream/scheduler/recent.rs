//! Calls placed in the last minute, in one-second buckets: 60 counters a
//! flow, whatever the rate.

const SECONDS: usize = 60;

/// One flow's places of the last minute.
#[derive(Debug)]
pub(super) struct RecentCalls {
    buckets: [u32; SECONDS],
    /// The second the newest bucket counts.
    second: u64,
}

impl Default for RecentCalls {
    fn default() -> Self {
        Self {
            buckets: [0; SECONDS],
            second: 0,
        }
    }
}

impl RecentCalls {
    /// Counts a place handed out in `second`.
    pub(super) fn add(&mut self, second: u64) {
        self.roll(second);
        let bucket = &mut self.buckets[(second % SECONDS as u64) as usize];
        *bucket = bucket.saturating_add(1);
    }

    /// Places handed out in the minute up to `second`.
    pub(super) fn last_minute(&mut self, second: u64) -> u32 {
        self.roll(second);
        self.buckets
            .iter()
            .fold(0, |sum, count| sum.saturating_add(*count))
    }

    /// Places per second over the two whole seconds before `second`.
    pub(super) fn rate_before(&mut self, second: u64) -> f64 {
        self.roll(second);
        let at = |back: u64| {
            second
                .checked_sub(back)
                .map_or(0, |past| self.buckets[(past % SECONDS as u64) as usize])
        };
        f64::from(at(1).saturating_add(at(2))) / 2.0
    }

    /// Empties the buckets of the seconds since the newest.
    fn roll(&mut self, second: u64) {
        if second <= self.second {
            return;
        }
        let gone = (second - self.second).min(SECONDS as u64);
        for passed in 1..=gone {
            self.buckets[((self.second + passed) % SECONDS as u64) as usize] = 0;
        }
        self.second = second;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_last_sixty_seconds_only() {
        let mut recent = RecentCalls::default();
        recent.add(0);
        recent.add(0);
        recent.add(30);
        assert_eq!(recent.last_minute(59), 3);
        assert_eq!(recent.last_minute(60), 1, "second 0 has left the minute");
        assert_eq!(recent.last_minute(90), 0);
        recent.add(88);
        recent.add(89);
        recent.add(89);
        recent.add(90);
        assert_eq!(recent.rate_before(90), 1.5, "seconds 88 and 89");
        recent.add(500);
        assert_eq!(
            recent.last_minute(500),
            1,
            "a long gap empties every bucket"
        );
    }
}
