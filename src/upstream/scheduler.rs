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
mod tests {
    use std::time::Duration;

    use tokio::sync::Semaphore;

    use super::*;

    fn flow(group: &str, member: &str, weight: u32) -> Flow {
        Flow {
            group: Arc::from(group),
            member: Arc::from(member),
            weight,
        }
    }

    /// A scheduler handing out one place every 10 ms (paused time), and
    /// the order in which queued calls got theirs.
    struct Harness {
        scheduler: Arc<Scheduler>,
        served: Arc<Mutex<Vec<String>>>,
    }

    impl Harness {
        fn start(max_queued: usize, floor: f64) -> Self {
            let scheduler = Scheduler::new(max_queued, floor);
            let places = Arc::new(Semaphore::new(Semaphore::MAX_PERMITS));
            let ticker = Arc::new(tokio::sync::Mutex::new(tokio::time::interval_at(
                Instant::now() + Duration::from_millis(10),
                Duration::from_millis(10),
            )));
            let source = Arc::clone(&places);
            tokio::spawn(Arc::clone(&scheduler).dispatch(move || {
                let (ticker, source) = (Arc::clone(&ticker), Arc::clone(&source));
                async move {
                    ticker.lock().await.tick().await;
                    source.acquire_owned().await.expect("open")
                }
            }));
            Self {
                scheduler,
                served: Arc::default(),
            }
        }

        /// Queues `count` calls of `flow` (`None`: background), labelled.
        fn offer(&self, flow: Option<Flow>, label: &str, count: usize) {
            for _ in 0..count {
                let (scheduler, served) = (Arc::clone(&self.scheduler), Arc::clone(&self.served));
                let (flow, label) = (flow.clone(), label.to_owned());
                tokio::spawn(async move {
                    let deadline = Instant::now() + Duration::from_secs(3600);
                    if scheduler.queue(flow.as_ref(), deadline).await.is_ok() {
                        served.lock().unwrap_or_else(|p| p.into_inner()).push(label);
                    }
                });
            }
        }

        /// The labels of the first `places` calls served.
        async fn first(&self, places: usize) -> Vec<String> {
            tokio::time::sleep(Duration::from_millis(10 * places as u64 + 5)).await;
            let served = self
                .served
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            served.into_iter().take(places).collect()
        }
    }

    fn count(served: &[String], label: &str) -> usize {
        served.iter().filter(|served| *served == label).count()
    }

    #[tokio::test(start_paused = true)]
    async fn backlogged_teams_share_places_by_weight() {
        let harness = Harness::start(1_000, 0.1);
        harness.offer(Some(flow("a", "a", 1)), "a", 400);
        harness.offer(Some(flow("b", "b", 2)), "b", 400);
        harness.offer(Some(flow("c", "c", 1)), "c", 400);
        let served = harness.first(400).await;
        assert_eq!(
            (
                count(&served, "a"),
                count(&served, "b"),
                count(&served, "c")
            ),
            (100, 200, 100)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_light_flows_call_goes_next_beside_a_heavy_backlog() {
        let harness = Harness::start(1_000, 0.1);
        harness.offer(Some(flow("bulk", "bulk", 1)), "bulk", 500);
        harness.first(50).await;
        harness.offer(Some(flow("helpdesk", "pat", 1)), "helpdesk", 1);
        let served = harness.first(53).await;
        let at = served.iter().position(|label| label == "helpdesk");
        assert!(
            at.is_some_and(|at| at <= 51),
            "the light call waited behind the backlog: {at:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn alone_a_flow_takes_every_place_and_its_queue_is_bounded() {
        let harness = Harness::start(5, 0.1);
        harness.offer(Some(flow("only", "only", 1)), "only", 5);
        tokio::task::yield_now().await;
        let refused = harness
            .scheduler
            .queue(
                Some(&flow("only", "only", 1)),
                Instant::now() + Duration::from_secs(60),
            )
            .await;
        assert_eq!(refused.err(), Some(NotQueued::QueueFull));
        assert_eq!(harness.first(5).await, vec!["only"; 5]);
    }

    #[tokio::test(start_paused = true)]
    async fn background_keeps_its_floor_and_otherwise_uses_what_is_left() {
        let harness = Harness::start(1_000, 0.2);
        harness.offer(Some(flow("team", "team", 1)), "team", 300);
        harness.offer(None, "background", 300);
        let served = harness.first(200).await;
        let background = count(&served, "background");
        assert!(
            (38..=42).contains(&background),
            "{background} of 200 to the background lane"
        );
        let late = Harness::start(1_000, 0.2);
        late.offer(None, "background", 20);
        assert_eq!(
            count(&late.first(20).await, "background"),
            20,
            "alone, it takes all"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn people_of_one_role_take_turns_within_its_share() {
        let harness = Harness::start(1_000, 0.1);
        harness.offer(Some(flow("corp/helpdesk", "pat", 2)), "pat", 100);
        harness.offer(Some(flow("corp/helpdesk", "sam", 2)), "sam", 100);
        harness.offer(Some(flow("ops", "ops", 1)), "ops", 100);
        let served = harness.first(150).await;
        assert_eq!(
            (
                count(&served, "pat"),
                count(&served, "sam"),
                count(&served, "ops")
            ),
            (50, 50, 50)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_waits_past_its_deadline_is_refused_and_skipped() {
        let harness = Harness::start(1_000, 0.1);
        harness.offer(Some(flow("bulk", "bulk", 1)), "bulk", 100);
        let refused = harness
            .scheduler
            .queue(
                Some(&flow("bulk", "bulk", 1)),
                Instant::now() + Duration::from_millis(5),
            )
            .await;
        assert_eq!(refused.err(), Some(NotQueued::TimedOut));
        assert_eq!(harness.first(100).await.len(), 100);
    }
}
