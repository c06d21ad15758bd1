//! The GraphQL schema: object types, Relay connections, the nine mutations,
//! limits on documents, and the error table. Knows nothing of HTTP; reaches
//! RemotePC only through `catalog`.

mod audit;
mod cache_report;
mod connection;
mod depth;
mod document;
mod engine;
mod error;
mod guard;
mod json_out;
mod limits;
mod mutation;
mod objects;
mod plan;
mod query;
mod refusals;
mod response_cache;
mod writes;

use async_graphql::{Context, EmptySubscription, MergedObject, Schema};

pub use document::nesting_exceeds;
pub use engine::{Answer, Engine, Operation, Via};
pub use error::{ErrorCode, error_code, outcome};
pub use writes::{WriteProfile, write_profile};

/// The ids of the HTTP request an operation came in, for audit records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestIds {
    /// The id the gateway gave the request (its `x-request-id` answer).
    pub id: String,
    /// The `x-request-id` the client sent, if it was printable and short.
    pub client: Option<String>,
}

use crate::auth::Caller;
use crate::catalog::{Catalog, Directory, Fleet};
use crate::settings::GraphqlSettings;
use crate::store::Store;

/// Every query.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    query::UserQuery,
    query::DeviceQuery,
    objects::GroupQuery,
    audit::AuditQuery,
);

/// Every mutation.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    mutation::UserMutation,
    mutation::ComputerMutation,
    mutation::GroupMutation,
);

/// The served schema.
pub type GatewaySchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Builds the schema with its limits and the app-wide services. It has no
/// extensions: with any, async-graphql runs every field through the
/// extension chain (its frames alone were 5% of the CPU profile of a
/// 50-device page); the document checks and `extensions.cache` live in
/// `Engine` instead.
pub fn build_schema(catalog: Catalog, store: Store, limits: &GraphqlSettings) -> GatewaySchema {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .limit_complexity(limits.max_complexity)
    .data(catalog)
    .data(store)
    .data(limits.clone())
    .finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .finish()
    .sdl()
}

fn caller<'c>(ctx: &Context<'c>) -> async_graphql::Result<&'c Caller> {
    ctx.data::<Caller>()
}

fn limits<'c>(ctx: &Context<'c>) -> async_graphql::Result<&'c GraphqlSettings> {
    ctx.data::<GraphqlSettings>()
}

/// The users of the caller's account.
fn directory<'c>(ctx: &Context<'c>) -> async_graphql::Result<Directory<'c>> {
    ctx.data::<Catalog>()?
        .directory(&caller(ctx)?.account)
        .map_err(error::catalog_error)
}

/// The devices and groups of the caller's account.
fn fleet<'c>(ctx: &Context<'c>) -> async_graphql::Result<Fleet<'c>> {
    ctx.data::<Catalog>()?
        .fleet(&caller(ctx)?.account)
        .map_err(error::catalog_error)
}
