//! Global ids, `base64url("Device:" + name)`: the kinds of object an id
//! can name, and the codec, written once for resolvers and once as bytes
//! for compiled plans (a test holds the two equal). A leaf: it knows the
//! types' names, not the types.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::auth::Scope;

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

    /// The scope reading an object of this kind needs.
    pub(crate) fn scope(self) -> Scope {
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
