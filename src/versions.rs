//! Bundle versions: each (profile id, service) run is version n; a run that
//! finishes while an earlier succeeded version exists gets `diff.json` and
//! `diff.md` against it, and any two versions can be compared on demand.

use crate::app::{App, AppError};
use crate::diff::{self, Bundle, BundleDiff, Side, load};
use crate::pipeline::Artifact;
use crate::store::{ArtifactStore, RunFilter, RunRecord, Store, StoreError};

/// The highest succeeded bundle version below `run`'s, for the same service and profile.
pub async fn previous_succeeded(store: &dyn Store, run: &RunRecord) -> Result<Option<RunRecord>, StoreError> {
    let mut filter = RunFilter {
        status: Some("succeeded".into()),
        service_id: Some(run.service_id.clone()),
        profile_id: Some(run.profile_id.clone()),
        after: None,
        limit: 200,
    };
    let mut best: Option<RunRecord> = None;
    loop {
        let page = store.runs(&filter).await?;
        let Some(last) = page.last() else { break };
        filter.after = Some((last.created_at, last.id.clone()));
        let full = page.len() as i64 == filter.limit;
        for r in page {
            if r.bundle_version < run.bundle_version
                && best.as_ref().is_none_or(|b| r.bundle_version > b.bundle_version)
            {
                best = Some(r);
            }
        }
        if !full {
            break;
        }
    }
    Ok(best)
}

fn side(run: &RunRecord) -> Side {
    Side {
        label: format!("{} v{}", run.service_id, run.bundle_version),
        run_id: Some(run.id.clone()),
        bundle_version: Some(run.bundle_version),
        profile_version: Some(run.profile_version),
    }
}

async fn bundle(store: &dyn Store, artifacts: &dyn ArtifactStore, run: &RunRecord) -> Result<Bundle, StoreError> {
    load::from_run(store, artifacts, run).await
}

/// `diff.json` and `diff.md` for a run about to finish, whose last stage
/// produced `produced`; nothing when it is the first succeeded version.
pub async fn diff_for_finishing_run(
    store: &dyn Store,
    artifacts: &dyn ArtifactStore,
    run_id: &str,
    produced: &[Artifact],
) -> Result<Vec<Artifact>, StoreError> {
    let Some(run) = store.run(run_id).await? else { return Ok(Vec::new()) };
    let Some(previous) = previous_succeeded(store, &run).await? else { return Ok(Vec::new()) };
    let before = bundle(store, artifacts, &previous).await?;
    let mut after = bundle(store, artifacts, &run).await?;
    for a in produced {
        after.files.insert(a.name.clone(), a.bytes.clone());
    }
    match diff::diff(&before, &after, side(&previous), side(&run)) {
        Ok(d) => Ok(vec![Artifact::json("diff.json", &d), Artifact::markdown("diff.md", d.markdown())]),
        Err(e) => Err(StoreError::Corrupt(e.to_string())),
    }
}

impl App {
    /// The diff of a succeeded run against `previous` (its previous succeeded
    /// version) or another succeeded run of the same service.
    pub async fn diff(&self, run_id: &str, against: &str) -> Result<BundleDiff, AppError> {
        let run = self.succeeded_run(run_id).await?;
        let other = if against == "previous" {
            previous_succeeded(&*self.store, &run).await?.ok_or_else(|| AppError::NoPreviousVersion(run_id.into()))?
        } else {
            self.succeeded_run(against).await?
        };
        if other.service_id != run.service_id {
            return Err(AppError::DifferentServices(other.service_id, run.service_id));
        }
        let before = bundle(&*self.store, &*self.artifacts, &other).await?;
        let after = bundle(&*self.store, &*self.artifacts, &run).await?;
        diff::diff(&before, &after, side(&other), side(&run))
            .map_err(|e| AppError::Store(StoreError::Corrupt(e.to_string())))
    }

    async fn succeeded_run(&self, run_id: &str) -> Result<RunRecord, AppError> {
        let run = self.store.run(run_id).await?.ok_or_else(|| AppError::RunNotFound(run_id.into()))?;
        if run.status != "succeeded" {
            return Err(AppError::RunNotSucceeded(run_id.into(), run.status));
        }
        Ok(run)
    }
}
