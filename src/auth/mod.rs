//! Who is calling: team tokens (services, scripts) and people's JWTs from
//! identity providers (browser frontends), each with scopes, a RemotePC
//! account and a quota. Team tokens are held only as SHA-256 hashes and
//! compared in constant time; no token reaches a log or an error.

mod authenticator;
mod caller;
pub mod oidc;
mod shared;
mod teams;
mod token_shape;

pub use authenticator::{Authenticator, Credential};
pub use caller::{Actor, ActorKind, Caller, Grant, QuotaView};
pub use shared::Settlement;
pub use teams::{Team, Teams};

use std::fmt;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use rand::distr::{Alphanumeric, SampleString};

/// A permission a team may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Query users, devices and groups.
    Read,
    /// Invite, create and delete users.
    UsersWrite,
    /// Assign, unassign, remove and comment on computers.
    ComputersWrite,
    /// Create groups and move computers into them.
    GroupsWrite,
    /// Read the audit log.
    AuditRead,
}

impl Scope {
    /// The scope as written in settings, e.g. `users:write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::UsersWrite => "users:write",
            Scope::ComputersWrite => "computers:write",
            Scope::GroupsWrite => "groups:write",
            Scope::AuditRead => "audit:read",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [
            Scope::Read,
            Scope::UsersWrite,
            Scope::ComputersWrite,
            Scope::GroupsWrite,
            Scope::AuditRead,
        ]
        .into_iter()
        .find(|scope| scope.as_str() == text)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A team's quota: one bucket, reporting what is left after each take.
type DirectQuota = governor::RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    DefaultClock,
    governor::middleware::StateInformationMiddleware,
>;

/// A role's quotas: one bucket per person.
type KeyedQuota = governor::RateLimiter<
    String,
    governor::state::keyed::DefaultKeyedStateStore<String>,
    DefaultClock,
    governor::middleware::StateInformationMiddleware,
>;

/// A quota of `per_minute` and `burst`, of which this replica enforces
/// 1/`share` (at least one request a minute, burst one).
fn local_quota(
    per_minute: std::num::NonZeroU32,
    burst: std::num::NonZeroU32,
    share: u32,
) -> governor::Quota {
    let part = |value: std::num::NonZeroU32| {
        std::num::NonZeroU32::new(value.get() / share.max(1)).unwrap_or(std::num::NonZeroU32::MIN)
    };
    governor::Quota::per_minute(part(per_minute)).allow_burst(part(burst))
}

/// A governor answer as what is left, or a quota refusal.
fn quota_answer(
    answer: Result<
        Result<
            governor::middleware::StateSnapshot,
            governor::NotUntil<governor::clock::QuantaInstant>,
        >,
        governor::InsufficientCapacity,
    >,
) -> Result<u32, QuotaRefusal> {
    match answer {
        Ok(Ok(snapshot)) => Ok(snapshot.remaining_burst_capacity()),
        Ok(Err(not_until)) => Err(QuotaRefusal::Wait(
            not_until.wait_time_from(DefaultClock::default().now()),
        )),
        Err(governor::InsufficientCapacity(burst)) => Err(QuotaRefusal::TooLarge { burst }),
    }
}

/// Why a team's quota refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaRefusal {
    /// Spent for now: retry after this long.
    Wait(Duration),
    /// The request costs more units than the team's burst: it never fits.
    TooLarge {
        /// The team's burst.
        burst: u32,
    },
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    /// The header is not `Bearer <token>`.
    #[error("malformed Authorization header: expected `Bearer <token>`")]
    Malformed,
    /// No team has this token.
    #[error("invalid bearer token")]
    Unknown,
    /// A JWT longer than any real one.
    #[error("the bearer token is too large")]
    TooLarge,
    /// Shaped like a JWT but unreadable, or from no configured provider.
    #[error("the JWT is malformed or from an unknown issuer")]
    MalformedToken,
    /// Signed with an algorithm the provider is not configured for (never
    /// `none` or HMAC).
    #[error("the JWT's algorithm is not accepted")]
    Algorithm,
    /// Signed with a key the provider does not publish.
    #[error("the JWT is signed with an unknown key")]
    UnknownKey,
    /// The signature does not match.
    #[error("the JWT's signature is invalid")]
    BadSignature,
    /// Past `exp`.
    #[error("the JWT has expired")]
    Expired,
    /// Before `nbf`.
    #[error("the JWT is not valid yet")]
    NotYetValid,
    /// `aud` names none of the accepted audiences.
    #[error("the JWT is for another audience")]
    WrongAudience,
    /// `iss` is not the provider's.
    #[error("the JWT is from another issuer")]
    WrongIssuer,
    /// `exp`, `iss`, `aud` or `sub` is missing.
    #[error("the JWT lacks a required claim (exp, iss, aud, sub)")]
    MissingClaim,
    /// `sub` is empty or blank: it names no one, and people are told apart
    /// by it (quota, audit, idempotency keys).
    #[error("the JWT's `sub` claim is empty: it must name the person")]
    EmptySubject,
    /// The caller asked (`RemotePC-Account`) for an account none of their
    /// roles, or not their team, grants: 403.
    #[error(
        "you may not act on account `{0}`: send RemotePC-Account with one of the accounts viewer.accounts lists"
    )]
    AccountNotGranted(String),
    /// Signed in, but no claim value maps to a role: 403, not 401.
    #[error(
        "signed in, but none of your roles may use this gateway; ask for a role mapped under auth.oidc.<provider>.roles"
    )]
    NoRole,
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer(authorization: Option<&str>) -> Result<&str, AuthError> {
    let header = authorization.ok_or(AuthError::Missing)?;
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or(AuthError::Malformed)
}

