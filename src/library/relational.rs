//! The library in the relational store (SQLite or PostgreSQL, same SQL text).
//! One transaction per decision; `INSERT … ON CONFLICT DO NOTHING` on the run id
//! is the "decided once" guard, so a losing concurrent reviewer writes nothing.

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

const DECISION_INSERT: &str = "INSERT INTO approval_decisions (run_id, service_id, profile_id, profile_version, \
     bundle_version, decision, reviewer, comment, waivers, decided_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (run_id) DO NOTHING";
const AUDIT_INSERT: &str = "INSERT INTO approval_audit (id, run_id, service_id, profile_id, profile_version, \
     bundle_version, decision, reviewer, comment, waivers, decided_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const BUNDLE_INSERT: &str = "INSERT INTO library_bundles (run_id, profile_id, service_id, bundle_version, \
     profile_version, reviewer, approved_at, iam_model, templates, artifacts) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const CONTROL_INSERT: &str = "INSERT INTO library_controls (run_id, control_id, title, category, priority, \
     frameworks, definition) VALUES ($1, $2, $3, $4, $5, $6, $7)";
const WAIVER_INSERT: &str =
    "INSERT INTO library_waivers (run_id, control_id, reason, expires_at) VALUES ($1, $2, $3, $4)";

const DECISION_COLUMNS: &str = "run_id, service_id, profile_id, profile_version, bundle_version, decision, reviewer, \
     comment, waivers, decided_at";
const DECISION_BY_RUN: &str = "SELECT run_id, service_id, profile_id, profile_version, bundle_version, decision, \
     reviewer, comment, waivers, decided_at FROM approval_decisions WHERE run_id = $1";

/// Only the highest approved bundle version of each (profile, service) is "the" library entry.
const LATEST: &str = "b.bundle_version = (SELECT MAX(x.bundle_version) FROM library_bundles x \
     WHERE x.profile_id = b.profile_id AND x.service_id = b.service_id)";

fn services_sql() -> String {
    format!(
        "SELECT b.run_id, b.profile_id, b.service_id, b.bundle_version, b.profile_version, b.reviewer, b.approved_at, \
         (SELECT COUNT(*) FROM library_controls c WHERE c.run_id = b.run_id) AS controls \
         FROM library_bundles b WHERE {LATEST} \
         AND (CAST($1 AS TEXT) IS NULL OR b.profile_id = $1) AND (CAST($2 AS TEXT) IS NULL OR b.service_id = $2) \
         ORDER BY b.profile_id, b.service_id"
    )
}

fn controls_sql() -> String {
    format!(
        "SELECT b.profile_id, b.service_id, b.run_id, b.bundle_version, c.control_id, c.title, c.category, \
         c.priority, c.frameworks, c.definition, w.reason, w.expires_at \
         FROM library_controls c JOIN library_bundles b ON b.run_id = c.run_id \
         LEFT JOIN library_waivers w ON w.run_id = c.run_id AND w.control_id = c.control_id AND w.expires_at > $1 \
         WHERE {LATEST} AND (CAST($2 AS TEXT) IS NULL OR b.profile_id = $2) \
         AND (CAST($3 AS TEXT) IS NULL OR b.service_id = $3) AND (CAST($4 AS TEXT) IS NULL OR c.category = $4) \
         ORDER BY b.profile_id, b.service_id, c.control_id"
    )
}

const WAIVERS_ACTIVE: &str = "SELECT control_id, reason, expires_at FROM library_waivers \
     WHERE run_id = $1 AND expires_at > $2 ORDER BY control_id";
const BUNDLE_BODY: &str = "SELECT iam_model, templates, artifacts FROM library_bundles WHERE run_id = $1";

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("library values serialise")
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> crate::library::LibraryResult<T> {
    serde_json::from_str(text).map_err(|e| crate::library::LibraryError::Corrupt(format!("{what}: {e}")))
}

fn verdict(text: &str) -> crate::library::LibraryResult<crate::library::Verdict> {
    crate::library::Verdict::parse(text)
        .ok_or_else(|| crate::library::LibraryError::Corrupt(format!("decision '{text}'")))
}

