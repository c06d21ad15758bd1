//! What the scheduler shows of itself (`upstreamBudget`): per flow its
//! weight, the share it is due, its calls of the last minute and the calls
//! it has waiting.

use super::Scheduler;
use crate::upstream::flow::{BACKGROUND, Lane};

/// One account's budget of RemotePC calls, as this replica shares it out.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamBudget {
    /// `upstream.rate_per_second` (this replica's part, with replicas).
    pub rate_per_second: u32,
    /// The rate in force now: lower while RemotePC answers 429.
    pub rate_in_force: f64,
    /// `upstream.max_concurrent`.
    pub max_concurrent: u32,
    /// Slots under `max_concurrent` taken: calls sent and not yet
    /// answered, and the one given its slot while it waits for the rate.
    pub in_flight: u32,
    /// The background lane, then every flow that has queued a call.
    pub flows: Vec<FlowBudget>,
}

/// One flow's part of the account's budget.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowBudget {
    /// The team, the `<provider>/<role>`, or `background`.
    pub flow: String,
    /// Whose calls it carries.
    pub lane: Lane,
    /// Its `upstream_weight` (`upstream.background_weight` for the
    /// background lane).
    pub weight: u32,
    /// The fraction of places it is due while every flow active in the
    /// last minute keeps asking (itself counted as active); alone, 1.
    pub share: f64,
    /// Places it was handed in the last minute.
    pub calls_last_minute: u32,
    /// Calls waiting for a place now.
    pub waiting: u32,
}

/// What one replica's flows ask for, for sharing the account's rate
/// between replicas.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(in crate::upstream) struct FlowDemand {
    /// The team or `<provider>/<role>`; `None`: the background lane.
    #[serde(rename = "g")]
    pub(in crate::upstream) group: Option<String>,
    #[serde(rename = "w")]
    pub(in crate::upstream) weight: u32,
    /// Calls waiting now.
    #[serde(rename = "q")]
    pub(in crate::upstream) waiting: u32,
    /// Places per second it took lately.
    #[serde(rename = "r")]
    pub(in crate::upstream) rate: f64,
}

/// One flow's figures, as both views of them need.
struct Row {
    /// `None`: the background lane.
    group: Option<String>,
    weight: u32,
    waiting: u32,
    last_minute: u32,
    rate: f64,
}

impl Scheduler {
    /// The background lane, then every group that has queued a call.
    fn rows(&self) -> Vec<Row> {
        let second = self.started.elapsed().as_secs();
        let mut state = self.lock();
        let count = |waiting: usize| u32::try_from(waiting).unwrap_or(u32::MAX);
        let waiting = count(state.background.len());
        let placed = &mut state.background_placed;
        let mut rows = vec![Row {
            group: None,
            weight: self.background.weight,
            waiting,
            last_minute: placed.last_minute(second),
            rate: placed.rate_before(second),
        }];
        for (name, group) in &mut state.groups {
            rows.push(Row {
                group: Some(name.to_string()),
                weight: group.weight,
                waiting: count(group.waiting()),
                last_minute: group.placed.last_minute(second),
                rate: group.placed.rate_before(second),
            });
        }
        rows
    }

    /// The flows that have calls waiting or took places lately.
    pub(in crate::upstream) fn demand(&self) -> Vec<FlowDemand> {
        self.rows()
            .into_iter()
            .filter(|row| row.waiting > 0 || row.rate > 0.0)
            .map(|row| FlowDemand {
                group: row.group,
                weight: row.weight,
                waiting: row.waiting,
                rate: row.rate,
            })
            .collect()
    }

    /// Every flow that has queued a call since the gateway started, the
    /// background lane first.
    pub(in crate::upstream) fn budget(&self) -> Vec<FlowBudget> {
        let mut flows: Vec<FlowBudget> = self
            .rows()
            .into_iter()
            .map(|row| FlowBudget {
                lane: if row.group.is_some() {
                    Lane::Interactive
                } else {
                    Lane::Background
                },
                flow: row.group.unwrap_or_else(|| BACKGROUND.to_owned()),
                weight: row.weight,
                share: 0.0,
                calls_last_minute: row.last_minute,
                waiting: row.waiting,
            })
            .collect();
        flows[1..].sort_by(|a, b| a.flow.cmp(&b.flow));
        self.share_out(&mut flows);
        flows
    }

    /// Each flow's due share: the background lane its floor (or its weight's
    /// part, if more), the groups the rest by weight.
    fn share_out(&self, flows: &mut [FlowBudget]) {
        let active = |flow: &FlowBudget| flow.waiting > 0 || flow.calls_last_minute > 0;
        let weight_of = |flow: &FlowBudget| f64::from(flow.weight);
        let active_weight: f64 = flows[1..].iter().filter(|f| active(f)).map(weight_of).sum();
        let background_part = |interactive_weight: f64| {
            if interactive_weight == 0.0 {
                return 1.0;
            }
            let by_weight = weight_of(&flows[0]) / (weight_of(&flows[0]) + interactive_weight);
            self.background.floor.max(by_weight).min(1.0)
        };
        let background_active = active(&flows[0]);
        let shares: Vec<f64> = flows
            .iter()
            .enumerate()
            .map(|(index, flow)| {
                if index == 0 {
                    return background_part(active_weight);
                }
                let weight = active_weight + if active(flow) { 0.0 } else { weight_of(flow) };
                let left = if background_active {
                    1.0 - background_part(weight)
                } else {
                    1.0
                };
                left * weight_of(flow) / weight.max(1.0)
            })
            .collect();
        for (flow, share) in flows.iter_mut().zip(shares) {
            flow.share = share;
        }
    }
}
