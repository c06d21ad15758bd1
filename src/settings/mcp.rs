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
            public_url: None,
        }
    }
}

impl McpSettings {
    pub(super) fn validate(&self, teams: &[&String]) -> Result<(), SettingsError> {
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
