//! The MCP server handler: which tools a caller sees (`offer`) and what a
//! call does: a read runs its operation at once; a destructive one asks
//! the person for approval, or reports what the approval named in the call
//! came to. Every call authenticates the request it came in.

use std::borrow::Cow;

use axum::http::request::Parts;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, RequestMetaObject, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Map, Value};

use super::Mcp;
use super::answers::{self, ToolAnswer, ToolOperation};
use crate::admission::Refusal;
use crate::auth::Credential;
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
        meta: &RequestMetaObject,
    ) -> Result<CallToolResponse, ErrorData> {
        let mut credential = self.credential(parts).await?;
        let caller = credential.caller().clone();
        let tool = self.mcp.find(&caller, &request.name).ok_or_else(|| {
            ErrorData::invalid_params(
                format!("no tool named `{}` for this caller", request.name),
                None,
            )
        })?;
        let arguments = request.arguments.unwrap_or_default();
        if let Some(refused) = page_refusal(tool.list.is_some(), &arguments) {
            return Ok(result(answers::refusal_answer(&refused)).into());
        }
        let ids = (parts.extensions.get::<RequestIds>().cloned()).unwrap_or_default();
        let max_tokens = self.mcp.0.settings.max_result_tokens;
        if tool.destructive && !self.mcp.unapproved(&caller) {
            let mut arguments = arguments;
            // A client retrying after the URL elicitation echoes the
            // approval as its request state; what it says it did is not read.
            if let Some(state) = request
                .request_state
                .filter(|_| !arguments.contains_key("approvalId"))
            {
                arguments.insert("approvalId".to_owned(), Value::String(state));
            }
            let base = self.mcp.base_url(&parts.headers);
            let answer =
                super::approvals::ask_or_report(&self.mcp, &caller, &tool, arguments, &base).await;
            if elicits_urls(Some(meta)) || elicits_urls(request.meta.as_ref()) {
                return Ok(super::elicitation::ask_person(answer));
            }
            return Ok(result(answer).into());
        }
        let operation = ToolOperation {
            document: &tool.document,
            variables: Value::Object(without_approval(arguments)),
            ids,
            // A team's unapproved write still runs once, whatever retries it.
            idempotency_key: tool.destructive.then(super::approvals::new_id),
            approval: None,
        };
        let answer = match answers::run(&self.mcp.0.admission, &mut credential, operation).await {
            Ok(response) => answers::from_response(response, tool.list, max_tokens),
            Err(refused) => answers::refusal_answer(&refused),
        };
        Ok(result(answer).into())
    }
}

/// Whether the client said (in the request's `_meta`, protocol
/// 2026-07-28) that it can send the person to a URL.
fn elicits_urls(meta: Option<&RequestMetaObject>) -> bool {
    let capabilities = meta.and_then(RequestMetaObject::client_capabilities);
    capabilities
        .and_then(|capabilities| capabilities.elicitation)
        .is_some_and(|elicitation| elicitation.url.is_some())
}

/// A list tool's `first` out of bounds, refused naming it.
fn page_refusal(pages: bool, arguments: &Map<String, Value>) -> Option<Refusal> {
    let first = arguments
        .get("first")
        .filter(|first| pages && first.is_number())?;
    if first
        .as_u64()
        .is_some_and(|first| (1..=MAX_PAGE).contains(&first))
    {
        return None;
    }
    Some(Refusal::bad_request(format!(
        "`first` must be between 1 and {MAX_PAGE} (a tool answer stays small: page with `after`)"
    )))
}

/// The arguments as the operation takes them: without `approvalId`.
pub(super) fn without_approval(mut arguments: Map<String, Value>) -> Map<String, Value> {
    arguments.remove("approvalId");
    arguments
}

pub(super) fn result(answer: ToolAnswer) -> CallToolResult {
    let mut result = if answer.is_error {
        CallToolResult::structured_error(answer.structured)
    } else {
        CallToolResult::structured(answer.structured)
    };
    result.is_error = Some(answer.is_error);
    result
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
        let offered = self.mcp.offered(credential.caller());
        let tools = offered
            .iter()
            .map(super::offer::Offered::definition)
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let parts = parts(&context)?;
        self.call(parts, request, &context.meta).await
    }
}

fn parts(context: &RequestContext<RoleServer>) -> Result<&Parts, ErrorData> {
    context.extensions.get::<Parts>().ok_or_else(|| {
        ErrorData::internal_error(Cow::Borrowed("the HTTP request is not known"), None)
    })
}
