//! One door for every bearer token: a JWT (three base64url parts) goes to
//! the provider whose `iss` it claims, anything else to the teams. A team
//! token never has a JWT's shape, so the two cannot be mistaken.

use std::cell::Cell;
use std::sync::Arc;

use super::oidc::{KeyHealth, MAX_TOKEN_BYTES, Person, Provider};
use super::shared::{Fallback, Settlement};
use super::token_shape;
use super::{AuthError, Caller, QuotaRefusal, Team, Teams, bearer};
use crate::clock::Clock;
use crate::cluster::Cluster;
use crate::settings::Settings;

/// Who a request proved to be, and what is left of their quota.
pub struct Credential<'a> {
    who: Who<'a>,
    /// Units left after the last charge; the `viewer` query shows it.
    left: Cell<Option<u32>>,
    /// With replicas: the shared quota, and the units counted for it but
    /// not yet settled.
    shared: Option<&'a Cluster>,
    pending: Cell<u32>,
}

enum Who<'a> {
    Team(&'a Team),
    Person(Box<Person>),
}

impl<'a> Credential<'a> {
    /// The units counted since the last call, to take from the quota every
    /// replica shares; `None` without replicas (units were taken at once)
    /// or when none are due.
    pub fn settlement(&self) -> Option<Settlement> {
        let cluster = self.shared?;
        let units = self.pending.replace(0);
        if units == 0 {
            return None;
        }
        let quota = &self.caller().quota;
        let (key, fallback) = match &self.who {
            Who::Team(team) => (
                format!("team:{}", team.caller().team),
                Fallback::Team(team.local_quota()),
            ),
            Who::Person(person) => {
                let subject = person.caller.actor.subject.clone();
                let key = format!("person:{}:{subject}", person.role.label);
                (key, Fallback::Person(Arc::clone(&person.role), subject))
            }
        };
        Some(Settlement::new(
            cluster.clone(),
            key,
            quota,
            units,
            fallback,
        ))
    }

    /// Records what a settlement left of the quota.
    pub fn settled(&self, left: Option<u32>) {
        if left.is_some() {
            self.left.set(left);
        }
    }

    fn new(who: Who<'a>, shared: Option<&'a Cluster>) -> Self {
        Self {
            who,
            left: Cell::new(None),
            shared,
            pending: Cell::new(0),
        }
    }

    /// The identity the request acts under.
    pub fn caller(&self) -> &Caller {
        match &self.who {
            Who::Team(team) => team.caller(),
            Who::Person(person) => &person.caller,
        }
    }

    /// What is left of the caller's quota after this request, once
    /// charged.
    pub fn quota_left(&self) -> Option<u32> {
        self.left.get()
    }

    /// Whether it may query the schema.
    pub fn introspection(&self) -> bool {
        match &self.who {
            Who::Team(team) => team.introspection(),
            Who::Person(person) => person.introspection,
        }
    }

    /// How long the credential stays valid: a person's token until its
    /// `exp`; `None` for a team token, valid until the settings change.
    /// Long-lived streams end when it runs out.
    pub fn valid_for(&self) -> Option<std::time::Duration> {
        let Who::Person(person) = &self.who else {
            return None;
        };
        let left = person.expires_at? - chrono::Utc::now().timestamp();
        Some(std::time::Duration::from_secs(
            u64::try_from(left).unwrap_or(0),
        ))
    }

    /// Takes `units` from the team's quota, or from the person's own.
    /// With replicas, counts them for `settlement` instead, refusing at
    /// once only what can never fit (more than the burst).
    pub fn take_quota_units(&self, units: u32) -> Result<(), QuotaRefusal> {
        if self.shared.is_some() {
            let burst = self.caller().quota.burst;
            let pending = self.pending.get().saturating_add(units);
            if pending > burst {
                return Err(QuotaRefusal::TooLarge { burst });
            }
            self.pending.set(pending);
            return Ok(());
        }
        let left = match &self.who {
            Who::Team(team) => team.take_quota_units(units),
            Who::Person(person) => person.take_quota_units(units),
        }?;
        if left.is_some() {
            self.left.set(left);
        }
        Ok(())
    }
}

