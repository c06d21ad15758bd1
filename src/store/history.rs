//! Observed changes of users and devices (RemotePC keeps no history),
//! as the change log wrote them: read by position, newest or oldest first,
//! and pruned by age and by count, moving the log's floor.

use super::change_log::{CHANGE_COLUMNS, GAP, StoredChange, stored_change};
use super::{Store, StoreError, failed};

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
    /// Only changes after this position (before it, newest first).
    pub after: Option<i64>,
    /// Oldest first, from `after` on; else newest first.
    pub oldest_first: bool,
}

impl Store {
    /// Up to `limit` changes of `account`'s `collection` that `query`
    /// selects, in log order.
    pub async fn history(
        &self,
        account: &str,
        collection: &str,
        query: &HistoryQuery,
        limit: usize,
    ) -> Result<Vec<StoredChange>, StoreError> {
        let mut sql = format!(
            "SELECT {CHANGE_COLUMNS} FROM live_events
             WHERE account = $1 AND collection = $2 AND kind <> '{GAP}'"
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
            let relation = if query.oldest_first { ">" } else { "<" };
            placeholder(&mut sql, &format!(" AND seq {relation} ?"));
        }
        let order = if query.oldest_first { "ASC" } else { "DESC" };
        sql.push_str(&format!(" ORDER BY seq {order} LIMIT ${next}"));
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
        if let Some(after) = query.after {
            statement = statement.bind(after);
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
        let rows = sqlx::query(&format!(
            "SELECT {CHANGE_COLUMNS} FROM live_events latest
             WHERE account = $1 AND collection = 'devices' AND kind = 'STATUS_CHANGED'
             AND seq = (SELECT MAX(seq) FROM live_events other
                 WHERE other.account = latest.account AND other.collection = latest.collection
                 AND other.subject = latest.subject AND other.kind = latest.kind)"
        ))
        .bind(account)
        .fetch_all(&self.pool)
        .await
        .map_err(failed("reading status history"))?;
        rows.iter().map(stored_change).collect()
    }

    /// Deletes changes observed before `cutoff_ms`, then the oldest past
    /// `max_rows`, and puts each account's floor at the last position it
    /// lost; returns how many went.
    pub async fn prune_history(&self, cutoff_ms: i64, max_rows: u64) -> Result<u64, StoreError> {
        let over: Option<i64> = sqlx::query_scalar(
            "SELECT at_ms FROM live_events ORDER BY at_ms DESC LIMIT 1 OFFSET $1",
        )
        .bind(i64::try_from(max_rows.saturating_sub(1)).unwrap_or(i64::MAX))
        .fetch_optional(&self.pool)
        .await
        .map_err(failed("pruning history"))?;
        let cutoff_ms = over.map_or(cutoff_ms, |over| over.max(cutoff_ms));
        let mut transaction = self.pool.begin().await.map_err(failed("pruning history"))?;
        let floors: Vec<(String, i64)> = sqlx::query_as(
            "SELECT account, MAX(seq) FROM live_events WHERE at_ms < $1 GROUP BY account",
        )
        .bind(cutoff_ms)
        .fetch_all(&mut *transaction)
        .await
        .map_err(failed("pruning history"))?;
        for (account, floor) in floors {
            sqlx::query(
                "UPDATE change_log_heads SET floor_seq = $2 WHERE account = $1 AND floor_seq < $2",
            )
            .bind(account)
            .bind(floor)
            .execute(&mut *transaction)
            .await
            .map_err(failed("pruning history"))?;
        }
        let pruned = sqlx::query("DELETE FROM live_events WHERE at_ms < $1")
            .bind(cutoff_ms)
            .execute(&mut *transaction)
            .await
            .map_err(failed("pruning history"))?
            .rows_affected();
        transaction
            .commit()
            .await
            .map_err(failed("pruning history"))?;
        Ok(pruned)
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
