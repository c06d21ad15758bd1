//! Compiled plans for the hottest operations: a query whose one root field
//! is the `users` or `devices` connection, selecting plain fields. Once
//! async-graphql has validated and executed such a document for a caller's
//! scopes, later requests with it are answered by a plan that writes the
//! JSON straight from the snapshot, with async-graphql's own input coercion
//! and the same paging code. Anything a plan does not cover exactly
//! (fragments, directives, missing variables, a refresh, a page past the
//! complexity limit, any error) goes to async-graphql instead; a test
//! compares both outputs byte for byte.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::parser::types::VariableDefinition;
use async_graphql::{InputType, Name, Positioned, Request};
// The argument values of a document, variables not yet put in; async-graphql
// re-exports only the constant kind.
use async_graphql_value::{ConstValue, Value};
use bytes::Bytes;

mod compile;
mod write;

use super::response_body::{HEAD_EXTENSIONS, HEAD_OPEN};
use crate::auth::Caller;
use crate::catalog::{Catalog, Collection};
use crate::graphql::schema::cache_report::SnapshotRead;
use crate::graphql::schema::connection::{PageArgs, PageBounds, page_complexity};
use crate::graphql::schema::query::{self, device_filter, device_listing, user_listing};
use crate::settings::GraphqlSettings;

/// Which connection the root field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Users,
    Devices,
}

/// A JSON object key, written with its quotes and colon.
type Key = Vec<u8>;

#[derive(Debug)]
enum ConnectionField {
    TotalCount(Key),
    Typename(Key, &'static str),
    PageInfo(Key, Vec<PageInfoField>),
    Edges(Key, Vec<EdgeField>),
    Nodes(Key, Vec<NodeField>),
}

#[derive(Debug)]
enum PageInfoField {
    HasPreviousPage(Key),
    HasNextPage(Key),
    StartCursor(Key),
    EndCursor(Key),
    Typename(Key),
}

#[derive(Debug)]
enum EdgeField {
    Cursor(Key),
    Node(Key, Vec<NodeField>),
    Typename(Key, &'static str),
}

/// How a node field is written: `__typename`, the value of the field at
/// this index of the node type's field table (`PlannedNode::FIELDS`) under
/// an alias, or the table's fields `first..=last` under their own names,
/// keys included (their key is empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeWrite {
    Typename,
    Field(usize),
    Run(usize, usize),
}

type NodeField = (Key, NodeWrite);

/// One operation, compiled.
#[derive(Debug)]
pub(crate) struct Plan {
    root: Root,
    root_key: Key,
    arguments: Vec<(Positioned<Name>, Positioned<Value>)>,
    variables: Vec<VariableDefinition>,
    fields: Vec<ConnectionField>,
    /// Complexity of one item's selection, counted as async-graphql does
    /// or higher, so a plan never accepts a page the schema would refuse.
    complexity_per_item: usize,
    /// Bytes of the last answer written, to size the next one's buffer:
    /// growing it by doubling copied each answer two or three times.
    last_length: AtomicUsize,
}

impl Plan {
    /// Answers the operation for `caller`: the head of the response body
    /// (`data` written between `HEAD_OPEN` and `HEAD_EXTENSIONS`) and the
    /// snapshot read. `None`: let async-graphql answer it.
    pub(crate) async fn run(
        &self,
        request: &Request,
        caller: &Caller,
        catalog: &Catalog,
        limits: &GraphqlSettings,
    ) -> Option<(Bytes, BTreeMap<Collection, SnapshotRead>)> {
        let mut arguments = self.arguments(request)?;
        let page = self.page(&mut arguments, limits)?;
        let expected = self.last_length.load(Ordering::Relaxed).max(1024);
        let mut out = Vec::with_capacity(expected + expected / 8);
        out.extend_from_slice(HEAD_OPEN);
        out.push(b'{');
        out.extend_from_slice(&self.root_key);
        let read = match self.root {
            Root::Devices => {
                let fleet = catalog.fleet(&caller.account).ok()?;
                let served = fleet.devices(false).await.ok()?;
                let filter =
                    Option::<query::DeviceFilter>::parse(argument(&mut arguments, "filter"))
                        .ok()?;
                // The status history is read from the store: the schema
                // answers those.
                if query::DeviceFilter::needs_history(filter.as_ref()) {
                    return None;
                }
                let zone = catalog.time_zone(&caller.account);
                let filter = device_filter(filter, zone, None).ok()?;
                let listing = device_listing(
                    Arc::clone(&served.snapshot),
                    &filter,
                    Option::<query::DeviceOrder>::parse(argument(&mut arguments, "orderBy"))
                        .ok()?,
                );
                let bounds = PageBounds::of(&listing, page, limits).ok()?;
                write::Page {
                    listing: &listing,
                    bounds,
                }
                .write(&self.fields, &mut out);
                SnapshotRead::of(&served)
            }
            Root::Users => {
                let directory = catalog.directory(&caller.account).ok()?;
                let served = directory.users(false).await.ok()?;
                let listing = user_listing(
                    Arc::clone(&served.snapshot),
                    Option::<query::UserFilter>::parse(argument(&mut arguments, "filter")).ok()?,
                    Option::<query::UserOrder>::parse(argument(&mut arguments, "orderBy")).ok()?,
                );
                let bounds = PageBounds::of(&listing, page, limits).ok()?;
                write::Page {
                    listing: &listing,
                    bounds,
                }
                .write(&self.fields, &mut out);
                SnapshotRead::of(&served)
            }
        };
        out.push(b'}');
        out.extend_from_slice(HEAD_EXTENSIONS);
        self.last_length.store(out.len(), Ordering::Relaxed);
        Some((Bytes::from(out), BTreeMap::from([read])))
    }

