//! `[auth.oidc.<name>]`: identity providers whose JWTs people's browsers
//! send, and how their claims map to roles (scopes, account, quota).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::access::{default_account, default_true};
use super::validate::invalid;
use super::{SCOPES, Settings, SettingsError};

/// Ways to authenticate besides team tokens.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// OpenID Connect providers by name.
    pub oidc: BTreeMap<String, OidcSettings>,
}

/// One OpenID Connect provider.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The `iss` its tokens carry, e.g. `https://login.example.com/realms/corp`.
    pub issuer: String,
    /// Accepted `aud` values; a token must name at least one.
    pub audiences: Vec<String>,
    /// Where its keys are; default: `jwks_uri` of the issuer's
    /// `/.well-known/openid-configuration`.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Accepted signing algorithms: RS256/384/512, PS256/384/512,
    /// ES256/384, EdDSA. `none` and HMAC are never accepted.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Clock difference tolerated on `exp` and `nbf`.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
    /// How often its keys are fetched again in the background.
    #[serde(default = "default_jwks_refresh", with = "humantime_serde")]
    pub jwks_refresh: Duration,
    /// At most one extra fetch per this interval when a token names an
    /// unknown key (`kid`), so forged kids cannot hammer the provider.
    #[serde(default = "default_jwks_min_refresh", with = "humantime_serde")]
    pub jwks_min_refresh: Duration,
    /// The claim holding the person's roles or groups (a dotted path for
    /// nested claims, e.g. `realm_access.roles`); a string or an array.
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// What each claim value grants; a person's roles add up.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleSettings>,
}

impl OidcSettings {
    /// A provider at `issuer` accepting `audiences`, every other setting
    /// at its default (as a config file leaving them out gets).
    pub fn new(issuer: &str, audiences: &[&str]) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audiences: audiences
                .iter()
                .map(|audience| (*audience).to_owned())
                .collect(),
            jwks_url: None,
            algorithms: default_algorithms(),
            leeway: default_leeway(),
            jwks_refresh: default_jwks_refresh(),
            jwks_min_refresh: default_jwks_min_refresh(),
            roles_claim: default_roles_claim(),
            roles: BTreeMap::new(),
        }
    }
}

/// What one claim value grants.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSettings {
    /// Scopes, as for teams.
    pub scopes: Vec<String>,
    /// The RemotePC account its people act on.
    #[serde(default = "default_account")]
    pub account: String,
    /// Requests per minute each person may make, on average.
    #[serde(default = "default_requests_per_minute")]
    pub requests_per_minute: u32,
    /// Requests each person may make at once after a quiet spell.
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// Whether its people may query the schema.
    #[serde(default = "default_true")]
    pub introspection: bool,
    /// A manifest of the operations its frontend was built with (GraphQL
    /// Codegen's `persisted-documents.json` or Apollo's persisted query
    /// manifest); its documents may be sent by id.
    #[serde(default)]
    pub trusted_documents: Option<std::path::PathBuf>,
    /// Run only the documents of `trusted_documents`; anything else is
    /// refused with `OPERATION_NOT_TRUSTED`.
    #[serde(default)]
    pub only_trusted_documents: bool,
    /// The role's weight in the fair share of RemotePC calls, shared
    /// equally by its people who call at the same time.
    #[serde(default = "super::access::default_upstream_weight")]
    pub upstream_weight: u32,
}

/// The algorithms a provider may be configured to sign with.
pub const ASYMMETRIC_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

fn default_algorithms() -> Vec<String> {
    ASYMMETRIC_ALGORITHMS
        .iter()
        .map(|name| (*name).to_owned())
        .collect()
}

fn default_leeway() -> Duration {
    Duration::from_secs(60)
}

fn default_jwks_refresh() -> Duration {
    Duration::from_secs(600)
}

fn default_jwks_min_refresh() -> Duration {
    Duration::from_secs(30)
}

fn default_roles_claim() -> String {
    "roles".to_owned()
}

fn default_requests_per_minute() -> u32 {
    120
}

fn default_burst() -> u32 {
    30
}

impl Settings {
    pub(super) fn validate_oidc(&self) -> Result<(), SettingsError> {
        for (name, provider) in &self.auth.oidc {
            let key = |field: &str| format!("auth.oidc.{name}.{field}");
            for (field, url) in std::iter::once(("issuer", Some(&provider.issuer)))
                .chain(std::iter::once(("jwks_url", provider.jwks_url.as_ref())))
            {
                if let Some(url) = url
                    && !secure_or_loopback(url)
                {
                    return Err(invalid(
                        &key(field),
                        "must be an https:// URL (http:// only on 127.0.0.1 or localhost, for tests)",
                    ));
                }
            }
            if provider.audiences.is_empty() {
                return Err(invalid(
                    &key("audiences"),
                    "name at least one accepted audience",
                ));
            }
            if let Some(bad) = provider
                .algorithms
                .iter()
                .find(|algorithm| !ASYMMETRIC_ALGORITHMS.contains(&algorithm.as_str()))
            {
                return Err(invalid(
                    &key("algorithms"),
                    &format!(
                        "`{bad}` is not accepted; use {} (never none or HMAC)",
                        ASYMMETRIC_ALGORITHMS.join(", ")
                    ),
                ));
            }
            for (value, role) in &provider.roles {
                self.validate_role(&key(&format!("roles.{value}")), role)?;
            }
        }
        Ok(())
    }

    fn validate_role(&self, key: &str, role: &RoleSettings) -> Result<(), SettingsError> {
        if let Some(unknown) = role
            .scopes
            .iter()
            .find(|scope| !SCOPES.contains(&scope.as_str()))
        {
            return Err(invalid(
                &format!("{key}.scopes"),
                &format!("unknown scope `{unknown}`; known: {}", SCOPES.join(", ")),
            ));
        }
        if !self.accounts.contains_key(&role.account) {
            return Err(invalid(
                &format!("{key}.account"),
                &format!(
                    "no account `{}` is configured under [accounts]",
                    role.account
                ),
            ));
        }
        if role.requests_per_minute == 0 || role.burst == 0 {
            return Err(invalid(
                &format!("{key}.requests_per_minute"),
                "requests_per_minute and burst must be at least 1",
            ));
        }
        Ok(())
    }
}

/// `https://…`, or `http://` to a loopback host: the rule for every
/// URL keys are fetched from, configured or found through discovery.
pub fn secure_or_loopback(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    url.strip_prefix("http://").is_some_and(|rest| {
        ["127.0.0.1", "localhost", "[::1]"].iter().any(|host| {
            rest.strip_prefix(host)
                .is_some_and(|after| after.is_empty() || after.starts_with([':', '/']))
        })
    })
}
