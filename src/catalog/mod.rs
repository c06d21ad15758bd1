//! Domain services over one RemotePC account each: `Directory` (users) and
//! `Fleet` (devices, groups). They validate input by the vendor's rules before
//! anything is sent and read collections as snapshots, each collection
//! described once (`collections`). Beside them, the
//! services over the gateway's own records (`AuditLog`, `IdempotencyLedger`),
//! so that no layer above holds the store. They know nothing of GraphQL or
//! HTTP.

mod collections;
mod completions;
mod directory;
mod fleet;
mod listing;
mod live;
mod model;
mod records;
mod relations;
mod replication;
pub mod rules;
mod summary;
mod validation;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono_tz::Tz;

pub use crate::store::Invitation;
pub use crate::store::KnownGroup;
// What describes and keeps collections, and each collection's own types.
pub use collections::*;
pub use directory::{DeleteOutcome, Directory, InviteOutcome, NewUser, UserKind};
pub use fleet::{Fleet, RemovalOutcome};
pub use listing::{
    DeviceFilter, DeviceOrder, Listing, Predicate, Selection, SortOrder, StatusHeld, UserFilter,
    UserOrder,
};
pub use live::{
    Change, ChangeCursor, ChangeKind, Changes, ChangesSince, CursorProblem, HistoryEntry,
    HistoryPage, HistorySelection, Live, Next, StatusSince, status_name, status_named,
};
pub use model::{Device, DeviceStatus, User, local_instant};
pub use records::{
    Approval, ApprovalBook, ApprovalRequest, ApprovalState, AuditActor, AuditFilter, AuditLog,
    AuditRecord, Claim, IdempotencyLedger, OUTCOME_UNKNOWN, STARTED, StoreError,
};
pub use relations::Relations;
pub use summary::{FleetSummary, LastSeen, SUMMARY_NAMED_MAX};
pub use validation::{MAX_LIST_LEN, ValidationError, Violation};

// Listings answer with the cache's snapshots; callers name them through
// the catalog.
pub use crate::cache::{Keyed, LogPosition, Peek, Served, Snapshot, WrittenForm};
use crate::clock::Clock;
use crate::cluster::Cluster;
use crate::settings::Settings;
use crate::store::Store;
// The upstream's error and health are part of this layer's answers; callers
// name them through it rather than reaching past it.
pub use crate::upstream::{
    AccountHealth, BreakerState, Flow, FlowBudget, KeyStatus, Lane, UpstreamBudget, UpstreamError,
    UpstreamUse, Writes, count_writes, on_behalf_of,
};
use crate::upstream::{ClientSetupError, RemotePcClient};

/// Why a catalog operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The input breaks a rule; nothing was sent.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// RemotePC refused or failed (shared by every caller of a coalesced
    /// fetch).
    #[error(transparent)]
    Upstream(Arc<UpstreamError>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The caller's account is not configured.
    #[error("account `{0}` is not configured")]
    UnknownAccount(String),
    /// A change cursor cannot be resumed from: list again.
    #[error("{0}; list again and resume from the list's changeCursor")]
    CursorExpired(CursorProblem),
}

impl From<UpstreamError> for CatalogError {
    fn from(error: UpstreamError) -> Self {
        CatalogError::Upstream(Arc::new(error))
    }
}

/// What readiness reports.
#[derive(Debug)]
pub struct Readiness<'a> {
    /// Whether the store answers a ping.
    pub store_answers: bool,
    /// Whether it takes writes: `false` while its last write failed and a
    /// probe write fails too (a full disk answers pings).
    pub store_takes_writes: bool,
    /// Audit and idempotency completions waiting for the store.
    pub completions_waiting: usize,
    /// Each account's upstream health, by account id.
    pub accounts: Vec<(&'a str, AccountHealth)>,
    /// Redis shared by the replicas, when configured.
    pub cluster: Option<ClusterReport>,
}

