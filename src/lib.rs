//! remotepc-gateway: a GraphQL gateway in front of the RemotePC Enterprise MSP
//! REST API. One process on the whitelisted host holds the API key and serves
//! internal teams a typed GraphQL API.
//!
//! Layers, each a module; a request goes down them in this order and nothing
//! skips one:
//! - [`settings`] — typed, layered configuration and its validation.
//! - [`http`] — axum router, middleware, liveness; attaches the caller.
//! - [`auth`] — who is calling and which account they act on.
//! - [`graphql`] — the schema, connections, mutations, limits, error codes.
//! - [`catalog`] — domain services (users, devices, groups) and the vendor's
//!   input rules.
//! - [`cache`] — sorted, indexed snapshots of whole collections.
//! - [`upstream`] — the RemotePC client: wire types, envelopes, paging, errors.
//! - [`store`] — durable audit log, idempotency keys, known groups
//!   (SQLite or PostgreSQL).
//! - [`simulator`] — an in-process RemotePC for the demo and the tests.
//! - [`telemetry`] — logging and metrics.

pub mod auth;
pub mod cache;
pub mod catalog;
pub mod graphql;
pub mod http;
pub mod settings;
pub mod simulator;
pub mod store;
pub mod telemetry;
pub mod upstream;

use std::net::SocketAddr;
use std::time::Duration;

use auth::Teams;
use catalog::Catalog;
use settings::{Settings, SettingsError};
use store::{Store, StoreError};
use upstream::ClientSetupError;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Settings are invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// An account's client could not be built (key source, URL, TLS).
    #[error(transparent)]
    Upstream(#[from] ClientSetupError),
    /// The store cannot be opened or migrated (store.url).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address is taken or not allowed.
    #[error("cannot listen on {addr} (server.listen)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A gateway, bound and wired, not yet serving.
pub struct App {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    addr: SocketAddr,
    store: Store,
    key_watcher: Option<tokio::task::JoinHandle<()>>,
    shutdown_grace: Duration,
}

impl App {
    /// Validates `settings`, builds every layer and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        settings.validate()?;
        telemetry::metrics();
        let store = Store::open(&settings.store).await?;
        let catalog = Catalog::new(&settings, store.clone())?;
        let key_watcher = settings
            .accounts
            .values()
            .any(|account| account.api_key_file.is_some())
            .then(|| catalog.watch_keys(settings.upstream.key_reload_interval));
        let schema = graphql::build_schema(catalog.clone(), store.clone(), &settings.graphql);
        let teams = Teams::new(&settings.teams);
        let engine =
            graphql::Engine::new(schema, catalog.clone(), &settings.graphql, &settings.cache);
        let state = http::AppState::new(engine, catalog, teams, store.clone(), &settings.graphql);
        let router = http::router(state, &settings.server);
        let listen = settings.server.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: listen,
            source,
        })?;
        Ok(Self {
            listener,
            router,
            addr,
            store,
            key_watcher,
            shutdown_grace: settings.server.shutdown_grace,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes; then stops accepting, lets
    /// in-flight requests finish for at most `server.shutdown_grace`, and
    /// closes the store.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = axum::serve(self.listener, self.router).with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing requests in flight");
            let _ = stopping.send(());
        });
        let grace = self.shutdown_grace;
        let result = tokio::select! {
            result = serving => result,
            () = async move {
                if stopped.await.is_ok() {
                    tokio::time::sleep(grace).await;
                } else {
                    std::future::pending::<()>().await;
                }
            } => {
                tracing::warn!(grace_ms = grace.as_millis() as u64, "requests still running after the shutdown grace; dropping them");
                Ok(())
            }
        };
        if let Some(watcher) = self.key_watcher {
            watcher.abort();
        }
        self.store.close().await;
        result
    }
}
