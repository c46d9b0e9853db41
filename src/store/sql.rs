//! SQL shared by both backends (`$n` placeholders work in SQLite and PostgreSQL)
//! and the macro that implements [`Store`](super::Store) over a concrete pool.

pub const PROFILE_BY_HASH: &str = "SELECT profile_id, version, content_hash, document, created_at FROM profiles WHERE profile_id = $1 AND content_hash = $2";
pub const PROFILE_LATEST: &str = "SELECT profile_id, version, content_hash, document, created_at FROM profiles \
     WHERE profile_id = $1 ORDER BY version DESC LIMIT 1";
pub const PROFILE_VERSION: &str = "SELECT profile_id, version, content_hash, document, created_at FROM profiles WHERE profile_id = $1 AND version = $2";
pub const PROFILE_INSERT: &str = "INSERT INTO profiles (profile_id, version, content_hash, document, created_at) \
     VALUES ($1, (SELECT COALESCE(MAX(version), 0) + 1 FROM profiles WHERE profile_id = $1), $2, $3, $4)";

pub const REQUEST_INSERT: &str = "INSERT INTO requests (id, request_id, document, profile_id, profile_version, created_at, \
     traceparent) VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const RUN_INSERT: &str = "INSERT INTO runs (id, request_id, service_id, service_name, profile_id, profile_version, \
     bundle_version, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, \
     (SELECT COALESCE(MAX(bundle_version), 0) + 1 FROM runs WHERE service_id = $3 AND profile_id = $5), 'queued', $7, $7)";
pub const STAGE_INSERT: &str = "INSERT INTO stages (run_id, position, name, status, max_attempts, sched_key) \
     VALUES ($1, $2, $3, $4, $5, $6)";

pub const RUN_COLUMNS: &str = "id, request_id, service_id, service_name, profile_id, profile_version, bundle_version, \
     status, error, created_at, updated_at";
pub const API_KEY_COLUMNS: &str = "id, name, role, key_hash, created_at, revoked_at";
pub const API_KEY_INSERT: &str =
    "INSERT INTO api_keys (id, name, role, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)";
pub const API_KEY_REVOKE: &str = "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
pub const OWNER_CLAIM: &str =
    "INSERT INTO profile_owners (profile_id, owner, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
pub const OWNER_OF: &str = "SELECT owner FROM profile_owners WHERE profile_id = $1";
pub const AUDIT_INSERT: &str = "INSERT INTO audit_log (id, at, principal, action, target, status, request_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const AUDIT_PAGE: &str = "SELECT id, at, principal, action, target, status, request_id FROM audit_log \
     WHERE at > $1 OR (at = $1 AND id > $2) ORDER BY at, id LIMIT $3";
pub const IDEMPOTENCY_EXPIRE: &str =
    "DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND created_at < $3";
pub const IDEMPOTENCY_TAKE: &str = "INSERT INTO idempotency_keys (principal, key, fingerprint, status, created_at) \
     VALUES ($1, $2, $3, 0, $4) ON CONFLICT DO NOTHING";
pub const IDEMPOTENCY_GET: &str = "SELECT fingerprint, status, content_type, location, body FROM idempotency_keys \
     WHERE principal = $1 AND key = $2";
pub const IDEMPOTENCY_COMPLETE: &str = "UPDATE idempotency_keys SET status = $1, content_type = $2, location = $3, \
     body = $4 WHERE principal = $5 AND key = $6";
pub const IDEMPOTENCY_ABORT: &str = "DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND status = 0";
pub const STAGES_OF_RUN: &str = "SELECT position, name, status, attempts, max_attempts, started_at, finished_at, error \
     FROM stages WHERE run_id = $1 ORDER BY position";
pub const STAGE_OUTPUTS: &str =
    "SELECT name, output FROM stages WHERE run_id = $1 AND status = 'succeeded' ORDER BY position";

pub const EXTEND_LEASE: &str = "UPDATE stages SET lease_expires_at = $1 \
     WHERE run_id = $2 AND position = $3 AND status = 'running' AND lease_owner = $4";
pub const STAGE_SUCCEEDED: &str = "UPDATE stages SET status = 'succeeded', output = $1, finished_at = $2, error = NULL, \
     lease_owner = NULL, lease_expires_at = NULL \
     WHERE run_id = $3 AND position = $4 AND status = 'running' AND lease_owner = $5";
pub const QUEUE_NEXT: &str =
    "UPDATE stages SET status = 'queued', run_after = $1 WHERE run_id = $2 AND position = $3 AND status = 'pending'";
