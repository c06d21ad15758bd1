//! How many subscriptions are open, per team, per person and in all, each
//! bounded by its setting; a slot is held for as long as its subscription
//! runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::auth::{ActorKind, Caller};
use crate::settings::LiveSettings;

/// Open subscriptions, counted.
#[derive(Clone)]
pub(super) struct SubscriptionSlots {
    inner: Arc<Inner>,
}

struct Inner {
    per_team: usize,
    per_person: usize,
    total: usize,
    /// std `Mutex`: never held across `.await`.
    open: Mutex<Open>,
}

/// Open subscriptions by team and by person (only those with some open:
/// bounded by `live.max_subscriptions`), and their sum.
#[derive(Default)]
struct Open {
    by_team: HashMap<String, usize>,
    by_person: HashMap<String, usize>,
    total: usize,
}

/// One open subscription's place; freed when dropped.
pub struct Slot {
    inner: Arc<Inner>,
    team: String,
    person: Option<String>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.inner.lock();
        open.total = open.total.saturating_sub(1);
        crate::telemetry::record_subscriptions(open.total);
        release(&mut open.by_team, &self.team);
        if let Some(person) = &self.person {
            release(&mut open.by_person, person);
        }
    }
}

fn release(counts: &mut HashMap<String, usize>, key: &str) {
    if let Some(count) = counts.get_mut(key) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            counts.remove(key);
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl SubscriptionSlots {
    pub(super) fn new(settings: &LiveSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                per_team: settings.max_subscriptions_per_team,
                per_person: settings.max_subscriptions_per_person,
                total: settings.max_subscriptions,
                open: Mutex::default(),
            }),
        }
    }

    /// A slot for one more subscription of `caller`, or the message
    /// naming the limit it would pass.
    pub(crate) fn take(&self, caller: &Caller) -> Result<Slot, String> {
        let team = caller.team.as_str();
        let person = (caller.actor.kind == ActorKind::Person).then(|| caller.idempotency_owner());
        let mut open = self.inner.lock();
        if open.total >= self.inner.total {
            return Err(format!(
                "the gateway has {} subscriptions open, its limit (live.max_subscriptions); try again later",
                self.inner.total
            ));
        }
        if open.by_team.get(team).copied().unwrap_or(0) >= self.inner.per_team {
            return Err(format!(
                "`{team}` has {} subscriptions open, its limit (live.max_subscriptions_per_team)",
                self.inner.per_team
            ));
        }
        if let Some(person) = &person
            && open.by_person.get(person).copied().unwrap_or(0) >= self.inner.per_person
        {
            return Err(format!(
                "you have {} subscriptions open, the limit for one person (live.max_subscriptions_per_person)",
                self.inner.per_person
            ));
        }
        *open.by_team.entry(team.to_owned()).or_default() += 1;
        if let Some(person) = &person {
            *open.by_person.entry(person.clone()).or_default() += 1;
        }
        open.total += 1;
        crate::telemetry::record_subscriptions(open.total);
        Ok(Slot {
            inner: Arc::clone(&self.inner),
            team: team.to_owned(),
            person,
        })
    }

    /// Subscriptions open in all.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.inner.lock().total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Actor;

    fn caller(team: &str, person: Option<&str>) -> Caller {
        let kind = if person.is_some() {
            ActorKind::Person
        } else {
            ActorKind::Team
        };
        Caller {
            team: team.to_owned(),
            account: "default".to_owned(),
            accounts: Arc::from(["default".to_owned()]),
            scopes: Vec::new(),
            grants: Arc::from([]),
            withheld: Vec::new(),
            upstream_weight: 1,
            actor: Actor {
                kind,
                subject: person.unwrap_or(team).to_owned(),
                name: None,
                issuer: None,
                via: team.to_owned(),
                approval: None,
            },
            quota: crate::auth::QuotaView::default(),
        }
    }

    #[test]
    fn slots_are_bounded_per_team_and_in_all_and_freed_on_drop() {
        let settings = LiveSettings {
            max_subscriptions_per_team: 2,
            max_subscriptions: 3,
            ..LiveSettings::default()
        };
        let slots = SubscriptionSlots::new(&settings);
        let (a, b) = (caller("a", None), caller("b", None));
        let a1 = slots.take(&a).expect("first of a");
        let _a2 = slots.take(&a).expect("second of a");
        let refused = slots.take(&a).err().expect("third of a refused");
        assert!(
            refused.contains("live.max_subscriptions_per_team"),
            "{refused}"
        );
        let _b1 = slots.take(&b).expect("first of b");
        let refused = slots.take(&b).err().expect("fourth in all refused");
        assert!(refused.contains("live.max_subscriptions"), "{refused}");
        drop(a1);
        assert_eq!(slots.open(), 2);
        slots.take(&b).expect("a freed slot is taken again");
    }

    #[test]
    fn one_person_cannot_take_all_of_a_roles_slots() {
        let settings = LiveSettings {
            max_subscriptions_per_team: 10,
            max_subscriptions_per_person: 2,
            ..LiveSettings::default()
        };
        let slots = SubscriptionSlots::new(&settings);
        let (pat, sam) = (
            caller("corp/helpdesk", Some("pat")),
            caller("corp/helpdesk", Some("sam")),
        );
        let first = slots.take(&pat).expect("pat's first");
        let _second = slots.take(&pat).expect("pat's second");
        let refused = slots.take(&pat).err().expect("pat's third refused");
        assert!(
            refused.contains("live.max_subscriptions_per_person"),
            "{refused}"
        );
        let _sams = slots
            .take(&sam)
            .expect("sam of the same role still subscribes");
        drop(first);
        slots.take(&pat).expect("a freed slot is pat's again");
    }
}
