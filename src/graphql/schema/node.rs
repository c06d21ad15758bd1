//! Object identity the Relay way: the `Node` interface, global ids
//! (`base64url("Device:" + name)`), and `node(id:)` / `nodes(ids:)`, so
//! normalized client caches (Apollo, urql Graphcache, Relay) key and
//! refetch every object without hand-written key fields.

use async_graphql::{Context, ID, Interface, Object, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::audit::{AuditEntry, unreadable};
use super::cache_report::not_reusable;
use super::error::{ErrorCode, catalog_error, coded};
use super::groups::{Group, devices_named};
use super::guard::forbidden;
use super::objects::{Device, User, user_named};
use super::{caller, fleet, limits};
use crate::auth::Scope;
use crate::catalog::{AuditFilter, AuditLog};

/// The kinds of object a global id can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Device,
    User,
    Group,
    AuditEntry,
}

impl NodeKind {
    const ALL: [NodeKind; 4] = [
        NodeKind::Device,
        NodeKind::User,
        NodeKind::Group,
        NodeKind::AuditEntry,
    ];

    /// The type's name in the schema, which starts its global ids.
    pub(crate) const fn typename(self) -> &'static str {
        match self {
            NodeKind::Device => "Device",
            NodeKind::User => "User",
            NodeKind::Group => "Group",
            NodeKind::AuditEntry => "AuditEntry",
        }
    }

    fn scope(self) -> Scope {
        match self {
            NodeKind::AuditEntry => Scope::AuditRead,
            _ => Scope::Read,
        }
    }
}

/// The global id of the `kind` object keyed by `key`.
pub(crate) fn global_id(kind: NodeKind, key: &str) -> ID {
    let mut raw = String::with_capacity(kind.typename().len() + 1 + key.len());
    raw.push_str(kind.typename());
    raw.push(':');
    raw.push_str(key);
    ID(URL_SAFE_NO_PAD.encode(raw))
}

/// Writes `global_id(kind, key)` as a JSON string, for compiled plans.
pub(crate) fn write_global_id(kind: NodeKind, key: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let start = out.len();
    out.resize(
        start + base64::encoded_len(kind.typename().len() + 1 + key.len(), false).unwrap_or(0),
        0,
    );
    let mut raw = Vec::with_capacity(kind.typename().len() + 1 + key.len());
    raw.extend_from_slice(kind.typename().as_bytes());
    raw.push(b':');
    raw.extend_from_slice(key.as_bytes());
    let written = URL_SAFE_NO_PAD
        .encode_slice(&raw, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + written);
    out.push(b'"');
}

/// The kind and key a global id names; `None` for anything else.
pub(crate) fn parse_global_id(id: &str) -> Option<(NodeKind, String)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
    let (typename, key) = raw.split_once(':')?;
    let kind = NodeKind::ALL
        .into_iter()
        .find(|kind| kind.typename() == typename)?;
    Some((kind, key.to_owned()))
}

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
        NodeKind::Device => devices_named(ctx, std::slice::from_ref(&key))
            .await?
            .pop()
            .map(Node::Device),
        NodeKind::User => user_named(ctx, &key).await?.map(Node::User),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_round_trip_and_plans_write_the_same_bytes() {
        for (kind, key) in [
            (NodeKind::Device, "PC-01"),
            (NodeKind::User, "ann@example.com"),
            (NodeKind::Group, "Ünïcode group: with colon"),
            (NodeKind::AuditEntry, ""),
        ] {
            let id = global_id(kind, key);
            assert_eq!(parse_global_id(&id), Some((kind, key.to_owned())));
            let mut written = Vec::new();
            write_global_id(kind, key, &mut written);
            assert_eq!(written, format!("\"{}\"", id.as_str()).into_bytes());
        }
    }

    #[test]
    fn foreign_ids_name_nothing() {
        for id in ["", "not base64!", "VXNlcg", "Q2F0OjE"] {
            assert_eq!(parse_global_id(id), None, "{id}");
        }
    }
}
