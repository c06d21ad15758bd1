//! Relay connections over snapshots: opaque cursors that encode the item's
//! key (not an offset), so they stay valid when the collection changes.

use std::sync::Arc;

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{OutputType, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::cache::{Keyed, Snapshot};
use crate::catalog::{ValidationError, Violation};
use crate::settings::GraphqlSettings;

/// Fields every connection carries besides `edges` and `pageInfo`.
#[derive(SimpleObject)]
pub(crate) struct ConnectionTotals {
    /// Items matching the query, over all pages.
    pub(crate) total_count: usize,
}

/// A position in a collection sorted by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyCursor(String);

const CURSOR_PREFIX: &str = "k1:";

impl CursorType for KeyCursor {
    type Error = &'static str;

    fn decode_cursor(encoded: &str) -> Result<Self, Self::Error> {
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| "not a cursor")?;
        let text = String::from_utf8(bytes).map_err(|_| "not a cursor")?;
        text.strip_prefix(CURSOR_PREFIX)
            .map(|key| KeyCursor(key.to_owned()))
            .ok_or("not a cursor")
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{}", self.0))
    }
}

/// A connection of `Node`s.
pub(crate) type KeyConnection<Node> = Connection<KeyCursor, Node, ConnectionTotals>;

/// Relay arguments as given.
#[derive(Debug, Default)]
pub(crate) struct PageArgs {
    /// Items after this cursor.
    pub(crate) after: Option<String>,
    /// Items before this cursor.
    pub(crate) before: Option<String>,
    /// The first N items of the window.
    pub(crate) first: Option<i32>,
    /// The last N items of the window.
    pub(crate) last: Option<i32>,
}

/// Cuts one page out of `snapshot` and wraps each item with `node`.
pub(crate) fn paginate<T, Node>(
    snapshot: &Snapshot<T>,
    args: PageArgs,
    limits: &GraphqlSettings,
    node: impl Fn(&Arc<T>) -> Node,
) -> Result<KeyConnection<Node>, ValidationError>
where
    T: Keyed,
    Node: OutputType,
{
    let window = Window::parse(args, limits)?;
    let keys = snapshot.keys();
    let mut start = window
        .after
        .map_or(0, |after| keys.partition_point(|key| *key <= after.0));
    let mut end = window.before.map_or(keys.len(), |before| {
        keys.partition_point(|key| *key < before.0)
    });
    end = end.max(start);
    match window.size {
        Size::First(n) => end = end.min(start + n),
        Size::Last(n) => start = start.max(end.saturating_sub(n)),
    }
    let mut connection = Connection::with_additional_fields(
        start > 0,
        end < keys.len(),
        ConnectionTotals {
            total_count: snapshot.len(),
        },
    );
    connection.edges = (start..end)
        .map(|position| {
            Edge::new(
                KeyCursor(keys[position].clone()),
                node(&snapshot.items()[position]),
            )
        })
        .collect();
    Ok(connection)
}

enum Size {
    First(usize),
    Last(usize),
}

struct Window {
    after: Option<KeyCursor>,
    before: Option<KeyCursor>,
    size: Size,
}

impl Window {
    fn parse(args: PageArgs, limits: &GraphqlSettings) -> Result<Self, ValidationError> {
        let mut violations = Vec::new();
        let first = page_count("first", args.first, limits.max_page_size, &mut violations);
        let last = page_count("last", args.last, limits.max_page_size, &mut violations);
        let after = cursor("after", args.after, &mut violations);
        let before = cursor("before", args.before, &mut violations);
        let size = match (first, last) {
            (Some(_), Some(_)) => {
                violations.push(Violation {
                    field: "last".to_owned(),
                    rule: "give either first or last, not both".to_owned(),
                });
                Size::First(0)
            }
            (Some(n), None) => Size::First(n),
            (None, Some(n)) => Size::Last(n),
            (None, None) if before.is_some() => Size::Last(limits.default_page_size),
            (None, None) => Size::First(limits.default_page_size),
        };
        if violations.is_empty() {
            Ok(Self {
                after,
                before,
                size,
            })
        } else {
            Err(ValidationError { violations })
        }
    }
}

fn page_count(
    field: &str,
    value: Option<i32>,
    max: usize,
    violations: &mut Vec<Violation>,
) -> Option<usize> {
    let value = value?;
    match usize::try_from(value) {
        Ok(count) if count <= max => Some(count),
        _ => {
            violations.push(Violation {
                field: field.to_owned(),
                rule: format!("must be between 0 and {max}"),
            });
            None
        }
    }
}

fn cursor(
    field: &str,
    value: Option<String>,
    violations: &mut Vec<Violation>,
) -> Option<KeyCursor> {
    let decoded = KeyCursor::decode_cursor(value.as_deref()?);
    if decoded.is_err() {
        violations.push(Violation {
            field: field.to_owned(),
            rule: "not a cursor returned by this connection".to_owned(),
        });
    }
    decoded.ok()
}