/// How this replica stands with the others.
#[derive(Debug)]
pub struct ClusterReport {
    /// Whether Redis answers; when not, each replica enforces 1/N of every
    /// limit and reads RemotePC itself.
    pub redis_answers: bool,
    /// This replica's id.
    pub replica: String,
    /// `cluster.replicas`.
    pub replicas: u32,
    /// The last holder seen of each refresh lease, by
    /// `account/collection`.
    pub lease_holders: BTreeMap<String, String>,
}

/// The services of every configured account, and their snapshot caches.
#[derive(Clone)]
pub struct Catalog {
    clients: BTreeMap<String, RemotePcClient>,
    zones: BTreeMap<String, Tz>,
    store: Store,
    remove_batch_size: usize,
    collections: Arc<Collections>,
    live: Live,
    relations: Arc<relations::RelationCache>,
    /// Redis shared with the other replicas, when configured.
    cluster: Option<Cluster>,
    sharing: Option<Arc<replication::Sharing>>,
    /// Audit and idempotency completions the store refused, to write again.
    pending: Arc<completions::PendingCompletions>,
    clock: Clock,
}

impl Catalog {
    /// Builds one upstream client per configured account; groups are
    /// remembered in `store`.
    pub fn new(
        settings: &Settings,
        store: Store,
        clock: &Clock,
        cluster: Option<Cluster>,
    ) -> Result<Self, ClientSetupError> {
        let clients = settings
            .accounts
            .iter()
            .map(|(id, account)| {
                Ok((
                    id.clone(),
                    RemotePcClient::new(
                        id,
                        account,
                        &settings.upstream,
                        clock.clone(),
                        cluster.clone(),
                    )?,
                ))
            })
            .collect::<Result<_, ClientSetupError>>()?;
        let zones = settings
            .accounts
            .iter()
            .map(|(id, account)| (id.clone(), account.time_zone))
            .collect();
        let live = Live::new(settings, clock, store.clone());
        let collections = Collections::new(settings, clock, &live, cluster.as_ref());
        let sharing = cluster.as_ref().map(|cluster| {
            Arc::new(replication::Sharing {
                cluster: cluster.clone(),
                clock: clock.clone(),
                ttl: settings.cache.ttl,
                min_refresh_interval: settings.cache.min_refresh_interval,
                poll_every: settings.live.poll_every(&settings.cache),
            })
        });
        Ok(Self {
            clients,
            zones,
            store,
            remove_batch_size: settings.upstream.remove_batch_size,
            collections: Arc::new(collections),
            live,
            relations: Arc::new(relations::RelationCache::new(
                settings.cache.ttl,
                clock.clone(),
            )),
            cluster,
            sharing,
            pending: Arc::default(),
            clock: clock.clone(),
        })
    }

    /// Users of `account`.
    pub fn directory<'a>(&'a self, account: &'a str) -> Result<Directory<'a>, CatalogError> {
        Ok(Directory::new(account, self.client(account)?, self))
    }

    /// Devices and groups of `account`.
    pub fn fleet<'a>(&'a self, account: &'a str) -> Result<Fleet<'a>, CatalogError> {
        Ok(Fleet::new(account, self.client(account)?, self))
    }

    /// The time zone of `account`'s local times (UTC when unknown).
    pub fn time_zone(&self, account: &str) -> Tz {
        self.zones.get(account).copied().unwrap_or(Tz::UTC)
    }

