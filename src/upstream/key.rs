//! The account's API key: where it comes from, and a type that cannot leak it
//! through `Debug` or `Display`.

use std::fmt;
use std::path::PathBuf;

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
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// `api_key_env` names a variable that is not set.
    #[error(
        "account `{account}`: environment variable `{var}` (accounts.{account}.api_key_env) is not set"
    )]
    MissingEnv {
        /// Account id.
        account: String,
        /// Variable name.
        var: String,
    },
    /// `api_key_file` cannot be read.
    #[error("account `{account}`: cannot read key file {path:?} (accounts.{account}.api_key_file)")]
    File {
        /// Account id.
        account: String,
        /// File path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The source holds only whitespace.
    #[error("account `{account}`: the API key is empty")]
    Empty {
        /// Account id.
        account: String,
    },
    /// No source is configured.
    #[error(
        "account `{account}`: no API key source (set accounts.{account}.api_key_env or api_key_file)"
    )]
    NoSource {
        /// Account id.
        account: String,
    },
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
