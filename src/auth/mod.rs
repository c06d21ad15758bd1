//! Who is calling: bearer tokens → teams, their scopes, their RemotePC
//! account and their quota. Tokens are held only as SHA-256 hashes and
//! compared in constant time; a token never reaches a log or an error.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::settings::TeamSettings;

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

    fn parse(text: &str) -> Option<Self> {
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

/// The identity a GraphQL request acts under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The team's name, as written in audit records and logs.
    pub team: String,
    /// The RemotePC account the team's requests go to.
    pub account: String,
    /// What the team may do.
    pub scopes: Vec<Scope>,
}

impl Caller {
    /// Whether the caller holds `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// A configured team.
pub struct Team {
    caller: Caller,
    token_hash: [u8; 32],
    introspection: bool,
    quota: DefaultDirectRateLimiter,
}

impl Team {
    /// The identity its requests act under.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// Whether it may query the schema.
    pub fn introspection(&self) -> bool {
        self.introspection
    }

    /// Takes one request from the team's quota; when it is spent, says how
    /// long until the next request is allowed. Never waits: a team over its
    /// quota must not hold up anyone.
    pub fn take_quota(&self) -> Result<(), Duration> {
        self.quota
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Takes `units` at once, or none: a request costing more than one unit
    /// (a batch, a write that makes several RemotePC calls) is refused whole.
    pub fn take_quota_units(&self, units: u32) -> Result<(), QuotaRefusal> {
        let Some(units) = NonZeroU32::new(units) else {
            return Ok(());
        };
        match self.quota.check_n(units) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(QuotaRefusal::Wait(
                not_until.wait_time_from(DefaultClock::default().now()),
            )),
            Err(governor::InsufficientCapacity(burst)) => Err(QuotaRefusal::TooLarge { burst }),
        }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
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
}

/// Every configured team.
#[derive(Clone)]
pub struct Teams {
    teams: Arc<Vec<Team>>,
}

impl Teams {
    /// Builds the teams of `settings` (validated by `Settings::validate`).
    pub fn new(settings: &BTreeMap<String, TeamSettings>) -> Self {
        let teams = settings
            .iter()
            .map(|(name, team)| {
                let per_minute =
                    NonZeroU32::new(team.requests_per_minute).unwrap_or(NonZeroU32::MIN);
                let burst = NonZeroU32::new(team.burst).unwrap_or(NonZeroU32::MIN);
                Team {
                    caller: Caller {
                        team: name.clone(),
                        account: team.account.clone(),
                        scopes: team
                            .scopes
                            .iter()
                            .filter_map(|scope| Scope::parse(scope))
                            .collect(),
                    },
                    token_hash: decode_hash(&team.token_sha256),
                    introspection: team.introspection,
                    quota: RateLimiter::direct(Quota::per_minute(per_minute).allow_burst(burst)),
                }
            })
            .collect();
        Self {
            teams: Arc::new(teams),
        }
    }

    /// The team whose token the `Authorization` header carries. Every team's
    /// hash is compared, in constant time, so timing tells nothing.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<&Team, AuthError> {
        let header = authorization.ok_or(AuthError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(AuthError::Malformed)?;
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for team in self.teams.iter() {
            if bool::from(team.token_hash.ct_eq(&presented)) {
                found = Some(team);
            }
        }
        found.ok_or(AuthError::Unknown)
    }
}

/// The SHA-256 of `token`, in hex, as `teams.<name>.token_sha256` wants it.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A new random token: 40 letters and digits.
pub fn generate_token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 40)
}

fn decode_hash(hex: &str) -> [u8; 32] {
    let mut hash = [0u8; 32];
    for (index, byte) in hash.iter_mut().enumerate() {
        *byte = hex
            .get(index * 2..index * 2 + 2)
            .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            .unwrap_or(0);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn teams() -> Teams {
        let team = |token: &str, scopes: &[&str]| TeamSettings {
            token_sha256: hash_token(token),
            scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
            account: "default".to_owned(),
            requests_per_minute: 60,
            burst: 2,
            introspection: true,
        };
        Teams::new(&BTreeMap::from([
            (
                "ops".to_owned(),
                team("ops-token", &["read", "computers:write"]),
            ),
            ("viewer".to_owned(), team("viewer-token", &["read"])),
        ]))
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
