//! The embedded default: one SQLite file, zero set-up.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::{StoreResult, sql::impl_store};

/// SQLite serialises writers, so a single UPDATE … RETURNING is already an atomic
/// claim: first a stage whose lease expired, else the due queued stage with the
/// lowest scheduling key (see docs/PERFORMANCE.md).
const CLAIM: [&str; 2] = [
    "UPDATE stages SET status = 'running', lease_owner = $1, lease_expires_at = $2, \
     attempts = attempts + 1, started_at = COALESCE(started_at, $3) \
     WHERE rowid = (SELECT rowid FROM stages WHERE status = 'running' AND lease_expires_at < $3 \
        ORDER BY sched_key LIMIT 1) \
     RETURNING run_id, position",
    "UPDATE stages SET status = 'running', lease_owner = $1, lease_expires_at = $2, \
     attempts = attempts + 1, started_at = COALESCE(started_at, $3) \
     WHERE rowid = (SELECT rowid FROM stages WHERE status = 'queued' AND run_after <= $3 \
        ORDER BY sched_key LIMIT 1) \
     RETURNING run_id, position",
];

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        Ok(SqliteStore { pool })
    }

    /// Take the write lock up front: a deferred transaction that reads and then
    /// writes fails with "database is locked" instead of waiting its turn.
    pub(crate) const WRITE_BEGIN: &'static str = "BEGIN IMMEDIATE";
    /// A page of runs as one JSON array ([`crate::store::sql::runs_page`]).
    pub(crate) const PAGE_AGGREGATE: Option<&'static str> =
        Some("COALESCE(json_group_array(json_array({columns}, json(stages_json))), '[]')");
    /// Writers are already serialised by `BEGIN IMMEDIATE`; nothing more to lock.
    pub(crate) const ALLOCATION_LOCK: &'static str = "SELECT $1";

    fn migrator(&self) -> sqlx::migrate::Migrator {
        sqlx::migrate!("migrations/sqlite")
    }
}

impl_store!(SqliteStore, sqlx::Sqlite, CLAIM, crate::library::SqliteLibrary);
