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
    /// `redis://host:6379/0`, `rediss://` for TLS, with a user and
    /// password for Redis ACLs (`redis://user:password@host/0`); unset: no
    /// sharing.
    pub redis_url: Option<String>,
    /// A file holding the replicas' shared secret (at least 32 bytes):
    /// snapshots and patches are signed with it, so that no other Redis
    /// client can forge what replicas serve. Required with `redis_url`.
    pub secret_file: Option<std::path::PathBuf>,
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
            secret_file: None,
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
                "not a Redis URL (e.g. redis://127.0.0.1:6379/0, rediss://user:password@host:6380/0)",
            ));
        }
        if self.redis_url.is_some() && self.secret_file.is_none() {
            return Err(invalid(
                "cluster.secret_file",
                "required with cluster.redis_url: replicas sign the snapshots and patches they hand each other with it",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_and_acl_urls_are_accepted_and_the_secret_is_required() {
        let with = |url: &str, secret: bool| ClusterSettings {
            redis_url: Some(url.to_owned()),
            secret_file: secret.then(|| "/run/secrets/cluster-secret".into()),
            ..ClusterSettings::default()
        };
        for url in [
            "redis://127.0.0.1:6379/0",
            "rediss://redis.internal:6380/0",
            "rediss://gateway:s3cret@redis.internal:6380/0",
            "redis://:password@redis:6379/0",
        ] {
            assert_eq!(
                with(url, true).validate().err().map(|e| e.to_string()),
                None,
                "{url}"
            );
        }
        let missing = with("rediss://redis.internal:6380/0", false).validate();
        let message = missing
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(message.contains("cluster.secret_file"), "{message}");
        assert!(
            !message.contains("redis.internal"),
            "the URL is never echoed: {message}"
        );
    }
}
