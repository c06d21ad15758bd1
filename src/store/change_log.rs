//! The change log: each account's observed changes at positions (`seq`)
//! that every replica sharing the database agrees on, appended under the
//! account's head row so that positions commit in order; gaps where
//! changes were lost; the last state of every item; the floor below which
//! pruning took positions away.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Store, StoreError, failed};

/// The kind of a row that stands for changes that were lost.
pub const GAP: &str = "GAP";

/// A change to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChange {
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
    /// The item as the change left it (as it was last, when removed), as
    /// JSON.
    pub item: Option<String>,
}

/// What one append writes for one account's collection, in one
/// transaction.
#[derive(Debug, Clone, Default)]
pub struct Append {
    /// The account.
    pub account: String,
    /// The collection's name (`Collection::as_str`).
    pub collection: &'static str,
    /// Changes were lost before these: a gap row goes first, observed then.
    pub gap_at_ms: Option<i64>,
    /// The changes, in order.
    pub changes: Vec<NewChange>,
    /// Items whose last state is now this JSON (`None`: gone).
    pub states: Vec<(String, Option<String>)>,
}

/// A change read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChange {
    /// Its position in the account's log.
    pub seq: i64,
    /// The item's key; empty for a gap.
    pub subject: String,
    /// The kind, as stored (`GAP` for lost changes).
    pub kind: String,
    /// When it was observed, in ms since the Unix epoch.
    pub at_ms: i64,
    /// The value before.
    pub from: Option<String>,
    /// The value after.
    pub to: Option<String>,
    /// The item as the change left it, as JSON.
    pub item: Option<String>,
}

/// Where an account's log stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogBounds {
    /// The last position given; 0 before the first change.
    pub head: i64,
    /// Every change after this position is still kept.
    pub floor: i64,
}

pub(super) const CHANGE_COLUMNS: &str = "seq, subject, kind, at_ms, from_value, to_value, item";

impl Store {
    /// Appends in one transaction: the gap, then each change at the next
    /// position unless the log already says it last of its item (the same
    /// status, comment or session; added when last added: another
    /// replica, or an earlier snapshot, recorded it), then the items'
    /// states. Returns the account's head after it.
    pub async fn append_changes(&self, append: &Append) -> Result<i64, StoreError> {
        let failure = failed("appending changes");
        let mut transaction = self.pool.begin().await.map_err(failure)?;
        let mut head = lock_head(&mut transaction, &append.account).await?;
        if let Some(at_ms) = append.gap_at_ms {
            head += 1;
            insert_gap(&mut transaction, append, at_ms, head).await?;
        }
        for change in &append.changes {
            head += insert_change(&mut transaction, append, change, head + 1).await?;
        }
        for (subject, item) in &append.states {
            save_state(&mut transaction, append, subject, item.as_deref()).await?;
        }
        sqlx::query("UPDATE change_log_heads SET last_seq = $2 WHERE account = $1")
            .bind(&append.account)
            .bind(head)
            .execute(&mut *transaction)
            .await
            .map_err(failed("appending changes"))?;
        transaction
            .commit()
            .await
            .map_err(failed("appending changes"))?;
        Ok(head)
    }

    /// Up to `limit` entries of `account`'s `collection` after position
    /// `after`, oldest first, gaps included.
    pub async fn changes_after(
        &self,
        account: &str,
        collection: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredChange>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CHANGE_COLUMNS} FROM live_events
             WHERE account = $1 AND seq > $2 AND collection = $3
             ORDER BY seq LIMIT $4"
        ))
        .bind(account)
        .bind(after)
        .bind(collection)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(failed("reading the change log"))?;
        rows.iter().map(stored_change).collect()
    }

    /// Where `account`'s log stands (zeros before its first change).
    pub async fn log_bounds(&self, account: &str) -> Result<LogBounds, StoreError> {
        let row =
            sqlx::query("SELECT last_seq, floor_seq FROM change_log_heads WHERE account = $1")
                .bind(account)
                .fetch_optional(&self.pool)
                .await
                .map_err(failed("reading the change log's head"))?;
        let Some(row) = row else {
            return Ok(LogBounds::default());
        };
        let read = |source| StoreError::Database {
            operation: "reading the change log's head",
            source,
        };
        Ok(LogBounds {
            head: row.try_get("last_seq").map_err(read)?,
            floor: row.try_get("floor_seq").map_err(read)?,
        })
    }

    /// The last state of each of `account`'s `collection` items the log
    /// knows, as `(key, JSON)`.
    pub async fn item_states(
        &self,
        account: &str,
        collection: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query_as(
            "SELECT subject, item FROM live_state WHERE account = $1 AND collection = $2",
        )
        .bind(account)
        .bind(collection)
        .fetch_all(&self.pool)
        .await
        .map_err(failed("reading items' last states"))
    }
}

