//! Persistence behind traits: the relational store (profiles, requests, runs and
//! the stage job table) and the artifact store (bundle files).
//!
//! The relational store has one implementation per backend — SQLite for the
//! embedded default, PostgreSQL for many service instances — sharing the SQL text
//! in [`sql`] except where the dialects differ (the stage claim).

pub mod artifacts;
mod postgres;
pub mod rds_iam;
mod sql;
mod sqlite;

pub use artifacts::{
    ArtifactBody, ArtifactInfo, ArtifactStore, BundleRef, LocalArtifactStore, NewArtifact, S3ArtifactStore, S3Location,
    read_body,
};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("artifact storage error: {0}")]
    Artifact(String),
    /// The database connection cannot be set up as configured (e.g. no AWS credentials for an RDS token).
    #[error("database configuration: {0}")]
    Config(String),
    /// An immutable artifact already holds different bytes.
    #[error("artifact '{0}' already exists with different content")]
    ArtifactExists(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// A primary-key or unique constraint refused the write (both backends).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredProfile {
    pub profile_id: String,
    pub version: i64,
    pub content_hash: String,
    pub created_at: i64,
    #[serde(skip)]
    pub document: String,
}

/// A request accepted at the edge, ready to be committed with its runs.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub id: String,
    pub request_id: String,
    pub document: String,
    pub profile_id: String,
    pub profile_version: i64,
    /// (canonical service id, name as requested, new run id)
    pub runs: Vec<(String, String, String)>,
    pub stages: Vec<&'static str>,
    pub max_attempts: i64,
    /// W3C traceparent of the HTTP request span that created the request, when tracing was on.
    pub traceparent: Option<String>,
    pub priority: Priority,
}

/// How a request's runs are scheduled: by submission time, bulk work
/// [`BULK_OFFSET_MS`] later, so an interactive request overtakes bulk work
/// submitted up to that long before it, and bulk work waits at most that long more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    #[default]
    Interactive,
    Bulk,
}

/// How much later than its submission bulk work is scheduled.
pub const BULK_OFFSET_MS: i64 = 120_000;

impl Priority {
    /// The offset added to the submission time to make the scheduling key.
    pub fn offset_ms(self) -> i64 {
        match self {
            Priority::Interactive => 0,
            Priority::Bulk => BULK_OFFSET_MS,
        }
    }
}

/// One stage of a run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct StageRecord {
    pub position: i64,
    pub name: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

/// A run: one service of a request through every stage.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunRecord {
    pub id: String,
    pub request_id: String,
    pub service_id: String,
    pub service_name: String,
    pub profile_id: String,
    pub profile_version: i64,
    pub bundle_version: i64,
    pub status: String,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub stages: Vec<StageRecord>,
}

#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub status: Option<String>,
    pub service_id: Option<String>,
    pub profile_id: Option<String>,
    /// Exclusive lower bound (created_at, id) from the previous page.
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

/// A stage a worker holds a lease on.
#[derive(Debug, Clone)]
pub struct ClaimedStage {
    pub run_id: String,
    pub position: i64,
    pub name: String,
    pub attempt: i64,
    pub service_id: String,
    /// The name the request gave the service (it may choose a variant, e.g. "NLB").
    pub service_name: String,
    pub profile_id: String,
    pub profile_version: i64,
    pub bundle_version: i64,
    pub max_attempts: i64,
    /// An earlier attempt never finished: its lease expired.
    pub lease_expired: bool,
    /// The creating request's traceparent, for the stage span's link.
    pub traceparent: Option<String>,
}

/// Job-table state read at scrape time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueSnapshot {
    pub queued: i64,
    pub running: i64,
    /// Milliseconds the oldest due queued stage has waited (0 when none).
    pub oldest_due_ms: i64,
    pub runs_by_status: Vec<(String, i64)>,
}

/// How a stage attempt ended.
#[derive(Debug, Clone)]
pub enum StageOutcome {
    Succeeded {
        output: String,
    },
    /// Retried after `backoff_base_ms * 2^(attempts-1)` unless attempts are used up.
    Transient {
        error: String,
        backoff_base_ms: i64,
    },
    Permanent {
        error: String,
    },
}

/// An API key as stored: its hash, never the key.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    pub role: String,
    #[serde(skip)]
    pub key_hash: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// One mutating call, as recorded in the audit log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub principal: String,
    /// Method and route, e.g. `POST /v1/profiles`.
    pub action: String,
    /// The request path.
    pub target: String,
    pub status: i64,
    pub request_id: String,
}

/// A stored answer to a POST sent with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentResponse {
    pub status: i64,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: String,
}

