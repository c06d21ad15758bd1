//! The HTTP client of one RemotePC account.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Url;
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};

mod exchange;

use super::breaker::BreakerState;
use super::gate::Gate;
use super::key::{KeyStatus, KeyStore};
use super::retry::RetryPolicy;
use super::wire::{
    AddComment, AssignComputers, CreateGroup, CreateUser, DeleteOutcome, DeleteUsers,
    InviteOutcome, InviteUsers, ListPage, MoveToGroup, PageRequest, RemoveComputers,
};
use super::{Endpoint, KeyError, UpstreamError};
use crate::clock::Clock;
use crate::cluster::Cluster;
use crate::settings::{AccountSettings, UpstreamSettings};

/// Talks to one RemotePC account. Cheap to clone: clones share the
/// account's limits, breaker, key and health.
#[derive(Clone)]
pub struct RemotePcClient {
    inner: Arc<Inner>,
}

struct Inner {
    account: String,
    http: reqwest::Client,
    base_url: Url,
    keys: KeyStore,
    gate: Gate,
    retry: RetryPolicy,
    egress: Egress,
    request_timeout: Duration,
    max_response_bytes: usize,
    page_size: u32,
    page_fanout: usize,
    max_collection_records: u64,
    /// std `Mutex`: never held across `.await`.
    last_success: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RemotePcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemotePcClient")
            .field("account", &self.inner.account)
            .field("base_url", &self.inner.base_url.as_str())
            .finish_non_exhaustive()
    }
}

/// How calls leave this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Egress {
    /// The local address calls are sent from, when one is set.
    pub local_address: Option<IpAddr>,
    /// The proxy calls go through, without any credentials in it.
    pub proxy: Option<String>,
}

/// How an account's upstream is doing, for readiness.
#[derive(Debug, Clone)]
pub struct AccountHealth {
    /// The circuit breaker.
    pub breaker: BreakerState,
    /// What RemotePC last said about the key.
    pub key: KeyStatus,
    /// Time since the last successful call.
    pub last_success: Option<Duration>,
    /// How calls leave this host.
    pub egress: Egress,
    /// Calls per second in force: the configured rate, lower while
    /// RemotePC answers 429.
    pub rate_in_force: f64,
}

/// Why a client could not be built.
#[expect(
    missing_docs,
    reason = "variant fields are named by what they hold; the #[error] message says how they read"
)]
#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    /// The key source is unusable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// `base_url` is not a URL.
    #[error("account `{account}`: accounts.{account}.base_url is not a valid URL")]
    BaseUrl { account: String },
    /// The TLS/HTTP stack could not be set up.
    #[error("account `{account}`: cannot build the HTTP client")]
    Http {
        account: String,
        #[source]
        source: reqwest::Error,
    },
}

