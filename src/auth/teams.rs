//! Teams: services and scripts calling with a bearer token, held only as
//! its SHA-256 and compared in constant time, each with its quota.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{
    Actor, ActorKind, AuthError, Caller, DirectQuota, QuotaRefusal, QuotaView, Scope, bearer,
    quota_answer,
};
use crate::settings::TeamSettings;

/// A configured team.
pub struct Team {
    caller: Caller,
    token_hash: [u8; 32],
    introspection: bool,
    quota: DirectQuota,
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
            .map(drop)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Takes `units` at once, or none: a request costing more than one unit
    /// (a batch, a write that makes several RemotePC calls) is refused whole.
    pub fn take_quota_units(&self, units: u32) -> Result<Option<u32>, QuotaRefusal> {
        let Some(units) = NonZeroU32::new(units) else {
            return Ok(None);
        };
        quota_answer(self.quota.check_n(units)).map(Some)
    }
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
                        actor: Actor {
                            kind: ActorKind::Team,
                            subject: name.clone(),
                            name: None,
                            issuer: None,
                            via: name.clone(),
                        },
                        account: team.account.clone(),
                        quota: QuotaView {
                            per_minute: per_minute.get(),
                            burst: burst.get(),
                            remaining: None,
                        },
                        scopes: team
                            .scopes
                            .iter()
                            .filter_map(|scope| Scope::parse(scope))
                            .collect(),
                    },
                    token_hash: decode_hash(&team.token_sha256),
                    introspection: team.introspection,
                    quota: RateLimiter::direct(Quota::per_minute(per_minute).allow_burst(burst))
                        .with_middleware(),
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
        let token = bearer(authorization)?;
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
