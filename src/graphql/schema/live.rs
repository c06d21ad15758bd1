//! The subscription root: each account's device and user changes as they
//! are observed, from snapshot refreshes and from writes made through the
//! gateway, from now on or resumed after a change cursor. Knows nothing of
//! transports (WebSocket, SSE); tells them each event's cursor through the
//! request's `StreamPosition`.

use std::sync::Arc;

use async_graphql::{Context, Object, Result, Subscription};
use futures::{Stream, TryStreamExt};

use super::caller;
use super::device::{Device, DeviceStatus};
use super::error::{catalog_error, change_cursor};
use super::guard::{RequireScope, Root};
use super::history::ChangeKind;
use super::query::{DeviceFilter, UserFilter, device_filter};
use super::timestamp::Timestamp;
use super::user::User;
use crate::catalog::{self as domain, Catalog, ChangeCursor, Changes, Next};

/// Where a subscription's stream is: the cursor of the event it sent last,
/// for transports that give each event an id (graphql-sse's `id:`).
#[derive(Debug, Clone, Default)]
pub struct StreamPosition(Arc<std::sync::Mutex<Option<String>>>);

impl StreamPosition {
    /// The cursor of the event sent last.
    pub fn last(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn set(&self, cursor: &str) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(cursor.to_owned());
    }
}

/// A position to resume from that the transport was given beside the
/// document (graphql-sse's `Last-Event-ID`): newer than the document's
/// `after`, which it replaces.
#[derive(Debug, Clone)]
pub struct ResumeFrom(pub String);

/// The cursor to resume after: the transport's, else the argument's.
fn resume_after(
    ctx: &Context<'_>,
    after: Option<String>,
    account: &str,
) -> Result<Option<ChangeCursor>> {
    let after = ctx
        .data_opt::<ResumeFrom>()
        .map(|resume| resume.0.clone())
        .or(after);
    after
        .map(|after| change_cursor(&after, account))
        .transpose()
}

/// A change and its cursor.
pub(crate) struct Logged<T> {
    change: Arc<domain::Change<T>>,
    cursor: String,
}

impl<T> Logged<T> {
    /// `change` of `account`'s log.
    pub(crate) fn new(change: Arc<domain::Change<T>>, account: &str) -> Self {
        let cursor = ChangeCursor::at(change.position).encode(account);
        Self { change, cursor }
    }
}

/// A change of one device.
pub(crate) struct DeviceChange(pub(crate) Logged<domain::Device>);

#[Object]
impl DeviceChange {
    /// Its position in the account's change log: subscribe with
    /// `after: cursor` to go on after it, on any replica.
    async fn cursor(&self) -> &str {
        &self.0.cursor
    }

    /// What changed; a device whose status and comment changed at once
    /// gives two changes.
    async fn kind(&self) -> ChangeKind {
        self.0.change.kind.into()
    }

    /// When the gateway observed it (UTC).
    async fn at(&self) -> Timestamp {
        Timestamp::utc(self.0.change.at)
    }

    /// The device as it is now (as it was last, when `REMOVED`).
    async fn device(&self) -> Device {
        Device(Arc::clone(&self.0.change.item))
    }

    /// The status before, when `kind` is `STATUS_CHANGED`.
    async fn previous_status(&self) -> Option<DeviceStatus> {
        (self.0.change.kind == domain::ChangeKind::StatusChanged)
            .then(|| self.0.change.from.as_deref().and_then(domain::status_named))
            .flatten()
            .map(Into::into)
    }

    /// The value before: the status, the comment, or the session time as
    /// RemotePC wrote it; null for `ADDED`/`REMOVED`.
    async fn from(&self) -> Option<&str> {
        self.0.change.from.as_deref()
    }

    /// The value after, as `from`.
    async fn to(&self) -> Option<&str> {
        self.0.change.to.as_deref()
    }
}

/// A change of one user: RemotePC's user list holds names only, so a user
/// is `ADDED` or `REMOVED`.
pub(crate) struct UserChange(Logged<domain::User>);

#[Object]
impl UserChange {
    /// Its position in the account's change log, as `DeviceChange.cursor`.
    async fn cursor(&self) -> &str {
        &self.0.cursor
    }

