//! Quotas shared by replicas: with a cluster, a request's units are
//! counted while it is admitted and then settled in one GCRA call in
//! Redis, so a team (or a person) has one quota however many replicas
//! serve it. If Redis does not answer, the replica's own bucket decides,
//! holding 1/`cluster.replicas` of the quota, so together the replicas
//! still stay within it.

use std::sync::Arc;
use std::time::Duration;

use super::oidc::Role;
use super::{DirectQuota, QuotaRefusal, QuotaView, quota_answer};
use crate::cluster::{Cluster, Limit, LimitAnswer};

/// Units to take from a shared quota, owned so a task may settle them.
pub struct Settlement {
    cluster: Cluster,
    key: String,
    limit: Limit,
    units: u32,
    fallback: Fallback,
}

/// The replica's own bucket for when Redis does not answer.
pub(super) enum Fallback {
    /// A team's.
    Team(Arc<DirectQuota>),
    /// A person's, in their role.
    Person(Arc<Role>, String),
}

impl Settlement {
    pub(super) fn new(
        cluster: Cluster,
        key: String,
        quota: &QuotaView,
        units: u32,
        fallback: Fallback,
    ) -> Self {
        let limit = Limit {
            per_period: quota.per_minute,
            period: Duration::from_secs(60),
            burst: quota.burst,
        };
        Self {
            cluster,
            key,
            limit,
            units,
            fallback,
        }
    }

    /// Takes the units from the shared quota (or, without Redis, from the
    /// replica's part of it); what is left, or the refusal.
    pub async fn settle(self) -> Result<Option<u32>, QuotaRefusal> {
        match self.cluster.take(&self.key, self.limit, self.units).await {
            Some(LimitAnswer::Allowed { remaining }) => Ok(Some(remaining)),
            Some(LimitAnswer::Denied { retry_after }) => Err(QuotaRefusal::Wait(retry_after)),
            None => self.locally(),
        }
    }

    fn locally(&self) -> Result<Option<u32>, QuotaRefusal> {
        let Some(units) = std::num::NonZeroU32::new(self.units) else {
            return Ok(None);
        };
        let answer = match &self.fallback {
            Fallback::Team(quota) => quota.check_n(units),
            Fallback::Person(role, subject) => role.quota.check_key_n(subject, units),
        };
        quota_answer(answer).map(Some)
    }
}
