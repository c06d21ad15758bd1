//! Fair shares across replicas (`[cluster]`). Every replica publishes what
//! its flows ask for (calls waiting, places taken lately) every
//! `EXCHANGE_EVERY`, reads every other's, and computes the same weighted
//! max-min allotment of the account's rate: a flow asks for its recent
//! rate (with headroom) plus what it has waiting; each gets what it asks
//! if that is less than its weighted share, the others split the rest by
//! weight, and the background lane keeps its floor first.
//! A flow's allotment is split between the replicas it has calls on. A
//! replica whose flows ask for more than its parts paces its calls at a
//! little above their sum (so that the shared GCRA stays the limit that
//! binds) and, while another replica is within its share, lets that one
//! go first at the shared limit; its scheduler takes turns by its parts.
//! So shares hold for the account as a whole, not per replica. When Redis
//! fails a replica falls back to the GCRA's local 1/N limit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::scheduler::{Background, FlowDemand, Scheduler};
use crate::cluster::Cluster;

/// How often replicas exchange their demand.
pub(super) const EXCHANGE_EVERY: Duration = Duration::from_millis(250);
/// A flow asks for its recent rate and this much more, so it can grow
/// until the next exchange…
const HEADROOM: f64 = 1.1;
/// …plus this many calls per second, plus what it has waiting, to be
/// sent within a second.
const HEADROOM_FLAT: f64 = 0.1;
/// Replicas pace at this much more than their allotment, so that the
/// shared GCRA, not a replica's pacing, is what binds: with paced
/// replicas alone, a place no replica was ready for at its moment would be
/// lost.
const OVERSUBSCRIBE: f64 = 1.1;
/// The least a replica paces at: pacing counts from its last call, so an
/// idle replica's first call still goes at once.
const LEAST_RATE: f64 = 0.2;

/// Largest demand text read from another replica.
const MOST_DEMAND_BYTES: usize = 64 * 1024;

/// Exchanges demand under `budget` every `EXCHANGE_EVERY` until aborted,
/// handing this replica's allowance to `pace` (`None` while Redis fails,
/// while no one here asks or while it is within its share; and whether it
/// yields) and its weights to `scheduler`.
pub(super) async fn share_across_replicas(
    cluster: Cluster,
    budget: String,
    rate: f64,
    scheduler: Arc<Scheduler>,
    pace: impl Fn(Option<f64>, bool),
) {
    let mut every = tokio::time::interval(EXCHANGE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut asking = true;
    loop {
        every.tick().await;
        let demand = scheduler.demand();
        // An idle replica leaves Redis alone; its demand expires there.
        if demand.is_empty() && !asking {
            continue;
        }
        asking = !demand.is_empty();
        let Ok(text) = serde_json::to_string(&demand) else {
            continue;
        };
        let keep = EXCHANGE_EVERY * 4;
        let Some(texts) = cluster.exchange_demand(&budget, &text, keep).await else {
            pace(None, false);
            scheduler.weigh_by(HashMap::new());
            continue;
        };
        let replicas: Vec<Vec<FlowDemand>> = texts
            .iter()
            .filter(|text| text.len() <= MOST_DEMAND_BYTES)
            .map(|text| serde_json::from_str(text).unwrap_or_default())
            .collect();
        let allowance = allot(rate, scheduler.background(), &replicas, 0);
        // Only a replica asking for more than its share is held to it: one
        // within its share leaves room by itself, and pacing it would make
        // a flow that just woke wait for its history to build up.
        let held = asking && allowance.saturated;
        pace(held.then_some(allowance.rate), allowance.yields);
        scheduler.weigh_by(allowance.weights);
    }
}

/// What this replica may use of the account's rate.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Allowance {
    /// Calls per second.
    pub(super) rate: f64,
    /// Per group here: its part of the group's allotment, the weight this
    /// replica's scheduler takes turns by.
    pub(super) weights: HashMap<Arc<str>, f64>,
    /// Whether its flows ask for more than it is allotted: then it is
    /// paced at `rate`.
    pub(super) saturated: bool,
    /// Saturated while another replica is within its share: when the
    /// shared limit refuses it a place, it lets that one try first.
    pub(super) yields: bool,
}

#[derive(Debug, Default)]
struct Total {
    weight: f64,
    waiting: f64,
    rate: f64,
    /// Per replica, how much of the flow's calls it holds.
    parts: Vec<f64>,
}

impl Total {
    /// Calls per second it asks for.
    fn demand(&self) -> f64 {
        self.rate * HEADROOM + HEADROOM_FLAT + self.waiting
    }
}

