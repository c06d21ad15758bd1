//! People signing in through OpenID Connect providers: their JWTs are
//! checked against the provider's published keys (signature, `iss`, `aud`,
//! `exp`, `nbf`, an asymmetric algorithm), and a claim maps them to roles.
//! Keys are fetched at start and in the background; an unknown `kid`
//! causes at most one extra fetch per `jwks_min_refresh`; while the
//! provider is unreachable the last good keys keep working.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::clock::Clock;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::token_shape::peek_part;
use super::{Actor, ActorKind, AuthError, Caller, Grant, KeyedQuota, QuotaView, Scope};
use crate::settings::{OidcSettings, secure_or_loopback};

/// Tokens longer than this are refused unread: real ID and access tokens
/// are a few kilobytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Discovery documents and key sets larger than this are refused.
const MAX_KEY_DOCUMENT_BYTES: usize = 1024 * 1024;

mod roles;

use roles::{claim_values, role_of};

/// People's quotas are remembered per subject; past this many, the ones
/// idle longest are forgotten (a forgotten person starts with a full
/// burst again).
const MAX_REMEMBERED_SUBJECTS: usize = 100_000;

/// What a claim value grants.
pub struct Role {
    /// `<provider>/<claim value>`: audit records' `via`, metrics' team label.
    pub(super) label: String,
    pub(super) scopes: Vec<Scope>,
    pub(super) account: String,
    pub(super) introspection: bool,
    pub(super) quota: KeyedQuota,
    pub(super) limits: QuotaView,
    pub(super) upstream_weight: u32,
}

/// A person, signed in, with the roles their token maps to.
pub struct Person {
    pub(super) caller: Caller,
    pub(super) introspection: bool,
    /// The role whose quota the person acts under: the first by name of
    /// their roles on the account they act on.
    pub(super) role: Arc<Role>,
    /// The token's `exp`, in seconds since the Unix epoch.
    pub(super) expires_at: Option<i64>,
}

/// Whether a provider's keys could be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyHealth {
    /// Never fetched yet.
    Unfetched,
    /// The last fetch worked.
    Fresh,
    /// The last fetch failed; the keys of an earlier one are used.
    Stale(String),
}

/// One configured provider.
pub struct Provider {
    name: String,
    settings: OidcSettings,
    algorithms: Vec<Algorithm>,
    keys: RwLock<Arc<JwkSet>>,
    /// The last fetch made because a token named an unknown `kid`: such
    /// fetches are at most one per `jwks_min_refresh`. Scheduled fetches
    /// (at start, every `jwks_refresh`) do not count, so a key published
    /// right after a deploy is fetched at once.
    last_unknown_kid_fetch: Mutex<Option<Instant>>,
    health: Mutex<KeyHealth>,
    roles: BTreeMap<String, Arc<Role>>,
    http: reqwest::Client,
    clock: Clock,
}

impl Provider {
    /// The provider `name` as `settings` describe it; keys are not fetched
    /// yet (`refresh`).
    pub fn new(name: &str, settings: &OidcSettings, clock: Clock, share: u32) -> Self {
        let roles = settings
            .roles
            .iter()
            .map(|(value, role)| (value.clone(), Arc::new(role_of(name, value, role, share))))
            .collect();
        Self {
            name: name.to_owned(),
            algorithms: settings
                .algorithms
                .iter()
                .filter_map(|algorithm| algorithm.parse().ok())
                .filter(|algorithm| {
                    !matches!(
                        algorithm,
                        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
                    )
                })
                .collect(),
            settings: settings.clone(),
            keys: RwLock::new(Arc::new(JwkSet { keys: Vec::new() })),
            last_unknown_kid_fetch: Mutex::new(None),
            health: Mutex::new(KeyHealth::Unfetched),
            roles,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            clock,
        }
    }

    /// The provider's name in settings.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `iss` its tokens carry.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// Whether its keys could be fetched last time.
    pub fn health(&self) -> KeyHealth {
        lock(&self.health).clone()
    }

    /// How often keys are fetched in the background.
    pub fn refresh_interval(&self) -> Duration {
        self.settings.jwks_refresh
    }

    /// How often a failing fetch is tried again in the background.
    pub fn retry_interval(&self) -> Duration {
        self.settings.jwks_min_refresh
    }

    /// Fetches the keys (through discovery unless `jwks_url` is set); on
    /// failure keeps the ones it had.
    pub async fn refresh(&self) {
        match self.fetch_keys().await {
            Ok(keys) => {
                *self
                    .keys
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(keys);
                *lock(&self.health) = KeyHealth::Fresh;
            }
            Err(problem) => {
                tracing::warn!(provider = %self.name, problem = %problem, "cannot fetch the identity provider's keys; keeping the last good ones");
                *lock(&self.health) = KeyHealth::Stale(problem);
            }
        }
    }

