//! `[mcp]`: the Model Context Protocol endpoint for assistants (off unless
//! enabled), the bound on each tool answer, and how long a person has to
//! approve a destructive change.

use std::time::Duration;

use serde::Deserialize;

use super::SettingsError;
use super::validate::invalid;

/// The MCP endpoint.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpSettings {
    /// Whether `/mcp` (and the protected-resource metadata) is served.
    pub enabled: bool,
    /// Where the endpoint is served.
    pub path: String,
    /// Largest tool answer, in estimated tokens (a token per 4 bytes of
    /// its JSON): lists are cut to fit, with the cursor to go on.
    pub max_result_tokens: usize,
    /// How long an approval request waits for the person.
    #[serde(with = "humantime_serde")]
    pub approval_ttl: Duration,
    /// Approval requests kept at once (pending or decided, until they
    /// expire); past it new ones are refused.
    pub max_pending_approvals: usize,
    /// Teams whose token may run destructive tools without a person's
    /// approval (service agents a person already stands behind). Empty:
    /// none.
    pub allow_unapproved_writes_for: Vec<String>,
    /// The identity provider (`[auth.oidc.<name>]`) the approval page
    /// signs people in with (authorization code with PKCE, in the
    /// browser); unset: the page asks for a token, as GraphiQL does.
    pub sign_in_provider: Option<String>,
    /// The approval page's client id at that provider: a public client
    /// whose redirect URI is `<public_url>/approve/signed-in` and whose
    /// tokens carry an audience the provider's `audiences` accept.
    pub sign_in_client_id: Option<String>,
    /// The scopes the page asks for.
    pub sign_in_scope: String,
    /// The address clients reach the gateway at (e.g.
    /// `https://gateway.example.com`), for approval links and the
    /// resource metadata; unset: taken from the request's `Host`.
    pub public_url: Option<String>,
}

impl Default for McpSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            path: "/mcp".to_owned(),
            max_result_tokens: 20_000,
            approval_ttl: Duration::from_secs(600),
            max_pending_approvals: 1000,
            allow_unapproved_writes_for: Vec::new(),
            sign_in_provider: None,
            sign_in_client_id: None,
            sign_in_scope: "openid profile".to_owned(),
            public_url: None,
        }
    }
}

impl McpSettings {
    pub(super) fn validate(
        &self,
        teams: &[&String],
        providers: &[&String],
    ) -> Result<(), SettingsError> {
        if !self.path.starts_with('/') || self.path.len() < 2 || self.path.contains(['?', '#']) {
            return Err(invalid(
                "mcp.path",
                "an absolute path other than `/`, e.g. /mcp",
            ));
        }
        if ["/graphql", "/approve", "/healthz", "/readyz", "/metrics"]
            .iter()
            .any(|taken| self.path == *taken || self.path.starts_with(&format!("{taken}/")))
        {
            return Err(invalid("mcp.path", "is a path the gateway already serves"));
        }
        if !(1_000..=1_000_000).contains(&self.max_result_tokens) {
            return Err(invalid("mcp.max_result_tokens", "between 1000 and 1000000"));
        }
        if self.approval_ttl < Duration::from_secs(10)
            || self.approval_ttl > Duration::from_secs(86_400)
        {
            return Err(invalid("mcp.approval_ttl", "between 10s and 24h"));
        }
        if !(1..=100_000).contains(&self.max_pending_approvals) {
            return Err(invalid("mcp.max_pending_approvals", "between 1 and 100000"));
        }
        if let Some(team) =
            (self.allow_unapproved_writes_for.iter()).find(|team| !teams.contains(team))
        {
            return Err(invalid(
                "mcp.allow_unapproved_writes_for",
                &format!("names `{team}`, which is not a configured team"),
            ));
        }
        match (&self.sign_in_provider, &self.sign_in_client_id) {
            (Some(provider), Some(_)) if !providers.contains(&provider) => {
                return Err(invalid(
                    "mcp.sign_in_provider",
                    &format!("names `{provider}`, which is not a configured [auth.oidc.<name>]"),
                ));
            }
            (Some(_), None) => {
                return Err(invalid(
                    "mcp.sign_in_client_id",
                    "is needed with mcp.sign_in_provider: the approval page's client id at the provider",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "mcp.sign_in_provider",
                    "is needed with mcp.sign_in_client_id",
                ));
            }
            _ => {}
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(invalid(
                "mcp.public_url",
                "an http(s) URL, e.g. https://gateway.example.com",
            ));
        }
        Ok(())
    }
}
