//! Tools from the caller's trusted documents: one per named query or
//! mutation in the manifests of its team or roles (`trusted_documents`),
//! with an input schema from the operation's variables and an output
//! schema from its selection, both typed by the served schema. A tool's
//! scope follows its root fields; a mutation that removes or takes away
//! is destructive and asks the person, as the built-in ones do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use apollo_compiler::executable::{Operation, OperationType, Selection, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema, ast};
use serde_json::{Map, Value, json};

use crate::auth::{Caller, Scope};
use crate::graphql::{Root, root_scope};

/// Mutations whose tool asks the person first.
pub(super) const DESTRUCTIVE: [&str; 4] = [
    "removeComputers",
    "deleteUsers",
    "unassignComputers",
    "moveComputersToGroup",
];

/// How deep input objects are described (they do not nest deeper here;
/// the bound keeps a recursive input type finite).
const MAX_INPUT_DEPTH: usize = 6;

/// A tool made from one named operation of a trusted document.
pub(super) struct DocumentTool {
    pub(super) name: String,
    pub(super) description: String,
    pub(super) document: Arc<str>,
    pub(super) input: Value,
    pub(super) output: Value,
    pub(super) scopes: Vec<Scope>,
    pub(super) mutation: bool,
    pub(super) destructive: bool,
}

/// A caller's tools, and the manifests' revision they were made at.
type Made = (u64, Arc<Vec<DocumentTool>>);

/// The served schema, and each caller's tools as last made (by its grants
/// and the manifests' revision: a manifest read anew makes them again).
pub(super) struct DocumentTools {
    schema: Valid<Schema>,
    made: Mutex<HashMap<String, Made>>,
}

impl DocumentTools {
    pub(super) fn new() -> Option<Self> {
        let schema = Schema::parse_and_validate(crate::graphql::sdl(), "schema.graphql").ok()?;
        Some(Self {
            schema,
            made: Mutex::default(),
        })
    }

    /// `caller`'s tools from `documents`, made once per manifest revision.
    pub(super) fn of(
        &self,
        caller: &Caller,
        revision: u64,
        documents: impl FnOnce() -> Vec<(String, Arc<str>)>,
    ) -> Arc<Vec<DocumentTool>> {
        let key: Vec<&str> = caller
            .grants
            .iter()
            .map(|grant| grant.label.as_str())
            .collect();
        let key = key.join(",");
        let mut made = self
            .made
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((seen, tools)) = made.get(&key)
            && *seen == revision
        {
            return Arc::clone(tools);
        }
        let tools = Arc::new(self.make(documents()));
        // One entry per team or role combination the settings can name.
        made.insert(key, (revision, Arc::clone(&tools)));
        tools
    }

    fn make(&self, documents: Vec<(String, Arc<str>)>) -> Vec<DocumentTool> {
        let mut tools: Vec<DocumentTool> = Vec::new();
        for (id, text) in documents {
            let Ok(document) =
                ExecutableDocument::parse_and_validate(&self.schema, &*text, "trusted.graphql")
            else {
                continue;
            };
            for (name, operation) in &document.operations.named {
                if operation.operation_type == OperationType::Subscription
                    || super::tools::built_in(name.as_str()).is_some()
                    || tools.iter().any(|tool| tool.name == name.as_str())
                {
                    continue;
                }
                tools.push(self.tool(name.as_str(), &id, &text, operation, &document));
            }
        }
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        tools
    }

    fn tool(
        &self,
        name: &str,
        id: &str,
        text: &Arc<str>,
        operation: &Operation,
        document: &ExecutableDocument,
    ) -> DocumentTool {
        let roots: Vec<&str> = (operation.selection_set.selections.iter())
            .filter_map(|selection| match selection {
                Selection::Field(field) => Some(field.name.as_str()),
                _ => None,
            })
            .collect();
        let mutation = operation.operation_type == OperationType::Mutation;
        let root = match operation.operation_type {
            OperationType::Query => Root::Query,
            OperationType::Mutation => Root::Mutation,
            OperationType::Subscription => Root::Subscription,
        };
        let mut scopes: Vec<Scope> = (roots.iter())
            .filter_map(|field| root_scope(root, field))
            .collect();
        scopes.sort_unstable_by_key(|scope| *scope as u8);
        scopes.dedup();
        let destructive = mutation && roots.iter().any(|root| DESTRUCTIVE.contains(root));
        let kind = if mutation { "mutation" } else { "query" };
        DocumentTool {
            name: name.to_owned(),
            description: format!(
                "The trusted {kind} `{name}` (document {}): {}.",
                &id[..id.len().min(12)],
                roots.join(", ")
            ),
            document: Arc::clone(text),
            input: self.input(operation),
            output: self.selection(&operation.selection_set, document),
            scopes,
            mutation,
            destructive,
        }
    }

