//! The history of observed changes (RemotePC keeps none): `deviceEvents`
//! for "what changed overnight" and `Device.history` for one computer,
//! newest first, with cursors that name the entry.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, InputObject, Object, Result};

use super::cache_report::not_reusable;
use super::connection::first_count;
use super::device::Device;
use super::error::{catalog_error, validation_error};
use super::guard::RequireScope;
use super::timestamp::Timestamp;
use super::{caller, limits};
use crate::auth::Scope;
use crate::catalog::{self as domain, Catalog, HistoryEntry, HistorySelection};

/// What happened to a device or user.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ChangeKind")]
pub(crate) enum ChangeKind {
    /// It appeared in RemotePC's list.
    Added,
    /// It left RemotePC's list.
    Removed,
    /// A device went online, offline or unknown (`from`/`to`,
    /// `previousStatus`).
    StatusChanged,
    /// A device's comment changed.
    CommentChanged,
    /// A device's last session time moved (a session started).
    Session,
}

impl From<domain::ChangeKind> for ChangeKind {
    fn from(kind: domain::ChangeKind) -> Self {
        match kind {
            domain::ChangeKind::Added => ChangeKind::Added,
            domain::ChangeKind::Removed => ChangeKind::Removed,
            domain::ChangeKind::StatusChanged => ChangeKind::StatusChanged,
            domain::ChangeKind::CommentChanged => ChangeKind::CommentChanged,
            domain::ChangeKind::Session => ChangeKind::Session,
        }
    }
}

impl From<ChangeKind> for domain::ChangeKind {
    fn from(kind: ChangeKind) -> Self {
        match kind {
            ChangeKind::Added => domain::ChangeKind::Added,
            ChangeKind::Removed => domain::ChangeKind::Removed,
            ChangeKind::StatusChanged => domain::ChangeKind::StatusChanged,
            ChangeKind::CommentChanged => domain::ChangeKind::CommentChanged,
            ChangeKind::Session => domain::ChangeKind::Session,
        }
    }
}

/// One change of a device the gateway observed: between two reads of
/// RemotePC's list, or made through the gateway.
pub(crate) struct DeviceEvent(HistoryEntry);

#[Object]
impl DeviceEvent {
    /// When the gateway observed it (UTC): within one poll interval of the
    /// change while someone subscribes, else at the next read.
    async fn at(&self) -> Timestamp {
        Timestamp::utc(self.0.at)
    }

    /// What changed.
    async fn kind(&self) -> ChangeKind {
        self.0.kind.into()
    }

    /// The device's host name.
    async fn device_name(&self) -> &str {
        &self.0.subject
    }

    /// The value before: the status (`ONLINE`, `OFFLINE`, `UNKNOWN`), the
    /// comment, or the session time as RemotePC wrote it; null for
    /// `ADDED`/`REMOVED`.
    async fn from(&self) -> Option<&str> {
        self.0.from.as_deref()
    }

    /// The value after, as `from`.
    async fn to(&self) -> Option<&str> {
        self.0.to.as_deref()
    }

    /// The device as it is now; null when it is gone.
    async fn device(&self, ctx: &Context<'_>) -> Result<Option<Device>> {
        let found = Device::named(ctx, std::slice::from_ref(&self.0.subject)).await?;
        Ok(found.into_iter().next())
    }
}

/// Which changes `deviceEvents` lists; every condition given must hold.
#[derive(InputObject, Debug, Clone, Default)]
pub(crate) struct DeviceEventFilter {
    /// Observed at or after this time; one without offset is read in the
    /// account's time zone.
    since: Option<Timestamp>,
    /// Only these kinds.
    kinds: Option<Vec<ChangeKind>>,
    /// Host name contains this, ignoring case.
    name_contains: Option<String>,
}

/// A page of device changes, newest first.
pub(crate) type DeviceEventConnection = Connection<String, DeviceEvent>;

/// Queries on the history.
#[derive(Default)]
pub(crate) struct HistoryQuery;

#[Object]
impl HistoryQuery {
    /// Changes of the account's devices the gateway observed, newest first:
    /// what changed overnight. Kept `live.history_retention` (30 days by
    /// default); the gateway sees changes when it reads RemotePC (every
    /// `live.poll_interval` while anyone subscribes, else when queries
    /// refresh the snapshot) and when it makes them.
    #[graphql(
        guard = "RequireScope(Scope::Read)",
        complexity = "super::connection::page_complexity(first, child_complexity)"
    )]
    async fn device_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<DeviceEventFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<DeviceEventConnection> {
        let filter = filter.unwrap_or_default();
        let zone = ctx.data::<Catalog>()?.time_zone(&caller(ctx)?.account);
        let since = filter
            .since
            .map(|since| since.instant_in(zone, "filter.since"))
            .transpose()?;
        let selection = HistorySelection {
            subject: None,
            name_contains: filter.name_contains,
            kinds: filter
                .kinds
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            since,
        };
        history_page(ctx, selection, first, after).await
    }
}

/// `Device.history`: the changes of one device, newest first.
pub(crate) async fn device_history(
    ctx: &Context<'_>,
    name: &str,
    first: Option<i32>,
    after: Option<String>,
) -> Result<DeviceEventConnection> {
    let selection = HistorySelection {
        subject: Some(name.to_owned()),
        ..HistorySelection::default()
    };
    history_page(ctx, selection, first, after).await
}

async fn history_page(
    ctx: &Context<'_>,
    selection: HistorySelection,
    first: Option<i32>,
    after: Option<String>,
) -> Result<DeviceEventConnection> {
    // The history grows without a new snapshot: never answer it from the
    // response cache.
    not_reusable(ctx);
    let limits = limits(ctx)?;
    let first = first_count(first, limits).map_err(|error| validation_error(&error))?;
    let account = &caller(ctx)?.account;
    let page = ctx
        .data::<Catalog>()?
        .device_history(account, selection, first, after.as_deref())
        .await
        .map_err(catalog_error)?;
    let mut connection = Connection::new(after.is_some(), page.has_next_page);
    connection.edges = page
        .entries
        .into_iter()
        .map(|entry| Edge::new(entry.cursor.encode(), DeviceEvent(entry)))
        .collect();
    Ok(connection)
}
