//! The fair scheduler in front of one account's RemotePC calls. Calls wait
//! in their flow's queue (bounded by `upstream.max_queued_per_flow`, each
//! for at most `upstream.queue_timeout`); a dispatcher hands each free
//! place (a token of the account's rate and a slot under
//! `upstream.max_concurrent`) to the next call:
//! - among teams and roles, stride scheduling: each backlogged group has a
//!   pass that grows by 1/weight per call, the lowest goes next, and a
//!   group that was idle starts level with the others (no saved credit);
//!   alone, a group takes every place (work-conserving);
//! - within a role, its people take turns;
//! - the background lane (the gateway's own reads) gets a place when no
//!   one else waits, and whenever its share of recent places is below
//!   `upstream.background_floor`, so snapshots never starve; with an
//!   `upstream.background_weight` above 0 it also takes turns with the
//!   groups as one more group of that weight.
//!
//! It also counts each group's calls of the last minute (`budget`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, OwnedSemaphorePermit, oneshot};
use tokio::time::Instant;

use super::flow::Flow;
use recent::RecentCalls;

mod budget;
mod recent;
pub(super) use budget::FlowDemand;
pub use budget::{FlowBudget, UpstreamBudget};

/// Places remembered to judge the background lane's recent share.
const RECENT_PLACES: usize = 50;

/// Why a call was not given a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NotQueued {
    /// Its flow already had `upstream.max_queued_per_flow` calls waiting.
    QueueFull,
    /// It waited `upstream.queue_timeout`.
    TimedOut,
}

impl NotQueued {
    /// The setting that refused it.
    pub(super) fn setting(self) -> &'static str {
        match self {
            NotQueued::QueueFull => "upstream.max_queued_per_flow",
            NotQueued::TimedOut => "upstream.queue_timeout",
        }
    }
}

type Grant = oneshot::Sender<OwnedSemaphorePermit>;

#[derive(Debug, Default)]
struct Group {
    weight: u32,
    pass: f64,
    /// Members with calls waiting, in turn order.
    members: VecDeque<(Arc<str>, VecDeque<Grant>)>,
    placed: RecentCalls,
}

impl Group {
    fn waiting(&self) -> usize {
        self.members.iter().map(|(_, queue)| queue.len()).sum()
    }
}

#[derive(Debug, Default)]
struct State {
    /// By team or role: as many as the settings name.
    groups: HashMap<Arc<str>, Group>,
    background: VecDeque<Grant>,
    /// The background lane's pass, when it takes turns by weight.
    background_pass: f64,
    background_placed: RecentCalls,
    /// The pass of the last group served: where a group that was idle
    /// starts.
    virtual_pass: f64,
    /// With replicas, the weights that give each group here its part of
    /// what the cluster allots it (`sharing`); else the settings' weights.
    cluster_weights: HashMap<Arc<str>, f64>,
    /// Whether each recent place went to the background lane.
    recent: VecDeque<bool>,
}

/// One account's queues.
#[derive(Debug)]
pub(super) struct Scheduler {
    state: Mutex<State>,
    waiting: Notify,
    max_queued: usize,
    background: Background,
    /// Where the seconds of `RecentCalls` count from.
    started: Instant,
}

/// What the background lane is due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Background {
    /// `upstream.background_floor`.
    pub(super) floor: f64,
    /// `upstream.background_weight`; 0: only the floor and what is left.
    pub(super) weight: u32,
}

