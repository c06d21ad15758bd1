//! `[cluster]`: several replicas acting as one through Redis. Without
//! `redis_url`, one process keeps everything to itself, as before.

use std::time::Duration;

use serde::Deserialize;

use super::SettingsError;
use super::validate::invalid;

/// How replicas share snapshots, writes and limits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// `redis://host:6379/0`; unset: no sharing.
    pub redis_url: Option<String>,
    /// Replicas deployed. While Redis is unreachable each enforces
    /// 1/`replicas` of every shared limit, so together they stay within it.
    pub replicas: u32,
    /// A refresh lease lasts this long unless renewed; a replica that died
    /// holding one is replaced after it.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// Longest a replica waits for another's refresh before reading
    /// RemotePC itself.
    #[serde(with = "humantime_serde")]
    pub wait_for_refresh: Duration,
    /// Prefix of every Redis key and channel (several gateways may share
    /// one Redis).
    pub key_prefix: String,
    /// Time allowed for one Redis command; past it the replica falls back
    /// to local limits for this request.
    #[serde(with = "humantime_serde")]
    pub command_timeout: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            redis_url: None,
            replicas: 1,
            lease: Duration::from_secs(10),
            wait_for_refresh: Duration::from_secs(30),
            key_prefix: "remotepc-gateway".to_owned(),
            command_timeout: Duration::from_millis(250),
        }
    }
}

impl ClusterSettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        if let Some(url) = &self.redis_url
            && redis::Client::open(url.as_str()).is_err()
        {
            return Err(invalid(
                "cluster.redis_url",
                "not a Redis URL (e.g. redis://127.0.0.1:6379/0)",
            ));
        }
        if self.replicas == 0 {
            return Err(invalid("cluster.replicas", "must be at least 1"));
        }
        if self.lease < Duration::from_millis(100) {
            return Err(invalid("cluster.lease", "must be at least 100ms"));
        }
        if self.command_timeout.is_zero() {
            return Err(invalid("cluster.command_timeout", "must be longer than 0s"));
        }
        if self.key_prefix.is_empty() || self.key_prefix.contains(char::is_whitespace) {
            return Err(invalid("cluster.key_prefix", "must be a non-empty word"));
        }
        Ok(())
    }
}