impl RemotePcClient {
    /// Builds the client of account `account_id`, resolving its key.
    pub fn new(
        account_id: &str,
        account: &AccountSettings,
        upstream: &UpstreamSettings,
        clock: Clock,
        cluster: Option<Cluster>,
    ) -> Result<Self, ClientSetupError> {
        let keys = KeyStore::new(account_id, account)?;
        let mut base = account.base_url.clone();
        if !base.ends_with('/') {
            base.push('/');
        }
        let base_url = Url::parse(&base).map_err(|_| ClientSetupError::BaseUrl {
            account: account_id.to_owned(),
        })?;
        let http_error = |source| ClientSetupError::Http {
            account: account_id.to_owned(),
            source,
        };
        let mut builder = reqwest::Client::builder()
            // A 3xx becomes an error: following it would resend the body
            // and the key elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(upstream.connect_timeout)
            .timeout(upstream.request_timeout)
            .user_agent(concat!("remotepc-gateway/", env!("CARGO_PKG_VERSION")));
        if let Some(address) = account.egress_address {
            builder = builder.local_address(address);
        }
        // Egress is what the whitelist sees, so it follows the settings alone:
        // no proxy unless one is configured, whatever HTTP_PROXY says.
        builder = match &account.proxy {
            Some(proxy) => builder.proxy(reqwest::Proxy::all(proxy).map_err(http_error)?),
            None => builder.no_proxy(),
        };
        let http = builder.build().map_err(http_error)?;
        let egress = Egress {
            local_address: account.egress_address,
            proxy: account.proxy.as_deref().map(without_credentials),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                account: account_id.to_owned(),
                http,
                base_url,
                keys,
                gate: Gate::new(
                    upstream,
                    clock,
                    cluster.map(|cluster| (cluster, account_id)),
                ),
                retry: RetryPolicy::new(upstream),
                egress,
                request_timeout: upstream.request_timeout,
                max_response_bytes: upstream.max_response_bytes,
                page_size: upstream.page_size,
                page_fanout: upstream.page_fanout,
                max_collection_records: upstream.max_collection_records,
                last_success: Mutex::new(None),
            }),
        })
    }

    /// The account this client calls for.
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    pub(super) fn page_size(&self) -> u32 {
        self.inner.page_size
    }

    pub(super) fn page_fanout(&self) -> usize {
        self.inner.page_fanout
    }

    pub(super) fn max_collection_records(&self) -> u64 {
        self.inner.max_collection_records
    }

    /// Re-reads the key file; `Ok(true)` when the key changed.
    pub fn reload_key(&self) -> Result<bool, KeyError> {
        self.inner.keys.reload()
    }

    /// Breaker, key and egress, for readiness.
    pub fn health(&self) -> AccountHealth {
        let last_success = *self
            .inner
            .last_success
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        AccountHealth {
            breaker: self.inner.gate.breaker.state(),
            key: self.inner.keys.status(),
            last_success: last_success.map(|at| at.elapsed()),
            egress: self.inner.egress.clone(),
            rate_in_force: self.inner.gate.rate_in_force(),
        }
    }

    /// The account's budget of calls and each flow's part of it.
    pub fn budget(&self) -> crate::upstream::UpstreamBudget {
        self.inner.gate.budget()
    }

    /// `POST user/invite`.
    pub async fn invite_users(
        &self,
        request: &InviteUsers,
    ) -> Result<InviteOutcome, UpstreamError> {
        self.post_decoded(Endpoint::UserInvite, request).await
    }

    /// `POST user/create`.
    pub async fn create_user(&self, request: &CreateUser) -> Result<(), UpstreamError> {
        self.post(Endpoint::UserCreate, request).await
    }

    /// `POST user/delete`.
    pub async fn delete_users(
        &self,
        request: &DeleteUsers,
    ) -> Result<DeleteOutcome, UpstreamError> {
        self.post_decoded(Endpoint::UserDelete, request).await
    }

    /// `POST computer/assign`.
    pub async fn assign_computers(&self, request: &AssignComputers) -> Result<(), UpstreamError> {
        self.post(Endpoint::ComputerAssign, request).await
    }

    /// `POST computer/unassign`.
    pub async fn unassign_computers(&self, request: &AssignComputers) -> Result<(), UpstreamError> {
        self.post(Endpoint::ComputerUnassign, request).await
    }

    /// `POST computer/group/create`.
    pub async fn create_group(&self, request: &CreateGroup) -> Result<(), UpstreamError> {
        self.post(Endpoint::GroupCreate, request).await
    }

    /// `POST computer/group/move`.
    pub async fn move_to_group(&self, request: &MoveToGroup) -> Result<(), UpstreamError> {
        self.post(Endpoint::GroupMove, request).await
    }

    /// `POST computer/remove` (at most 50 computers; the caller splits).
    pub async fn remove_computers(&self, request: &RemoveComputers) -> Result<(), UpstreamError> {
        self.post(Endpoint::ComputerRemove, request).await
    }

    /// `POST computer/comments/add`.
    pub async fn add_comment(&self, request: &AddComment) -> Result<(), UpstreamError> {
        self.post(Endpoint::CommentAdd, request).await
    }

    /// One page of a list call (`GET user/list`, `GET computer/list`).
    pub async fn page<P: ListPage>(&self, page: PageRequest) -> Result<P, UpstreamError> {
        self.send(P::ENDPOINT, Some(page), &page).await
    }

    /// A write whose success message carries nothing of use (`"SUCCESS"`).
    async fn post(&self, endpoint: Endpoint, body: &impl Serialize) -> Result<(), UpstreamError> {
        self.send::<IgnoredAny>(endpoint, None, body)
            .await
            .map(drop)
    }

    async fn post_decoded<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        body: &impl Serialize,
    ) -> Result<T, UpstreamError> {
        self.send(endpoint, None, body).await
    }

    /// One call, its success message read as `T`, retried as the policy
    /// allows. List calls carry their paging both as query parameters and
    /// as a JSON body.
    #[tracing::instrument(name = "upstream", skip_all, fields(account = %self.inner.account, %endpoint, page = paging.map(|paging| i64::from(paging.page_index))))]
    async fn send<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        paging: Option<PageRequest>,
        body: &impl Serialize,
    ) -> Result<T, UpstreamError> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let error = match self.attempt(endpoint, paging, body).await {
                Ok(message) => return Ok(message),
                Err(error) => error,
            };
            let Some(delay) =
                self.inner
                    .retry
                    .next_delay(endpoint, &error, attempt, started.elapsed())
            else {
                return Err(error);
            };
            tracing::info!(attempt, delay_ms = delay.as_millis() as u64, error = %error, "retrying upstream call");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

/// A proxy URL without `user:password@`, safe to show in readiness.
fn without_credentials(proxy: &str) -> String {
    match Url::parse(proxy) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        Err(_) => "[unparsable proxy URL]".to_owned(),
    }
}