pub const RUN_STATUS: &str = "UPDATE runs SET status = $1, error = $2, updated_at = $3 WHERE id = $4";
/// Back-off lives in SQL: the delay doubles with every attempt already made.
pub const STAGE_RETRY_LATER: &str = "UPDATE stages SET status = 'queued', error = $1, \
     run_after = $2 + $3 * (1 << CAST(attempts - 1 AS INTEGER)), lease_owner = NULL, lease_expires_at = NULL \
     WHERE run_id = $4 AND position = $5 AND status = 'running' AND lease_owner = $6 AND attempts < max_attempts";
pub const STAGE_FAILED: &str = "UPDATE stages SET status = 'failed', error = $1, finished_at = $2, \
     lease_owner = NULL, lease_expires_at = NULL \
     WHERE run_id = $3 AND position = $4 AND status = 'running' AND lease_owner = $5";
pub const ATTEMPT_INSERT: &str =
    "INSERT INTO stage_attempts (run_id, position, attempt, worker, started_at) VALUES ($1, $2, $3, $4, $5)";
pub const ATTEMPT_FINISH: &str = "UPDATE stage_attempts SET finished_at = $1, outcome = $2 \
     WHERE run_id = $3 AND position = $4 AND attempt = $5 AND worker = $6 AND finished_at IS NULL";
pub const ATTEMPTS_OF_RUN: &str = "SELECT position, attempt, worker, started_at, finished_at FROM stage_attempts \
     WHERE run_id = $1 ORDER BY started_at, position";
pub const RELEASE_LEASES: &str = "UPDATE stages SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, \
     run_after = $1 WHERE status = 'running' AND lease_owner = $2";
pub const RELEASE_ATTEMPTS: &str = "UPDATE stage_attempts SET finished_at = $1, outcome = 'released' \
     WHERE worker = $2 AND finished_at IS NULL";
/// Scrape-time gauges: cheap aggregates over the `stages_claimable` and `runs_status` indexes.
pub const QUEUE_COUNTS: &str = "SELECT \
     COALESCE(SUM(CASE WHEN status = 'queued' THEN 1 ELSE 0 END), 0) AS queued, \
     COALESCE(SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END), 0) AS running, \
     COALESCE(MIN(CASE WHEN status = 'queued' AND run_after <= $1 THEN run_after END), $1) AS oldest_due \
     FROM stages WHERE status IN ('queued', 'running')";
pub const RUNS_BY_STATUS: &str = "SELECT status, COUNT(*) AS n FROM runs GROUP BY status";
pub const RETRY_STAGE: &str = "UPDATE stages SET status = 'queued', attempts = 0, run_after = $1, error = NULL, \
     finished_at = NULL WHERE run_id = $2 AND status = 'failed'";
pub const RETRY_RUN: &str =
    "UPDATE runs SET status = 'queued', error = NULL, updated_at = $1 WHERE id = $2 AND status = 'failed'";
pub const LATEST_BUNDLE: &str = "SELECT COALESCE(MAX(bundle_version), 0) FROM runs WHERE service_id = $1 AND profile_id = $2 AND status = 'succeeded'";
/// `abandoned` counts earlier attempts that never finished: the stage is being
/// claimed again because their lease expired (released leases are finished).
pub const CLAIM_DETAILS: &str = "SELECT r.service_id, r.service_name, r.profile_id, r.profile_version, r.bundle_version, s.name, s.attempts, s.max_attempts, q.traceparent, \
     (SELECT COUNT(*) FROM stage_attempts a WHERE a.run_id = s.run_id AND a.position = s.position \
        AND a.finished_at IS NULL) AS abandoned \
     FROM stages s JOIN runs r ON r.id = s.run_id JOIN requests q ON q.id = r.request_id WHERE s.run_id = $1 AND s.position = $2";
/// Claims a run's next stage for the worker that just finished the one before it
/// (a pending stage never ran, so it has no abandoned attempts).
pub const CLAIM_NEXT: &str = "UPDATE stages SET status = 'running', lease_owner = $1, lease_expires_at = $2, \
     attempts = attempts + 1, started_at = COALESCE(started_at, $3), run_after = $3 \
     WHERE run_id = $4 AND position = $5 AND status = 'pending' RETURNING name, attempts, max_attempts";
pub const RUN_RUNNING: &str = "UPDATE runs SET status = 'running', updated_at = $1 WHERE id = $2 AND status = 'queued'";

/// A value bound to the runs-page query, in placeholder order.
pub enum PageBind {
    Text(String),
    Int(i64),
}

