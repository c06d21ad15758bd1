//! Typed settings, layered: built-in defaults → optional file → `GATEWAY__…`
//! environment variables. Owns validation of rules that span fields; never
//! reads secrets itself (the upstream layer resolves key sources).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

mod access;
mod cluster;
mod guessable;
mod live;
mod mcp;
mod oidc;
mod otel;
mod server;
mod upstream;
mod validate;

pub use access::{AccountSettings, SCOPES, TeamSettings, VENDOR_BASE_URL};
pub use cluster::ClusterSettings;
pub use live::LiveSettings;
pub use mcp::McpSettings;
pub use oidc::{
    ASYMMETRIC_ALGORITHMS, AuthSettings, OidcSettings, RoleSettings, secure_or_loopback,
};
pub use otel::OtelSettings;
pub use server::ServerSettings;
pub use upstream::UpstreamSettings;

/// Everything the gateway can be configured with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where and how the HTTP server listens.
    pub server: ServerSettings,
    /// Limits on GraphQL documents and pages.
    pub graphql: GraphqlSettings,
    /// How every account's upstream client behaves.
    pub upstream: UpstreamSettings,
    /// How long collection snapshots are trusted.
    pub cache: CacheSettings,
    /// RemotePC accounts by id; a config with one account named `default` is
    /// the common case.
    pub accounts: BTreeMap<String, AccountSettings>,
    /// Teams that may call the gateway, by name.
    pub teams: BTreeMap<String, TeamSettings>,
    /// People signing in through identity providers (JWTs).
    pub auth: AuthSettings,
    /// The durable store: audit log, idempotency keys, known groups.
    pub store: StoreSettings,
    /// Subscriptions and device history.
    pub live: LiveSettings,
    /// Replicas sharing snapshots, writes and limits through Redis.
    pub cluster: ClusterSettings,
    /// Log output.
    pub log: LogSettings,
    /// OpenTelemetry trace export.
    pub otel: OtelSettings,
    /// The Model Context Protocol endpoint for assistants.
    pub mcp: McpSettings,
    /// Sample data used by `--demo`.
    pub demo: DemoSettings,
}

/// Limits on GraphQL operations.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphqlSettings {
    /// Deepest bracket nesting (`{`, `[`, `(`) accepted in a document, checked
    /// before parsing because the parser recurses once per level.
    pub max_document_nesting: usize,
    /// Deepest selection set, not counting fields inside `__schema` and
    /// `__type`.
    pub max_depth: usize,
    /// Deepest selection set inside `__schema`/`__type` (the standard
    /// introspection query nests 13 levels).
    pub max_introspection_depth: usize,
    /// Largest complexity score of an operation.
    pub max_complexity: usize,
    /// Page size when a connection is queried without `first`/`last`.
    pub default_page_size: usize,
    /// Largest `first`/`last` accepted.
    pub max_page_size: usize,
    /// Most lexical tokens in a document, counted before parsing.
    pub max_tokens: usize,
    /// Most fields an operation selects once fragments are expanded;
    /// defeats fragments that each spread the next one twice.
    pub max_fields: usize,
    /// Most aliased fields in a document.
    pub max_aliases: usize,
    /// Most fields at the root of an operation.
    pub max_root_fields: usize,
    /// Most operations in one batched request.
    pub max_batch: usize,
    /// Bytes of query text kept for automatic persisted queries.
    pub persisted_queries_bytes: u64,
}

impl Default for GraphqlSettings {
    fn default() -> Self {
        Self {
            max_document_nesting: 64,
            max_depth: 12,
            max_introspection_depth: 20,
            max_complexity: 20_000,
            default_page_size: 50,
            max_page_size: 500,
            max_tokens: 10_000,
            max_fields: 2_000,
            max_aliases: 50,
            max_root_fields: 20,
            max_batch: 10,
            persisted_queries_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Where durable state lives.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `sqlite://PATH?mode=rwc` (embedded, the default) or
    /// `postgres://USER@HOST/DB` (several replicas sharing state).
    pub url: String,
    /// Connections kept to the database.
    pub max_connections: u32,
    /// How long a response is kept for replay under its idempotency key.
    #[serde(with = "humantime_serde")]
    pub idempotency_ttl: Duration,
    /// How long an "outcome unknown" answer is replayed under its key;
    /// after that the key may be used again.
    #[serde(with = "humantime_serde")]
    pub idempotency_unknown_ttl: Duration,
    /// A claimed key with no response after this long belonged to a process
    /// that died: a retry is answered "outcome unknown", never run again.
    #[serde(with = "humantime_serde")]
    pub idempotency_abandoned_after: Duration,
    /// A claim's lease: the claiming process renews it every third of
    /// this while its request runs, so a claim whose lease ran out belongs
    /// to a process that died, and is answered "outcome unknown" at once.
    #[serde(with = "humantime_serde")]
    pub idempotency_claim_lease: Duration,
    /// How often expired idempotency keys are deleted.
    #[serde(with = "humantime_serde")]
    pub sweep_interval: Duration,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://remotepc-gateway.db?mode=rwc".to_owned(),
            max_connections: 8,
            idempotency_ttl: Duration::from_secs(24 * 3600),
            idempotency_unknown_ttl: Duration::from_secs(300),
            idempotency_abandoned_after: Duration::from_secs(600),
            idempotency_claim_lease: Duration::from_secs(15),
            sweep_interval: Duration::from_secs(60),
        }
    }
}

