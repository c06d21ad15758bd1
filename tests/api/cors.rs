//! CORS as a frontend team sets it up alone: origins and extra headers
//! from the environment, client libraries' standard headers, loopback
//! development origins, and a log line when an origin is refused.

use remotepc_gateway::simulator::{Simulator, SimulatorConfig};

use crate::helpers::{LogCapture, spawn_gateway_with, temp_store_path};
use crate::process::start_binary_with;

/// A preflight from `origin` asking to send `headers`; the allowed origin
/// and headers it answered (lowercase), if any.
async fn preflight(url: &str, origin: &str, headers: &str) -> (Option<String>, String) {
    let answer = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", headers)
        .send()
        .await
        .expect("answered");
    let vary = answer
        .headers()
        .get("vary")
        .and_then(|value| value.to_str().ok());
    assert!(
        vary.is_some_and(
            |vary| vary.contains("origin") && vary.contains("access-control-request-headers")
        ),
        "caches must key preflights by origin and headers: {vary:?}"
    );
    assert!(answer.headers().contains_key("x-request-id"));
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    (
        header("access-control-allow-origin"),
        header("access-control-allow-headers").unwrap_or_default(),
    )
}

const APOLLO_HEADERS: &str = "authorization, content-type, apollographql-client-name, apollographql-client-version, x-apollo-operation-name, traceparent, idempotency-key";

#[tokio::test]
async fn origins_and_extra_headers_come_from_comma_separated_environment_variables() {
    let sim = Simulator::start(SimulatorConfig::default())
        .await
        .expect("simulator");
    let store = temp_store_path();
    let store_url = format!("sqlite://{}?mode=rwc", store.display());
    let settings = [
        (
            "GATEWAY__SERVER__CORS_ORIGINS",
            "https://a.example.com,https://b.example.com",
        ),
        (
            "GATEWAY__SERVER__CORS_ALLOW_HEADERS",
            "x-tenant, x-feature-flags",
        ),
    ];
    let (_gateway, addr) = start_binary_with(&sim, &store_url, "cors-env-token", &settings).await;
    let url = format!("http://{addr}/graphql");
    let asked = format!("{APOLLO_HEADERS}, x-tenant, x-feature-flags");
    let (origin, headers) = preflight(&url, "https://b.example.com", &asked).await;
    assert_eq!(origin.as_deref(), Some("https://b.example.com"));
    for name in asked.split(", ") {
        assert!(headers.contains(name), "{name} allowed: {headers}");
    }
    let (origin, _) = preflight(&url, "https://c.example.com", "content-type").await;
    assert_eq!(origin, None);
    crate::helpers::remove_store(&store);
}

#[tokio::test]
async fn a_refused_origin_is_logged_once_with_the_setting_to_change() {
    let logs = LogCapture::start();
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.server.cors_origins = vec!["https://helpdesk.example.com".to_owned()];
    })
    .await;
    for _ in 0..3 {
        let (origin, _) = preflight(&gateway.url, "http://localhost:5173", APOLLO_HEADERS).await;
        assert_eq!(origin, None, "loopback is not allowed unless asked for");
    }
    let allowed = preflight(&gateway.url, "https://helpdesk.example.com", APOLLO_HEADERS).await;
    assert!(allowed.0.is_some());
    let text = logs.text();
    let refusals: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("server.cors_origins"))
        .collect();
    assert_eq!(refusals.len(), 1, "{text}");
    assert!(
        refusals[0].contains("http://localhost:5173"),
        "{}",
        refusals[0]
    );
}

#[tokio::test]
async fn loopback_development_origins_on_any_port_when_turned_on() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.server.cors_allow_loopback_dev = true;
    })
    .await;
    for origin in ["http://localhost:5173", "http://127.0.0.1:4173"] {
        let (allowed, _) = preflight(&gateway.url, origin, APOLLO_HEADERS).await;
        assert_eq!(allowed.as_deref(), Some(origin));
    }
    let (allowed, _) =
        preflight(&gateway.url, "http://localhost.example.com", APOLLO_HEADERS).await;
    assert_eq!(allowed, None);
}
