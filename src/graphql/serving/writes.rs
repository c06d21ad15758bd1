//! What a request will write, read from its document before it runs:
//! whether its operation is a mutation, and how many RemotePC calls it may
//! make, so that quota is charged by the calls a request causes rather
//! than one unit however much it sends.

use async_graphql::Request;

use super::document::nesting_exceeds;
use super::refusals::mutation_fields;

/// The writes one request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteProfile {
    /// Whether the operation it runs is a mutation.
    pub mutation: bool,
    /// The most RemotePC calls its mutations may make (0 for a query).
    pub upstream_calls: u32,
}

/// The profile of `request`. Documents that do not parse are no mutation:
/// execution reports their errors.
pub fn write_profile(request: &Request, max_nesting: usize, remove_batch: usize) -> WriteProfile {
    // A mutation needs the keyword: queries, nearly every request, are not
    // parsed here.
    if !request.query.contains("mutation") || nesting_exceeds(&request.query, max_nesting) {
        return WriteProfile::default();
    }
    let text = super::escapes::with_plain_unicode_escapes(&request.query);
    let Ok(document) = async_graphql::parser::parse_query(&*text) else {
        return WriteProfile::default();
    };
    let operation_name = request.operation_name.as_deref();
    let is_mutation = document
        .operations
        .iter()
        .find(|(name, _)| {
            operation_name.is_none() || name.map(|name| name.as_str()) == operation_name
        })
        .is_some_and(|(_, operation)| {
            operation.node.ty == async_graphql::parser::types::OperationType::Mutation
        });
    let calls: usize = mutation_fields(&document, operation_name, &request.variables)
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
        write_profile(&request, 64, 50)
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
}