    async fn fetch_keys(&self) -> Result<JwkSet, String> {
        let jwks_url = match &self.settings.jwks_url {
            Some(url) => url.clone(),
            None => {
                let discovery = format!(
                    "{}/.well-known/openid-configuration",
                    self.settings.issuer.trim_end_matches('/')
                );
                let document: Value = self.get_json(&discovery).await?;
                let jwks_uri = document["jwks_uri"]
                    .as_str()
                    .ok_or("the discovery document has no jwks_uri")?;
                // Held to the rule configured URLs are: keys fetched in
                // the clear could be swapped on the way.
                if !secure_or_loopback(jwks_uri) {
                    return Err(format!(
                        "the discovery document's jwks_uri {jwks_uri} is not https:// (http:// only on loopback)"
                    ));
                }
                jwks_uri.to_owned()
            }
        };
        let keys: Value = self.get_json(&jwks_url).await?;
        serde_json::from_value(keys).map_err(|_| "the JWKS is not a key set".to_owned())
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", response.status().as_u16()));
        }
        // Read in chunks up to a bound: a key set is a few kilobytes, and a
        // provider (or whatever answers in its place) must not fill memory.
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?
        {
            if body.len() + chunk.len() > MAX_KEY_DOCUMENT_BYTES {
                return Err(format!(
                    "GET {url}: larger than {MAX_KEY_DOCUMENT_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|_| format!("GET {url}: not JSON"))
    }

    /// Whether this provider issued `token`, by its unverified `iss`.
    pub fn issued(&self, claims: &Value) -> bool {
        claims["iss"].as_str() == Some(self.settings.issuer.as_str())
    }

    /// The person `token` proves, acting on `account` (or their first
    /// account by name), or why not. An unknown `kid` fetches the keys
    /// again, at most once per `jwks_min_refresh`.
    pub async fn authenticate(
        &self,
        token: &str,
        account: Option<&str>,
    ) -> Result<Person, AuthError> {
        let named =
            peek_part(token, 0).and_then(|header| header["alg"].as_str().map(str::to_owned));
        let accepted = named
            .as_deref()
            .and_then(|name| name.parse::<Algorithm>().ok())
            .is_some_and(|algorithm| self.algorithms.contains(&algorithm));
        if !accepted {
            return Err(AuthError::Algorithm);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::MalformedToken)?;
        if !self.algorithms.contains(&header.alg) {
            return Err(AuthError::Algorithm);
        }
        let kid = header.kid.ok_or(AuthError::UnknownKey)?;
        let key = match self.key(&kid, header.alg) {
            Some(key) => key,
            None => {
                if self.claim_refetch() {
                    self.refresh().await;
                }
                self.key(&kid, header.alg).ok_or(AuthError::UnknownKey)?
            }
        };
        let claims = self.verify(token, &key, header.alg)?;
        self.person(&claims, account)
    }

    /// Whether an unknown `kid` may fetch the keys now; claimed under the
    /// lock, so concurrent requests with forged kids make one fetch.
    fn claim_refetch(&self) -> bool {
        let mut last = lock(&self.last_unknown_kid_fetch);
        let now = self.clock.now();
        let allowed =
            last.is_none_or(|last| now.duration_since(last) >= self.settings.jwks_min_refresh);
        if allowed {
            *last = Some(now);
        }
        allowed
    }

    fn key(&self, kid: &str, algorithm: Algorithm) -> Option<DecodingKey> {
        let keys = Arc::clone(
            &self
                .keys
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        let jwk = keys.find(kid)?;
        if let Some(own) = jwk.common.key_algorithm
            && format!("{own:?}") != format!("{algorithm:?}")
        {
            return None;
        }
        DecodingKey::from_jwk(jwk).ok()
    }

    fn verify(
        &self,
        token: &str,
        key: &DecodingKey,
        algorithm: Algorithm,
    ) -> Result<Value, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&self.settings.audiences);
        validation.leeway = self.settings.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Value>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidAudience => AuthError::WrongAudience,
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::MissingRequiredClaim(_) => AuthError::MissingClaim,
                _ => AuthError::BadSignature,
            })
    }

    /// The person of `claims` on one account: only the roles that name
    /// that account give scopes, quota, introspection and the trusted
    /// documents policy, so that no right crosses accounts.
    fn person(&self, claims: &Value, account: Option<&str>) -> Result<Person, AuthError> {
        let subject = claims["sub"].as_str().ok_or(AuthError::MissingClaim)?;
        if subject.trim().is_empty() {
            return Err(AuthError::EmptySubject);
        }
        let values = claim_values(claims, &self.settings.roles_claim);
        let roles: Vec<&Arc<Role>> = values
            .iter()
            .filter_map(|value| self.roles.get(value))
            .collect();
        let mut accounts: Vec<String> = roles.iter().map(|role| role.account.clone()).collect();
        accounts.sort();
        accounts.dedup();
        let account = match account {
            Some(asked) if accounts.iter().any(|granted| granted == asked) => asked,
            Some(asked) => return Err(AuthError::AccountNotGranted(asked.to_owned())),
            None => accounts.first().ok_or(AuthError::NoRole)?,
        };
        let roles: Vec<&Arc<Role>> = roles
            .into_iter()
            .filter(|role| role.account == account)
            .collect();
        let Some(first) = roles.iter().min_by(|a, b| a.label.cmp(&b.label)) else {
            return Err(AuthError::NoRole);
        };
        let mut scopes: Vec<Scope> = roles
            .iter()
            .flat_map(|role| role.scopes.iter().copied())
            .collect();
        scopes.sort_by_key(|scope| scope.as_str());
        scopes.dedup();
        let mut grants: Vec<Grant> = roles
            .iter()
            .map(|role| Grant {
                label: role.label.clone(),
                scopes: role.scopes.clone(),
            })
            .collect();
        grants.sort_by(|a, b| a.label.cmp(&b.label));
        let name = ["name", "preferred_username", "email"]
            .iter()
            .find_map(|claim| claims[*claim].as_str())
            .map(str::to_owned);
        Ok(Person {
            caller: Caller {
                team: first.label.clone(),
                account: first.account.clone(),
                accounts: accounts.into(),
                scopes,
                grants: grants.into(),
                withheld: Vec::new(),
                upstream_weight: first.upstream_weight,
                actor: Actor {
                    kind: ActorKind::Person,
                    subject: subject.to_owned(),
                    name,
                    issuer: Some(self.settings.issuer.clone()),
                    via: first.label.clone(),
                    approval: None,
                },
                quota: first.limits,
            },
            introspection: roles.iter().any(|role| role.introspection),
            role: Arc::clone(first),
            expires_at: claims["exp"].as_i64(),
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
