//! The HTTP surface: router, middleware (trace, body limit, timeout), the
//! GraphQL endpoint, an offline GraphiQL, liveness, readiness and metrics. Authenticates each request and
//! attaches its `Caller`; the schema does the rest.

mod graphiql;
mod graphql;
mod health;
mod idempotency;
mod media;
mod persisted;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::routing::{get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::Teams;
use crate::catalog::Catalog;
use crate::graphql::Engine;
use crate::settings::{GraphqlSettings, ServerSettings};
use crate::store::Store;

/// What every handler shares. One reference count to clone: axum clones
/// the state for every request, and cloning the services one by one (the
/// catalog holds a map of clients) was 3% of a cached answer's CPU.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

/// The services behind `AppState`.
pub struct Services {
    engine: Engine,
    catalog: Catalog,
    teams: Teams,
    store: Store,
    max_batch: usize,
    max_nesting: usize,
    persisted: persisted::PersistedQueries,
}

impl AppState {
    /// The services the handlers use, and the limits they apply before
    /// the schema does.
    pub fn new(
        engine: Engine,
        catalog: Catalog,
        teams: Teams,
        store: Store,
        limits: &GraphqlSettings,
    ) -> Self {
        Self(Arc::new(Services {
            engine,
            catalog,
            teams,
            store,
            max_batch: limits.max_batch,
            max_nesting: limits.max_document_nesting,
            persisted: persisted::PersistedQueries::new(limits.persisted_queries_bytes),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The gateway's routes and middleware.
pub fn router(state: AppState, server: &ServerSettings) -> Router {
    Router::new()
        .route("/", get(graphiql::home))
        .route("/graphql", post(graphql::post).get(graphql::get))
        .route("/graphiql", get(graphiql::page))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .with_state(state)
        .layer(DefaultBodyLimit::max(server.body_limit_bytes))
        // Refuses an announced oversized body at once, before reading it.
        .layer(RequestBodyLimitLayer::new(server.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            server.request_timeout,
        ))
        .layer(cors(&server.cors_origins))
        .layer(TraceLayer::new_for_http())
}

/// Browsers at `origins` may call the gateway with a token; preflights are
/// answered here. Other origins get no CORS headers, so browsers refuse.
fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            header::RETRY_AFTER,
            HeaderName::from_static("idempotent-replayed"),
            HeaderName::from_static("x-response-cache"),
            HeaderName::from_static("server-timing"),
        ])
        .max_age(Duration::from_secs(600))
}
