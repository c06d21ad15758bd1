//! Idempotency keys: the first request with a key claims it; its response
//! is stored, and a repeat with the same key and request gets that response
//! without running again. A claim is never run a second time: one left
//! without a response (its process died) is answered as "outcome unknown".

use sqlx::Row;

use super::{Store, StoreError, failed, locked};

/// What a request with an idempotency key may do.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// First use: run the request, then store its response.
    Claimed,
    /// Already done: send this stored response.
    Replay(String),
    /// The key was used for a different request.
    Mismatch,
    /// A request with this key is running now.
    InProgress,
    /// A request with this key never finished, and its process is gone:
    /// the claim's lease ran out (`store.idempotency_claim_lease`), or it
    /// started longer ago than `store.idempotency_abandoned_after`. Its
    /// outcome is unknown. Store the answer with `complete_idempotency`.
    Abandoned,
}

impl Store {
    /// Claims `key` of `team` for the request hashed as `request_hash`.
    #[tracing::instrument(
        level = "debug",
        name = "store.write",
        skip_all,
        fields(table = "idempotency", step = "claim")
    )]
    pub async fn claim_idempotency(
        &self,
        team: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<Claim, StoreError> {
        let now = self.now_ms();
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE team = $1 AND idem_key = $2 AND expires_ms <= $3",
        )
        .bind(team)
        .bind(key)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(failed("expiring an idempotency key"))?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (team, idem_key, request_hash, response, created_ms, expires_ms, owner, lease_until_ms)
             VALUES ($1, $2, $3, NULL, $4, $5, $6, $7)
             ON CONFLICT (team, idem_key) DO NOTHING",
        )
        .bind(team)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .bind(now.saturating_add(millis(self.idempotency.ttl)))
        .bind(self.owner.as_ref())
        .bind(now.saturating_add(millis(self.idempotency.claim_lease)))
        .execute(&self.pool)
        .await
        .map_err(failed("claiming an idempotency key"))?;
        if inserted.rows_affected() == 1 {
            locked(&self.open_claims).insert((team.to_owned(), key.to_owned()));
            return Ok(Claim::Claimed);
        }
        self.existing_claim(team, key, request_hash, now).await
    }

    /// What the key's row says to a request that did not claim it.
    async fn existing_claim(
        &self,
        team: &str,
        key: &str,
        request_hash: &str,
        now: i64,
    ) -> Result<Claim, StoreError> {
        let read = || failed("reading an idempotency key");
        let row = sqlx::query(
            "SELECT request_hash, response, created_ms, lease_until_ms FROM idempotency_keys WHERE team = $1 AND idem_key = $2",
        )
        .bind(team)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(read())?;
        let Some(row) = row else {
            // Deleted between our insert and read by another replica's expiry.
            return Ok(Claim::InProgress);
        };
        let stored_hash: String = row.try_get("request_hash").map_err(read())?;
        let response: Option<String> = row.try_get("response").map_err(read())?;
        let created_ms: i64 = row.try_get("created_ms").map_err(read())?;
        let lease_until_ms: Option<i64> = row.try_get("lease_until_ms").map_err(read())?;
        // A lease that ran out: its process died (a live one renews it).
        let abandoned = lease_until_ms.is_some_and(|until| until < now)
            || created_ms <= now - millis(self.idempotency.abandoned_after);
        Ok(match response {
            _ if stored_hash != request_hash => Claim::Mismatch,
            Some(response) => Claim::Replay(response),
            None if abandoned => Claim::Abandoned,
            None => Claim::InProgress,
        })
    }

    /// Extends the lease of every open claim this process holds.
    pub(super) async fn renew_leases(&self) -> Result<(), StoreError> {
        let until = self
            .now_ms()
            .saturating_add(millis(self.idempotency.claim_lease));
        sqlx::query(
            "UPDATE idempotency_keys SET lease_until_ms = $1 WHERE owner = $2 AND response IS NULL",
        )
        .bind(until)
        .bind(self.owner.as_ref())
        .execute(&self.pool)
        .await
        .map(drop)
        .map_err(failed("renewing idempotency claims"))
    }

    /// Stores the response of a claimed key. A response whose outcome is
    /// unknown is kept for `store.idempotency_unknown_ttl` only: long
    /// enough that a retry loop cannot send the write twice, short enough
    /// that a client who checked RemotePC can try again under the same key.
    #[tracing::instrument(
        level = "debug",
        name = "store.write",
        skip_all,
        fields(table = "idempotency", step = "complete")
    )]
    pub async fn complete_idempotency(
        &self,
        team: &str,
        key: &str,
        response: &str,
        outcome_unknown: bool,
    ) -> Result<(), StoreError> {
        let keep = if outcome_unknown {
            self.idempotency.unknown_ttl
        } else {
            self.idempotency.ttl
        };
        let written = sqlx::query(
            "UPDATE idempotency_keys SET response = $1, expires_ms = $2 WHERE team = $3 AND idem_key = $4",
        )
        .bind(response)
        .bind(self.now_ms().saturating_add(millis(keep)))
        .bind(team)
        .bind(key)
        .execute(&self.pool)
        .await
        .map(drop)
        .map_err(failed("storing an idempotent response"));
        self.close_claim(team, key);
        written
    }

    /// Gives a claimed key back (nothing was sent upstream), so the same key
    /// may be used again once the request is fixed.
    pub async fn release_idempotency(&self, team: &str, key: &str) -> Result<(), StoreError> {
        let released = sqlx::query(
            "DELETE FROM idempotency_keys WHERE team = $1 AND idem_key = $2 AND response IS NULL",
        )
        .bind(team)
        .bind(key)
        .execute(&self.pool)
        .await
        .map(drop)
        .map_err(failed("releasing an idempotency key"));
        self.close_claim(team, key);
        released
    }

    /// Completes every key this process claimed and did not complete with
    /// `response`, an "outcome unknown" answer: the process is stopping
    /// before their requests finished.
    pub async fn abandon_open_claims(&self, response: &str) -> usize {
        let open: Vec<(String, String)> = locked(&self.open_claims).iter().cloned().collect();
        for (team, key) in &open {
            if let Err(error) = self.complete_idempotency(team, key, response, true).await {
                tracing::error!(error = %error, team, "unfinished idempotent write not recorded");
            }
        }
        open.len()
    }

    /// Deletes every expired key; returns how many.
    pub async fn sweep(&self) -> Result<u64, StoreError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE expires_ms <= $1")
            .bind(self.now_ms())
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(failed("sweeping idempotency keys"))
    }

    fn close_claim(&self, team: &str, key: &str) {
        locked(&self.open_claims).remove(&(team.to_owned(), key.to_owned()));
    }
}

fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
