//! Compiled plans for the hottest operations: a query whose one root field
//! is the `users` or `devices` connection, selecting plain fields. Once
//! async-graphql has validated and executed such a document for a caller's
//! scopes, later requests with it are answered by a plan that writes the
//! JSON straight from the snapshot, with async-graphql's own input coercion
//! and the same paging code. Anything a plan does not cover exactly
//! (fragments, directives, missing variables, a refresh, a page past the
//! complexity limit, any error) goes to async-graphql instead; a test
//! compares both outputs byte for byte.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_graphql::connection::CursorType;
use async_graphql::parser::types::{
    ExecutableDocument, Field, OperationType, Selection, SelectionSet, VariableDefinition,
};
use async_graphql::{InputType, Name, OutputType, Positioned, Request, ScalarType};
// The argument values of a document, variables not yet put in; async-graphql
// re-exports only the constant kind.
use async_graphql_value::{ConstValue, Value};

use super::cache_report::SnapshotRead;
use super::connection::{PageArgs, SortConnection, paginate};
use super::objects::{Device, User};
use super::query::{self, device_listing, user_listing};
use crate::auth::Caller;
use crate::catalog::{Catalog, Collection};
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

/// A scalar field of `User` or `Device`.
#[derive(Debug, Clone, Copy)]
enum Scalar {
    Typename,
    Username,
    FirstName,
    LastName,
    Name,
    MachineId,
    Status,
    Os,
    OsVersion,
    Ip,
    Comment,
    LastSessionAt,
    LastSessionRaw,
}

type NodeField = (Key, Scalar);

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
}

/// What compiling needs to reject anything unusual.
struct Compiler {
    root: Root,
}

impl Plan {
    /// The plan of `operation_name` in `document`, if it has the one shape
    /// plans cover.
    pub(crate) fn compile(
        document: &ExecutableDocument,
        operation_name: Option<&str>,
    ) -> Option<Self> {
        if !document.fragments.is_empty() {
            return None;
        }
        let operation = super::response_cache::selected_operation(document, operation_name)?;
        let operation = &operation.node;
        if operation.ty != OperationType::Query || !operation.directives.is_empty() {
            return None;
        }
        let [root] = operation.selection_set.node.items.as_slice() else {
            return None;
        };
        let field = plain_field(root)?;
        let root = match field.name.node.as_str() {
            "users" => Root::Users,
            "devices" => Root::Devices,
            _ => return None,
        };
        let compiler = Compiler { root };
        let (fields, complexity_per_item) = compiler.connection(&field.selection_set.node)?;
        Some(Self {
            root,
            root_key: key(field),
            arguments: field.arguments.clone(),
            variables: operation
                .variable_definitions
                .iter()
                .map(|definition| definition.node.clone())
                .collect(),
            fields,
            complexity_per_item,
        })
    }

    /// Answers the operation for `caller`: the JSON of `data` and the
    /// snapshot read. `None`: let async-graphql answer it.
    pub(crate) async fn run(
        &self,
        request: &Request,
        caller: &Caller,
        catalog: &Catalog,
        limits: &GraphqlSettings,
    ) -> Option<(Vec<u8>, BTreeMap<Collection, SnapshotRead>)> {
        let arguments = self.arguments(request)?;
        let parse = |name: &str| arguments.get(name).cloned();
        // `refresh` defaults to false; a forced refresh is the schema's.
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
        let items = page
            .first
            .or(page.last)
            .map_or(50, |count| count.max(0) as usize);
        if items
            .saturating_mul(self.complexity_per_item)
            .saturating_add(1)
            > limits.max_complexity
        {
            return None;
        }
        let mut out = Vec::with_capacity(16 * 1024);
        out.push(b'{');
        out.extend_from_slice(&self.root_key);
        let read = match self.root {
            Root::Devices => {
                let served = catalog
                    .fleet(&caller.account)
                    .ok()?
                    .devices(false)
                    .await
                    .ok()?;
                let listing = device_listing(
                    Arc::clone(&served.snapshot),
                    Option::<query::DeviceFilter>::parse(parse("filter")).ok()?,
                    Option::<query::DeviceOrder>::parse(parse("orderBy")).ok()?,
                );
                let connection =
                    paginate(&listing, page, limits, |device| Device(Arc::clone(device))).ok()?;
                self.write_connection(&connection, |device| device.0.as_ref(), &mut out);
                (Collection::Devices, SnapshotRead::of(&served))
            }
            Root::Users => {
                let served = catalog
                    .directory(&caller.account)
                    .ok()?
                    .users(false)
                    .await
                    .ok()?;
                let listing = user_listing(
                    Arc::clone(&served.snapshot),
                    Option::<query::UserFilter>::parse(parse("filter")).ok()?,
                    Option::<query::UserOrder>::parse(parse("orderBy")).ok()?,
                );
                let connection =
                    paginate(&listing, page, limits, |user| User(Arc::clone(user))).ok()?;
                self.write_connection(&connection, |user| user.0.as_ref(), &mut out);
                (Collection::Users, SnapshotRead::of(&served))
            }
        };
        out.push(b'}');
        Some((out, BTreeMap::from([read])))
    }

