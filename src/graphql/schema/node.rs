//! Object identity the Relay way: the `Node` interface over every type
//! with a global id (the codec is `id`'s), and `node(id:)` /
//! `nodes(ids:)`, so normalized client caches (Apollo, urql Graphcache,
//! Relay) key and refetch every object without hand-written key fields.
//! The one file that knows every object type.

use async_graphql::{Context, ID, Interface, Object, Result};

use super::audit::{AuditEntry, unreadable};
use super::cache_report::not_reusable;
use super::device::Device;
use super::error::{ErrorCode, catalog_error, coded};
use super::groups::Group;
use super::guard::forbidden;
use super::id::{NodeKind, parse_global_id};
use super::user::User;
use super::{caller, fleet, limits};
use crate::catalog::{AuditFilter, AuditLog};

/// An object with a global id.
// A node lives for one response, one per `node`/`nodes` entry: the size of
// its largest variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "A global id, stable across requests and restarts; `node(id:)` finds the object again."
))]
pub(crate) enum Node {
    Device(Device),
    User(User),
    Group(Group),
    AuditEntry(AuditEntry),
}

/// `node` and `nodes`.
#[derive(Default)]
pub(crate) struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The object with this global id; null when it no longer exists (or
    /// the id names nothing this gateway serves). Needs the scope that
    /// reading its type needs.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        resolve(ctx, &id).await
    }

    /// The objects with these global ids, in order; null for each that no
    /// longer exists. At most `graphql.max_page_size` ids.
    #[graphql(complexity = "ids.len().saturating_mul(child_complexity)")]
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        let most = limits(ctx)?.max_page_size;
        if ids.len() > most {
            return Err(coded(
                ErrorCode::BadUserInput,
                format!(
                    "`ids` has {} entries; at most {most} (graphql.max_page_size)",
                    ids.len()
                ),
            ));
        }
        let mut found = Vec::with_capacity(ids.len());
        for id in &ids {
            found.push(resolve(ctx, id).await?);
        }
        Ok(found)
    }
}

async fn resolve(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>> {
    let Some((kind, key)) = parse_global_id(id) else {
        return Ok(None);
    };
    let caller = caller(ctx)?;
    if !caller.has(kind.scope()) {
        return Err(forbidden(caller, kind.scope()));
    }
    Ok(match kind {
        NodeKind::Device => Device::named(ctx, std::slice::from_ref(&key))
            .await?
            .pop()
            .map(Node::Device),
        NodeKind::User => User::named(ctx, &key).await?.map(Node::User),
        NodeKind::Group => {
            not_reusable(ctx);
            let groups = fleet(ctx)?.known_groups().await.map_err(catalog_error)?;
            groups
                .into_iter()
                .find(|group| group.name == key)
                .map(|group| Node::Group(Group::from(group)))
        }
        NodeKind::AuditEntry => {
            not_reusable(ctx);
            let filter = AuditFilter {
                id: Some(key),
                account: Some(caller.account.clone()),
                ..AuditFilter::default()
            };
            let audit_log = ctx.data::<AuditLog>()?;
            let records = audit_log.page(&filter, None, 1).await.map_err(unreadable)?;
            records
                .into_iter()
                .next()
                .map(|record| Node::AuditEntry(AuditEntry(record)))
        }
    })
}
