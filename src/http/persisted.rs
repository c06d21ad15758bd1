//! Automatic persisted queries (Apollo's protocol): a client sends a
//! query's SHA-256 in `extensions.persistedQuery`; the first time, with the
//! text, which is kept. Resolved to the query text before anything else
//! reads the request, so every limit and check sees the full text; a new
//! text is registered only once the request passed the batch bound and the
//! quota. Texts are kept per account: one account's callers cannot learn
//! which queries another's send.

use std::sync::Arc;

use async_graphql::Request;
use moka::sync::Cache;
use sha2::{Digest, Sha256};

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
    pub(super) fn message(self) -> &'static str {
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
}

/// A text to keep once its request is accepted.
pub(super) struct Registration {
    key: (String, String),
    text: Arc<str>,
}

impl PersistedQueries {
    pub(super) fn new(max_bytes: u64) -> Self {
        Self {
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
        let actual: String = Sha256::digest(request.query.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        if actual != key.1 {
            return Err(PersistedError::HashMismatch);
        }
        Ok(Some(Registration {
            key,
            text: Arc::from(request.query.as_str()),
        }))
    }

    /// Keeps a text `resolve` found new.
    pub(super) fn register(&self, registration: Registration) {
        self.texts.insert(registration.key, registration.text);
    }
}
