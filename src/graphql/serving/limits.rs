//! Refuses documents that would hurt the process before the expensive step
//! sees them, and gives parse and validation errors a `BAD_USER_INPUT` code.
//!
//! Before parsing, on the raw text: nesting depth and token count. Past
//! ~300 levels of `{a:{a:…}}` the process overflows its stack after the
//! parser, so brackets are counted by a loop that cannot recurse.
//!
//! After parsing, before validation: fields once fragments are expanded
//! (validation cost doubles with each fragment that spreads the next one
//! twice; the expanded count is computed with memoization, so it does not),
//! aliases, and root fields.

use std::collections::HashMap;

use async_graphql::ServerError;
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned};

use super::depth::{Depth, MAX_INTROSPECTION_LISTS};
use super::document::{nesting_exceeds, token_count};
use crate::graphql::schema::error::ErrorCode;

/// The limits every document is held to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DocumentGuard {
    pub(crate) max_nesting: usize,
    pub(crate) max_tokens: usize,
    pub(crate) max_fields: usize,
    pub(crate) max_aliases: usize,
    pub(crate) max_root_fields: usize,
    pub(crate) max_depth: usize,
    pub(crate) max_introspection_depth: usize,
}

impl From<&crate::settings::GraphqlSettings> for DocumentGuard {
    fn from(limits: &crate::settings::GraphqlSettings) -> Self {
        Self {
            max_nesting: limits.max_document_nesting,
            max_tokens: limits.max_tokens,
            max_fields: limits.max_fields,
            max_aliases: limits.max_aliases,
            max_root_fields: limits.max_root_fields,
            max_depth: limits.max_depth,
            max_introspection_depth: limits.max_introspection_depth,
        }
    }
}

impl DocumentGuard {
    /// Checks `query` against the limits and parses it, giving the parsed
    /// document; the error is the GraphQL error to answer with (`BAD_USER_INPUT`, or `FORBIDDEN` for
    /// introspection a team may not use).
    pub(crate) fn check(
        &self,
        query: &str,
        introspection_denied: bool,
    ) -> Result<ExecutableDocument, ServerError> {
        let refuse = |message: String| Err(bad_input(ServerError::new(message, None)));
        if nesting_exceeds(query, self.max_nesting) {
            return refuse(format!(
                "document is nested more than {} levels deep (graphql.max_document_nesting)",
                self.max_nesting
            ));
        }
        if token_count(query) > self.max_tokens {
            return refuse(format!(
                "document has more than {} tokens (graphql.max_tokens)",
                self.max_tokens
            ));
        }
        // Parsed here, and handed to async-graphql parsed: its own parse
        // step would check recursion depth by expanding every fragment
        // spread unmemoized, which is exponential in the very documents
        // the shape check refuses.
        let text = super::escapes::with_plain_unicode_escapes(query);
        let document =
            async_graphql::parser::parse_query(&*text).map_err(|error| bad_input(error.into()))?;
        let shape = Shape::of(&document);
        if shape.introspects && introspection_denied {
            let mut error = ServerError::new(
                "this team may not query the schema (introspection is off)",
                None,
            );
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", ErrorCode::Forbidden.as_str());
            return Err(error);
        }
        if shape.fields > self.max_fields as u64 {
            return refuse(format!(
                "operation selects more than {} fields once fragments are expanded (graphql.max_fields)",
                self.max_fields
            ));
        }
        if shape.aliases > self.max_aliases {
            return refuse(format!(
                "document has {} aliases; at most {} (graphql.max_aliases)",
                shape.aliases, self.max_aliases
            ));
        }
        if shape.root_fields > self.max_root_fields as u64 {
            return refuse(format!(
                "operation has more than {} root fields (graphql.max_root_fields)",
                self.max_root_fields
            ));
        }
        self.check_depth(&document)?;
        Ok(document)
    }

    fn check_depth(&self, document: &ExecutableDocument) -> Result<(), ServerError> {
        let refuse = |message: String| Err(bad_input(ServerError::new(message, None)));
        let depth = Depth::of(document);
        if depth.regular > self.max_depth {
            return refuse(format!(
                "operation nests fields more than {} levels deep (graphql.max_depth)",
                self.max_depth
            ));
        }
        if depth.introspection > self.max_introspection_depth {
            return refuse(format!(
                "introspection nests fields more than {} levels deep (graphql.max_introspection_depth)",
                self.max_introspection_depth
            ));
        }
        if depth.introspection_lists >= MAX_INTROSPECTION_LISTS {
            return refuse(format!(
                "introspection nests fields, inputFields, interfaces or possibleTypes {} deep; at most {}",
                depth.introspection_lists,
                MAX_INTROSPECTION_LISTS - 1
            ));
        }
        Ok(())
    }
}