/// What a new `Idempotency-Key` call finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyState {
    /// First use: the caller now holds the key and must complete or abort it.
    New,
    /// The same key is being processed by another call.
    InProgress {
        fingerprint: String,
    },
    Done {
        fingerprint: String,
        response: IdempotentResponse,
    },
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The control library kept in the same database (its tables come with [`Store::migrate`]).
    fn library(&self) -> Arc<dyn crate::library::Library>;
    async fn migrate(&self) -> StoreResult<()>;
    async fn ping(&self) -> StoreResult<()>;

    /// Stores a profile; identical content returns the existing version.
    async fn save_profile(
        &self,
        profile_id: &str,
        hash: &str,
        document: &str,
        now: i64,
    ) -> StoreResult<(StoredProfile, bool)>;
    async fn profile(&self, profile_id: &str, version: Option<i64>) -> StoreResult<Option<StoredProfile>>;

    /// Commits the request, its runs and their stages in one transaction.
    async fn create_request(&self, request: &NewRequest, now: i64) -> StoreResult<()>;
    async fn run(&self, id: &str) -> StoreResult<Option<RunRecord>>;
    async fn runs(&self, filter: &RunFilter) -> StoreResult<Vec<RunRecord>>;
    /// A cached advisor answer by its key (hash of model id and prompt).
    async fn advisor_cached(&self, key: &str) -> StoreResult<Option<String>>;
    /// Stores an advisor answer; an existing key keeps its first answer.
    async fn advisor_cache(&self, key: &str, model_id: &str, answer: &str, now: i64) -> StoreResult<()>;
    /// The runs of one committed request (by its internal id); empty when there is none.
    async fn request_runs(&self, request_id: &str) -> StoreResult<Vec<RunRecord>>;
    /// Outputs of the run's succeeded stages, in order.
    async fn stage_outputs(&self, run_id: &str) -> StoreResult<Vec<(String, String)>>;

    /// Claims one claimable stage: queued and due, or running with an expired lease.
    async fn claim_stage(&self, worker: &str, now: i64, lease_ms: i64) -> StoreResult<Option<ClaimedStage>>;
    /// Extends a held lease; false means the lease was lost.
    async fn extend_lease(&self, stage: &ClaimedStage, worker: &str, now: i64, lease_ms: i64) -> StoreResult<bool>;
    /// Records the outcome; false means the lease was lost and nothing was written.
    async fn finish_stage(
        &self,
        stage: &ClaimedStage,
        worker: &str,
        outcome: &StageOutcome,
        now: i64,
    ) -> StoreResult<bool>;
    /// Like [`Store::finish_stage`]; when the stage succeeded and the run has a next
    /// stage, that stage is claimed for `worker` in the same transaction and returned.
    async fn finish_and_claim_next(
        &self,
        stage: &ClaimedStage,
        worker: &str,
        outcome: &StageOutcome,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<(bool, Option<ClaimedStage>)>;
    /// Marks an attempt that lost its lease as abandoned (finished, outcome `abandoned`).
    async fn abandon_attempt(&self, stage: &ClaimedStage, worker: &str, now: i64) -> StoreResult<()>;
    /// Hands a worker's leases back at shutdown so another worker may claim them at once.
    async fn release_leases(&self, worker: &str, now: i64) -> StoreResult<u64>;
    /// Queue depth, oldest due stage and runs by status, for the metrics gauges.
    async fn queue_snapshot(&self, now: i64) -> StoreResult<QueueSnapshot>;
    /// Re-queues a failed run's failed stage with fresh attempts.
    async fn retry_run(&self, id: &str, now: i64) -> StoreResult<bool>;
    /// Highest bundle version so far for a (service, profile) pair.
    async fn latest_bundle_version(&self, service_id: &str, profile_id: &str) -> StoreResult<i64>;
    async fn create_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()>;
    async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    async fn api_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRecord>>;
    /// Marks a key revoked; false when no unrevoked key has that id.
    async fn revoke_api_key(&self, id: &str, now: i64) -> StoreResult<bool>;
    /// Records `owner` for a profile id unless one is recorded; returns the recorded owner.
    async fn claim_profile_owner(&self, profile_id: &str, owner: &str, now: i64) -> StoreResult<String>;
    async fn profile_owner(&self, profile_id: &str) -> StoreResult<Option<String>>;
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// Audit entries after `(at, id)`, oldest first.
    async fn audit(&self, after: Option<(i64, String)>, limit: i64) -> StoreResult<Vec<AuditEntry>>;
    /// Takes `(principal, key)` for a call with `fingerprint`, forgetting entries older than `expired_before`.
    async fn idempotency_begin(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
        expired_before: i64,
    ) -> StoreResult<IdempotencyState>;
    async fn idempotency_complete(&self, principal: &str, key: &str, response: &IdempotentResponse) -> StoreResult<()>;
    /// Releases a key whose call failed with a server error, so it may be retried.
    async fn idempotency_abort(&self, principal: &str, key: &str) -> StoreResult<()>;
    /// Every recorded stage execution (for audits and concurrency tests).
    async fn stage_attempts(&self, run_id: &str) -> StoreResult<Vec<(i64, i64, String, i64, Option<i64>)>>;
}

/// Opens the store the URL names, as [`connect`], logging in to PostgreSQL with
/// RDS IAM tokens when `iam` is given (see [`rds_iam`]).
pub async fn connect_with(url: &str, iam: Option<rds_iam::IamLogin>) -> StoreResult<Arc<dyn Store>> {
    match iam {
        Some(login) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(PostgresStore::connect_iam(url, login).await?))
        }
        Some(_) => Err(StoreError::Config("IAM database authentication needs a postgres:// URL".into())),
        None => connect(url).await,
    }
}

/// Opens the store the URL names: `postgres://…` or `sqlite:…`.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