/// The runs-page query: one statement per page, reading each run's stage summary from
/// `runs.stages_json` (kept by triggers, migration 1403). Only the filters present become
/// conditions, so each combination is its own prepared statement with a plan that uses the
/// indexes (an `$1 IS NULL OR …` form defeats PostgreSQL's generic plan), and the cursor is
/// a row-value comparison both dialects serve from `runs_order`.
///
/// With an `aggregate` (the backend's `PAGE_AGGREGATE`) the page comes back as one value:
/// the page's rows folded into one JSON array of `[RUN_COLUMNS…, stages]`. sqlx-sqlite
/// hands every row from its worker thread to the async side through a channel, and with
/// one row per run those hand-offs (context switches) were about a quarter of the
/// server's time in a `perf` profile of `GET /v1/runs?limit=50`; folded, SQLite served
/// 5,200 req/s instead of 4,400. PostgreSQL streams rows cheaply and building the JSON
/// there cost more than it saved (2,600 req/s instead of 3,500), so it reads one row per run.
pub fn runs_page(f: &crate::store::RunFilter, aggregate: Option<&str>) -> (String, Vec<PageBind>) {
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    for (column, value) in [("status", &f.status), ("service_id", &f.service_id), ("profile_id", &f.profile_id)] {
        if let Some(value) = value {
            binds.push(PageBind::Text(value.clone()));
            conditions.push(format!("{column} = ${}", binds.len()));
        }
    }
    if let Some((ts, id)) = &f.after {
        binds.push(PageBind::Int(*ts));
        binds.push(PageBind::Text(id.clone()));
        conditions.push(format!("(created_at, id) > (${}, ${})", binds.len() - 1, binds.len()));
    }
    binds.push(PageBind::Int(f.limit));
    let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let page =
        format!("SELECT {RUN_COLUMNS}, stages_json FROM runs {filter} ORDER BY created_at, id LIMIT ${}", binds.len());
    match aggregate {
        Some(aggregate) => {
            let folded = aggregate.replace("{columns}", RUN_COLUMNS);
            (format!("SELECT {folded} FROM ({page}) AS page"), binds)
        }
        None => (page, binds),
    }
}

/// A stage as `runs.stages_json` holds it (migration 1403), in column order.
type StageTuple = (i64, String, String, i64, i64, Option<i64>, Option<i64>, Option<String>);

/// The stages of one run from its `stages_json` column (one row per run).
pub fn stages_from_json(text: &str) -> crate::store::StoreResult<Vec<crate::store::StageRecord>> {
    let tuples: Vec<StageTuple> = serde_json::from_str(text)
        .map_err(|e| crate::store::StoreError::Corrupt(format!("stages of a run page: {e}")))?;
    Ok(tuples.into_iter().map(stage_from_tuple).collect())
}

fn stage_from_tuple(t: StageTuple) -> crate::store::StageRecord {
    let (position, name, status, attempts, max_attempts, started_at, finished_at, error) = t;
    crate::store::StageRecord { position, name, status, attempts, max_attempts, started_at, finished_at, error }
}

/// A run as the page aggregate writes it: `RUN_COLUMNS` in order, then the stages.
type RunTuple = (String, String, String, String, String, i64, i64, String, Option<String>, i64, i64, Vec<StageTuple>);

/// The runs of one page from the page query's single JSON value, in page order
/// (sorted here: SQLite's `json_group_array` does not promise the subquery's order).
pub fn runs_from_page_json(text: &str) -> crate::store::StoreResult<Vec<crate::store::RunRecord>> {
    let tuples: Vec<RunTuple> =
        serde_json::from_str(text).map_err(|e| crate::store::StoreError::Corrupt(format!("a run page: {e}")))?;
    let mut runs: Vec<crate::store::RunRecord> = tuples.into_iter().map(run_from_tuple).collect();
    runs.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(runs)
}

fn run_from_tuple(t: RunTuple) -> crate::store::RunRecord {
    let (id, request_id, service_id, service_name, profile_id, profile_version, bundle_version, status, error) =
        (t.0, t.1, t.2, t.3, t.4, t.5, t.6, t.7, t.8);
    let stages = t.11.into_iter().map(stage_from_tuple).collect();
    crate::store::RunRecord {
        id,
        request_id,
        service_id,
        service_name,
        profile_id,
        profile_version,
        bundle_version,
        status,
        error,
        created_at: t.9,
        updated_at: t.10,
        stages,
    }
}

