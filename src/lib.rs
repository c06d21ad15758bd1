//! remotepc-gateway: a GraphQL gateway in front of the RemotePC Enterprise MSP
//! REST API. One process on the whitelisted host holds the API key and serves
//! internal teams a typed GraphQL API.
//!
//! Layers, each a module; a request goes down them in this order:
//! - [`http`] — accept loop, router, middleware, request ids, media types,
//!   content codings (answers compressed as `Accept-Encoding` allows),
//!   the raw lane (answers served from their request's bytes), and
//!   subscriptions' transports (WebSocket, Server-Sent Events); reads each
//!   request and hands it to `admission`. Reaches `catalog` only for
//!   readiness and the live fleet's shutdown signal.
//! - [`mcp`] — the Model Context Protocol endpoint for assistants, beside
//!   `http` (`lib.rs` hands its routes to `http`'s router, which serves
//!   them under the same middleware; neither imports the other): its tools
//!   are GraphQL operations it hands to `admission`, as `http` does,
//!   naming `graphql` only for request ids, answers and error codes; it
//!   authenticates with `auth`, and keeps a person's approvals of
//!   destructive tools, and reads what the approval page shows, through
//!   `catalog`. It wraps the `rmcp` SDK, which no other layer names.
//! - [`auth`] — who is calling (a team token, or a person's JWT checked
//!   against an identity provider's keys), which account they act on,
//!   their quota.
//! - [`admission`] — the one path into execution for every transport:
//!   quota (local and shared), the batch bound, trusted documents,
//!   persisted queries, the write profile, subscription slots, one
//!   `Refusal` type; then runs what it admitted (writes detached from the
//!   transport, under the idempotency ledger of `catalog`).
//! - [`graphql`] — the schema (objects, queries, mutations and their audit,
//!   guards, error codes) and the serving path (document, limits, the
//!   specification's validation and variable coercion, response cache,
//!   plans, execution).
//! - [`catalog`] — domain services (users, devices, groups); each
//!   collection RemotePC lists, described once and read, kept, shared and
//!   watched by one generic path; the vendor's input rules; the services
//!   over the gateway's own records (audit log, idempotency ledger,
//!   relations); and the live fleet: changes diffed from consecutive
//!   snapshots, written to the change log at positions every replica
//!   shares, then sent to subscribers, who resume from any position kept;
//!   pollers and history.
//! - [`cache`] — sorted, indexed snapshots of whole collections, generic
//!   over what they hold and how it is loaded, keeping what answers write
//!   of each item (its written form, its cursors) once written.
//! - [`upstream`] — the RemotePC client: wire types, envelopes, paging,
//!   errors, breaker, and the fair scheduler that shares each account's
//!   calls between flows (the request's flow travels with its task) and
//!   paces them to RemotePC's own 429s.
//! - [`store`] — durable audit log, idempotency keys, known groups,
//!   assignments, invitations, the change log and items' last states
//!   (SQLite or PostgreSQL); reached
//!   only through `catalog`.
//!
//! Beside them: [`cluster`] (Redis, when several replicas act as one:
//! refresh leases, snapshot hand-off, the patch channel, shared GCRA
//! limits, shared persisted-query texts) serves `catalog`, `auth`,
//! `upstream` and `http` and knows none of them;
//! [`settings`], [`clock`], [`digest`] and [`json_text`] are leaves every
//! layer reads;
//! [`content_coding`] (brotli, zstd and gzip streams a kept compressed
//! prefix can end without compressing again) is a leaf `graphql` keeps
//! compressed answers with and `http` compresses the rest with (and
//! reads RFC 9110 q-values with, for `Accept` too);
//! [`telemetry`] (logging and the access line, which `http` writes and
//! `admission` notes the operation in; metrics, OpenTelemetry export and
//! W3C trace context: `http` continues a caller's trace, `upstream` may
//! pass it on)
//! is read by every layer and reads only the leaves `settings`, `digest`
//! and `json_text`; [`simulator`] is an
//! in-process RemotePC for the demo and the tests, and states the vendor's
//! rules itself, apart from `catalog::rules`, so that each checks the other.
//!
//! `catalog` uses `cache` and `upstream` side by side: the cache knows
//! nothing of RemotePC, the catalog loads it through the client. The
//! catalog re-exports the upstream's error and health types, which are part
//! of its answers, so that no layer above names `upstream`. `lib.rs` itself
//! wires every layer and, at shutdown, completes the store's open records.

