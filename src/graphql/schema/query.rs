//! Query roots: users and devices from the cached snapshots, filtered,
//! ordered and paged, and single lookups by key.

use std::sync::Arc;

use async_graphql::{Context, Enum, InputObject, Object, Result};
use chrono_tz::Tz;

use super::cache_report::{not_reusable, record};
use super::connection::{PageArgs, SortConnection, paginate};
use super::device::{Device, DeviceStatus};
use super::error::{ErrorCode, catalog_error, coded, validation_error};
use super::guard::{RequireScope, Root};
use super::timestamp::Timestamp;
use super::user::User;
use super::{caller, directory, fleet, limits};
use crate::catalog::{self as domain, Listing};
use crate::catalog::{Catalog, Snapshot, StatusHeld, StatusSince};

/// Sort direction.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum OrderDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Greatest first.
    Desc,
}

/// What devices can be ordered by.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum DeviceOrderField {
    /// Host name.
    #[default]
    Name,
    /// Last session time; devices without one come first in ASC.
    LastSession,
    /// ONLINE, then OFFLINE, then UNKNOWN in ASC.
    Status,
    /// OS family, ignoring case.
    Os,
}

/// An ordering of devices; ties are broken by name.
#[derive(InputObject, Debug, Clone, Copy, Default)]
pub(crate) struct DeviceOrder {
    /// The field to order by.
    #[graphql(default)]
    pub(crate) field: DeviceOrderField,
    /// The direction.
    #[graphql(default)]
    pub(crate) direction: OrderDirection,
}

/// Which devices to list; every condition given must hold.
#[derive(InputObject, Debug, Clone, Default)]
pub(crate) struct DeviceFilter {
    /// Name contains this, ignoring case.
    pub(crate) name_contains: Option<String>,
    /// Status is this.
    pub(crate) status: Option<DeviceStatus>,
    /// OS family is this (e.g. `Windows`), ignoring case.
    pub(crate) os: Option<String>,
    /// Comment contains this, ignoring case.
    pub(crate) comment_contains: Option<String>,
    /// Last session strictly before this time; one without offset is read
    /// in the account's time zone.
    pub(crate) last_session_before: Option<Timestamp>,
    /// Last session strictly after this time; one without offset is read
    /// in the account's time zone.
    pub(crate) last_session_after: Option<Timestamp>,
    /// Offline since this time or earlier ("offline for more than 7
    /// days"): by the status changes this gateway observed (see
    /// `deviceEvents`), else by the last session where it saw no change.
    pub(crate) offline_since: Option<Timestamp>,
    /// Online since this time or earlier, by the status changes this
    /// gateway observed (devices it never saw come online are left out).
    pub(crate) online_since: Option<Timestamp>,
}

impl DeviceFilter {
    /// Whether it asks for the status history (`offlineSince`,
    /// `onlineSince`).
    pub(crate) fn needs_history(filter: Option<&Self>) -> bool {
        filter.is_some_and(|filter| filter.offline_since.is_some() || filter.online_since.is_some())
    }
}

/// What users can be ordered by.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum UserOrderField {
    /// Username (email).
    #[default]
    Username,
    /// First name, ignoring case.
    FirstName,
    /// Last name, ignoring case.
    LastName,
}

/// An ordering of users; ties are broken by username.
#[derive(InputObject, Debug, Clone, Copy, Default)]
pub(crate) struct UserOrder {
    /// The field to order by.
    #[graphql(default)]
    pub(crate) field: UserOrderField,
    /// The direction.
    #[graphql(default)]
    pub(crate) direction: OrderDirection,
}

/// Which users to list.
#[derive(InputObject, Debug, Clone, Default)]
pub(crate) struct UserFilter {
    /// Username, first, last or full name contains this, ignoring case.
    pub(crate) search: Option<String>,
}

impl UserFilter {
    /// The catalog's form of `filter` (every user when absent).
    pub(crate) fn selecting(filter: Option<Self>) -> domain::UserFilter {
        domain::UserFilter {
            search: filter.and_then(|filter| filter.search),
        }
    }
}

/// Queries on users.
#[derive(Default)]
pub(crate) struct UserQuery;

#[Object]
impl UserQuery {
    /// Users of the account, filtered and ordered, as a Relay connection.
    /// Served from a snapshot of every `user/list` page; `extensions.cache`
    /// says how old it is. `refresh: true` reads RemotePC anew unless the
    /// snapshot is younger than `cache.min_refresh_interval`.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        guard = "const { RequireScope::of(Root::Query, \"users\") }",
        complexity = "super::connection::page_complexity(first.or(last), child_complexity)"
    )]
    async fn users(
        &self,
        ctx: &Context<'_>,
        filter: Option<UserFilter>,
        order_by: Option<UserOrder>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
        #[graphql(default)] refresh: bool,
    ) -> Result<SortConnection<User>> {
        let served = directory(ctx)?
            .users(refresh)
            .await
            .map_err(catalog_error)?;
        record(ctx, &served);
        if refresh {
            not_reusable(ctx);
        }
        let listing = user_listing(served.snapshot, filter, order_by);
        let args = PageArgs {
            after,
            before,
            first,
            last,
        };
        paginate(&listing, args, limits(ctx)?, |user| User(Arc::clone(user)))
            .map_err(|error| validation_error(&error))
    }

    /// One user by username (email, any case); null when there is none.
    #[graphql(guard = "const { RequireScope::of(Root::Query, \"user\") }")]
    async fn user(&self, ctx: &Context<'_>, username: String) -> Result<Option<User>> {
        let served = directory(ctx)?.users(false).await.map_err(catalog_error)?;
        record(ctx, &served);
        Ok(served
            .snapshot
            .get(username.trim())
            .map(|user| User(Arc::clone(user))))
    }
}

