//! PostgreSQL for many service instances sharing one database.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{StoreResult, sql::impl_store};

/// `FOR UPDATE SKIP LOCKED` lets concurrent workers each take a different stage
/// without blocking on one another; the lease makes a crashed worker's stage
/// claimable again once it expires. Expired leases first, then the due queued
/// stage with the lowest scheduling key (see docs/PERFORMANCE.md).
const CLAIM: [&str; 2] = [
    "UPDATE stages SET status = 'running', lease_owner = $1, lease_expires_at = $2, \
     attempts = attempts + 1, started_at = COALESCE(started_at, $3) \
     WHERE (run_id, position) = (SELECT run_id, position FROM stages \
        WHERE status = 'running' AND lease_expires_at < $3 \
        ORDER BY sched_key LIMIT 1 FOR UPDATE SKIP LOCKED) \
     RETURNING run_id, position",
    "UPDATE stages SET status = 'running', lease_owner = $1, lease_expires_at = $2, \
     attempts = attempts + 1, started_at = COALESCE(started_at, $3) \
     WHERE (run_id, position) = (SELECT run_id, position FROM stages \
        WHERE status = 'queued' AND run_after <= $3 \
        ORDER BY sched_key LIMIT 1 FOR UPDATE SKIP LOCKED) \
     RETURNING run_id, position",
];

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn connect(url: &str) -> StoreResult<PostgresStore> {
        let pool =
            PgPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(10)).connect(url).await?;
        Ok(PostgresStore { pool })
    }

    pub(crate) const WRITE_BEGIN: &'static str = "BEGIN";
    /// Serialises version allocation for one key until the transaction ends.
    pub(crate) const ALLOCATION_LOCK: &'static str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 14))";

    fn migrator(&self) -> sqlx::migrate::Migrator {
        sqlx::migrate!("migrations/postgres")
    }
}

impl_store!(PostgresStore, sqlx::Postgres, CLAIM, crate::library::PostgresLibrary);
