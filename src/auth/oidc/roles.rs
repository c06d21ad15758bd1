//! What a provider's roles grant: the role built from its settings (scopes,
//! account, its own quota per person), and the claim values that pick a
//! person's roles.

use std::num::NonZeroU32;

use governor::RateLimiter;
use serde_json::Value;

use super::{MAX_REMEMBERED_SUBJECTS, Person, Role};
use crate::auth::{QuotaView, Scope};
use crate::settings::RoleSettings;

pub(super) fn role_of(provider: &str, value: &str, role: &RoleSettings, share: u32) -> Role {
    let per_minute = NonZeroU32::new(role.requests_per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(role.burst).unwrap_or(NonZeroU32::MIN);
    Role {
        label: format!("{provider}/{value}"),
        scopes: role
            .scopes
            .iter()
            .filter_map(|scope| Scope::parse(scope))
            .collect(),
        account: role.account.clone(),
        introspection: role.introspection,
        upstream_weight: role.upstream_weight.max(1),
        quota: RateLimiter::keyed(crate::auth::local_quota(per_minute, burst, share))
            .with_middleware(),
        limits: QuotaView {
            per_minute: per_minute.get(),
            burst: burst.get(),
            remaining: None,
        },
    }
}

/// The values of the claim at `path` (dots walk into objects): a string is
/// one value, an array its strings.
pub(super) fn claim_values(claims: &Value, path: &str) -> Vec<String> {
    let found = path.split('.').fold(claims, |value, part| &value[part]);
    match found {
        Value::String(value) => vec![value.clone()],
        Value::Array(values) => values
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

impl Person {
    /// Takes `units` from this person's own quota in their role.
    pub(in crate::auth) fn take_quota_units(
        &self,
        units: u32,
    ) -> Result<Option<u32>, crate::auth::QuotaRefusal> {
        let Some(units) = NonZeroU32::new(units) else {
            return Ok(None);
        };
        let quota = &self.role.quota;
        if quota.len() > MAX_REMEMBERED_SUBJECTS {
            quota.retain_recent();
        }
        crate::auth::quota_answer(quota.check_key_n(&self.caller.actor.subject, units)).map(Some)
    }
}
