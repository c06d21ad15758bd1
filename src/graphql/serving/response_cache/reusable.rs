//! Which queries the response cache may keep: those whose every root field
//! reads snapshots only (not the store, not the audit log).

use async_graphql::Positioned;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};

/// Root fields whose responses depend on snapshots and nothing else.
const SNAPSHOT_ROOT_FIELDS: [&str; 5] = ["users", "user", "devices", "device", "__typename"];

/// Whether the operation `operation_name` picks is a query whose every root
/// field reads snapshots only (not the store, not the audit log).
pub(crate) fn reads_only_snapshots(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> bool {
    let Some(operation) = selected_operation(document, operation_name) else {
        return false;
    };
    operation.node.ty == OperationType::Query
        && root_fields_read_snapshots(document, &operation.node.selection_set.node, 0)
}

/// The operation a request with `operation_name` runs, if there is one.
pub(crate) fn selected_operation<'d>(
    document: &'d ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'d Positioned<OperationDefinition>> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
        // A lone named operation is stored as `Multiple` too.
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

fn root_fields_read_snapshots(
    document: &ExecutableDocument,
    set: &SelectionSet,
    depth: usize,
) -> bool {
    // Validated documents have no fragment cycles; the bound is a backstop.
    if depth > 16 {
        return false;
    }
    set.items.iter().all(|selection| match &selection.node {
        Selection::Field(field) => SNAPSHOT_ROOT_FIELDS.contains(&field.node.name.node.as_str()),
        Selection::InlineFragment(fragment) => {
            root_fields_read_snapshots(document, &fragment.node.selection_set.node, depth + 1)
        }
        Selection::FragmentSpread(spread) => document
            .fragments
            .get(&spread.node.fragment_name.node)
            .is_some_and(|fragment| {
                root_fields_read_snapshots(document, &fragment.node.selection_set.node, depth + 1)
            }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(document: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(document).expect("parses")
    }

    #[test]
    fn only_queries_on_snapshots_are_kept() {
        let reads =
            |document: &str, name: Option<&str>| reads_only_snapshots(&parsed(document), name);
        assert!(reads(
            "{ devices { totalCount } user(username: \"a\") { username } }",
            None
        ));
        assert!(reads(
            "query Q { ...F } fragment F on Query { devices { totalCount } }",
            None
        ));
        assert!(!reads("{ devices { totalCount } groups { name } }", None));
        assert!(!reads(
            "query Q { ... on Query { auditLog { totalCount } } }",
            None
        ));
        assert!(!reads(
            "mutation { deleteUsers(usernames: []) { ok } }",
            None
        ));
        assert!(reads(
            "query A { users { totalCount } } query B { groups { name } }",
            Some("A")
        ));
        assert!(!reads(
            "query A { users { totalCount } } query B { groups { name } }",
            Some("B")
        ));
        assert!(!reads(
            "query A { users { totalCount } } query B { groups { name } }",
            None
        ));
    }
}