/// Teams and identity providers.
#[derive(Clone)]
pub struct Authenticator {
    teams: Teams,
    providers: Arc<Vec<Provider>>,
    /// Replicas' shared quotas, when configured.
    cluster: Option<Cluster>,
}

impl Authenticator {
    /// The teams and providers of `settings`; providers' keys are fetched
    /// by `refresh_keys`.
    /// With a `cluster`, quotas are shared by the replicas and each
    /// replica's own buckets hold 1/`cluster.replicas` for when Redis fails.
    pub fn new(settings: &Settings, clock: &Clock, cluster: Option<Cluster>) -> Self {
        let share = cluster.as_ref().map_or(1, Cluster::replicas);
        Self {
            cluster,
            teams: Teams::new(&settings.teams, share),
            providers: Arc::new(
                settings
                    .auth
                    .oidc
                    .iter()
                    .map(|(name, provider)| Provider::new(name, provider, clock.clone(), share))
                    .collect(),
            ),
        }
    }

    /// Who the `Authorization` header proves, acting on `account` when
    /// the caller asked for one (`RemotePC-Account`), else on their first
    /// account by name.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        account: Option<&str>,
    ) -> Result<Credential<'_>, AuthError> {
        let token = bearer(authorization)?;
        if !token_shape::looks_like_jwt(token) {
            let team = self.teams.authenticate(authorization)?;
            if let Some(asked) = account
                && asked != team.caller().account
            {
                return Err(AuthError::AccountNotGranted(asked.to_owned()));
            }
            return Ok(Credential::new(Who::Team(team), self.cluster.as_ref()));
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TooLarge);
        }
        let claims = token_shape::peek_claims(token).ok_or(AuthError::MalformedToken)?;
        let provider = self
            .providers
            .iter()
            .find(|provider| provider.issued(&claims))
            .ok_or(AuthError::MalformedToken)?;
        // Boxed: a key fetch is a large future, and every request's future
        // would carry its size (and copy it) while only JWTs wait on it.
        Box::pin(provider.authenticate(token, account))
            .await
            .map(|person| Credential::new(Who::Person(Box::new(person)), self.cluster.as_ref()))
    }

    /// Each provider's name and whether its keys are fresh.
    pub fn key_health(&self) -> Vec<(String, KeyHealth)> {
        self.providers
            .iter()
            .map(|provider| (provider.name().to_owned(), provider.health()))
            .collect()
    }

    /// Fetches every provider's keys now (at start), then every
    /// `jwks_refresh` in the background.
    pub async fn refresh_keys(&self) -> Option<tokio::task::JoinHandle<()>> {
        if self.providers.is_empty() {
            return None;
        }
        for provider in self.providers.iter() {
            provider.refresh().await;
        }
        let providers = Arc::clone(&self.providers);
        Some(tokio::spawn(async move {
            // Each provider on its own `jwks_refresh`, and, while its last
            // fetch failed, again every `jwks_min_refresh`: keys a provider
            // rotated during an outage replace the old set soon after it
            // is back, not at the next scheduled fetch.
            let step = providers
                .iter()
                .map(|provider| provider.refresh_interval().min(provider.retry_interval()))
                .min()
                .unwrap_or(std::time::Duration::from_secs(600));
            let mut last = vec![tokio::time::Instant::now(); providers.len()];
            let mut ticker = tokio::time::interval(step);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                for (provider, last) in providers.iter().zip(last.iter_mut()) {
                    let failing = matches!(provider.health(), KeyHealth::Stale(_));
                    let due = if failing {
                        provider.retry_interval()
                    } else {
                        provider.refresh_interval()
                    };
                    if last.elapsed() >= due {
                        *last = tokio::time::Instant::now();
                        provider.refresh().await;
                    }
                }
            }
        }))
    }
}
