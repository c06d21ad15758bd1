//! How many subscriptions are open, per team and in all, each bounded by
//! its setting; a slot is held for as long as its subscription runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::settings::LiveSettings;

/// Open subscriptions, counted.
#[derive(Clone)]
pub(crate) struct SubscriptionSlots {
    inner: Arc<Inner>,
}

struct Inner {
    per_team: usize,
    total: usize,
    /// Open subscriptions by team, and their sum. std `Mutex`: never held
    /// across `.await`.
    open: Mutex<(HashMap<String, usize>, usize)>,
}

/// One open subscription's place; freed when dropped.
pub(crate) struct Slot {
    inner: Arc<Inner>,
    team: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.inner.lock();
        let (by_team, total) = &mut *open;
        *total = total.saturating_sub(1);
        crate::telemetry::record_subscriptions(*total);
        if let Some(count) = by_team.get_mut(&self.team) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                by_team.remove(&self.team);
            }
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, (HashMap<String, usize>, usize)> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl SubscriptionSlots {
    pub(crate) fn new(settings: &LiveSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                per_team: settings.max_subscriptions_per_team,
                total: settings.max_subscriptions,
                open: Mutex::default(),
            }),
        }
    }

    /// A slot for one more subscription of `team`, or the message naming
    /// the limit it would pass.
    pub(crate) fn take(&self, team: &str) -> Result<Slot, String> {
        let mut open = self.inner.lock();
        let (by_team, total) = &mut *open;
        if *total >= self.inner.total {
            return Err(format!(
                "the gateway has {} subscriptions open, its limit (live.max_subscriptions); try again later",
                self.inner.total
            ));
        }
        let count = by_team.entry(team.to_owned()).or_default();
        if *count >= self.inner.per_team {
            return Err(format!(
                "`{team}` has {} subscriptions open, its limit (live.max_subscriptions_per_team)",
                self.inner.per_team
            ));
        }
        *count += 1;
        *total += 1;
        crate::telemetry::record_subscriptions(*total);
        Ok(Slot {
            inner: Arc::clone(&self.inner),
            team: team.to_owned(),
        })
    }

    /// Subscriptions open in all.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.inner.lock().1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_team_and_in_all_and_freed_on_drop() {
        let settings = LiveSettings {
            max_subscriptions_per_team: 2,
            max_subscriptions: 3,
            ..LiveSettings::default()
        };
        let slots = SubscriptionSlots::new(&settings);
        let a1 = slots.take("a").expect("first of a");
        let _a2 = slots.take("a").expect("second of a");
        let refused = slots.take("a").err().expect("third of a refused");
        assert!(
            refused.contains("live.max_subscriptions_per_team"),
            "{refused}"
        );
        let _b1 = slots.take("b").expect("first of b");
        let refused = slots.take("b").err().expect("fourth in all refused");
        assert!(refused.contains("live.max_subscriptions"), "{refused}");
        drop(a1);
        assert_eq!(slots.open(), 2);
        slots.take("b").expect("a freed slot is taken again");
    }
}
