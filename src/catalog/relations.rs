//! Relations RemotePC cannot list, as far as they went through this
//! gateway: which users each computer was assigned to, each computer's
//! group, and the invitations still pending. Read per account from the
//! store, kept for `cache.ttl` (a write through this process drops the
//! copy at once), so a page of 500 devices costs one read, not 500.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::{Catalog, CatalogError};
use crate::clock::Clock;
use crate::store::{Invitation, KnownGroup, Store};

/// An account's assignments and group memberships made through the
/// gateway.
#[derive(Debug, Default)]
pub struct Relations {
    users_by_device: HashMap<String, Vec<String>>,
    devices_by_user: HashMap<String, Vec<String>>,
    group_by_device: HashMap<String, usize>,
    groups: Vec<KnownGroup>,
}

impl Relations {
    /// Usernames `device` was assigned to through the gateway.
    pub fn users_of(&self, device: &str) -> &[String] {
        self.users_by_device.get(device).map_or(&[], Vec::as_slice)
    }

    /// Computers assigned to `username` through the gateway.
    pub fn devices_of(&self, username: &str) -> &[String] {
        self.devices_by_user
            .get(&username.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// The group the gateway last moved `device` into.
    pub fn group_of(&self, device: &str) -> Option<&KnownGroup> {
        self.groups.get(*self.group_by_device.get(device)?)
    }
}

/// Each account's relations as last read.
pub(super) struct RelationCache {
    ttl: Duration,
    clock: Clock,
    /// std `Mutex`: never held across `.await`.
    loaded: Mutex<HashMap<String, (Instant, Arc<Relations>)>>,
}

impl RelationCache {
    pub(super) fn new(ttl: Duration, clock: Clock) -> Self {
        Self {
            ttl,
            clock,
            loaded: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Arc<Relations>)>> {
        self.loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Drops `account`'s copy: the next read goes to the store.
    pub(super) fn changed(&self, account: &str) {
        self.lock().remove(account);
    }

    async fn get(&self, store: &Store, account: &str) -> Result<Arc<Relations>, CatalogError> {
        if let Some((read_at, relations)) = self.lock().get(account)
            && self.clock.now().saturating_duration_since(*read_at) < self.ttl
        {
            return Ok(Arc::clone(relations));
        }
        let mut relations = Relations::default();
        for (device, username) in store.assignments(account).await? {
            relations
                .devices_by_user
                .entry(username.clone())
                .or_default()
                .push(device.clone());
            relations
                .users_by_device
                .entry(device)
                .or_default()
                .push(username);
        }
        relations.groups = store.groups(account).await?;
        for (index, group) in relations.groups.iter().enumerate() {
            for device in &group.members {
                relations.group_by_device.insert(device.clone(), index);
            }
        }
        let relations = Arc::new(relations);
        self.lock().insert(
            account.to_owned(),
            (self.clock.now(), Arc::clone(&relations)),
        );
        Ok(relations)
    }
}

impl Catalog {
    /// Starts writing observed changes to the store (see
    /// `Live::write_history`); `None` when already started.
    pub fn write_history(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.live.write_history(Arc::clone(&self.relations))
    }

    /// `account`'s assignments and group memberships made through the
    /// gateway.
    pub async fn relations(&self, account: &str) -> Result<Arc<Relations>, CatalogError> {
        self.relations.get(&self.store, account).await
    }

    /// Invitations sent through the gateway whose user has not appeared in
    /// RemotePC's user list yet (those who did are forgotten now).
    pub async fn invitations(&self, account: &str) -> Result<Vec<Invitation>, CatalogError> {
        let users = self.directory(account)?.users(false).await?;
        let (joined, pending): (Vec<Invitation>, Vec<Invitation>) = self
            .store
            .invitations(account)
            .await?
            .into_iter()
            .partition(|invitation| users.snapshot.get(&invitation.email).is_some());
        if !joined.is_empty() {
            let emails: Vec<String> = joined.into_iter().map(|joined| joined.email).collect();
            if let Err(error) = self.store.forget_invitations(account, &emails).await {
                tracing::warn!(error = %error, "accepted invitations not forgotten");
            }
        }
        Ok(pending)
    }
}