/// Implements `Store` for a backend struct with a `pool` field and a claim statement.
macro_rules! impl_store {
    ($store:ty, $db:ty, $claim:expr, $library:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn library(&self) -> std::sync::Arc<dyn $crate::library::Library> {
                std::sync::Arc::new(<$library>::new(self.pool.clone()))
            }

            async fn migrate(&self) -> $crate::store::StoreResult<()> {
                self.migrator().run(&self.pool).await?;
                Ok(())
            }

            async fn ping(&self) -> $crate::store::StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn save_profile(
                &self,
                profile_id: &str,
                hash: &str,
                document: &str,
                now: i64,
            ) -> $crate::store::StoreResult<($crate::store::StoredProfile, bool)> {
                use $crate::store::sql::*;
                // Version allocation is serialised per profile id: the write
                // transaction (SQLite) or advisory lock (PostgreSQL) is taken before
                // reading, so concurrent writers get n+1, n+2, … or the existing version.
                let mut tx = self.pool.begin_with(<$store>::WRITE_BEGIN).await?;
                sqlx::query(<$store>::ALLOCATION_LOCK).bind(format!("profile:{profile_id}")).execute(&mut *tx).await?;
                if let Some(row) =
                    sqlx::query(PROFILE_BY_HASH).bind(profile_id).bind(hash).fetch_optional(&mut *tx).await?
                {
                    return Ok((profile_from_row(&row)?, false));
                }
                sqlx::query(PROFILE_INSERT)
                    .bind(profile_id)
                    .bind(hash)
                    .bind(document)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let row = sqlx::query(PROFILE_BY_HASH).bind(profile_id).bind(hash).fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok((profile_from_row(&row)?, true))
            }

            async fn profile(
                &self,
                profile_id: &str,
                version: Option<i64>,
            ) -> $crate::store::StoreResult<Option<$crate::store::StoredProfile>> {
                use $crate::store::sql::*;
                let row = match version {
                    Some(v) => sqlx::query(PROFILE_VERSION).bind(profile_id).bind(v).fetch_optional(&self.pool).await?,
                    None => sqlx::query(PROFILE_LATEST).bind(profile_id).fetch_optional(&self.pool).await?,
                };
                row.as_ref().map(profile_from_row).transpose()
            }

            async fn create_request(&self, r: &$crate::store::NewRequest, now: i64) -> $crate::store::StoreResult<()> {
                use $crate::store::sql::*;
                // Bundle versions are MAX+1 per (profile, service), allocated inside this
                // transaction under a per-profile lock; a unique index backs it up.
                let mut tx = self.pool.begin_with(<$store>::WRITE_BEGIN).await?;
                sqlx::query(<$store>::ALLOCATION_LOCK)
                    .bind(format!("bundle:{}", r.profile_id))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(REQUEST_INSERT)
                    .bind(&r.id)
                    .bind(&r.request_id)
                    .bind(&r.document)
                    .bind(&r.profile_id)
                    .bind(r.profile_version)
                    .bind(now)
                    .bind(&r.traceparent)
                    .execute(&mut *tx)
                    .await?;
                for (service_id, service_name, run_id) in &r.runs {
                    sqlx::query(RUN_INSERT)
                        .bind(run_id)
                        .bind(&r.id)
                        .bind(service_id)
                        .bind(service_name)
                        .bind(&r.profile_id)
                        .bind(r.profile_version)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    for (position, name) in r.stages.iter().enumerate() {
                        let status = if position == 0 { "queued" } else { "pending" };
                        sqlx::query(STAGE_INSERT)
                            .bind(run_id)
                            .bind(position as i64)
                            .bind(*name)
                            .bind(status)
                            .bind(r.max_attempts)
                            .bind(now + r.priority.offset_ms())
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn run(&self, id: &str) -> $crate::store::StoreResult<Option<$crate::store::RunRecord>> {
                use $crate::store::sql::*;
                let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
                let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await? else {
                    return Ok(None);
                };
                let mut run = run_from_row(&row)?;
                run.stages = self.stages_of(&run.id).await?;
                Ok(Some(run))
            }

            async fn advisor_cached(&self, key: &str) -> $crate::store::StoreResult<Option<String>> {
                Ok(sqlx::query_scalar("SELECT answer FROM advisor_cache WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn advisor_cache(
                &self,
                key: &str,
                model_id: &str,
                answer: &str,
                now: i64,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO advisor_cache (key, model_id, answer, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (key) DO NOTHING",
                )
                .bind(key)
                .bind(model_id)
                .bind(answer)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn request_runs(
                &self,
                request_id: &str,
            ) -> $crate::store::StoreResult<Vec<$crate::store::RunRecord>> {
                use $crate::store::sql::*;
                let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE request_id = $1 ORDER BY created_at, id");
                let rows = sqlx::query(&sql).bind(request_id).fetch_all(&self.pool).await?;
                let mut runs = Vec::with_capacity(rows.len());
                for row in &rows {
                    let mut run = run_from_row(row)?;
                    run.stages = self.stages_of(&run.id).await?;
                    runs.push(run);
                }
                Ok(runs)
            }

            async fn runs(
                &self,
                f: &$crate::store::RunFilter,
            ) -> $crate::store::StoreResult<Vec<$crate::store::RunRecord>> {
                use $crate::store::sql::*;
                let (sql, binds) = runs_page(f, <$store>::PAGE_AGGREGATE);
                let mut query = sqlx::query(&sql);
                for bind in binds {
                    query = match bind {
                        PageBind::Text(text) => query.bind(text),
                        PageBind::Int(n) => query.bind(n),
                    };
                }
                if <$store>::PAGE_AGGREGATE.is_some() {
                    let page: String = sqlx::Row::try_get(&query.fetch_one(&self.pool).await?, 0)?;
                    return runs_from_page_json(&page);
                }
                let rows = query.fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|row| {
                        let mut run = run_from_row(row)?;
                        run.stages = stages_from_json(&sqlx::Row::try_get::<String, _>(row, "stages_json")?)?;
                        Ok(run)
                    })
                    .collect()
            }

            async fn stage_outputs(&self, run_id: &str) -> $crate::store::StoreResult<Vec<(String, String)>> {
                use sqlx::Row;
                let rows = sqlx::query($crate::store::sql::STAGE_OUTPUTS).bind(run_id).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("name")?, r.try_get::<Option<String>, _>("output")?.unwrap_or_default())))
                    .collect()
            }

            async fn claim_stage(
                &self,
                worker: &str,
                now: i64,
                lease_ms: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::ClaimedStage>> {
                use sqlx::Row;
                use $crate::store::sql::*;
                let mut tx = self.pool.begin().await?;
                // A stage whose worker died comes first (its run had started), then the lowest key.
                let mut claimed = None;
                for claim in $claim {
                    claimed =
                        sqlx::query(claim).bind(worker).bind(now + lease_ms).bind(now).fetch_optional(&mut *tx).await?;
                    if claimed.is_some() {
                        break;
                    }
                }
                let Some(row) = claimed else { return Ok(None) };
                let run_id: String = row.try_get("run_id")?;
                let position: i64 = row.try_get("position")?;
                let d = sqlx::query(CLAIM_DETAILS).bind(&run_id).bind(position).fetch_one(&mut *tx).await?;
                let stage = $crate::store::ClaimedStage {
                    run_id,
                    position,
                    name: d.try_get("name")?,
                    attempt: d.try_get("attempts")?,
                    service_id: d.try_get("service_id")?,
                    service_name: d.try_get("service_name")?,
                    profile_id: d.try_get("profile_id")?,
                    profile_version: d.try_get("profile_version")?,
                    bundle_version: d.try_get("bundle_version")?,
                    max_attempts: d.try_get("max_attempts")?,
                    lease_expired: d.try_get::<i64, _>("abandoned")? > 0,
                    traceparent: d.try_get("traceparent")?,
                };
                insert_attempt(&mut tx, &stage, worker, now).await?;
                sqlx::query(RUN_RUNNING).bind(now).bind(&stage.run_id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(Some(stage))
            }

            async fn extend_lease(
                &self,
                s: &$crate::store::ClaimedStage,
                worker: &str,
                now: i64,
                lease_ms: i64,
            ) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query($crate::store::sql::EXTEND_LEASE)
                    .bind(now + lease_ms)
                    .bind(&s.run_id)
                    .bind(s.position)
                    .bind(worker)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn finish_stage(
                &self,
                s: &$crate::store::ClaimedStage,
                worker: &str,
                outcome: &$crate::store::StageOutcome,
                now: i64,
            ) -> $crate::store::StoreResult<bool> {
                Ok(self.finish(s, worker, outcome, now, None).await?.0)
            }

            async fn finish_and_claim_next(
                &self,
                s: &$crate::store::ClaimedStage,
                worker: &str,
                outcome: &$crate::store::StageOutcome,
                now: i64,
                lease_ms: i64,
            ) -> $crate::store::StoreResult<(bool, Option<$crate::store::ClaimedStage>)> {
                self.finish(s, worker, outcome, now, Some(lease_ms)).await
            }

            async fn abandon_attempt(
                &self,
                s: &$crate::store::ClaimedStage,
                worker: &str,
                now: i64,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query($crate::store::sql::ATTEMPT_FINISH)
                    .bind(now)
                    .bind("abandoned")
                    .bind(&s.run_id)
                    .bind(s.position)
                    .bind(s.attempt)
                    .bind(worker)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn release_leases(&self, worker: &str, now: i64) -> $crate::store::StoreResult<u64> {
                use $crate::store::sql::*;
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(RELEASE_LEASES).bind(now).bind(worker).execute(&mut *tx).await?;
                sqlx::query(RELEASE_ATTEMPTS).bind(now).bind(worker).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }

            async fn queue_snapshot(&self, now: i64) -> $crate::store::StoreResult<$crate::store::QueueSnapshot> {
                use sqlx::Row;
                use $crate::store::sql::*;
                let q = sqlx::query(QUEUE_COUNTS).bind(now).fetch_one(&self.pool).await?;
                let runs = sqlx::query(RUNS_BY_STATUS).fetch_all(&self.pool).await?;
                Ok($crate::store::QueueSnapshot {
                    queued: q.try_get("queued")?,
                    running: q.try_get("running")?,
                    oldest_due_ms: now - q.try_get::<i64, _>("oldest_due")?,
                    runs_by_status: runs
                        .iter()
                        .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
                        .collect::<Result<_, sqlx::Error>>()?,
                })
            }

            async fn retry_run(&self, id: &str, now: i64) -> $crate::store::StoreResult<bool> {
                use $crate::store::sql::*;
                let mut tx = self.pool.begin().await?;
                let run = sqlx::query(RETRY_RUN).bind(now).bind(id).execute(&mut *tx).await?;
                if run.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query(RETRY_STAGE).bind(now).bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn latest_bundle_version(
                &self,
                service_id: &str,
                profile_id: &str,
            ) -> $crate::store::StoreResult<i64> {
                let v: i64 = sqlx::query_scalar($crate::store::sql::LATEST_BUNDLE)
                    .bind(service_id)
                    .bind(profile_id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(v)
            }

            async fn create_api_key(&self, k: &$crate::store::ApiKeyRecord) -> $crate::store::StoreResult<()> {
                sqlx::query($crate::store::sql::API_KEY_INSERT)
                    .bind(&k.id)
                    .bind(&k.name)
                    .bind(&k.role)
                    .bind(&k.key_hash)
                    .bind(k.created_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn api_keys(&self) -> $crate::store::StoreResult<Vec<$crate::store::ApiKeyRecord>> {
                let sql =
                    format!("SELECT {} FROM api_keys ORDER BY created_at, id", $crate::store::sql::API_KEY_COLUMNS);
                let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
                rows.iter().map(api_key_from_row).collect()
            }

            async fn api_key_by_hash(
                &self,
                hash: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::ApiKeyRecord>> {
                let sql = format!("SELECT {} FROM api_keys WHERE key_hash = $1", $crate::store::sql::API_KEY_COLUMNS);
                let row = sqlx::query(&sql).bind(hash).fetch_optional(&self.pool).await?;
                row.as_ref().map(api_key_from_row).transpose()
            }

            async fn revoke_api_key(&self, id: &str, now: i64) -> $crate::store::StoreResult<bool> {
                let done =
                    sqlx::query($crate::store::sql::API_KEY_REVOKE).bind(now).bind(id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn claim_profile_owner(
                &self,
                profile_id: &str,
                owner: &str,
                now: i64,
            ) -> $crate::store::StoreResult<String> {
                sqlx::query($crate::store::sql::OWNER_CLAIM)
                    .bind(profile_id)
                    .bind(owner)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                let owner: String =
                    sqlx::query_scalar($crate::store::sql::OWNER_OF).bind(profile_id).fetch_one(&self.pool).await?;
                Ok(owner)
            }

            async fn profile_owner(&self, profile_id: &str) -> $crate::store::StoreResult<Option<String>> {
                Ok(sqlx::query_scalar($crate::store::sql::OWNER_OF).bind(profile_id).fetch_optional(&self.pool).await?)
            }

            async fn record_audit(&self, e: &$crate::store::AuditEntry) -> $crate::store::StoreResult<()> {
                sqlx::query($crate::store::sql::AUDIT_INSERT)
                    .bind(&e.id)
                    .bind(e.at)
                    .bind(&e.principal)
                    .bind(&e.action)
                    .bind(&e.target)
                    .bind(e.status)
                    .bind(&e.request_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn audit(
                &self,
                after: Option<(i64, String)>,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::AuditEntry>> {
                use sqlx::Row;
                let (at, id) = after.unwrap_or((i64::MIN, String::new()));
                let rows = sqlx::query($crate::store::sql::AUDIT_PAGE)
                    .bind(at)
                    .bind(id)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::store::AuditEntry {
                            id: r.try_get("id")?,
                            at: r.try_get("at")?,
                            principal: r.try_get("principal")?,
                            action: r.try_get("action")?,
                            target: r.try_get("target")?,
                            status: r.try_get("status")?,
                            request_id: r.try_get("request_id")?,
                        })
                    })
                    .collect()
            }

            async fn idempotency_begin(
                &self,
                principal: &str,
                key: &str,
                fingerprint: &str,
                now: i64,
                expired_before: i64,
            ) -> $crate::store::StoreResult<$crate::store::IdempotencyState> {
                use sqlx::Row;
                use $crate::store::sql::*;
                use $crate::store::{IdempotencyState, IdempotentResponse};
                sqlx::query(IDEMPOTENCY_EXPIRE)
                    .bind(principal)
                    .bind(key)
                    .bind(expired_before)
                    .execute(&self.pool)
                    .await?;
                let taken = sqlx::query(IDEMPOTENCY_TAKE)
                    .bind(principal)
                    .bind(key)
                    .bind(fingerprint)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                if taken.rows_affected() == 1 {
                    return Ok(IdempotencyState::New);
                }
                let row = sqlx::query(IDEMPOTENCY_GET).bind(principal).bind(key).fetch_one(&self.pool).await?;
                let fingerprint: String = row.try_get("fingerprint")?;
                let status: i64 = row.try_get("status")?;
                if status == 0 {
                    return Ok(IdempotencyState::InProgress { fingerprint });
                }
                let response = IdempotentResponse {
                    status,
                    content_type: row.try_get("content_type")?,
                    location: row.try_get("location")?,
                    body: row.try_get::<Option<String>, _>("body")?.unwrap_or_default(),
                };
                Ok(IdempotencyState::Done { fingerprint, response })
            }

            async fn idempotency_complete(
                &self,
                principal: &str,
                key: &str,
                r: &$crate::store::IdempotentResponse,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query($crate::store::sql::IDEMPOTENCY_COMPLETE)
                    .bind(r.status)
                    .bind(&r.content_type)
                    .bind(&r.location)
                    .bind(&r.body)
                    .bind(principal)
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn idempotency_abort(&self, principal: &str, key: &str) -> $crate::store::StoreResult<()> {
                sqlx::query($crate::store::sql::IDEMPOTENCY_ABORT)
                    .bind(principal)
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn stage_attempts(
                &self,
                run_id: &str,
            ) -> $crate::store::StoreResult<Vec<(i64, i64, String, i64, Option<i64>)>> {
                use sqlx::Row;
                let rows = sqlx::query($crate::store::sql::ATTEMPTS_OF_RUN).bind(run_id).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.try_get("position")?,
                            r.try_get("attempt")?,
                            r.try_get("worker")?,
                            r.try_get("started_at")?,
                            r.try_get("finished_at")?,
                        ))
                    })
                    .collect()
            }
        }

        impl $store {
            /// Records the outcome in one transaction; with `chain_lease`, a success also
            /// claims the run's next stage for the same worker (no other worker could have
            /// seen it queued), so a run's stages follow one another without a poll.
            async fn finish(
                &self,
                s: &$crate::store::ClaimedStage,
                worker: &str,
                outcome: &$crate::store::StageOutcome,
                now: i64,
                chain_lease: Option<i64>,
            ) -> $crate::store::StoreResult<(bool, Option<$crate::store::ClaimedStage>)> {
                use $crate::store::StageOutcome;
                use $crate::store::sql::*;
                let mut tx = self.pool.begin().await?;
                let mut next = None;
                let (updated, label) = match outcome {
                    StageOutcome::Succeeded { output } => {
                        let done = sqlx::query(STAGE_SUCCEEDED)
                            .bind(output)
                            .bind(now)
                            .bind(&s.run_id)
                            .bind(s.position)
                            .bind(worker)
                            .execute(&mut *tx)
                            .await?;
                        if done.rows_affected() == 1 {
                            next = match chain_lease {
                                Some(lease_ms) => claim_next(&mut tx, s, worker, now, lease_ms).await?,
                                None => None,
                            };
                            let queued = next.is_some()
                                || sqlx::query(QUEUE_NEXT)
                                    .bind(now)
                                    .bind(&s.run_id)
                                    .bind(s.position + 1)
                                    .execute(&mut *tx)
                                    .await?
                                    .rows_affected()
                                    == 1;
                            if !queued {
                                sqlx::query(RUN_STATUS)
                                    .bind("succeeded")
                                    .bind(None::<String>)
                                    .bind(now)
                                    .bind(&s.run_id)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                        }
                        (done.rows_affected(), "succeeded")
                    }
                    StageOutcome::Transient { error, backoff_base_ms } => {
                        let later = sqlx::query(STAGE_RETRY_LATER)
                            .bind(error)
                            .bind(now)
                            .bind(*backoff_base_ms)
                            .bind(&s.run_id)
                            .bind(s.position)
                            .bind(worker)
                            .execute(&mut *tx)
                            .await?;
                        if later.rows_affected() == 1 {
                            (1, "retry")
                        } else {
                            (fail(&mut tx, s, worker, error, now).await?, "failed")
                        }
                    }
                    StageOutcome::Permanent { error } => (fail(&mut tx, s, worker, error, now).await?, "failed"),
                };
                if updated == 0 {
                    return Ok((false, None));
                }
                sqlx::query(ATTEMPT_FINISH)
                    .bind(now)
                    .bind(label)
                    .bind(&s.run_id)
                    .bind(s.position)
                    .bind(s.attempt)
                    .bind(worker)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok((true, next))
            }

            async fn stages_of(&self, run_id: &str) -> $crate::store::StoreResult<Vec<$crate::store::StageRecord>> {
                use sqlx::Row;
                let rows = sqlx::query($crate::store::sql::STAGES_OF_RUN).bind(run_id).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::store::StageRecord {
                            position: r.try_get("position")?,
                            name: r.try_get("name")?,
                            status: r.try_get("status")?,
                            attempts: r.try_get("attempts")?,
                            max_attempts: r.try_get("max_attempts")?,
                            started_at: r.try_get("started_at")?,
                            finished_at: r.try_get("finished_at")?,
                            error: r.try_get("error")?,
                        })
                    })
                    .collect()
            }
        }

        /// Claims the stage after `s` for `worker`, in the caller's transaction.
        async fn claim_next(
            tx: &mut sqlx::Transaction<'_, $db>,
            s: &$crate::store::ClaimedStage,
            worker: &str,
            now: i64,
            lease_ms: i64,
        ) -> $crate::store::StoreResult<Option<$crate::store::ClaimedStage>> {
            use sqlx::Row;
            let row = sqlx::query($crate::store::sql::CLAIM_NEXT)
                .bind(worker)
                .bind(now + lease_ms)
                .bind(now)
                .bind(&s.run_id)
                .bind(s.position + 1)
                .fetch_optional(&mut **tx)
                .await?;
            let Some(row) = row else { return Ok(None) };
            let next = $crate::store::ClaimedStage {
                position: s.position + 1,
                name: row.try_get("name")?,
                attempt: row.try_get("attempts")?,
                max_attempts: row.try_get("max_attempts")?,
                lease_expired: false,
                ..s.clone()
            };
            insert_attempt(tx, &next, worker, now).await?;
            Ok(Some(next))
        }

        async fn insert_attempt(
            tx: &mut sqlx::Transaction<'_, $db>,
            s: &$crate::store::ClaimedStage,
            worker: &str,
            now: i64,
        ) -> $crate::store::StoreResult<()> {
            sqlx::query($crate::store::sql::ATTEMPT_INSERT)
                .bind(&s.run_id)
                .bind(s.position)
                .bind(s.attempt)
                .bind(worker)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        async fn fail(
            tx: &mut sqlx::Transaction<'_, $db>,
            s: &$crate::store::ClaimedStage,
            worker: &str,
            error: &str,
            now: i64,
        ) -> $crate::store::StoreResult<u64> {
            use $crate::store::sql::*;
            let done = sqlx::query(STAGE_FAILED)
                .bind(error)
                .bind(now)
                .bind(&s.run_id)
                .bind(s.position)
                .bind(worker)
                .execute(&mut **tx)
                .await?;
            if done.rows_affected() == 1 {
                let message = format!("stage {} failed: {error}", s.name);
                sqlx::query(RUN_STATUS)
                    .bind("failed")
                    .bind(message)
                    .bind(now)
                    .bind(&s.run_id)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok(done.rows_affected())
        }

        fn api_key_from_row<R: sqlx::Row>(row: &R) -> $crate::store::StoreResult<$crate::store::ApiKeyRecord>
        where
            for<'a> &'a str: sqlx::ColumnIndex<R>,
            for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
            for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
            for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        {
            Ok($crate::store::ApiKeyRecord {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                role: row.try_get("role")?,
                key_hash: row.try_get("key_hash")?,
                created_at: row.try_get("created_at")?,
                revoked_at: row.try_get("revoked_at")?,
            })
        }

        fn profile_from_row<R: sqlx::Row>(row: &R) -> $crate::store::StoreResult<$crate::store::StoredProfile>
        where
            for<'a> &'a str: sqlx::ColumnIndex<R>,
            for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
            for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        {
            Ok($crate::store::StoredProfile {
                profile_id: row.try_get("profile_id")?,
                version: row.try_get("version")?,
                content_hash: row.try_get("content_hash")?,
                document: row.try_get("document")?,
                created_at: row.try_get("created_at")?,
            })
        }

        fn run_from_row<R: sqlx::Row>(row: &R) -> $crate::store::StoreResult<$crate::store::RunRecord>
        where
            for<'a> &'a str: sqlx::ColumnIndex<R>,
            for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
            for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
            for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        {
            Ok($crate::store::RunRecord {
                id: row.try_get("id")?,
                request_id: row.try_get("request_id")?,
                service_id: row.try_get("service_id")?,
                service_name: row.try_get("service_name")?,
                profile_id: row.try_get("profile_id")?,
                profile_version: row.try_get("profile_version")?,
                bundle_version: row.try_get("bundle_version")?,
                status: row.try_get("status")?,
                error: row.try_get("error")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                stages: Vec::new(),
            })
        }
    };
}

pub(crate) use impl_store;