/// Implements [`Library`](crate::library::Library) for a struct with a `pool` of the given backend.
macro_rules! impl_library {
    ($lib:ident, $pool:ty, $db:ty) => {
        pub struct $lib {
            pool: $pool,
        }

        impl $lib {
            /// Shares the relational store's pool; the tables come from its migrations.
            pub fn new(pool: $pool) -> $lib {
                $lib { pool }
            }

            async fn insert_bundle(
                tx: &mut sqlx::Transaction<'_, $db>,
                r: &crate::library::DecisionRecord,
                b: &crate::library::BundleContent,
            ) -> crate::library::LibraryResult<()> {
                sqlx::query(BUNDLE_INSERT)
                    .bind(&r.run_id)
                    .bind(&r.profile_id)
                    .bind(&r.service_id)
                    .bind(r.bundle_version)
                    .bind(r.profile_version)
                    .bind(&r.reviewer)
                    .bind(r.decided_at)
                    .bind(json(&b.iam_model))
                    .bind(json(&b.templates))
                    .bind(json(&b.artifacts))
                    .execute(&mut **tx)
                    .await?;
                for c in &b.controls {
                    sqlx::query(CONTROL_INSERT)
                        .bind(&r.run_id)
                        .bind(&c.control_id)
                        .bind(&c.title)
                        .bind(&c.category)
                        .bind(&c.priority)
                        .bind(json(&c.frameworks))
                        .bind(json(&c.definition))
                        .execute(&mut **tx)
                        .await?;
                }
                for w in &r.waivers {
                    sqlx::query(WAIVER_INSERT)
                        .bind(&r.run_id)
                        .bind(&w.control_id)
                        .bind(&w.reason)
                        .bind(w.expires_at)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }

            async fn active_waivers(
                &self,
                run_id: &str,
                now: i64,
            ) -> crate::library::LibraryResult<Vec<crate::library::Waiver>> {
                use sqlx::Row;
                let rows = sqlx::query(WAIVERS_ACTIVE).bind(run_id).bind(now).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(crate::library::Waiver {
                            control_id: r.try_get("control_id")?,
                            reason: r.try_get("reason")?,
                            expires_at: r.try_get("expires_at")?,
                        })
                    })
                    .collect()
            }
        }

        #[async_trait::async_trait]
        impl crate::library::Library for $lib {
            async fn decide(&self, d: &crate::library::NewDecision) -> crate::library::LibraryResult<()> {
                let r = &d.record;
                let mut tx = self.pool.begin().await?;
                let inserted = sqlx::query(DECISION_INSERT)
                    .bind(&r.run_id)
                    .bind(&r.service_id)
                    .bind(&r.profile_id)
                    .bind(r.profile_version)
                    .bind(r.bundle_version)
                    .bind(r.decision.as_str())
                    .bind(&r.reviewer)
                    .bind(&r.comment)
                    .bind(json(&r.waivers))
                    .bind(r.decided_at)
                    .execute(&mut *tx)
                    .await?;
                if inserted.rows_affected() == 0 {
                    return Err(crate::library::LibraryError::AlreadyDecided(r.run_id.clone()));
                }
                sqlx::query(AUDIT_INSERT)
                    .bind(uuid::Uuid::new_v4().to_string())
                    .bind(&r.run_id)
                    .bind(&r.service_id)
                    .bind(&r.profile_id)
                    .bind(r.profile_version)
                    .bind(r.bundle_version)
                    .bind(r.decision.as_str())
                    .bind(&r.reviewer)
                    .bind(&r.comment)
                    .bind(json(&r.waivers))
                    .bind(r.decided_at)
                    .execute(&mut *tx)
                    .await?;
                if let Some(bundle) = &d.bundle {
                    Self::insert_bundle(&mut tx, r, bundle).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn decision(
                &self,
                run_id: &str,
            ) -> crate::library::LibraryResult<Option<crate::library::DecisionRecord>> {
                let row = sqlx::query(DECISION_BY_RUN).bind(run_id).fetch_optional(&self.pool).await?;
                row.as_ref().map(decision_from_row).transpose()
            }

            async fn services(
                &self,
                profile_id: Option<&str>,
                now: i64,
            ) -> crate::library::LibraryResult<Vec<crate::library::ApprovedService>> {
                let rows =
                    sqlx::query(&services_sql()).bind(profile_id).bind(None::<String>).fetch_all(&self.pool).await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    let mut s = service_from_row(row)?;
                    s.waivers = self.active_waivers(&s.run_id, now).await?;
                    out.push(s);
                }
                Ok(out)
            }

            async fn service(
                &self,
                profile_id: &str,
                service_id: &str,
                now: i64,
            ) -> crate::library::LibraryResult<Option<crate::library::ApprovedBundle>> {
                use sqlx::Row;
                let row =
                    sqlx::query(&services_sql()).bind(profile_id).bind(service_id).fetch_optional(&self.pool).await?;
                let Some(row) = row else { return Ok(None) };
                let mut service = service_from_row(&row)?;
                service.waivers = self.active_waivers(&service.run_id, now).await?;
                let body = sqlx::query(BUNDLE_BODY).bind(&service.run_id).fetch_one(&self.pool).await?;
                let filter = crate::library::ControlFilter {
                    profile_id: Some(profile_id.into()),
                    service_id: Some(service_id.into()),
                    ..Default::default()
                };
                let controls = self.controls(&filter, now).await?;
                Ok(Some(crate::library::ApprovedBundle {
                    service,
                    controls,
                    iam_model: parse("iam_model", &body.try_get::<String, _>("iam_model")?)?,
                    templates: parse("templates", &body.try_get::<String, _>("templates")?)?,
                    artifacts: parse("artifacts", &body.try_get::<String, _>("artifacts")?)?,
                }))
            }

            async fn controls(
                &self,
                f: &crate::library::ControlFilter,
                now: i64,
            ) -> crate::library::LibraryResult<Vec<crate::library::LibraryControl>> {
                let rows = sqlx::query(&controls_sql())
                    .bind(now)
                    .bind(&f.profile_id)
                    .bind(&f.service_id)
                    .bind(&f.category)
                    .fetch_all(&self.pool)
                    .await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    let c = control_from_row(row)?;
                    if f.matches(&c) {
                        out.push(c);
                    }
                }
                Ok(out)
            }

            async fn audit(
                &self,
                run_id: Option<&str>,
            ) -> crate::library::LibraryResult<Vec<crate::library::AuditEntry>> {
                use sqlx::Row;
                let sql = format!(
                    "SELECT id, {DECISION_COLUMNS} FROM approval_audit \
                     WHERE CAST($1 AS TEXT) IS NULL OR run_id = $1 ORDER BY decided_at, id"
                );
                let rows = sqlx::query(&sql).bind(run_id).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|row| {
                        Ok(crate::library::AuditEntry { id: row.try_get("id")?, record: decision_from_row(row)? })
                    })
                    .collect()
            }
        }
    };
}

