//! Compiling a document into a plan: the one shape plans cover, or
//! nothing.

use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;

use async_graphql::Positioned;
use async_graphql::parser::types::{
    ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};

use super::{ConnectionField, EdgeField, Key, NodeField, NodeWrite, PageInfoField, Plan, Root};
use crate::catalog as domain;
use crate::graphql::schema::json_out::write_str;
use crate::graphql::schema::planned::PlannedNode;

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
        let operation =
            crate::graphql::serving::response_cache::selected_operation(document, operation_name)?;
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
            last_length: AtomicUsize::new(0),
        })
    }
}

/// Where `name` is in `T`'s field table; `None`: plans do not write it.
fn field_index<T: PlannedNode>(name: &str) -> Option<usize> {
    T::FIELDS.iter().position(|(field, _)| *field == name)
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
                            EdgeField::Node(_, nodes) => 1 + selected(nodes),
                            _ => 1,
                        })
                        .sum::<usize>()
                }
                ConnectionField::Nodes(_, nodes) => 1 + selected(nodes),
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
        let mut written: Vec<NodeField> = Vec::new();
        for (name, field) in fields_of(set)? {
            if !field.selection_set.node.items.is_empty() {
                return None;
            }
            let index = match (name, self.root) {
                ("__typename", _) => {
                    written.push((key(field), NodeWrite::Typename));
                    continue;
                }
                (_, Root::Users) => field_index::<domain::User>(name)?,
                (_, Root::Devices) => field_index::<domain::Device>(name)?,
            };
            if field.alias.is_some() {
                written.push((key(field), NodeWrite::Field(index)));
                continue;
            }
            // Fields under their own names, next in the table, are one
            // copy out of the item's written form.
            match written.last_mut() {
                Some((_, NodeWrite::Run(_, last))) if *last + 1 == index => *last = index,
                _ => written.push((Key::new(), NodeWrite::Run(index, index))),
            }
        }
        Some(written)
    }
}

/// How many fields a node's selection holds: a run counts each of its.
fn selected(nodes: &[NodeField]) -> usize {
    let fields = |(_, write): &NodeField| match write {
        NodeWrite::Run(first, last) => last - first + 1,
        NodeWrite::Typename | NodeWrite::Field(_) => 1,
    };
    nodes.iter().map(fields).sum()
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