    /// What changed.
    async fn kind(&self) -> ChangeKind {
        self.0.change.kind.into()
    }

    /// When the gateway observed it (UTC).
    async fn at(&self) -> Timestamp {
        Timestamp::utc(self.0.change.at)
    }

    /// The user as it is now (as it was last, when `REMOVED`).
    async fn user(&self) -> User {
        User(Arc::clone(&self.0.change.item))
    }
}

/// Every subscription.
#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Changes of the account's devices: status, comment, sessions,
    /// devices added and removed. Without `after`, from now on; with a
    /// change cursor (an event's `cursor`, a connection's `changeCursor`),
    /// first every change after it that the log keeps, in order, then live,
    /// with none missed or repeated at the seam. The stream ends with
    /// `CURSOR_EXPIRED` when changes after the cursor are no longer all
    /// kept: list again. While anyone subscribes, the gateway reads
    /// RemotePC's list every `live.poll_interval` (one read for every
    /// subscriber and query); changes made through the gateway arrive at
    /// once. `filter` is tested on the device's new state (its last, when
    /// removed); `offlineSince`/`onlineSince` are for queries.
    #[graphql(guard = "const { RequireScope::of(Root::Subscription, \"deviceChanges\") }")]
    async fn device_changes(
        &self,
        ctx: &Context<'_>,
        filter: Option<DeviceFilter>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<DeviceChange>> + use<>> {
        let catalog = ctx.data::<Catalog>()?;
        let account = &caller(ctx)?.account;
        let filter = device_filter(filter, catalog.time_zone(account), None)?;
        let after = resume_after(ctx, after, account)?;
        let changes = catalog
            .changes::<domain::Device>(account, after)
            .await
            .map_err(catalog_error)?;
        let position = ctx.data_opt::<StreamPosition>().cloned();
        Ok(changes_matching(changes, account, position, move |device| {
            filter.selection(domain::DeviceOrder::Name).admits(device)
        })
        .map_ok(DeviceChange))
    }

    /// Changes of the account's users (added, removed), as
    /// `deviceChanges`.
    #[graphql(guard = "const { RequireScope::of(Root::Subscription, \"userChanges\") }")]
    async fn user_changes(
        &self,
        ctx: &Context<'_>,
        filter: Option<UserFilter>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<UserChange>> + use<>> {
        let catalog = ctx.data::<Catalog>()?;
        let account = &caller(ctx)?.account;
        let filter = UserFilter::selecting(filter);
        let after = resume_after(ctx, after, account)?;
        let changes = catalog
            .changes::<domain::User>(account, after)
            .await
            .map_err(catalog_error)?;
        let position = ctx.data_opt::<StreamPosition>().cloned();
        Ok(changes_matching(changes, account, position, move |user| {
            filter.selection().admits(user)
        })
        .map_ok(UserChange))
    }
}

/// The changes `keep` accepts, until the gateway closes; one that cannot
/// go on without a gap ends with `CURSOR_EXPIRED`.
fn changes_matching<T, F>(
    changes: Changes<T>,
    account: &str,
    position: Option<StreamPosition>,
    keep: F,
) -> impl Stream<Item = Result<Logged<T>>> + use<T, F>
where
    T: domain::Listed,
    F: Fn(&T) -> bool + Send + Sync + 'static,
{
    let state = (changes, keep, account.to_owned(), position);
    futures::stream::unfold(Some(state), |state| async move {
        let (mut changes, keep, account, position) = state?;
        loop {
            match changes.next().await {
                Next::Change(change) if keep(&change.item) => {
                    let logged = Logged::new(change, &account);
                    if let Some(position) = &position {
                        position.set(&logged.cursor);
                    }
                    return Some((Ok(logged), Some((changes, keep, account, position))));
                }
                Next::Change(_) => {}
                Next::Expired(problem) => {
                    let expired = domain::CatalogError::CursorExpired(problem);
                    return Some((Err(catalog_error(expired)), None));
                }
                Next::Unavailable(error) => {
                    let failed = domain::CatalogError::Store(error);
                    return Some((Err(catalog_error(failed)), None));
                }
                Next::Closed => return None,
            }
        }
    })
}
