//! Audit records for mutations refused before their resolver ran: a guard
//! (FORBIDDEN by scope), argument coercion or validation (BAD_USER_INPUT).
//! Such a mutation never reaches RemotePC, but the attempt is recorded like
//! any other, with its arguments as sent (passwords redacted).

use async_graphql::parser::types::{
    ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};
use async_graphql::{Positioned, Variables};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::catalog::{AuditLog, AuditRecord};
use crate::graphql::RequestIds;
use crate::graphql::schema::audit_trail::AuditTrail;
use crate::graphql::schema::error::{ErrorCode, error_code};

/// One root field of a mutation operation, as sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MutationField {
    /// The alias, or the name.
    pub(crate) response_key: String,
    /// The mutation, e.g. `addComputerComment`.
    pub(crate) name: String,
    /// Its arguments, variables filled in, passwords redacted.
    pub(crate) arguments: Value,
}

/// The root fields of the operation `operation_name` selects in `document`,
/// when it is a mutation; empty for queries and unknown operations.
pub(crate) fn mutation_fields(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Vec<MutationField> {
    let operation = document.operations.iter().find(|(name, _)| {
        operation_name.is_none() || name.map(|name| name.as_str()) == operation_name
    });
    let Some((_, operation)) = operation else {
        return Vec::new();
    };
    if operation.node.ty != OperationType::Mutation {
        return Vec::new();
    }
    let mut fields = Vec::new();
    collect(
        document,
        &operation.node.selection_set.node,
        variables,
        &mut fields,
        0,
    );
    fields
}

/// Fragments at the root nest a few levels at most; deeper ones are
/// refused by validation anyway.
const MAX_ROOT_FRAGMENT_NESTING: usize = 8;

fn collect(
    document: &ExecutableDocument,
    set: &SelectionSet,
    variables: &Variables,
    fields: &mut Vec<MutationField>,
    nesting: usize,
) {
    if nesting > MAX_ROOT_FRAGMENT_NESTING {
        return;
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => fields.push(describe(field, variables)),
            Selection::InlineFragment(inline) => {
                collect(
                    document,
                    &inline.node.selection_set.node,
                    variables,
                    fields,
                    nesting + 1,
                );
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    let set = &fragment.node.selection_set.node;
                    collect(document, set, variables, fields, nesting + 1);
                }
            }
        }
    }
}

fn describe(field: &Positioned<Field>, variables: &Variables) -> MutationField {
    let arguments = field
        .node
        .arguments
        .iter()
        .map(|(name, value)| {
            let value = value
                .node
                .clone()
                .into_const_with(|variable| {
                    Ok::<_, ()>(variables.get(&variable).cloned().unwrap_or_default())
                })
                .ok()
                .and_then(|value| value.into_json().ok())
                .unwrap_or(Value::Null);
            (name.node.to_string(), redact(value))
        })
        .collect();
    MutationField {
        response_key: field.node.response_key().node.to_string(),
        name: field.node.name.node.to_string(),
        arguments: Value::Object(arguments),
    }
}

/// `value` with every `password` entry, at any depth, replaced.
fn redact(value: Value) -> Value {
    match value {
        Value::Object(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(key, value)| {
                    if key.eq_ignore_ascii_case("password") {
                        (key, json!("[redacted]"))
                    } else {
                        (key, redact(value))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

/// Records every field of `fields` that did not record itself: refused by
/// a guard, by argument coercion, by validation, or never run because an
/// earlier mutation of the operation failed.
pub(crate) async fn record_refusals(
    audit_log: &AuditLog,
    caller: &Caller,
    ids: &RequestIds,
    fields: &[MutationField],
    trail: &AuditTrail,
    response: &async_graphql::Response,
) {
    for field in fields
        .iter()
        .filter(|field| !trail.has(&field.response_key))
    {
        let error = response.errors.iter().find(|error| {
            error.path.is_empty()
                || matches!(error.path.first(), Some(async_graphql::PathSegment::Field(key)) if *key == field.response_key)
        });
        let (outcome, message) = match error {
            Some(error) => (
                error_code(error.extensions.as_ref())
                    .unwrap_or_else(|| ErrorCode::BadUserInput.as_str().to_owned()),
                error.message.clone(),
            ),
            None => (
                "NOT_RUN".to_owned(),
                "not run: an earlier mutation of the operation failed".to_owned(),
            ),
        };
        let mut record = AuditRecord::started(caller, ids, &field.name, field.arguments.clone());
        record.outcome = outcome;
        record.result = json!({ "message": message, "refused": true });
        if let Err(error) = audit_log.record_refused(&record).await {
            tracing::error!(error = %error, operation = %field.name, "refused mutation not recorded");
        }
    }
}

/// Records the mutations of `operation` (parsed as `document`), refused
/// with `code` before they were read for execution.
pub(crate) async fn record_refused(
    audit_log: &AuditLog,
    document: &ExecutableDocument,
    operation: &crate::graphql::Operation,
    code: ErrorCode,
    message: &str,
) {
    let request = &operation.request;
    let operation_name = request.operation_name.as_deref();
    let writes = mutation_fields(document, operation_name, &request.variables);
    if writes.is_empty() {
        return;
    }
    let mut error = async_graphql::ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    error.extensions = Some(extensions);
    let response = async_graphql::Response::from_errors(vec![error]);
    let (caller, ids) = (&operation.caller, &operation.ids);
    let trail = AuditTrail::default();
    record_refusals(audit_log, caller, ids, &writes, &trail, &response).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(document: &str, variables: serde_json::Value) -> Vec<MutationField> {
        let document = async_graphql::parser::parse_query(document).expect("parses");
        mutation_fields(&document, None, &Variables::from_json(variables))
    }

    #[test]
    fn root_fields_with_variables_filled_in_and_passwords_redacted() {
        let found = fields(
            "mutation($p: String!) { a: createUser(input: { email: \"x@y.z\", password: $p }) { user { email } } ...F }
             fragment F on Mutation { addComputerComment(input: { computerName: \"PC\", comment: 5 }) { comment } }",
            json!({ "p": "hunter22" }),
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].response_key, "a");
        assert_eq!(found[0].name, "createUser");
        assert_eq!(
            found[0].arguments,
            json!({ "input": { "email": "x@y.z", "password": "[redacted]" } })
        );
        assert_eq!(found[1].name, "addComputerComment");
        assert_eq!(found[1].arguments["input"]["comment"], 5);
    }

    #[test]
    fn queries_have_no_mutation_fields() {
        assert!(fields("{ devices { totalCount } }", json!({})).is_empty());
    }
}
