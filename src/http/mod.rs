//! The HTTP surface: router, middleware (trace, body limit, timeout), the
//! GraphQL endpoint and liveness. Attaches the `Caller` to each request; the
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
use crate::graphql::GatewaySchema;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    schema: GatewaySchema,
    default_account: Arc<str>,
}

impl AppState {
    /// Serves `schema`, acting on `default_account` for every request.
    pub fn new(schema: GatewaySchema, default_account: &str) -> Self {
        Self {
            schema,
            default_account: Arc::from(default_account),
        }
    }
}

/// The gateway's routes and middleware.
pub fn router(state: AppState, body_limit: usize, request_timeout: Duration) -> Router {
    Router::new()
        .route("/graphql", post(graphql))
        .route("/healthz", get(healthz))
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