impl Scheduler {
    pub(super) fn new(max_queued: usize, background: Background) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::default(),
            waiting: Notify::new(),
            max_queued: max_queued.max(1),
            background,
            started: Instant::now(),
        })
    }

    /// Waits in `flow`'s queue (the background lane for `None`) until the
    /// dispatcher hands this call a place, or until `deadline`.
    pub(super) async fn queue(
        &self,
        flow: Option<&Flow>,
        deadline: Instant,
    ) -> Result<OwnedSemaphorePermit, NotQueued> {
        let (grant, granted) = oneshot::channel();
        self.enqueue(flow, grant)?;
        self.waiting.notify_one();
        match tokio::time::timeout_at(deadline, granted).await {
            Ok(Ok(place)) => Ok(place),
            // The dispatcher skips a waiter that is gone.
            Ok(Err(_)) | Err(_) => Err(NotQueued::TimedOut),
        }
    }

    fn enqueue(&self, flow: Option<&Flow>, grant: Grant) -> Result<(), NotQueued> {
        let mut state = self.lock();
        let Some(flow) = flow else {
            if state.background.len() >= self.max_queued {
                return Err(NotQueued::QueueFull);
            }
            if state.background.is_empty() {
                state.background_pass = state.background_pass.max(state.virtual_pass);
            }
            state.background.push_back(grant);
            return Ok(());
        };
        let start = state.virtual_pass;
        let group = state.groups.entry(Arc::clone(&flow.group)).or_default();
        group.weight = flow.weight.max(1);
        if group.members.is_empty() {
            group.pass = group.pass.max(start);
        }
        match group
            .members
            .iter_mut()
            .find(|(member, _)| *member == flow.member)
        {
            Some((_, queue)) if queue.len() >= self.max_queued => Err(NotQueued::QueueFull),
            Some((_, queue)) => {
                queue.push_back(grant);
                Ok(())
            }
            None => {
                group
                    .members
                    .push_back((Arc::clone(&flow.member), VecDeque::from([grant])));
                Ok(())
            }
        }
    }

    /// Hands places to waiting calls until aborted (the gate aborts it
    /// when dropped): `take_place` waits for a slot and a token of the
    /// rate, taken only once someone waits, so the choice of who goes is
    /// made when the place is free.
    pub(super) async fn dispatch<F, Fut>(self: Arc<Self>, take_place: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = OwnedSemaphorePermit>,
    {
        loop {
            let notified = self.waiting.notified();
            if !self.has_waiters() {
                notified.await;
                continue;
            }
            let mut place = take_place().await;
            loop {
                let Some((grant, group)) = self.next() else {
                    break;
                };
                match grant.send(place) {
                    Ok(()) => {
                        self.placed(group.as_ref());
                        break;
                    }
                    // It stopped waiting: the place goes to the next.
                    Err(returned) => place = returned,
                }
            }
        }
    }

    fn has_waiters(&self) -> bool {
        let state = self.lock();
        !state.background.is_empty() || state.groups.values().any(|group| !group.members.is_empty())
    }

    /// The next call to serve, by the rules above, and its group (`None`:
    /// the background lane).
    fn next(&self) -> Option<(Grant, Option<Arc<str>>)> {
        let mut state = self.lock();
        loop {
            let lowest_pass = state
                .groups
                .values()
                .filter(|group| !group.members.is_empty())
                .map(|group| group.pass)
                .min_by(f64::total_cmp);
            let background = !state.background.is_empty();
            if lowest_pass.is_none() && !background {
                return None;
            }
            let recent = state.recent.len().max(1) as f64;
            let background_share =
                state.recent.iter().filter(|went| **went).count() as f64 / recent;
            let its_turn = lowest_pass
                .is_none_or(|lowest| self.background.weight > 0 && state.background_pass <= lowest);
            let to_background =
                background && (its_turn || background_share < self.background.floor);
            let served = if to_background {
                state.next_background(self.background.weight)
            } else {
                state.next_interactive()
            };
            let Some((grant, group)) = served else {
                continue;
            };
            if grant.is_closed() {
                continue;
            }
            state.recent.push_back(to_background);
            if state.recent.len() > RECENT_PLACES {
                state.recent.pop_front();
            }
            return Some((grant, group));
        }
    }

    /// What the background lane is due.
    pub(super) fn background(&self) -> Background {
        self.background
    }

    /// With replicas: the weights to take turns by, from what the cluster
    /// allots each group here; empty: the settings' weights.
    pub(super) fn weigh_by(&self, weights: HashMap<Arc<str>, f64>) {
        self.lock().cluster_weights = weights;
    }

    /// Counts a place handed to `group`'s call (`None`: background).
    fn placed(&self, group: Option<&Arc<str>>) {
        let second = self.started.elapsed().as_secs();
        let mut state = self.lock();
        match group.and_then(|group| state.groups.get_mut(group)) {
            Some(group) => group.placed.add(second),
            None => state.background_placed.add(second),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// The background lane's next call; with a weight, its pass moves as a
    /// group's does.
    fn next_background(&mut self, weight: u32) -> Option<(Grant, Option<Arc<str>>)> {
        if weight > 0 {
            self.background_pass += 1.0 / f64::from(weight);
        }
        self.background.pop_front().map(|grant| (grant, None))
    }

    /// The backlogged group with the lowest pass serves its next member.
    fn next_interactive(&mut self) -> Option<(Grant, Option<Arc<str>>)> {
        let name = self
            .groups
            .iter()
            .filter(|(_, group)| !group.members.is_empty())
            .min_by(|(a_name, a), (b_name, b)| a.pass.total_cmp(&b.pass).then(a_name.cmp(b_name)))
            .map(|(name, _)| Arc::clone(name))?;
        let weight = self
            .cluster_weights
            .get(&name)
            .copied()
            .filter(|weight| *weight > 0.0);
        let group = self.groups.get_mut(&name)?;
        self.virtual_pass = group.pass;
        group.pass += 1.0 / weight.unwrap_or(f64::from(group.weight));
        let (member, mut queue) = group.members.pop_front()?;
        let grant = queue.pop_front();
        if !queue.is_empty() {
            group.members.push_back((member, queue));
        }
        grant.map(|grant| (grant, Some(name)))
    }
}

#[cfg(test)]
mod tests;
