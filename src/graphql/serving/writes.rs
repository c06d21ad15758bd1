//! What a request will write, read from its document before it runs:
//! whether its operation is a mutation, and how many RemotePC calls it may
//! make, so that quota is charged by the calls a request causes rather
//! than one unit however much it sends. The document read for this is the
//! one execution uses: a mutation is parsed once.

use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Request, ServerError};

use super::limits::DocumentGuard;
use super::refusals::mutation_fields;

/// A document read ahead of execution (parsed and held to the limits),
/// handed to execution with its operation so that it is not read again.
#[derive(Debug)]
pub struct ReadAhead(pub(crate) Result<ExecutableDocument, ServerError>);

/// The writes one request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteProfile {
    /// Whether the operation it runs is a mutation.
    pub mutation: bool,
    /// The most RemotePC calls its mutations may make (0 for a query).
    pub upstream_calls: u32,
}

/// The profile of `request`, and its document when it had to be read
/// for it. A text without the keyword `mutation` (nearly every request) is
/// not parsed here. A document that breaks a limit or does not parse
/// writes nothing: execution reports its errors from the read kept.
pub(crate) fn read_ahead(
    guard: &DocumentGuard,
    request: &Request,
    introspection: bool,
    remove_batch: usize,
) -> (WriteProfile, Option<ReadAhead>) {
    if !request.query.contains("mutation") {
        return (WriteProfile::default(), None);
    }
    let read = guard.check(&request.query, !introspection);
    let profile = match &read {
        Ok(document) => profile_of(document, request, remove_batch),
        Err(_) => WriteProfile::default(),
    };
    (profile, Some(ReadAhead(read)))
}

fn profile_of(
    document: &ExecutableDocument,
    request: &Request,
    remove_batch: usize,
) -> WriteProfile {
    let operation_name = request.operation_name.as_deref();
    let is_mutation = document
        .operations
        .iter()
        .find(|(name, _)| {
            operation_name.is_none() || name.map(|name| name.as_str()) == operation_name
        })
        .is_some_and(|(_, operation)| operation.node.ty == OperationType::Mutation);
    let calls: usize = mutation_fields(document, operation_name, &request.variables)
        .iter()
        .map(|field| match field.name.as_str() {
            // Sent in calls of at most `remove_batch` names.
            "removeComputers" => field.arguments["input"]["computerNames"]
                .as_array()
                .map_or(1, |names| names.len().div_ceil(remove_batch.max(1)).max(1)),
            _ => 1,
        })
        .sum();
    WriteProfile {
        mutation: is_mutation,
        upstream_calls: u32::try_from(calls).unwrap_or(u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(query: &str, variables: serde_json::Value) -> WriteProfile {
        let request = Request::new(query).variables(async_graphql::Variables::from_json(variables));
        let guard = DocumentGuard::from(&crate::settings::GraphqlSettings::default());
        read_ahead(&guard, &request, false, 50).0
    }

    #[test]
    fn removals_cost_one_call_per_batch_of_fifty() {
        let names: Vec<String> = (0..1_000).map(|index| format!("PC{index}")).collect();
        let found = profile(
            "mutation($n: [String!]!) { a: removeComputers(input: { computerNames: $n }) { removedCount } b: removeComputers(input: { computerNames: $n }) { removedCount } c: addComputerComment(input: { computerName: \"x\", comment: \"yyyyyy\" }) { comment } }",
            serde_json::json!({ "n": names }),
        );
        assert_eq!(
            found,
            WriteProfile {
                mutation: true,
                upstream_calls: 41
            }
        );
    }

    #[test]
    fn queries_and_broken_documents_write_nothing() {
        assert_eq!(
            profile("{ devices { totalCount } }", serde_json::json!({})),
            WriteProfile::default()
        );
        assert_eq!(
            profile("mutation {", serde_json::json!({})),
            WriteProfile::default()
        );
    }

    #[test]
    fn a_mutation_is_read_once_and_its_reading_goes_with_it() {
        let guard = DocumentGuard::from(&crate::settings::GraphqlSettings::default());
        let query = Request::new("{ devices { totalCount } }");
        assert!(read_ahead(&guard, &query, false, 50).1.is_none());
        let mutation = Request::new(
            "mutation { deleteUsers(input: { emails: [\"a@b.c\"] }) { deletedCount } }",
        );
        let (profile, read) = read_ahead(&guard, &mutation, false, 50);
        assert!(profile.mutation);
        assert!(matches!(read, Some(ReadAhead(Ok(_)))), "{read:?}");
        let nested = format!("mutation {}", "{ a ".repeat(100) + &"}".repeat(100));
        let (profile, read) = read_ahead(&guard, &Request::new(nested), false, 50);
        assert_eq!(profile, WriteProfile::default());
        let Some(ReadAhead(Err(error))) = read else {
            panic!("the limit's refusal goes to execution: {read:?}");
        };
        assert!(
            error.message.contains("graphql.max_document_nesting"),
            "{}",
            error.message
        );
    }
}
