//! The pipeline: one run per service, an ordered list of stages.
//!
//! Each stage is a pure function of the catalog, the profile, the service and the
//! outputs of earlier stages. It returns the artifacts it produced and a JSON
//! output that later stages read; the engine persists both, which is what lets a
//! run resume after a crash without redoing finished stages.

pub mod analyze;
pub mod checks;
pub mod collect;
pub mod controls;
pub mod iac;
pub mod iam;
pub mod verify;

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::catalog::Catalog;
use crate::input::Profile;

/// Pipeline stages in execution order. A stage that is not built is not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageName {
    Collect,
    Analyze,
    Controls,
    Iac,
    Iam,
    Verify,
}

impl StageName {
    pub const PIPELINE: &'static [StageName] = &[
        StageName::Collect,
        StageName::Analyze,
        StageName::Controls,
        StageName::Iac,
        StageName::Iam,
        StageName::Verify,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StageName::Collect => "collect",
            StageName::Analyze => "analyze",
            StageName::Controls => "controls",
            StageName::Iac => "iac",
            StageName::Iam => "iam",
            StageName::Verify => "verify",
        }
    }

    pub fn parse(s: &str) -> Option<StageName> {
        StageName::PIPELINE.iter().copied().find(|n| n.as_str() == s)
    }
}

/// A file a stage wrote into the bundle.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

impl Artifact {
    pub fn json(name: &str, value: &impl Serialize) -> Artifact {
        let mut bytes = serde_json::to_vec_pretty(value).expect("artifact serialises");
        bytes.push(b'\n');
        Artifact { name: name.into(), content_type: "application/json", bytes }
    }

    pub fn markdown(name: &str, text: String) -> Artifact {
        Artifact { name: name.into(), content_type: "text/markdown; charset=utf-8", bytes: text.into_bytes() }
    }
}

pub struct StageOutput {
    /// Structured result handed to later stages.
    pub output: Value,
    pub artifacts: Vec<Artifact>,
}

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// Retrying will not help (the input or the catalog cannot satisfy the stage).
    #[error("{0}")]
    Permanent(String),
    /// A fault outside the stage's control; the engine retries with back-off.
    #[error("{0}")]
    Transient(String),
}

/// Everything a stage may read.
pub struct StageInput<'a> {
    pub catalog: &'a Arc<Catalog>,
    pub profile: &'a Profile,
    pub service_id: &'a str,
    /// Outputs of the stages that already succeeded, by stage name.
    pub previous: &'a [(StageName, Value)],
}

impl StageInput<'_> {
    /// The run's service, which `collect` has already proven to be in the catalog.
    pub fn service(&self) -> Result<&crate::catalog::ServiceIdentity, StageError> {
        self.catalog.service(self.service_id).ok_or_else(|| {
            StageError::Permanent(format!("service '{}' is not in catalog {}", self.service_id, self.catalog.version()))
        })
    }

    /// The output of an earlier stage of this run.
    pub fn previous(&self, stage: StageName) -> Option<&Value> {
        self.previous.iter().find(|(name, _)| *name == stage).map(|(_, v)| v)
    }

    /// The controls `analyze` selected: the service's control set and the chosen ids with priorities.
    pub fn selected_controls(&self) -> Result<Selection<'_>, StageError> {
        let service = self.service()?;
        let mut controls = crate::knowledge::for_service(self.catalog, service)
            .ok_or_else(|| StageError::Permanent(format!("no controls for '{}'", service.id)))?;
        crate::knowledge::profile_values::apply(controls.to_mut(), self.profile, self.catalog);
        let analysis = self
            .previous(StageName::Analyze)
            .ok_or_else(|| StageError::Permanent("the analyze stage's output is missing".into()))?;
        let selected: Vec<SelectedRef> = serde_json::from_value(analysis["selected"].clone())
            .map_err(|e| StageError::Permanent(format!("analyze output is malformed: {e}")))?;
        Ok((controls, selected.into_iter().map(|s| (s.id, s.priority)).collect()))
    }
}

/// A service's control set and the ids `analyze` selected, with their priorities.
pub type Selection<'a> =
    (std::borrow::Cow<'a, crate::knowledge::ServiceControls>, Vec<(String, crate::knowledge::Priority)>);

#[derive(serde::Deserialize)]
struct SelectedRef {
    id: String,
    priority: crate::knowledge::Priority,
}

pub fn run_stage(stage: StageName, input: &StageInput<'_>) -> Result<StageOutput, StageError> {
    match stage {
        StageName::Collect => collect::run(input),
        StageName::Analyze => analyze::run(input),
        StageName::Controls => controls::run(input),
        StageName::Iac => iac::run(input),
        StageName::Iam => iam::run(input),
        StageName::Verify => verify::run(input),
    }
}

/// Runs every stage in memory, in order, without the job table: for tests,
/// benchmarks and tools that want a bundle without durability.
pub fn run_all(
    catalog: &Arc<Catalog>,
    profile: &Profile,
    service_id: &str,
) -> Result<Vec<(StageName, StageOutput)>, (StageName, StageError)> {
    let mut previous: Vec<(StageName, Value)> = Vec::new();
    let mut outputs = Vec::new();
    for &stage in StageName::PIPELINE {
        let input = StageInput { catalog, profile, service_id, previous: &previous };
        let out = run_stage(stage, &input).map_err(|e| (stage, e))?;
        previous.push((stage, out.output.clone()));
        outputs.push((stage, out));
    }
    Ok(outputs)
}
