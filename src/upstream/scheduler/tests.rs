//! The scheduler's rules, on paused time: one place every 10 ms.
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
        Self::with_background(max_queued, Background { floor, weight: 0 })
    }

    fn with_background(max_queued: usize, background: Background) -> Self {
        let scheduler = Scheduler::new(max_queued, background);
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

#[tokio::test(start_paused = true)]
async fn the_budget_shows_each_flows_weight_share_calls_and_backlog() {
    let harness = Harness::start(1_000, 0.2);
    harness.offer(Some(flow("a", "a", 1)), "a", 100);
    harness.offer(Some(flow("b", "b", 3)), "b", 100);
    harness.offer(None, "background", 100);
    let served = harness.first(100).await;
    let budget = harness.scheduler.budget();
    let row = |name: &str| {
        let row = budget.iter().find(|row| row.flow == name).expect(name);
        (
            row.lane.as_str(),
            row.weight,
            row.calls_last_minute,
            row.waiting,
        )
    };
    let calls = |label: &str| count(&served, label) as u32;
    assert_eq!(
        row("background"),
        (
            "background",
            0,
            calls("background"),
            100 - calls("background")
        )
    );
    assert_eq!(row("a"), ("interactive", 1, calls("a"), 100 - calls("a")));
    assert_eq!(row("b"), ("interactive", 3, calls("b"), 100 - calls("b")));
    let share = |name: &str| {
        budget
            .iter()
            .find(|row| row.flow == name)
            .expect(name)
            .share
    };
    assert_eq!(
        (share("background"), share("a"), share("b")),
        (0.2, 0.8 * 0.25, 0.8 * 0.75)
    );
}

#[tokio::test(start_paused = true)]
async fn with_a_weight_the_background_lane_takes_turns_beyond_its_floor() {
    let background = Background {
        floor: 0.1,
        weight: 1,
    };
    let harness = Harness::with_background(1_000, background);
    harness.offer(Some(flow("team", "team", 1)), "team", 300);
    harness.offer(None, "background", 300);
    let served = harness.first(200).await;
    assert_eq!(
        (count(&served, "team"), count(&served, "background")),
        (100, 100)
    );
}
