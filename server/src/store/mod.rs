//! The store: schools, users, classes and rosters, trusted domains, consent records, the
//! code of conduct, privacy profiles and the audit chain, in SQLite (embedded, the default) or
//! PostgreSQL (several nodes), behind one facade.
//!
//! Every query is scoped by school. Every change a superuser makes is appended to the audit
//! chain in the same transaction as the change. Changes that can affect who may be in a live
//! lesson are announced on [`Store::changes`], so lessons re-check their members at once.

mod accounts;
mod audit;
mod consent;
mod factors;
pub mod log;
pub mod log_read;
mod people;
mod recordings;
pub mod roster;
mod schema;
pub mod schools;
pub mod seed;
pub mod sso;

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use tokio::sync::broadcast;

pub use accounts::{token_hash, AccountToken, SessionTimes, TokenPurpose};
pub use audit::{AuditEntry, AuditFault};
pub use consent::{ConductText, ConsentInput, ConsentRecord, PrivacyListed};
pub use factors::{FactorUse, TotpFactor};
// The school's vocabulary lives in the core; re-exported while the rest of the server moves over.
pub use log_read::{LogFilter, LogScope};
pub use people::{normalise_domain, ClassRecord, DomainRecord, MemberKind, UserRecord};
pub use recordings::{unhex, RecordingFilter, RecordingRow};

use livegate_core::codes::ErrorCode;

use livegate_core::ids::SchoolId;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[source] sqlx::Error),
    #[error("no such record")]
    NotFound,
    #[error("already exists")]
    Conflict,
    #[error("invalid input: {0}")]
    Invalid(&'static str),
    #[error("unsupported database url (use sqlite: or postgres:)")]
    BadUrl,
    /// A text field the text policy refuses (the routes check first; this keeps every other
    /// way in, such as seeding, to the same rules).
    #[error("text: {0}")]
    Text(#[from] livegate_core::text::TextError),
}

impl StoreError {
    /// The stable code a client sees for this failure. A database that cannot be reached (down,
    /// restarting, the connection cut) is `store_unavailable`: the call changed nothing (every
    /// write is one transaction) and may be tried again.
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::NotFound => ErrorCode::NotFound,
            StoreError::Conflict => ErrorCode::Conflict,
            StoreError::Invalid(_) => ErrorCode::BadRequest,
            StoreError::Db(e) if is_unavailable(e) => ErrorCode::StoreUnavailable,
            StoreError::Db(_) | StoreError::BadUrl => ErrorCode::Internal,
            StoreError::Text(e) => e.code(),
        }
    }
}

/// Every database error is counted for the operator's metrics as it becomes a store error.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        crate::telemetry::store_error(is_unavailable(&e));
        StoreError::Db(e)
    }
}