/// Row decoding shared by both backends.
macro_rules! row_decoders {
    ($row:ty) => {
        fn decision_from_row(row: &$row) -> crate::library::LibraryResult<crate::library::DecisionRecord> {
            use sqlx::Row;
            Ok(crate::library::DecisionRecord {
                run_id: row.try_get("run_id")?,
                service_id: row.try_get("service_id")?,
                profile_id: row.try_get("profile_id")?,
                profile_version: row.try_get("profile_version")?,
                bundle_version: row.try_get("bundle_version")?,
                decision: verdict(&row.try_get::<String, _>("decision")?)?,
                reviewer: row.try_get("reviewer")?,
                comment: row.try_get("comment")?,
                decided_at: row.try_get("decided_at")?,
                waivers: parse("waivers", &row.try_get::<String, _>("waivers")?)?,
            })
        }

        fn service_from_row(row: &$row) -> crate::library::LibraryResult<crate::library::ApprovedService> {
            use sqlx::Row;
            Ok(crate::library::ApprovedService {
                profile_id: row.try_get("profile_id")?,
                service_id: row.try_get("service_id")?,
                run_id: row.try_get("run_id")?,
                bundle_version: row.try_get("bundle_version")?,
                profile_version: row.try_get("profile_version")?,
                reviewer: row.try_get("reviewer")?,
                approved_at: row.try_get("approved_at")?,
                controls: row.try_get("controls")?,
                waivers: Vec::new(),
            })
        }

        fn control_from_row(row: &$row) -> crate::library::LibraryResult<crate::library::LibraryControl> {
            use sqlx::Row;
            let reason: Option<String> = row.try_get("reason")?;
            let expires_at: Option<i64> = row.try_get("expires_at")?;
            let control_id: String = row.try_get("control_id")?;
            let waiver = match (reason, expires_at) {
                (Some(reason), Some(expires_at)) => {
                    Some(crate::library::Waiver { control_id: control_id.clone(), reason, expires_at })
                }
                _ => None,
            };
            Ok(crate::library::LibraryControl {
                profile_id: row.try_get("profile_id")?,
                service_id: row.try_get("service_id")?,
                run_id: row.try_get("run_id")?,
                bundle_version: row.try_get("bundle_version")?,
                control: crate::library::ApprovedControl {
                    control_id,
                    title: row.try_get("title")?,
                    category: row.try_get("category")?,
                    priority: row.try_get("priority")?,
                    frameworks: parse("frameworks", &row.try_get::<String, _>("frameworks")?)?,
                    definition: parse("definition", &row.try_get::<String, _>("definition")?)?,
                },
                waiver,
            })
        }
    };
}

mod sqlite {
    use super::*;
    row_decoders!(sqlx::sqlite::SqliteRow);
    impl_library!(SqliteLibrary, SqlitePool, sqlx::Sqlite);
}

mod postgres {
    use super::*;
    row_decoders!(sqlx::postgres::PgRow);
    impl_library!(PostgresLibrary, PgPool, sqlx::Postgres);
}

pub use postgres::PostgresLibrary;
pub use sqlite::SqliteLibrary;
