//! PostgreSQL for many service instances sharing one database.

use std::time::Duration;

use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

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
        let pool = Self::pool_options().connect(url).await?;
        Ok(PostgresStore { pool })
    }

    /// Logs in with RDS IAM tokens (the URL's password, if any, is replaced) and keeps
    /// the pool's token fresh; TLS settings (`sslmode=verify-full&sslrootcert=…`) come
    /// from the URL as usual.
    pub async fn connect_iam(url: &str, login: super::rds_iam::IamLogin) -> StoreResult<PostgresStore> {
        let base: PgConnectOptions = url.parse()?;
        let auth = Arc::new(super::rds_iam::RdsIamAuth::new(&base, login)?);
        let options = super::rds_iam::with_token(&base, &auth).await?;
        let pool = Self::pool_options().connect_with(options).await?;
        super::rds_iam::keep_fresh(pool.clone(), base, auth);
        Ok(PostgresStore { pool })
    }

    fn pool_options() -> PgPoolOptions {
        PgPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(10))
    }

    /// One row per run ([`crate::store::sql::runs_page`] says why).
    pub(crate) const PAGE_AGGREGATE: Option<&'static str> = None;

    pub(crate) const WRITE_BEGIN: &'static str = "BEGIN";
    /// Serialises version allocation for one key until the transaction ends.
    pub(crate) const ALLOCATION_LOCK: &'static str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 14))";

    fn migrator(&self) -> sqlx::migrate::Migrator {
        sqlx::migrate!("migrations/postgres")
    }
}

impl_store!(PostgresStore, sqlx::Postgres, CLAIM, crate::library::PostgresLibrary);
