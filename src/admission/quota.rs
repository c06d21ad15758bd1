//! Quota as one charge: units are taken from the caller's local bucket as
//! admission counts them (all or none), and, with replicas, the units
//! counted are then taken from the quota the replicas share, whether or
//! not the request was admitted.

use crate::auth::{Caller, Credential, QuotaRefusal, Settlement};

use super::Refusal;

/// Takes `units` of the caller's quota, all or none.
pub(super) fn charge(credential: &Credential<'_>, units: u32) -> Result<(), Refusal> {
    credential
        .take_quota_units(units)
        .map_err(|refused| Refusal::over_quota(credential.caller(), refused))
}

/// Takes `units` from the caller's quota, locally and then from what the
/// replicas share: one charge. (A `&mut` so that the future stays `Send`:
/// a credential is used by one task at a time.)
pub async fn charge_all(credential: &mut Credential<'_>, units: u32) -> Result<(), Refusal> {
    let charged = charge(credential, units);
    let settled = settle(credential.settlement()).await;
    settled_as(credential, settled, charged)
}

/// What the shared quota said of the units counted (`None` without
/// replicas): the units left, or the refusal.
pub(super) type Settled = Option<Result<Option<u32>, QuotaRefusal>>;

/// Takes the units counted so far from the quota the replicas share.
pub(super) async fn settle(settlement: Option<Settlement>) -> Settled {
    Some(Box::pin(settlement?.settle()).await)
}

/// `admitted`, unless the shared quota refused the units it counted.
pub(super) fn settled_as<T>(
    credential: &Credential<'_>,
    settled: Settled,
    admitted: Result<T, Refusal>,
) -> Result<T, Refusal> {
    match settled {
        None => admitted,
        Some(Ok(left)) => {
            credential.settled(left);
            admitted
        }
        Some(Err(refused)) => admitted.and(Err(Refusal::over_quota(credential.caller(), refused))),
    }
}

/// The quota a stream's operation counted, still to be taken from what
/// the replicas share: a WebSocket connection admits while it reads, and
/// settles in the operation's task.
pub struct StreamQuota {
    settlement: Option<Settlement>,
    caller: Caller,
}

impl StreamQuota {
    pub(super) fn of(credential: &Credential<'_>) -> Self {
        Self {
            settlement: credential.settlement(),
            caller: credential.caller().clone(),
        }
    }

    /// Takes the units counted from the shared quota; refused when the
    /// replicas together say the caller is over it.
    pub async fn settle(self) -> Result<(), Refusal> {
        match settle(self.settlement).await {
            Some(Err(refused)) => Err(Refusal::over_quota(&self.caller, refused)),
            _ => Ok(()),
        }
    }
}

/// A refused stream's operation still spends what it was counted, settled
/// in the background so that the refusal is not held up.
pub(super) fn settle_refused(credential: &Credential<'_>) {
    if let Some(settlement) = credential.settlement() {
        tokio::spawn(settlement.settle());
    }
}
