//! Several replicas acting as one through Redis (`[cluster] redis_url`):
//! refresh leases and snapshot hand-off (`snapshots`), the patch channel
//! (`patches`), and GCRA limits shared by every replica (`limits`). Knows
//! nothing of RemotePC or GraphQL: it moves serialized values and counts.
//! Every command has a deadline; when Redis fails, callers fall back to
//! what one replica can do alone, and the cluster says so (`healthy`).
//! After a failed or slow command a local circuit opens (`circuit`): for
//! a back-off period every command falls back at once, then one command
//! probes Redis, so an outage costs requests nothing.

mod circuit;
mod demand;
mod limits;
mod patch_log;
mod patches;
mod signing;
mod snapshots;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use limits::{Limit, LimitAnswer};
pub use patches::{PatchMessage, Patches};
pub use snapshots::SharedSnapshot;

use crate::settings::ClusterSettings;

/// Redis, shared by the replicas. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    connection: ConnectionManager,
    /// Signs and checks what replicas hand each other.
    signer: signing::Signer,
    settings: ClusterSettings,
    /// This process, in leases and patches.
    replica: String,
    healthy: AtomicBool,
    /// Open after a failed command: commands fall back without waiting.
    circuit: circuit::Circuit,
    /// The last holder seen of each lease (`account/collection`), for
    /// `/readyz`. std `Mutex`: never held across `.await`.
    holders: Mutex<BTreeMap<String, String>>,
}

impl std::fmt::Debug for Cluster {
    /// The replica and its health; never the Redis URL (it may hold a
    /// password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("replica", &self.inner.replica)
            .field("healthy", &self.healthy())
            .finish_non_exhaustive()
    }
}

/// Why a cluster could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The Redis URL cannot be used.
    #[error("cannot use cluster.redis_url: {0}")]
    Redis(#[from] redis::RedisError),
    /// The shared secret cannot be read, or is too short.
    #[error("cluster.secret_file: {0}")]
    Secret(String),
}

impl Cluster {
    /// The cluster `settings` describe; `None` without `redis_url`. Connects
    /// lazily: a Redis down at start leaves the replica in fallback mode
    /// until it answers.
    pub fn new(settings: &ClusterSettings) -> Result<Option<Self>, ClusterError> {
        let Some(url) = &settings.redis_url else {
            return Ok(None);
        };
        let secret = read_secret(settings.secret_file.as_deref())?;
        let client = redis::Client::open(url.as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(settings.command_timeout))
            .set_connection_timeout(Some(settings.command_timeout * 4))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        let replica = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
        Ok(Some(Self {
            inner: Arc::new(Inner {
                client,
                connection,
                signer: signing::Signer::new(secret),
                settings: settings.clone(),
                replica,
                healthy: AtomicBool::new(true),
                circuit: circuit::Circuit::default(),
                holders: Mutex::default(),
            }),
        }))
    }

    /// This replica's id.
    pub fn replica(&self) -> &str {
        &self.inner.replica
    }

    /// Replicas deployed (`cluster.replicas`): in fallback each enforces
    /// 1/N of every shared limit.
    pub fn replicas(&self) -> u32 {
        self.inner.settings.replicas
    }

    /// Whether the last Redis command succeeded.
    pub fn healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Relaxed)
    }

    /// The last holder seen of each refresh lease, by `account/collection`.
    pub fn lease_holders(&self) -> BTreeMap<String, String> {
        self.inner
            .holders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Whether Redis answers a ping now.
    pub async fn ping(&self) -> bool {
        self.run(
            |mut redis| async move { redis::cmd("PING").query_async::<String>(&mut redis).await },
        )
        .await
        .is_some()
    }

    /// Keeps `text` under `key` for every replica, for `keep`.
    pub async fn share_text(&self, key: &[&str], text: &str, keep: Duration) {
        let key = self.key(key);
        let text = text.to_owned();
        let seconds = keep.as_secs().max(1);
        self.run(|mut redis| async move { redis.set_ex::<_, _, ()>(key, text, seconds).await })
            .await;
    }

    /// The text another replica shared under `key`.
    pub async fn shared_text(&self, key: &[&str]) -> Option<String> {
        let key = self.key(key);
        self.run(|mut redis| async move { redis.get::<_, Option<String>>(key).await })
            .await
            .flatten()
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut key = self.inner.settings.key_prefix.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    /// Runs one command within `cluster.command_timeout`; `None` (and the
    /// cluster marked unhealthy) when Redis fails or is slow, and at once
    /// while the circuit is open after such a failure.
    async fn run<T, F, Fut>(&self, command: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let pass = self.inner.circuit.pass()?;
        let answer = tokio::time::timeout(
            self.inner.settings.command_timeout,
            command(self.inner.connection.clone()),
        )
        .await;
        let value = match answer {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                tracing::debug!(error = %error, "redis command failed");
                None
            }
            Err(_) => None,
        };
        pass.went(value.is_some());
        self.set_healthy(value.is_some());
        value
    }

    fn set_healthy(&self, healthy: bool) {
        let was = self.inner.healthy.swap(healthy, Ordering::Relaxed);
        if was != healthy {
            if healthy {
                tracing::info!("redis answers again: shared snapshots and limits resume");
            } else {
                tracing::warn!(
                    "redis is unreachable: each replica enforces 1/cluster.replicas of every limit and reads RemotePC itself"
                );
            }
            crate::telemetry::record_cluster_fallback(!healthy);
        }
    }
}

/// The replicas' shared secret: the file's bytes, surrounding whitespace
/// trimmed, at least `signing::MIN_SECRET_BYTES` of them.
fn read_secret(path: Option<&std::path::Path>) -> Result<Vec<u8>, ClusterError> {
    let path = path.ok_or_else(|| {
        ClusterError::Secret(
            "required with cluster.redis_url: replicas sign what they hand each other with it"
                .to_owned(),
        )
    })?;
    let bytes = std::fs::read(path).map_err(|error| {
        ClusterError::Secret(format!("cannot read {}: {error}", path.display()))
    })?;
    let secret = bytes.trim_ascii().to_vec();
    if secret.len() < signing::MIN_SECRET_BYTES {
        return Err(ClusterError::Secret(format!(
            "{} holds {} bytes; use at least {} random ones (e.g. `openssl rand -hex 32`)",
            path.display(),
            secret.len(),
            signing::MIN_SECRET_BYTES
        )));
    }
    Ok(secret)
}
