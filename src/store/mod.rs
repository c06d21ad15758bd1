//! Durable state: the audit log, idempotency keys, the groups this
//! gateway created and the history of changes it observed. One code path for SQLite (embedded default, WAL) and
//! PostgreSQL (replicas sharing state), through sqlx's `Any` driver; the SQL
//! is kept to what both accept. Knows nothing of GraphQL or HTTP.

mod audit;
mod groups;
mod history;
mod idempotency;
mod migrations;
mod relations;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub use audit::{AuditActor, AuditFilter, AuditRecord, OUTCOME_UNKNOWN, STARTED};
pub use groups::KnownGroup;
pub use history::{HistoryPosition, HistoryQuery, HistoryRow, StoredChange};
pub use idempotency::Claim;
pub use relations::Invitation;

use crate::clock::Clock;
use crate::settings::StoreSettings;

/// Why the store failed. Never contains the database password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused a statement.
    #[error("store: {operation} failed")]
    Database {
        /// What was being done.
        operation: &'static str,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// A stored value could not be read back.
    #[error("store: a stored {what} is unreadable")]
    Corrupt {
        /// Which kind of value.
        what: &'static str,
    },
}

fn failed(operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { operation, source }
}

/// The database, migrated and ready. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    clock: Clock,
    idempotency: IdempotencyTimes,
    /// Ids of audit records this process began and has not completed.
    /// std `Mutex`: never held across `.await`.
    open_audits: Arc<Mutex<HashSet<String>>>,
    /// `(team, key)` of idempotency keys this process claimed and has not
    /// completed. std `Mutex`: never held across `.await`.
    open_claims: Arc<Mutex<HashSet<(String, String)>>>,
}

/// How long idempotency keys live in each state.
#[derive(Clone, Copy, Debug)]
struct IdempotencyTimes {
    ttl: Duration,
    unknown_ttl: Duration,
    abandoned_after: Duration,
}

impl Store {
    /// Connects to `store.url` (creating a SQLite file if needed) and
    /// brings its schema up to date.
    pub async fn open(settings: &StoreSettings) -> Result<Self, StoreError> {
        Self::open_with_clock(settings, Clock::system()).await
    }

    /// As `open`, reading time (key expiry) from `clock`.
    pub async fn open_with_clock(
        settings: &StoreSettings,
        clock: Clock,
    ) -> Result<Self, StoreError> {
        install_default_drivers();
        let sqlite = settings.url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if sqlite {
                        // WAL lets reads run beside the writer; FULL makes a
                        // commit durable before the response is sent.
                        connection.execute("PRAGMA journal_mode = WAL").await?;
                        connection.execute("PRAGMA synchronous = FULL").await?;
                        connection.execute("PRAGMA busy_timeout = 5000").await?;
                    }
                    Ok(())
                })
            })
            .connect(&settings.url)
            .await
            .map_err(failed("connecting"))?;
        migrations::run(&pool, settings.url.starts_with("postgres")).await?;
        Ok(Self {
            pool,
            clock,
            idempotency: IdempotencyTimes {
                ttl: settings.idempotency_ttl,
                unknown_ttl: settings.idempotency_unknown_ttl,
                abandoned_after: settings.idempotency_abandoned_after,
            },
            open_audits: Arc::default(),
            open_claims: Arc::default(),
        })
    }

    /// Runs `sweep` (expired idempotency keys) every `interval` until the
    /// handle is aborted.
    pub fn sweep_every(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                match store.sweep().await {
                    Ok(0) => {}
                    Ok(swept) => tracing::debug!(swept, "expired idempotency keys removed"),
                    Err(error) => tracing::warn!(error = %error, "idempotency sweep failed"),
                }
            }
        })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(failed("ping"))
    }

    /// Waits for writes in flight and closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn locked<T>(set: &Mutex<HashSet<T>>) -> MutexGuard<'_, HashSet<T>> {
    set.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Store {
    fn now_ms(&self) -> i64 {
        self.clock.unix_ms()
    }
}