/// Queries on devices.
#[derive(Default)]
pub(crate) struct DeviceQuery;

#[Object]
impl DeviceQuery {
    /// Devices of the account, filtered and ordered, as a Relay connection.
    /// Served from a snapshot of every `computer/list` page;
    /// `extensions.cache` says how old it is. `refresh: true` reads RemotePC
    /// anew unless the snapshot is younger than `cache.min_refresh_interval`.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        guard = "const { RequireScope::of(Root::Query, \"devices\") }",
        complexity = "super::connection::page_complexity(first.or(last), child_complexity)"
    )]
    async fn devices(
        &self,
        ctx: &Context<'_>,
        filter: Option<DeviceFilter>,
        order_by: Option<DeviceOrder>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
        #[graphql(default)] refresh: bool,
    ) -> Result<SortConnection<Device>> {
        let served = fleet(ctx)?.devices(refresh).await.map_err(catalog_error)?;
        record(ctx, &served);
        let catalog = ctx.data::<Catalog>()?;
        let account = &caller(ctx)?.account;
        let seen = if DeviceFilter::needs_history(filter.as_ref()) {
            let seen = catalog.status_since(account).await.map_err(catalog_error)?;
            Some(Arc::new(seen))
        } else {
            None
        };
        if refresh || seen.is_some() {
            not_reusable(ctx);
        }
        let zone = catalog.time_zone(account);
        let filter = device_filter(filter, zone, seen)?;
        let listing = device_listing(served.snapshot, &filter, order_by);
        let args = PageArgs {
            after,
            before,
            first,
            last,
        };
        paginate(&listing, args, limits(ctx)?, |device| {
            Device(Arc::clone(device))
        })
        .map_err(|error| validation_error(&error))
    }

    /// One device by its exact name; null when there is none.
    #[graphql(guard = "const { RequireScope::of(Root::Query, \"device\") }")]
    async fn device(&self, ctx: &Context<'_>, name: String) -> Result<Option<Device>> {
        let served = fleet(ctx)?.devices(false).await.map_err(catalog_error)?;
        record(ctx, &served);
        Ok(served
            .snapshot
            .get(name.trim())
            .map(|device| Device(Arc::clone(device))))
    }
}

/// The users of `snapshot` that `filter` selects, in `order_by`'s order.
pub(crate) fn user_listing(
    snapshot: Arc<Snapshot<domain::User>>,
    filter: Option<UserFilter>,
    order_by: Option<UserOrder>,
) -> Listing<domain::User> {
    let filter = UserFilter::selecting(filter);
    let order = order_by.unwrap_or_default();
    let field = match order.field {
        UserOrderField::Username => domain::UserOrder::Username,
        UserOrderField::FirstName => domain::UserOrder::FirstName,
        UserOrderField::LastName => domain::UserOrder::LastName,
    };
    Listing::select(
        snapshot,
        &field,
        order.direction == OrderDirection::Desc,
        filter.selection(),
    )
}

/// The catalog's form of `filter`, local times read in `zone`; `seen`
/// answers `offlineSince`/`onlineSince` (refused without it).
pub(crate) fn device_filter(
    filter: Option<DeviceFilter>,
    zone: Tz,
    seen: Option<Arc<StatusSince>>,
) -> Result<domain::DeviceFilter> {
    let filter = filter.unwrap_or_default();
    let bound = |at: Option<Timestamp>, argument: &str| {
        at.map(|at| at.local_in(zone, argument)).transpose()
    };
    let mut held = Vec::new();
    for (at, status, argument) in [
        (
            filter.offline_since,
            domain::DeviceStatus::Offline,
            "filter.offlineSince",
        ),
        (
            filter.online_since,
            domain::DeviceStatus::Online,
            "filter.onlineSince",
        ),
    ] {
        let Some(at) = at else { continue };
        let Some(seen) = &seen else {
            let message = format!(
                "{argument}: not available here (subscriptions filter on the change itself)"
            );
            return Err(coded(ErrorCode::BadUserInput, message));
        };
        held.push(StatusHeld {
            status,
            at_or_before: at.instant_in(zone, argument)?,
            seen: Arc::clone(seen),
        });
    }
    Ok(domain::DeviceFilter {
        name_contains: filter.name_contains,
        status: filter.status.map(Into::into),
        os: filter.os,
        comment_contains: filter.comment_contains,
        last_session_before: bound(filter.last_session_before, "filter.lastSessionBefore")?,
        last_session_after: bound(filter.last_session_after, "filter.lastSessionAfter")?,
        held,
    })
}

/// The devices of `snapshot` that `filter` selects, in `order_by`'s order.
pub(crate) fn device_listing(
    snapshot: Arc<Snapshot<domain::Device>>,
    filter: &domain::DeviceFilter,
    order_by: Option<DeviceOrder>,
) -> Listing<domain::Device> {
    let order = order_by.unwrap_or_default();
    let field = match order.field {
        DeviceOrderField::Name => domain::DeviceOrder::Name,
        DeviceOrderField::LastSession => domain::DeviceOrder::LastSession,
        DeviceOrderField::Status => domain::DeviceOrder::Status,
        DeviceOrderField::Os => domain::DeviceOrder::Os,
    };
    Listing::select(
        snapshot,
        &field,
        order.direction == OrderDirection::Desc,
        filter.selection(field),
    )
}
