//! Durable state: the audit log, idempotency keys, the groups this
//! gateway created and the log of changes it observed. One code path for SQLite (embedded default, WAL) and
//! PostgreSQL (replicas sharing state), through sqlx's `Any` driver; the SQL
//! is kept to what both accept. Knows nothing of GraphQL or HTTP.

mod approvals;
mod audit;
mod change_log;
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

pub use approvals::{Approval, ApprovalRequest, ApprovalState};
pub use audit::{AuditActor, AuditFilter, AuditRecord, OUTCOME_UNKNOWN, STARTED};
pub use change_log::{Append, GAP, LogBounds, NewChange, StoredChange};
pub use groups::KnownGroup;
pub use history::HistoryQuery;
pub use idempotency::Claim;
pub use relations::Invitation;

use crate::clock::Clock;
use crate::settings::StoreSettings;

/// Why the store failed. Never contains the database password.
#[expect(
    missing_docs,
    reason = "variant fields are named by what they hold; the #[error] message says how they read"
)]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused a statement.
    #[error("store: {operation} failed")]
    Database {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// A stored value could not be read back.
    #[error("store: a stored {what} is unreadable")]
    Corrupt { what: &'static str },
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
    /// This process, as its claims name it: its pid and a random part, so
    /// that a restarted process with the same pid is another owner.
    owner: Arc<str>,
}

fn process_owner() -> Arc<str> {
    use rand::distr::{Alphanumeric, SampleString};
    let random = Alphanumeric.sample_string(&mut rand::rng(), 12);
    Arc::from(format!("{}-{random}", std::process::id()))
}

/// How long idempotency keys live in each state.
#[derive(Clone, Copy, Debug)]
struct IdempotencyTimes {
    ttl: Duration,
    unknown_ttl: Duration,
    abandoned_after: Duration,
    claim_lease: Duration,
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
        if let Some(path) = sqlite_file(&settings.url) {
            create_private(&path)
                .map_err(|error| failed("creating the SQLite file")(sqlx::Error::Io(error)))?;
        }
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
                claim_lease: settings.idempotency_claim_lease,
            },
            owner: process_owner(),
            open_audits: Arc::default(),
            open_claims: Arc::default(),
        })
    }

    /// Runs `sweep` (expired idempotency keys) and `sweep_approvals` every `interval` until the
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
                if let Err(error) = store.sweep_approvals().await {
                    tracing::warn!(error = %error, "approval sweep failed");
                }
            }
        })
    }

    /// Renews the leases of this process's open claims every third of
    /// `store.idempotency_claim_lease` until the handle is aborted.
    pub fn renew_claims(&self) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            let every = store.idempotency.claim_lease / 3;
            let mut ticker = tokio::time::interval(every.max(Duration::from_millis(10)));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if locked(&store.open_claims).is_empty() {
                    continue;
                }
                if let Err(error) = store.renew_leases().await {
                    tracing::warn!(error = %error, "idempotency claims' leases not renewed");
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

/// The file a `sqlite:` URL names; `None` for other URLs and in-memory
/// databases.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| path.into())
}

/// Creates the database file readable by its owner alone (it holds audit
/// inputs and recorded answers) when it does not exist yet; SQLite gives
/// its WAL and shared-memory files the same mode.
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        let file = |url: &str| sqlite_file(url).map(|path| path.display().to_string());
        assert_eq!(
            file("sqlite:///var/lib/g.db?mode=rwc").as_deref(),
            Some("/var/lib/g.db")
        );
        assert_eq!(
            file("sqlite://gateway.db?mode=rwc").as_deref(),
            Some("gateway.db")
        );
        assert_eq!(file("sqlite:gateway.db").as_deref(), Some("gateway.db"));
        assert_eq!(file("sqlite::memory:"), None);
        assert_eq!(file("postgres://u@h/db"), None);
    }

    #[tokio::test]
    async fn a_new_sqlite_store_is_readable_by_its_owner_alone() {
        let path = std::env::temp_dir().join(format!("store-mode-{}.db", std::process::id()));
        let settings = StoreSettings {
            url: format!("sqlite://{}?mode=rwc", path.display()),
            ..StoreSettings::default()
        };
        let store = Store::open(&settings).await.expect("opens");
        store.ping().await.expect("answers");
        for suffix in ["", "-wal"] {
            let file = format!("{}{suffix}", path.display());
            let mode = std::fs::metadata(&file)
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
