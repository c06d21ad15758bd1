//! Observed changes of users and devices (RemotePC keeps no history): rows
//! appended in batches, read newest first by keyset, pruned by age and by
//! count.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, failed};

/// One observed change of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// The account whose collection changed (a configured account id).
    pub account: String,
    /// The collection's name (`Collection::as_str`).
    pub collection: &'static str,
    /// The item's key (host name, username).
    pub subject: String,
    /// `ADDED`, `STATUS_CHANGED`, …
    pub kind: &'static str,
    /// When it was observed, in ms since the Unix epoch.
    pub at_ms: i64,
    /// The value before (a status, a comment, a session time).
    pub from: Option<String>,
    /// The value after.
    pub to: Option<String>,
}

/// A row read back: `HistoryRow` with owned names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChange {
    /// The item's key.
    pub subject: String,
    /// The kind, as stored.
    pub kind: String,
    /// When it was observed, in ms since the Unix epoch.
    pub at_ms: i64,
    /// The value before.
    pub from: Option<String>,
    /// The value after.
    pub to: Option<String>,
}

/// Where a page of history starts: strictly after this row, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPosition {
    /// The row's time.
    pub at_ms: i64,
    /// The row's item key.
    pub subject: String,
    /// The row's kind.
    pub kind: String,
}

/// Which changes of one account's collection to read.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Only this item (exact key).
    pub subject: Option<String>,
    /// Only items whose key contains this, ignoring ASCII case.
    pub subject_contains: Option<String>,
    /// Only these kinds; empty: all.
    pub kinds: Vec<&'static str>,
    /// Only changes observed at or after this.
    pub since_ms: Option<i64>,
    /// Only rows after this one.
    pub after: Option<HistoryPosition>,
}

impl Store {
    /// Appends `rows` in one transaction. A row that states what the
    /// history already says last of its item (the same status, comment or
    /// session; added when last added) is a change another replica, or an
    /// earlier snapshot, recorded already, and is left out.
    pub async fn record_history(&self, rows: &[HistoryRow]) -> Result<(), StoreError> {
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(failed("recording history"))?;
        for row in rows {
            // Presence is one state told by two kinds.
            let (group_a, group_b) = match row.kind {
                "ADDED" | "REMOVED" => ("ADDED", "REMOVED"),
                kind => (kind, kind),
            };
            sqlx::query(
                "INSERT INTO live_events (account, collection, subject, kind, at_ms, from_value, to_value)
                 SELECT $1, $2, $3, $4, $5, $6, $7
                 WHERE NOT EXISTS (
                     SELECT 1 FROM live_events latest
                     WHERE latest.account = $1 AND latest.collection = $2 AND latest.subject = $3
                       AND latest.kind IN ($8, $9)
                       AND latest.at_ms = (SELECT MAX(other.at_ms) FROM live_events other
                           WHERE other.account = $1 AND other.collection = $2
                             AND other.subject = $3 AND other.kind IN ($8, $9))
                       AND latest.kind = $4
                       AND COALESCE(latest.to_value, '') = COALESCE($7, ''))
                 ON CONFLICT (account, collection, subject, kind, at_ms) DO NOTHING",
            )
            .bind(&row.account)
            .bind(row.collection)
            .bind(&row.subject)
            .bind(row.kind)
            .bind(row.at_ms)
            .bind(row.from.as_deref())
            .bind(row.to.as_deref())
            .bind(group_a)
            .bind(group_b)
            .execute(&mut *transaction)
            .await
            .map_err(failed("recording history"))?;
        }
        transaction
            .commit()
            .await
            .map_err(failed("recording history"))
    }

