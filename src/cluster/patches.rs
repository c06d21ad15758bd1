//! The patch channel: each write a replica applies to its snapshot is
//! published, and every other replica applies it too (or drops its copy
//! when the write's effect is unknown). A lost or renewed subscription may
//! have missed patches, so the listener is told to distrust everything.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::{Cluster, signing};

/// What a patch's signature is bound to.
pub(super) const PATCH_SCOPE: &str = "patch";

/// One write, as replicas tell each other.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PatchMessage {
    /// The replica that made it (which ignores its own).
    pub origin: String,
    /// The account whose snapshot the write changed.
    pub account: String,
    /// The collection's name (`devices`, `users`).
    pub collection: String,
    /// Keys of items gone.
    #[serde(default)]
    pub removed: Vec<String>,
    /// Items added or changed, as the collection serializes them.
    #[serde(default)]
    pub upserted: serde_json::Value,
    /// Drop the snapshot instead: the write's effect is unknown.
    #[serde(default)]
    pub drop: bool,
    /// The collection's write generation this write made, when known:
    /// the patch is then also kept in the patch log under it.
    #[serde(default)]
    pub generation: Option<i64>,
}

/// What the listener hears.
pub enum Patches {
    /// Another replica's write.
    Message(PatchMessage),
    /// The channel was (re)joined: patches may have been missed.
    Rejoined,
}

/// Pause before joining the channel again after losing it.
const REJOIN_AFTER: Duration = Duration::from_secs(1);

impl Cluster {
    /// Publishes a write this replica applied.
    pub async fn publish_patch(&self, mut message: PatchMessage) {
        message.origin = self.inner.replica.clone();
        let Ok(bytes) = serde_json::to_vec(&message) else {
            return;
        };
        if signing::oversized(PATCH_SCOPE, bytes.len(), signing::MAX_PATCH_BYTES) {
            return;
        }
        let text = self.inner.signer.sign(PATCH_SCOPE, &bytes);
        if let Some(generation) = message.generation {
            let scope = (message.account.as_str(), message.collection.as_str());
            self.log_patch(scope, generation, text.clone()).await;
        }
        let channel = self.key(&["patches"]);
        let sent = self
            .run(|mut redis| async move { redis.publish::<_, _, i64>(channel, text).await })
            .await;
        if sent.is_some() {
            crate::telemetry::record_cluster("patch_published");
        }
    }

    /// Hands every other replica's patch to `on`, rejoining the channel
    /// whenever it is lost, until the handle is aborted.
    pub fn listen_patches(&self, on: Arc<dyn Fn(Patches) + Send + Sync>) -> JoinHandle<()> {
        let cluster = self.clone();
        tokio::spawn(async move {
            loop {
                cluster.listen_once(&on).await;
                tokio::time::sleep(REJOIN_AFTER).await;
            }
        })
    }

    async fn listen_once(&self, on: &Arc<dyn Fn(Patches) + Send + Sync>) {
        let timeout = self.inner.settings.command_timeout * 4;
        let joined = tokio::time::timeout(timeout, async {
            let mut pubsub = self.inner.client.get_async_pubsub().await?;
            pubsub.subscribe(self.key(&["patches"])).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        let Ok(Ok(pubsub)) = joined else {
            self.set_healthy(false);
            return;
        };
        self.set_healthy(true);
        on(Patches::Rejoined);
        let mut messages = pubsub.into_on_message();
        while let Some(message) = messages.next().await {
            let Ok(signed) = message.get_payload::<Vec<u8>>() else {
                continue;
            };
            if signing::oversized(PATCH_SCOPE, signed.len(), signing::MAX_PATCH_BYTES + 64) {
                continue;
            }
            let Some(bytes) = self.inner.signer.open(PATCH_SCOPE, &signed) else {
                continue;
            };
            match serde_json::from_slice::<PatchMessage>(bytes) {
                Ok(patch) if patch.origin != self.inner.replica => {
                    crate::telemetry::record_cluster("patch_applied");
                    on(Patches::Message(patch));
                }
                Ok(_) => {}
                Err(error) => tracing::debug!(error = %error, "unreadable patch ignored"),
            }
        }
        tracing::warn!("the patch channel was lost; local snapshots are reloaded when it is back");
    }
}
