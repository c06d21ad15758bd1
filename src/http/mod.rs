//! The HTTP surface: router, middleware (trace, body limit, timeout), the
//! GraphQL endpoint, liveness and readiness. Attaches the `Caller` to each request; the
//! schema does the rest.

use std::sync::Arc;
use std::time::Duration;

use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::Caller;
use crate::catalog::Catalog;
use crate::graphql::GatewaySchema;
use crate::upstream::{BreakerState, KeyStatus};

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    schema: GatewaySchema,
    catalog: Catalog,
    default_account: Arc<str>,
}

impl AppState {
    /// Serves `schema`, acting on `default_account` for every request;
    /// readiness reads the accounts' health from `catalog`.
    pub fn new(schema: GatewaySchema, catalog: Catalog, default_account: &str) -> Self {
        Self {
            schema,
            catalog,
            default_account: Arc::from(default_account),
        }
    }
}

/// The gateway's routes and middleware.
pub fn router(state: AppState, body_limit: usize, request_timeout: Duration) -> Router {
    Router::new()
        .route("/graphql", post(graphql))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(TraceLayer::new_for_http())
}

async fn graphql(State(state): State<AppState>, request: GraphQLRequest) -> GraphQLResponse {
    let caller = Caller::anonymous(&state.default_account);
    state
        .schema
        .execute(request.into_inner().data(caller))
        .await
        .into()
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Per account: breaker, key status, last success, egress. Always 200 while
/// the process serves: snapshots still answer when RemotePC does not, so
/// `status` says `degraded` rather than taking the gateway out of service.
async fn readyz(State(state): State<AppState>) -> Json<serde_json::Value> {
    let mut degraded = false;
    let accounts: serde_json::Map<String, serde_json::Value> = state
        .catalog
        .health()
        .map(|(account, health)| {
            degraded |= health.breaker != BreakerState::Closed || health.key == KeyStatus::Rejected;
            let report = json!({
                "breaker": health.breaker.as_str(),
                "key": health.key.as_str(),
                "lastSuccessAgoMs": health.last_success.map(|ago| ago.as_millis() as u64),
                "egress": {
                    "localAddress": health.egress.local_address.map(|address| address.to_string()),
                    "proxy": health.egress.proxy,
                },
            });
            (account.to_owned(), report)
        })
        .collect();
    Json(json!({
        "status": if degraded { "degraded" } else { "ready" },
        "accounts": accounts,
    }))
}
