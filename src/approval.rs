//! Approval: a reviewer's decision on a succeeded run becomes a [`library`]
//! entry. Everything that can refuse the decision is checked before anything is
//! written; the library write itself is one atomic, decided-once operation.
//!
//! [`library`]: crate::library

use std::collections::BTreeMap;

use serde_json::Value;

use crate::app::{App, AppError};
use crate::input::{ApprovalRequest, FieldError, InputError, Warning};
use crate::library::{ApprovedControl, ArtifactVersion, BundleContent, DecisionRecord, NewDecision, Verdict};
use crate::store::{BundleRef, RunRecord, now_ms, read_body};

/// Bundle files copied into the library with an approval: the deployable
/// templates, the Guard rules and the SCP documents.
fn is_template(name: &str) -> bool {
    name.ends_with(".yaml")
        || name.ends_with(".tf")
        || name.ends_with(".guard")
        || name == "terraform-checks.json"
        || (name.starts_with("scp-") && name.ends_with(".json"))
}

impl App {
    /// Records a decision on a run: only a succeeded run, only once, waivers only
    /// for controls the bundle has and only with a future expiry. With
    /// authentication on, `principal` is the reviewer recorded.
    pub async fn decide(
        &self,
        run_id: &str,
        body: &Value,
        principal: Option<&str>,
    ) -> Result<(DecisionRecord, Vec<Warning>), AppError> {
        let now = now_ms();
        let (request, warnings) = ApprovalRequest::from_value(body, now, principal)?;
        let run = self.store.run(run_id).await?.ok_or_else(|| AppError::RunNotFound(run_id.into()))?;
        if run.status != "succeeded" {
            return Err(AppError::RunNotSucceeded(run_id.into(), run.status));
        }
        if self.library.decision(run_id).await?.is_some() {
            return Err(AppError::AlreadyDecided(run_id.into()));
        }
        let controls = self.approved_controls(&run).await?;
        check_waivers(&request, &controls)?;
        let record = DecisionRecord {
            run_id: run.id.clone(),
            service_id: run.service_id.clone(),
            profile_id: run.profile_id.clone(),
            profile_version: run.profile_version,
            bundle_version: run.bundle_version,
            decision: request.decision,
            reviewer: request.reviewer,
            comment: request.comment,
            decided_at: now,
            waivers: request.waivers,
        };
        let bundle = match record.decision {
            Verdict::Approve => Some(self.bundle_content(&run, controls).await?),
            Verdict::Reject => None,
        };
        self.library.decide(&NewDecision { record: record.clone(), bundle }).await?;
        Ok((record, warnings))
    }

    async fn artifact_json(&self, run: &RunRecord, name: &str) -> Result<Value, AppError> {
        let run_id = run.id.as_str();
        let (_, body) = self
            .artifacts
            .get(&BundleRef::from(run), name)
            .await?
            .ok_or_else(|| AppError::BundleIncomplete(run_id.into(), name.into()))?;
        let bytes = read_body(body).await?;
        serde_json::from_slice(&bytes).map_err(|_| AppError::BundleIncomplete(run_id.into(), name.into()))
    }

    /// The bundle's controls with the framework requirements `analyze` mapped them to.
    async fn approved_controls(&self, run: &RunRecord) -> Result<Vec<ApprovedControl>, AppError> {
        let controls = self.artifact_json(run, "controls.json").await?;
        let analysis = self.artifact_json(run, "analysis.json").await?;
        let frameworks: BTreeMap<&str, BTreeMap<String, Vec<String>>> = analysis["recommendations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let map = serde_json::from_value(r["frameworks"].clone()).ok()?;
                Some((r["control_id"].as_str()?, map))
            })
            .collect();
        let text = |c: &Value, k: &str| c[k].as_str().unwrap_or_default().to_string();
        Ok(controls["controls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let id = text(c, "id");
                ApprovedControl {
                    frameworks: frameworks.get(id.as_str()).cloned().unwrap_or_default(),
                    control_id: id,
                    title: text(c, "title"),
                    category: text(c, "category"),
                    priority: text(c, "priority"),
                    definition: c.clone(),
                }
            })
            .collect())
    }

    async fn bundle_content(&self, run: &RunRecord, controls: Vec<ApprovedControl>) -> Result<BundleContent, AppError> {
        let bundle = BundleRef::from(run);
        let listed = self.artifacts.list(&bundle).await?;
        let mut templates = BTreeMap::new();
        for info in listed.iter().filter(|a| is_template(&a.name)) {
            if let Some((_, body)) = self.artifacts.get(&bundle, &info.name).await? {
                templates.insert(info.name.clone(), String::from_utf8_lossy(&read_body(body).await?).into_owned());
            }
        }
        Ok(BundleContent {
            controls,
            iam_model: self.artifact_json(run, "iam-model.json").await?,
            templates,
            artifacts: listed.into_iter().map(|a| ArtifactVersion { name: a.name, version: a.version }).collect(),
        })
    }
}

/// A waiver must name a control of this bundle.
fn check_waivers(request: &ApprovalRequest, controls: &[ApprovedControl]) -> Result<(), AppError> {
    let unknown: Vec<FieldError> = request
        .waivers
        .iter()
        .enumerate()
        .filter(|(_, w)| !controls.iter().any(|c| c.control_id == w.control_id))
        .map(|(i, w)| FieldError {
            pointer: format!("/waivers/{i}/control_id"),
            detail: format!(
                "the bundle has no control '{}'; its controls are {}",
                w.control_id,
                controls.iter().map(|c| c.control_id.as_str()).collect::<Vec<_>>().join(", ")
            ),
        })
        .collect();
    if unknown.is_empty() { Ok(()) } else { Err(AppError::Input(InputError::Fields(unknown))) }
}
