//! `advise`, run only when a model is configured: the pure half. Given the model's
//! control proposals for a service without reviewed controls, each proposal is
//! verified exactly as a reviewed control is — the shape rules of a control file,
//! selection by the profile, then the `controls`, `iac` and `iam` stages run in
//! memory on the plan with that one control added, so CloudFormation paths are
//! checked against the resource schema, rule and control ids against the catalog,
//! the Guard rule must pass on the template and fail without the control, and SCP
//! actions and condition keys must exist. A proposal that fails anything is
//! rejected with the reasons; only accepted ones enter the plan later stages read.
//! The model exchange itself lives in `crate::advisor`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::checks::Checks;
use super::contracts::{Analyzed, Contract};
use super::{StageError, StageInput, StageName};
use crate::knowledge::{self, ControlDef, Knowledge};
use crate::plan::{Plan, PlannedControl};

/// A proposal that passed verification and is now a control of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptedProposal {
    pub id: String,
    pub proposed_id: Option<String>,
    pub title: String,
    pub source: String,
    pub model_id: String,
}

/// A proposal that did not, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedProposal {
    /// Position in the model's answer.
    pub index: usize,
    pub proposed_id: Option<String>,
    pub title: Option<String>,
    pub reasons: Vec<String>,
}

/// Token counts of the run's exchanges with the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub total_tokens: i64,
}

/// `advise`'s output: the plan with accepted proposals added.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Advised {
    pub plan: Plan,
    pub model_id: String,
    /// False when the service has reviewed controls: the model is not asked.
    pub asked: bool,
    pub cache_hit: bool,
    pub accepted: Vec<AcceptedProposal>,
    pub rejected: Vec<RejectedProposal>,
    /// The model's summary for the service profile, if it wrote one (model-written).
    pub narrative: Option<String>,
    pub usage: TokenUsage,
    pub checks: Checks,
}

impl Contract for Advised {
    const STAGE: StageName = StageName::Advise;
    fn checks(&self) -> &Checks {
        &self.checks
    }
}

/// Verifies every proposal in the tool input `{"controls": [...]}` against the plan
/// `analyze` built. Returns the plan with the accepted ones and both lists.
pub fn review(
    input: &StageInput<'_>,
    tool_input: Option<&Value>,
    model_id: &str,
) -> Result<(Plan, Vec<AcceptedProposal>, Vec<RejectedProposal>), StageError> {
    let mut plan = input.read::<Analyzed>()?.plan;
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    let proposals = match tool_input.map(|v| v.get("controls")) {
        None | Some(None) => Vec::new(),
        Some(Some(Value::Array(items))) => items.clone(),
        Some(Some(other)) => {
            rejected.push(RejectedProposal {
                index: 0,
                proposed_id: None,
                title: None,
                reasons: vec![format!("malformed tool input: 'controls' must be a list, got {}", kind(other))],
            });
            Vec::new()
        }
    };
    for (index, raw) in proposals.into_iter().enumerate() {
        let proposed_id = raw.get("id").and_then(Value::as_str).map(str::to_string);
        let title = raw.get("title").and_then(Value::as_str).map(str::to_string);
        let reject = |reasons: Vec<String>| RejectedProposal {
            index,
            proposed_id: proposed_id.clone(),
            title: title.clone(),
            reasons,
        };
        let mut control: ControlDef = match serde_json::from_value(raw.clone()) {
            Ok(c) => c,
            Err(e) => {
                rejected.push(reject(vec![format!("malformed tool input: {e}")]));
                continue;
            }
        };
        control.id = format!("{}-A{:02}", plan.service.to_ascii_uppercase(), accepted.len() + 1);
        control.advisor_model = Some(model_id.to_string());
        match with_control(input, &plan, control.clone()) {
            Ok(next) => {
                accepted.push(AcceptedProposal {
                    id: control.id.clone(),
                    proposed_id: proposed_id.clone(),
                    title: control.title.clone(),
                    source: "advisor".into(),
                    model_id: model_id.to_string(),
                });
                plan = next;
            }
            Err(reasons) => rejected.push(reject(reasons)),
        }
    }
    Ok((plan, accepted, rejected))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The plan with `control` added, if it passes everything a reviewed control must.
fn with_control(input: &StageInput<'_>, plan: &Plan, control: ControlDef) -> Result<Plan, Vec<String>> {
    let mut candidate = plan.clone();
    candidate.controls.controls.push(control.clone());
    knowledge::check_shape(&candidate.controls).map_err(|e| vec![e])?;
    let selected = knowledge::select(&candidate.controls, input.profile)
        .into_iter()
        .find(|s| s.control.id == control.id)
        .map(|s| PlannedControl {
            id: s.control.id.clone(),
            priority: s.priority,
            triggered_by: s.triggered_by.iter().map(|k| k.to_string()).collect(),
        })
        .ok_or_else(|| vec![format!("not selected: the profile does not meet {:?}", control.requires)])?;
    knowledge::profile_values::apply(&mut candidate.controls, input.profile, input.catalog());
    candidate.selected.push(selected);
    candidate.selected.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
    verify_plan(input.knowledge, input, &candidate)?;
    Ok(candidate)
}

/// Runs `controls`, `iac` and `iam` in memory on `plan`; any failed check rejects.
fn verify_plan(knowledge: &Knowledge, input: &StageInput<'_>, plan: &Plan) -> Result<(), Vec<String>> {
    let mut previous: Vec<(StageName, Value)> =
        input.previous.iter().filter(|(s, _)| *s != StageName::Advise).cloned().collect();
    let analyzed = previous.iter_mut().find(|(s, _)| *s == StageName::Analyze).ok_or_else(|| vec!["no plan".into()])?;
    analyzed.1["plan"] = serde_json::to_value(plan).map_err(|e| vec![e.to_string()])?;
    for stage in [StageName::Controls, StageName::Iac, StageName::Iam] {
        let stage_input = StageInput {
            knowledge,
            profile: input.profile,
            service_id: input.service_id,
            service_name: input.service_name,
            previous: &previous,
        };
        let out = super::run_stage(stage, &stage_input).map_err(|e| vec![format!("{}: {e}", stage.as_str())])?;
        previous.push((stage, out.output));
    }
    Ok(())
}