/// Freshness of collection snapshots.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// A snapshot younger than this is served without asking RemotePC.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// How long past `ttl` a snapshot is still served, while one background
    /// refresh runs and while RemotePC fails.
    #[serde(with = "humantime_serde")]
    pub max_stale: Duration,
    /// Forced refreshes (`refresh: true`) of one account's collection are at
    /// least this far apart; also the pause after a failed refresh.
    #[serde(with = "humantime_serde")]
    pub min_refresh_interval: Duration,
    /// Bytes of query responses kept for repeated identical queries; 0
    /// turns the response cache off, and compiled plans with it.
    pub response_cache_bytes: u64,
    /// Bytes of compiled plans kept (documents and plans weighed).
    pub plan_cache_bytes: u64,
}

impl CacheSettings {
    /// Of `response_cache_bytes`, the part that holds responses; the rest
    /// (an eighth) holds the raw-request lane's keys: request bytes and
    /// who sent them.
    pub fn response_bytes(&self) -> u64 {
        self.response_cache_bytes - self.raw_lane_bytes()
    }

    /// Of `response_cache_bytes`, the part the raw-request lane's keys take.
    pub fn raw_lane_bytes(&self) -> u64 {
        self.response_cache_bytes / 8
    }
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(30),
            max_stale: Duration::from_secs(600),
            min_refresh_interval: Duration::from_secs(5),
            response_cache_bytes: 8 * 1024 * 1024,
            plan_cache_bytes: 4 * 1024 * 1024,
        }
    }
}

/// Log output settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A `tracing` filter such as `info,remotepc_gateway=debug`; `RUST_LOG`
    /// wins when set.
    pub filter: String,
    /// One `info` line per request (target `access`).
    pub access: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Json,
            filter: "info".to_owned(),
            access: true,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, coloured.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Sample data for `--demo`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoSettings {
    /// Users the demo simulator is seeded with.
    pub users: usize,
    /// Devices the demo simulator is seeded with.
    pub devices: usize,
    /// Latency the demo simulator adds to every call.
    #[serde(with = "humantime_serde")]
    pub latency: Duration,
    /// How often the demo's fleet changes by itself (computers going
    /// online and offline, comments edited, computers added and removed),
    /// so subscriptions show live events.
    #[serde(with = "humantime_serde")]
    pub churn_interval: Duration,
    /// Changes per churn.
    pub churn_changes: usize,
}

impl Default for DemoSettings {
    fn default() -> Self {
        Self {
            users: 200,
            devices: 1_000,
            latency: Duration::from_millis(20),
            churn_interval: Duration::from_secs(5),
            churn_changes: 3,
        }
    }
}

/// Why settings could not be used; each message names the key and the fix.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file or environment could not be read or did not fit the types.
    #[error("cannot load settings: {0}")]
    Load(#[from] config::ConfigError),
    /// A rule spanning several keys is broken.
    #[error("invalid setting `{key}`: {problem}")]
    Invalid {
        /// The dotted key at fault.
        key: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
}

impl Settings {
    /// Loads defaults, then `file` if given, then `GATEWAY__SECTION__KEY`
    /// environment variables, and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let settings = Self::layered(None, file)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Layers defaults, an embedded TOML text (the demo's), `file` and the
    /// environment, without validating: the caller may still add accounts.
    pub fn layered(embedded: Option<&str>, file: Option<&Path>) -> Result<Self, SettingsError> {
        let mut builder = config::Config::builder();
        if let Some(embedded) = embedded {
            builder =
                builder.add_source(config::File::from_str(embedded, config::FileFormat::Toml));
        }
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        let mut settings: Settings = builder
            .add_source(
                config::Environment::with_prefix("GATEWAY")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("server.cors_origins")
                    .with_list_parse_key("server.cors_allow_headers"),
            )
            .build()?
            .try_deserialize()?;
        settings.otel = settings
            .otel
            .with_standard_variables(|name| std::env::var(name).ok());
        Ok(settings)
    }
}

#[cfg(test)]
mod tests;