    fn input(&self, operation: &Operation) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for variable in &operation.variables {
            let name = variable.name.to_string();
            properties.insert(name.clone(), self.input_type(&variable.ty, 0));
            if variable.ty.is_non_null() && variable.default_value.is_none() {
                required.push(name);
            }
        }
        json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false })
    }

    fn input_type(&self, ty: &ast::Type, depth: usize) -> Value {
        let inner = match ty {
            ast::Type::List(item) | ast::Type::NonNullList(item) => {
                json!({ "type": "array", "items": self.input_type(item, depth) })
            }
            ast::Type::Named(name) | ast::Type::NonNullNamed(name) => {
                match self.schema.types.get(name) {
                    Some(ExtendedType::InputObject(input)) if depth < MAX_INPUT_DEPTH => {
                        let properties: Map<String, Value> = (input.fields.iter())
                            .map(|(field, definition)| {
                                (
                                    field.to_string(),
                                    self.input_type(&definition.ty, depth + 1),
                                )
                            })
                            .collect();
                        json!({ "type": "object", "properties": properties, "additionalProperties": false })
                    }
                    other => self.leaf(name.as_str(), other),
                }
            }
        };
        nullable(inner, ty.is_non_null())
    }

    fn leaf(&self, name: &str, ty: Option<&ExtendedType>) -> Value {
        match (name, ty) {
            ("Int", _) => json!({ "type": "integer" }),
            ("Float", _) => json!({ "type": "number" }),
            ("Boolean", _) => json!({ "type": "boolean" }),
            ("String" | "ID", _) => json!({ "type": "string" }),
            ("DateTime", _) => json!({ "type": "string", "description": "RFC 3339" }),
            (_, Some(ExtendedType::Enum(values))) => {
                json!({ "type": "string", "enum": values.values.keys().map(|value| value.as_str()).collect::<Vec<_>>() })
            }
            _ => json!({}),
        }
    }

    /// The shape of what `set` selects, as the answer's `data` has it.
    fn selection(&self, set: &SelectionSet, document: &ExecutableDocument) -> Value {
        let mut properties = Map::new();
        self.fields(set, document, &mut properties, 0);
        json!({ "type": "object", "properties": properties })
    }

    fn fields(
        &self,
        set: &SelectionSet,
        document: &ExecutableDocument,
        into: &mut Map<String, Value>,
        depth: usize,
    ) {
        if depth > 32 {
            return;
        }
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => {
                    let shape = if field.selection_set.selections.is_empty() {
                        let name = field.definition.ty.inner_named_type();
                        self.leaf(name.as_str(), self.schema.types.get(name))
                    } else {
                        self.selection(&field.selection_set, document)
                    };
                    into.insert(
                        field.response_key().to_string(),
                        output_type(&field.definition.ty, shape),
                    );
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = document.fragments.get(&spread.fragment_name) {
                        self.fields(&fragment.selection_set, document, into, depth + 1);
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.fields(&inline.selection_set, document, into, depth + 1)
                }
            }
        }
    }
}

/// `item` wrapped in the lists and nullability of `ty`.
fn output_type(ty: &ast::Type, item: Value) -> Value {
    match ty {
        ast::Type::Named(_) => nullable(item, false),
        ast::Type::NonNullNamed(_) => item,
        ast::Type::List(inner) => nullable(
            json!({ "type": "array", "items": output_type(inner, item) }),
            false,
        ),
        ast::Type::NonNullList(inner) => {
            json!({ "type": "array", "items": output_type(inner, item) })
        }
    }
}

fn nullable(schema: Value, non_null: bool) -> Value {
    if non_null || schema.as_object().is_some_and(Map::is_empty) {
        schema
    } else {
        json!({ "anyOf": [schema, { "type": "null" }] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_needs_the_scopes_its_root_fields_guards_require() {
        let tools = DocumentTools::new().expect("the schema");
        let made = tools.make(vec![
            (
                "a".to_owned(),
                Arc::from("query Budget { upstreamBudget { account } viewer { account } }"),
            ),
            (
                "b".to_owned(),
                Arc::from(
                    "mutation Tidy($names: [String!]!) { removeComputers(input: { computerNames: $names }) { removedCount } createGroup(input: { name: \"x\" }) { group { name } } }",
                ),
            ),
        ]);
        let scopes: Vec<(&str, &[Scope])> = (made.iter())
            .map(|tool| (tool.name.as_str(), tool.scopes.as_slice()))
            .collect();
        assert_eq!(
            scopes,
            [
                ("Budget", &[Scope::AuditRead][..]),
                ("Tidy", &[Scope::ComputersWrite, Scope::GroupsWrite][..]),
            ]
        );
    }

    #[test]
    fn a_documents_variables_and_selection_become_typed_schemas() {
        let tools = DocumentTools::new().expect("the schema");
        let text: Arc<str> = Arc::from(
            "query OfflineFinance($first: Int!, $status: DeviceStatus = OFFLINE) { devices(first: $first, filter: { status: $status }) { totalCount nodes { name os } } }",
        );
        let made = tools.make(vec![("abc".to_owned(), text)]);
        assert_eq!(made.len(), 1);
        let tool = &made[0];
        assert_eq!(
            (tool.name.as_str(), tool.scopes.as_slice(), tool.destructive),
            ("OfflineFinance", &[Scope::Read][..], false)
        );
        assert_eq!(tool.input["required"], json!(["first"]));
        assert_eq!(
            tool.input["properties"]["first"],
            json!({ "type": "integer" })
        );
        assert_eq!(
            tool.input["properties"]["status"]["anyOf"][0],
            json!({ "type": "string", "enum": ["ONLINE", "OFFLINE", "UNKNOWN"] })
        );
        let devices = &tool.output["properties"]["devices"];
        assert_eq!(
            devices["properties"]["totalCount"],
            json!({ "type": "integer" })
        );
        assert_eq!(
            devices["properties"]["nodes"]["items"]["properties"]["os"]["anyOf"][0],
            json!({ "type": "string" })
        );
    }
}
