//! Spec-complete validation of every document against the served schema,
//! once per document: a repeated document finds its verdict kept (bounded
//! in bytes), so validation costs nothing on the hot path. Each request's
//! variables are then coerced by the specification's CoerceVariableValues
//! (§6.1.2): a missing or ill-typed variable is a request error.
//!
//! The validator is `apollo-compiler`, the one Apollo Router runs: it
//! implements every rule of the specification's Validation section
//! (October 2021) as graphql-js does, where async-graphql's own rules
//! skip directives and arguments on `__typename`, variable positions
//! (§5.8.5), enum values written as strings, duplicate input fields and
//! field merging; the one rule it lacks, input object field uniqueness
//! (§5.6.3), is checked here on its syntax tree (async-graphql's parser
//! merges duplicates away). async-graphql then runs in its fast mode, which keeps
//! only what execution needs. Never a wrong answer: a document this
//! refuses never runs, and one it accepts is still checked by execution.

use std::sync::Arc;

use apollo_compiler::ast::{Argument, Value};
use apollo_compiler::executable::{DirectiveList, Selection, SelectionSet};
use apollo_compiler::parser::SourceMap;
use apollo_compiler::response::{JsonMap, JsonValue};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Node, Schema};
use async_graphql::{Pos, ServerError};

use crate::graphql::schema::error::ErrorCode;

/// A document's verdict: valid (kept to coerce variables with), or the
/// errors to answer with.
type Verdict = Result<Arc<Valid<ExecutableDocument>>, Arc<[ServerError]>>;

/// Kept documents are weighed at this many times their text: the syntax
/// tree of a document is a few times larger than the text.
const TREE_BYTES_PER_TEXT_BYTE: usize = 8;

/// The served schema, and the verdicts on documents seen.
pub(crate) struct SpecValidator {
    schema: Valid<Schema>,
    verdicts: moka::sync::Cache<String, Verdict>,
}

impl SpecValidator {
    /// A validator of documents against the served schema, keeping
    /// verdicts up to `max_bytes` of document text.
    pub(crate) fn new(max_bytes: u64) -> Self {
        // async-graphql answers `__Type.isOneOf` (graphql-js 16 asks for it
        // with `oneOf: true`); the specification's introspection types of
        // apollo-compiler predate it.
        let sdl = crate::graphql::sdl() + "\nextend type __Type { isOneOf: Boolean }\n";
        let schema = Schema::parse_and_validate(sdl, "schema.graphql")
            .expect("the served schema is valid GraphQL (tested against schema.graphql)");
        Self {
            schema,
            verdicts: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|document: &String, verdict: &Verdict| {
                    let kept = match verdict {
                        Ok(_) => document.len() * TREE_BYTES_PER_TEXT_BYTE,
                        Err(errors) => errors.len() * 256,
                    };
                    u32::try_from(document.len() + kept + 64).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }

    /// `Ok` when `request`'s document is valid and its variables coerce
    /// to the types its operation declares; else the request errors, each
    /// with its locations and the `BAD_USER_INPUT` code.
    pub(crate) fn check(&self, request: &async_graphql::Request) -> Result<(), Vec<ServerError>> {
        let document = self
            .document(&request.query)
            .map_err(|errors| errors.to_vec())?;
        let Ok(operation) = document.operations.get(request.operation_name.as_deref()) else {
            // No such operation: execution says so, naming it.
            return Ok(());
        };
        if operation.variables.is_empty() {
            return Ok(());
        }
        let values = match serde_json::to_value(&request.variables) {
            Ok(serde_json::Value::Object(values)) => values,
            _ => serde_json::Map::new(),
        };
        let values = JsonMap::from_iter(
            values
                .into_iter()
                .map(|(name, value)| (name.into(), JsonValue::from(value))),
        );
        match apollo_compiler::request::coerce_variable_values(&self.schema, operation, &values) {
            Ok(_) => Ok(()),
            Err(error) => {
                let error = error.to_graphql_error(&document.sources);
                let locations = error.locations.iter().map(|at| (at.line, at.column));
                Err(vec![validation_error(error.message, locations)])
            }
        }
    }

    /// The valid document `text`, or its validation errors; kept.
    fn document(&self, text: &str) -> Verdict {
        if let Some(verdict) = self.verdicts.get(text) {
            return verdict;
        }
        let verdict = self.validate(text);
        self.verdicts.insert(text.to_owned(), verdict.clone());
        verdict
    }

    fn validate(&self, document: &str) -> Verdict {
        let parsed =
            ExecutableDocument::parse_and_validate(&self.schema, document, "document.graphql");
        let errors: Vec<ServerError> = match parsed {
            Ok(valid) => {
                let mut duplicates = Duplicates {
                    sources: &valid.sources,
                    errors: Vec::new(),
                };
                duplicates.in_document(&valid);
                if duplicates.errors.is_empty() {
                    return Ok(Arc::new(valid));
                }
                duplicates.errors
            }
            Err(invalid) => invalid
                .errors
                .iter()
                .map(|diagnostic| {
                    let error = diagnostic.to_json();
                    let locations = error.locations.iter().map(|at| (at.line, at.column));
                    validation_error(error.message, locations)
                })
                .collect(),
        };
        Err(errors.into())
    }
}

fn validation_error(
    message: String,
    locations: impl Iterator<Item = (usize, usize)>,
) -> ServerError {
    let mut error = ServerError {
        message,
        source: None,
        locations: locations
            .map(|(line, column)| Pos { line, column })
            .collect(),
        path: Vec::new(),
        extensions: None,
    };
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", ErrorCode::BadUserInput.as_str());
    error
}

/// Input object field uniqueness (§5.6.3): every object value written in
/// the document names each field once.
struct Duplicates<'a> {
    sources: &'a SourceMap,
    errors: Vec<ServerError>,
}

impl Duplicates<'_> {
    fn in_document(&mut self, document: &ExecutableDocument) {
        for operation in document.operations.iter() {
            for variable in &operation.variables {
                if let Some(default) = &variable.default_value {
                    self.in_value(default);
                }
            }
            self.in_directives(&operation.directives);
            self.in_selections(&operation.selection_set);
        }
        for fragment in document.fragments.values() {
            self.in_directives(&fragment.directives);
            self.in_selections(&fragment.selection_set);
        }
    }

