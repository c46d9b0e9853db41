//! The pipeline: one run per service, an ordered list of stages.
//!
//! Each stage is a pure function of the knowledge (catalog + controls + IAM
//! knowledge), the profile, the service and the outputs of earlier stages. It returns
//! the artifacts it produced and a typed output ([`contracts`]) that later stages
//! read; the engine persists both (the output as its JSON serialisation), which is
//! what lets a run resume after a crash without redoing finished stages. Stages only
//! orchestrate: `analyze` builds the [`Plan`](crate::plan::Plan), the renderers in
//! [`crate::render`] turn it into text, and the stages verify what they produced.

pub mod advise;
pub mod analyze;
pub mod checks;
pub mod collect;
pub mod contracts;
pub mod controls;
pub mod iac;
pub mod iam;
pub mod profile;
pub mod verify;

use serde::Serialize;
use serde_json::Value;

use crate::catalog::Catalog;
use crate::input::Profile;
use crate::knowledge::Knowledge;
use crate::plan::Plan;
use contracts::Contract;

/// Pipeline stages in execution order. A stage that is not built is not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageName {
    Collect,
    Analyze,
    /// Only when a model is configured: verified control proposals (`advise.rs`).
    Advise,
    Controls,
    Iac,
    Iam,
    Profile,
    Verify,
}

impl StageName {
    pub const PIPELINE: &'static [StageName] = &[
        StageName::Collect,
        StageName::Analyze,
        StageName::Controls,
        StageName::Iac,
        StageName::Iam,
        StageName::Profile,
        StageName::Verify,
    ];

    /// The stages of a new run: the pipeline, with `advise` after `analyze` when a model is on.
    pub fn stages(advise: bool) -> Vec<StageName> {
        let mut stages = StageName::PIPELINE.to_vec();
        if advise {
            stages.insert(2, StageName::Advise);
        }
        stages
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StageName::Collect => "collect",
            StageName::Analyze => "analyze",
            StageName::Advise => "advise",
            StageName::Controls => "controls",
            StageName::Iac => "iac",
            StageName::Iam => "iam",
            StageName::Profile => "profile",
            StageName::Verify => "verify",
        }
    }

    pub fn parse(s: &str) -> Option<StageName> {
        StageName::stages(true).into_iter().find(|n| n.as_str() == s)
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
    /// The stage's [`Contract`] output, serialised: handed to later stages.
    pub output: Value,
    pub artifacts: Vec<Artifact>,
}

impl StageOutput {
    pub fn new<T: Contract>(output: &T, artifacts: Vec<Artifact>) -> StageOutput {
        StageOutput { output: serde_json::to_value(output).expect("stage output serialises"), artifacts }
    }
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
    pub knowledge: &'a Knowledge,
    pub profile: &'a Profile,
    pub service_id: &'a str,
    /// The name the request gave the service (the id when no request named it): `analyze`
    /// chooses the variant it names (an "NLB" is a network load balancer).
    pub service_name: &'a str,
    /// Outputs of the stages that already succeeded, by stage name.
    pub previous: &'a [(StageName, Value)],
}

impl StageInput<'_> {
    pub fn catalog(&self) -> &Catalog {
        self.knowledge.catalog()
    }

    /// The run's service, which `collect` has already proven to be in the catalog.
    pub fn service(&self) -> Result<&crate::catalog::ServiceIdentity, StageError> {
        self.catalog().service(self.service_id).ok_or_else(|| {
            StageError::Permanent(format!(
                "service '{}' is not in catalog {}",
                self.service_id,
                self.catalog().version()
            ))
        })
    }

    /// The stored output of an earlier stage of this run.
    pub fn previous(&self, stage: StageName) -> Option<&Value> {
        self.previous.iter().find(|(name, _)| *name == stage).map(|(_, v)| v)
    }

    /// The typed output of an earlier stage; missing or malformed is a permanent error.
    pub fn read<T: Contract>(&self) -> Result<T, StageError> {
        match self.previous(T::STAGE) {
            Some(value) => contracts::parse(value),
            None => Err(StageError::Permanent(format!("the {} stage's output is missing", T::STAGE.as_str()))),
        }
    }

    /// Like [`read`](Self::read), but `None` when the stage has not run.
    pub fn read_optional<T: Contract>(&self) -> Result<Option<T>, StageError> {
        self.previous(T::STAGE).map(contracts::parse).transpose()
    }

    /// The plan `analyze` built for this run, with the controls `advise` verified
    /// and added when the advisor ran.
    pub fn plan(&self) -> Result<Plan, StageError> {
        if let Some(advised) = self.read_optional::<advise::Advised>()? {
            return Ok(advised.plan);
        }
        Ok(self.read::<contracts::Analyzed>()?.plan)
    }
}

pub fn run_stage(stage: StageName, input: &StageInput<'_>) -> Result<StageOutput, StageError> {
    match stage {
        StageName::Collect => collect::run(input),
        StageName::Analyze => analyze::run(input),
        StageName::Advise => Err(StageError::Permanent(
            "the advise stage asks a model: it runs in the worker with an advisor configured".into(),
        )),
        StageName::Controls => controls::run(input),
        StageName::Iac => iac::run(input),
        StageName::Iam => iam::run(input),
        StageName::Profile => profile::run(input),
        StageName::Verify => verify::run(input),
    }
}

/// Runs every stage in memory, in order, without the job table: for tests,
/// benchmarks and tools that want a bundle without durability.
pub fn run_all(
    knowledge: &Knowledge,
    profile: &Profile,
    service_id: &str,
) -> Result<Vec<(StageName, StageOutput)>, (StageName, StageError)> {
    run_all_named(knowledge, profile, service_id, service_id)
}

/// [`run_all`] for a service the request named `service_name` (which may choose a variant).
pub fn run_all_named(
    knowledge: &Knowledge,
    profile: &Profile,
    service_id: &str,
    service_name: &str,
) -> Result<Vec<(StageName, StageOutput)>, (StageName, StageError)> {
    let mut previous: Vec<(StageName, Value)> = Vec::new();
    let mut outputs = Vec::new();
    for &stage in StageName::PIPELINE {
        let input = StageInput { knowledge, profile, service_id, service_name, previous: &previous };
        let out = run_stage(stage, &input).map_err(|e| (stage, e))?;
        previous.push((stage, out.output.clone()));
        outputs.push((stage, out));
    }
    Ok(outputs)
}
