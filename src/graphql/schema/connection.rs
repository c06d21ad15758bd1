//! Relay connections over listings. A cursor encodes the ordering, the
//! item's sort key and its key, not an offset, so it stays valid when the
//! snapshot under it is refreshed.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{ComplexObject, Context, OutputType, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::cache_report::not_reusable;
use super::error::catalog_error;
use super::json_out::write_str;
use crate::catalog::{
    Catalog, ChangeCursor, Keyed, Listing, LogPosition, ValidationError, Violation,
};
use crate::settings::GraphqlSettings;

/// Fields every connection carries besides `edges` and `pageInfo`.
#[derive(SimpleObject)]
pub(crate) struct ConnectionTotals {
    /// Items matching the query, over all pages.
    pub(crate) total_count: usize,
}

/// The fields of a connection over a snapshot besides `edges` and
/// `pageInfo`.
#[derive(SimpleObject)]
#[graphql(complex)]
pub(crate) struct SnapshotTotals {
    /// Items matching the query, over all pages.
    pub(crate) total_count: usize,
    #[graphql(skip)]
    pub(crate) position: Arc<LogPosition>,
}

/// How long `changeCursor` waits for the log to take the snapshot's
/// changes (written a moment after the snapshot is kept).
const LOGGED_WITHIN: Duration = Duration::from_secs(2);

#[ComplexObject]
impl SnapshotTotals {
    /// The change-log position the snapshot under this page reflects:
    /// subscribe (`deviceChanges`, `userChanges`) or poll
    /// (`deviceChangesSince`) with `after: changeCursor` to get exactly the
    /// changes this page does not show yet.
    async fn change_cursor(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let account = &super::caller(ctx)?.account;
        let logged = tokio::time::timeout(LOGGED_WITHIN, self.position.known()).await;
        let position = match logged {
            Ok(position) => position,
            Err(_) => {
                // The log is behind (a slow store): its head is older, so
                // a resume from it repeats changes but misses none. It is
                // not the snapshot's, so the answer is not kept.
                not_reusable(ctx);
                let catalog = ctx.data::<Catalog>()?;
                catalog
                    .change_head(account)
                    .await
                    .map_err(catalog_error)?
                    .position
            }
        };
        Ok(ChangeCursor::at(position).encode(account))
    }
}

/// A position in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SortCursor {
    order: String,
    sort_key: String,
    key: String,
}

const CURSOR_VERSION: &str = "c1";

impl CursorType for SortCursor {
    type Error = &'static str;

    fn decode_cursor(encoded: &str) -> Result<Self, Self::Error> {
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| "not a cursor")?;
        let [version, order, sort_key, key]: [String; 4] =
            serde_json::from_slice(&bytes).map_err(|_| "not a cursor")?;
        if version != CURSOR_VERSION {
            return Err("not a cursor");
        }
        Ok(Self {
            order,
            sort_key,
            key,
        })
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.json())
    }
}

impl SortCursor {
    /// The JSON array the cursor encodes, as serde_json writes it.
    fn json(&self) -> Vec<u8> {
        let parts = [CURSOR_VERSION, &self.order, &self.sort_key, &self.key];
        let mut json =
            Vec::with_capacity(parts.iter().map(|part| part.len() + 3).sum::<usize>() + 2);
        json.push(b'[');
        for (index, part) in parts.into_iter().enumerate() {
            if index > 0 {
                json.push(b',');
            }
            write_str(part, &mut json);
        }
        json.push(b']');
        json
    }
}

/// The page size a connection's complexity assumes when neither `first`
/// nor `last` is given.
const UNSIZED_PAGE_COMPLEXITY: usize = 50;

/// The complexity of a page of `size` items (`first`, or `last`; unsized:
/// 50) each costing `per_item`: the one formula of the schema's complexity
/// attributes and of compiled plans, so that a plan never accepts a page
/// the schema would refuse.
pub(crate) fn page_complexity(size: Option<i32>, per_item: usize) -> usize {
    let items = size.map_or(UNSIZED_PAGE_COMPLEXITY, |count| count.max(0) as usize);
    items.saturating_mul(per_item).saturating_add(1)
}

/// A connection of `Node`s.
pub(crate) type SortConnection<Node> = Connection<SortCursor, Node, SnapshotTotals>;

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

/// Where one page of a listing starts and ends, as indexes of the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageBounds {
    /// The page's first item.
    pub(crate) start: usize,
    /// Just past the page's last item.
    pub(crate) end: usize,
}

