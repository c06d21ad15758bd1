//! The history of observed changes (RemotePC keeps none): `deviceEvents`
//! for "what changed overnight" and `Device.history` for one computer,
//! newest first or, from a cursor, oldest first; each entry's cursor is
//! its position in the change log.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};

use super::cache_report::not_reusable;
use super::connection::first_count;
use super::device::Device;
use super::error::{catalog_error, change_cursor, validation_error};
use super::guard::{RequireScope, Root};
use super::live::{DeviceChange, Logged};
use super::timestamp::Timestamp;
use super::{caller, limits};
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
pub(crate) struct DeviceEvent {
    entry: HistoryEntry,
    cursor: String,
}

#[Object]
impl DeviceEvent {
    /// Its position in the account's change log: resume `deviceChanges`,
    /// `deviceChangesSince` or `deviceEvents(order: OLDEST_FIRST)` after
    /// it. The same as its edge's cursor.
    async fn cursor(&self) -> &str {
        &self.cursor
    }

    /// When the gateway observed it (UTC): within one poll interval of the
    /// change while someone subscribes, else at the next read.
    async fn at(&self) -> Timestamp {
        Timestamp::utc(self.entry.at)
    }

    /// What changed.
    async fn kind(&self) -> ChangeKind {
        self.entry.kind.into()
    }

    /// The device's host name.
    async fn device_name(&self) -> &str {
        &self.entry.subject
    }

    /// The value before: the status (`ONLINE`, `OFFLINE`, `UNKNOWN`), the
    /// comment, or the session time as RemotePC wrote it; null for
    /// `ADDED`/`REMOVED`.
    async fn from(&self) -> Option<&str> {
        self.entry.from.as_deref()
    }

    /// The value after, as `from`.
    async fn to(&self) -> Option<&str> {
        self.entry.to.as_deref()
    }

    /// The device as it is now; null when it is gone.
    async fn device(&self, ctx: &Context<'_>) -> Result<Option<Device>> {
        let found = Device::named(ctx, std::slice::from_ref(&self.entry.subject)).await?;
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

/// A page of device changes.
pub(crate) type DeviceEventConnection = Connection<String, DeviceEvent>;

/// Which way `deviceEvents` pages.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum HistoryOrder {
    /// Newest first; `after` continues to older changes.
    #[default]
    NewestFirst,
    /// Oldest first; `after` (a change cursor) starts after that change:
    /// how a poller catches up. `CURSOR_EXPIRED` when the changes after
    /// it are no longer all kept.
    OldestFirst,
}

/// Changes after a cursor, for a poller: one request per interval keeps
/// it in sync.
#[derive(SimpleObject)]
pub(crate) struct DeviceChangeBatch {
    /// The changes, oldest first.
    changes: Vec<DeviceChange>,
    /// Where to ask from next time (the last change's cursor, or later).
    cursor: String,
    /// Whether more changes are kept after `cursor` already: ask again now.
    has_more: bool,
}

/// Queries on the history.
#[derive(Default)]
pub(crate) struct HistoryQuery;

#[Object]
impl HistoryQuery {
    /// Changes of the account's devices the gateway observed, newest first
    /// (what changed overnight) or oldest first from a cursor (catching
    /// up). Kept `live.history_retention` (30 days by default); the
    /// gateway sees changes when it reads RemotePC (every
    /// `live.poll_interval` while anyone subscribes, else when queries
    /// refresh the snapshot) and when it makes them.
    #[graphql(
        guard = "const { RequireScope::of(Root::Query, \"deviceEvents\") }",
        complexity = "super::connection::page_complexity(first, child_complexity)"
    )]
    async fn device_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<DeviceEventFilter>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default)] order: HistoryOrder,
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
            oldest_first: order == HistoryOrder::OldestFirst,
        };
        history_page(ctx, selection, first, after).await
    }

    /// Changes of the account's devices after a change cursor (an event's
    /// `cursor`, a connection's `changeCursor`), oldest first, and the
    /// cursor to ask from next: catching up without a socket.
    /// `CURSOR_EXPIRED` when the changes after it are no longer all kept.
    #[graphql(
        guard = "const { RequireScope::of(Root::Query, \"deviceChangesSince\") }",
        complexity = "super::connection::page_complexity(first, child_complexity)"
    )]
    async fn device_changes_since(
        &self,
        ctx: &Context<'_>,
        after: String,
        first: Option<i32>,
    ) -> Result<DeviceChangeBatch> {
        not_reusable(ctx);
        let first = first_count(first, limits(ctx)?).map_err(|error| validation_error(&error))?;
        let account = &caller(ctx)?.account;
        let after = change_cursor(&after, account)?;
        let since = ctx
            .data::<Catalog>()?
            .changes_since::<domain::Device>(account, after, first)
            .await
            .map_err(catalog_error)?;
        Ok(DeviceChangeBatch {
            changes: since
                .changes
                .into_iter()
                .map(|change| DeviceChange(Logged::new(change, account)))
                .collect(),
            cursor: since.cursor.encode(account),
            has_more: since.has_more,
        })
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
    let cursor = after
        .as_deref()
        .map(|after| change_cursor(after, account))
        .transpose()?;
    let page = ctx
        .data::<Catalog>()?
        .device_history(account, selection, first, cursor)
        .await
        .map_err(catalog_error)?;
    let mut connection = Connection::new(after.is_some(), page.has_next_page);
    connection.edges = page
        .entries
        .into_iter()
        .map(|entry| {
            let cursor = entry.cursor.encode(account);
            Edge::new(cursor.clone(), DeviceEvent { entry, cursor })
        })
        .collect();
    Ok(connection)
}