/// Gives every error a code. A request error (parse, validation,
/// variables, limits: no path) and an argument async-graphql could not
/// coerce are `BAD_USER_INPUT`; any other field error without one is the
/// gateway's own fault, `INTERNAL`. Errors with a code keep it.
pub(crate) fn classify_request_errors(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|extensions| extensions.get("code").is_some());
        if has_code {
            continue;
        }
        let coercion = error.message.starts_with("Failed to parse \"")
            || error.message.starts_with("Invalid value for argument");
        let code = if error.path.is_empty() || coercion {
            ErrorCode::BadUserInput
        } else {
            ErrorCode::Internal
        };
        let extensions = error.extensions.get_or_insert_with(Default::default);
        extensions.set("code", code.as_str());
    }
}

fn bad_input(mut error: ServerError) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", ErrorCode::BadUserInput.as_str());
    error
}

/// How big a parsed document is.
#[derive(Debug, Default, PartialEq)]
struct Shape {
    /// Fields of the largest operation, fragments expanded (saturating).
    fields: u64,
    /// Aliased fields anywhere in the document.
    aliases: usize,
    /// Root fields of the largest operation, fragments expanded.
    root_fields: u64,
    /// Whether any field is `__schema` or `__type`.
    introspects: bool,
}

/// Fragment spreads followed in a row before a document counts as
/// unbounded: real queries nest a handful.
const MAX_FRAGMENT_CHAIN: usize = 64;

impl Shape {
    fn of(document: &ExecutableDocument) -> Self {
        let mut counter = Counter {
            fragments: &document.fragments,
            fields: HashMap::new(),
            roots: HashMap::new(),
            chain: Vec::new(),
        };
        let mut shape = Shape::default();
        for (_, operation) in document.operations.iter() {
            let set = &operation.node.selection_set.node;
            shape.fields = shape.fields.max(counter.fields_in(set));
            shape.root_fields = shape.root_fields.max(counter.roots_in(set));
            shape.aliases += aliases_in(set);
        }
        for fragment in document.fragments.values() {
            shape.aliases += aliases_in(&fragment.node.selection_set.node);
        }
        let sets = document
            .operations
            .iter()
            .map(|(_, operation)| &operation.node.selection_set.node)
            .chain(
                document
                    .fragments
                    .values()
                    .map(|fragment| &fragment.node.selection_set.node),
            );
        shape.introspects = sets.into_iter().any(introspects);
        shape
    }
}

/// Counts fields with each fragment's count memoized, so a fragment spread
/// twice by each of N fragments costs N steps, not 2^N.
struct Counter<'d> {
    fragments: &'d HashMap<Name, Positioned<FragmentDefinition>>,
    fields: HashMap<&'d str, u64>,
    roots: HashMap<&'d str, u64>,
    chain: Vec<&'d str>,
}

impl<'d> Counter<'d> {
    fn fields_in(&mut self, set: &'d SelectionSet) -> u64 {
        set.items.iter().fold(0u64, |total, item| {
            let cost = match &item.node {
                Selection::Field(field) => {
                    1u64.saturating_add(self.fields_in(&field.node.selection_set.node))
                }
                Selection::InlineFragment(inline) => {
                    self.fields_in(&inline.node.selection_set.node)
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str(), false)
                }
            };
            total.saturating_add(cost)
        })
    }

    fn roots_in(&mut self, set: &'d SelectionSet) -> u64 {
        set.items.iter().fold(0u64, |total, item| {
            let cost = match &item.node {
                Selection::Field(_) => 1,
                Selection::InlineFragment(inline) => self.roots_in(&inline.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str(), true)
                }
            };
            total.saturating_add(cost)
        })
    }

    /// A fragment's count; cycles and overlong chains count as unbounded
    /// (validation reports cycles; this only must not loop or recurse deep).
    fn fragment(&mut self, name: &'d str, roots_only: bool) -> u64 {
        let memo = if roots_only {
            &self.roots
        } else {
            &self.fields
        };
        if let Some(count) = memo.get(name) {
            return *count;
        }
        if self.chain.contains(&name) || self.chain.len() >= MAX_FRAGMENT_CHAIN {
            return u64::MAX;
        }
        let Some((key, fragment)) = self.fragments.get_key_value(name) else {
            return 0;
        };
        self.chain.push(key.as_str());
        let set = &fragment.node.selection_set.node;
        let count = if roots_only {
            self.roots_in(set)
        } else {
            self.fields_in(set)
        };
        self.chain.pop();
        let memo = if roots_only {
            &mut self.roots
        } else {
            &mut self.fields
        };
        memo.insert(key.as_str(), count);
        count
    }
}

fn introspects(set: &SelectionSet) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(field) => {
            matches!(field.node.name.node.as_str(), "__schema" | "__type")
                || introspects(&field.node.selection_set.node)
        }
        Selection::InlineFragment(inline) => introspects(&inline.node.selection_set.node),
        Selection::FragmentSpread(_) => false,
    })
}

fn aliases_in(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + aliases_in(&field.node.selection_set.node)
            }
            Selection::InlineFragment(inline) => aliases_in(&inline.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
