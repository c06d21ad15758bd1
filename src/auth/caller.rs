//! Who a request is from, once authenticated: the team or person, the
//! account they act on, their scopes (and which role or team grants each),
//! their quota, and their weight in the fair share of RemotePC calls.

use std::sync::Arc;
use std::time::Duration;

use super::Scope;

/// The identity a GraphQL request acts under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The team's name, or `<provider>/<role>` for a person: the audit
    /// record's `team` and the metrics' label (bounded: never a person).
    pub team: String,
    /// The RemotePC account the team's requests go to.
    pub account: String,
    /// Every account the caller may choose to act on (a team has one; a
    /// person's roles may name several, one acted on per request).
    pub accounts: Arc<[String]>,
    /// What the team may do, on `account` only: a scope never crosses
    /// accounts.
    pub scopes: Vec<Scope>,
    /// Where `scopes` come from: the team itself, or each of the person's
    /// roles on `account`, in label order. A role restricted to its
    /// trusted documents grants its scopes to those documents alone.
    pub grants: Arc<[Grant]>,
    /// Scopes the caller's roles hold but withhold from the operation at
    /// hand: they run only their trusted documents, and it is none of them.
    pub withheld: Vec<Scope>,
    /// The team's or role's weight in the fair share of RemotePC calls.
    pub upstream_weight: u32,
    /// Who exactly: the person, or the team itself.
    pub actor: Actor,
    /// Their quota, and what was left of it after this request was charged.
    pub quota: QuotaView,
}

/// The scopes one team or role grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The team's name, or the role's `<provider>/<value>`: the key of its
    /// trusted documents.
    pub label: String,
    /// What it grants, on the caller's account.
    pub scopes: Vec<Scope>,
}

/// A quota as the `viewer` query shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuotaView {
    /// Requests per minute, on average.
    pub per_minute: u32,
    /// Requests at once after a quiet spell.
    pub burst: u32,
    /// Units left right after this request was charged; `None` before.
    pub remaining: Option<u32>,
}

impl QuotaView {
    /// How long until the whole burst is available again.
    pub fn full_in(&self) -> Duration {
        let spent = self
            .burst
            .saturating_sub(self.remaining.unwrap_or(self.burst));
        Duration::from_millis(60_000 / u64::from(self.per_minute.max(1)) * u64::from(spent))
    }
}

/// Whether a person or a team acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// A person signed in through an identity provider.
    Person,
    /// A team token (a service or a script).
    Team,
}

impl ActorKind {
    /// As stored and shown: `PERSON` or `TEAM`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Person => "PERSON",
            ActorKind::Team => "TEAM",
        }
    }
}

/// Who acted, as audit records name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Person or team.
    pub kind: ActorKind,
    /// The token's `sub`, or the team's name.
    pub subject: String,
    /// Display name or email, when the token has one.
    pub name: Option<String>,
    /// The provider's `iss`, for a person.
    pub issuer: Option<String>,
    /// The role (`<provider>/<value>`) or team it acted through; `mcp`
    /// for an assistant's tool call.
    pub via: String,
    /// The approval a person gave the assistant's write, when it runs
    /// under one.
    pub approval: Option<String>,
}

impl Caller {
    /// One bit per scope held: two callers with the same bits pass the
    /// same guards, so cached answers are keyed by them.
    pub fn scope_bits(&self) -> u8 {
        self.scopes
            .iter()
            .fold(0u8, |bits, scope| bits | 1 << (*scope as u8))
    }

    /// Who owns the idempotency keys the caller sends: the team, or the
    /// person (their role and `sub`), so that two people of one role never
    /// replay each other's answers.
    pub fn idempotency_owner(&self) -> String {
        match self.actor.kind {
            ActorKind::Team => self.team.clone(),
            ActorKind::Person => format!("{}#{}", self.team, self.actor.subject),
        }
    }

    /// Whether the caller holds `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// The caller, with `scopes` instead of its own when they were
    /// narrowed (see [`Caller::scopes_of`]).
    pub fn narrowed(&self, scopes: Option<Vec<Scope>>) -> Caller {
        let mut caller = self.clone();
        if let Some(scopes) = scopes {
            caller.withheld = (self.scopes.iter())
                .filter(|scope| !scopes.contains(scope))
                .copied()
                .collect();
            caller.scopes = scopes;
        }
        caller
    }

    /// The scopes `admitting` grants lend together: those of the grants
    /// whose trusted-documents policy admits the document at hand.
    pub fn scopes_of(admitting: &[&Grant]) -> Vec<Scope> {
        let mut scopes: Vec<Scope> = admitting
            .iter()
            .flat_map(|grant| grant.scopes.iter().copied())
            .collect();
        scopes.sort_by_key(|scope| scope.as_str());
        scopes.dedup();
        scopes
    }
}