impl PageBounds {
    /// The page of `listing` that `args` ask for, checked as connections
    /// check their arguments.
    pub(crate) fn of<T: Keyed>(
        listing: &Listing<T>,
        args: PageArgs,
        limits: &GraphqlSettings,
    ) -> Result<Self, ValidationError> {
        let window = Window::parse(args, listing.order, limits)?;
        let mut start = window.after.map_or(0, |after| {
            listing.position_after(&after.sort_key, &after.key)
        });
        let mut end = window.before.map_or(listing.len(), |before| {
            listing.position_before(&before.sort_key, &before.key)
        });
        end = end.max(start);
        match window.size {
            Size::First(n) => end = end.min(start + n),
            Size::Last(n) => start = start.max(end.saturating_sub(n)),
        }
        Ok(Self { start, end })
    }
}

/// The cursor of the item with `sort_key` and `key` in the ordering named
/// `order`, as connections write it.
pub(crate) fn encode_cursor(order: &str, sort_key: &str, key: &str) -> String {
    SortCursor {
        order: order.to_owned(),
        sort_key: sort_key.to_owned(),
        key: key.to_owned(),
    }
    .encode_cursor()
}

/// Cuts one page out of `listing` and wraps each item with `node`.
pub(crate) fn paginate<T, Node>(
    listing: &Listing<T>,
    args: PageArgs,
    limits: &GraphqlSettings,
    node: impl Fn(&Arc<T>) -> Node,
) -> Result<SortConnection<Node>, ValidationError>
where
    T: Keyed,
    Node: OutputType,
{
    let PageBounds { start, end } = PageBounds::of(listing, args, limits)?;
    let mut connection = Connection::with_additional_fields(
        start > 0,
        end < listing.len(),
        SnapshotTotals {
            total_count: listing.len(),
            position: Arc::clone(listing.snapshot.position()),
        },
    );
    connection.edges = (start..end)
        .map(|index| {
            let (sort_key, key, item) = listing.entry(index);
            let cursor = SortCursor {
                order: listing.order.to_owned(),
                sort_key: sort_key.to_owned(),
                key: key.to_owned(),
            };
            Edge::new(cursor, node(item))
        })
        .collect();
    Ok(connection)
}

enum Size {
    First(usize),
    Last(usize),
}

struct Window {
    after: Option<SortCursor>,
    before: Option<SortCursor>,
    size: Size,
}

impl Window {
    fn parse(
        args: PageArgs,
        order: &str,
        limits: &GraphqlSettings,
    ) -> Result<Self, ValidationError> {
        let mut violations = Vec::new();
        let first = page_count("first", args.first, limits.max_page_size, &mut violations);
        let last = page_count("last", args.last, limits.max_page_size, &mut violations);
        let after = cursor("after", args.after, order, &mut violations);
        let before = cursor("before", args.before, order, &mut violations);
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

/// A forward-only page's size: `first`, checked as connections check it,
/// else `graphql.default_page_size`.
pub(crate) fn first_count(
    first: Option<i32>,
    limits: &GraphqlSettings,
) -> Result<usize, ValidationError> {
    let mut violations = Vec::new();
    let count = page_count("first", first, limits.max_page_size, &mut violations);
    if violations.is_empty() {
        Ok(count.unwrap_or(limits.default_page_size))
    } else {
        Err(ValidationError { violations })
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
    order: &str,
    violations: &mut Vec<Violation>,
) -> Option<SortCursor> {
    let rule = match SortCursor::decode_cursor(value.as_deref()?) {
        Ok(cursor) if cursor.order == order => return Some(cursor),
        Ok(_) => "cursor was returned for another orderBy",
        Err(_) => "not a cursor returned by this connection",
    };
    violations.push(Violation {
        field: field.to_owned(),
        rule: rule.to_owned(),
    });
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_serde_json_arrays_in_base64url() {
        let cursor = encode_cursor("name:asc", "quote \" and \\ and é", "PC-1");
        let parts = [CURSOR_VERSION, "name:asc", "quote \" and \\ and é", "PC-1"];
        let reference = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&parts).expect("serializes"));
        assert_eq!(cursor, reference);
    }

    #[test]
    fn cursors_round_trip_any_text() {
        let cursor = SortCursor {
            order: "name".into(),
            sort_key: "a\"b\u{1f}c".into(),
            key: "ÄÖ PC/1".into(),
        };
        assert_eq!(
            SortCursor::decode_cursor(&cursor.encode_cursor()),
            Ok(cursor)
        );
        assert!(SortCursor::decode_cursor("bm9wZQ").is_err());
        assert!(SortCursor::decode_cursor("!!").is_err());
    }
}
