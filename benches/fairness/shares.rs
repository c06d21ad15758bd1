//! Shares between teams: a light team beside a heavy one (in one process
//! or across three replicas), and three backlogged teams by weight.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use remotepc_gateway::upstream::Endpoint;

use super::{LATENCY, Setup, comment, keep_busy, percentile};

const RATE: u32 = 10;

/// With `replicas` (a Redis URL): three gateways, the heavy team writing
/// through the first two, the light one through the third.
pub(super) async fn light_beside_heavy(seconds: u64, replicas: Option<String>) {
    let setup = Setup {
        devices: 200,
        rate: Some(RATE),
        teams: vec![("heavy", 1), ("light", 1)],
        replicas: replicas.map(|redis| (3, redis)),
        cache_ttl: None,
    };
    let gateways = setup.start().await;
    let (heavy_urls, light_url) = match gateways.urls.as_slice() {
        [only] => (vec![only.clone()], only.clone()),
        [first, second, third, ..] => (vec![first.clone(), second.clone()], third.clone()),
        _ => unreachable!("one or three gateways"),
    };
    let http = reqwest::Client::new();
    let hosts = gateways.hosts();
    let stop = Arc::new(AtomicBool::new(false));
    let heavy = keep_busy(
        &http,
        &heavy_urls,
        "heavy",
        Arc::clone(&hosts),
        20,
        Arc::clone(&stop),
    );
    // The heavy team's backlog is built once RemotePC has seen its calls.
    gateways.until_calls(2 * RATE as usize, RATE).await;
    let started = Instant::now();
    let before = gateways.sim.calls(Endpoint::CommentAdd);
    let mut light = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    while started.elapsed() < Duration::from_secs(seconds) {
        ticker.tick().await;
        let (http, url, host) = (
            http.clone(),
            light_url.clone(),
            hosts[light.len() % hosts.len()].clone(),
        );
        let index = light.len();
        light.push(tokio::spawn(async move {
            comment(&http, &url, "light", &host, &format!("light {index}")).await
        }));
    }
    let mut waits = Vec::new();
    let mut failed = 0;
    for task in light {
        let (took, ok) = task.await.expect("task");
        failed += usize::from(!ok);
        waits.push(took);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let sent = gateways.sim.calls(Endpoint::CommentAdd) - before;
    let used = sent as f64 / (f64::from(RATE) * elapsed);
    stop.store(true, Ordering::Relaxed);
    waits.sort();
    let case = if gateways.urls.len() == 1 {
        "one process"
    } else {
        "3 replicas"
    };
    println!(
        "| light beside heavy, {case} ({seconds} s) | light queue wait p50 {:?}, p99 {:?} (RemotePC's 100 ms taken off); {failed} of {} failed | light {} calls, heavy {} | {:.0} % |",
        percentile(&waits, 0.5).saturating_sub(LATENCY),
        percentile(&waits, 0.99).saturating_sub(LATENCY),
        waits.len(),
        gateways.calls_of("light"),
        gateways.calls_of("heavy"),
        used * 100.0
    );
    for task in heavy {
        task.abort();
    }
}

pub(super) async fn weights(seconds: u64) {
    let setup = Setup {
        devices: 200,
        rate: Some(RATE),
        teams: vec![("one", 1), ("two", 2), ("three", 1)],
        replicas: None,
        cache_ttl: None,
    };
    let gateways = setup.start().await;
    let http = reqwest::Client::new();
    let hosts = gateways.hosts();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for team in ["one", "two", "three"] {
        tasks.extend(keep_busy(
            &http,
            &gateways.urls,
            team,
            Arc::clone(&hosts),
            10,
            Arc::clone(&stop),
        ));
    }
    // The window is counted in calls: the budget of `seconds`.
    gateways
        .until_calls(seconds as usize * RATE as usize, RATE)
        .await;
    stop.store(true, Ordering::Relaxed);
    let counts = ["one", "two", "three"].map(|team| gateways.calls_of(team));
    let total: usize = counts.iter().sum();
    let share = |count: usize| count as f64 * 100.0 / total.max(1) as f64;
    println!(
        "| weights 1:2:1 ({seconds} s) | {:.1} % / {:.1} % / {:.1} % | {total} calls | |",
        share(counts[0]),
        share(counts[1]),
        share(counts[2])
    );
    for task in tasks {
        task.abort();
    }
}
