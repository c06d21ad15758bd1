//! The account's API key: where it comes from, a type that cannot leak it
//! through `Debug` or `Display`, and the store that swaps in a rotated key
//! without a restart.

use std::fmt;
use std::path::PathBuf;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU8, Ordering};

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::settings::AccountSettings;

/// An API key. Formatting it prints `[redacted]`.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Wraps a key, trimming the whitespace key files usually end with.
    pub fn new(key: &str) -> Self {
        Self(SecretString::from(key.trim().to_owned()))
    }

    /// Resolves an account's configured key source.
    pub fn from_account(account_id: &str, account: &AccountSettings) -> Result<Self, KeyError> {
        let key = if let Some(inline) = &account.api_key_inline {
            Self(inline.clone())
        } else if let Some(var) = &account.api_key_env {
            let value = std::env::var(var).map_err(|_| KeyError::MissingEnv {
                account: account_id.to_owned(),
                var: var.clone(),
            })?;
            Self::new(&value)
        } else if let Some(path) = &account.api_key_file {
            let value = std::fs::read_to_string(path).map_err(|source| KeyError::File {
                account: account_id.to_owned(),
                path: path.clone(),
                source,
            })?;
            Self::new(&value)
        } else {
            return Err(KeyError::NoSource {
                account: account_id.to_owned(),
            });
        };
        if key.0.expose_secret().is_empty() {
            return Err(KeyError::Empty {
                account: account_id.to_owned(),
            });
        }
        Ok(key)
    }

    /// The `Authorization` header value. The only place the key is exposed.
    pub(crate) fn bearer_header(&self) -> reqwest::header::HeaderValue {
        let mut value =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", self.0.expose_secret()))
                .unwrap_or_else(|_| {
                    reqwest::header::HeaderValue::from_static("Bearer invalid-key-characters")
                });
        value.set_sensitive(true);
        value
    }
}

/// What RemotePC last said about the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// No call has been answered yet.
    Unverified,
    /// The last answer accepted it.
    Accepted,
    /// The last answer was 401: the key was rotated or revoked.
    Rejected,
}

impl KeyStatus {
    /// Lower-case name, as readiness shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Unverified => "unverified",
            KeyStatus::Accepted => "accepted",
            KeyStatus::Rejected => "rejected",
        }
    }
}

/// An account's current key, ready to send, and where to re-read it from.
#[derive(Debug)]
pub(super) struct KeyStore {
    account: String,
    file: Option<PathBuf>,
    /// std `RwLock`: never held across `.await`. The header value is marked
    /// sensitive, so even its `Debug` does not show the key.
    header: RwLock<HeaderValue>,
    /// The file's last content, to tell a rotation from a re-read.
    loaded: RwLock<ApiKey>,
    status: AtomicU8,
}

impl KeyStore {
    pub(super) fn new(account_id: &str, account: &AccountSettings) -> Result<Self, KeyError> {
        let key = ApiKey::from_account(account_id, account)?;
        Ok(Self {
            account: account_id.to_owned(),
            file: account.api_key_file.clone(),
            header: RwLock::new(key.bearer_header()),
            loaded: RwLock::new(key),
            status: AtomicU8::new(KeyStatus::Unverified as u8),
        })
    }

    /// The `Authorization` header to send now.
    pub(super) fn header(&self) -> HeaderValue {
        self.header
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Re-reads the key file, if the key comes from one. `Ok(true)` when the
    /// key changed.
    pub(super) fn reload(&self) -> Result<bool, KeyError> {
        let Some(path) = &self.file else {
            return Ok(false);
        };
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::File {
            account: self.account.clone(),
            path: path.clone(),
            source,
        })?;
        let key = ApiKey::new(&text);
        if key.0.expose_secret().is_empty() {
            return Err(KeyError::Empty {
                account: self.account.clone(),
            });
        }
        let mut loaded = self
            .loaded
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if loaded.0.expose_secret() == key.0.expose_secret() {
            return Ok(false);
        }
        *self
            .header
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = key.bearer_header();
        *loaded = key;
        self.status
            .store(KeyStatus::Unverified as u8, Ordering::Relaxed);
        Ok(true)
    }

    pub(super) fn record(&self, status: KeyStatus) {
        self.status.store(status as u8, Ordering::Relaxed);
    }

    pub(super) fn status(&self) -> KeyStatus {
        match self.status.load(Ordering::Relaxed) {
            value if value == KeyStatus::Accepted as u8 => KeyStatus::Accepted,
            value if value == KeyStatus::Rejected as u8 => KeyStatus::Rejected,
            _ => KeyStatus::Unverified,
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why an account's key could not be read. Never contains the key.
#[expect(
    missing_docs,
    reason = "variant fields are named by what they hold; the #[error] message says how they read"
)]
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// `api_key_env` names a variable that is not set.
    #[error(
        "account `{account}`: environment variable `{var}` (accounts.{account}.api_key_env) is not set"
    )]
    MissingEnv { account: String, var: String },
    /// `api_key_file` cannot be read.
    #[error("account `{account}`: cannot read key file {path:?} (accounts.{account}.api_key_file)")]
    File {
        account: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The source holds only whitespace.
    #[error("account `{account}`: the API key is empty")]
    Empty { account: String },
    /// No source is configured.
    #[error(
        "account `{account}`: no API key source (set accounts.{account}.api_key_env or api_key_file)"
    )]
    NoSource { account: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_key() {
        let key = ApiKey::new("sk-live-123456\n");
        assert!(!format!("{key:?} {key}").contains("sk-live"));
        assert!(!format!("{:?}", key.bearer_header()).contains("sk-live"));
    }
}