pub mod admission;
pub mod auth;
pub mod cache;
pub mod catalog;
pub mod clock;
pub mod cluster;
pub mod content_coding;
pub mod digest;
pub mod graphql;
pub mod http;
pub mod json_text;
pub mod mcp;
pub mod settings;
pub mod simulator;
pub mod store;
pub mod telemetry;
pub mod upstream;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use auth::Authenticator;
use catalog::Catalog;
use clock::Clock;
use settings::{Settings, SettingsError};
use store::{Store, StoreError};
use upstream::ClientSetupError;

/// Why the gateway could not start.
#[expect(
    missing_docs,
    reason = "variant fields are named by what they hold; the #[error] message says how they read"
)]
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
    /// Redis cannot be used (cluster.redis_url).
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
    /// A trusted-documents manifest cannot be read (the message names the
    /// setting).
    #[error("{0}")]
    TrustedDocuments(String),
    /// The listen address is taken or not allowed.
    #[error("cannot listen on {addr} (server.listen)")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// How long clients of writes still running at the end of the shutdown
/// grace are given to receive their "outcome unknown" answer.
const ANSWER_AT_GRACE_END: Duration = Duration::from_millis(500);

/// A gateway, bound and wired, not yet serving.
pub struct App {
    listeners: http::Listeners,
    addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    server: settings::ServerSettings,
    store: Store,
    /// Completions the store refused wait here for their last try.
    catalog: Catalog,
    writes: TaskTracker,
    /// Cancelled when the shutdown grace ends.
    grace_over: CancellationToken,
    /// Key watcher, store sweeper, metrics upkeep: aborted at stop.
    background: Vec<tokio::task::JoinHandle<()>>,
    /// Closed at the shutdown signal: subscriptions complete, polling ends.
    live: catalog::Live,
    /// Writes observed changes; drained before the store closes.
    history_writer: Option<tokio::task::JoinHandle<()>>,
    /// WebSocket connections and event streams, which end at the
    /// shutdown signal after completing their subscriptions.
    streams: TaskTracker,
}