/// The allowance of replica `mine` among `replicas`' demands, sharing
/// `rate` calls per second.
pub(super) fn allot(
    rate: f64,
    background: Background,
    replicas: &[Vec<FlowDemand>],
    mine: usize,
) -> Allowance {
    let totals = totals(replicas);
    let allotted = allotments(rate, background, &totals);
    let mut allowance = Allowance {
        rate: 0.0,
        weights: HashMap::new(),
        saturated: false,
        yields: false,
    };
    let mut asked = 0.0;
    for (key, total) in &totals {
        let held: f64 = total.parts.iter().sum();
        let part = total.parts.get(mine).copied().unwrap_or(0.0);
        if held <= 0.0 || part <= 0.0 {
            continue;
        }
        let share = allotted.get(key).copied().unwrap_or(0.0) * part / held;
        allowance.rate += share;
        asked += total.demand() * part / held;
        if let Some(group) = key {
            allowance.weights.insert(Arc::from(group.as_str()), share);
        }
    }
    allowance.saturated = asked > allowance.rate * 1.01;
    allowance.yields =
        allowance.saturated && others_within_share(&totals, &allotted, replicas.len(), mine);
    allowance.rate = (allowance.rate * OVERSUBSCRIBE).max(LEAST_RATE);
    allowance
}

/// Whether a replica other than `mine` asks for no more than its parts:
/// one a saturated replica should let go first at the shared limit.
fn others_within_share(
    totals: &HashMap<Option<String>, Total>,
    allotted: &HashMap<Option<String>, f64>,
    replicas: usize,
    mine: usize,
) -> bool {
    (0..replicas).filter(|other| *other != mine).any(|other| {
        let (mut asked, mut given) = (0.0, 0.0);
        for (key, total) in totals {
            let held: f64 = total.parts.iter().sum();
            let part = total.parts.get(other).copied().unwrap_or(0.0);
            if held > 0.0 && part > 0.0 {
                asked += total.demand() * part / held;
                given += allotted.get(key).copied().unwrap_or(0.0) * part / held;
            }
        }
        asked > 0.0 && asked <= given * 1.01
    })
}

/// Each flow's demand summed over replicas.
fn totals(replicas: &[Vec<FlowDemand>]) -> HashMap<Option<String>, Total> {
    let mut totals: HashMap<Option<String>, Total> = HashMap::new();
    for (index, flows) in replicas.iter().enumerate() {
        for flow in flows {
            let total = totals.entry(flow.group.clone()).or_default();
            total.weight = total.weight.max(f64::from(flow.weight));
            total.waiting += f64::from(flow.waiting);
            total.rate += flow.rate;
            total.parts.resize(replicas.len(), 0.0);
            total.parts[index] += f64::from(flow.waiting) + flow.rate;
        }
    }
    totals
}

/// Weighted max-min fair allotments of `rate`, the background lane's floor
/// first; what no one asks for is spread over everyone in proportion.
fn allotments(
    rate: f64,
    background: Background,
    totals: &HashMap<Option<String>, Total>,
) -> HashMap<Option<String>, f64> {
    let mut allotted: HashMap<Option<String>, f64> = HashMap::new();
    let mut capacity = rate;
    let background_total = totals.get(&None);
    if let Some(total) = background_total {
        let floor = total.demand().min(background.floor * rate);
        allotted.insert(None, floor);
        capacity -= floor;
    }
    let mut open: Vec<(Option<String>, f64, f64)> = totals
        .iter()
        .filter(|(key, total)| key.is_some() || total.weight > 0.0)
        .map(|(key, total)| {
            let already = allotted.get(key).copied().unwrap_or(0.0);
            (
                key.clone(),
                total.weight.max(f64::MIN_POSITIVE),
                total.demand() - already,
            )
        })
        .collect();
    while !open.is_empty() && capacity > 0.0 {
        let level = capacity / open.iter().map(|(_, weight, _)| weight).sum::<f64>();
        let (sated, hungry): (Vec<_>, Vec<_>) = open
            .into_iter()
            .partition(|(_, weight, wants)| *wants <= level * weight);
        if sated.is_empty() {
            for (key, weight, _) in hungry {
                *allotted.entry(key).or_default() += level * weight;
            }
            capacity = 0.0;
            break;
        }
        for (key, _, wants) in sated {
            *allotted.entry(key).or_default() += wants;
            capacity -= wants;
        }
        open = hungry;
    }
    if let (Some(total), true) = (background_total, capacity > 0.0) {
        let already = allotted.get(&None).copied().unwrap_or(0.0);
        let extra = (total.demand() - already).clamp(0.0, capacity);
        *allotted.entry(None).or_default() += extra;
        capacity -= extra;
    }
    let sum: f64 = allotted.values().sum();
    if capacity > 0.0 && sum > 0.0 {
        for share in allotted.values_mut() {
            *share *= rate / sum;
        }
    }
    allotted
}

#[cfg(test)]
mod tests;
