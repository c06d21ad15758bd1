//! A document's canonical text, for matching a client's source text to a
//! trusted manifest's entry: layout, commas and comments do not count, nor
//! the order of fields within a selection set or of variable definitions
//! (GraphQL Codegen sorts them when it writes a manifest). Arguments keep
//! their order: tools keep it too. So do a mutation's root fields: they
//! run one after the other, in that order, so their order is meaning.

use std::fmt::Write;

use async_graphql::Positioned;
use async_graphql::parser::types::{
    Directive, DocumentOperations, ExecutableDocument, OperationDefinition, OperationType,
    Selection, SelectionSet,
};

/// The canonical text of `query`; `None` when it does not parse.
pub fn canonical(query: &str) -> Option<String> {
    let text = super::escapes::with_plain_unicode_escapes(query);
    let document = async_graphql::parser::parse_query(&*text).ok()?;
    Some(print_document(&document))
}

fn print_document(document: &ExecutableDocument) -> String {
    let mut parts = Vec::new();
    match &document.operations {
        DocumentOperations::Single(operation) => parts.push(print_operation(None, &operation.node)),
        DocumentOperations::Multiple(operations) => {
            for (name, operation) in operations {
                parts.push(print_operation(Some(name.as_str()), &operation.node));
            }
        }
    }
    for (name, fragment) in &document.fragments {
        let fragment = &fragment.node;
        parts.push(format!(
            "fragment {name} on {}{} {}",
            fragment.type_condition.node.on.node,
            print_directives(&fragment.directives),
            print_selection_set(&fragment.selection_set.node)
        ));
    }
    parts.sort();
    parts.join(" ")
}

fn print_operation(name: Option<&str>, operation: &OperationDefinition) -> String {
    let mut variables: Vec<String> = operation
        .variable_definitions
        .iter()
        .map(|variable| {
            let variable = &variable.node;
            let mut text = format!("${}: {}", variable.name.node, variable.var_type.node);
            if let Some(default) = &variable.default_value {
                let _ = write!(text, " = {}", default.node);
            }
            text + &print_directives(&variable.directives)
        })
        .collect();
    variables.sort();
    let mut text = operation.ty.to_string();
    if let Some(name) = name {
        let _ = write!(text, " {name}");
    }
    if !variables.is_empty() {
        let _ = write!(text, "({})", variables.join(" "));
    }
    let root = &operation.selection_set.node;
    let root = if operation.ty == OperationType::Mutation {
        print_items(root, false)
    } else {
        print_selection_set(root)
    };
    let _ = write!(text, "{} {root}", print_directives(&operation.directives));
    text
}

fn print_selection_set(set: &SelectionSet) -> String {
    print_items(set, true)
}

/// The set's items, sorted unless their order is meaning. A bare
/// `__typename` is left out: normalized caches (Apollo Client, urql
/// Graphcache) add one to every selection, and it reveals nothing the
/// manifest's document does not.
fn print_items(set: &SelectionSet, sorted: bool) -> String {
    let mut items: Vec<String> = set
        .items
        .iter()
        .filter(|item| !is_bare_typename(&item.node))
        .map(|item| print_selection(&item.node))
        .collect();
    if sorted {
        items.sort();
    }
    format!("{{ {} }}", items.join(" "))
}

fn is_bare_typename(selection: &Selection) -> bool {
    let Selection::Field(field) = selection else {
        return false;
    };
    let field = &field.node;
    field.name.node == "__typename"
        && field.alias.is_none()
        && field.arguments.is_empty()
        && field.directives.is_empty()
}

fn print_selection(selection: &Selection) -> String {
    match selection {
        Selection::Field(field) => {
            let field = &field.node;
            let mut text = String::new();
            if let Some(alias) = &field.alias {
                let _ = write!(text, "{}: ", alias.node);
            }
            text.push_str(&field.name.node);
            if !field.arguments.is_empty() {
                let arguments: Vec<String> = field
                    .arguments
                    .iter()
                    .map(|(name, value)| format!("{}: {}", name.node, value.node))
                    .collect();
                let _ = write!(text, "({})", arguments.join(" "));
            }
            text.push_str(&print_directives(&field.directives));
            if !field.selection_set.node.items.is_empty() {
                let _ = write!(text, " {}", print_selection_set(&field.selection_set.node));
            }
            text
        }
        Selection::FragmentSpread(spread) => format!(
            "...{}{}",
            spread.node.fragment_name.node,
            print_directives(&spread.node.directives)
        ),
        Selection::InlineFragment(inline) => {
            let inline = &inline.node;
            let condition = inline
                .type_condition
                .as_ref()
                .map(|condition| format!(" on {}", condition.node.on.node))
                .unwrap_or_default();
            format!(
                "...{condition}{} {}",
                print_directives(&inline.directives),
                print_selection_set(&inline.selection_set.node)
            )
        }
    }
}

fn print_directives(directives: &[Positioned<Directive>]) -> String {
    directives
        .iter()
        .map(|directive| {
            let directive = &directive.node;
            let arguments: Vec<String> = directive
                .arguments
                .iter()
                .map(|(name, value)| format!("{}: {}", name.node, value.node))
                .collect();
            if arguments.is_empty() {
                format!(" @{}", directive.name.node)
            } else {
                format!(" @{}({})", directive.name.node, arguments.join(" "))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_commas_comments_and_field_order_do_not_count() {
        let codegen = "query Devices($after: String, $filter: DeviceFilter, $first: Int!) { devices( first: $first after: $after filter: $filter orderBy: {field: NAME, direction: ASC} ) { edges { cursor node { id lastSessionAt name os status } } pageInfo { endCursor hasNextPage } totalCount } }";
        let source = "query Devices($filter: DeviceFilter, $first: Int!, $after: String) {\n  # the page\n  devices(first: $first, after: $after, filter: $filter, orderBy: { field: NAME, direction: ASC }) {\n    totalCount\n    edges { cursor node { id name status os lastSessionAt } }\n    pageInfo { hasNextPage endCursor }\n  }\n}";
        assert_eq!(canonical(codegen), canonical(source));
        assert!(canonical(codegen).is_some());
    }

    #[test]
    fn different_operations_stay_different() {
        let pairs = [
            ("{ a { b } }", "{ a { c } }"),
            ("{ a(x: 1) }", "{ a(x: 2) }"),
            ("{ a(x: 1, y: 2) }", "{ a(y: 2, x: 1) }"),
            ("{ a: b }", "{ b: a }"),
            ("query Q { a }", "mutation Q { a }"),
            ("{ a @skip(if: true) }", "{ a }"),
            ("mutation { a b }", "mutation { b a }"),
        ];
        for (one, other) in pairs {
            assert_ne!(canonical(one), canonical(other), "{one} vs {other}");
        }
    }

    #[test]
    fn typenames_a_normalized_cache_adds_do_not_count() {
        let manifest = "query D { devices(first: 2) { nodes { name } } viewer { kind } }";
        let sent = "query D { devices(first: 2) { nodes { name __typename } __typename } viewer { __typename kind } __typename }";
        assert_eq!(canonical(manifest), canonical(sent));
        let aliased =
            "query D { devices(first: 2) { nodes { name t: __typename } } viewer { kind } }";
        assert_ne!(canonical(manifest), canonical(aliased));
    }

    #[test]
    fn only_a_mutations_root_fields_keep_their_order() {
        assert_eq!(canonical("{ a b }"), canonical("{ b a }"));
        assert_eq!(
            canonical("mutation { a { y x } b }"),
            canonical("mutation { a { x y } b }")
        );
    }
}