    /// The root field's arguments with variables put in. `None` when a
    /// variable is missing without a default, or null where declared
    /// non-null: async-graphql decides those cases.
    fn arguments(&self, request: &Request) -> Option<BTreeMap<String, ConstValue>> {
        let mut variables = BTreeMap::new();
        for definition in &self.variables {
            let name = &definition.name.node;
            let value = match request.variables.get(name) {
                Some(ConstValue::Null) if !definition.var_type.node.nullable => return None,
                Some(value) => value.clone(),
                None => definition.default_value.as_ref()?.node.clone(),
            };
            variables.insert(name.clone(), value);
        }
        self.arguments
            .iter()
            .map(|(name, value)| {
                let value = value
                    .node
                    .clone()
                    .into_const_with(|variable| variables.get(&variable).cloned().ok_or(()))
                    .ok()?;
                Some((name.node.to_string(), value))
            })
            .collect()
    }

    fn write_connection<Node: OutputType, Item: NodeItem>(
        &self,
        connection: &SortConnection<Node>,
        item: impl Fn(&Node) -> &Item,
        out: &mut Vec<u8>,
    ) {
        out.push(b'{');
        for (index, field) in self.fields.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            match field {
                ConnectionField::TotalCount(key) => {
                    out.extend_from_slice(key);
                    let total = connection.additional_fields.total_count;
                    out.extend_from_slice(itoa::Buffer::new().format(total).as_bytes());
                }
                ConnectionField::Typename(key, name) => {
                    out.extend_from_slice(key);
                    write_str(name, out);
                }
                ConnectionField::PageInfo(key, fields) => {
                    out.extend_from_slice(key);
                    write_page_info(connection, fields, out);
                }
                ConnectionField::Edges(key, fields) => {
                    out.extend_from_slice(key);
                    out.push(b'[');
                    for (position, edge) in connection.edges.iter().enumerate() {
                        if position > 0 {
                            out.push(b',');
                        }
                        out.push(b'{');
                        for (index, field) in fields.iter().enumerate() {
                            if index > 0 {
                                out.push(b',');
                            }
                            match field {
                                EdgeField::Cursor(key) => {
                                    out.extend_from_slice(key);
                                    write_str(&edge.cursor.encode_cursor(), out);
                                }
                                EdgeField::Node(key, fields) => {
                                    out.extend_from_slice(key);
                                    item(&edge.node).write(fields, out);
                                }
                                EdgeField::Typename(key, name) => {
                                    out.extend_from_slice(key);
                                    write_str(name, out);
                                }
                            }
                        }
                        out.push(b'}');
                    }
                    out.push(b']');
                }
                ConnectionField::Nodes(key, fields) => {
                    out.extend_from_slice(key);
                    out.push(b'[');
                    for (position, edge) in connection.edges.iter().enumerate() {
                        if position > 0 {
                            out.push(b',');
                        }
                        item(&edge.node).write(fields, out);
                    }
                    out.push(b']');
                }
            }
        }
        out.push(b'}');
    }
}

