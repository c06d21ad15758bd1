//! What RemotePC cannot list, as far as this gateway made it: which users
//! computers were assigned to, and the invitations still pending. Rows are
//! removed when the gateway undoes them or observes them end (a computer
//! removed, a user deleted or appearing), and pruned by age.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, failed};

/// A pending invitation sent through this gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The email invited (lower case).
    pub email: String,
    /// When.
    pub invited_at: DateTime<Utc>,
    /// The team or role that sent it.
    pub invited_by: String,
}

impl Store {
    /// Records that `devices` were assigned to `username` (or unassigns
    /// them).
    pub async fn record_assignments(
        &self,
        account: &str,
        username: &str,
        devices: &[String],
        assigned: bool,
    ) -> Result<(), StoreError> {
        let username = username.to_ascii_lowercase();
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(failed("recording assignments"))?;
        for device in devices {
            let statement = if assigned {
                sqlx::query(
                    "INSERT INTO assignments (account, device, username, assigned_ms) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (account, device, username) DO NOTHING",
                )
                .bind(account)
                .bind(device)
                .bind(&username)
                .bind(self.now_ms())
            } else {
                sqlx::query(
                    "DELETE FROM assignments WHERE account = $1 AND device = $2 AND username = $3",
                )
                .bind(account)
                .bind(device)
                .bind(&username)
            };
            statement
                .execute(&mut *transaction)
                .await
                .map_err(failed("recording assignments"))?;
        }
        transaction
            .commit()
            .await
            .map_err(failed("recording assignments"))
    }

    /// Every assignment of `account` as `(device, username)`.
    pub async fn assignments(&self, account: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT device, username FROM assignments WHERE account = $1 ORDER BY device, username",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await
        .map_err(failed("listing assignments"))?;
        rows.iter()
            .map(|row| {
                let read = failed("listing assignments");
                let device = row
                    .try_get("device")
                    .map_err(failed("listing assignments"))?;
                Ok((device, row.try_get("username").map_err(read)?))
            })
            .collect()
    }

    /// Forgets what `usernames` were assigned and any invitation to them
    /// (they were deleted).
    pub async fn forget_users(
        &self,
        account: &str,
        usernames: &[String],
    ) -> Result<(), StoreError> {
        for username in usernames {
            let username = username.to_ascii_lowercase();
            for statement in [
                "DELETE FROM assignments WHERE account = $1 AND username = $2",
                "DELETE FROM invitations WHERE account = $1 AND email = $2",
            ] {
                sqlx::query(statement)
                    .bind(account)
                    .bind(&username)
                    .execute(&self.pool)
                    .await
                    .map_err(failed("forgetting a user"))?;
            }
        }
        Ok(())
    }

    /// Records invitations sent by `by`.
    pub async fn record_invitations(
        &self,
        account: &str,
        emails: &[String],
        by: &str,
    ) -> Result<(), StoreError> {
        for email in emails {
            sqlx::query(
                "INSERT INTO invitations (account, email, invited_ms, invited_by) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account, email) DO UPDATE SET invited_ms = excluded.invited_ms, invited_by = excluded.invited_by",
            )
            .bind(account)
            .bind(email.trim().to_ascii_lowercase())
            .bind(self.now_ms())
            .bind(by)
            .execute(&self.pool)
            .await
            .map_err(failed("recording an invitation"))?;
        }
        Ok(())
    }

    /// Forgets the invitations of users who joined.
    pub async fn forget_invitations(
        &self,
        account: &str,
        emails: &[String],
    ) -> Result<(), StoreError> {
        for email in emails {
            sqlx::query("DELETE FROM invitations WHERE account = $1 AND email = $2")
                .bind(account)
                .bind(email.to_ascii_lowercase())
                .execute(&self.pool)
                .await
                .map_err(failed("forgetting an invitation"))?;
        }
        Ok(())
    }

    /// The invitations of `account` still recorded, oldest first.
    pub async fn invitations(&self, account: &str) -> Result<Vec<Invitation>, StoreError> {
        let rows = sqlx::query("SELECT email, invited_ms, invited_by FROM invitations WHERE account = $1 ORDER BY invited_ms, email")
            .bind(account)
            .fetch_all(&self.pool)
            .await
            .map_err(failed("listing invitations"))?;
        rows.iter()
            .map(|row| {
                let at: i64 = row
                    .try_get("invited_ms")
                    .map_err(failed("listing invitations"))?;
                Ok(Invitation {
                    email: row
                        .try_get("email")
                        .map_err(failed("listing invitations"))?,
                    invited_at: DateTime::from_timestamp_millis(at).ok_or(StoreError::Corrupt {
                        what: "invitation time",
                    })?,
                    invited_by: row
                        .try_get("invited_by")
                        .map_err(failed("listing invitations"))?,
                })
            })
            .collect()
    }

    /// Deletes invitations sent before `cutoff_ms`; returns how many.
    pub async fn prune_invitations(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM invitations WHERE invited_ms < $1")
            .bind(cutoff_ms)
            .execute(&self.pool)
            .await
            .map_err(failed("pruning invitations"))?
            .rows_affected())
    }
}
