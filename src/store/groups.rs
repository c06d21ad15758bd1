//! Groups known to this gateway: RemotePC cannot list groups, so the
//! gateway remembers the ones it created or moved computers into.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, failed};

/// A group as this gateway knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownGroup {
    /// The group's name.
    pub name: String,
    /// When the gateway first created it or moved computers into it.
    pub first_seen: DateTime<Utc>,
    /// The team that did so.
    pub first_seen_by: String,
    /// Computers the gateway moved into it and has not seen leave, by name.
    pub members: Vec<String>,
}

impl Store {
    /// Records that `team` created `group`, or moved `members` into it.
    pub async fn record_group(
        &self,
        account: &str,
        group: &str,
        team: &str,
        members: &[String],
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(failed("recording a group"))?;
        sqlx::query(
            "INSERT INTO known_groups (account, name, created_ms, created_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account, name) DO NOTHING",
        )
        .bind(account)
        .bind(group)
        .bind(now)
        .bind(team)
        .execute(&mut *transaction)
        .await
        .map_err(failed("recording a group"))?;
        for device in members {
            sqlx::query(
                "INSERT INTO group_members (account, device, group_name, moved_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account, device) DO UPDATE SET group_name = excluded.group_name, moved_ms = excluded.moved_ms",
            )
            .bind(account)
            .bind(device)
            .bind(group)
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(failed("recording a group move"))?;
        }
        transaction
            .commit()
            .await
            .map_err(failed("recording a group"))
    }

    /// Forgets the group membership and assignments of removed computers.
    pub async fn forget_devices(
        &self,
        account: &str,
        devices: &[String],
    ) -> Result<(), StoreError> {
        for device in devices {
            for statement in [
                "DELETE FROM group_members WHERE account = $1 AND device = $2",
                "DELETE FROM assignments WHERE account = $1 AND device = $2",
            ] {
                sqlx::query(statement)
                    .bind(account)
                    .bind(device)
                    .execute(&self.pool)
                    .await
                    .map_err(failed("forgetting a removed computer"))?;
            }
        }
        Ok(())
    }

    /// Every group known for `account`, by name.
    pub async fn groups(&self, account: &str) -> Result<Vec<KnownGroup>, StoreError> {
        let groups = sqlx::query("SELECT name, created_ms, created_by FROM known_groups WHERE account = $1 ORDER BY name")
            .bind(account)
            .fetch_all(&self.pool)
            .await
            .map_err(failed("listing groups"))?;
        let members = sqlx::query(
            "SELECT group_name, device FROM group_members WHERE account = $1 ORDER BY device",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await
        .map_err(failed("listing group members"))?;
        groups
            .iter()
            .map(|row| {
                let name: String = row.try_get("name").map_err(failed("listing groups"))?;
                let created_ms: i64 = row
                    .try_get("created_ms")
                    .map_err(failed("listing groups"))?;
                let mut group_members = Vec::new();
                for member in &members {
                    let group: String = member
                        .try_get("group_name")
                        .map_err(failed("listing group members"))?;
                    if group == name {
                        group_members.push(
                            member
                                .try_get("device")
                                .map_err(failed("listing group members"))?,
                        );
                    }
                }
                Ok(KnownGroup {
                    first_seen: DateTime::from_timestamp_millis(created_ms)
                        .ok_or(StoreError::Corrupt { what: "group time" })?,
                    first_seen_by: row
                        .try_get("created_by")
                        .map_err(failed("listing groups"))?,
                    members: group_members,
                    name,
                })
            })
            .collect()
    }
}
