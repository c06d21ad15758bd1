//! The schema: object types and their field tables, Relay connections,
//! the queries, the nine mutations and the audit around each, scope
//! guards, and the one table of error codes. Resolvers reach RemotePC only
//! through `catalog`; nothing here knows how an operation arrived.

pub(crate) mod audit;
pub(crate) mod audit_trail;
mod budget;
pub(crate) mod cache_report;
pub(crate) mod connection;
pub(crate) mod device;
pub(crate) mod error;
mod groups;
pub(crate) mod guard;
pub(crate) mod history;
pub(crate) mod id;
mod invitations;
pub(crate) mod json_out;
pub(crate) mod live;
mod mutation;
pub(crate) mod node;
pub(crate) mod planned;
pub(crate) mod query;
mod summary;
pub(crate) mod timestamp;
pub(crate) mod user;
mod viewer;

use async_graphql::{Context, MergedObject, Schema};

use crate::auth::Caller;
use std::sync::Arc;

use crate::catalog::{Catalog, Directory, Fleet, Listed, Relations};
use crate::settings::GraphqlSettings;

/// Every query.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    viewer::ViewerQuery,
    node::NodeQuery,
    query::UserQuery,
    query::DeviceQuery,
    summary::SummaryQuery,
    groups::GroupQuery,
    history::HistoryQuery,
    invitations::InvitationQuery,
    audit::AuditQuery,
    budget::BudgetQuery,
);

/// Every mutation.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    mutation::UserMutation,
    mutation::ComputerMutation,
    mutation::GroupMutation,
);

/// The served schema.
pub type GatewaySchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

pub use live::{ResumeFrom, StreamPosition, SubscriptionRoot};

/// Builds the schema with its limits and the app-wide services. It has no
/// extensions: with any, async-graphql runs every field through the
/// extension chain (its frames alone were 5% of the CPU profile of a
/// 50-device page); the document checks and `extensions.cache` live in
/// `OperationRunner` instead.
pub fn build_schema(catalog: Catalog, limits: &GraphqlSettings) -> GatewaySchema {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .limit_complexity(limits.max_complexity)
    // Every document was validated by the specification's rules before it
    // gets here (`serving::validation`); async-graphql's own rules miss
    // some and refuse valid ones.
    .validation_mode(async_graphql::ValidationMode::Fast)
    .data(catalog.audit_log())
    .data(catalog)
    .data(limits.clone())
    .finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .finish()
    .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

fn caller<'c>(ctx: &Context<'c>) -> async_graphql::Result<&'c Caller> {
    ctx.data::<Caller>()
}

fn limits<'c>(ctx: &Context<'c>) -> async_graphql::Result<&'c GraphqlSettings> {
    ctx.data::<GraphqlSettings>()
}

/// The relations RemotePC cannot list, as far as they went through this
/// gateway (assignments, groups, invitations). They change without a new
/// snapshot, so an answer that reads them is never kept.
async fn relations_of(ctx: &Context<'_>) -> async_graphql::Result<Arc<Relations>> {
    cache_report::not_reusable(ctx);
    let account = &caller(ctx)?.account;
    ctx.data::<Catalog>()?
        .relations(account)
        .await
        .map_err(error::catalog_error)
}

/// The users of the caller's account.
fn directory<'c>(ctx: &Context<'c>) -> async_graphql::Result<Directory<'c>> {
    ctx.data::<Catalog>()?
        .directory(&caller(ctx)?.account)
        .map_err(error::catalog_error)
}

/// The items of the caller's account with these keys, in order, as the
/// snapshot has them; those no longer there are left out.
async fn named<T: Listed>(
    ctx: &Context<'_>,
    keys: &[String],
) -> async_graphql::Result<Vec<Arc<T>>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let catalog = ctx.data::<Catalog>()?;
    let (found, served) = catalog
        .named::<T>(&caller(ctx)?.account, keys)
        .await
        .map_err(error::catalog_error)?;
    cache_report::record(ctx, &served);
    Ok(found)
}

/// The devices and groups of the caller's account.
fn fleet<'c>(ctx: &Context<'c>) -> async_graphql::Result<Fleet<'c>> {
    ctx.data::<Catalog>()?
        .fleet(&caller(ctx)?.account)
        .map_err(error::catalog_error)
}
