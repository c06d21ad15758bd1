//! The egress under pressure: the gateway's own refresh of a large
//! snapshot beside a person's writes, and RemotePC's own rate limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use super::{LATENCY, Setup, comment, percentile, token};

const COUNT: &str = "{ devices(first: 1) { totalCount } }";

async fn read(http: &reqwest::Client, url: &str, team: &str) -> (Duration, Value) {
    let started = Instant::now();
    let body = http
        .post(url)
        .bearer_auth(token(team))
        .json(&json!({ "query": COUNT }))
        .send()
        .await
        .expect("answered")
        .json::<Value>()
        .await
        .expect("JSON");
    (started.elapsed(), body)
}

/// A 100,000-device snapshot refreshing (200 list calls, served stale
/// meanwhile) at default limits while a person writes every 500 ms.
pub(super) async fn background_refresh() {
    let setup = Setup {
        devices: 100_000,
        rate: None,
        teams: vec![("helpdesk", 1)],
        replicas: None,
        cache_ttl: Some(Duration::from_secs(5)),
    };
    let gateways = setup.start().await;
    let (http, url) = (reqwest::Client::new(), gateways.urls[0].clone());
    let (_, cold) = read(&http, &url, "helpdesk").await;
    assert_eq!(cold["data"]["devices"]["totalCount"], 100_000, "{cold}");
    let pages = gateways.sim.calls(Endpoint::ComputerList);
    // Read until a read is served stale: that read starts the refresh.
    let mut every = tokio::time::interval(Duration::from_millis(250));
    loop {
        every.tick().await;
        let (_, body) = read(&http, &url, "helpdesk").await;
        if body["extensions"]["cache"]["devices"]["stale"] == true {
            break;
        }
    }
    let started = Instant::now();
    let hosts = gateways.hosts();
    let mut writes = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    while gateways.sim.calls(Endpoint::ComputerList) < 2 * pages {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the refresh finishes"
        );
        ticker.tick().await;
        let (http, url, host) = (http.clone(), url.clone(), hosts[writes.len()].clone());
        let text = format!("helpdesk {}", writes.len());
        writes.push(tokio::spawn(async move {
            comment(&http, &url, "helpdesk", &host, &text).await
        }));
    }
    let refreshed = started.elapsed();
    let mut waits = Vec::new();
    for write in writes {
        waits.push(write.await.expect("task").0);
    }
    waits.sort();
    println!(
        "| a write every 500 ms while 100,000 devices refresh (defaults: 20/s, burst 40) | write queue wait p50 {:?}, p99 {:?} ({} writes) | refresh: {} list calls in {:.1} s | |",
        percentile(&waits, 0.5).saturating_sub(LATENCY),
        percentile(&waits, 0.99).saturating_sub(LATENCY),
        waits.len(),
        gateways.sim.calls(Endpoint::ComputerList) - pages,
        refreshed.as_secs_f64(),
    );
}

/// The simulator answers 429 past 8 calls a second; the gateway is set to
/// 20. Twenty writers for `seconds`; every 500 ms a query and `/readyz`.
pub(super) async fn vendor_limit(seconds: u64) {
    let setup = Setup {
        devices: 200,
        rate: None,
        teams: vec![("heavy", 1)],
        replicas: None,
        cache_ttl: None,
    };
    let gateways = setup.start().await;
    let (http, url) = (reqwest::Client::new(), gateways.urls[0].clone());
    read(&http, &url, "heavy").await;
    gateways.sim.limit_rate(Some(8));
    let hosts = gateways.hosts();
    let answered: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let writers: Vec<_> = (0..20)
        .map(|worker| {
            let (http, url, hosts, answered) = (
                http.clone(),
                url.clone(),
                Arc::clone(&hosts),
                Arc::clone(&answered),
            );
            tokio::spawn(async move {
                let mut round = 0;
                while Instant::now() < deadline {
                    let text = format!("heavy {worker} {round}");
                    let host = &hosts[(worker + round) % hosts.len()];
                    let (_, ok) = comment(&http, &url, "heavy", host, &text).await;
                    answered.lock().expect("lock").push((text, ok));
                    round += 1;
                }
            })
        })
        .collect();
    let readyz = url.replace("/graphql", "/readyz");
    let (mut per_second, mut rates, mut reads) = (Vec::new(), Vec::new(), Vec::new());
    let mut sent_before = gateways.sim.calls(Endpoint::CommentAdd);
    let mut every = tokio::time::interval(Duration::from_millis(500));
    for tick in 0..seconds * 2 {
        every.tick().await;
        let (took, body) = read(&http, &url, "heavy").await;
        reads.push((took, body["data"]["devices"]["totalCount"] == 200));
        let health: Value = http
            .get(&readyz)
            .send()
            .await
            .expect("readyz")
            .json()
            .await
            .expect("JSON");
        let in_force = health["accounts"]["default"]["rateInForce"]
            .as_f64()
            .unwrap_or(f64::NAN);
        if tick % 2 == 1 {
            let sent = gateways.sim.calls(Endpoint::CommentAdd);
            per_second.push(sent - sent_before);
            sent_before = sent;
        }
        rates.push(in_force);
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let mut times_sent: HashMap<String, usize> = HashMap::new();
    for call in gateways.sim.requests(Endpoint::CommentAdd) {
        if let Some(text) = call.body["comment_desc"].as_str() {
            *times_sent.entry(text.to_owned()).or_default() += 1;
        }
    }
    let answered = answered.lock().expect("lock").clone();
    let ok = answered.iter().filter(|(_, ok)| *ok).count();
    let lost = answered
        .iter()
        .filter(|(text, ok)| *ok && !times_sent.contains_key(text))
        .count();
    let twice = times_sent.values().filter(|times| **times > 1).count();
    let settled = &per_second[10.min(per_second.len())..];
    let mean = settled.iter().sum::<u64>() as f64 / settled.len().max(1) as f64;
    let late_rates = &rates[20.min(rates.len())..];
    let (low, high) = late_rates
        .iter()
        .fold((f64::MAX, 0.0_f64), |(low, high), rate| {
            (low.min(*rate), high.max(*rate))
        });
    let served = reads.iter().filter(|(_, ok)| *ok).count();
    let mut read_times: Vec<Duration> = reads.iter().map(|(took, _)| *took).collect();
    read_times.sort();
    println!(
        "| vendor 429 at 8/s, gateway set to 20/s ({seconds} s) | after 10 s: {mean:.1} calls/s sent (max {} in a second), rate in force {low:.1}–{high:.1}/s; {served} of {} queries served (p99 {:?}) | {} writes answered, {ok} ok; {lost} ok but unsent; {twice} sent twice | |",
        settled.iter().max().copied().unwrap_or(0),
        reads.len(),
        percentile(&read_times, 0.99),
        answered.len(),
    );
}