/// Takes the account's head row (created at 0 when missing) for the rest
/// of the transaction, and returns its position: appends by other
/// replicas wait for this one, so positions commit in order.
async fn lock_head(
    transaction: &mut Transaction<'_, Any>,
    account: &str,
) -> Result<i64, StoreError> {
    sqlx::query(
        "INSERT INTO change_log_heads (account, last_seq, floor_seq) VALUES ($1, 0, 0)
         ON CONFLICT (account) DO NOTHING",
    )
    .bind(account)
    .execute(&mut **transaction)
    .await
    .map_err(failed("locking the change log's head"))?;
    sqlx::query_scalar(
        "UPDATE change_log_heads SET last_seq = last_seq WHERE account = $1 RETURNING last_seq",
    )
    .bind(account)
    .fetch_one(&mut **transaction)
    .await
    .map_err(failed("locking the change log's head"))
}

/// Inserts `change` at `seq`; 1 when written, 0 when the log already
/// says it last of its item: the item's latest row of this kind, or of
/// its presence (an item removed and added again starts afresh), is this
/// kind with the same value.
async fn insert_change(
    transaction: &mut Transaction<'_, Any>,
    append: &Append,
    change: &NewChange,
    seq: i64,
) -> Result<i64, StoreError> {
    let written = sqlx::query(
        "INSERT INTO live_events
             (account, collection, subject, kind, at_ms, from_value, to_value, seq, item)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
         WHERE NOT EXISTS (
             SELECT 1 FROM live_events latest
             WHERE latest.account = $1 AND latest.collection = $2 AND latest.subject = $3
               AND latest.seq = (SELECT MAX(other.seq) FROM live_events other
                   WHERE other.account = $1 AND other.collection = $2
                     AND other.subject = $3 AND other.kind IN ($4, 'ADDED', 'REMOVED'))
               AND latest.kind = $4
               AND COALESCE(latest.to_value, '') = COALESCE($7, ''))
         ON CONFLICT (account, collection, subject, kind, at_ms) DO NOTHING",
    )
    .bind(&append.account)
    .bind(append.collection)
    .bind(&change.subject)
    .bind(change.kind)
    .bind(change.at_ms)
    .bind(change.from.as_deref())
    .bind(change.to.as_deref())
    .bind(seq)
    .bind(change.item.as_deref())
    .execute(&mut **transaction)
    .await
    .map_err(failed("appending changes"))?
    .rows_affected();
    Ok(i64::from(written > 0))
}

/// Inserts a gap at `seq`.
async fn insert_gap(
    transaction: &mut Transaction<'_, Any>,
    append: &Append,
    at_ms: i64,
    seq: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO live_events (account, collection, subject, kind, at_ms, seq)
         VALUES ($1, $2, '', $3, $4, $5)
         ON CONFLICT (account, collection, subject, kind, at_ms) DO UPDATE SET seq = excluded.seq",
    )
    .bind(&append.account)
    .bind(append.collection)
    .bind(GAP)
    .bind(at_ms)
    .bind(seq)
    .execute(&mut **transaction)
    .await
    .map_err(failed("appending a gap"))
    .map(drop)
}

async fn save_state(
    transaction: &mut Transaction<'_, Any>,
    append: &Append,
    subject: &str,
    item: Option<&str>,
) -> Result<(), StoreError> {
    let statement = match item {
        Some(item) => sqlx::query(
            "INSERT INTO live_state (account, collection, subject, item) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account, collection, subject) DO UPDATE SET item = excluded.item",
        )
        .bind(&append.account)
        .bind(append.collection)
        .bind(subject)
        .bind(item),
        None => sqlx::query(
            "DELETE FROM live_state WHERE account = $1 AND collection = $2 AND subject = $3",
        )
        .bind(&append.account)
        .bind(append.collection)
        .bind(subject),
    };
    statement
        .execute(&mut **transaction)
        .await
        .map_err(failed("saving items' last states"))
        .map(drop)
}

pub(super) fn stored_change(row: &AnyRow) -> Result<StoredChange, StoreError> {
    let read = |source| StoreError::Database {
        operation: "reading the change log",
        source,
    };
    Ok(StoredChange {
        seq: row.try_get("seq").map_err(read)?,
        subject: row.try_get("subject").map_err(read)?,
        kind: row.try_get("kind").map_err(read)?,
        at_ms: row.try_get("at_ms").map_err(read)?,
        from: row.try_get("from_value").map_err(read)?,
        to: row.try_get("to_value").map_err(read)?,
        item: row.try_get("item").map_err(read)?,
    })
}
