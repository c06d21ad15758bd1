//! Graceful shutdown: requests in flight finish, new ones are refused, and
//! a request that never finishes does not hold the process past the grace.

use std::time::Duration;

use remotepc_gateway::App;
use remotepc_gateway::simulator::{Fault, Simulator, SimulatorConfig};
use remotepc_gateway::upstream::Endpoint;
use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, temp_store_path, test_settings, until_called};

async fn app(sim: &Simulator, grace: Duration) -> App {
    let mut settings = test_settings(sim, &temp_store_path());
    settings.server.shutdown_grace = grace;
    settings.upstream.request_timeout = Duration::from_secs(30);
    settings.server.request_timeout = Duration::from_secs(60);
    settings.server.idle_timeout = Duration::from_secs(90);
    App::build(settings).await.expect("gateway starts")
}

async fn query(url: &str) -> reqwest::Result<serde_json::Value> {
    reqwest::Client::new()
        .post(url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "query": "{ devices(first: 1) { totalCount } }" }))
        .send()
        .await?
        .json()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_at_shutdown_is_completed() {
    let sim = Simulator::start(SimulatorConfig {
        latency: Duration::from_millis(300),
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator");
    let app = app(&sim, Duration::from_secs(10)).await;
    let url = format!("http://{}/graphql", app.addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));

    let in_flight = tokio::spawn({
        let url = url.clone();
        async move { query(&url).await }
    });
    until_called(&sim, Endpoint::ComputerList).await;
    let _ = stop.send(());
    let answered = in_flight
        .await
        .expect("task")
        .expect("the in-flight request is answered");
    assert_eq!(answered["data"]["devices"]["totalCount"], 50);
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops")
        .expect("task")
        .expect("clean stop");
    assert!(query(&url).await.is_err(), "no new requests after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_ends_does_not_outlast_the_grace() {
    let sim = Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    sim.fail_next(Endpoint::ComputerList, Fault::Hang);
    let app = app(&sim, Duration::from_millis(200)).await;
    let url = format!("http://{}/graphql", app.addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let hanging = tokio::spawn(async move { query(&url).await });
    until_called(&sim, Endpoint::ComputerList).await;
    let stopping = tokio::time::Instant::now();
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the grace bounds the shutdown")
        .expect("task")
        .expect("stops");
    assert!(
        stopping.elapsed() >= Duration::from_millis(200),
        "the request in flight was given the whole grace"
    );
    let dropped = tokio::time::timeout(Duration::from_secs(10), hanging)
        .await
        .expect("the client learns the request was dropped")
        .expect("task");
    assert!(
        dropped.is_err(),
        "dropped at the end of the grace, not answered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_connections_are_refused_at_once_while_requests_drain() {
    let sim = Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    sim.fail_next(
        Endpoint::ComputerList,
        Fault::Latency(Duration::from_secs(3)),
    );
    let app = app(&sim, Duration::from_secs(10)).await;
    let addr = app.addr();
    let url = format!("http://{addr}/graphql");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let in_flight = tokio::spawn({
        let url = url.clone();
        async move { query(&url).await }
    });
    until_called(&sim, Endpoint::ComputerList).await;
    let _ = stop.send(());
    crate::helpers::eventually(
        "a new connection to be refused after the stop signal",
        Duration::from_secs(2),
        || async {
            let refused = tokio::net::TcpStream::connect(addr).await.is_err();
            refused.then_some(())
        },
    )
    .await;
    assert!(
        !in_flight.is_finished(),
        "refused while a request still drains"
    );
    let answered = in_flight.await.expect("task").expect("answered");
    assert_eq!(answered["data"]["devices"]["totalCount"], 50);
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops")
        .expect("task")
        .expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_address_says_draining_while_requests_drain() {
    let sim = Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    sim.fail_next(
        Endpoint::ComputerList,
        Fault::Latency(Duration::from_secs(3)),
    );
    let mut settings = test_settings(&sim, &temp_store_path());
    settings.server.shutdown_grace = Duration::from_secs(10);
    settings.server.admin_listen = Some("127.0.0.1:0".parse().expect("address"));
    let app = App::build(settings).await.expect("gateway starts");
    let url = format!("http://{}/graphql", app.addr());
    let readyz = format!("http://{}/readyz", app.admin_addr().expect("admin address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let ready = reqwest::get(&readyz).await.expect("readyz answers");
    assert_eq!(ready.status(), 200);
    let in_flight = tokio::spawn({
        let url = url.clone();
        async move { query(&url).await }
    });
    until_called(&sim, Endpoint::ComputerList).await;
    let _ = stop.send(());
    let report = crate::helpers::eventually(
        "/readyz to say draining",
        Duration::from_secs(2),
        || async {
            let response = reqwest::get(&readyz).await.ok()?;
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.ok()?;
            (status == 503).then_some(body)
        },
    )
    .await;
    assert_eq!(report["status"], "draining", "{report}");
    assert!(
        !in_flight.is_finished(),
        "said while a request still drains"
    );
    let answered = in_flight.await.expect("task").expect("answered");
    assert_eq!(answered["data"]["devices"]["totalCount"], 50);
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops")
        .expect("task")
        .expect("clean stop");
}