fn write_page_info<Node: OutputType>(
    connection: &SortConnection<Node>,
    fields: &[PageInfoField],
    out: &mut Vec<u8>,
) {
    out.push(b'{');
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        match field {
            PageInfoField::HasPreviousPage(key) => {
                out.extend_from_slice(key);
                write_bool(connection.has_previous_page, out);
            }
            PageInfoField::HasNextPage(key) => {
                out.extend_from_slice(key);
                write_bool(connection.has_next_page, out);
            }
            PageInfoField::StartCursor(key) => {
                out.extend_from_slice(key);
                let first = connection.edges.first();
                write_optional(
                    first.map(|edge| edge.cursor.encode_cursor()).as_deref(),
                    out,
                );
            }
            PageInfoField::EndCursor(key) => {
                out.extend_from_slice(key);
                let last = connection.edges.last();
                write_optional(last.map(|edge| edge.cursor.encode_cursor()).as_deref(), out);
            }
            PageInfoField::Typename(key) => {
                out.extend_from_slice(key);
                write_str("PageInfo", out);
            }
        }
    }
    out.push(b'}');
}

/// A node a plan writes.
trait NodeItem {
    fn write(&self, fields: &[NodeField], out: &mut Vec<u8>) {
        out.push(b'{');
        for (index, (key, scalar)) in fields.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key);
            self.write_scalar(*scalar, out);
        }
        out.push(b'}');
    }

    fn write_scalar(&self, scalar: Scalar, out: &mut Vec<u8>);
}

impl NodeItem for crate::catalog::User {
    fn write_scalar(&self, scalar: Scalar, out: &mut Vec<u8>) {
        match scalar {
            Scalar::Username => write_str(&self.username, out),
            Scalar::FirstName => write_optional(self.first_name.as_deref(), out),
            Scalar::LastName => write_optional(self.last_name.as_deref(), out),
            // Compiled for users: `__typename` only.
            _ => write_str("User", out),
        }
    }
}

impl NodeItem for crate::catalog::Device {
    fn write_scalar(&self, scalar: Scalar, out: &mut Vec<u8>) {
        match scalar {
            Scalar::Name => write_str(&self.name, out),
            Scalar::MachineId => write_optional(self.machine_id.as_deref(), out),
            Scalar::Status => write_str(
                match self.status {
                    crate::catalog::DeviceStatus::Online => "ONLINE",
                    crate::catalog::DeviceStatus::Offline => "OFFLINE",
                    crate::catalog::DeviceStatus::Unknown => "UNKNOWN",
                },
                out,
            ),
            Scalar::Os => write_optional(self.os.as_deref(), out),
            Scalar::OsVersion => write_optional(self.os_version.as_deref(), out),
            Scalar::Ip => write_optional(self.ip.as_deref(), out),
            Scalar::Comment => write_optional(self.comment.as_deref(), out),
            Scalar::LastSessionAt => match self.last_session_at {
                Some(at) => write_date_time(at, out),
                None => out.extend_from_slice(b"null"),
            },
            Scalar::LastSessionRaw => write_optional(self.last_session_raw.as_deref(), out),
            // Compiled for devices: `__typename` only.
            _ => write_str("Device", out),
        }
    }
}

/// `at` as async-graphql writes a `NaiveDateTime` (chrono's
/// `%Y-%m-%dT%H:%M:%S%.f`), without chrono's format interpreter, which was
/// a tenth of a planned page's CPU. Unusual years and leap seconds go
/// through chrono.
fn write_date_time(at: chrono::NaiveDateTime, out: &mut Vec<u8>) {
    use chrono::{Datelike, Timelike};
    let nanos = at.nanosecond();
    if !(0..=9999).contains(&at.year()) || nanos >= 1_000_000_000 {
        if let ConstValue::String(text) = ScalarType::to_value(&at) {
            write_str(&text, out);
        }
        return;
    }
    out.push(b'"');
    write_padded(at.year() as u32, 4, out);
    for (separator, value) in [
        (b'-', at.month()),
        (b'-', at.day()),
        (b'T', at.hour()),
        (b':', at.minute()),
        (b':', at.second()),
    ] {
        out.push(separator);
        write_padded(value, 2, out);
    }
    // `%.f`: nothing for whole seconds, else 3, 6 or 9 digits.
    if nanos != 0 {
        out.push(b'.');
        if nanos.is_multiple_of(1_000_000) {
            write_padded(nanos / 1_000_000, 3, out);
        } else if nanos.is_multiple_of(1_000) {
            write_padded(nanos / 1_000, 6, out);
        } else {
            write_padded(nanos, 9, out);
        }
    }
    out.push(b'"');
}