/// The SHA-256 of `token`, in hex, as `teams.<name>.token_sha256` wants it.
pub fn hash_token(token: &str) -> String {
    crate::digest::sha256_hex(token.trim().as_bytes())
}

/// A new random token: 40 letters and digits.
pub fn generate_token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 40)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::settings::TeamSettings;

    fn teams() -> Teams {
        let team = |token: &str, scopes: &[&str]| TeamSettings {
            token_sha256: hash_token(token),
            scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
            account: "default".to_owned(),
            requests_per_minute: 60,
            burst: 2,
            introspection: true,
            trusted_documents: None,
            only_trusted_documents: false,
            upstream_weight: 1,
        };
        Teams::new(
            &BTreeMap::from([
                (
                    "ops".to_owned(),
                    team("ops-token", &["read", "computers:write"]),
                ),
                ("viewer".to_owned(), team("viewer-token", &["read"])),
            ]),
            1,
        )
    }

    #[test]
    fn tokens_map_to_their_team_and_scopes() {
        let teams = teams();
        let ops = teams.authenticate(Some("Bearer ops-token")).expect("known");
        assert_eq!(ops.caller().team, "ops");
        assert!(ops.caller().has(Scope::ComputersWrite));
        assert!(
            !teams
                .authenticate(Some("Bearer viewer-token"))
                .expect("known")
                .caller()
                .has(Scope::ComputersWrite)
        );
    }

    #[test]
    fn missing_malformed_and_unknown_tokens_are_told_apart() {
        let teams = teams();
        assert_eq!(teams.authenticate(None).err(), Some(AuthError::Missing));
        assert_eq!(
            teams.authenticate(Some("Basic abc")).err(),
            Some(AuthError::Malformed)
        );
        assert_eq!(
            teams.authenticate(Some("Bearer ")).err(),
            Some(AuthError::Malformed)
        );
        assert_eq!(
            teams.authenticate(Some("Bearer nope")).err(),
            Some(AuthError::Unknown)
        );
    }

    #[test]
    fn quota_refuses_past_the_burst_with_a_wait() {
        let teams = teams();
        let viewer = teams
            .authenticate(Some("Bearer viewer-token"))
            .expect("known");
        assert!(viewer.take_quota().is_ok());
        assert!(viewer.take_quota().is_ok());
        let wait = viewer.take_quota().expect_err("over quota");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
    }

    #[test]
    fn hash_matches_sha256() {
        assert_eq!(
            hash_token("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
    }
}