    /// Up to `limit` changes of `account`'s `collection` that `query`
    /// selects, newest first (ties by key, then kind).
    pub async fn history(
        &self,
        account: &str,
        collection: &str,
        query: &HistoryQuery,
        limit: usize,
    ) -> Result<Vec<StoredChange>, StoreError> {
        let mut sql = String::from(
            "SELECT subject, kind, at_ms, from_value, to_value FROM live_events
             WHERE account = $1 AND collection = $2",
        );
        let mut next = 3;
        let mut placeholder = |sql: &mut String, text: &str| {
            sql.push_str(&text.replace('?', &format!("${next}")));
            next += 1;
        };
        if query.subject.is_some() {
            placeholder(&mut sql, " AND subject = ?");
        }
        if query.subject_contains.is_some() {
            placeholder(&mut sql, " AND LOWER(subject) LIKE ? ESCAPE '\\'");
        }
        if query.since_ms.is_some() {
            placeholder(&mut sql, " AND at_ms >= ?");
        }
        if !query.kinds.is_empty() {
            sql.push_str(" AND kind IN (");
            for index in 0..query.kinds.len() {
                placeholder(&mut sql, if index == 0 { "?" } else { ", ?" });
            }
            sql.push(')');
        }
        if query.after.is_some() {
            let (a, b, c) = (next, next + 1, next + 2);
            sql.push_str(&format!(
                " AND (at_ms < ${a} OR (at_ms = ${a} AND (subject > ${b} OR (subject = ${b} AND kind > ${c}))))"
            ));
            next += 3;
        }
        sql.push_str(&format!(
            " ORDER BY at_ms DESC, subject, kind LIMIT ${next}"
        ));
        let mut statement = sqlx::query(&sql).bind(account).bind(collection);
        if let Some(subject) = &query.subject {
            statement = statement.bind(subject);
        }
        if let Some(needle) = &query.subject_contains {
            statement = statement.bind(like_pattern(needle));
        }
        if let Some(since) = query.since_ms {
            statement = statement.bind(since);
        }
        for kind in &query.kinds {
            statement = statement.bind(*kind);
        }
        if let Some(after) = &query.after {
            statement = statement
                .bind(after.at_ms)
                .bind(&after.subject)
                .bind(&after.kind);
        }
        let rows = statement
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(failed("reading history"))?;
        rows.iter().map(stored_change).collect()
    }

    /// The latest status change seen of each of `account`'s devices.
    pub async fn latest_status_changes(
        &self,
        account: &str,
    ) -> Result<Vec<StoredChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT subject, kind, at_ms, from_value, to_value FROM live_events latest
             WHERE account = $1 AND collection = 'devices' AND kind = 'STATUS_CHANGED'
             AND at_ms = (SELECT MAX(at_ms) FROM live_events other
                 WHERE other.account = latest.account AND other.collection = latest.collection
                 AND other.subject = latest.subject AND other.kind = latest.kind)",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await
        .map_err(failed("reading status history"))?;
        rows.iter().map(stored_change).collect()
    }

    /// Deletes changes observed before `cutoff_ms`, then the oldest past
    /// `max_rows`; returns how many went.
    pub async fn prune_history(&self, cutoff_ms: i64, max_rows: u64) -> Result<u64, StoreError> {
        let aged = sqlx::query("DELETE FROM live_events WHERE at_ms < $1")
            .bind(cutoff_ms)
            .execute(&self.pool)
            .await
            .map_err(failed("pruning history"))?
            .rows_affected();
        let over = sqlx::query(
            "DELETE FROM live_events WHERE at_ms <
             (SELECT at_ms FROM live_events ORDER BY at_ms DESC LIMIT 1 OFFSET $1)",
        )
        .bind(i64::try_from(max_rows.saturating_sub(1)).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await
        .map_err(failed("pruning history"))?
        .rows_affected();
        Ok(aged + over)
    }
}

/// `needle` as a case-insensitive `LIKE` pattern matching it anywhere.
fn like_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for character in needle.to_ascii_lowercase().chars() {
        if matches!(character, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('%');
    pattern
}

fn stored_change(row: &AnyRow) -> Result<StoredChange, StoreError> {
    let read = |source| StoreError::Database {
        operation: "reading history",
        source,
    };
    Ok(StoredChange {
        subject: row.try_get("subject").map_err(read)?,
        kind: row.try_get("kind").map_err(read)?,
        at_ms: row.try_get("at_ms").map_err(read)?,
        from: row.try_get("from_value").map_err(read)?,
        to: row.try_get("to_value").map_err(read)?,
    })
}
