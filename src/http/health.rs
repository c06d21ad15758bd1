//! Liveness, readiness and Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::AppState;
use crate::auth::oidc::KeyHealth;
use crate::catalog::{BreakerState, KeyStatus};

pub(super) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// 503 when the store does not answer or refuses writes (mutations could
/// not be audited), and while the gateway drains at shutdown.
/// Otherwise 200, with per account: breaker, key status, last success,
/// egress; per identity provider whether its keys are fresh; `status` is
/// `degraded` when a breaker is not closed, a key was rejected or a
/// provider's keys are stale, since requests are still served then.
pub(super) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let readiness = state.catalog.readiness().await;
    let store_ok = readiness.store_answers && readiness.store_takes_writes;
    let mut degraded = false;
    let accounts: serde_json::Map<String, serde_json::Value> = readiness
        .accounts
        .into_iter()
        .map(|(account, health)| {
            degraded |= health.breaker != BreakerState::Closed || health.key == KeyStatus::Rejected;
            let report = json!({
                "breaker": health.breaker.as_str(),
                "key": health.key.as_str(),
                "lastSuccessAgoMs": health.last_success.map(|ago| ago.as_millis() as u64),
                "rateInForce": health.rate_in_force,
                "egress": {
                    "localAddress": health.egress.local_address.map(|address| address.to_string()),
                    "proxy": health.egress.proxy,
                },
            });
            (account.to_owned(), report)
        })
        .collect();
    let providers: serde_json::Map<String, serde_json::Value> = state
        .authenticator
        .key_health()
        .into_iter()
        .map(|(name, health)| {
            // Stale keys still verify tokens; the provider is down, not us.
            degraded |= health != KeyHealth::Fresh;
            let word = match health {
                KeyHealth::Fresh => "ok",
                KeyHealth::Stale(_) => "stale",
                KeyHealth::Unfetched => "unfetched",
            };
            (name, json!(word))
        })
        .collect();
    let cluster = readiness.cluster.map(|cluster| {
        degraded |= !cluster.redis_answers;
        json!({
            "redis": if cluster.redis_answers { "ok" } else { "unreachable" },
            "mode": if cluster.redis_answers { "shared" } else { "fallback" },
            "replica": cluster.replica,
            "replicas": cluster.replicas,
            "leaseHolders": cluster.lease_holders,
        })
    });
    let draining = state.catalog.live().closed().is_cancelled();
    let (status, word) = match (store_ok, degraded) {
        _ if draining => (StatusCode::SERVICE_UNAVAILABLE, "draining"),
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        (true, true) => (StatusCode::OK, "degraded"),
        (true, false) => (StatusCode::OK, "ready"),
    };
    let body = json!({
        "status": word,
        "store": match (readiness.store_answers, readiness.store_takes_writes) {
            (false, _) => "unreachable",
            (true, false) => "writes failing",
            (true, true) => "ok",
        },
        "completionsWaiting": readiness.completions_waiting,
        "accounts": accounts,
        "identityProviders": providers,
        "cluster": cluster,
    });
    (status, Json(body))
}

/// Prometheus text format. Breaker gauges are read from the breakers now:
/// a breaker turns half-open by time alone, with no call to report it.
pub(super) async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    for (account, health) in state.catalog.health() {
        crate::telemetry::record_breaker(account, health.breaker.gauge());
        crate::telemetry::record_upstream_rate(account, health.rate_in_force);
    }
    let (plans, responses) = state.operations.cache_bytes();
    crate::telemetry::record_cache_bytes(plans, responses);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        crate::telemetry::metrics().render(),
    )
}
