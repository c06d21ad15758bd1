//! Idempotency keys: the first request with a key claims it; its response
//! is stored, and a repeat with the same key and request gets that response
//! without running again.

use sqlx::Row;

use super::{Store, StoreError, failed, now_ms};

/// A claim left without a response this long belonged to a request that
/// died (the process was killed); it may be claimed again.
const ABANDONED_AFTER_MS: i64 = 120_000;

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
}

impl Store {
    /// Claims `key` of `team` for the request hashed as `request_hash`.
    pub async fn claim_idempotency(
        &self,
        team: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<Claim, StoreError> {
        let now = now_ms();
        sqlx::query(
            "DELETE FROM idempotency_keys
             WHERE team = $1 AND idem_key = $2 AND (expires_ms < $3 OR (response IS NULL AND created_ms < $4))",
        )
        .bind(team)
        .bind(key)
        .bind(now)
        .bind(now - ABANDONED_AFTER_MS)
        .execute(&self.pool)
        .await
        .map_err(failed("expiring an idempotency key"))?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (team, idem_key, request_hash, response, created_ms, expires_ms)
             VALUES ($1, $2, $3, NULL, $4, $5)
             ON CONFLICT (team, idem_key) DO NOTHING",
        )
        .bind(team)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .bind(now.saturating_add(self.idempotency_ttl.as_millis() as i64))
        .execute(&self.pool)
        .await
        .map_err(failed("claiming an idempotency key"))?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::Claimed);
        }
        let row = sqlx::query(
            "SELECT request_hash, response FROM idempotency_keys WHERE team = $1 AND idem_key = $2",
        )
        .bind(team)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(failed("reading an idempotency key"))?;
        let Some(row) = row else {
            // Deleted between our insert and read by another replica's expiry.
            return Ok(Claim::InProgress);
        };
        let stored_hash: String = row
            .try_get("request_hash")
            .map_err(failed("reading an idempotency key"))?;
        let response: Option<String> = row
            .try_get("response")
            .map_err(failed("reading an idempotency key"))?;
        Ok(match response {
            _ if stored_hash != request_hash => Claim::Mismatch,
            None => Claim::InProgress,
            Some(response) => Claim::Replay(response),
        })
    }

    /// Stores the response of a claimed key.
    pub async fn complete_idempotency(
        &self,
        team: &str,
        key: &str,
        response: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE idempotency_keys SET response = $1 WHERE team = $2 AND idem_key = $3")
            .bind(response)
            .bind(team)
            .bind(key)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(failed("storing an idempotent response"))
    }

    /// Gives a claimed key back (nothing was sent upstream), so the same key
    /// may be used again once the request is fixed.
    pub async fn release_idempotency(&self, team: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE team = $1 AND idem_key = $2 AND response IS NULL",
        )
        .bind(team)
        .bind(key)
        .execute(&self.pool)
        .await
        .map(drop)
        .map_err(failed("releasing an idempotency key"))
    }
}