/// `value` in decimal, left-padded with zeros to `width` digits.
fn write_padded(value: u32, width: usize, out: &mut Vec<u8>) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(value).as_bytes();
    out.extend(std::iter::repeat_n(
        b'0',
        width.saturating_sub(digits.len()),
    ));
    out.extend_from_slice(digits);
}

fn write_str(text: &str, out: &mut Vec<u8>) {
    // serde_json escapes as it does when async-graphql's values are
    // serialized; writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

fn write_optional(text: Option<&str>, out: &mut Vec<u8>) {
    match text {
        Some(text) => write_str(text, out),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_bool(value: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

/// The selection as a field without directives; `None` for a fragment or
/// a field with directives.
fn plain_field(selection: &Positioned<Selection>) -> Option<&Field> {
    match &selection.node {
        Selection::Field(field) if field.node.directives.is_empty() => Some(&field.node),
        _ => None,
    }
}

/// The response key of `field` as JSON: `"alias":` or `"name":`.
fn key(field: &Field) -> Key {
    let mut out = Vec::new();
    write_str(field.response_key().node.as_str(), &mut out);
    out.push(b':');
    out
}

/// The plain fields of `set` with their names; `None` when a response key
/// repeats (async-graphql would merge them), a field takes arguments, or
/// anything but a field is selected.
fn fields_of(set: &SelectionSet) -> Option<Vec<(&str, &Field)>> {
    let mut keys = HashSet::new();
    set.items
        .iter()
        .map(|selection| {
            let field = plain_field(selection)?;
            let fresh = keys.insert(field.response_key().node.as_str());
            (fresh && field.arguments.is_empty()).then_some((field.name.node.as_str(), field))
        })
        .collect()
}

impl Compiler {
    /// The connection's fields and the complexity per item: every field
    /// under the connection counts 1, as async-graphql counts them.
    fn connection(&self, set: &SelectionSet) -> Option<(Vec<ConnectionField>, usize)> {
        let fields = fields_of(set)?
            .into_iter()
            .map(|(name, field)| {
                let leaf = field.selection_set.node.items.is_empty();
                Some(match (name, leaf) {
                    ("totalCount", true) => ConnectionField::TotalCount(key(field)),
                    ("__typename", true) => ConnectionField::Typename(key(field), self.names().0),
                    ("pageInfo", false) => {
                        ConnectionField::PageInfo(key(field), page_info(&field.selection_set.node)?)
                    }
                    ("edges", false) => {
                        ConnectionField::Edges(key(field), self.edges(&field.selection_set.node)?)
                    }
                    ("nodes", false) => {
                        ConnectionField::Nodes(key(field), self.node(&field.selection_set.node)?)
                    }
                    _ => return None,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let complexity = fields
            .iter()
            .map(|field| match field {
                ConnectionField::Edges(_, edges) => {
                    1 + edges
                        .iter()
                        .map(|edge| match edge {
                            EdgeField::Node(_, nodes) => 1 + nodes.len(),
                            _ => 1,
                        })
                        .sum::<usize>()
                }
                ConnectionField::Nodes(_, nodes) => 1 + nodes.len(),
                ConnectionField::PageInfo(_, fields) => 1 + fields.len(),
                _ => 1,
            })
            .sum();
        Some((fields, complexity))
    }

    /// The type names of the connection, its edge and its node.
    fn names(&self) -> (&'static str, &'static str, &'static str) {
        match self.root {
            Root::Users => ("UserConnection", "UserEdge", "User"),
            Root::Devices => ("DeviceConnection", "DeviceEdge", "Device"),
        }
    }

    fn edges(&self, set: &SelectionSet) -> Option<Vec<EdgeField>> {
        fields_of(set)?
            .into_iter()
            .map(|(name, field)| {
                let leaf = field.selection_set.node.items.is_empty();
                Some(match (name, leaf) {
                    ("cursor", true) => EdgeField::Cursor(key(field)),
                    ("__typename", true) => EdgeField::Typename(key(field), self.names().1),
                    ("node", false) => {
                        EdgeField::Node(key(field), self.node(&field.selection_set.node)?)
                    }
                    _ => return None,
                })
            })
            .collect()
    }

    fn node(&self, set: &SelectionSet) -> Option<Vec<NodeField>> {
        fields_of(set)?
            .into_iter()
            .map(|(name, field)| {
                if !field.selection_set.node.items.is_empty() {
                    return None;
                }
                let scalar = match (self.root, name) {
                    (_, "__typename") => Scalar::Typename,
                    (Root::Users, "username") => Scalar::Username,
                    (Root::Users, "firstName") => Scalar::FirstName,
                    (Root::Users, "lastName") => Scalar::LastName,
                    (Root::Devices, "name") => Scalar::Name,
                    (Root::Devices, "machineId") => Scalar::MachineId,
                    (Root::Devices, "status") => Scalar::Status,
                    (Root::Devices, "os") => Scalar::Os,
                    (Root::Devices, "osVersion") => Scalar::OsVersion,
                    (Root::Devices, "ip") => Scalar::Ip,
                    (Root::Devices, "comment") => Scalar::Comment,
                    (Root::Devices, "lastSessionAt") => Scalar::LastSessionAt,
                    (Root::Devices, "lastSessionRaw") => Scalar::LastSessionRaw,
                    _ => return None,
                };
                Some((key(field), scalar))
            })
            .collect()
    }
}

fn page_info(set: &SelectionSet) -> Option<Vec<PageInfoField>> {
    fields_of(set)?
        .into_iter()
        .map(|(name, field)| {
            if !field.selection_set.node.items.is_empty() {
                return None;
            }
            Some(match name {
                "hasPreviousPage" => PageInfoField::HasPreviousPage(key(field)),
                "hasNextPage" => PageInfoField::HasNextPage(key(field)),
                "startCursor" => PageInfoField::StartCursor(key(field)),
                "endCursor" => PageInfoField::EndCursor(key(field)),
                "__typename" => PageInfoField::Typename(key(field)),
                _ => return None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, NaiveDate};

    use super::*;

    #[test]
    fn date_times_are_written_as_async_graphql_writes_them() {
        let start = NaiveDate::from_ymd_opt(2026, 1, 1)
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .expect("a date");
        let mut at = start;
        let steps = [
            Duration::seconds(1),
            Duration::milliseconds(1),
            Duration::microseconds(7),
            Duration::nanoseconds(3),
            Duration::days(37) + Duration::seconds(3_671),
        ];
        let mut others = vec![
            NaiveDate::from_ymd_opt(7, 3, 9).and_then(|day| day.and_hms_opt(1, 2, 3)),
            NaiveDate::from_ymd_opt(-44, 3, 15).and_then(|day| day.and_hms_opt(12, 0, 0)),
            NaiveDate::from_ymd_opt(12_345, 1, 1).and_then(|day| day.and_hms_opt(0, 0, 0)),
            NaiveDate::from_ymd_opt(2016, 12, 31)
                .and_then(|day| day.and_hms_nano_opt(23, 59, 59, 1_500_000_000)),
        ];
        for index in 0..2_000 {
            at += steps[index % steps.len()];
            others.push(Some(at));
        }
        for at in others.into_iter().flatten() {
            let mut written = Vec::new();
            write_date_time(at, &mut written);
            let expected = serde_json::to_vec(&ScalarType::to_value(&at)).expect("JSON");
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
        }
    }
}
