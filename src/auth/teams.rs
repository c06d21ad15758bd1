//! Teams: services and scripts calling with a bearer token, held only as
//! its SHA-256 and compared in constant time, each with its quota.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::RateLimiter;
use governor::clock::{Clock, DefaultClock};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{
    Actor, ActorKind, AuthError, Caller, DirectQuota, Grant, QuotaRefusal, QuotaView, Scope,
    bearer, quota_answer,
};
use crate::settings::TeamSettings;

/// A configured team.
pub struct Team {
    caller: Caller,
    token_hash: [u8; 32],
    introspection: bool,
    /// This replica's own bucket: the whole quota alone, 1/N of it as
    /// the fallback of replicas whose shared limiter is unreachable.
    quota: Arc<DirectQuota>,
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

    /// The local bucket, for a settlement that falls back to it.
    pub(super) fn local_quota(&self) -> Arc<DirectQuota> {
        Arc::clone(&self.quota)
    }
}

/// Every configured team.
#[derive(Clone)]
pub struct Teams {
    teams: Arc<Vec<Team>>,
}

impl Teams {
    /// Builds the teams of `settings` (validated by `Settings::validate`);
    /// each replica's own bucket holds 1/`share` of the quota.
    pub fn new(settings: &BTreeMap<String, TeamSettings>, share: u32) -> Self {
        let teams = settings
            .iter()
            .map(|(name, team)| {
                let per_minute =
                    NonZeroU32::new(team.requests_per_minute).unwrap_or(NonZeroU32::MIN);
                let burst = NonZeroU32::new(team.burst).unwrap_or(NonZeroU32::MIN);
                let scopes: Vec<Scope> = team
                    .scopes
                    .iter()
                    .filter_map(|scope| Scope::parse(scope))
                    .collect();
                let grant = Grant {
                    label: name.clone(),
                    scopes: scopes.clone(),
                };
                Team {
                    caller: Caller {
                        team: name.clone(),
                        actor: Actor {
                            kind: ActorKind::Team,
                            subject: name.clone(),
                            name: None,
                            issuer: None,
                            via: name.clone(),
                            approval: None,
                        },
                        account: team.account.clone(),
                        accounts: Arc::from([team.account.clone()]),
                        quota: QuotaView {
                            per_minute: per_minute.get(),
                            burst: burst.get(),
                            remaining: None,
                        },
                        scopes,
                        grants: Arc::from([grant]),
                        withheld: Vec::new(),
                        upstream_weight: team.upstream_weight.max(1),
                    },
                    token_hash: decode_hash(&team.token_sha256),
                    introspection: team.introspection,
                    quota: Arc::new(
                        RateLimiter::direct(super::local_quota(per_minute, burst, share))
                            .with_middleware(),
                    ),
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
