//! How deep an operation nests, counted apart inside introspection. The
//! standard introspection query (graphql-js `getIntrospectionQuery()`)
//! nests 13 levels through its `ofType` chain; counting it against
//! `graphql.max_depth` locked GraphiQL and codegen out. Inside `__schema`
//! and `__type` fields count toward `graphql.max_introspection_depth`
//! instead, and the fields that list types' members may not nest three deep
//! (graphql-js's MaxIntrospectionDepthRule), so `__type { fields { type {
//! fields … } } }` cannot fan out. Fragments are measured once each.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// Introspection fields that return a type's members as a list.
const LIST_FIELDS: [&str; 4] = ["fields", "inputFields", "interfaces", "possibleTypes"];

/// Nesting at or past this many list fields is refused, as graphql-js does.
pub(crate) const MAX_INTROSPECTION_LISTS: usize = 3;

/// Fragment spreads followed in a row before a document counts as
/// unbounded (validation reports cycles; this must not loop).
const MAX_FRAGMENT_CHAIN: usize = 64;

/// The deepest nesting of a document's operations.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Depth {
    /// Levels of fields outside introspection (a root field is level 1).
    pub(crate) regular: usize,
    /// Levels of an introspection field and everything under it.
    pub(crate) introspection: usize,
    /// Most list fields (`fields`, `inputFields`, …) on one path under it.
    pub(crate) introspection_lists: usize,
}

impl Depth {
    /// Measures every operation of `document`; the largest of each.
    pub(crate) fn of(document: &ExecutableDocument) -> Self {
        let mut measure = Measure {
            document,
            memo: HashMap::new(),
            chain: Vec::new(),
        };
        document
            .operations
            .iter()
            .map(|(_, operation)| measure.set(&operation.node.selection_set.node, false))
            .fold(Depth::default(), Depth::max)
    }

    fn max(self, other: Depth) -> Depth {
        Depth {
            regular: self.regular.max(other.regular),
            introspection: self.introspection.max(other.introspection),
            introspection_lists: self.introspection_lists.max(other.introspection_lists),
        }
    }

    fn unbounded() -> Depth {
        Depth {
            regular: usize::MAX,
            introspection: usize::MAX,
            introspection_lists: usize::MAX,
        }
    }
}

struct Measure<'d> {
    document: &'d ExecutableDocument,
    /// By fragment name and whether it is spread inside introspection.
    memo: HashMap<(&'d str, bool), Depth>,
    chain: Vec<&'d str>,
}

impl<'d> Measure<'d> {
    /// The depth of `set`; `inside` when it is under an introspection field,
    /// where `regular` is 0 and levels count as `introspection`.
    fn set(&mut self, set: &'d SelectionSet, inside: bool) -> Depth {
        let mut deepest = Depth::default();
        for item in &set.items {
            let depth = match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    let enters = !inside && matches!(name, "__schema" | "__type");
                    let below = self.set(&field.node.selection_set.node, inside || enters);
                    let list = usize::from(inside && LIST_FIELDS.contains(&name));
                    if inside || enters {
                        Depth {
                            regular: 0,
                            introspection: below.introspection.saturating_add(1),
                            introspection_lists: below.introspection_lists.saturating_add(list),
                        }
                    } else {
                        Depth {
                            regular: below.regular.saturating_add(1),
                            ..below
                        }
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.set(&inline.node.selection_set.node, inside)
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str(), inside)
                }
            };
            deepest = deepest.max(depth);
        }
        deepest
    }

    fn fragment(&mut self, name: &'d str, inside: bool) -> Depth {
        if let Some(depth) = self.memo.get(&(name, inside)) {
            return *depth;
        }
        if self.chain.contains(&name) || self.chain.len() >= MAX_FRAGMENT_CHAIN {
            return Depth::unbounded();
        }
        let Some((key, fragment)) = self.document.fragments.get_key_value(name) else {
            return Depth::default();
        };
        self.chain.push(key.as_str());
        let depth = self.set(&fragment.node.selection_set.node, inside);
        self.chain.pop();
        self.memo.insert((key.as_str(), inside), depth);
        depth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(document: &str) -> Depth {
        Depth::of(&async_graphql::parser::parse_query(document).expect("parses"))
    }

    #[test]
    fn introspection_is_counted_apart() {
        let measured = depth(
            "{ devices { edges { node { name } } } __schema { types { fields { type { ofType { name } } } } } }",
        );
        assert_eq!(measured.regular, 4);
        assert_eq!(measured.introspection, 6);
        assert_eq!(measured.introspection_lists, 1);
    }

    #[test]
    fn nested_member_lists_are_counted_through_fragments() {
        let measured = depth(
            "{ __type(name: \"Query\") { ...T } } fragment T on __Type { fields { type { fields { type { interfaces { name } } } } } }",
        );
        assert_eq!(measured.introspection_lists, 3);
        assert_eq!(measured.regular, 0);
    }

    #[test]
    fn fragment_cycles_count_as_unbounded() {
        let measured = depth("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }");
        assert_eq!(measured.regular, usize::MAX);
    }
}