impl App {
    /// Validates `settings`, builds every layer and binds the listeners.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        Self::build_with_clock(settings, Clock::system()).await
    }

    /// As `build`, reading time from `clock` (tests move it forward).
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartError> {
        settings.validate()?;
        let mut background = vec![telemetry::keep_metrics_bounded(METRICS_UPKEEP)];
        let store = Store::open_with_clock(&settings.store, clock.clone()).await?;
        background.push(store.sweep_every(settings.store.sweep_interval));
        background.push(store.renew_claims());
        let cluster = cluster::Cluster::new(&settings.cluster)?;
        let catalog = Catalog::new(&settings, store.clone(), &clock, cluster.clone())?;
        background.extend(catalog.follow_replicas());
        let live = catalog.live().clone();
        let history_writer = catalog.write_history();
        background.push(live.prune_history_every(store.clone(), settings.store.sweep_interval));
        if settings
            .accounts
            .values()
            .any(|account| account.api_key_file.is_some())
        {
            background.push(catalog.watch_keys(settings.upstream.key_reload_interval));
        }
        background.push(catalog.complete_refused_writes());
        let schema = graphql::build_schema(catalog.clone(), &settings.graphql);
        let trusted =
            admission::TrustedSet::load(&settings).map_err(StartError::TrustedDocuments)?;
        let authenticator = Authenticator::new(&settings, &clock, cluster);
        background.extend(authenticator.refresh_keys().await);
        let operations = graphql::OperationRunner::new(
            schema,
            catalog.clone(),
            &settings.graphql,
            &settings.cache,
        );
        let writes = TaskTracker::new();
        let streams = TaskTracker::new();
        let grace_over = CancellationToken::new();
        let admission = admission::Admission::new(
            operations.clone(),
            &catalog,
            trusted,
            (writes.clone(), grace_over.clone()),
            &settings,
        );
        let mcp = settings.mcp.enabled.then(|| {
            mcp::Mcp::new(
                admission.clone(),
                authenticator.clone(),
                catalog.clone(),
                &settings,
                grace_over.clone(),
            )
        });
        let state = http::AppState::new(
            (operations, admission),
            catalog.clone(),
            authenticator,
            streams.clone(),
            &settings,
        );
        let main = bind(settings.server.listen).await?;
        let admin = match settings.server.admin_listen {
            Some(listen) => Some(bind(listen).await?),
            None => None,
        };
        let addr = local_addr(&main, settings.server.listen)?;
        let admin_addr = match (&admin, settings.server.admin_listen) {
            (Some(listener), Some(listen)) => Some(local_addr(listener, listen)?),
            _ => None,
        };
        let listeners = http::Listeners {
            main: (
                main,
                http::front(state.clone(), &settings.server, mcp.map(|mcp| mcp.router())),
            ),
            admin: admin.map(|listener| (listener, http::admin_router(state))),
        };
        Ok(Self {
            listeners,
            addr,
            admin_addr,
            server: settings.server.clone(),
            store,
            catalog,
            writes,
            grace_over,
            background,
            live,
            history_writer,
            streams,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The main address's service, to answer requests in this process
    /// without a socket: what a connection calls, less the accept loop
    /// (tests and benchmarks that compare answers byte for byte at a rate
    /// TCP would dominate).
    pub fn router(&self) -> http::Front {
        self.listeners.main.1.clone()
    }

    /// The admin address actually bound, when `server.admin_listen` is set.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Serves until `shutdown` completes; then stops accepting, and lets
    /// requests in flight and running writes finish for at most
    /// `server.shutdown_grace`. Writes still running then are completed in
    /// the audit log (and under their idempotency keys) as outcome
    /// unknown; then the store is closed.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stopped, mut stopped_at) = tokio::sync::watch::channel(None::<Instant>);
        let live = self.live.clone();
        let stop = async move {
            shutdown.await;
            tracing::info!("shutting down: finishing requests and writes in flight");
            live.close();
            let _ = stopped.send(Some(Instant::now()));
        };
        let grace = self.server.shutdown_grace;
        let mut watching = stopped_at.clone();
        let deadline = async move {
            match watching.wait_for(Option::is_some).await.map(|at| *at) {
                Ok(Some(at)) => tokio::time::sleep_until(at + grace).await,
                _ => std::future::pending().await,
            }
        };
        let serving = http::serve(self.listeners, &self.server, stop);
        tokio::pin!(serving);
        tokio::select! {
            () = &mut serving => {}
            () = deadline => {
                tracing::warn!(grace_ms = grace.as_millis() as u64, "requests still running after the shutdown grace; answering writes as outcome unknown, dropping the rest");
                // Clients of writes still running get an answer, not a
                // reset: a moment for it to be written before connections
                // are dropped.
                self.grace_over.cancel();
                let _ = tokio::time::timeout(ANSWER_AT_GRACE_END, &mut serving).await;
            }
        }
        let stopped_at = (*stopped_at.borrow_and_update()).unwrap_or_else(Instant::now);
        self.streams.close();
        if tokio::time::timeout_at(stopped_at + grace, self.streams.wait())
            .await
            .is_err()
        {
            tracing::warn!("subscription streams still open after the shutdown grace");
        }
        self.writes.close();
        let writes_done = tokio::time::timeout_at(stopped_at + grace, self.writes.wait())
            .await
            .is_ok();
        if !self.catalog.write_waiting_completions().await {
            tracing::error!("the store refused completions to the end; their rows stay open");
        }
        if !writes_done {
            let reason = "the gateway stopped before RemotePC answered";
            let audits = self.store.abandon_open_audits(reason).await;
            let keys = self
                .store
                .abandon_open_claims(&admission::unknown_outcome_body())
                .await;
            tracing::warn!(
                audits,
                keys,
                "writes still running after the shutdown grace were recorded as outcome unknown"
            );
        }
        for task in self.background {
            task.abort();
        }
        self.live.finish_history();
        if let Some(writer) = self.history_writer
            && tokio::time::timeout(grace, writer).await.is_err()
        {
            tracing::warn!("observed changes still unwritten after the shutdown grace");
        }
        self.store.close().await;
        Ok(())
    }
}

/// How often the metrics recorder's histograms are compacted.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

async fn bind(listen: SocketAddr) -> Result<tokio::net::TcpListener, StartError> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: listen,
            source,
        })
}

fn local_addr(
    listener: &tokio::net::TcpListener,
    listen: SocketAddr,
) -> Result<SocketAddr, StartError> {
    listener.local_addr().map_err(|source| StartError::Bind {
        addr: listen,
        source,
    })
}
