//! Assistants over the Model Context Protocol: `/mcp` (Streamable HTTP,
//! stateless, protocol 2026-07-28 and the versions before it, through the
//! pinned `rmcp` SDK, which nothing outside this module names), the OAuth
//! protected-resource metadata (RFC 9728) that tells MCP clients where
//! people sign in, and the approval page where a person approves an
//! assistant's destructive change. Every tool runs a GraphQL operation
//! through `admission`, as `/graphql` does: the same credentials, scopes,
//! quota, trusted-documents policy, complexity, audit and idempotency.

mod answers;
mod approvals;
mod documents;
mod elicitation;
mod handler;
mod offer;
mod page;
mod tools;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::admission::{Admission, Refusal};
use crate::auth::{Authenticator, Credential};
use crate::settings::{McpSettings, Settings};

/// The request header naming the RemotePC account (as on `/graphql`).
const ACCOUNT_HEADER: &str = "remotepc-account";
/// Where the protected-resource metadata is served (RFC 9728 §3).
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The MCP endpoint's services. Cheap to clone.
#[derive(Clone)]
pub struct Mcp(Arc<Services>);

struct Services {
    admission: Admission,
    authenticator: Authenticator,
    catalog: crate::catalog::Catalog,
    settings: McpSettings,
    /// Tools made from the callers' trusted documents.
    documents: Option<documents::DocumentTools>,
    /// Issuers people sign in with, for the metadata.
    issuers: Vec<String>,
    /// Where the approval page signs people in (`mcp.sign_in_*`).
    sign_in: Option<page::SignIn>,
    /// Ends open tool-call streams at shutdown.
    shutdown: CancellationToken,
}

impl Mcp {
    /// The endpoint for `settings.mcp`, running tools through `admission`.
    pub fn new(
        admission: Admission,
        authenticator: Authenticator,
        catalog: crate::catalog::Catalog,
        settings: &Settings,
        shutdown: CancellationToken,
    ) -> Self {
        let issuers = (settings.auth.oidc.values())
            .map(|provider| provider.issuer.clone())
            .collect();
        let sign_in = page::SignIn::from_settings(settings);
        Self(Arc::new(Services {
            admission,
            authenticator,
            catalog,
            settings: settings.mcp.clone(),
            documents: documents::DocumentTools::new(),
            issuers,
            sign_in,
            shutdown,
        }))
    }

    /// `/mcp`, the metadata and the approval page, to merge into the
    /// gateway's router (which adds request ids, CORS and the body limit).
    pub fn router(&self) -> Router {
        let path = self.0.settings.path.clone();
        let mut config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            .with_cancellation_token(self.0.shutdown.child_token());
        // Every call is authenticated by its bearer token, which a page
        // rebinding a name to this host cannot send: hosts are checked
        // only when the public address is configured.
        config = match self.0.settings.public_url.as_deref().and_then(host_of) {
            Some(host) => config.with_allowed_hosts([host]),
            None => config.disable_allowed_hosts(),
        };
        let handler = handler::Handler::new(self.clone());
        let service = StreamableHttpService::new(
            move || Ok(handler.clone()),
            Arc::new(NeverSessionManager::default()),
            config,
        );
        let guarded = Router::new().route_service(&path, service).layer(
            axum::middleware::from_fn_with_state(self.clone(), require_bearer),
        );
        Router::new()
            .route(METADATA_PATH, get(metadata))
            .route(&format!("{METADATA_PATH}{path}"), get(metadata))
            .route("/approve/{id}", get(page::page))
            .route("/approve/signed-in", get(page::page))
            .route("/approve/sign-in", get(page::sign_in))
            .route("/approve/{id}/request", get(page::request))
            .route("/approve/{id}/decision", post(page::decide))
            .route("/approve/page.js", get(page::script))
            .merge(guarded)
            .with_state(self.clone())
    }

    /// Authenticates `headers` as `/graphql` does.
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Credential<'_>, Refusal> {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        let account = headers
            .get(ACCOUNT_HEADER)
            .and_then(|value| value.to_str().ok());
        let authenticator = &self.0.authenticator;
        authenticator
            .authenticate(authorization, account)
            .await
            .map_err(Refusal::of_authentication)
    }

    /// Where clients reach the gateway: `mcp.public_url`, else the
    /// request's own host (on plain HTTP only from loopback).
    fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.0.settings.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .filter(|host| host.bytes().all(|byte| byte.is_ascii_graphic()))
            .unwrap_or("localhost");
        let loopback = ["localhost", "127.", "[::1]"]
            .iter()
            .any(|start| host.starts_with(start));
        let scheme = if loopback { "http" } else { "https" };
        format!("{scheme}://{host}")
    }
}

fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| authority.to_owned())
}

/// A call without valid credentials is answered 401 before the SDK reads
/// it, with where to sign in (RFC 9728 §5.1), so that MCP clients can.
async fn require_bearer(
    axum::extract::State(mcp): axum::extract::State<Mcp>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let refused = match mcp.authenticate(request.headers()).await {
        Ok(credential) => {
            // The access line names the team or role, as on /graphql.
            crate::telemetry::access::note_team(&credential.caller().team);
            None
        }
        Err(refused) => Some(refused),
    };
    if let Some(refused) = refused {
        let status = refused.status();
        let mut response = json_answer(Err(refused));
        if status == StatusCode::UNAUTHORIZED {
            let metadata = format!(
                "{}{METADATA_PATH}{}",
                mcp.base_url(request.headers()),
                mcp.0.settings.path
            );
            let challenge = format!("Bearer resource_metadata=\"{metadata}\"");
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        return response;
    }
    next.run(request).await
}

/// OAuth 2.0 Protected Resource Metadata (RFC 9728): the resource and the
/// issuers whose tokens it accepts.
async fn metadata(
    axum::extract::State(mcp): axum::extract::State<Mcp>,
    headers: HeaderMap,
) -> Response {
    let base = mcp.base_url(&headers);
    let body = json!({
        "resource": format!("{base}{}", mcp.0.settings.path),
        "authorization_servers": mcp.0.issuers,
        "bearer_methods_supported": ["header"],
        "scopes_supported": crate::settings::SCOPES,
        "resource_name": "remotepc-gateway",
        "resource_documentation": format!("{base}/graphiql"),
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// `answer` as JSON no cache keeps (the approval page's answers): the
/// body, or the refusal (`{"errors": [...]}`, as `/graphql` words it) with
/// its status and headers.
fn json_answer(answer: Result<serde_json::Value, Refusal>) -> Response {
    let (status, body) = match &answer {
        Ok(body) => (StatusCode::OK, body.to_string()),
        Err(refused) => (refused.status(), refused.body()),
    };
    let content = [
        (header::CONTENT_TYPE, "application/json"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    let mut response = (status, content, body).into_response();
    if let Err(refused) = answer {
        for (name, value) in refused.answer_headers() {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
