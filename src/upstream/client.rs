//! The HTTP client of one RemotePC account.

use std::time::{Duration, Instant};

use reqwest::{Method, Url, header};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use super::envelope::interpret_as;
use super::wire::{
    AddComment, AssignComputers, CreateGroup, CreateUser, DeleteOutcome, DeleteUsers, DevicePage,
    InviteOutcome, InviteUsers, MoveToGroup, PageRequest, RemoveComputers, UserPage,
};
use super::{ApiKey, Endpoint, KeyError, UpstreamError};
use crate::settings::{AccountSettings, UpstreamSettings};

/// Talks to one RemotePC account. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RemotePcClient {
    account: String,
    http: reqwest::Client,
    base_url: Url,
    key: ApiKey,
    request_timeout: Duration,
    max_response_bytes: usize,
    pub(super) page_size: u32,
    pub(super) page_fanout: usize,
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    /// The key source is unusable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// `base_url` is not a URL.
    #[error("account `{account}`: accounts.{account}.base_url is not a valid URL")]
    BaseUrl {
        /// Account id.
        account: String,
    },
    /// The TLS/HTTP stack could not be set up.
    #[error("account `{account}`: cannot build the HTTP client")]
    Http {
        /// Account id.
        account: String,
        /// The cause.
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
    ) -> Result<Self, ClientSetupError> {
        let key = ApiKey::from_account(account_id, account)?;
        let mut base = account.base_url.clone();
        if !base.ends_with('/') {
            base.push('/');
        }
        let base_url = Url::parse(&base).map_err(|_| ClientSetupError::BaseUrl {
            account: account_id.to_owned(),
        })?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(upstream.connect_timeout)
            .timeout(upstream.request_timeout)
            .user_agent(concat!("remotepc-gateway/", env!("CARGO_PKG_VERSION")));
        if let Some(address) = account.egress_address {
            builder = builder.local_address(address);
        }
        let http = builder.build().map_err(|source| ClientSetupError::Http {
            account: account_id.to_owned(),
            source,
        })?;
        Ok(Self {
            account: account_id.to_owned(),
            http,
            base_url,
            key,
            request_timeout: upstream.request_timeout,
            max_response_bytes: upstream.max_response_bytes,
            page_size: upstream.page_size,
            page_fanout: upstream.page_fanout,
        })
    }

    /// The account this client calls for.
    pub fn account(&self) -> &str {
        &self.account
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

    /// `GET user/list`, one page.
    pub async fn user_page(&self, page: PageRequest) -> Result<UserPage, UpstreamError> {
        self.send(Endpoint::UserList, Some(page), &page).await
    }

    /// `GET computer/list`, one page.
    pub async fn device_page(&self, page: PageRequest) -> Result<DevicePage, UpstreamError> {
        self.send(Endpoint::ComputerList, Some(page), &page).await
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

    /// One call, its success message read as `T`. List calls carry their
    /// paging both as query parameters and as a JSON body.
    #[tracing::instrument(name = "upstream", skip_all, fields(account = %self.account, %endpoint))]
    async fn send<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        paging: Option<PageRequest>,
        body: &impl Serialize,
    ) -> Result<T, UpstreamError> {
        let url = self
            .base_url
            .join(endpoint.path())
            .map_err(|_| UpstreamError::Malformed {
                endpoint,
                http_status: 0,
                reason: "endpoint URL cannot be built from base_url",
            })?;
        let method = if endpoint.is_read() {
            Method::GET
        } else {
            Method::POST
        };
        let mut request = self
            .http
            .request(method, url)
            .header(header::AUTHORIZATION, self.key.bearer_header())
            .header(header::ACCEPT, "application/json")
            .json(body);
        if let Some(page) = paging {
            request = request.query(&page);
        }

        let started = Instant::now();
        let result = async {
            let mut response = request
                .send()
                .await
                .map_err(|error| self.transport_error(endpoint, error))?;
            let status = response.status().as_u16();
            let expected = response.content_length().unwrap_or(0) as usize;
            let mut body = Vec::with_capacity(expected.min(self.max_response_bytes));
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|error| self.transport_error(endpoint, error))?
            {
                if body.len() + chunk.len() > self.max_response_bytes {
                    return Err(UpstreamError::TooLarge {
                        endpoint,
                        limit: self.max_response_bytes,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            interpret_as(endpoint, status, &body)
        }
        .await;

        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(_) => tracing::debug!(elapsed_ms, "upstream call succeeded"),
            Err(error) => tracing::warn!(elapsed_ms, error = %error, "upstream call failed"),
        }
        result
    }

    fn transport_error(&self, endpoint: Endpoint, error: reqwest::Error) -> UpstreamError {
        if error.is_timeout() {
            return UpstreamError::Timeout {
                endpoint,
                timeout: self.request_timeout,
            };
        }
        UpstreamError::Transport {
            endpoint,
            not_sent: error.is_connect(),
            source: error.without_url(),
        }
    }
}
