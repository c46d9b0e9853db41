//! The pipeline: one run per service, an ordered list of stages.
//!
//! Each stage is a pure function of the catalog, the profile, the service and the
//! outputs of earlier stages. It returns the artifacts it produced and a JSON
//! output that later stages read; the engine persists both, which is what lets a
//! run resume after a crash without redoing finished stages.

pub mod checks;
pub mod collect;
pub mod iam;

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
    Iam,
}

impl StageName {
    pub const PIPELINE: &'static [StageName] = &[StageName::Collect, StageName::Iam];

    pub fn as_str(self) -> &'static str {
        match self {
            StageName::Collect => "collect",
            StageName::Iam => "iam",
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

pub fn run_stage(stage: StageName, input: &StageInput<'_>) -> Result<StageOutput, StageError> {
    match stage {
        StageName::Collect => collect::run(input),
        StageName::Iam => iam::run(input),
    }
}
