//! Allotments across replicas, computed as every replica computes them.

use super::*;

const NO_BACKGROUND_WEIGHT: Background = Background {
    floor: 0.1,
    weight: 0,
};

fn flow(group: Option<&str>, weight: u32, waiting: u32, rate: f64) -> FlowDemand {
    FlowDemand {
        group: group.map(str::to_owned),
        weight,
        waiting,
        rate,
    }
}

fn rounded(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Each replica's allotment (what it paces at, less the oversubscription).
fn rates(replicas: &[Vec<FlowDemand>]) -> Vec<f64> {
    (0..replicas.len())
        .map(|mine| {
            let pace = allot(10.0, NO_BACKGROUND_WEIGHT, replicas, mine).rate;
            rounded((pace / OVERSUBSCRIBE).max(LEAST_RATE))
        })
        .collect()
}

#[test]
fn a_light_flow_on_one_replica_gets_what_it_uses_and_the_heavy_one_the_rest() {
    let replicas = vec![
        vec![flow(Some("heavy"), 1, 20, 8.0)],
        vec![flow(Some("light"), 1, 0, 2.0)],
    ];
    assert_eq!(rates(&replicas), vec![7.7, 2.3]);
    let held = |mine| {
        let allowance = allot(10.0, NO_BACKGROUND_WEIGHT, &replicas, mine);
        (allowance.saturated, allowance.yields)
    };
    assert_eq!(
        (held(0), held(1)),
        ((true, true), (false, false)),
        "the heavy replica asks for more than it gets, and yields to the light one"
    );
    let waiting = vec![
        vec![flow(Some("heavy"), 1, 20, 8.0)],
        vec![flow(Some("light"), 1, 1, 2.0)],
    ];
    assert_eq!(
        rates(&waiting),
        vec![6.7, 3.3],
        "what waits is asked for too"
    );
}

#[test]
fn weights_hold_across_replicas() {
    let replicas = vec![
        vec![flow(Some("two"), 2, 50, 5.0)],
        vec![flow(Some("one"), 1, 50, 5.0)],
    ];
    assert_eq!(rates(&replicas), vec![6.667, 3.333]);
    let held = |mine| {
        let allowance = allot(10.0, NO_BACKGROUND_WEIGHT, &replicas, mine);
        (allowance.saturated, allowance.yields)
    };
    assert_eq!(
        (held(0), held(1)),
        ((true, false), (true, false)),
        "both paced to their parts; neither has anyone to yield to"
    );
}

#[test]
fn a_flow_on_two_replicas_is_split_between_them_and_weighs_its_part_on_each() {
    let replicas = vec![
        vec![flow(Some("x"), 1, 10, 0.0), flow(Some("y"), 1, 10, 0.0)],
        vec![flow(Some("x"), 1, 10, 0.0)],
    ];
    assert_eq!(rates(&replicas), vec![7.5, 2.5]);
    let first = allot(10.0, NO_BACKGROUND_WEIGHT, &replicas, 0);
    assert_eq!(
        (first.weights["x"], first.weights["y"]),
        (2.5, 5.0),
        "y has a whole share here, x half of its own"
    );
}

#[test]
fn the_background_lane_keeps_its_floor_and_takes_what_is_left() {
    let starving = vec![
        vec![flow(None, 0, 100, 1.0)],
        vec![flow(Some("team"), 1, 100, 9.0)],
    ];
    assert_eq!(rates(&starving), vec![1.0, 9.0]);
    let quiet = vec![
        vec![flow(None, 0, 100, 1.0)],
        vec![flow(Some("team"), 1, 0, 1.0)],
    ];
    assert_eq!(rates(&quiet), vec![8.8, 1.2]);
}

#[test]
fn alone_a_replica_may_use_the_whole_rate_and_an_idle_one_the_least() {
    let replicas = vec![vec![flow(Some("light"), 1, 0, 2.0)], vec![]];
    assert_eq!(rates(&replicas), vec![10.0, LEAST_RATE]);
}