    fn in_selections(&mut self, set: &SelectionSet) {
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => {
                    self.in_arguments(&field.arguments);
                    self.in_directives(&field.directives);
                    self.in_selections(&field.selection_set);
                }
                Selection::FragmentSpread(spread) => self.in_directives(&spread.directives),
                Selection::InlineFragment(inline) => {
                    self.in_directives(&inline.directives);
                    self.in_selections(&inline.selection_set);
                }
            }
        }
    }

    fn in_directives(&mut self, directives: &DirectiveList) {
        for directive in directives.iter() {
            self.in_arguments(&directive.arguments);
        }
    }

    fn in_arguments(&mut self, arguments: &[Node<Argument>]) {
        for argument in arguments {
            self.in_value(&argument.value);
        }
    }

    fn in_value(&mut self, value: &Node<Value>) {
        match value.as_ref() {
            Value::List(items) => items.iter().for_each(|item| self.in_value(item)),
            Value::Object(fields) => {
                for (index, (name, field)) in fields.iter().enumerate() {
                    // As graphql-js: the first field of the name, then this one.
                    if let Some((first, _)) =
                        fields[..index].iter().find(|(earlier, _)| earlier == name)
                    {
                        let locations = [first, name].into_iter().filter_map(|name| {
                            let range = name.location()?.line_column_range(self.sources)?;
                            Some((range.start.line, range.start.column))
                        });
                        self.errors.push(validation_error(
                            format!("there can be only one input field named `{name}`"),
                            locations,
                        ));
                    }
                    self.in_value(field);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(document: &str) -> Vec<String> {
        let validator = SpecValidator::new(1 << 20);
        match validator.check(&async_graphql::Request::new(document)) {
            Ok(()) => Vec::new(),
            Err(errors) => errors.iter().map(|error| error.message.clone()).collect(),
        }
    }

    #[test]
    fn what_async_graphql_let_through_is_refused() {
        for document in [
            "{ __typename @nope }",
            "{ __typename @skip }",
            "{ __typename(x: 1) }",
            "query Q { __typename @include(if: $u) }",
            "{ __typename @include(if: \"yes\") }",
            "query Q($n: String) { device(name: $n) { name } }",
            "{ devices(filter: { status: \"ONLINE\" }) { totalCount } }",
            "{ devices(filter: { os: \"a\", os: \"b\" }) { totalCount } }",
            "{ devices { x: totalCount x: nodes { name } } }",
            "{ __schema { types { isOneOf nope } } }",
        ] {
            assert!(!messages(document).is_empty(), "{document} is invalid");
        }
    }

    #[test]
    fn valid_documents_pass_and_a_verdict_is_kept() {
        let validator = SpecValidator::new(1 << 20);
        let valid = "query Q($s: Boolean!) { __typename @skip(if: $s) viewer { kind } __schema { types { isOneOf } } }";
        let request = || {
            let variables = async_graphql::Variables::from_json(serde_json::json!({ "s": true }));
            async_graphql::Request::new(valid).variables(variables)
        };
        assert_eq!(
            validator.check(&request()).map_err(|errors| errors.len()),
            Ok(())
        );
        assert_eq!(
            validator.check(&request()).map_err(|errors| errors.len()),
            Ok(())
        );
        validator.verdicts.run_pending_tasks();
        assert_eq!(validator.verdicts.entry_count(), 1);
    }

    #[test]
    fn errors_carry_locations_and_a_code() {
        let validator = SpecValidator::new(1 << 20);
        let errors = validator
            .check(&async_graphql::Request::new("{\n  nope\n}"))
            .expect_err("unknown field");
        assert_eq!(errors[0].locations, vec![Pos { line: 2, column: 3 }]);
        let code = errors[0]
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .cloned();
        assert_eq!(code, Some(async_graphql::Value::from("BAD_USER_INPUT")));
    }

    #[test]
    fn variables_are_coerced_as_the_operation_declares_them() {
        let validator = SpecValidator::new(1 << 20);
        let document = "query Q($n: String!, $f: Boolean! = true) { device(name: $n) @include(if: $f) { name } }";
        let with = |variables: serde_json::Value| {
            let variables = async_graphql::Variables::from_json(variables);
            validator
                .check(&async_graphql::Request::new(document).variables(variables))
                .map_err(|errors| errors[0].message.clone())
        };
        assert_eq!(with(serde_json::json!({ "n": "PC-1" })), Ok(()));
        assert_eq!(with(serde_json::json!({ "n": "PC-1", "f": false })), Ok(()));
        for refused in [
            serde_json::json!({}),
            serde_json::json!({ "n": null }),
            serde_json::json!({ "n": 5 }),
            serde_json::json!({ "n": "PC-1", "f": "yes" }),
            serde_json::json!({ "n": "PC-1", "f": null }),
        ] {
            let message = with(refused.clone()).expect_err("a request error");
            assert!(
                message.contains('n') || message.contains('f'),
                "{refused}: {message}"
            );
        }
    }
}