    /// Now, by the clock the catalog was built with (tests move it).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.clock.unix_ms()).unwrap_or_default()
    }

    /// Redis shared with the other replicas, when configured.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// Subscriptions' feeds and the history they leave.
    pub fn live(&self) -> &Live {
        &self.live
    }

    /// The audit log of every account's mutations.
    pub fn audit_log(&self) -> AuditLog {
        AuditLog::new(self.store.clone(), Arc::clone(&self.pending))
    }

    /// Approvals of assistants' destructive tool calls.
    pub fn approvals(&self) -> ApprovalBook {
        ApprovalBook::new(self.store.clone())
    }

    /// The idempotency keys of every team.
    pub fn idempotency_ledger(&self) -> IdempotencyLedger {
        IdempotencyLedger::new(self.store.clone(), Arc::clone(&self.pending))
    }

    /// The snapshot of `collection` a read by `account` would be served
    /// now, if it would be served fresh; never fetches.
    pub fn peek(&self, account: &str, collection: Collection) -> Option<Peek> {
        self.collections.peek(collection, account)
    }

    /// Whether the gateway can serve: the store answers (mutations can be
    /// audited), and each account's breaker, key status and egress.
    pub async fn readiness(&self) -> Readiness<'_> {
        let cluster = match &self.cluster {
            Some(cluster) => Some(ClusterReport {
                redis_answers: cluster.ping().await,
                replica: cluster.replica().to_owned(),
                replicas: cluster.replicas(),
                lease_holders: cluster.lease_holders(),
            }),
            None => None,
        };
        let takes_writes = !self.pending.writes_failing() || self.probe_write().await;
        Readiness {
            store_answers: self.store.ping().await.is_ok(),
            store_takes_writes: takes_writes,
            completions_waiting: self.pending.len(),
            accounts: self.health().collect(),
            cluster,
        }
    }

    /// Claims and releases a key no caller can send, to learn whether the
    /// store takes writes again.
    async fn probe_write(&self) -> bool {
        let ledger = self.idempotency_ledger();
        let (team, key) = ("gateway/readyz", "probe");
        let _ = ledger.release(team, key).await;
        ledger.claim(team, key, "").await.is_ok() && ledger.release(team, key).await.is_ok()
    }

    /// Each account's breaker, key status and egress.
    pub fn health(&self) -> impl Iterator<Item = (&str, AccountHealth)> {
        self.clients
            .iter()
            .map(|(id, client)| (id.as_str(), client.health()))
    }

    /// `account`'s budget of RemotePC calls and each flow's part of it.
    pub fn upstream_budget(&self, account: &str) -> Result<UpstreamBudget, CatalogError> {
        Ok(self.client(account)?.budget())
    }

    /// Re-reads every account's key file; logs which keys changed.
    pub fn reload_keys(&self) {
        for (account, client) in &self.clients {
            match client.reload_key() {
                Ok(true) => tracing::info!(account, "API key reloaded"),
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(account, error = %error, "cannot re-read the API key; keeping the current one")
                }
            }
        }
    }

    /// Writes the completions the store refused once it takes them again.
    pub fn complete_refused_writes(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(Arc::clone(&self.pending).run(self.store.clone()))
    }

    /// Writes what completions still wait, once; says whether none is left.
    pub async fn write_waiting_completions(&self) -> bool {
        self.pending.write_all(&self.store).await
    }

    /// Re-reads key files every `interval`, and at once on SIGHUP, so a key
    /// rotated in the RemotePC console needs no restart.
    pub fn watch_keys(&self, interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let catalog = self.clone();
        // Registered before returning, so a SIGHUP sent right after start is
        // caught rather than ending the process.
        #[cfg(unix)]
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                #[cfg(unix)]
                tokio::select! {
                    _ = ticker.tick() => {}
                    Some(()) = async {
                        match hangup.as_mut() {
                            Some(signal) => signal.recv().await,
                            None => std::future::pending().await,
                        }
                    } => tracing::info!("SIGHUP: re-reading API keys"),
                }
                #[cfg(not(unix))]
                ticker.tick().await;
                catalog.reload_keys();
            }
        })
    }

    fn client(&self, account: &str) -> Result<&RemotePcClient, CatalogError> {
        self.clients
            .get(account)
            .ok_or_else(|| CatalogError::UnknownAccount(account.to_owned()))
    }
}
