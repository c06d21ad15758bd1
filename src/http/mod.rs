//! The HTTP surface: the accept loop, router, middleware (request ids,
//! trace, body limit, timeouts, compression), the GraphQL endpoint with
//! its media types and content codings, the raw lane, subscriptions'
//! transports, an offline GraphiQL, liveness, readiness and metrics.
//! Authenticates each request and hands what it read to `admission`,
//! which admits, refuses and runs it.

mod accept;
mod answer;
mod conditional;
mod cors;
mod encoding;
mod front;
mod graphiql;
mod graphql;
mod health;
mod live;
mod media;
mod raw_lane;
mod reading;
mod request_id;
mod sdl;
mod serve;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use tokio_util::task::TaskTracker;
use tower_http::timeout::TimeoutLayer;

/// The request header naming the RemotePC account a person whose roles
/// name several acts on (WebSocket: `account` in `connection_init`).
pub(crate) const ACCOUNT_HEADER: &str = "remotepc-account";

pub use front::Front;
pub use serve::{Listeners, serve};

use crate::admission::Admission;
use crate::auth::Authenticator;
use crate::catalog::Catalog;
use crate::graphql::OperationRunner;
use crate::settings::{LiveSettings, ServerSettings, Settings};

/// What every handler shares. One reference count to clone: axum clones
/// the state for every request, and cloning the services one by one (the
/// catalog holds a map of clients) was 3% of a cached answer's CPU.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

/// The services behind `AppState`.
pub struct Services {
    operations: OperationRunner,
    admission: Admission,
    catalog: Catalog,
    authenticator: Authenticator,
    body_limit: usize,
    /// Requests answered from the response cache before, by their bytes.
    raw_lane: raw_lane::RawLane,
    /// The served schema as SDL, for `GET /schema.graphql`.
    schema_sdl: axum::body::Bytes,
    /// Browser origins allowed (CORS, and WebSocket upgrades).
    origins: cors::Origins,
    /// Subscription limits, keep-alive and timeouts.
    live: LiveSettings,
    /// Places for WebSocket connections that have not authenticated yet:
    /// a tenth of `server.max_connections`.
    unauthenticated_sockets: Arc<tokio::sync::Semaphore>,
    /// WebSocket connections and event streams: shutdown lets them send
    /// their last messages.
    streams: TaskTracker,
    /// Whether each answer gets an access line (`log.access`).
    access_log: bool,
    /// Whether and from how many bytes answers are compressed.
    compression: encoding::Compression,
    /// What WebSocket connections are opened with (their limits, deflate).
    websocket: live::SocketOptions,
}

impl AppState {
    /// The services the handlers use. Streams (WebSocket connections and
    /// event streams) run on `streams`, which shutdown lets finish.
    pub fn new(
        (operations, admission): (OperationRunner, Admission),
        catalog: Catalog,
        authenticator: Authenticator,
        streams: TaskTracker,
        settings: &Settings,
    ) -> Self {
        Self(Arc::new(Services {
            operations,
            admission,
            catalog,
            authenticator,
            body_limit: settings.server.body_limit_bytes,
            raw_lane: raw_lane::RawLane::new(settings.cache.raw_lane_bytes(), settings.cache.ttl),
            schema_sdl: axum::body::Bytes::from(crate::graphql::sdl()),
            origins: cors::Origins::new(&settings.server),
            live: settings.live.clone(),
            unauthenticated_sockets: Arc::new(tokio::sync::Semaphore::new(
                (settings.server.max_connections / 10).max(1),
            )),
            streams,
            access_log: settings.log.access,
            compression: encoding::Compression::new(&settings.server),
            websocket: live::SocketOptions::new(&settings.server),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The members of every `name` field, trimmed: a header that RFC 9110
/// (§5.6.1) makes a comma-separated list, sent as one field or several.
fn header_list<'h>(
    headers: &'h axum::http::HeaderMap,
    name: axum::http::HeaderName,
) -> impl Iterator<Item = &'h str> + 'h {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(','))
        .map(str::trim)
}

/// What each WebSocket connection is opened with: messages up to
/// `server.body_limit_bytes`, and deflate without context takeover, its
/// state drawn from one pool (see `live::ws::handshake`).
pub fn websocket_options(server: &ServerSettings) -> yawc::Options {
    live::SocketOptions::new(server).options()
}

/// The main address's service: request ids, the raw lane's hits, then the
/// gateway's routes and middleware, with `more` routes (the MCP endpoint)
/// under the same CORS and body limit. With `server.admin_listen` set,
/// `/metrics` and `/readyz` are left to `admin_router`.
pub fn front(state: AppState, server: &ServerSettings, more: Option<Router>) -> Front {
    let mut others = Router::new()
        .route("/", get(graphiql::home))
        .route("/graphiql", get(graphiql::page))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/favicon.ico", get(graphiql::favicon))
        .route("/healthz", get(health::healthz));
    if server.admin_listen.is_none() {
        others = others
            .route("/readyz", get(health::readyz))
            .route("/metrics", get(health::metrics));
    }
    // `/graphql` keeps its own clock: a write must answer with its
    // outcome unknown rather than be dropped by a timeout layer.
    let others = others.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        server.request_timeout,
    ));
    // `/graphql` compresses its own answers, from kept compressed heads;
    // the other routes (and MCP's) are compressed as they leave.
    let compress = middleware::from_fn_with_state(state.compression.clone(), encoding::compress);
    let compressed = Router::new()
        .route("/schema.graphql", get(sdl::schema))
        .merge(others)
        .layer(compress.clone());
    // Ids and the access line are the front's, outside every route, so
    // that preflights get them too.
    let router = Router::new()
        .route("/graphql", post(graphql::post).get(graphql::get))
        .merge(compressed)
        .with_state(state.clone())
        .merge(more.unwrap_or_default().layer(compress))
        .layer(DefaultBodyLimit::max(server.body_limit_bytes))
        .layer(cors::layer(server));
    Front::new(state, router)
}

/// `/metrics`, `/readyz` and `/healthz`, for `server.admin_listen`.
pub fn admin_router(state: AppState) -> Router {
    let access_log = request_id::AccessLog(state.access_log);
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .with_state(state)
        .layer(middleware::from_fn_with_state(
            access_log,
            request_id::assign,
        ))
}