    /// The page asked for, if a plan may answer it: not a forced refresh
    /// (that is the schema's), and within `graphql.max_complexity`.
    fn page(&self, arguments: &mut Arguments<'_>, limits: &GraphqlSettings) -> Option<PageArgs> {
        let mut parse = |name: &str| argument(arguments, name);
        if let Some(refresh) = parse("refresh")
            && <bool as InputType>::parse(Some(refresh)).ok()?
        {
            return None;
        }
        let page = PageArgs {
            after: Option::<String>::parse(parse("after")).ok()?,
            before: Option::<String>::parse(parse("before")).ok()?,
            first: Option::<i32>::parse(parse("first")).ok()?,
            last: Option::<i32>::parse(parse("last")).ok()?,
        };
        let complexity = page_complexity(page.first.or(page.last), self.complexity_per_item);
        (complexity <= limits.max_complexity).then_some(page)
    }

    /// The root field's arguments with variables put in. `None` when a
    /// variable is missing without a default, or null where declared
    /// non-null: async-graphql decides those cases.
    fn arguments(&self, request: &Request) -> Option<Arguments<'_>> {
        let mut variables = BTreeMap::new();
        for definition in &self.variables {
            let name = &definition.name.node;
            let value = match request.variables.get(name) {
                Some(ConstValue::Null) if !definition.var_type.node.nullable => return None,
                Some(value) => value,
                None => &definition.default_value.as_ref()?.node,
            };
            variables.insert(name, value);
        }
        self.arguments
            .iter()
            .map(|(name, value)| Some((name.node.as_str(), constant(&value.node, &variables)?)))
            .collect()
    }
}

/// `value` with its variables put in, as `Value::into_const_with` does,
/// without copying the document's value first.
fn constant(value: &Value, variables: &BTreeMap<&Name, &ConstValue>) -> Option<ConstValue> {
    Some(match value {
        Value::Variable(name) => ConstValue::clone(variables.get(name)?),
        Value::Null => ConstValue::Null,
        Value::Number(number) => ConstValue::Number(number.clone()),
        Value::String(text) => ConstValue::String(text.clone()),
        Value::Boolean(boolean) => ConstValue::Boolean(*boolean),
        Value::Binary(bytes) => ConstValue::Binary(bytes.clone()),
        Value::Enum(name) => ConstValue::Enum(name.clone()),
        Value::List(items) => ConstValue::List(
            items
                .iter()
                .map(|item| constant(item, variables))
                .collect::<Option<_>>()?,
        ),
        Value::Object(fields) => ConstValue::Object(
            fields
                .iter()
                .map(|(name, field)| Some((name.clone(), constant(field, variables)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

/// The root field's arguments, by name, in the document's order: a few,
/// so looked up one by one rather than through a map.
type Arguments<'plan> = Vec<(&'plan str, ConstValue)>;

/// One argument's value, if given, taken out: each is read once.
fn argument(arguments: &mut Arguments<'_>, name: &str) -> Option<ConstValue> {
    let index = arguments.iter().position(|(given, _)| *given == name)?;
    Some(arguments.swap_remove(index).1)
}
