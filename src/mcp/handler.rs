//! The MCP server handler: which tools a caller sees (by their scopes) and
//! what a call does: a read runs its operation at once; a destructive
//! one asks the person for approval, or reports what the approval named
//! in the call came to. Every call authenticates the request it came in.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::request::Parts;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Map, Value};

use super::Mcp;
use super::answers::{self, ToolAnswer, ToolOperation};
use super::tools::{BUILT_IN, BuiltIn, Effect, built_in};
use crate::admission::Refusal;
use crate::auth::{ActorKind, Caller, Credential};
use crate::graphql::RequestIds;

/// Most items a list tool answers at once.
const MAX_PAGE: u64 = 100;

/// The handler the SDK calls; one per request (stateless).
#[derive(Clone)]
pub(super) struct Handler {
    mcp: Mcp,
}

impl Handler {
    pub(super) fn new(mcp: Mcp) -> Self {
        Self { mcp }
    }

    /// Whether `caller` sees `tool`: the scope it needs, and for a
    /// destructive one, a person to approve it (or a team allowed
    /// without).
    fn offers(&self, caller: &Caller, tool: &BuiltIn) -> bool {
        let allowed = caller.scopes.contains(&tool.scope);
        match tool.effect {
            Effect::Read => allowed,
            Effect::Destructive => {
                allowed && (caller.actor.kind == ActorKind::Person || self.unapproved(caller))
            }
        }
    }

    /// Whether `caller` is a team `mcp.allow_unapproved_writes_for` names.
    fn unapproved(&self, caller: &Caller) -> bool {
        caller.actor.kind == ActorKind::Team
            && (self.mcp.0.settings.allow_unapproved_writes_for).contains(&caller.team)
    }

    async fn credential<'a>(&'a self, parts: &Parts) -> Result<Credential<'a>, ErrorData> {
        self.mcp
            .authenticate(&parts.headers)
            .await
            .map_err(|refused| ErrorData::invalid_request(refused.message().to_owned(), None))
    }

    async fn call(
        &self,
        parts: &Parts,
        request: CallToolRequestParams,
    ) -> Result<CallToolResult, ErrorData> {
        let mut credential = self.credential(parts).await?;
        let caller = credential.caller().clone();
        let tool = built_in(&request.name)
            .filter(|tool| self.offers(&caller, tool))
            .ok_or_else(|| {
                ErrorData::invalid_params(
                    format!("no tool named `{}` for this caller", request.name),
                    None,
                )
            })?;
        let arguments = request.arguments.unwrap_or_default();
        let ids = parts
            .extensions
            .get::<RequestIds>()
            .cloned()
            .unwrap_or_default();
        let max_tokens = self.mcp.0.settings.max_result_tokens;
        if tool.list.is_some()
            && let Some(first) = arguments.get("first")
            && !first
                .as_u64()
                .is_some_and(|first| (1..=MAX_PAGE).contains(&first))
            && first.is_number()
        {
            let message = format!(
                "`first` must be between 1 and {MAX_PAGE} (a tool answer stays small: page with `after`)"
            );
            return Ok(result(answers::refusal_answer(&Refusal::bad_request(
                message,
            ))));
        }
        let answer = match tool.effect {
            Effect::Read => {
                let operation = ToolOperation {
                    document: tool.document,
                    variables: Value::Object(arguments),
                    ids,
                    idempotency_key: None,
                    approval: None,
                };
                match answers::run(&self.mcp.0.admission, &mut credential, operation).await {
                    Ok(response) => answers::from_response(response, tool.list, max_tokens),
                    Err(refused) => answers::refusal_answer(&refused),
                }
            }
            Effect::Destructive if self.unapproved(&caller) => {
                let operation = ToolOperation {
                    document: tool.document,
                    variables: Value::Object(without_approval(arguments)),
                    ids,
                    idempotency_key: Some(super::approvals::new_id()),
                    approval: None,
                };
                match answers::run(&self.mcp.0.admission, &mut credential, operation).await {
                    Ok(response) => answers::from_response(response, None, max_tokens),
                    Err(refused) => answers::refusal_answer(&refused),
                }
            }
            Effect::Destructive => {
                let base = self.mcp.base_url(&parts.headers);
                super::approvals::ask_or_report(&self.mcp, &caller, tool, arguments, &base).await
            }
        };
        Ok(result(answer))
    }
}

/// The arguments as the operation takes them: without `approvalId`.
pub(super) fn without_approval(mut arguments: Map<String, Value>) -> Map<String, Value> {
    arguments.remove("approvalId");
    arguments
}

fn result(answer: ToolAnswer) -> CallToolResult {
    let mut result = if answer.is_error {
        CallToolResult::structured_error(answer.structured)
    } else {
        CallToolResult::structured(answer.structured)
    };
    result.is_error = Some(answer.is_error);
    result
}

fn definition(tool: &BuiltIn) -> Tool {
    let mut schema = (tool.input)();
    if tool.effect == Effect::Destructive
        && let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut)
    {
        properties.insert(
            "approvalId".to_owned(),
            serde_json::json!({ "type": "string", "description": "The approval this call asked for: call again with it (and the same arguments) once the person decided, to learn the outcome." }),
        );
    }
    let object = match schema {
        Value::Object(object) => object,
        _ => Map::new(),
    };
    let mut definition = Tool::new(tool.name, tool.description, Arc::new(object));
    definition.title = Some(tool.title.to_owned());
    let read_only = tool.effect == Effect::Read;
    let mut annotations = ToolAnnotations::default();
    annotations.read_only_hint = Some(read_only);
    annotations.destructive_hint = Some(!read_only);
    annotations.idempotent_hint = Some(true);
    annotations.open_world_hint = Some(false);
    definition.annotations = Some(annotations);
    definition
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info = Implementation::new("remotepc-gateway", env!("CARGO_PKG_VERSION"));
        info.instructions = Some(
            "Users and computers of a RemotePC account, from the gateway's snapshots. Start with fleet_summary or a search; destructive tools answer with a link the person must open to approve.".to_owned(),
        );
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let parts = parts(&context)?;
        let credential = self.credential(parts).await?;
        let caller = credential.caller();
        let tools = BUILT_IN
            .iter()
            .filter(|tool| self.offers(caller, tool))
            .map(definition)
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let parts = parts(&context)?;
        self.call(parts, request).await.map(CallToolResponse::from)
    }
}

fn parts(context: &RequestContext<RoleServer>) -> Result<&Parts, ErrorData> {
    context.extensions.get::<Parts>().ok_or_else(|| {
        ErrorData::internal_error(Cow::Borrowed("the HTTP request is not known"), None)
    })
}