/// True for errors that mean the database is unreachable rather than that the query is wrong:
/// no connection within the acquire timeout, an I/O error, or PostgreSQL shutting down,
/// starting up or refusing connections (SQLSTATE classes 08 and 57P).
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// How long a call waits for a PostgreSQL connection (for example while it restarts) before it
/// fails with `store_unavailable`. (SQLite's one connection keeps sqlx's default of 30 s: it
/// cannot go away, and under load calls queue for it.)
const PG_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Shorthand for store results.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Milliseconds since the Unix epoch, UTC.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The database behind Livegate.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    changes: broadcast::Sender<SchoolId>,
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    /// `sqlite:path/to/file.db` or `postgres://user@host/db`.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let url = if let Some(path) = url.strip_prefix("sqlite:") {
            if !path.starts_with(':') && !url.contains("mode=") {
                format!("sqlite:{path}?mode=rwc")
            } else {
                url.to_owned()
            }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            url.to_owned()
        } else {
            return Err(StoreError::BadUrl);
        };
        let sqlite = url.starts_with("sqlite:");
        // SQLite takes one writer at a time anyway; one connection also keeps an in-memory
        // database alive for the life of the pool. Every connection is checked before use, so
        // after PostgreSQL restarts the dead ones are replaced rather than failing a call; while
        // it is down a call waits up to PG_ACQUIRE_TIMEOUT for it, then fails `store_unavailable`.
        let pool = AnyPoolOptions::new()
            .test_before_acquire(true)
            .acquire_timeout(if sqlite {
                std::time::Duration::from_secs(30)
            } else {
                PG_ACQUIRE_TIMEOUT
            })
            .max_connections(if sqlite { 1 } else { 8 })
            .min_connections(if sqlite { 1 } else { 0 })
            .idle_timeout(if sqlite {
                None
            } else {
                Some(std::time::Duration::from_secs(600))
            })
            .max_lifetime(if sqlite {
                None
            } else {
                Some(std::time::Duration::from_secs(1800))
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let (changes, _) = broadcast::channel(256);
        let store = Store { pool, changes };
        store.migrate().await?;
        Ok(store)
    }

    /// The connection pool, for the store's own modules and tests.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Subscribes to announcements of changes that may affect live lessons, by school.
    pub fn changes(&self) -> broadcast::Receiver<SchoolId> {
        self.changes.subscribe()
    }

    fn announce(&self, school: &SchoolId) {
        let _ = self.changes.send(school.clone());
    }

    /// Announces changes other nodes made, so the 2-second rule holds across nodes sharing one
    /// PostgreSQL database: every such change is on the audit chain, so this follows the chain
    /// every `every` and announces the schools of entries that can affect who may be in a
    /// lesson. Local changes are announced directly too; a repeat is harmless.
    pub fn follow_other_nodes(&self, every: std::time::Duration) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut last: i64 = match sqlx::query("SELECT COALESCE(MAX(seq), 0) AS m FROM audit_log")
                .fetch_one(&store.pool)
                .await
            {
                Ok(row) => row.try_get("m").unwrap_or(0),
                Err(_) => 0,
            };
            loop {
                tokio::time::sleep(every).await;
                let rows = match sqlx::query("SELECT seq, school_id, action FROM audit_log WHERE seq > $1 ORDER BY seq")
                    .bind(last)
                    .fetch_all(&store.pool)
                    .await
                {
                    Ok(rows) => rows,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not follow the audit chain; retrying");
                        continue;
                    }
                };
                for row in rows {
                    last = row.try_get("seq").unwrap_or(last);
                    let action: String = row.try_get("action").unwrap_or_default();
                    let school: String = row.try_get("school_id").unwrap_or_default();
                    if affects_admission(&action) {
                        if let Some(school) = SchoolId::parse(&school) {
                            store.announce(&school);
                        }
                    }
                }
            }
        });
    }

    async fn migrate(&self) -> Result<()> {
        // Nodes starting together on one PostgreSQL take turns: the first migrates, the others
        // then find nothing to do. (SQLite has one connection, so it is serial anyway.)
        let mut conn = self.pool.acquire().await?;
        let postgres = conn.backend_name() == "PostgreSQL";
        if postgres {
            sqlx::query(PG_LOCK_MIGRATIONS).execute(&mut *conn).await?;
        }
        let done = self.migrate_on(&mut conn).await;
        if postgres {
            sqlx::query("SELECT pg_advisory_unlock(7301) AS unlocked")
                .execute(&mut *conn)
                .await?;
        }
        done
    }

    async fn migrate_on(&self, conn: &mut sqlx::AnyConnection) -> Result<()> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *conn)
        .await?;
        for (version, statements) in schema::MIGRATIONS {
            let done: Option<AnyRow> = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(&mut *conn)
                .await?;
            if done.is_some() {
                continue;
            }
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            for sql in *statements {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(*version)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version, "database migrated");
        }
        Ok(())
    }
}

/// The schema version this build migrates a database to (its newest migration).
pub fn latest_schema_version() -> i64 {
    schema::MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Takes the session-level advisory lock that serialises migrations across nodes. (The lock
/// function returns `void`, which the `Any` driver cannot decode, hence the wrapper.)
const PG_LOCK_MIGRATIONS: &str = "SELECT 1 AS locked FROM (SELECT pg_advisory_lock(7301)) AS l";

/// True for audit actions that can change who may be in a live lesson.
pub fn affects_admission(action: &str) -> bool {
    matches!(
        action,
        "user.update"
            | "roster.remove"
            | "domain.remove"
            | "consent.record"
            | "consent.withdraw"
            | "privacy.set"
            | "conduct.publish"
            | "school.disable"
    ) || action.starts_with("roster.import")
}

/// Reads a 0/1 flag column.
fn flag(row: &AnyRow, col: &str) -> Result<bool> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`].
fn conflict(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
        _ => e.into(),
    }
}

#[cfg(test)]
pub(crate) mod tests;
