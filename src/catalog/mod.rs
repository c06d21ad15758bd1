//! Domain services over one RemotePC account each: `Directory` (users) and
//! `Fleet` (devices, groups). They validate input by the vendor's rules before
//! anything is sent and read collections as snapshots. They know nothing of
//! GraphQL or HTTP.

mod directory;
mod fleet;
mod listing;
mod model;
pub mod rules;
mod validation;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

pub use directory::{DeleteOutcome, Directory, InviteOutcome, NewUser, UserKind};
pub use fleet::{Fleet, RemovalOutcome};
pub use listing::{DeviceFilter, DeviceOrder, Listing, SortOrder, UserFilter, UserOrder};
pub use model::{Device, DeviceStatus, User};
pub use validation::{MAX_LIST_LEN, ValidationError, Violation};

use crate::cache::{Keyed, SnapshotCache};
use crate::settings::Settings;
use crate::upstream::{ClientSetupError, RemotePcClient, UpstreamError};

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
    /// The caller's account is not configured.
    #[error("account `{0}` is not configured")]
    UnknownAccount(String),
}

impl From<UpstreamError> for CatalogError {
    fn from(error: UpstreamError) -> Self {
        CatalogError::Upstream(Arc::new(error))
    }
}

/// The services of every configured account, and their snapshot caches.
#[derive(Clone)]
pub struct Catalog {
    clients: BTreeMap<String, RemotePcClient>,
    remove_batch_size: usize,
    users: Arc<SnapshotCache<User>>,
    devices: Arc<SnapshotCache<Device>>,
}

impl Catalog {
    /// Builds one upstream client per configured account.
    pub fn new(settings: &Settings) -> Result<Self, ClientSetupError> {
        let clients = settings
            .accounts
            .iter()
            .map(|(id, account)| {
                Ok((
                    id.clone(),
                    RemotePcClient::new(id, account, &settings.upstream)?,
                ))
            })
            .collect::<Result<_, ClientSetupError>>()?;
        Ok(Self {
            clients,
            remove_batch_size: settings.upstream.remove_batch_size,
            users: Arc::new(SnapshotCache::new(settings.cache.freshness())),
            devices: Arc::new(SnapshotCache::new(settings.cache.freshness())),
        })
    }

    /// The configured account ids.
    pub fn accounts(&self) -> impl Iterator<Item = &str> {
        self.clients.keys().map(String::as_str)
    }

    /// Users of `account`.
    pub fn directory<'a>(&'a self, account: &'a str) -> Result<Directory<'a>, CatalogError> {
        Ok(Directory::new(account, self.client(account)?, &self.users))
    }

    /// Devices and groups of `account`.
    pub fn fleet<'a>(&'a self, account: &'a str) -> Result<Fleet<'a>, CatalogError> {
        Ok(Fleet::new(
            account,
            self.client(account)?,
            &self.devices,
            self.remove_batch_size,
        ))
    }

    fn client(&self, account: &str) -> Result<&RemotePcClient, CatalogError> {
        self.clients
            .get(account)
            .ok_or_else(|| CatalogError::UnknownAccount(account.to_owned()))
    }
}

impl Keyed for User {
    fn key(&self) -> &str {
        &self.username
    }

    /// Emails compare case-insensitively.
    fn normalize(key: &str) -> Cow<'_, str> {
        if key.bytes().any(|byte| byte.is_ascii_uppercase()) {
            Cow::Owned(key.to_ascii_lowercase())
        } else {
            Cow::Borrowed(key)
        }
    }
}

impl Keyed for Device {
    fn key(&self) -> &str {
        &self.name
    }
}
