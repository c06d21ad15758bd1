//! The subscription root: each account's device and user changes as they
//! are observed, from snapshot refreshes and from writes made through the
//! gateway. Knows nothing of transports (WebSocket, SSE).

use std::sync::Arc;

use async_graphql::{Context, Object, Result, Subscription};
use futures::{Stream, TryStreamExt};

use super::caller;
use super::device::{Device, DeviceStatus};
use super::error::{ErrorCode, catalog_error, coded};
use super::guard::RequireScope;
use super::history::ChangeKind;
use super::query::{DeviceFilter, UserFilter, device_filter};
use super::timestamp::Timestamp;
use super::user::User;
use crate::auth::Scope;
use crate::catalog::{self as domain, Catalog, Changes, Next};

/// A change of one device.
pub(crate) struct DeviceChange(Arc<domain::Change<domain::Device>>);

#[Object]
impl DeviceChange {
    /// What changed; a device whose status and comment changed at once
    /// gives two changes.
    async fn kind(&self) -> ChangeKind {
        self.0.kind.into()
    }

    /// When the gateway observed it (UTC).
    async fn at(&self) -> Timestamp {
        Timestamp::utc(self.0.at)
    }

    /// The device as it is now (as it was last, when `REMOVED`).
    async fn device(&self) -> Device {
        Device(Arc::clone(&self.0.item))
    }

    /// The status before, when `kind` is `STATUS_CHANGED`.
    async fn previous_status(&self) -> Option<DeviceStatus> {
        (self.0.kind == domain::ChangeKind::StatusChanged)
            .then(|| self.0.from.as_deref().and_then(domain::status_named))
            .flatten()
            .map(Into::into)
    }

    /// The value before: the status, the comment, or the session time as
    /// RemotePC wrote it; null for `ADDED`/`REMOVED`.
    async fn from(&self) -> Option<&str> {
        self.0.from.as_deref()
    }

    /// The value after, as `from`.
    async fn to(&self) -> Option<&str> {
        self.0.to.as_deref()
    }
}

/// A change of one user: RemotePC's user list holds names only, so a user
/// is `ADDED` or `REMOVED`.
pub(crate) struct UserChange(Arc<domain::Change<domain::User>>);

#[Object]
impl UserChange {
    /// What changed.
    async fn kind(&self) -> ChangeKind {
        self.0.kind.into()
    }

    /// When the gateway observed it (UTC).
    async fn at(&self) -> Timestamp {
        Timestamp::utc(self.0.at)
    }

    /// The user as it is now (as it was last, when `REMOVED`).
    async fn user(&self) -> User {
        User(Arc::clone(&self.0.item))
    }
}

/// Every subscription.
#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Changes of the account's devices from now on: status, comment,
    /// sessions, devices added and removed. While anyone subscribes, the
    /// gateway reads RemotePC's list every `live.poll_interval` (one read
    /// for every subscriber and query); changes made through the gateway
    /// arrive at once. `filter` is tested on the device's new state (its
    /// last, when removed); `offlineSince`/`onlineSince` are for queries.
    #[graphql(guard = "RequireScope(Scope::Read)")]
    async fn device_changes(
        &self,
        ctx: &Context<'_>,
        filter: Option<DeviceFilter>,
    ) -> Result<impl Stream<Item = Result<DeviceChange>> + use<>> {
        let catalog = ctx.data::<Catalog>()?;
        let account = &caller(ctx)?.account;
        let filter = device_filter(filter, catalog.time_zone(account), None)?;
        let changes = catalog
            .changes::<domain::Device>(account)
            .map_err(catalog_error)?;
        Ok(changes_matching(changes, move |device| {
            filter.selection(domain::DeviceOrder::Name).admits(device)
        })
        .map_ok(DeviceChange))
    }

    /// Changes of the account's users from now on (added, removed), as
    /// `deviceChanges`.
    #[graphql(guard = "RequireScope(Scope::Read)")]
    async fn user_changes(
        &self,
        ctx: &Context<'_>,
        filter: Option<UserFilter>,
    ) -> Result<impl Stream<Item = Result<UserChange>> + use<>> {
        let catalog = ctx.data::<Catalog>()?;
        let account = &caller(ctx)?.account;
        let filter = UserFilter::selecting(filter);
        let changes = catalog
            .changes::<domain::User>(account)
            .map_err(catalog_error)?;
        Ok(
            changes_matching(changes, move |user| filter.selection().admits(user))
                .map_ok(UserChange),
        )
    }
}

/// The changes `keep` accepts, until the gateway closes; a listener that
/// fell behind gets one `SLOW_CONSUMER` error and its stream ends.
fn changes_matching<T, F>(
    changes: Changes<T>,
    keep: F,
) -> impl Stream<Item = Result<Arc<domain::Change<T>>>>
where
    T: Send + Sync + 'static,
    F: Fn(&T) -> bool + Send + Sync + 'static,
{
    futures::stream::unfold(Some((changes, keep)), |state| async move {
        let (mut changes, keep) = state?;
        loop {
            match changes.next().await {
                Next::Change(change) if keep(&change.item) => {
                    return Some((Ok(change), Some((changes, keep))));
                }
                Next::Change(_) => {}
                Next::TooSlow(lost) => {
                    let message = format!(
                        "too slow: {lost} changes were not read in time (live.event_buffer); subscribe again"
                    );
                    return Some((Err(coded(ErrorCode::SlowConsumer, message)), None));
                }
                Next::Closed => return None,
            }
        }
    })
}
