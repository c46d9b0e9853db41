//! The typed outputs stages hand each other. The engine persists each as JSON in
//! the job table (the serialised struct, nothing else) and later stages read them
//! back through [`StageInput::read`](super::StageInput::read): a missing or
//! malformed output is a permanent error, never a silent default. Every output
//! carries the stage's `checks` (no `#[serde(default)]`), so `verify` fails closed
//! when one is lost.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::StageName;
use super::checks::Checks;
use crate::catalog::ServiceIdentity;
use crate::plan::Plan;
use crate::render::detective::{ConfigRuleSpec, EventRuleSpec};

/// A stage's output type, tied to the stage that produces it.
pub trait Contract: Serialize + DeserializeOwned {
    const STAGE: StageName;
    fn checks(&self) -> &Checks;
}

/// `collect`: the service's identity and how many facts the catalog holds for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Collected {
    pub service: ServiceIdentity,
    pub counts: BTreeMap<String, usize>,
    pub checks: Checks,
}

/// `analyze`: the run's plan, built once and read by every later stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Analyzed {
    pub plan: Plan,
    pub checks: Checks,
}

/// `controls`: the rendered controls `iac` deploys as they are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ControlsOutput {
    /// Control type (detective, preventive, proactive, responsive) → number of controls.
    pub counts: BTreeMap<String, usize>,
    pub config_rules: Vec<ConfigRuleSpec>,
    pub event_rules: Vec<EventRuleSpec>,
    /// The text of `rules.guard`.
    pub guard_rules: String,
    pub checks: Checks,
}

/// `iac`: what the templates deploy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IacOutput {
    /// CloudFormation types in `template.yaml`.
    pub resource_types: Vec<String>,
    /// Terraform types in `main.tf`.
    pub terraform_resource_types: Vec<String>,
    /// IAM roles `template.yaml` creates for the service itself (the Lambda execution
    /// role), read from the rendered template: the `iam` stage shows and verifies them.
    #[serde(default)]
    pub service_roles: Vec<ServiceRole>,
    pub checks: Checks,
}

/// A role the template creates, with every policy attached to it in the template.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceRole {
    /// Logical id in `template.yaml`.
    pub logical_id: String,
    /// Service principals its trust policy names.
    pub assumed_by: Vec<String>,
    /// Resources of the template that reference it.
    pub used_by: Vec<String>,
    pub policies: Vec<ServiceRolePolicy>,
    /// CloudFormation type of every template resource the policies name by `Ref`/`Fn::GetAtt`.
    pub references: BTreeMap<String, String>,
}

/// One policy of a [`ServiceRole`], statements exactly as the template writes them
/// (CloudFormation JSON, intrinsics included).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceRolePolicy {
    pub name: String,
    /// `<Role>.Policies` for an inline policy, else the `AWS::IAM::RolePolicy`'s logical id.
    pub defined_in: String,
    pub statements: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyDocRef {
    pub artifact: String,
    pub size: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonaOutput {
    pub name: String,
    pub actions: usize,
    pub documents: Vec<PolicyDocRef>,
}

/// `iam`: the personas and guardrails emitted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IamOutput {
    pub personas: Vec<PersonaOutput>,
    pub guardrails: Vec<String>,
    pub deployer_resource_types: Vec<String>,
    pub dropped_handler_permissions: usize,
    pub parameters: Vec<String>,
    /// `iam-policy-service-role-*.json` documents, one per role the template creates.
    #[serde(default)]
    pub service_roles: Vec<String>,
    pub checks: Checks,
}

/// `profile`: how many questions of the service profile were answered from facts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileOutput {
    pub answered: usize,
    pub not_established: usize,
    pub checks: Checks,
}

/// `verify`: the bundle passed every check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verified {
    pub verified: bool,
    pub checks_total: usize,
    pub checks: Checks,
}

macro_rules! contract {
    ($ty:ty, $stage:ident) => {
        impl Contract for $ty {
            const STAGE: StageName = StageName::$stage;
            fn checks(&self) -> &Checks {
                &self.checks
            }
        }
    };
}

contract!(Collected, Collect);
contract!(Analyzed, Analyze);
contract!(ControlsOutput, Controls);
contract!(IacOutput, Iac);
contract!(IamOutput, Iam);
contract!(ProfileOutput, Profile);
contract!(Verified, Verify);

/// Parses a stored output as its stage's contract.
pub fn parse<T: Contract>(value: &serde_json::Value) -> Result<T, super::StageError> {
    T::deserialize(value).map_err(|e| {
        super::StageError::Permanent(format!("the {} stage's output is malformed: {e}", T::STAGE.as_str()))
    })
}

/// The checks of any stage's stored output, read through its contract.
pub fn checks_of(stage: StageName, value: &serde_json::Value) -> Result<Checks, super::StageError> {
    Ok(match stage {
        StageName::Collect => parse::<Collected>(value)?.checks,
        StageName::Analyze => parse::<Analyzed>(value)?.checks,
        StageName::Advise => parse::<super::advise::Advised>(value)?.checks,
        StageName::Controls => parse::<ControlsOutput>(value)?.checks,
        StageName::Iac => parse::<IacOutput>(value)?.checks,
        StageName::Iam => parse::<IamOutput>(value)?.checks,
        StageName::Profile => parse::<ProfileOutput>(value)?.checks,
        StageName::Verify => parse::<Verified>(value)?.checks,
    })
}
