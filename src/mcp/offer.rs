//! What a caller is offered: the built-in tools and the tools of its
//! trusted documents that its scopes allow, a destructive one only to a
//! person (who can approve it) or a team allowed unapproved writes.

use std::sync::Arc;

use rmcp::model::{Tool, ToolAnnotations};
use serde_json::{Map, Value, json};

use super::Mcp;
use super::tools::{BUILT_IN, BuiltIn, Effect};
use crate::auth::{ActorKind, Caller, Scope};

/// A tool a caller may call.
pub(super) struct Offered {
    pub(super) name: String,
    pub(super) title: String,
    pub(super) description: String,
    /// The GraphQL operation it runs.
    pub(super) document: Arc<str>,
    /// Where its page of items is in `data`, when it pages.
    pub(super) list: Option<&'static [&'static str]>,
    pub(super) destructive: bool,
    read_only: bool,
    input: Value,
    output: Option<Value>,
}

impl Offered {
    fn built_in(tool: &BuiltIn) -> Self {
        Self {
            name: tool.name.to_owned(),
            title: tool.title.to_owned(),
            description: tool.description.to_owned(),
            document: Arc::from(tool.document),
            list: tool.list,
            destructive: tool.effect == Effect::Destructive,
            read_only: tool.effect == Effect::Read,
            input: (tool.input)(),
            output: None,
        }
    }

    /// Its definition, as `tools/list` gives it.
    pub(super) fn definition(&self) -> Tool {
        let mut schema = self.input.clone();
        if self.destructive
            && let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut)
        {
            properties.insert(
                "approvalId".to_owned(),
                json!({ "type": "string", "description": "The approval this call asked for: call again with it (and the same arguments) once the person decided, to learn the outcome." }),
            );
        }
        let mut definition = Tool::new(
            self.name.clone(),
            self.description.clone(),
            Arc::new(object(schema)),
        );
        definition.title = Some(self.title.clone());
        definition.output_schema = self.output.clone().map(|output| Arc::new(object(output)));
        let mut annotations = ToolAnnotations::default();
        annotations.read_only_hint = Some(self.read_only);
        annotations.destructive_hint = Some(self.destructive);
        annotations.idempotent_hint = Some(true);
        annotations.open_world_hint = Some(false);
        definition.annotations = Some(annotations);
        definition
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(object) => object,
        _ => Map::new(),
    }
}

impl Mcp {
    /// Every tool `caller` is offered, built-in ones first.
    pub(super) fn offered(&self, caller: &Caller) -> Vec<Offered> {
        let built_in = BUILT_IN
            .iter()
            .filter(|tool| self.allows(caller, &[tool.scope], tool.effect == Effect::Destructive))
            .map(Offered::built_in);
        let mut offered: Vec<Offered> = built_in.collect();
        offered.extend(self.documents_offered(caller, None));
        offered
    }

    /// The tool `name`, when `caller` is offered it.
    pub(super) fn find(&self, caller: &Caller, name: &str) -> Option<Offered> {
        if let Some(tool) = super::tools::built_in(name) {
            let allowed = self.allows(caller, &[tool.scope], tool.effect == Effect::Destructive);
            return allowed.then(|| Offered::built_in(tool));
        }
        self.documents_offered(caller, Some(name)).pop()
    }

    fn documents_offered(&self, caller: &Caller, named: Option<&str>) -> Vec<Offered> {
        let Some(documents) = &self.0.documents else {
            return Vec::new();
        };
        let trusted = self.0.admission.trusted();
        let tools = documents.of(caller, trusted.revision(caller), || {
            trusted.documents(caller)
        });
        tools
            .iter()
            .filter(|tool| named.is_none_or(|name| tool.name == name))
            .filter(|tool| self.allows(caller, &tool.scopes, tool.destructive))
            .map(|tool| Offered {
                name: tool.name.clone(),
                title: tool.name.clone(),
                description: tool.description.clone(),
                document: Arc::clone(&tool.document),
                list: None,
                destructive: tool.destructive,
                read_only: !tool.mutation,
                input: tool.input.clone(),
                output: Some(tool.output.clone()),
            })
            .collect()
    }

    /// Whether `caller` holds `scopes` and, for a destructive tool, is a
    /// person (who can approve it) or a team allowed unapproved writes.
    fn allows(&self, caller: &Caller, scopes: &[Scope], destructive: bool) -> bool {
        let held = scopes.iter().all(|scope| caller.scopes.contains(scope));
        held && (!destructive || caller.actor.kind == ActorKind::Person || self.unapproved(caller))
    }

    /// Whether `caller` is a team `mcp.allow_unapproved_writes_for` names.
    pub(super) fn unapproved(&self, caller: &Caller) -> bool {
        caller.actor.kind == ActorKind::Team
            && (self.0.settings.allow_unapproved_writes_for).contains(&caller.team)
    }
}
