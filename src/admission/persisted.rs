//! Automatic persisted queries (Apollo's protocol): a client sends a
//! query's SHA-256 in `extensions.persistedQuery`; the first time, with the
//! text, which is kept. Resolved to the query text before anything else
//! reads the request, so every limit and check sees the full text; a new
//! text is registered only once the request passed the batch bound and the
//! quota. Texts are kept per account: one account's callers cannot learn
//! which queries another's send. With replicas, a registered text is also
//! kept in Redis for a day, and a hash this replica does not know is looked
//! up there before the request is read, so a client registers each query
//! once for all replicas.

use std::sync::Arc;

use async_graphql::Request;
use std::time::Duration;

use moka::sync::Cache;

use axum::http::StatusCode;

use super::Refusal;
use crate::cluster::Cluster;
use crate::graphql::ErrorCode;

/// Why a persisted query could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PersistedError {
    /// The hash is unknown: the client should send the text with it. The
    /// message is the one Apollo clients look for.
    NotFound,
    /// The text does not hash to the hash sent.
    HashMismatch,
    /// Not `{ version: 1, sha256Hash }`.
    Malformed,
}

impl PersistedError {
    /// Apollo clients answer PersistedQueryNotFound by sending the text;
    /// they expect it as a GraphQL error in a 200. A malformed extension,
    /// or a text that does not match its hash, is a bad request (GraphQL
    /// over HTTP: 4xx, no `data`).
    pub(super) fn refusal(self) -> Refusal {
        let (status, code) = match self {
            PersistedError::NotFound => (StatusCode::OK, ErrorCode::PersistedQueryNotFound),
            _ => (StatusCode::BAD_REQUEST, ErrorCode::BadUserInput),
        };
        Refusal::new(status, code, self.message())
    }

    fn message(self) -> &'static str {
        match self {
            PersistedError::NotFound => "PersistedQueryNotFound",
            PersistedError::HashMismatch => "provided sha256Hash does not match the query",
            PersistedError::Malformed => {
                "extensions.persistedQuery must be { version: 1, sha256Hash }"
            }
        }
    }
}

/// Query texts by account and hash, bounded in total bytes.
#[derive(Clone)]
pub(super) struct PersistedQueries {
    texts: Cache<(String, String), Arc<str>>,
    /// Where replicas share texts, when configured.
    cluster: Option<Cluster>,
}

/// How long a text is kept in Redis for the other replicas.
const SHARED_FOR: Duration = Duration::from_secs(24 * 3600);

/// A text to keep once its request is accepted.
pub(super) struct Registration {
    key: (String, String),
    text: Arc<str>,
}

impl PersistedQueries {
    pub(super) fn new(max_bytes: u64, cluster: Option<Cluster>) -> Self {
        Self {
            cluster,
            texts: Cache::builder()
                .weigher(|(account, hash): &(String, String), text: &Arc<str>| {
                    (account.len() + hash.len() + text.len())
                        .try_into()
                        .unwrap_or(u32::MAX)
                })
                .max_capacity(max_bytes)
                .build(),
        }
    }

    /// Fills in `request.query` from its persisted-query hash in
    /// `account`; a request bringing its text with the hash gives the text
    /// to `register` once the request is accepted. Requests without the
    /// extension are left alone.
    pub(super) fn resolve(
        &self,
        account: &str,
        request: &mut Request,
    ) -> Result<Option<Registration>, PersistedError> {
        let Some(extension) = request.extensions.get("persistedQuery") else {
            return Ok(None);
        };
        let extension = extension
            .clone()
            .into_json()
            .map_err(|_| PersistedError::Malformed)?;
        let version = extension.get("version").and_then(serde_json::Value::as_u64);
        let hash = extension
            .get("sha256Hash")
            .and_then(serde_json::Value::as_str)
            .filter(|hash| hash.len() == 64 && hash.bytes().all(|byte| byte.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase);
        let (Some(1), Some(hash)) = (version, hash) else {
            return Err(PersistedError::Malformed);
        };
        let key = (account.to_owned(), hash);
        if request.query.is_empty() {
            let text = self.texts.get(&key).ok_or(PersistedError::NotFound)?;
            request.query = text.to_string();
            return Ok(None);
        }
        let actual = crate::digest::sha256_hex(request.query.as_bytes());
        if actual != key.1 {
            return Err(PersistedError::HashMismatch);
        }
        Ok(Some(Registration {
            key,
            text: Arc::from(request.query.as_str()),
        }))
    }

    /// Keeps a text `resolve` found new (and shares it with the other
    /// replicas, without waiting).
    pub(super) fn register(&self, registration: Registration) {
        if let Some(cluster) = &self.cluster {
            let cluster = cluster.clone();
            let (account, hash) = registration.key.clone();
            let text = Arc::clone(&registration.text);
            tokio::spawn(async move {
                cluster
                    .share_text(&["apq", &account, &hash], &text, SHARED_FOR)
                    .await;
            });
        }
        self.texts.insert(registration.key, registration.text);
    }

    /// With replicas: fetches from Redis the texts of the hash-only
    /// persisted queries among `requests` that this replica does not hold,
    /// so that `resolve` finds them.
    pub(super) async fn prefetch(&self, account: &str, requests: &[Request]) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let hashes: Vec<String> = requests
            .iter()
            .filter(|request| request.query.is_empty())
            .filter_map(hash_of)
            .collect();
        if hashes.is_empty() {
            return;
        }
        // Boxed so that every request's future does not carry its size.
        Box::pin(self.fetch_shared(cluster, account, hashes)).await;
    }

    async fn fetch_shared(&self, cluster: &Cluster, account: &str, hashes: Vec<String>) {
        for hash in hashes {
            let key = (account.to_owned(), hash);
            if self.texts.contains_key(&key) {
                continue;
            }
            let Some(text) = cluster.shared_text(&["apq", &key.0, &key.1]).await else {
                continue;
            };
            if crate::digest::sha256_hex(text.as_bytes()) == key.1 {
                self.texts.insert(key, Arc::from(text));
            }
        }
    }
}

/// The lower-case `sha256Hash` a request's persisted-query extension
/// names, when it is one.
fn hash_of(request: &Request) -> Option<String> {
    let async_graphql::Value::Object(extension) = request.extensions.get("persistedQuery")? else {
        return None;
    };
    match extension.get("sha256Hash")? {
        async_graphql::Value::String(hash)
            if hash.len() == 64 && hash.bytes().all(|byte| byte.is_ascii_hexdigit()) =>
        {
            Some(hash.to_ascii_lowercase())
        }
        _ => None,
    }
}
