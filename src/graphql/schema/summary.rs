//! `fleetSummary`: counts of the devices a `DeviceFilter` selects, by
//! status, OS family, group and last-seen bucket, from the snapshot.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, Result, SimpleObject};

use super::cache_report::{not_reusable, record};
use super::device::DeviceStatus;
use super::error::catalog_error;
use super::groups::Group;
use super::guard::{RequireScope, Root};
use super::query::{DeviceFilter, device_filter, device_listing};
use super::{caller, fleet};
use crate::catalog::{self as domain, Catalog};

/// How long ago a device was last seen.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LastSeenBucket {
    /// Online now.
    Online,
    /// Not online; its last session started within the last 24 hours.
    WithinDay,
    /// Not online; its last session started one to seven days ago.
    WithinWeek,
    /// Not online; its last session started seven to thirty days ago.
    WithinMonth,
    /// Not online; its last session started more than thirty days ago.
    OverMonth,
    /// Not online, and RemotePC gave no readable last session.
    Never,
}

impl From<domain::LastSeen> for LastSeenBucket {
    fn from(seen: domain::LastSeen) -> Self {
        match seen {
            domain::LastSeen::Online => Self::Online,
            domain::LastSeen::WithinDay => Self::WithinDay,
            domain::LastSeen::WithinWeek => Self::WithinWeek,
            domain::LastSeen::WithinMonth => Self::WithinMonth,
            domain::LastSeen::OverMonth => Self::OverMonth,
            domain::LastSeen::Never => Self::Never,
        }
    }
}

/// Devices of one status.
#[derive(SimpleObject)]
pub(crate) struct StatusCount {
    /// The status.
    status: DeviceStatus,
    /// How many devices have it.
    count: usize,
}

/// Devices of one OS family.
#[derive(SimpleObject)]
pub(crate) struct OsCount {
    /// The OS family; families are compared ignoring case, and one
    /// RemotePC writes in several cases is named by the first spelling in
    /// byte order (`Windows` before `windows`). Null for devices without
    /// one.
    os: Option<String>,
    /// How many devices run it.
    count: usize,
}

/// Devices in one group.
#[derive(SimpleObject)]
pub(crate) struct GroupCount {
    /// The group this gateway last moved them into; null for devices it
    /// moved into none (RemotePC cannot list groups).
    group: Option<Group>,
    /// How many devices are in it.
    count: usize,
}

/// Devices last seen in one bucket.
#[derive(SimpleObject)]
pub(crate) struct LastSeenCount {
    /// The bucket.
    bucket: LastSeenBucket,
    /// How many devices fall in it.
    count: usize,
}

/// Counts of a selection of devices.
#[derive(SimpleObject)]
pub(crate) struct FleetSummary {
    /// Devices selected.
    total: usize,
    /// Every status, zeros included.
    by_status: Vec<StatusCount>,
    /// The 50 largest OS families, largest first.
    by_os: Vec<OsCount>,
    /// Devices of the OS families `byOs` leaves out.
    other_os_count: usize,
    /// The 50 largest groups, largest first.
    by_group: Vec<GroupCount>,
    /// Devices of the groups `byGroup` leaves out.
    other_group_count: usize,
    /// Every last-seen bucket, most recent first, zeros included: online
    /// now, else by the start of the last session.
    by_last_seen: Vec<LastSeenCount>,
}

impl From<domain::FleetSummary> for FleetSummary {
    fn from(summary: domain::FleetSummary) -> Self {
        Self {
            total: summary.total,
            by_status: (summary.by_status.into_iter())
                .map(|(status, count)| StatusCount {
                    status: status.into(),
                    count,
                })
                .collect(),
            by_os: (summary.by_os.into_iter())
                .map(|(os, count)| OsCount { os, count })
                .collect(),
            other_os_count: summary.other_os,
            by_group: (summary.by_group.into_iter())
                .map(|(group, count)| GroupCount {
                    group: group.map(Group::from),
                    count,
                })
                .collect(),
            other_group_count: summary.other_groups,
            by_last_seen: (summary.by_last_seen.into_iter())
                .map(|(bucket, count)| LastSeenCount {
                    bucket: bucket.into(),
                    count,
                })
                .collect(),
        }
    }
}

/// The summary query.
#[derive(Default)]
pub(crate) struct SummaryQuery;

#[Object]
impl SummaryQuery {
    /// Counts of the devices `filter` selects (every device when absent)
    /// by status, OS family, group and last-seen bucket: "how many are
    /// offline for more than a week" without listing them. From the same
    /// snapshot as `devices`, with no RemotePC call of its own.
    #[graphql(guard = "const { RequireScope::of(Root::Query, \"fleetSummary\") }")]
    async fn fleet_summary(
        &self,
        ctx: &Context<'_>,
        filter: Option<DeviceFilter>,
    ) -> Result<Option<FleetSummary>> {
        let catalog = ctx.data::<Catalog>()?;
        let account = &caller(ctx)?.account;
        let seen = match DeviceFilter::needs_history(filter.as_ref()) {
            true => Some(Arc::new(
                catalog.status_since(account).await.map_err(catalog_error)?,
            )),
            false => None,
        };
        // A filter it cannot read is refused before RemotePC is asked.
        let filter = device_filter(filter, catalog.time_zone(account), seen)?;
        let served = fleet(ctx)?.devices(false).await.map_err(catalog_error)?;
        record(ctx, &served);
        // Ages are counted from now, and groups read from the relations:
        // neither is in the snapshot's version.
        not_reusable(ctx);
        let listing = device_listing(served.snapshot, &filter, None);
        let relations = catalog.relations(account).await.map_err(catalog_error)?;
        let summary = domain::FleetSummary::of(&listing, &relations, catalog.now());
        Ok(Some(summary.into()))
    }
}
