//! Who may call and what they reach: teams (token hash, scopes, account,
//! quota) and RemotePC accounts (base URL, key source, egress).

use std::net::IpAddr;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

/// RemotePC's own base URL, the default of `accounts.<id>.base_url`.
pub const VENDOR_BASE_URL: &str = "https://web1.remotepc.com/rpcnew/api/msp/";

/// Scopes a team may hold.
pub const SCOPES: [&str; 5] = [
    "read",
    "users:write",
    "computers:write",
    "groups:write",
    "audit:read",
];

/// One team: how it proves who it is, what it may do, and how much.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamSettings {
    /// SHA-256 of the team's bearer token, in hex (see
    /// `remotepc-gateway hash-token`); the token itself is never stored.
    pub token_sha256: String,
    /// What the team may do: `read`, `users:write`, `computers:write`,
    /// `groups:write`, `audit:read`.
    pub scopes: Vec<String>,
    /// The RemotePC account the team's requests act on.
    #[serde(default = "default_account")]
    pub account: String,
    /// Requests per minute the team may make, on average.
    #[serde(default = "default_requests_per_minute")]
    pub requests_per_minute: u32,
    /// Requests the team may make at once after a quiet spell.
    #[serde(default = "default_team_burst")]
    pub burst: u32,
    /// Whether the team may query the schema (`__schema`, `__type`).
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
    /// The team's weight in the fair share of RemotePC calls (see
    /// `docs/egress.md`).
    #[serde(default = "default_upstream_weight")]
    pub upstream_weight: u32,
}

pub(super) fn default_upstream_weight() -> u32 {
    1
}

pub(super) fn default_account() -> String {
    "default".to_owned()
}

fn default_requests_per_minute() -> u32 {
    600
}

fn default_team_burst() -> u32 {
    60
}

pub(super) fn default_true() -> bool {
    true
}

/// One RemotePC account: where it lives and where its key comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSettings {
    /// Base URL of the MSP API, ending in `/`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Name of an environment variable holding the API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Path of a file holding the API key.
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    /// A key given in code (demo, tests); never read from config files.
    #[serde(skip)]
    pub api_key_inline: Option<SecretString>,
    /// Local address outbound connections bind to (the whitelisted one).
    #[serde(default)]
    pub egress_address: Option<IpAddr>,
    /// HTTP(S) proxy every call goes through, e.g. `http://proxy:3128`.
    #[serde(default)]
    pub proxy: Option<String>,
    /// The IANA time zone RemotePC's local times are in (e.g.
    /// `Europe/Paris`); date-times are answered with its offset and dates
    /// without one are read in it.
    #[serde(default = "utc")]
    pub time_zone: chrono_tz::Tz,
}

fn utc() -> chrono_tz::Tz {
    chrono_tz::Tz::UTC
}

impl AccountSettings {
    /// An account whose key is given in code (the demo, tests).
    pub fn with_inline_key(base_url: &str, api_key: &str) -> Self {
        Self {
            base_url: base_url.to_owned(),
            api_key_env: None,
            api_key_file: None,
            api_key_inline: Some(SecretString::from(api_key.to_owned())),
            egress_address: None,
            proxy: None,
            time_zone: utc(),
        }
    }
}

fn default_base_url() -> String {
    VENDOR_BASE_URL.to_owned()
}
