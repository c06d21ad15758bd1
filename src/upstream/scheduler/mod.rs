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
//!   `upstream.background_floor`, so snapshots never starve.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, OwnedSemaphorePermit, oneshot};
use tokio::time::Instant;

use super::flow::Flow;

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
}

#[derive(Debug, Default)]
struct State {
    /// By team or role: as many as the settings name.
    groups: HashMap<Arc<str>, Group>,
    background: VecDeque<Grant>,
    /// The pass of the last group served: where a group that was idle
    /// starts.
    virtual_pass: f64,
    /// Whether each recent place went to the background lane.
    recent: VecDeque<bool>,
}

/// One account's queues.
#[derive(Debug)]
pub(super) struct Scheduler {
    state: Mutex<State>,
    waiting: Notify,
    max_queued: usize,
    background_floor: f64,
}

impl Scheduler {
    pub(super) fn new(max_queued: usize, background_floor: f64) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::default(),
            waiting: Notify::new(),
            max_queued: max_queued.max(1),
            background_floor,
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
                let Some(grant) = self.next() else { break };
                match grant.send(place) {
                    Ok(()) => break,
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

    /// The next call to serve, by the rules above.
    fn next(&self) -> Option<Grant> {
        let mut state = self.lock();
        loop {
            let interactive = state.groups.values().any(|group| !group.members.is_empty());
            let background = !state.background.is_empty();
            if !interactive && !background {
                return None;
            }
            let recent = state.recent.len().max(1) as f64;
            let background_share =
                state.recent.iter().filter(|went| **went).count() as f64 / recent;
            let to_background =
                background && (!interactive || background_share < self.background_floor);
            let grant = if to_background {
                state.background.pop_front()
            } else {
                state.next_interactive()
            };
            let Some(grant) = grant else { continue };
            if grant.is_closed() {
                continue;
            }
            state.recent.push_back(to_background);
            if state.recent.len() > RECENT_PLACES {
                state.recent.pop_front();
            }
            return Some(grant);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// The backlogged group with the lowest pass serves its next member.
    fn next_interactive(&mut self) -> Option<Grant> {
        let name = self
            .groups
            .iter()
            .filter(|(_, group)| !group.members.is_empty())
            .min_by(|(a_name, a), (b_name, b)| a.pass.total_cmp(&b.pass).then(a_name.cmp(b_name)))
            .map(|(name, _)| Arc::clone(name))?;
        let group = self.groups.get_mut(&name)?;
        self.virtual_pass = group.pass;
        group.pass += 1.0 / f64::from(group.weight);
        let (member, mut queue) = group.members.pop_front()?;
        let grant = queue.pop_front();
        if !queue.is_empty() {
            group.members.push_back((member, queue));
        }
        grant
    }
}

#[cfg(test)]
mod tests;
